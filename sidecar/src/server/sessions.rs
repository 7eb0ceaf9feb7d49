//! Session tools: create, get and list sessions.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Sidecar, fail};
use crate::model::{Session, SessionStatus, SessionView};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateSessionArgs {
    /// Requirements gathered so far (free-form key/value answers), stored with the session.
    #[serde(default)]
    pub answers: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SessionIdArgs {
    /// The session id create_session returned (`s-` and 12 characters).
    pub session_id: String,
}

/// A session in a few fields (get_session has all of it).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionSummary {
    pub id: String,
    pub status: SessionStatus,
    pub created_at: u64,
    pub updated_at: u64,
    pub components: usize,
    pub connections: usize,
}

impl From<&Session> for SessionSummary {
    fn from(s: &Session) -> Self {
        SessionSummary {
            id: s.id.clone(),
            status: s.status,
            created_at: s.created_at,
            updated_at: s.updated_at,
            components: s.architecture.components.len(),
            connections: s.architecture.connections.len(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionList {
    /// Newest first.
    pub sessions: Vec<SessionSummary>,
}

#[tool_router(router = session_tools, vis = "pub(super)")]
impl Sidecar {
    #[tool(
        description = "Start a new design session and return it. Keep its `id`: every other tool takes it as `session_id`.",
        annotations(
            title = "Create session",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_session(
        &self,
        Parameters(args): Parameters<CreateSessionArgs>,
    ) -> Result<Json<SessionView>, String> {
        let s = self.inner.store.create(args.answers).await.map_err(fail)?;
        tracing::info!(session = %s.id, "session created");
        Ok(Json(SessionView::from(&s)))
    }

    #[tool(
        description = "Return a session: status, answers, architecture (components and connections), Resource Manager stack id, and whether a reviewed plan awaits its token.",
        annotations(
            title = "Get session",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_session(
        &self,
        Parameters(args): Parameters<SessionIdArgs>,
    ) -> Result<Json<SessionView>, String> {
        let s = self.load_session(&args.session_id).await?;
        Ok(Json(SessionView::from(&s)))
    }

    #[tool(
        description = "List all sessions, newest first, with their status and size.",
        annotations(
            title = "List sessions",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_sessions(&self) -> Result<Json<SessionList>, String> {
        let sessions = self.inner.store.list().await.map_err(fail)?;
        Ok(Json(SessionList {
            sessions: sessions.iter().map(SessionSummary::from).collect(),
        }))
    }
}
