//! `galley_build`: a container image built from a local directory on an OCI build instance and
//! pushed to a registry, through Object Storage and the Instance Agent's run command.
//!
//! This file owns the Terraform side: schema, model, plan (the context's digest and object
//! name known at plan time; a rebuild planned when the context, image, Dockerfile, build
//! arguments or location change, or when the last build failed), apply (upload, short-lived
//! pre-authenticated URLs, the command, cleanup; state written even when the build fails),
//! refresh (the uploaded context still there), delete (the context removed; the image stays)
//! and import by command OCID. The script is `crate::build_script`; following the command is
//! `crate::remote::command`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use galley_oci::client::OciError;
use galley_oci::instance_agent::{
    CreateInstanceAgentCommandDetails, ExecutionLifecycleState, InstanceAgentCommandExecution,
};
use galley_oci::object_storage::{
    CreatePreauthenticatedRequestDetails, ObjectStorageClient, PreauthenticatedAccessType,
    PutObjectOptions, content_md5,
};

use crate::attrs::{i64_of, is_null, is_unknown, map_of, str_of, string_or_null, strings_value};
use crate::build_script::{self, BuildScript, Header};
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::oci_clients::{self, OciClients};
use crate::packaging::{self, Tree};
use crate::remote::command::{CommandEnding, CommandFollowed, follow_command};
use crate::remote::tf_log;
use crate::resource::{Applied, ApplyRequest, Ctx, PlanRequest, Planned, ReadOutcome, Resource};
use crate::resources::galley_session::WORK_COMPARTMENT_ENV;
use crate::schema::{Attribute, Block, Presence, Schema};
use crate::timeouts::{self, TimeoutField};

pub struct GalleyBuild;

const TYPE_NAME: &str = "galley_build";

/// Where build contexts are uploaded: `galley-build/<sha256>.tar.gz`.
pub const OBJECT_PREFIX: &str = "galley-build/";

const DEFAULT_DOCKERFILE: &str = "Dockerfile";

/// Lines of the build output kept in `output_tail`.
const TAIL_LINES: usize = 20;

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

/// Extra life of the pre-authenticated URLs beyond the start timeout: the script reads them
/// first thing, and they are deleted when the command ends anyway.
const URL_MARGIN: Duration = Duration::from_secs(10 * 60);

const IMPORT_FORMAT: &str = "the OCID of the instance agent command of a galley_build, such as \
    ocid1.instanceagentcommand.oc1.iad.aaaaaaaaexample (`terraform import galley_build.NAME \
    COMMAND_OCID`)";

/// The computed attributes a build produces.
const BUILD_ATTRIBUTES: &[&str] = &[
    "id",
    "command_id",
    "exit_code",
    "image_digest",
    "output_tail",
];

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
                    &format!(
                        "Compartment of the build command. Default: `{WORK_COMPARTMENT_ENV}`."
                    ),
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
                     Terraform runs).",
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
                    "Registry password or auth token. Passed to the build through a short-lived \
                     Object Storage object, never in the command text or output.",
                )
                .sensitive(),
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

/// The resource's values, typed. Unknown and null both read as `None`.
#[derive(Debug, Clone, Default)]
struct Model {
    compartment_id: Option<String>,
    instance_id: Option<String>,
    app_dir: Option<String>,
    bucket_name: Option<String>,
    namespace: Option<String>,
    image_uri: Option<String>,
    dockerfile: Option<String>,
    build_args: Option<BTreeMap<String, String>>,
    registry_username: Option<String>,
    registry_auth_token: Option<String>,
    source_sha256: Option<String>,
    object_name: Option<String>,
    exit_code: Option<i64>,
    image_digest: Option<String>,
}

impl Model {
    fn from_value(v: &Value) -> Self {
        Model {
            compartment_id: str_of(v, "compartment_id"),
            instance_id: str_of(v, "instance_id"),
            app_dir: str_of(v, "app_dir"),
            bucket_name: str_of(v, "bucket_name"),
            namespace: str_of(v, "namespace"),
            image_uri: str_of(v, "image_uri"),
            dockerfile: str_of(v, "dockerfile"),
            build_args: map_of(v, "build_args"),
            registry_username: str_of(v, "registry_username"),
            registry_auth_token: str_of(v, "registry_auth_token"),
            source_sha256: str_of(v, "source_sha256"),
            object_name: str_of(v, "object_name"),
            exit_code: i64_of(v, "exit_code"),
            image_digest: str_of(v, "image_digest"),
        }
    }

