//! `esb_resources`: the DynamoDB tables and S3 buckets an ESB `resources.yml` declares,
//! provisioned idempotently on local AWS-compatible servers.
//!
//! This file owns the Terraform side: schema, plan (names known at plan time, incompatible
//! table changes refused), apply with partial state, refresh and import, over the typed model
//! (`model`: one `from_value`, one `to_value`) and the file as text (`source`). What is created,
//! adopted or deleted is decided by `crate::esb`; `report` turns its errors into diagnostics.

mod model;
mod report;
mod source;

use async_trait::async_trait;

use self::model::Model;
use self::source::Source;
use crate::attrs::{Attr, is_null};
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostics, PathStep};
use crate::esb;
use crate::resource::{Applied, ApplyRequest, Ctx, PlanRequest, Planned, ReadOutcome, Resource};
use crate::schema::{Attribute, Block, Presence, Schema};

pub struct EsbResources;

const TYPE_NAME: &str = "esb_resources";

/// The import id: `FILE[,dynamodb=URL][,s3=URL]`.
const IMPORT_FORMAT: &str = "RESOURCES_FILE[,dynamodb=DYNAMODB_ENDPOINT][,s3=S3_ENDPOINT]";

fn schema() -> Schema {
    let s = Type::String;
    let names = || Type::List(Box::new(Type::String));
    Schema {
        version: 0,
        block: Block {
            description: "The DynamoDB tables and S3 buckets declared by an ESB `resources.yml`, \
                provisioned idempotently on local DynamoDB- and S3-compatible servers (it \
                replaces ESB's provisioner container). Tables and buckets that already exist are \
                adopted and never deleted by this resource; the ones it creates are deleted when \
                they leave the file or on destroy. Changes that DynamoDB cannot make in place \
                (key schema, local secondary indexes) are refused at plan time, never done by \
                re-creating a table."
                .into(),
            attributes: vec![
                Attribute::new(
                    "id",
                    s.clone(),
                    Presence::Computed,
                    "Identifier: the resources file (or `inline`) and the endpoints, in the \
                     import id format.",
                ),
                Attribute::new(
                    "resources_file",
                    s.clone(),
                    Presence::Optional,
                    "Path of the `resources.yml` to provision (relative paths are relative to \
                     the directory Terraform runs in; `\"${path.module}/resources.yml\"` is \
                     safest). Exactly one of `resources_file` and `resources_yaml` must be set. \
                     Both file shapes are accepted: top-level `DynamoDB:` / `S3:` lists, and \
                     `resources: {dynamodb, s3, layers}`; `layers` are not provisioned.",
                ),
                Attribute::new(
                    "resources_yaml",
                    s.clone(),
                    Presence::Optional,
                    "The resources file's content, inline, instead of `resources_file`.",
                ),
                Attribute::new(
                    "dynamodb_endpoint",
                    s.clone(),
                    Presence::OptionalComputed,
                    "URL of the DynamoDB-compatible server, for example \
                     `http://127.0.0.1:8000`. Default: `DYNAMODB_ENDPOINT`. Required when the \
                     file declares tables. Changing it replaces the resource.",
                ),
                Attribute::new(
                    "s3_endpoint",
                    s.clone(),
                    Presence::OptionalComputed,
                    "URL of the S3-compatible server (path-style addressing), for example \
                     `http://127.0.0.1:9000`. Default: `S3_ENDPOINT`. Required when the file \
                     declares buckets. Changing it replaces the resource.",
                ),
                Attribute::new(
                    "region",
                    s.clone(),
                    Presence::OptionalComputed,
                    "Signing region. Default: `AWS_DEFAULT_REGION`, else `us-east-1`.",
                ),
                Attribute::new(
                    "access_key",
                    s.clone(),
                    Presence::Optional,
                    "Access key for both servers. Default: `AWS_ACCESS_KEY_ID`.",
                )
                .sensitive(),
                Attribute::new(
                    "secret_key",
                    s.clone(),
                    Presence::Optional,
                    "Secret key for both servers. Default: `AWS_SECRET_ACCESS_KEY`.",
                )
                .sensitive(),
                Attribute::new(
                    "force_destroy",
                    Type::Bool,
                    Presence::OptionalComputed,
                    "Delete buckets this resource created even when they still hold objects \
                     (the objects are deleted). Default `false`: deleting a non-empty bucket \
                     fails with an error.",
                ),
                Attribute::new(
                    "source_sha256",
                    s.clone(),
                    Presence::Computed,
                    "SHA-256 of the resources file's content; a change to the file shows in \
                     the plan.",
                ),
                Attribute::new(
                    "table_names",
                    names(),
                    Presence::Computed,
                    "Tables the file declares, in file order. In state: those that exist.",
                ),
                Attribute::new(
                    "bucket_names",
                    names(),
                    Presence::Computed,
                    "Buckets the file declares, in file order. In state: those that exist.",
                ),
                Attribute::new(
                    "created_table_names",
                    names(),
                    Presence::Computed,
                    "Tables this resource created and will delete when they leave the file or \
                     on destroy (adopted tables are not listed).",
                ),
                Attribute::new(
                    "created_bucket_names",
                    names(),
                    Presence::Computed,
                    "Buckets this resource created and will delete when they leave the file or \
                     on destroy (adopted buckets are not listed).",
                ),
            ],
            blocks: vec![],
            deprecated: false,
        },
    }
}

