//! The typed model of `esb_resources`: its values read from Terraform with one
//! [`Model::from_value`] and written back with one [`Model::to_value`] (unknowns kept as
//! Terraform gave them), and what plan, apply, refresh and import change in it. The secret key
//! is a [`Secret`] here, so a `Debug` print never shows it; state keeps the sensitive attribute
//! as Terraform requires.

use std::collections::BTreeSet;

use galley_oci::auth::Secret;

use crate::attrs::Attr;
use crate::cty::Value;
use crate::esb::connection::DEFAULT_REGION;
use crate::esb::{Connection, EsbSpec, Owned};

/// The resource's values, typed.
#[derive(Debug, Clone)]
pub(super) struct Model {
    pub(super) id: Attr<String>,
    pub(super) resources_file: Attr<String>,
    pub(super) resources_yaml: Attr<String>,
    pub(super) dynamodb_endpoint: Attr<String>,
    pub(super) s3_endpoint: Attr<String>,
    pub(super) region: Attr<String>,
    pub(super) access_key: Attr<String>,
    pub(super) secret_key: Attr<Secret>,
    pub(super) force_destroy: Attr<bool>,
    pub(super) source_sha256: Attr<String>,
    pub(super) table_names: Attr<Vec<String>>,
    pub(super) bucket_names: Attr<Vec<String>>,
    pub(super) created_table_names: Attr<Vec<String>>,
    pub(super) created_bucket_names: Attr<Vec<String>>,
}

impl Model {
    pub(super) fn from_value(v: &Value) -> Self {
        let s = |name| Attr::of(v, name);
        let names = |name| Attr::of(v, name);
        Model {
            id: s("id"),
            resources_file: s("resources_file"),
            resources_yaml: s("resources_yaml"),
            dynamodb_endpoint: s("dynamodb_endpoint"),
            s3_endpoint: s("s3_endpoint"),
            region: s("region"),
            access_key: s("access_key"),
            secret_key: Attr::of(v, "secret_key"),
            force_destroy: Attr::of(v, "force_destroy"),
            source_sha256: s("source_sha256"),
            table_names: names("table_names"),
            bucket_names: names("bucket_names"),
            created_table_names: names("created_table_names"),
            created_bucket_names: names("created_bucket_names"),
        }
    }

    pub(super) fn to_value(&self) -> Value {
        let s = |a: &Attr<String>| a.to_value();
        let names = |a: &Attr<Vec<String>>| a.to_value();
        Value::object([
            ("id", s(&self.id)),
            ("resources_file", s(&self.resources_file)),
            ("resources_yaml", s(&self.resources_yaml)),
            ("dynamodb_endpoint", s(&self.dynamodb_endpoint)),
            ("s3_endpoint", s(&self.s3_endpoint)),
            ("region", s(&self.region)),
            ("access_key", s(&self.access_key)),
            ("secret_key", self.secret_key.to_value()),
            ("force_destroy", self.force_destroy.to_value()),
            ("source_sha256", s(&self.source_sha256)),
            ("table_names", names(&self.table_names)),
            ("bucket_names", names(&self.bucket_names)),
            ("created_table_names", names(&self.created_table_names)),
            ("created_bucket_names", names(&self.created_bucket_names)),
        ])
    }

    /// Every attribute null: the start of an imported state.
    pub(super) fn null() -> Self {
        Model::from_value(&Value::Null)
    }

    /// Endpoints, region and keys, what is unset taken from the process environment.
    pub(super) fn connection(&self) -> Connection {
        Connection::with_env_defaults(
            self.dynamodb_endpoint.known().cloned(),
            self.s3_endpoint.known().cloned(),
            self.region.known().cloned(),
            self.access_key.known().cloned(),
            self.secret_key.known().map(|k| k.expose().to_owned()),
            |k| std::env::var(k).ok(),
        )
    }

