//! `galley_build`: a container image built from a local directory on an OCI build instance and
//! pushed to a registry, through Object Storage and the Instance Agent's run command.
//!
//! This file owns the Terraform side: schema, the typed model (read with one `from_value`,
//! written with one `to_value`), plan (the context's digest and object name known at plan
//! time; a rebuild planned when the context, image, Dockerfile, build arguments or location
//! change, or when the last build failed), apply (state written even when the build fails),
//! refresh (the uploaded context still there), delete (the context removed; the image stays)
//! and import by command OCID. The work is `crate::build`'s; `report` turns its errors into
//! diagnostics.

mod model;
mod report;

use std::time::Duration;

use async_trait::async_trait;
use galley_contract::env::WORK_COMPARTMENT_ID;

use self::model::Model;
use crate::attrs::{Attr, is_null, str_of};
use crate::build::{
    self, BuildError, ContextError, Login, Timeouts, context, object_name, scratch, script,
};
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::oci_clients::{self, SetupDiagnostic as _};
use crate::packaging::Package;
use crate::resource::{Applied, ApplyRequest, Ctx, PlanRequest, Planned, ReadOutcome, Resource};
use crate::schema::{Attribute, Block, Presence, Schema};
use crate::timeouts::{self, TimeoutField};

pub struct GalleyBuild;

const TYPE_NAME: &str = "galley_build";

const DEFAULT_DOCKERFILE: &str = "Dockerfile";

const START_TIMEOUT: TimeoutField = TimeoutField {
    name: "start",
    default: Duration::from_secs(5 * 60),
    limits: "How long the instance's agent may take to pick the build command up.",
};
const BUILD_TIMEOUT: TimeoutField = TimeoutField {
    name: "build",
    default: Duration::from_secs(30 * 60),
    limits: "How long the build (download, login, build, push) may run on the instance.",
};
const TIMEOUTS: [TimeoutField; 2] = [START_TIMEOUT, BUILD_TIMEOUT];

const IMPORT_FORMAT: &str = "the OCID of the instance agent command of a galley_build, such as \
    ocid1.instanceagentcommand.oc1.iad.aaaaaaaaexample (`terraform import galley_build.NAME \
    COMMAND_OCID`)";