#[async_trait]
impl Resource for EsbResources {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        if is_null(config, "resources_file") == is_null(config, "resources_yaml") {
            return report::exactly_one().into();
        }
        // Inline YAML is validated here already when it is known; a file is read at plan time.
        match Model::from_value(config).resources_yaml.known() {
            Some(text) => Source::inline(text).parse().err().unwrap_or_default(),
            None => Diagnostics::new(),
        }
    }

    async fn plan(&self, _ctx: &Ctx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        let config = Model::from_value(req.config);
        let prior = (!req.prior_state.is_null()).then(|| Model::from_value(req.prior_state));
        let mut planned = Model::from_value(req.proposed_new_state);
        planned.default_settings(&config, prior.is_none(), |k| std::env::var(k).ok());
        let source = Source::read(&planned).map_err(Diagnostics::from)?;
        planned.plan_id(prior.as_ref(), &config);
        let moved = prior
            .as_ref()
            .map(|p| planned.moved_from(p))
            .unwrap_or_default();
        let requires_replace = moved
            .iter()
            .map(|a| vec![PathStep::Attr((*a).into())])
            .collect();
        let planned_with = |planned: Model, diagnostics| Planned {
            planned_state: planned.to_value(),
            requires_replace,
            planned_private: Vec::new(),
            diagnostics,
        };

        let Some(source) = source else {
            planned.plan_contents_unknown();
            return Ok(planned_with(planned, Diagnostics::new()));
        };
        let (spec, mut diagnostics) = source.parse()?;
        let conn = planned.connection();
        let endpoints_known = config.endpoints_known();
        if endpoints_known {
            let missing = conn.missing_endpoints(&spec);
            if !missing.is_empty() {
                return Err(report::missing_endpoints(&spec, &missing));
            }
        }
        let sha = source.sha256();
        let kept = prior.as_ref().filter(|_| moved.is_empty());
        planned.plan_contents(&spec, sha.clone(), kept);

        // A changed file may ask for what DynamoDB cannot do in place: refuse it now, with the
        // live table as evidence, rather than re-create a table with its data.
        if let Some(p) = kept {
            let changed = p.source_sha256.known() != Some(&sha);
            if changed && endpoints_known && !spec.tables.is_empty() {
                match esb::observe(&conn, &spec, &p.owned()).await {
                    Ok(observed) => {
                        for problem in esb::check_changes(&spec, &observed) {
                            diagnostics.push(report::needs_recreate(&problem, source.attribute));
                        }
                    }
                    Err(e) => diagnostics.push(report::error("Failed to read the live tables", &e)),
                }
            }
        }
        Ok(planned_with(planned, diagnostics))
    }

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest<'_>) -> Applied {
        if req.planned_state.is_null() {
            return destroy(ctx, req.prior_state).await;
        }
        let mut planned = Model::from_value(req.planned_state);
        let prior = (!req.prior_state.is_null()).then(|| Model::from_value(req.prior_state));
        let fail = |d: Diagnostics| Applied::recorded(req.prior_state.clone(), d);

        let source = match Source::read(&planned) {
            Ok(Some(s)) => s,
            Ok(None) => return fail(report::unknown_at_apply().into()),
            Err(d) => return fail(d.into()),
        };
        let (spec, _) = match source.parse() {
            Ok(s) => s,
            Err(d) => return fail(d),
        };
        if planned
            .source_sha256
            .known()
            .is_some_and(|p| *p != source.sha256())
        {
            return fail(report::changed_after_plan(&source.name, source.attribute).into());
        }
        let mut conn = planned.connection();
        conn.stop = ctx.stop.clone();
        let missing = conn.missing_endpoints(&spec);
        if !missing.is_empty() {
            return fail(report::missing_endpoints(&spec, &missing));
        }
        let owned_before = prior.as_ref().map(Model::owned).unwrap_or_default();
        let force_destroy = planned.force_destroy.known().copied().unwrap_or(false);

        let (owned, diagnostics) =
            match esb::apply(&conn, &spec, &owned_before, force_destroy).await {
                Ok(outcome) => (outcome.owned, Diagnostics::new()),
                Err(failure) => (
                    failure.owned,
                    report::error("Failed to provision the ESB resources", &failure.error).into(),
                ),
            };
        planned.applied(&owned, diagnostics.has_errors(), prior.as_ref());
        Applied::recorded(planned.to_value(), diagnostics)
    }

    async fn read(
        &self,
        _ctx: &Ctx,
        state: &Value,
        _private: &[u8],
    ) -> Result<ReadOutcome, Diagnostics> {
        let mut m = Model::from_value(state);
        let existing = esb::existing(&m.connection(), &m.declared())
            .await
            .map_err(|e| report::error("Failed to refresh the ESB resources", &e))?;
        m.refresh(&existing);
        Ok(ReadOutcome::present(m.to_value(), Vec::new()))
    }

    async fn import(&self, _ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let mut parts = id.split(',');
        let file = parts.next().unwrap_or_default().trim();
        if file.is_empty() {
            return Err(report::import_usage("The id names no resources file"));
        }
        let mut target = Model::null();
        for part in parts {
            match part.split_once('=') {
                Some(("dynamodb", url)) if !url.is_empty() => {
                    target.dynamodb_endpoint = Attr::Known(url.into())
                }
                Some(("s3", url)) if !url.is_empty() => {
                    target.s3_endpoint = Attr::Known(url.into())
                }
                _ => {
                    return Err(report::import_usage(&format!(
                        "{part:?} is not dynamodb=URL or s3=URL"
                    )));
                }
            }
        }
        let conn = target.connection();
        let source = Source::file(file).map_err(|e| {
            report::import_usage(&format!(
                "The resources file {file:?} could not be read: {e}"
            ))
        })?;
        let (spec, _) = source.parse()?;
        let existing = esb::existing(&conn, &Model::declared_by(&spec))
            .await
            .map_err(|e| report::error("Failed to read the ESB resources", &e))?;
        let m = Model::imported(file, &conn, source.sha256(), &spec, &existing);
        Ok(m.to_value())
    }
}

