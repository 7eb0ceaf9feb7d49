//! [`BuildError`]: everything the build engine can fail at, each variant naming the step and
//! carrying the error it met, so the resource can point at the attribute involved and say
//! what to do.

use galley_oci::client::OciError;

use super::context::ContextError;
use super::outcome::Failed;
use super::script::ScriptError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("failed to look up the Object Storage namespace: {0}")]
    Namespace(OciError),
    #[error("failed to upload the build context: {0}")]
    Upload(OciError),
    #[error("failed to create a pre-authenticated URL for the build context: {0}")]
    ContextUrl(OciError),
    #[error("failed to stage the registry token: {0}")]
    StageToken(OciError),
    #[error("failed to create a pre-authenticated URL for the registry token: {0}")]
    TokenUrl(OciError),
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error("failed to send the build command: stopped before it was sent")]
    Interrupted,
    #[error("failed to send the build command: {0}")]
    Send(OciError),
    /// The command was sent and pushed no image; what it left is in the [`Failed`].
    #[error(transparent)]
    Failed(Box<Failed>),
    #[error("failed to read command {id}: {source}")]
    ReadCommand { id: String, source: OciError },
    #[error("command {0} was not sent by galley_build (its script has no galley-build header)")]
    NotABuild(String),
    #[error("failed to read the status of command {id}: {source}")]
    ReadStatus { id: String, source: OciError },
    #[error("failed to check the uploaded build context {bucket}/{object}: {source}")]
    CheckContext {
        bucket: String,
        object: String,
        source: OciError,
    },
    #[error("failed to delete the uploaded build context {bucket}/{object}: {source}")]
    DeleteContext {
        bucket: String,
        object: String,
        source: OciError,
    },
}

impl BuildError {
    /// What the build command left when it was sent but pushed no image.
    pub fn failed(&self) -> Option<&Failed> {
        match self {
            BuildError::Failed(f) => Some(f),
            _ => None,
        }
    }
}
