//! The session document: what a design session holds and how it is serialised to `session.json`.
//! Owns only data shapes and small queries over them; storage lives in `store`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a session is in its life. Design tools move it back to `designing`; the runner moves it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Designing,
    Exported,
    Planned,
    Applied,
    DestroyPreviewed,
    Destroyed,
}

/// One component of an architecture: an instance of a service type with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Component {
    /// Stable id, unique in the session; connections refer to it.
    pub id: String,
    /// One of the types `list_available_services` returns, for example `vcn` or `compute`.
    pub service_type: String,
    /// Human name; also the base of the Terraform resource name.
    pub display_name: String,
    /// Service settings (see `list_available_services` for the keys each type understands).
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
}

/// A directed link between two components. Placement (an instance in a subnet, a subnet in a
/// VCN) is a connection too; its direction does not matter for placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Connection {
    pub source_id: String,
    pub target_id: String,
    /// Free-form kind, for example `placement`, `network`, `data`.
    #[serde(default = "default_connection_type")]
    pub connection_type: String,
    #[serde(default)]
    pub description: String,
}

fn default_connection_type() -> String {
    "network".to_string()
}

/// Components and the connections between them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Architecture {
    #[serde(default)]
    pub components: Vec<Component>,
    #[serde(default)]
    pub connections: Vec<Connection>,
}

impl Architecture {
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }

    /// Components linked to `id` by a connection in either direction, in connection order.
    pub fn neighbours<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Component> + 'a {
        self.connections.iter().filter_map(move |c| {
            let other = if c.source_id == id {
                &c.target_id
            } else if c.target_id == id {
                &c.source_id
            } else {
                return None;
            };
            self.component(other)
        })
    }

    /// Neighbours of `id` of one service type.
    pub fn neighbours_of_type<'a>(
        &'a self,
        id: &'a str,
        service_type: &'a str,
    ) -> impl Iterator<Item = &'a Component> + 'a {
        self.neighbours(id)
            .filter(move |c| c.service_type == service_type)
    }
}

/// Kind of saved Terraform plan a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    Apply,
    Destroy,
}

/// The latest reviewed plan: apply (or destroy) is only allowed for exactly this plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingPlan {
    pub kind: PlanKind,
    /// What the client must send back; random, so it cannot be guessed from the files.
    pub token: String,
    /// Digest of the stack files the plan was made from.
    pub files_digest: String,
    /// Digest of the runner's file the plan left for its apply (the variables of the PLAN job,
    /// or a saved destroy plan), when it keeps one.
    pub plan_file_digest: Option<String>,
    /// That file's name in the runner's directory (absent in plans made before it was kept:
    /// then the kind's saved plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_file: Option<String>,
    /// The Resource Manager PLAN job the user reviewed, which the apply applies exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_job_id: Option<String>,
    pub created_at: u64,
}

/// A design session as stored in `sessions/<id>/session.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub status: SessionStatus,
    pub created_at: u64,
    pub updated_at: u64,
    /// Answers gathered while hearing requirements (free-form).
    #[serde(default)]
    pub answers: serde_json::Map<String, Value>,
    #[serde(default)]
    pub hearing_result: Option<Value>,
    #[serde(default)]
    pub architecture: Architecture,
    #[serde(default)]
    pub rm_stack_id: Option<String>,
    #[serde(default)]
    pub last_job_id: Option<String>,
    /// Never shown to clients: it is only handed out by the plan that produced it.
    #[serde(default)]
    pub pending_plan: Option<PendingPlan>,
    /// The session's application directory, text files by path (checked like stack paths).
    /// Kept in the session document, so it lives wherever the store keeps sessions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub app_files: BTreeMap<String, String>,
    /// The last image `build_app_image` built and pushed; what a container's `image = "app"`
    /// becomes in the exported stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_build: Option<BuildRecord>,
}

/// An image built from the session's application directory and pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildRecord {
    /// Repository and tag pushed, such as `iad.ocir.io/ns/app:3f2a9c1b`.
    pub image_uri: String,
    /// Digest of the pushed image (`sha256:...`).
    pub image_digest: String,
    /// `image_uri@image_digest`: the exact image, what the exported stack pulls.
    pub image_reference: String,
    /// SHA-256 of the build context (the app files as `galley_build` packages them).
    pub source_sha256: String,
    pub built_at: u64,
}

/// What clients see of a session (no plan token).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SessionView {
    pub id: String,
    pub status: SessionStatus,
    pub created_at: u64,
    pub updated_at: u64,
    pub answers: serde_json::Map<String, Value>,
    pub hearing_result: Option<Value>,
    pub architecture: Architecture,
    pub rm_stack_id: Option<String>,
    pub last_job_id: Option<String>,
    /// `apply` or `destroy` when a reviewed plan is waiting for its token.
    pub pending_plan_kind: Option<PlanKind>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        SessionView {
            id: s.id.clone(),
            status: s.status,
            created_at: s.created_at,
            updated_at: s.updated_at,
            answers: s.answers.clone(),
            hearing_result: s.hearing_result.clone(),
            architecture: s.architecture.clone(),
            rm_stack_id: s.rm_stack_id.clone(),
            last_job_id: s.last_job_id.clone(),
            pending_plan_kind: s.pending_plan.as_ref().map(|p| p.kind),
        }
    }
}

/// Seconds since the Unix epoch, for timestamps in session files.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