async fn destroy(ctx: &Ctx, prior_state: &Value) -> Applied {
    let mut m = Model::from_value(prior_state);
    let mut conn = m.connection();
    conn.stop = ctx.stop.clone();
    let force_destroy = m.force_destroy.known().copied().unwrap_or(false);
    match esb::destroy(&conn, &m.owned(), force_destroy).await {
        Ok(_) => Applied::gone(),
        Err(failure) => {
            // Keep what is left in state so a retry (or force_destroy) can finish the job.
            m.set_owned(&failure.owned);
            let error = report::error("Failed to delete the ESB resources", &failure.error);
            Applied::recorded(m.to_value(), error.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::{is_unknown, list_of, str_of};
    use crate::cty::Refinement;

    const YAML: &str = "DynamoDB:\n  - TableName: events\n    KeySchema: [{AttributeName: id, \
        KeyType: HASH}]\n    AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n";
    const DB: &str = "http://127.0.0.1:8000";

    use crate::resource::testing::ctx;

    fn config(yaml: Value) -> Value {
        let mut v = Value::null_object(&schema().block.value_type());
        v.set_attr("resources_yaml", yaml);
        v.set_attr("dynamodb_endpoint", Value::string(DB));
        v.set_attr("s3_endpoint", Value::string("http://127.0.0.1:9000"));
        v
    }

    async fn plan(prior: &Value, config: &Value) -> Result<Planned, Diagnostics> {
        crate::resource::testing::plan(&EsbResources, prior, config).await
    }

    /// What a successful apply of `planned` records, without a server: the file's tables
    /// created.
    fn applied(planned: &Value) -> Value {
        let mut m = Model::from_value(planned);
        let owned = esb::Owned {
            tables: m
                .table_names
                .known()
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            buckets: Default::default(),
        };
        m.applied(&owned, false, None);
        m.to_value()
    }

    #[test]
    fn exactly_one_input_is_accepted_and_inline_yaml_is_checked_early() {
        let summaries = |config: &Value| -> Vec<String> {
            let diags = EsbResources.validate(config);
            diags.0.iter().map(|d| d.summary.clone()).collect()
        };
        let mut both = config(Value::string(YAML));
        both.set_attr("resources_file", Value::string("resources.yml"));
        let exactly_one = "Exactly one of resources_file and resources_yaml must be set";
        assert_eq!(summaries(&both), vec![exactly_one]);
        assert_eq!(summaries(&config(Value::Null)), vec![exactly_one]);
        assert!(summaries(&config(Value::string(YAML))).is_empty());
        assert!(summaries(&config(Value::unknown())).is_empty());
        let bad = EsbResources.validate(&config(Value::string("DynamoDB: [{}]\n")));
        assert_eq!(bad.0[0].summary, "Invalid resources file");
        assert_eq!(bad.0[0].path, vec![PathStep::Attr("resources_yaml".into())]);
    }

    #[tokio::test]
    async fn plan_knows_names_and_digest_and_a_second_plan_is_empty() {
        let cfg = config(Value::string(YAML));
        let first = plan(&Value::Null, &cfg).await.unwrap();
        let p = &first.planned_state;
        assert_eq!(list_of(p, "table_names"), Some(vec!["events".to_string()]));
        assert_eq!(list_of(p, "bucket_names"), Some(vec![]));
        assert_eq!(
            str_of(p, "source_sha256"),
            Some(Source::inline(YAML).sha256())
        );
        assert!(is_unknown(p, "created_table_names"), "create or adopt");
        assert_eq!(
            str_of(p, "id").as_deref(),
            Some("inline,dynamodb=http://127.0.0.1:8000,s3=http://127.0.0.1:9000")
        );
        assert_eq!(p.get_attr("force_destroy"), Some(&Value::Bool(false)));
        assert!(first.requires_replace.is_empty());

        let prior = applied(p);
        let again = plan(&prior, &cfg).await.unwrap();
        assert_eq!(again.planned_state, prior);
        assert!(again.requires_replace.is_empty());

        let mut moved = cfg.clone();
        moved.set_attr("dynamodb_endpoint", Value::string("http://127.0.0.1:8001"));
        let replaced = plan(&prior, &moved).await.unwrap();
        assert_eq!(
            replaced.requires_replace,
            vec![vec![PathStep::Attr("dynamodb_endpoint".into())]]
        );
        assert!(is_unknown(&replaced.planned_state, "created_table_names"));
    }

    #[tokio::test]
    async fn unknown_inputs_leave_what_depends_on_them_unknown_as_given() {
        let endpoint = Value::Unknown(Refinement::not_null().with_string_prefix("http://"));
        let mut cfg = config(Value::unknown());
        cfg.set_attr("dynamodb_endpoint", endpoint.clone());
        let p = plan(&Value::Null, &cfg).await.unwrap().planned_state;
        assert_eq!(p.get_attr("dynamodb_endpoint"), Some(&endpoint));
        for name in [
            "id",
            "source_sha256",
            "table_names",
            "bucket_names",
            "created_table_names",
            "created_bucket_names",
        ] {
            assert!(is_unknown(&p, name), "{name}");
        }
        assert_eq!(Model::from_value(&p).to_value(), p);
    }

    #[tokio::test]
    async fn a_malformed_import_id_shows_the_expected_format() {
        for id in ["", ",s3", "resources.yml,s3", "resources.yml,sqs=http://x"] {
            let err = EsbResources.import(&ctx(), id).await.unwrap_err();
            assert_eq!(err.0[0].summary, "Invalid import id", "{id}");
            assert!(err.0[0].detail.contains(IMPORT_FORMAT), "{id}");
        }
    }
}