    fn dockerfile(&self) -> &str {
        self.dockerfile.as_deref().unwrap_or(DEFAULT_DOCKERFILE)
    }
}

fn object_name(digest: &str) -> String {
    format!("{OBJECT_PREFIX}{digest}.tar.gz")
}

fn scan_context(m: &Model) -> Result<Tree, Diagnostic> {
    let dir = m.app_dir.as_deref().unwrap_or_default();
    let tree = Tree::scan(Path::new(dir)).map_err(|e| {
        Diagnostic::error(
            "Cannot read the build context",
            format!("{e}. app_dir must name a directory."),
        )
        .at("app_dir")
    })?;
    let dockerfile = m.dockerfile().trim_start_matches("./");
    if !tree.contains(dockerfile) {
        return Err(Diagnostic::error(
            "No Dockerfile in the build context",
            format!(
                "{dir} has no {dockerfile} (after .galleyignore). Set dockerfile to its path \
                 inside app_dir."
            ),
        )
        .at("dockerfile"));
    }
    Ok(tree)
}

fn oci_error(summary: &str, e: &OciError) -> Diagnostic {
    Diagnostic::error(summary, e.to_string())
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
                if !build_script::valid_build_arg(name) {
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
        let set = |name| !is_null(config, name);
        if set("registry_username") != set("registry_auth_token") {
            diags.push(
                Diagnostic::error(
                    "Registry credentials are incomplete",
                    "Set registry_username and registry_auth_token together, or neither (the \
                     build instance is then expected to be logged in already).",
                )
                .at(if set("registry_username") {
                    "registry_auth_token"
                } else {
                    "registry_username"
                }),
            );
        }
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
        let config = req.config;
        let prior = (!req.prior_state.is_null()).then(|| Model::from_value(req.prior_state));
        let mut state = req.proposed_new_state.clone();
        if is_null(config, "dockerfile") {
            state.set_attr("dockerfile", Value::string(DEFAULT_DOCKERFILE));
        }
        crate::oci_clients::plan_compartment(
            &mut state,
            config,
            prior.as_ref().and_then(|p| p.compartment_id.clone()),
            "the compartment of the build instance",
        )?;
        if is_null(config, "namespace") {
            let known = prior.as_ref().and_then(|p| p.namespace.clone());
            state.set_attr(
                "namespace",
                known.map(Value::string).unwrap_or_else(Value::unknown),
            );
        }
        let planned = Model::from_value(&state);
        let context_known = !is_unknown(config, "app_dir") && !is_unknown(config, "dockerfile");
        let digest = match (&planned.app_dir, context_known) {
            (Some(_), true) => {
                let tree = scan_context(&planned).map_err(Diagnostics::from)?;
                Some(tree.digest().map_err(|e| {
                    Diagnostics::from(
                        Diagnostic::error("Cannot read the build context", e.to_string())
                            .at("app_dir"),
                    )
                })?)
            }
            _ => None,
        };
        match &digest {
            Some(d) => {
                state.set_attr("source_sha256", Value::string(d));
                state.set_attr("object_name", Value::string(object_name(d)));
            }
            None => {
                state.set_attr("source_sha256", Value::unknown());
                state.set_attr("object_name", Value::unknown());
            }
        }
        let rebuild = match &prior {
            None => true,
            Some(p) => {
                digest.is_none()
                    || p.source_sha256 != digest
                    || is_unknown(config, "image_uri")
                    || p.image_uri != planned.image_uri
                    || p.dockerfile() != planned.dockerfile()
                    || is_unknown(config, "build_args")
                    || p.build_args.clone().unwrap_or_default()
                        != planned.build_args.clone().unwrap_or_default()
                    || p.bucket_name != planned.bucket_name
                    || is_unknown(&state, "namespace")
                    || p.namespace != planned.namespace
                    || p.exit_code != Some(0)
                    || p.image_digest.is_none()
            }
        };
        if rebuild {
            for name in BUILD_ATTRIBUTES {
                state.set_attr(name, Value::unknown());
            }
        }
        Ok(Planned {
            planned_state: state,
            requires_replace: Vec::new(),
            planned_private: Vec::new(),
            diagnostics: Diagnostics::new(),
        })
    }

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest<'_>) -> Applied {
        if req.planned_state.is_null() {
            return delete(ctx, req.prior_state).await;
        }
        let rebuild = is_unknown(req.planned_state, "exit_code");
        if !rebuild {
            // Settings that do not change the image (instance, credentials, timeouts).
            return Applied::done(req.planned_state.clone());
        }
        build(ctx, req.prior_state, req.planned_state).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: &Value,
        _private: &[u8],
    ) -> Result<ReadOutcome, Diagnostics> {
        let m = Model::from_value(state);
        let (Some(namespace), Some(bucket), Some(object)) =
            (&m.namespace, &m.bucket_name, &m.object_name)
        else {
            return Ok(ReadOutcome::Present {
                state: state.clone(),
                private: Vec::new(),
            });
        };
        let clients = oci_clients::clients(&ctx.config)
            .await
            .map_err(|e| Diagnostics::from(e.diagnostic()))?;
        match clients
            .object_storage
            .head_object(namespace, bucket, object)
            .await
        {
            Ok(Some(_)) => Ok(ReadOutcome::Present {
                state: state.clone(),
                private: Vec::new(),
            }),
            // The build context is gone (deleted out of band or by a lifecycle rule): the
            // next plan builds again.
            Ok(None) => Ok(ReadOutcome::Gone),
            Err(e) if e.is_not_found() => Ok(ReadOutcome::Gone),
            Err(e) => Err(oci_error("Failed to check the uploaded build context", &e).into()),
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
        let ia = &clients.instance_agent;
        let command = ia
            .get_instance_agent_command(id)
            .await
            .map_err(|e| Diagnostics::from(oci_error("Failed to read the command", &e)))?
            .value;
        let script = match command.content.as_ref().map(|c| &c.source) {
            Some(galley_oci::instance_agent::CommandSource::Text { text, .. }) => text.clone(),
            _ => String::new(),
        };
        let Some(header) = build_script::parse_header(&script) else {
            return Err(usage(format!(
                "command {id} was not sent by galley_build (its script has no galley-build header)"
            )));
        };
        let instance = command
            .target
            .as_ref()
            .map(|t| t.instance_id.clone())
            .unwrap_or_default();
        let execution = ia
            .get_instance_agent_command_execution(id, &instance)
            .await
            .map_err(|e| Diagnostics::from(oci_error("Failed to read the command's status", &e)))?
            .value;
        let ty = schema().block.value_type();
        let mut state = Value::null_object(&ty);
        let set = |state: &mut Value, k: &str, v: &str| state.set_attr(k, Value::string(v));
        set(&mut state, "compartment_id", &command.compartment_id);
        set(&mut state, "instance_id", &instance);
        set(&mut state, "bucket_name", &header.bucket);
        set(&mut state, "namespace", &header.namespace);
        set(&mut state, "image_uri", &header.image);
        set(&mut state, "dockerfile", &header.dockerfile);
        set(&mut state, "source_sha256", &header.source_sha256);
        set(&mut state, "object_name", &header.object);
        if !header.build_args.is_empty() {
            state.set_attr("build_args", strings_value(&header.build_args));
        }
        state.set_attr(
            "registry_username",
            string_or_null(header.registry_username.as_deref()),
        );
        record_result(&mut state, id, Some(&execution));
        Ok(state)
    }
}

