//! The typed model of `galley_build`: its values read from Terraform with one
//! [`Model::from_value`] and written back with one [`Model::to_value`] (unknowns kept as
//! Terraform gave them), and what plan and apply change in it. The registry token reaches the
//! engine only as a [`Login`] read from the configuration; state keeps the sensitive attribute
//! as Terraform requires.

use std::collections::BTreeMap;

use super::DEFAULT_DOCKERFILE;
use crate::attrs::Attr;
use crate::build::{Build, Found, Login, Record, Secret, Timeouts, Uploaded};
use crate::cty::Value;

/// The resource's values, typed. `timeouts` is carried as given: `crate::timeouts` reads it.
#[derive(Debug, Clone)]
pub(super) struct Model {
    pub(super) id: Attr<String>,
    pub(super) compartment_id: Attr<String>,
    pub(super) instance_id: Attr<String>,
    pub(super) app_dir: Attr<String>,
    pub(super) bucket_name: Attr<String>,
    pub(super) namespace: Attr<String>,
    pub(super) image_uri: Attr<String>,
    pub(super) dockerfile: Attr<String>,
    pub(super) build_args: Attr<BTreeMap<String, String>>,
    pub(super) registry_username: Attr<String>,
    pub(super) registry_auth_token: Attr<Secret>,
    /// Only ever known in a configuration: Terraform keeps it out of plans and states.
    pub(super) registry_auth_token_wo: Attr<Secret>,
    pub(super) registry_auth_token_wo_version: Attr<i64>,
    pub(super) source_sha256: Attr<String>,
    pub(super) object_name: Attr<String>,
    pub(super) command_id: Attr<String>,
    pub(super) exit_code: Attr<i64>,
    pub(super) image_digest: Attr<String>,
    pub(super) output_tail: Attr<String>,
    pub(super) timeouts: Value,
}

impl Model {
    pub(super) fn from_value(v: &Value) -> Self {
        let s = |name| Attr::of(v, name);
        Model {
            id: s("id"),
            compartment_id: s("compartment_id"),
            instance_id: s("instance_id"),
            app_dir: s("app_dir"),
            bucket_name: s("bucket_name"),
            namespace: s("namespace"),
            image_uri: s("image_uri"),
            dockerfile: s("dockerfile"),
            build_args: Attr::of(v, "build_args"),
            registry_username: s("registry_username"),
            registry_auth_token: Attr::of(v, "registry_auth_token"),
            registry_auth_token_wo: Attr::of(v, "registry_auth_token_wo"),
            registry_auth_token_wo_version: Attr::of(v, "registry_auth_token_wo_version"),
            source_sha256: s("source_sha256"),
            object_name: s("object_name"),
            command_id: s("command_id"),
            exit_code: Attr::of(v, "exit_code"),
            image_digest: s("image_digest"),
            output_tail: s("output_tail"),
            timeouts: v.get_attr("timeouts").cloned().unwrap_or(Value::Null),
        }
    }

    pub(super) fn to_value(&self) -> Value {
        let s = |a: &Attr<String>| a.to_value();
        Value::object([
            ("id", s(&self.id)),
            ("compartment_id", s(&self.compartment_id)),
            ("instance_id", s(&self.instance_id)),
            ("app_dir", s(&self.app_dir)),
            ("bucket_name", s(&self.bucket_name)),
            ("namespace", s(&self.namespace)),
            ("image_uri", s(&self.image_uri)),
            ("dockerfile", s(&self.dockerfile)),
            ("build_args", self.build_args.to_value()),
            ("registry_username", s(&self.registry_username)),
            ("registry_auth_token", self.registry_auth_token.to_value()),
            (
                "registry_auth_token_wo",
                self.registry_auth_token_wo.to_value(),
            ),
            (
                "registry_auth_token_wo_version",
                self.registry_auth_token_wo_version.to_value(),
            ),
            ("source_sha256", s(&self.source_sha256)),
            ("object_name", s(&self.object_name)),
            ("command_id", s(&self.command_id)),
            ("exit_code", self.exit_code.to_value()),
            ("image_digest", s(&self.image_digest)),
            ("output_tail", s(&self.output_tail)),
            ("timeouts", self.timeouts.clone()),
        ])
    }

    /// The state of an imported build: what its command tells; the rest null (the build
    /// context's directory, the token).
    pub(super) fn found(found: Found) -> Self {
        let h = found.header;
        let mut m = Model {
            compartment_id: Attr::Known(found.compartment_id),
            instance_id: Attr::Known(found.instance_id),
            bucket_name: Attr::Known(h.bucket),
            namespace: Attr::Known(h.namespace),
            image_uri: Attr::Known(h.image),
            dockerfile: Attr::Known(h.dockerfile),
            source_sha256: Attr::Known(h.source_sha256),
            object_name: Attr::Known(h.object),
            build_args: Attr::from_option(Some(h.build_args).filter(|a| !a.is_empty())),
            registry_username: Attr::from_option(h.registry_username),
            ..Model::from_value(&Value::Null)
        };
        m.record(&found.record);
        m
    }

    pub(super) fn dockerfile(&self) -> &str {
        self.dockerfile
            .known()
            .map_or(DEFAULT_DOCKERFILE, String::as_str)
    }

    pub(super) fn or_empty(a: &Attr<String>) -> String {
        a.known().cloned().unwrap_or_default()
    }