fn schema() -> Schema {
    let s = Type::String;
    Schema {
        version: 0,
        block: Block {
            description: "A container image built on an OCI build instance from a local \
                directory and pushed to a registry. The directory goes up to Object Storage as \
                a tar.gz (leaving out `.git/`, `.terraform/`, `*.tfstate*` and what a \
                `.galleyignore` lists); the instance fetches it through a short-lived \
                pre-authenticated URL, so it needs no OCI credentials, and runs `docker build` \
                and `docker push` through the Instance Agent's run command. A change to any \
                file rebuilds. The registry token never appears in the command or its output: \
                it is passed through a short-lived Object Storage object that the build reads \
                once, overwrites and that is deleted afterwards. Deleting the resource removes \
                the uploaded tar.gz; the image stays in the registry."
                .into(),
            attributes: vec![
                Attribute::new(
                    "id",
                    s.clone(),
                    Presence::Computed,
                    "The OCID of the last build's instance agent command.",
                ),
                Attribute::new(
                    "compartment_id",
                    s.clone(),
                    Presence::OptionalComputed,
                    &format!("Compartment of the build command. Default: `{WORK_COMPARTMENT_ID}`."),
                ),
                Attribute::new(
                    "instance_id",
                    s.clone(),
                    Presence::Required,
                    "OCID of the build instance: Oracle Cloud Agent with the Compute Instance \
                     Run Command plugin enabled, docker and curl installed, and a route to \
                     Object Storage and the registry.",
                ),
                Attribute::new(
                    "app_dir",
                    s.clone(),
                    Presence::Required,
                    "Directory of the build context (relative paths are relative to where \
                     Terraform runs). Symbolic links are followed when they resolve inside the \
                     directory; a link to anything outside it is an error (list it in \
                     `.galleyignore` to leave it out).",
                ),
                Attribute::new(
                    "bucket_name",
                    s.clone(),
                    Presence::Required,
                    "Existing Object Storage bucket the build context is uploaded to.",
                ),
                Attribute::new(
                    "namespace",
                    s.clone(),
                    Presence::OptionalComputed,
                    "Object Storage namespace of the bucket. Default: the tenancy's, looked up.",
                ),
                Attribute::new(
                    "image_uri",
                    s.clone(),
                    Presence::Required,
                    "Repository and tag to build and push, such as \
                     `iad.ocir.io/NAMESPACE/app:v1`.",
                ),
                Attribute::new(
                    "dockerfile",
                    s.clone(),
                    Presence::OptionalComputed,
                    &format!(
                        "Path of the Dockerfile inside `app_dir`. Default `{DEFAULT_DOCKERFILE}`."
                    ),
                ),
                Attribute::new(
                    "build_args",
                    Type::Map(Box::new(Type::String)),
                    Presence::Optional,
                    "`--build-arg` values. They are part of the command text and of the image \
                     history: never put secrets here.",
                ),
                Attribute::new(
                    "registry_username",
                    s.clone(),
                    Presence::Optional,
                    "Registry user for `docker login` (for OCIR: `NAMESPACE/USER` or \
                     `NAMESPACE/oracleidentitycloudservice/USER`). Set together with \
                     `registry_auth_token`; without them the instance must already be logged \
                     in.",
                ),
                Attribute::new(
                    "registry_auth_token",
                    s.clone(),
                    Presence::Optional,
                    "Registry password or auth token, kept in the state (sensitive). Passed to \
                     the build through a short-lived Object Storage object, never in the command \
                     text or output. With Terraform 1.11 or later prefer \
                     `registry_auth_token_wo`, which is never stored.",
                )
                .sensitive(),
                Attribute::new(
                    "registry_auth_token_wo",
                    s.clone(),
                    Presence::Optional,
                    "Registry password or auth token, never stored in the state or a saved plan \
                     (Terraform 1.11 or later), passed to the build as `registry_auth_token` is. \
                     Set with `registry_auth_token_wo_version`; instead of \
                     `registry_auth_token`. Give it from an ephemeral source (an `ephemeral = \
                     true` variable or an ephemeral resource): a plain root module variable's \
                     value is itself saved in plan files.",
                )
                .sensitive()
                .write_only_with_fallback("registry_auth_token"),
                Attribute::new(
                    "registry_auth_token_wo_version",
                    Type::Number,
                    Presence::Optional,
                    "Version of `registry_auth_token_wo`, stored in the state since the token is \
                     not: changing it (from one number to another) rebuilds the image with the \
                     token now configured. Increment it when the token changes and the image \
                     must be pushed with it; a new token alone changes nothing.",
                ),
                Attribute::new(
                    "source_sha256",
                    s.clone(),
                    Presence::Computed,
                    "SHA-256 of the build context's files (as for `galley_session`); known at \
                     plan time, so a changed file shows in the plan and rebuilds.",
                ),
                Attribute::new(
                    "object_name",
                    s.clone(),
                    Presence::Computed,
                    "Object name of the uploaded build context: \
                     `galley-build/<source_sha256>.tar.gz`.",
                ),
                Attribute::new(
                    "command_id",
                    s.clone(),
                    Presence::Computed,
                    "OCID of the last build's instance agent command.",
                ),
                Attribute::new(
                    "exit_code",
                    Type::Number,
                    Presence::Computed,
                    "Exit code of the last build script. Anything but 0 makes the next plan \
                     rebuild.",
                ),
                Attribute::new(
                    "image_digest",
                    s.clone(),
                    Presence::Computed,
                    "Digest of the pushed image (`sha256:...`), read from the push output.",
                ),
                Attribute::new(
                    "output_tail",
                    s.clone(),
                    Presence::Computed,
                    "The last lines of the last build's output.",
                ),
            ],
            blocks: vec![timeouts::block(&TIMEOUTS)],
            deprecated: false,
        },
    }
}