/// Writes what a finished (or abandoned) command left: ids, exit code, digest, output tail.
fn record_result(state: &mut Value, command_id: &str, e: Option<&InstanceAgentCommandExecution>) {
    state.set_attr("id", Value::string(command_id));
    state.set_attr("command_id", Value::string(command_id));
    let content = e.and_then(|e| e.content.as_ref());
    let text = content.and_then(|c| c.text.clone()).unwrap_or_default();
    state.set_attr(
        "exit_code",
        content
            .and_then(|c| c.exit_code)
            .map(|c| Value::number(i64::from(c)))
            .unwrap_or(Value::Null),
    );
    state.set_attr(
        "image_digest",
        string_or_null(build_script::pushed_digest(&text).as_deref()),
    );
    state.set_attr(
        "output_tail",
        Value::string(tf_log::last_lines(&text, TAIL_LINES)),
    );
}

/// Fills build attributes left unknown (a failure before the command ran) with nulls.
fn settle(state: &mut Value) {
    for name in BUILD_ATTRIBUTES {
        if is_unknown(state, name) {
            let empty = if *name == "output_tail" {
                Value::string("")
            } else {
                Value::Null
            };
            state.set_attr(name, empty);
        }
    }
}

/// Objects and URLs made for one build, removed when it ends.
#[derive(Default)]
struct Scratch {
    pars: Vec<String>,
    token_object: Option<String>,
}

