//! `esb_resources`: the DynamoDB tables and S3 buckets an ESB `resources.yml` declares,
//! provisioned idempotently on local AWS-compatible servers.
//!
//! This file owns the Terraform side: schema, the typed model read from Terraform values, plan
//! (names known at plan time, incompatible table changes refused), apply with partial state,
//! refresh and import. What is created, adopted or deleted is decided by `crate::esb`.

use std::collections::BTreeSet;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::attrs::{
    bool_of, is_null, is_unknown, list_of, str_of, string_list_value, string_or_null,
};
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::esb::{self, Connection, EsbSpec, Owned};
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

/// The resource's values, typed. Unknown and null both read as `None` for optional strings;
/// `known` tells them apart where it matters.
#[derive(Debug, Clone, Default)]
struct Model {
    id: Option<String>,
    resources_file: Option<String>,
    resources_yaml: Option<String>,
    dynamodb_endpoint: Option<String>,
    s3_endpoint: Option<String>,
    region: Option<String>,
    access_key: Option<String>,
    secret_key: Option<String>,
    force_destroy: Option<bool>,
    source_sha256: Option<String>,
    table_names: Option<Vec<String>>,
    bucket_names: Option<Vec<String>>,
    created_table_names: Option<Vec<String>>,
    created_bucket_names: Option<Vec<String>>,
}

impl Model {
    fn from_value(v: &Value) -> Self {
        Model {
            id: str_of(v, "id"),
            resources_file: str_of(v, "resources_file"),
            resources_yaml: str_of(v, "resources_yaml"),
            dynamodb_endpoint: str_of(v, "dynamodb_endpoint"),
            s3_endpoint: str_of(v, "s3_endpoint"),
            region: str_of(v, "region"),
            access_key: str_of(v, "access_key"),
            secret_key: str_of(v, "secret_key"),
            force_destroy: bool_of(v, "force_destroy"),
            source_sha256: str_of(v, "source_sha256"),
            table_names: list_of(v, "table_names"),
            bucket_names: list_of(v, "bucket_names"),
            created_table_names: list_of(v, "created_table_names"),
            created_bucket_names: list_of(v, "created_bucket_names"),
        }
    }

    fn owned(&self) -> Owned {
        Owned {
            tables: self.created_table_names.iter().flatten().cloned().collect(),
            buckets: self
                .created_bucket_names
                .iter()
                .flatten()
                .cloned()
                .collect(),
        }
    }

    fn connection(&self) -> Connection {
        Connection::with_env_defaults(
            self.dynamodb_endpoint.clone(),
            self.s3_endpoint.clone(),
            self.region.clone(),
            self.access_key.clone(),
            self.secret_key.clone(),
            |k| std::env::var(k).ok(),
        )
    }

    fn import_id(&self) -> String {
        let mut id = self
            .resources_file
            .clone()
            .unwrap_or_else(|| "inline".to_string());
        if let Some(e) = &self.dynamodb_endpoint {
            id.push_str(&format!(",dynamodb={e}"));
        }
        if let Some(e) = &self.s3_endpoint {
            id.push_str(&format!(",s3={e}"));
        }
        id
    }
}

fn sorted(set: &BTreeSet<String>) -> Vec<String> {
    set.iter().cloned().collect()
}

/// Where the spec text came from, for messages and the attribute path.
struct Source {
    attribute: &'static str,
    name: String,
    text: String,
}

/// Reads the resources file or inline text named by the model. `Ok(None)`: not known yet.
fn read_source(m: &Model, config: &Value) -> Result<Option<Source>, Diagnostic> {
    if is_unknown(config, "resources_file") || is_unknown(config, "resources_yaml") {
        return Ok(None);
    }
    match (&m.resources_file, &m.resources_yaml) {
        (Some(path), None) => match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Source {
                attribute: "resources_file",
                name: path.clone(),
                text,
            })),
            Err(e) => Err(Diagnostic::error(
                "Cannot read the resources file",
                format!(
                    "resources_file = {path:?} could not be read: {e}. Check the path (relative \
                     paths are relative to the directory Terraform runs in; use \
                     \"${{path.module}}/resources.yml\")."
                ),
            )
            .at("resources_file")),
        },
        (None, Some(text)) => Ok(Some(Source {
            attribute: "resources_yaml",
            name: "resources_yaml".into(),
            text: text.clone(),
        })),
        _ => Err(exactly_one()),
    }
}

fn exactly_one() -> Diagnostic {
    Diagnostic::error(
        "Exactly one of resources_file and resources_yaml must be set",
        "Set resources_file to the path of a resources.yml, or resources_yaml to its content \
         (for example with file() or a heredoc), but not both.",
    )
    .at("resources_file")
}