#[async_trait]
impl Resource for GalleyBuild {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = timeouts::validate(config, &TIMEOUTS);
        if let Some(args) = config.get_attr("build_args").and_then(Value::as_map) {
            for name in args.keys() {
                if !script::valid_build_arg(name) {
                    diags.push(
                        Diagnostic::error(
                            "Invalid build argument name",
                            format!(
                                "{name:?} is not a valid build argument name (letters, digits \
                                 and underscores, not starting with a digit)."
                            ),
                        )
                        .at_path(vec![
                            PathStep::Attr("build_args".into()),
                            PathStep::Key(name.clone()),
                        ]),
                    );
                }
            }
        }
        diags.extend(credential_problems(config));
        if let Some(image) = str_of(config, "image_uri") {
            if image.trim().is_empty() || image.contains(char::is_whitespace) {
                diags.push(
                    Diagnostic::error(
                        "Invalid image URI",
                        format!("image_uri = {image:?} must be a repository and tag without spaces, such as iad.ocir.io/NAMESPACE/app:v1."),
                    )
                    .at("image_uri"),
                );
            }
        }
        diags
    }

    async fn plan(&self, _ctx: &Ctx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        let config = Model::from_value(req.config);
        let prior = (!req.prior_state.is_null()).then(|| Model::from_value(req.prior_state));
        let mut planned = Model::from_value(req.proposed_new_state);
        if config.dockerfile.is_null() {
            planned.dockerfile = Attr::Known(DEFAULT_DOCKERFILE.into());
        }
        if let Some(c) = crate::compartment::planned_compartment(
            req.config,
            prior
                .as_ref()
                .and_then(|p| p.compartment_id.known().cloned()),
            "the compartment of the build instance",
        )? {
            planned.compartment_id = Attr::Known(c);
        }
        if config.namespace.is_null() {
            let known = prior.as_ref().and_then(|p| p.namespace.known().cloned());
            planned.namespace = known.map_or_else(Attr::unknown, Attr::Known);
        }
        let context_known = !config.app_dir.is_unknown() && !config.dockerfile.is_unknown();
        let digest = match (planned.app_dir.known(), context_known) {
            (Some(dir), true) => {
                Some(context::digest(dir, planned.dockerfile()).map_err(|e| report::context(&e))?)
            }
            _ => None,
        };
        planned.object_name = digest
            .as_deref()
            .map_or_else(Attr::unknown, |d| Attr::Known(object_name(d)));
        planned.source_sha256 = digest.map_or_else(Attr::unknown, Attr::Known);
        if prior.is_none_or(|p| p.rebuilds(&planned, &config)) {
            planned.plan_build();
        }
        Ok(Planned {
            planned_state: planned.to_value(),
            requires_replace: Vec::new(),
            planned_private: Vec::new(),
            diagnostics: Diagnostics::new(),
        })
    }

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest<'_>) -> Applied {
        if req.planned_state.is_null() {
            return delete(ctx, req.prior_state).await;
        }
        let planned = Model::from_value(req.planned_state);
        if !planned.exit_code.is_unknown() {
            // Settings that do not change the image (instance, credentials, timeouts).
            return Applied::done(planned.to_value());
        }
        let timeouts = Timeouts {
            start: timeouts::get(req.planned_state, &START_TIMEOUT),
            build: timeouts::get(req.planned_state, &BUILD_TIMEOUT),
        };
        let login = Model::from_value(req.config).login();
        build_image(ctx, req.prior_state, planned, login, timeouts).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: &Value,
        _private: &[u8],
    ) -> Result<ReadOutcome, Diagnostics> {
        let m = Model::from_value(state);
        let present = || ReadOutcome::present(state.clone(), Vec::new());
        let Some((namespace, bucket, object)) = m.uploaded() else {
            return Ok(present());
        };
        let clients = oci_clients::clients(&ctx.config)
            .await
            .map_err(|e| Diagnostics::from(e.diagnostic()))?;
        match scratch::context_exists(&clients.object_storage, namespace, bucket, object).await {
            Ok(true) => Ok(present()),
            // The build context is gone (deleted out of band or by a lifecycle rule): the
            // next plan builds again.
            Ok(false) => Ok(ReadOutcome::Gone),
            Err(e) => Err(report::error(&e).into()),
        }
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let id = id.trim();
        let usage = |why: String| {
            Diagnostics::from(Diagnostic::error(
                "Invalid import id",
                format!("{why}. Expected {IMPORT_FORMAT}."),
            ))
        };
        if !id.starts_with("ocid1.instanceagentcommand.")
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(usage(format!(
                "{id:?} is not an instance agent command OCID"
            )));
        }
        let clients = oci_clients::clients(&ctx.config)
            .await
            .map_err(|e| Diagnostics::from(e.diagnostic()))?;
        let found = match build::find(&clients, id).await {
            Ok(found) => found,
            Err(e @ BuildError::NotABuild(_)) => return Err(usage(e.to_string())),
            Err(e) => return Err(report::error(&e).into()),
        };
        Ok(Model::found(found).to_value())
    }
}