    /// The id, in the import id format: the file (or `inline`) and the endpoints.
    pub(super) fn import_id(&self) -> String {
        let mut id = self
            .resources_file
            .known()
            .cloned()
            .unwrap_or_else(|| "inline".to_string());
        if let Some(e) = self.dynamodb_endpoint.known() {
            id.push_str(&format!(",dynamodb={e}"));
        }
        if let Some(e) = self.s3_endpoint.known() {
            id.push_str(&format!(",s3={e}"));
        }
        id
    }

    /// What this resource created, as the state lists it.
    pub(super) fn owned(&self) -> Owned {
        let set = |a: &Attr<Vec<String>>| a.known().into_iter().flatten().cloned().collect();
        Owned {
            tables: set(&self.created_table_names),
            buckets: set(&self.created_bucket_names),
        }
    }

    /// Records what this resource owns now (sorted, as a set is).
    pub(super) fn set_owned(&mut self, owned: &Owned) {
        let list = |set: &BTreeSet<String>| Attr::Known(set.iter().cloned().collect());
        self.created_table_names = list(&owned.tables);
        self.created_bucket_names = list(&owned.buckets);
    }

    /// Whether both endpoints are known (in a configuration).
    pub(super) fn endpoints_known(&self) -> bool {
        !self.dynamodb_endpoint.is_unknown() && !self.s3_endpoint.is_unknown()
    }

