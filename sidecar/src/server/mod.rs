//! The MCP server: one `Sidecar` value that owns the session store, the rules, the hearing
//! questions and the runner, and the tool router built from the tool groups (one file each:
//! sessions, hearing, design, view, stack, infra, drift, app), plus the resources and prompts. Transports
//! (stdio, HTTP) serve clones of it; it knows nothing about them.

mod app;
mod design;
mod drift;
mod hearing;
mod infra;
mod prompts;
mod resources;
mod schema;
mod sessions;
mod stack;
mod view;

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};

use crate::hearing::QuestionSet;
use crate::limits::DesignLimits;
use crate::rules::RuleSet;
use crate::runner::Runner;
use crate::store::SessionStore;

pub use infra::{HeavyGuard, HeavyOps};

/// The protocol revisions served: the current one without `initialize`, and the two older ones
/// deployed clients still speak.
pub const PROTOCOL_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

/// Tools only registered when the sidecar may change infrastructure.
pub const MUTATING_INFRA_TOOLS: &[&str] = &[
    "run_terraform_apply",
    "run_terraform_destroy",
    "build_app_image",
];

pub(crate) struct Inner {
    pub store: SessionStore,
    pub rules: RuleSet,
    pub runner: Arc<dyn Runner>,
    pub heavy: HeavyOps,
    pub hearing: QuestionSet,
    pub last_runs: resources::LastRuns,
    /// The `http` backend the runner's Terraform keeps its state in (the bucket store).
    pub state_backend: Option<crate::tfstate::StateBackend>,
    pub design_limits: DesignLimits,
    /// Server paths other than the data directory that messages may carry (the Terraform CLI,
    /// the provider directory), each with what to write instead.
    pub server_paths: Vec<(String, String)>,
    /// What build_app_image builds with; `None`: the tool says building is not set up.
    pub builder: Option<Arc<dyn crate::runner::build::Builder>>,
}

/// The sidecar's MCP service.
#[derive(Clone)]
pub struct Sidecar {
    inner: Arc<Inner>,
    tool_router: ToolRouter<Sidecar>,
}

impl Sidecar {
    /// The session `id` as stored, or a tool error saying why not.
    pub(crate) async fn load_session(&self, id: &str) -> Result<crate::model::Session, String> {
        self.inner.store.load(id).await.map_err(fail)
    }

    /// With `read_only`, apply, destroy and build are not registered at all, so no client can
    /// call them.
    pub fn new(
        store: SessionStore,
        rules: RuleSet,
        runner: Arc<dyn Runner>,
        read_only: bool,
    ) -> Self {
        let mut router = Self::session_tools()
            + Self::hearing_tools()
            + Self::design_tools()
            + Self::view_tools()
            + Self::stack_tools()
            + Self::infra_tools()
            + Self::drift_tools()
            + Self::app_tools();
        if read_only {
            for name in MUTATING_INFRA_TOOLS {
                router.remove_route(name);
            }
        }
        for route in router.map.values_mut() {
            if let Some(derived) = &route.attr.output_schema {
                route.attr.output_schema = Some(Arc::new(schema::lighten(derived)));
            }
        }
        Sidecar {
            inner: Arc::new(Inner {
                store,
                rules,
                runner,
                heavy: HeavyOps::default(),
                hearing: QuestionSet::shipped(),
                last_runs: resources::LastRuns::default(),
                state_backend: None,
                design_limits: DesignLimits::default(),
                server_paths: Vec::new(),
                builder: None,
            }),
            tool_router: router,
        }
    }

    /// Replaces the shipped hearing questions (before any session is served).
    pub fn with_hearing(mut self, questions: QuestionSet) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.hearing = questions;
        }
        self
    }

    /// Sets how large a design may get (before any session is served).
    pub fn with_design_limits(mut self, limits: DesignLimits) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.design_limits = limits;
        }
        self
    }

    /// Runs keep the root module's Terraform state in `backend` rather than in the session's
    /// runner directory.
    pub fn with_state_backend(mut self, backend: crate::tfstate::StateBackend) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.state_backend = Some(backend);
        }
        self
    }

    /// Server paths (besides the data directory) to keep out of what clients see, each with
    /// the words to write instead, for example the provider directory as
    /// `$GALLEY_PROVIDER_DIR`. Longer paths are replaced first.
    pub fn with_server_paths(mut self, paths: Vec<(String, String)>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            let mut paths: Vec<_> = paths.into_iter().filter(|(p, _)| p.len() > 1).collect();
            paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
            inner.server_paths = paths;
        }
        self
    }

    /// `text` (a message of Terraform, the provider, the runner or an OCI client, about session
    /// `session_id` when given) with the session's directory written relative to it and other
    /// server paths replaced.
    pub(crate) fn without_server_paths(&self, session_id: Option<&str>, text: &str) -> String {
        let mut out = match session_id {
            Some(id) => self.inner.store.relative_to_session(id, text),
            None => self.inner.store.relative_to_session("", text),
        };
        for (path, instead) in &self.inner.server_paths {
            out = out.replace(path.as_str(), instead);
        }
        out
    }

    /// Names of the registered tools.
    pub fn tool_names(&self) -> Vec<String> {
        self.tool_router
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    /// Waits until no Terraform run is in progress, at most `limit`; true when none is. Used at
    /// shutdown: the transports cancel the requests in flight, which interrupts their runs, and
    /// the runs need time to stop Terraform and have the provider cancel its job.
    pub async fn wait_idle(&self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let running = self.inner.heavy.running();
            if running == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(running, "runs still in progress at shutdown");
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// All registered tools with their schemas and annotations.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Sidecar {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_prompts()
                .enable_resources()
                .enable_tools()
                .build(),
        )
        .with_server_info(Implementation::new(
            "galley-sidecar",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Design an OCI architecture in a session: create_session, hear the requirements \
             (get_hearing_questions, save_answer, complete_hearing), then save_architecture (the \
             hearing suggests a start) or add_component; check it with validate_architecture, show \
             it with export_diagram and export_summary, write Terraform with export_iac, then \
             run_terraform_plan. An application (scaffold_app_from_template, write_app_file) is \
             built and pushed with build_app_image; a container_instance with image \"app\" runs \
             it. Applying needs the plan_token of the latest plan; destroying needs \
             the plan_token of run_terraform_plan with destroy=true. Resources under \
             galley://sessions/{session_id}/ hold each session's design, diagram, summary, stack \
             files, app and last run; the prompts walk through whole journeys.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.resource_list().await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(self.resource_templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.resource_read(&request.uri).await.map(Into::into)
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        prompts::get(&request.name, &request.arguments.unwrap_or_default()).map(Into::into)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(PROTOCOL_VERSIONS)
    }
}

/// A tool error: a message the model can act on, sent as a result with `isError`.
pub(crate) fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests;