impl Scratch {
    async fn clean(self, os: &ObjectStorageClient, namespace: &str, bucket: &str) {
        if let Some(object) = &self.token_object {
            if let Err(e) = os.delete_object(namespace, bucket, object, None).await {
                if !e.is_not_found() {
                    tracing::warn!(error = %e, "failed to delete the registry token object");
                }
            }
        }
        for par in &self.pars {
            if let Err(e) = os
                .delete_preauthenticated_request(namespace, bucket, par)
                .await
            {
                if !e.is_not_found() {
                    tracing::warn!(error = %e, "failed to delete a pre-authenticated request");
                }
            }
        }
    }
}

fn random_hex() -> String {
    galley_oci::client::retry::new_retry_token()
}

async fn build(ctx: &Ctx, prior_state: &Value, planned_state: &Value) -> Applied {
    let planned = Model::from_value(planned_state);
    let prior = (!prior_state.is_null()).then(|| Model::from_value(prior_state));
    let is_create = prior.is_none();
    // Before anything exists remotely, a failure leaves the state as it was.
    let untouched = |d: Diagnostics| {
        Applied::recorded(
            if is_create {
                Value::Null
            } else {
                prior_state.clone()
            },
            d,
        )
    };
    let tree = match scan_context(&planned) {
        Ok(t) => t,
        Err(d) => return untouched(d.into()),
    };
    let package = match packaging::targz::build(&tree) {
        Ok(p) => p,
        Err(e) => {
            return untouched(
                Diagnostic::error("Failed to package the build context", e.to_string())
                    .at("app_dir")
                    .into(),
            );
        }
    };
    if planned.source_sha256.as_deref() != Some(package.digest.as_str()) {
        return untouched(
            Diagnostic::error(
                "Build context changed after plan",
                "The files of app_dir changed between plan and apply, so the plan no longer \
                 describes what would be built. Run terraform plan (or apply) again.",
            )
            .at("app_dir")
            .into(),
        );
    }
    let clients = match oci_clients::clients(&ctx.config).await {
        Ok(c) => c,
        Err(e) => return untouched(e.diagnostic().into()),
    };
    let os = &clients.object_storage;
    let compartment = planned.compartment_id.clone().unwrap_or_default();
    let namespace = match &planned.namespace {
        Some(ns) => ns.clone(),
        None => match os.get_namespace(Some(&compartment)).await {
            Ok(reply) => reply.value,
            Err(e) => {
                return untouched(oci_error("Failed to look up the namespace", &e).into());
            }
        },
    };
    let bucket = planned.bucket_name.clone().unwrap_or_default();
    let object = object_name(&package.digest);

    let mut state = planned_state.clone();
    state.set_attr("namespace", Value::string(&namespace));
    state.set_attr("object_name", Value::string(&object));

    // The same context uploaded before is the same object: no need to send it again.
    let exists = matches!(
        os.head_object(&namespace, &bucket, &object).await,
        Ok(Some(_))
    );
    if !exists {
        tracing::info!(bucket = %bucket, object = %object, bytes = package.bytes.len(), "uploading the build context");
        let options = PutObjectOptions {
            content_type: Some("application/gzip".into()),
            content_md5: Some(content_md5(&package.bytes)),
            ..Default::default()
        };
        if let Err(e) = os
            .put_object(
                &namespace,
                &bucket,
                &object,
                Bytes::from(package.bytes),
                &options,
            )
            .await
        {
            return untouched(
                oci_error("Failed to upload the build context", &e)
                    .at("bucket_name")
                    .into(),
            );
        }
    }
    // From here on the uploaded context is recorded, so a failure cannot orphan it.
    let mut diagnostics = Diagnostics::new();
    let mut scratch = Scratch::default();
    let outcome = run_build(
        ctx,
        &clients,
        &planned,
        planned_state,
        &namespace,
        &bucket,
        &object,
        &mut scratch,
        &mut state,
    )
    .await;
    scratch.clean(os, &namespace, &bucket).await;
    if let Err(d) = outcome {
        diagnostics.push(d);
    }
    settle(&mut state);
    // A rebuild from another context leaves the previous upload unused.
    if !diagnostics.has_errors() {
        if let Some(p) = &prior {
            if let (Some(old), Some(old_ns), Some(old_bucket)) =
                (&p.object_name, &p.namespace, &p.bucket_name)
            {
                if (old, old_ns, old_bucket) != (&object, &namespace, &bucket) {
                    if let Err(e) = os.delete_object(old_ns, old_bucket, old, None).await {
                        if !e.is_not_found() {
                            diagnostics.push(Diagnostic::warning(
                                "Failed to delete the previous build context",
                                format!("{e}. Delete {old_bucket}/{old} by hand."),
                            ));
                        }
                    }
                }
            }
        }
    }
    Applied::recorded(state, diagnostics)
}