    /// The endpoint attributes that differ from `prior`'s. Another server is another place:
    /// moving means destroying there and creating here.
    pub(super) fn moved_from(&self, prior: &Model) -> Vec<&'static str> {
        let mut moved = Vec::new();
        if prior.dynamodb_endpoint.known() != self.dynamodb_endpoint.known() {
            moved.push("dynamodb_endpoint");
        }
        if prior.s3_endpoint.known() != self.s3_endpoint.known() {
            moved.push("s3_endpoint");
        }
        moved
    }

    /// Plans the optional+computed settings the configuration leaves unset: on create the
    /// endpoints from the environment (on update Terraform's proposal already carries the prior
    /// value), a region and `force_destroy = false`. `env` reads a variable; empty is unset.
    pub(super) fn default_settings(
        &mut self,
        config: &Model,
        creating: bool,
        env: impl Fn(&str) -> Option<String>,
    ) {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        if creating && config.dynamodb_endpoint.is_null() {
            self.dynamodb_endpoint = Attr::from_option(env("DYNAMODB_ENDPOINT"));
        }
        if creating && config.s3_endpoint.is_null() {
            self.s3_endpoint = Attr::from_option(env("S3_ENDPOINT"));
        }
        if self.region.known().is_none() && !config.region.is_unknown() {
            let region = env("AWS_DEFAULT_REGION").unwrap_or_else(|| DEFAULT_REGION.into());
            self.region = Attr::Known(region);
        }
        if self.force_destroy.known().is_none() && !config.force_destroy.is_unknown() {
            self.force_destroy = Attr::Known(false);
        }
    }

    /// Plans the id: the prior one while the resource stays on the same servers, else the
    /// import id once the endpoints and the file are known.
    pub(super) fn plan_id(&mut self, prior: Option<&Model>, config: &Model) {
        self.id = match prior {
            Some(p) if p.id.known().is_some() && p.moved_from(self).is_empty() => p.id.clone(),
            _ if config.endpoints_known() && !config.resources_file.is_unknown() => {
                Attr::Known(self.import_id())
            }
            _ => Attr::unknown(),
        };
    }

    /// What the file declares, not known yet (its input is unknown).
    pub(super) fn plan_contents_unknown(&mut self) {
        self.source_sha256 = Attr::unknown();
        for names in [
            &mut self.table_names,
            &mut self.bucket_names,
            &mut self.created_table_names,
            &mut self.created_bucket_names,
        ] {
            *names = Attr::unknown();
        }
    }

    /// What the file declares: its digest and names, known at plan time. What this resource
    /// will own after apply is known only when nothing new is declared and nothing vanished
    /// since `kept` (the prior state of a resource that is not replaced): otherwise whether an
    /// item exists decides create or adopt.
    pub(super) fn plan_contents(&mut self, spec: &EsbSpec, sha256: String, kept: Option<&Model>) {
        let (tables, buckets) = declared(spec);
        self.source_sha256 = Attr::Known(sha256);
        match kept {
            Some(p)
                if p.table_names.known() == Some(&tables)
                    && p.bucket_names.known() == Some(&buckets) =>
            {
                let listed =
                    |a: &Attr<Vec<String>>| Attr::Known(a.known().cloned().unwrap_or_default());
                self.created_table_names = listed(&p.created_table_names);
                self.created_bucket_names = listed(&p.created_bucket_names);
            }
            _ => {
                self.created_table_names = Attr::unknown();
                self.created_bucket_names = Attr::unknown();
            }
        }
        self.table_names = Attr::Known(tables);
        self.bucket_names = Attr::Known(buckets);
    }

    /// What an apply left: the id, what is owned now and, when it failed, the prior digest,
    /// so the next plan applies the file again. What exists is recorded either way, so nothing
    /// this resource created is lost.
    pub(super) fn applied(&mut self, owned: &Owned, failed: bool, prior: Option<&Model>) {
        if self.id.known().is_none() {
            self.id = Attr::Known(self.import_id());
        }
        self.set_owned(owned);
        if failed {
            let sha = prior.and_then(|p| p.source_sha256.known().cloned());
            self.source_sha256 = Attr::from_option(sha);
        }
    }

    /// The names `spec` declares, to check which exist.
    pub(super) fn declared_by(spec: &EsbSpec) -> Owned {
        let (tables, buckets) = declared(spec);
        Owned {
            tables: tables.into_iter().collect(),
            buckets: buckets.into_iter().collect(),
        }
    }

    /// The names the state lists as declared, to check which still exist.
    pub(super) fn declared(&self) -> Owned {
        let set = |a: &Attr<Vec<String>>| a.known().into_iter().flatten().cloned().collect();
        Owned {
            tables: set(&self.table_names),
            buckets: set(&self.bucket_names),
        }
    }

    /// Keeps, of the names declared and owned, those in `existing`: something deleted out of
    /// band leaves the state, and the next apply creates it again.
    pub(super) fn refresh(&mut self, existing: &Owned) {
        let keep = |a: &Attr<Vec<String>>, live: &BTreeSet<String>| {
            let names = a.known().into_iter().flatten();
            Attr::Known(names.filter(|n| live.contains(*n)).cloned().collect())
        };
        self.table_names = keep(&self.table_names, &existing.tables);
        self.bucket_names = keep(&self.bucket_names, &existing.buckets);
        let owned = self.owned();
        self.set_owned(&Owned {
            tables: &owned.tables & &existing.tables,
            buckets: &owned.buckets & &existing.buckets,
        });
    }

    /// The state of an import of `spec` from `file` on the servers of `conn`. Importing hands
    /// what exists to Terraform: it is owned (deleted on destroy) from now on, unlike what apply
    /// adopts on its own.
    pub(super) fn imported(
        file: &str,
        conn: &Connection,
        sha256: String,
        spec: &EsbSpec,
        existing: &Owned,
    ) -> Model {
        let (tables, buckets) = declared(spec);
        let mut m = Model {
            resources_file: Attr::Known(file.to_owned()),
            dynamodb_endpoint: Attr::from_option(conn.dynamodb_endpoint.clone()),
            s3_endpoint: Attr::from_option(conn.s3_endpoint.clone()),
            region: Attr::Known(conn.region.clone()),
            force_destroy: Attr::Known(false),
            source_sha256: Attr::Known(sha256),
            table_names: Attr::Known(tables),
            bucket_names: Attr::Known(buckets),
            ..Model::null()
        };
        m.id = Attr::Known(m.import_id());
        m.set_owned(&m.declared());
        m.refresh(existing);
        m
    }
}