fn parse_spec(source: &Source) -> Result<(EsbSpec, Diagnostics), Diagnostics> {
    match EsbSpec::parse(&source.name, &source.text) {
        Ok(spec) => {
            let warnings = spec
                .warnings
                .iter()
                .map(|w| {
                    Diagnostic::warning(
                        "Entry in the resources file is not provisioned",
                        w.to_string(),
                    )
                    .at(source.attribute)
                })
                .collect();
            Ok((spec, warnings))
        }
        Err(err) => Err(err
            .problems
            .iter()
            .map(|p| {
                Diagnostic::error("Invalid resources file", p.to_string()).at(source.attribute)
            })
            .collect()),
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Checks endpoints the spec needs are set, naming the attribute and its variable.
fn require_endpoints(spec: &EsbSpec, conn: &Connection) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if !spec.tables.is_empty() && conn.dynamodb_endpoint.is_none() {
        diags.push(
            Diagnostic::error(
                "No DynamoDB endpoint",
                format!(
                    "{} declares tables, but neither dynamodb_endpoint nor DYNAMODB_ENDPOINT is \
                     set. Set one to the URL of the DynamoDB-compatible server.",
                    spec.source
                ),
            )
            .at("dynamodb_endpoint"),
        );
    }
    if !spec.buckets.is_empty() && conn.s3_endpoint.is_none() {
        diags.push(
            Diagnostic::error(
                "No S3 endpoint",
                format!(
                    "{} declares buckets, but neither s3_endpoint nor S3_ENDPOINT is set. Set \
                     one to the URL of the S3-compatible server.",
                    spec.source
                ),
            )
            .at("s3_endpoint"),
        );
    }
    diags
}

fn engine_error(summary: &str, e: &esb::EsbError) -> Diagnostic {
    let attribute = match e.service() {
        Some(_) if e.is_auth() => "secret_key",
        Some(_) if matches!(e, esb::EsbError::BucketNotEmpty { .. }) => "force_destroy",
        Some(service) => service.endpoint_attribute(),
        None => "resources_file",
    };
    Diagnostic::error(summary, e.to_string()).at(attribute)
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
        let file_set = !is_null(config, "resources_file");
        let yaml_set = !is_null(config, "resources_yaml");
        if file_set == yaml_set {
            return exactly_one().into();
        }
        // Inline YAML is validated here already when it is known; a file is read at plan time.
        let m = Model::from_value(config);
        if let (Some(text), false) = (&m.resources_yaml, is_unknown(config, "resources_yaml")) {
            let source = Source {
                attribute: "resources_yaml",
                name: "resources_yaml".into(),
                text: text.clone(),
            };
            if let Err(d) = parse_spec(&source) {
                return d;
            }
        }
        Diagnostics::new()
    }

    async fn plan(&self, _ctx: &Ctx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        let proposed = Model::from_value(req.proposed_new_state);
        let prior = (!req.prior_state.is_null()).then(|| Model::from_value(req.prior_state));
        let mut diagnostics = Diagnostics::new();

        // Defaults for optional+computed attributes: on create from the environment; on update
        // Terraform's proposal already carries the prior value when the config leaves it unset.
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut planned = proposed.clone();
        if is_null(req.config, "dynamodb_endpoint") && prior.is_none() {
            planned.dynamodb_endpoint = env("DYNAMODB_ENDPOINT");
        }
        if is_null(req.config, "s3_endpoint") && prior.is_none() {
            planned.s3_endpoint = env("S3_ENDPOINT");
        }
        if planned.region.is_none() && !is_unknown(req.config, "region") {
            planned.region = Some(
                env("AWS_DEFAULT_REGION").unwrap_or_else(|| esb::connection::DEFAULT_REGION.into()),
            );
        }
        if planned.force_destroy.is_none() && !is_unknown(req.config, "force_destroy") {
            planned.force_destroy = Some(false);
        }

        let source = read_source(&planned, req.config).map_err(Diagnostics::from)?;
        let mut state = req.proposed_new_state.clone();
        let mut set = |name: &str, v: Value| state.set_attr(name, v);
        set(
            "dynamodb_endpoint",
            endpoint_value(req.config, "dynamodb_endpoint", &planned.dynamodb_endpoint),
        );
        set(
            "s3_endpoint",
            endpoint_value(req.config, "s3_endpoint", &planned.s3_endpoint),
        );
        if !is_unknown(req.config, "region") {
            set("region", string_or_null(planned.region.as_deref()));
        }
        if !is_unknown(req.config, "force_destroy") {
            set(
                "force_destroy",
                Value::Bool(planned.force_destroy.unwrap_or(false)),
            );
        }
        let endpoints_known =
            !is_unknown(req.config, "dynamodb_endpoint") && !is_unknown(req.config, "s3_endpoint");
        set(
            "id",
            match (&prior, endpoints_known) {
                (Some(p), _)
                    if p.id.is_some()
                        && p.dynamodb_endpoint == planned.dynamodb_endpoint
                        && p.s3_endpoint == planned.s3_endpoint =>
                {
                    string_or_null(p.id.as_deref())
                }
                (_, true) if !is_unknown(req.config, "resources_file") => {
                    Value::string(planned.import_id())
                }
                _ => Value::unknown(),
            },
        );

        let Some(source) = source else {
            for name in [
                "source_sha256",
                "table_names",
                "bucket_names",
                "created_table_names",
                "created_bucket_names",
            ] {
                set(name, Value::unknown());
            }
            return Ok(Planned {
                planned_state: state,
                requires_replace: requires_replace(&prior, &planned),
                planned_private: Vec::new(),
                diagnostics,
            });
        };
        let (spec, warnings) = parse_spec(&source)?;
        diagnostics.extend(warnings);
        let conn = planned.connection();
        if endpoints_known {
            let missing = require_endpoints(&spec, &conn);
            if missing.has_errors() {
                return Err(missing);
            }
        }

        let table_names: Vec<String> = spec.tables.iter().map(|t| t.name.clone()).collect();
        let bucket_names: Vec<String> = spec.buckets.iter().map(|b| b.name.clone()).collect();
        let sha = sha256_hex(&source.text);
        set("source_sha256", Value::string(&sha));
        set("table_names", string_list_value(&table_names));
        set("bucket_names", string_list_value(&bucket_names));

        // What this resource will own after apply is known only when nothing new is declared
        // and nothing vanished: otherwise whether an item exists decides create or adopt.
        let replacing = !requires_replace(&prior, &planned).is_empty();
        match &prior {
            Some(p)
                if !replacing
                    && p.table_names.as_ref() == Some(&table_names)
                    && p.bucket_names.as_ref() == Some(&bucket_names) =>
            {
                set(
                    "created_table_names",
                    string_list_value(p.created_table_names.as_deref().unwrap_or_default()),
                );
                set(
                    "created_bucket_names",
                    string_list_value(p.created_bucket_names.as_deref().unwrap_or_default()),
                );
            }
            _ => {
                set("created_table_names", Value::unknown());
                set("created_bucket_names", Value::unknown());
            }
        }

        // A changed file may ask for what DynamoDB cannot do in place: refuse it now, with the
        // live table as evidence, rather than re-create a table with its data.
        if let Some(p) = &prior {
            let changed = p.source_sha256.as_deref() != Some(sha.as_str());
            if changed && endpoints_known && !replacing && !spec.tables.is_empty() {
                match esb::observe(&conn, &spec, &p.owned()).await {
                    Ok(observed) => {
                        for problem in esb::check_changes(&spec, &observed) {
                            diagnostics.push(
                                Diagnostic::error(
                                    "Table change needs the table to be re-created",
                                    problem.to_string(),
                                )
                                .at(source.attribute),
                            );
                        }
                    }
                    Err(e) => diagnostics.push(engine_error("Failed to read the live tables", &e)),
                }
            }
        }

        Ok(Planned {
            planned_state: state,
            requires_replace: requires_replace(&prior, &planned),
            planned_private: Vec::new(),
            diagnostics,
        })
    }

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest<'_>) -> Applied {
        if req.planned_state.is_null() {
            return destroy(ctx, req.prior_state).await;
        }
        let planned = Model::from_value(req.planned_state);
        let prior = (!req.prior_state.is_null()).then(|| Model::from_value(req.prior_state));
        let fail = |d: Diagnostics| Applied::recorded(req.prior_state.clone(), d);

        let source = match read_source(&planned, req.config) {
            Ok(Some(s)) => s,
            Ok(None) => {
                return fail(
                    Diagnostic::error(
                        "Resources file still unknown at apply",
                        "This is a provider bug; please report it.",
                    )
                    .into(),
                );
            }
            Err(d) => return fail(d.into()),
        };
        let (spec, _) = match parse_spec(&source) {
            Ok(s) => s,
            Err(d) => return fail(d),
        };
        let sha = sha256_hex(&source.text);
        if planned.source_sha256.as_deref().is_some_and(|p| p != sha) {
            return fail(
                Diagnostic::error(
                    "Resources file changed after plan",
                    format!(
                        "{} changed between plan and apply, so the plan no longer describes \
                         what would be done. Run terraform plan (or apply) again.",
                        source.name
                    ),
                )
                .at(source.attribute)
                .into(),
            );
        }
        let mut conn = planned.connection();
        conn.stop = ctx.stop.clone();
        let missing = require_endpoints(&spec, &conn);
        if missing.has_errors() {
            return fail(missing);
        }
        let owned_before = prior.as_ref().map(Model::owned).unwrap_or_default();
        let force_destroy = planned.force_destroy.unwrap_or(false);

        let (owned, diagnostics) =
            match esb::apply(&conn, &spec, &owned_before, force_destroy).await {
                Ok(outcome) => (outcome.owned, Diagnostics::new()),
                Err(failure) => (
                    failure.owned,
                    engine_error("Failed to provision the ESB resources", &failure.error).into(),
                ),
            };

        let mut state = req.planned_state.clone();
        let id = planned.id.clone().unwrap_or_else(|| planned.import_id());
        state.set_attr("id", Value::string(&id));
        state.set_attr(
            "created_table_names",
            string_list_value(&sorted(&owned.tables)),
        );
        state.set_attr(
            "created_bucket_names",
            string_list_value(&sorted(&owned.buckets)),
        );
        if diagnostics.has_errors() {
            // Partial state: what exists is recorded so nothing this resource created is lost.
            state.set_attr(
                "source_sha256",
                string_or_null(prior.as_ref().and_then(|p| p.source_sha256.as_deref())),
            );
        }
        Applied::recorded(state, diagnostics)
    }

    async fn read(
        &self,
        _ctx: &Ctx,
        state: &Value,
        _private: &[u8],
    ) -> Result<ReadOutcome, Diagnostics> {
        let m = Model::from_value(state);
        let conn = m.connection();
        let tables = m.table_names.clone().unwrap_or_default();
        let buckets = m.bucket_names.clone().unwrap_or_default();
        let existing = existing(&conn, &tables, &buckets).await.map_err(|e| {
            Diagnostics::from(engine_error("Failed to refresh the ESB resources", &e))
        })?;
        let keep = |names: &[String], live: &BTreeSet<String>| -> Vec<String> {
            names
                .iter()
                .filter(|n| live.contains(*n))
                .cloned()
                .collect()
        };
        let mut new_state = state.clone();
        new_state.set_attr(
            "table_names",
            string_list_value(&keep(&tables, &existing.tables)),
        );
        new_state.set_attr(
            "bucket_names",
            string_list_value(&keep(&buckets, &existing.buckets)),
        );
        let owned = m.owned();
        new_state.set_attr(
            "created_table_names",
            string_list_value(&sorted(
                &owned
                    .tables
                    .intersection(&existing.tables)
                    .cloned()
                    .collect(),
            )),
        );
        new_state.set_attr(
            "created_bucket_names",
            string_list_value(&sorted(
                &owned
                    .buckets
                    .intersection(&existing.buckets)
                    .cloned()
                    .collect(),
            )),
        );
        Ok(ReadOutcome::present(new_state, Vec::new()))
    }

    async fn import(&self, _ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let usage = |why: &str| {
            Diagnostics::from(Diagnostic::error(
                "Invalid import id",
                format!(
                    "{why}. Expected {IMPORT_FORMAT}, for example \
                     resources.yml,dynamodb=http://127.0.0.1:8000,s3=http://127.0.0.1:9000 \
                     (endpoints default to DYNAMODB_ENDPOINT and S3_ENDPOINT)."
                ),
            ))
        };
        let mut parts = id.split(',');
        let file = parts.next().unwrap_or_default().trim();
        if file.is_empty() {
            return Err(usage("The id names no resources file"));
        }
        let mut m = Model {
            resources_file: Some(file.to_string()),
            ..Default::default()
        };
        for part in parts {
            match part.split_once('=') {
                Some(("dynamodb", url)) if !url.is_empty() => {
                    m.dynamodb_endpoint = Some(url.into())
                }
                Some(("s3", url)) if !url.is_empty() => m.s3_endpoint = Some(url.into()),
                _ => return Err(usage(&format!("{part:?} is not dynamodb=URL or s3=URL"))),
            }
        }
        let conn = m.connection();
        m.dynamodb_endpoint = conn.dynamodb_endpoint.clone();
        m.s3_endpoint = conn.s3_endpoint.clone();
        m.region = Some(conn.region.clone());
        let text = std::fs::read_to_string(file).map_err(|e| {
            usage(&format!(
                "The resources file {file:?} could not be read: {e}"
            ))
        })?;
        let source = Source {
            attribute: "resources_file",
            name: file.into(),
            text,
        };
        let (spec, _) = parse_spec(&source)?;
        let tables: Vec<String> = spec.tables.iter().map(|t| t.name.clone()).collect();
        let buckets: Vec<String> = spec.buckets.iter().map(|b| b.name.clone()).collect();
        let existing = existing(&conn, &tables, &buckets)
            .await
            .map_err(|e| Diagnostics::from(engine_error("Failed to read the ESB resources", &e)))?;
        // Importing hands what exists to Terraform: it is managed (and deleted on destroy)
        // from now on, unlike what apply adopts on its own.
        let present = |names: &[String], live: &BTreeSet<String>| -> Vec<String> {
            names
                .iter()
                .filter(|n| live.contains(*n))
                .cloned()
                .collect()
        };
        let live_tables = present(&tables, &existing.tables);
        let live_buckets = present(&buckets, &existing.buckets);
        let mut created_tables = live_tables.clone();
        created_tables.sort();
        let mut created_buckets = live_buckets.clone();
        created_buckets.sort();
        let ty = schema().block.value_type();
        let mut state = Value::null_object(&ty);
        state.set_attr("id", Value::string(m.import_id()));
        state.set_attr("resources_file", Value::string(file));
        state.set_attr(
            "dynamodb_endpoint",
            string_or_null(m.dynamodb_endpoint.as_deref()),
        );
        state.set_attr("s3_endpoint", string_or_null(m.s3_endpoint.as_deref()));
        state.set_attr("region", string_or_null(m.region.as_deref()));
        state.set_attr("force_destroy", Value::Bool(false));
        state.set_attr("source_sha256", Value::string(sha256_hex(&source.text)));
        state.set_attr("table_names", string_list_value(&live_tables));
        state.set_attr("bucket_names", string_list_value(&live_buckets));
        state.set_attr("created_table_names", string_list_value(&created_tables));
        state.set_attr("created_bucket_names", string_list_value(&created_buckets));
        Ok(state)
    }
}