/// Makes the URLs, sends the script, follows it and records the result in `state`.
#[allow(clippy::too_many_arguments)]
async fn run_build(
    ctx: &Ctx,
    clients: &OciClients,
    planned: &Model,
    timeouts_from: &Value,
    namespace: &str,
    bucket: &str,
    object: &str,
    scratch: &mut Scratch,
    state: &mut Value,
) -> Result<(), Diagnostic> {
    let os = &clients.object_storage;
    let start_timeout = timeouts::get(timeouts_from, &START_TIMEOUT);
    let build_timeout = timeouts::get(timeouts_from, &BUILD_TIMEOUT);
    let url_life = start_timeout + URL_MARGIN;
    let context_par = os
        .create_preauthenticated_request(
            namespace,
            bucket,
            &CreatePreauthenticatedRequestDetails::object_read_for(
                format!("galley-build-context-{}", &random_hex()[..12]),
                object,
                url_life,
            ),
        )
        .await
        .map_err(|e| {
            oci_error(
                "Failed to create a pre-authenticated URL for the build context",
                &e,
            )
        })?
        .value;
    scratch.pars.push(context_par.id.clone());

    let mut token_url = None;
    if let (Some(_), Some(token)) = (&planned.registry_username, &planned.registry_auth_token) {
        let token_object = format!("{OBJECT_PREFIX}secrets/{}", random_hex());
        os.put_object(
            namespace,
            bucket,
            &token_object,
            Bytes::from(token.clone().into_bytes()),
            &PutObjectOptions {
                content_type: Some("application/octet-stream".into()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| oci_error("Failed to stage the registry token", &e))?;
        scratch.token_object = Some(token_object.clone());
        let par = os
            .create_preauthenticated_request(
                namespace,
                bucket,
                &CreatePreauthenticatedRequestDetails {
                    access_type: PreauthenticatedAccessType::ObjectReadWrite,
                    ..CreatePreauthenticatedRequestDetails::object_read_for(
                        format!("galley-build-login-{}", &random_hex()[..12]),
                        token_object,
                        url_life,
                    )
                },
            )
            .await
            .map_err(|e| {
                oci_error(
                    "Failed to create a pre-authenticated URL for the registry token",
                    &e,
                )
            })?
            .value;
        scratch.pars.push(par.id.clone());
        token_url = Some(par.url(os.base_url()));
    }

    let script = build_script::render(&BuildScript {
        header: Header {
            image: planned.image_uri.clone().unwrap_or_default(),
            bucket: bucket.to_owned(),
            namespace: namespace.to_owned(),
            object: object.to_owned(),
            dockerfile: planned.dockerfile().trim_start_matches("./").to_owned(),
            source_sha256: planned.source_sha256.clone().unwrap_or_default(),
            build_args: planned.build_args.clone().unwrap_or_default(),
            registry_username: planned.registry_username.clone(),
        },
        context_url: context_par.url(os.base_url()),
        token_url,
    })
    .map_err(|e| {
        Diagnostic::error("Cannot write the build script", e.to_string()).at("build_args")
    })?;

    if ctx.stop.is_cancelled() {
        return Err(Diagnostic::error(
            "Interrupted",
            "Terraform was interrupted before the build command was sent.",
        ));
    }
    let instance = planned.instance_id.clone().unwrap_or_default();
    let details = CreateInstanceAgentCommandDetails {
        display_name: Some(format!(
            "galley_build {}",
            planned.image_uri.as_deref().unwrap_or_default()
        )),
        ..CreateInstanceAgentCommandDetails::text_script(
            planned.compartment_id.clone().unwrap_or_default(),
            &instance,
            script,
            u32::try_from(build_timeout.as_secs()).unwrap_or(u32::MAX),
        )
    };
    let ia = &clients.instance_agent;
    let command = ia
        .create_instance_agent_command(&details)
        .await
        .map_err(|e| oci_error("Failed to send the build command", &e).at("instance_id"))?
        .value;
    tracing::info!(command = %command.id, instance = %instance, "build command sent");
    record_result(state, &command.id, None);
    let followed = follow_command(
        ia,
        &command.id,
        &instance,
        start_timeout,
        build_timeout,
        &ctx.stop,
    )
    .await;
    record_result(state, &command.id, followed.execution.as_ref());
    build_outcome(&command.id, &instance, &followed, start_timeout)
}

/// The error for a build that did not end with an image, or `Ok`.
fn build_outcome(
    command_id: &str,
    instance: &str,
    f: &CommandFollowed,
    start_timeout: Duration,
) -> Result<(), Diagnostic> {
    let request = f.opc_request_id.as_deref().unwrap_or("none");
    let content = f.execution.as_ref().and_then(|e| e.content.as_ref());
    let text = content.and_then(|c| c.text.clone()).unwrap_or_default();
    let tail = tf_log::last_lines(&text, 15);
    let tail_block = if tail.is_empty() {
        String::new()
    } else {
        format!(
            "\n\nLast output lines:\n{}",
            tail.lines().map(|l| format!("  {l}\n")).collect::<String>()
        )
    };
    let footer =
        format!("\nCommand {command_id} on instance {instance}; opc-request-id: {request}");
    let state = f
        .execution
        .as_ref()
        .map(|e| e.lifecycle_state.clone())
        .unwrap_or_default();
    match &f.ending {
        CommandEnding::Finished if state == ExecutionLifecycleState::Succeeded => {
            if build_script::pushed_digest(&text).is_some() {
                return Ok(());
            }
            Err(Diagnostic::error(
                "The build pushed no image digest",
                format!(
                    "The build command succeeded but its output has no `digest: sha256:...` line \
                     from docker push, so the image cannot be identified.{tail_block}{footer}"
                ),
            ))
        }
        CommandEnding::Finished => {
            let exit = content
                .and_then(|c| c.exit_code)
                .map(|c| format!("exit code {c}"))
                .unwrap_or_else(|| "no exit code".to_owned());
            let message = content.and_then(|c| c.message.clone()).unwrap_or_default();
            let mut hint = String::new();
            if text.contains("curl:") {
                hint.push_str(
                    "\n\nThe instance could not download what the build needs: check that it \
                     can reach Object Storage (a service gateway or NAT gateway on its subnet).",
                );
            }
            Err(Diagnostic::error(
                format!("Build failed with {exit}"),
                format!(
                    "The build command ended {state} with {exit}{}.{hint}{tail_block}{footer}",
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(": {message}")
                    }
                ),
            ))
        }
        CommandEnding::NeverStarted(d) => Err(Diagnostic::error(
            "The build command never started",
            format!(
                "The Oracle Cloud Agent of instance {instance} did not pick the build command \
                 up within {} (timeouts.start); it was cancelled. Check, in this order:\n\
                 1. the Compute Instance Run Command plugin is enabled for the instance (its \
                 Oracle Cloud Agent tab) and the agent is running;\n\
                 2. the instance has egress to OCI services (a service gateway or NAT gateway \
                 on its subnet): the agent fetches commands over HTTPS;\n\
                 3. IAM: the instance belongs to a dynamic group with a policy such as `allow \
                 dynamic-group <group> to use instance-agent-command-execution-family in \
                 compartment <compartment>`.{footer}",
                timeouts::format_duration(start_timeout.max(*d))
            ),
        )),
        CommandEnding::Interrupted => Err(Diagnostic::error(
            "Interrupted: the build command was cancelled",
            format!(
                "Terraform was interrupted while the build was running; the command was \
                 cancelled (now {state}). The next apply builds again.{tail_block}{footer}"
            ),
        )),
        CommandEnding::TimedOut(d) => Err(Diagnostic::error(
            "The build timed out",
            format!(
                "The build did not finish within {} (timeouts.build); it was cancelled (now \
                 {state}).{tail_block}{footer}",
                timeouts::format_duration(*d)
            ),
        )),
        CommandEnding::Unreachable(e) => Err(Diagnostic::error(
            "Lost track of the build command",
            format!("{e}. The command may still be running.{footer}"),
        )),
    }
}

async fn delete(ctx: &Ctx, prior_state: &Value) -> Applied {
    let m = Model::from_value(prior_state);
    let gone = Applied::gone();
    let (Some(namespace), Some(bucket), Some(object)) =
        (&m.namespace, &m.bucket_name, &m.object_name)
    else {
        return gone;
    };
    let clients = match oci_clients::clients(&ctx.config).await {
        Ok(c) => c,
        Err(e) => {
            return Applied::recorded(prior_state.clone(), e.diagnostic().into());
        }
    };
    match clients
        .object_storage
        .delete_object(namespace, bucket, object, None)
        .await
    {
        Ok(_) => gone,
        Err(e) if e.is_not_found() => gone,
        Err(e) => Applied::recorded(
            prior_state.clone(),
            oci_error("Failed to delete the uploaded build context", &e).into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use galley_oci::instance_agent::{CommandExecutionOutput, DeliveryState};

    use super::*;
    use crate::packaging::testdir;
    use crate::provider_config::ProviderConfig;

    fn ctx() -> Ctx {
        Ctx::new(std::sync::Arc::new(ProviderConfig::default()))
    }

    fn config(dir: &str) -> Value {
        let mut v = Value::null_object(&schema().block.value_type());
        for (k, val) in [
            ("compartment_id", "ocid1.compartment.oc1..c"),
            ("instance_id", "ocid1.instance.oc1..i"),
            ("app_dir", dir),
            ("bucket_name", "builds"),
            ("namespace", "ns"),
            ("image_uri", "iad.ocir.io/ns/app:v1"),
        ] {
            v.set_attr(k, Value::string(val));
        }
        v
    }

    async fn plan(prior: &Value, config: &Value) -> Result<Planned, Diagnostics> {
        let proposed = crate::attrs::proposed_new_state(&schema().block, prior, config);
        GalleyBuild
            .plan(
                &ctx(),
                PlanRequest {
                    prior_state: prior,
                    proposed_new_state: &proposed,
                    config,
                    prior_private: &[],
                },
            )
            .await
    }

    fn built(planned: &Value, exit: i64) -> Value {
        let mut s = planned.clone();
        let execution = InstanceAgentCommandExecution {
            delivery_state: DeliveryState::Acked,
            lifecycle_state: ExecutionLifecycleState::Succeeded,
            content: Some(CommandExecutionOutput {
                exit_code: Some(exit as i32),
                text: Some(format!("v1: digest: sha256:{} size: 1", "b".repeat(64))),
                ..Default::default()
            }),
            ..Default::default()
        };
        record_result(
            &mut s,
            "ocid1.instanceagentcommand.oc1..x",
            Some(&execution),
        );
        s
    }

    #[tokio::test]
    async fn plan_knows_the_digest_and_rebuilds_only_when_the_image_changes() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(
            dir.path(),
            &[("Dockerfile", "FROM scratch\n"), (".git/HEAD", "x")],
        );
        let d = dir.path().display().to_string();
        let cfg = config(&d);
        let first = plan(&Value::Null, &cfg).await.unwrap().planned_state;
        let digest = Tree::scan(dir.path()).unwrap().digest().unwrap();
        assert_eq!(str_of(&first, "source_sha256"), Some(digest.clone()));
        assert_eq!(str_of(&first, "object_name"), Some(object_name(&digest)));
        assert_eq!(str_of(&first, "dockerfile").as_deref(), Some("Dockerfile"));
        assert!(!first.get_attr("image_digest").unwrap().is_known());

        let prior = built(&first, 0);
        assert_eq!(plan(&prior, &cfg).await.unwrap().planned_state, prior);

        // A new registry token or instance changes no image: no rebuild.
        let mut rotated = cfg.clone();
        rotated.set_attr("instance_id", Value::string("ocid1.instance.oc1..other"));
        let p = plan(&prior, &rotated).await.unwrap().planned_state;
        assert!(p.get_attr("exit_code").unwrap().is_known());

        testdir::write(dir.path(), &[("app.py", "print(1)\n")]);
        let p = plan(&prior, &cfg).await.unwrap().planned_state;
        assert!(!p.get_attr("exit_code").unwrap().is_known());

        // A failed build is retried.
        let failed = built(&first, 1);
        testdir::write(dir.path(), &[]);
        std::fs::remove_file(dir.path().join("app.py")).unwrap();
        let p = plan(&failed, &cfg).await.unwrap().planned_state;
        assert!(!p.get_attr("exit_code").unwrap().is_known());
    }

    #[tokio::test]
    async fn a_missing_dockerfile_is_refused_at_plan() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("app.py", "x")]);
        let Err(err) = plan(&Value::Null, &config(&dir.path().display().to_string())).await else {
            panic!("a context without Dockerfile must be refused");
        };
        assert_eq!(err.0[0].path, vec![PathStep::Attr("dockerfile".into())]);
    }

    #[test]
    fn credentials_must_come_in_pairs_and_argument_names_be_identifiers() {
        let mut cfg = config("/tmp");
        cfg.set_attr("registry_username", Value::string("ns/ci"));
        cfg.set_attr(
            "build_args",
            Value::Map([("BAD-NAME".to_string(), Value::string("x"))].into()),
        );
        let diags = GalleyBuild.validate(&cfg);
        let summaries: Vec<&str> = diags.0.iter().map(|d| d.summary.as_str()).collect();
        assert!(summaries.contains(&"Registry credentials are incomplete"));
        assert!(summaries.contains(&"Invalid build argument name"));
    }

    #[test]
    fn a_command_that_never_starts_says_what_to_check() {
        let f = CommandFollowed {
            execution: None,
            opc_request_id: Some("REQ".into()),
            ending: CommandEnding::NeverStarted(Duration::from_secs(300)),
            status_calls: 3,
        };
        let err = build_outcome("cmd", "inst", &f, Duration::from_secs(300)).unwrap_err();
        for needle in [
            "Run Command plugin",
            "service gateway",
            "dynamic-group",
            "5m",
            "REQ",
        ] {
            assert!(err.detail.contains(needle), "{needle}: {}", err.detail);
        }
    }

    #[test]
    fn a_failed_build_reports_its_exit_code_and_last_lines() {
        let f = CommandFollowed {
            execution: Some(InstanceAgentCommandExecution {
                lifecycle_state: ExecutionLifecycleState::Failed,
                content: Some(CommandExecutionOutput {
                    exit_code: Some(1),
                    text: Some("step 1\nERROR: failed to solve: boom\n".into()),
                    message: Some("Command exited with code 1.".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            opc_request_id: Some("REQ".into()),
            ending: CommandEnding::Finished,
            status_calls: 3,
        };
        let err = build_outcome("cmd", "inst", &f, Duration::from_secs(300)).unwrap_err();
        assert_eq!(err.summary, "Build failed with exit code 1");
        assert!(err.detail.contains("ERROR: failed to solve: boom"));
        assert!(err.detail.contains("opc-request-id: REQ"));
    }

    #[tokio::test]
    async fn a_malformed_import_id_shows_the_expected_format() {
        let err = GalleyBuild.import(&ctx(), "build-1").await.unwrap_err();
        assert!(err.0[0].detail.contains("ocid1.instanceagentcommand."));
        assert!(
            err.0[0]
                .detail
                .contains("terraform import galley_build.NAME")
        );
    }
}
