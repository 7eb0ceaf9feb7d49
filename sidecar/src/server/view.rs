//! View tools: the design as a Markdown summary with estimated costs (`export_summary`) and as a
//! diagram, SVG drawn by the sidecar and Mermaid text (`export_diagram`). Both only read the
//! session.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use super::Sidecar;
use super::sessions::SessionIdArgs;
use crate::view::{self, prices::Estimate, prices::PriceTable};

#[derive(Debug, Serialize, JsonSchema)]
pub struct SummaryResult {
    pub session_id: String,
    /// The summary: requirements, placement, components with settings and monthly cost,
    /// connections, the cost total and what is unpriced, validation.
    pub markdown: String,
    /// Per component: USD per month, or null when the price table has no price for it.
    pub estimates: Vec<Estimate>,
    pub known_monthly_usd: f64,
    /// Ids of the components without a recorded price.
    pub unknown_cost: Vec<String>,
    pub price_source: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DiagramResult {
    pub session_id: String,
    /// The diagram as Mermaid flowchart text (subgraphs for VCNs and subnets).
    pub mermaid: String,
    /// The diagram as a standalone SVG document.
    pub svg: String,
    pub width: f64,
    pub height: f64,
    pub components: usize,
    /// Connections drawn as arrows; placement connections are shown by nesting instead.
    pub arrows: usize,
}

#[tool_router(router = view_tools, vis = "pub(super)")]
impl Sidecar {
    #[tool(
        description = "Summarise the session's design in Markdown: requirements from the hearing, placement (which VCN and subnet each component is in), every component with its settings and estimated monthly cost where the shipped price table knows it (\"unknown\" elsewhere; prices are list prices with their source and date), connections, the known cost total, and validation problems.",
        annotations(
            title = "Export summary",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn export_summary(
        &self,
        Parameters(args): Parameters<SessionIdArgs>,
    ) -> Result<Json<SummaryResult>, String> {
        let s = self.load_session(&args.session_id).await?;
        let report = self.inner.rules.validate(&s.architecture);
        let sum = view::summary::render(&s, &report, PriceTable::shipped());
        Ok(Json(SummaryResult {
            session_id: s.id,
            markdown: sum.markdown,
            estimates: sum.estimates,
            known_monthly_usd: sum.known_monthly_usd,
            unknown_cost: sum.unknown_cost,
            price_source: sum.price_source,
        }))
    }

    #[tool(
        description = "Draw the session's architecture: returns Mermaid flowchart text and a standalone SVG (drawn by the sidecar) with a box per VCN and per subnet holding what sits in them, every component labelled with its display name and service type, and arrows for the connections. The same diagram is readable as the resources galley://sessions/{session_id}/diagram.svg and .../diagram.mmd.",
        annotations(
            title = "Export diagram",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn export_diagram(
        &self,
        Parameters(args): Parameters<SessionIdArgs>,
    ) -> Result<Json<DiagramResult>, String> {
        let s = self.load_session(&args.session_id).await?;
        let d = view::diagram(&s.architecture);
        Ok(Json(DiagramResult {
            session_id: s.id,
            mermaid: d.mermaid,
            svg: d.svg,
            width: d.width,
            height: d.height,
            components: s.architecture.components.len(),
            arrows: d.edges,
        }))
    }
}