/// Which of `tables` and `buckets` exist now (refresh and import need names only).
async fn existing(
    conn: &Connection,
    tables: &[String],
    buckets: &[String],
) -> Result<Owned, esb::EsbError> {
    let names = Owned {
        tables: tables.iter().cloned().collect(),
        buckets: buckets.iter().cloned().collect(),
    };
    let no_spec = EsbSpec {
        source: String::new(),
        shape: esb::spec::Shape::Resources,
        tables: Vec::new(),
        buckets: Vec::new(),
        warnings: Vec::new(),
    };
    let observed = esb::observe(conn, &no_spec, &names).await?;
    Ok(observed.still_owned(&names))
}

fn endpoint_value(config: &Value, name: &str, planned: &Option<String>) -> Value {
    if is_unknown(config, name) {
        Value::unknown()
    } else {
        string_or_null(planned.as_deref())
    }
}

/// Moving to another server means leaving the old one: a different endpoint replaces the
/// resource (destroy there, create here).
fn requires_replace(prior: &Option<Model>, planned: &Model) -> Vec<Vec<PathStep>> {
    let Some(p) = prior else { return Vec::new() };
    let mut paths = Vec::new();
    if p.dynamodb_endpoint != planned.dynamodb_endpoint {
        paths.push(vec![PathStep::Attr("dynamodb_endpoint".into())]);
    }
    if p.s3_endpoint != planned.s3_endpoint {
        paths.push(vec![PathStep::Attr("s3_endpoint".into())]);
    }
    paths
}

async fn destroy(ctx: &Ctx, prior_state: &Value) -> Applied {
    let m = Model::from_value(prior_state);
    let mut conn = m.connection();
    conn.stop = ctx.stop.clone();
    let owned = m.owned();
    match esb::destroy(&conn, &owned, m.force_destroy.unwrap_or(false)).await {
        Ok(_) => Applied::gone(),
        Err(failure) => {
            // Keep what is left in state so a retry (or force_destroy) can finish the job.
            let mut state = prior_state.clone();
            state.set_attr(
                "created_table_names",
                string_list_value(&sorted(&failure.owned.tables)),
            );
            state.set_attr(
                "created_bucket_names",
                string_list_value(&sorted(&failure.owned.buckets)),
            );
            Applied::recorded(
                state,
                engine_error("Failed to delete the ESB resources", &failure.error).into(),
            )
        }
    }
}