    /// The registry login of a configuration. The token comes from the configuration (the
    /// write-only attribute, else the stored one), never from state, and goes to the engine as
    /// an input of the build only.
    pub(super) fn login(&self) -> Option<Login> {
        let token = self
            .registry_auth_token_wo
            .known()
            .or(self.registry_auth_token.known());
        match (self.registry_username.known(), token) {
            (Some(username), Some(token)) => Some(Login {
                username: username.clone(),
                token: token.clone(),
            }),
            _ => None,
        }
    }

    pub(super) fn build(&self, timeouts: Timeouts) -> Build {
        Build {
            compartment_id: Self::or_empty(&self.compartment_id),
            instance_id: Self::or_empty(&self.instance_id),
            image: Self::or_empty(&self.image_uri),
            dockerfile: self.dockerfile().to_owned(),
            build_args: self.build_args.known().cloned().unwrap_or_default(),
            timeouts,
        }
    }

    /// Whether the image must be built again over `self` (the prior state): what goes into it
    /// changed or is not known yet, or the last build pushed no image.
    pub(super) fn rebuilds(&self, planned: &Model, config: &Model) -> bool {
        let args = |m: &Model| m.build_args.known().filter(|a| !a.is_empty()).cloned();
        planned.source_sha256.is_unknown()
            || self.source_sha256.known() != planned.source_sha256.known()
            || config.image_uri.is_unknown()
            || self.image_uri.known() != planned.image_uri.known()
            || self.dockerfile() != planned.dockerfile()
            || config.build_args.is_unknown()
            || args(self) != args(planned)
            || self.bucket_name.known() != planned.bucket_name.known()
            || planned.namespace.is_unknown()
            || self.namespace.known() != planned.namespace.known()
            || self.exit_code.known() != Some(&0)
            || self
                .registry_auth_token_wo_version
                .known()
                .is_some_and(|prior| planned.registry_auth_token_wo_version.known() != Some(prior))
            || self.image_digest.known().is_none()
    }

    /// Leaves what a build produces unknown until apply.
    pub(super) fn plan_build(&mut self) {
        self.id = Attr::unknown();
        self.command_id = Attr::unknown();
        self.exit_code = Attr::unknown();
        self.image_digest = Attr::unknown();
        self.output_tail = Attr::unknown();
    }

    /// What a build command left.
    pub(super) fn record(&mut self, r: &Record) {
        self.id = Attr::Known(r.command_id.clone());
        self.command_id = Attr::Known(r.command_id.clone());
        self.exit_code = Attr::from_option(r.exit_code);
        self.image_digest = Attr::from_option(r.image_digest.clone());
        self.output_tail = Attr::Known(r.output_tail.clone());
    }

    /// Settles what a build produces and is still unknown (it failed before its command was
    /// sent): null, and an empty output.
    pub(super) fn settle(&mut self) {
        for a in [&mut self.id, &mut self.command_id, &mut self.image_digest] {
            if a.is_unknown() {
                *a = Attr::Null;
            }
        }
        if self.exit_code.is_unknown() {
            self.exit_code = Attr::Null;
        }
        if self.output_tail.is_unknown() {
            self.output_tail = Attr::Known(String::new());
        }
    }

    /// Records the uploaded context. Its digest is the planned one, or the packaged one when
    /// the plan could not know it.
    pub(super) fn record_upload(&mut self, uploaded: &Uploaded) {
        self.namespace = Attr::Known(uploaded.namespace.clone());
        self.object_name = Attr::Known(uploaded.object.clone());
        self.source_sha256 = Attr::Known(uploaded.source_sha256.clone());
    }

    /// The uploaded context, when the state records one.
    pub(super) fn uploaded(&self) -> Option<(&str, &str, &str)> {
        Some((
            self.namespace.known()?,
            self.bucket_name.known()?,
            self.object_name.known()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Value {
        let mut v = Value::null_object(&super::super::schema().block.value_type());
        v.set_attr("image_uri", Value::string("iad.ocir.io/ns/app:v1"));
        v
    }

    #[test]
    fn the_token_reaches_the_engine_from_the_configuration_and_never_a_debug_print() {
        let mut cfg = config();
        assert!(Model::from_value(&cfg).login().is_none());
        cfg.set_attr("registry_username", Value::string("ns/ci"));
        cfg.set_attr("registry_auth_token", Value::string("tok-s3cret"));
        let m = Model::from_value(&cfg);
        let login = m.login().unwrap();
        assert_eq!(login.username, "ns/ci");
        assert_eq!(login.token.expose(), "tok-s3cret");
        assert!(!format!("{login:?} {m:?}").contains("tok-s3cret"));
        // The sensitive attribute itself stays in state, as Terraform requires.
        assert_eq!(m.to_value(), cfg);
        // The write-only token wins (validation refuses both; a config has only one).
        cfg.set_attr("registry_auth_token_wo", Value::string("tok-wo"));
        let login = Model::from_value(&cfg).login().unwrap();
        assert_eq!(login.token.expose(), "tok-wo");
    }

    #[test]
    fn a_new_token_version_rebuilds_and_a_first_one_does_not() {
        let mut prior = Model::from_value(&config());
        prior.exit_code = Attr::Known(0);
        prior.image_digest = Attr::Known("sha256:1".into());
        prior.source_sha256 = Attr::Known("s".into());
        prior.namespace = Attr::Known("ns".into());
        let mut planned = prior.clone();
        planned.registry_auth_token_wo_version = Attr::Known(1);
        assert!(
            !prior.rebuilds(&planned, &planned),
            "null to 1: recorded only"
        );
        prior.registry_auth_token_wo_version = Attr::Known(1);
        assert!(!prior.rebuilds(&planned, &planned));
        planned.registry_auth_token_wo_version = Attr::Known(2);
        assert!(prior.rebuilds(&planned, &planned));
    }
}