/// What is wrong with the registry credentials of a configuration: a token without a user
/// or the reverse, both token attributes, a write-only token without its version or the
/// reverse.
fn credential_problems(config: &Value) -> Diagnostics {
    let set = |name| !is_null(config, name);
    let mut diags = Diagnostics::new();
    let token = set("registry_auth_token") || set("registry_auth_token_wo");
    if set("registry_username") != token {
        diags.push(
            Diagnostic::error(
                "Registry credentials are incomplete",
                "Set registry_username together with registry_auth_token_wo (Terraform 1.11 or \
                 later) or registry_auth_token, or none of them (the build instance is then \
                 expected to be logged in already).",
            )
            .at(if set("registry_username") {
                "registry_auth_token_wo"
            } else {
                "registry_username"
            }),
        );
    }
    if set("registry_auth_token") && set("registry_auth_token_wo") {
        diags.push(
            Diagnostic::error(
                "Two registry tokens",
                "Set registry_auth_token_wo (never stored) or registry_auth_token (kept in the \
                 state), not both.",
            )
            .at("registry_auth_token"),
        );
    }
    if set("registry_auth_token_wo") != set("registry_auth_token_wo_version") {
        diags.push(
            Diagnostic::error(
                "registry_auth_token_wo and its version go together",
                "Set registry_auth_token_wo_version (a number, 1 to start with) with \
                 registry_auth_token_wo: since the token is never stored, a new version is how \
                 a plan knows to build with a new token.",
            )
            .at(if set("registry_auth_token_wo") {
                "registry_auth_token_wo_version"
            } else {
                "registry_auth_token_wo"
            }),
        );
    }
    diags
}

/// Packages and uploads the context, then builds. The state records the upload from the
/// moment it exists, and what the command left, even when the build fails.
async fn build_image(
    ctx: &Ctx,
    prior_state: &Value,
    mut state: Model,
    login: Option<Login>,
    timeouts: Timeouts,
) -> Applied {
    // Before anything exists remotely, a failure leaves the state as it was (null on create).
    let untouched = |d: Diagnostic| Applied::recorded(prior_state.clone(), d.into());
    let package = match package(&state) {
        Ok(p) => p,
        Err(e) => return untouched(report::context(&e)),
    };
    let clients = match oci_clients::clients(&ctx.config).await {
        Ok(c) => c,
        Err(e) => return untouched(e.diagnostic()),
    };
    let os = &clients.object_storage;
    let namespace = state.namespace.known().map(String::as_str);
    let bucket = Model::or_empty(&state.bucket_name);
    let compartment = Model::or_empty(&state.compartment_id);
    let uploaded = match scratch::upload(os, &compartment, namespace, &bucket, package).await {
        Ok(u) => u,
        Err(e) => return untouched(report::error(&e)),
    };
    // From here on the uploaded context is recorded, so a failure cannot orphan it.
    state.record_upload(&uploaded);
    let mut diagnostics = Diagnostics::new();
    let spec = state.build(timeouts);
    match build::run(&clients, &spec, &uploaded, login.as_ref(), &ctx.stop).await {
        Ok(record) => state.record(&record),
        Err(e) => {
            if let Some(failed) = e.failed() {
                state.record(&failed.record);
            }
            diagnostics.push(report::error(&e));
        }
    }
    state.settle();
    if !diagnostics.has_errors() {
        // A rebuild from another context leaves the previous upload unused.
        let prior = Model::from_value(prior_state);
        if let Some((namespace, bucket, object)) = prior.uploaded() {
            let removed = scratch::remove_replaced(os, namespace, bucket, object, &uploaded);
            if let Err(e) = removed.await {
                diagnostics.push(report::previous_context_left(&e));
            }
        }
    }
    Applied::recorded(state.to_value(), diagnostics)
}

/// The build context of `state` as a tar.gz. A digest known at plan time must still be the
/// files' digest; when the plan could not know it (`app_dir` was another resource's output,
/// unknown then), what is packaged now is what is built, and its digest goes to state.
fn package(state: &Model) -> Result<Package, ContextError> {
    let dir = Model::or_empty(&state.app_dir);
    let planned = state.source_sha256.known().map(String::as_str);
    context::package(&dir, state.dockerfile(), planned)
}

async fn delete(ctx: &Ctx, prior_state: &Value) -> Applied {
    let m = Model::from_value(prior_state);
    let Some((namespace, bucket, object)) = m.uploaded() else {
        return Applied::gone();
    };
    let clients = match oci_clients::clients(&ctx.config).await {
        Ok(c) => c,
        Err(e) => return Applied::recorded(prior_state.clone(), e.diagnostic().into()),
    };
    match scratch::remove_context(&clients.object_storage, namespace, bucket, object).await {
        Ok(()) => Applied::gone(),
        Err(e) => Applied::recorded(prior_state.clone(), report::error(&e).into()),
    }
}

#[cfg(test)]
mod tests;