/// The tables and buckets `spec` declares, in file order.
fn declared(spec: &EsbSpec) -> (Vec<String>, Vec<String>) {
    (
        spec.tables.iter().map(|t| t.name.clone()).collect(),
        spec.buckets.iter().map(|b| b.name.clone()).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::Refinement;

    fn names(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn state() -> Value {
        let list = |items: &[&str]| {
            crate::attrs::string_list_value(
                &items.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        };
        Value::object([
            ("id", Value::string("resources.yml,dynamodb=http://db:8000")),
            ("resources_file", Value::string("resources.yml")),
            ("resources_yaml", Value::Null),
            ("dynamodb_endpoint", Value::string("http://db:8000")),
            ("s3_endpoint", Value::Null),
            ("region", Value::string("us-east-1")),
            ("access_key", Value::string("esb")),
            ("secret_key", Value::string("esb-s3cret")),
            ("force_destroy", Value::Bool(false)),
            ("source_sha256", Value::string("abc")),
            ("table_names", list(&["orders", "legacy", "audit"])),
            ("bucket_names", list(&[])),
            ("created_table_names", list(&["audit", "orders"])),
            ("created_bucket_names", list(&[])),
        ])
    }

    #[test]
    fn what_the_model_reads_it_writes_back_and_never_prints_the_secret() {
        let v = state();
        let m = Model::from_value(&v);
        assert_eq!(m.to_value(), v);
        assert!(!format!("{m:?}").contains("esb-s3cret"));
        assert_eq!(m.connection().secret_key, "esb-s3cret");

        let mut planned = v.clone();
        let refined = Value::Unknown(Refinement::not_null().with_string_prefix("http://"));
        planned.set_attr("s3_endpoint", refined.clone());
        planned.set_attr("table_names", Value::unknown());
        let m = Model::from_value(&planned);
        assert!(m.table_names.is_unknown() && !m.endpoints_known());
        assert_eq!(m.to_value(), planned, "unknowns are written as given");
    }

    #[test]
    fn defaults_come_from_the_environment_on_create_only() {
        let env = |k: &str| match k {
            "DYNAMODB_ENDPOINT" => Some("http://env:8000".to_string()),
            "S3_ENDPOINT" => Some(String::new()),
            _ => None,
        };
        let config = Model::null();
        let mut created = Model::null();
        created.default_settings(&config, true, env);
        assert_eq!(
            created.dynamodb_endpoint,
            Attr::Known("http://env:8000".into())
        );
        assert_eq!(created.s3_endpoint, Attr::Null, "empty is unset");
        assert_eq!(created.region, Attr::Known(DEFAULT_REGION.into()));
        assert_eq!(created.force_destroy, Attr::Known(false));

        let mut updated = Model::from_value(&state());
        updated.default_settings(&config, false, env);
        assert_eq!(
            updated.dynamodb_endpoint,
            Attr::Known("http://db:8000".into())
        );

        let mut unknown = Model::null();
        unknown.region = Attr::unknown();
        let mut config = Model::null();
        config.region = Attr::unknown();
        unknown.default_settings(&config, true, env);
        assert!(
            unknown.region.is_unknown(),
            "an unknown region stays unknown"
        );
    }

    #[test]
    fn refresh_keeps_what_still_exists_and_owns_only_that() {
        let mut m = Model::from_value(&state());
        m.refresh(&Owned {
            tables: names(&["legacy", "orders"]),
            buckets: names(&[]),
        });
        assert_eq!(
            m.table_names,
            Attr::Known(vec!["orders".into(), "legacy".into()]),
            "file order kept"
        );
        assert_eq!(m.created_table_names, Attr::Known(vec!["orders".into()]));
        assert_eq!(m.owned().tables, names(&["orders"]));
    }

    #[test]
    fn a_failed_apply_keeps_the_prior_digest_and_what_exists() {
        let prior = Model::from_value(&state());
        let mut planned = prior.clone();
        planned.source_sha256 = Attr::Known("new".into());
        planned.id = Attr::unknown();
        let owned = Owned {
            tables: names(&["orders", "new"]),
            buckets: names(&[]),
        };
        planned.applied(&owned, true, Some(&prior));
        assert_eq!(planned.source_sha256, Attr::Known("abc".into()));
        assert_eq!(planned.owned(), owned);
        assert_eq!(planned.id, Attr::Known(prior.import_id()));
        let mut created = prior.clone();
        created.applied(&owned, true, None);
        assert_eq!(created.source_sha256, Attr::Null);
    }
}
