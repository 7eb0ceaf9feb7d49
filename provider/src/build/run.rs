//! One build on the instance: the pre-authenticated URLs made, the script rendered and sent
//! through the Instance Agent, the command followed through `crate::remote::command` (which
//! cancels it on Stop or at a timeout), the scratch removed, the outcome judged. Also finding a
//! build command again by its OCID.

use std::collections::BTreeMap;
use std::time::Duration;

use galley_oci::auth::Secret;
use galley_oci::instance_agent::{CommandSource, CreateInstanceAgentCommandDetails};
use galley_oci::setup::OciClients;
use tokio_util::sync::CancellationToken;

use super::context::dockerfile_in_context;
use super::error::BuildError;
use super::outcome::{self, Record};
use super::scratch::{Scratch, Uploaded};
use super::script::{self, BuildScript, Header};
use crate::remote::command::follow_command;

/// Extra life of the pre-authenticated URLs beyond the start timeout: the script reads them
/// first thing, and they are deleted when the command ends anyway.
const URL_MARGIN: Duration = Duration::from_secs(10 * 60);

/// How long the agent may take to pick the command up, and the build to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub start: Duration,
    pub build: Duration,
}

/// What to build and where; nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub compartment_id: String,
    pub instance_id: String,
    /// Repository and tag to build and push.
    pub image: String,
    /// Path of the Dockerfile inside the context.
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    pub timeouts: Timeouts,
}

/// Registry credentials for `docker login`. The token reaches the instance only through a
/// scratch object; `Debug` redacts it.
#[derive(Debug, Clone)]
pub struct Login {
    pub username: String,
    pub token: Secret,
}

/// Runs `build` on the uploaded `context`, logging in with `login` first when given. `Ok` is
/// the record of a command that pushed an image; a command that pushed none is
/// [`BuildError::Failed`], which carries its record.
pub async fn run(
    clients: &OciClients,
    build: &Build,
    context: &Uploaded,
    login: Option<&Login>,
    stop: &CancellationToken,
) -> Result<Record, BuildError> {
    let mut scratch = Scratch::new(&clients.object_storage, context);
    let result = send_and_follow(clients, build, context, login, &mut scratch, stop).await;
    scratch.clean().await;
    result
}

async fn send_and_follow(
    clients: &OciClients,
    build: &Build,
    context: &Uploaded,
    login: Option<&Login>,
    scratch: &mut Scratch<'_>,
    stop: &CancellationToken,
) -> Result<Record, BuildError> {
    let url_life = build.timeouts.start + URL_MARGIN;
    let context_url = scratch.read_url(&context.object, url_life).await?;
    let token_url = match login {
        Some(login) => Some(scratch.token_url(&login.token, url_life).await?),
        None => None,
    };
    let script = script::render(&BuildScript {
        header: Header {
            image: build.image.clone(),
            bucket: context.bucket.clone(),
            namespace: context.namespace.clone(),
            object: context.object.clone(),
            dockerfile: dockerfile_in_context(&build.dockerfile).to_owned(),
            source_sha256: context.source_sha256.clone(),
            build_args: build.build_args.clone(),
            registry_username: login.map(|l| l.username.clone()),
        },
        context_url,
        token_url,
    })?;

    if stop.is_cancelled() {
        return Err(BuildError::Interrupted);
    }
    let instance = &build.instance_id;
    let details = CreateInstanceAgentCommandDetails {
        display_name: Some(format!("galley_build {}", build.image)),
        ..CreateInstanceAgentCommandDetails::text_script(
            build.compartment_id.clone(),
            instance,
            script,
            u32::try_from(build.timeouts.build.as_secs()).unwrap_or(u32::MAX),
        )
    };
    let ia = &clients.instance_agent;
    let command = ia
        .create_instance_agent_command(&details)
        .await
        .map_err(BuildError::Send)?
        .value;
    tracing::info!(command = %command.id, instance = %instance, "build command sent");
    let followed = follow_command(
        ia,
        &command.id,
        instance,
        build.timeouts.start,
        build.timeouts.build,
        stop,
    )
    .await;
    outcome::judge(&command.id, instance, followed, build.timeouts.start)
        .map_err(BuildError::Failed)
}

/// A build command found by its OCID.
#[derive(Debug, Clone)]
pub struct Found {
    pub compartment_id: String,
    pub instance_id: String,
    /// The build's settings, as its script recorded them.
    pub header: Header,
    pub record: Record,
}

/// The build command `id` and what it left; [`BuildError::NotABuild`] when its script was not
/// written by this engine.
pub async fn find(clients: &OciClients, id: &str) -> Result<Found, BuildError> {
    let ia = &clients.instance_agent;
    let command = ia
        .get_instance_agent_command(id)
        .await
        .map_err(|source| BuildError::ReadCommand {
            id: id.to_owned(),
            source,
        })?
        .value;
    let script = match command.content.as_ref().map(|c| &c.source) {
        Some(CommandSource::Text { text, .. }) => text.as_str(),
        _ => "",
    };
    let header = script::parse_header(script).ok_or_else(|| BuildError::NotABuild(id.into()))?;
    let instance_id = command
        .target
        .as_ref()
        .map(|t| t.instance_id.clone())
        .unwrap_or_default();
    let execution = ia
        .get_instance_agent_command_execution(id, &instance_id)
        .await
        .map_err(|source| BuildError::ReadStatus {
            id: id.to_owned(),
            source,
        })?
        .value;
    Ok(Found {
        compartment_id: command.compartment_id,
        instance_id,
        header,
        record: Record::of(id, Some(&execution)),
    })
}
