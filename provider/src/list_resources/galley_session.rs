//! The `galley_session` list resource: the Resource Manager stacks of a compartment, for
//! `terraform query` (Terraform 1.14 on). Each result is a `galley_session` state built by the
//! same code its import uses (`resources::galley_session::imported_state`), so
//! `-generate-config-out` writes configuration and import blocks that import every stack
//! with an empty plan.

use async_trait::async_trait;
use galley_contract::env::WORK_COMPARTMENT_ID;
use galley_oci::resource_manager::{ListStacksRequest, StackLifecycleState};

use crate::attrs::str_of;
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::list_resource::{ListRequest, ListResource, ListResult, ListSink};
use crate::oci_clients::{self, SetupDiagnostic as _};
use crate::resource::Ctx;
use crate::resources::galley_session::{imported_state, listed_state};
use crate::schema::{Attribute, Block, Presence, Schema};

pub struct GalleySessions;

/// Stacks asked for per page: at most what Terraform will take.
const PAGE: u64 = 100;

fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block {
            description: "Finds the Resource Manager stacks of a compartment (ACTIVE ones), as \
                `galley_session` resources to import. `terraform query -generate-config-out` \
                writes a `galley_session` block without `terraform_dir` for each (the stack \
                keeps its configuration; see the resource) and an `import` block by identity."
                .into(),
            attributes: vec![Attribute::new(
                "compartment_id",
                Type::String,
                Presence::Optional,
                &format!(
                    "Compartment whose stacks are listed. Default: `{WORK_COMPARTMENT_ID}` from \
                     the environment."
                ),
            )],
            ..Default::default()
        },
    }
}

#[async_trait]
impl ListResource for GalleySessions {
    fn type_name(&self) -> &'static str {
        "galley_session"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn list(
        &self,
        ctx: &Ctx,
        req: ListRequest<'_>,
        sink: &ListSink,
    ) -> Result<(), Diagnostics> {
        let compartment = match str_of(req.config, "compartment_id") {
            Some(c) => c,
            None => crate::compartment::planned_compartment(
                &Value::object([("compartment_id", Value::Null)]),
                None,
                "the compartment whose stacks to list",
            )?
            .unwrap_or_default(),
        };
        let clients = oci_clients::clients(&ctx.config)
            .await
            .map_err(|e| Diagnostics::from(e.diagnostic()))?;
        let rm = &clients.resource_manager;
        let mut query = ListStacksRequest {
            compartment_id: Some(compartment.clone()),
            lifecycle_state: Some(StackLifecycleState::Active),
            limit: Some(req.limit.min(PAGE) as u32),
            ..Default::default()
        };
        loop {
            if ctx.stop.is_cancelled() {
                return Ok(());
            }
            let page = rm.list_stacks(&query).await.map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Failed to list the stacks",
                    format!("Listing the stacks of compartment {compartment} failed: {e}"),
                ))
            })?;
            for stack in &page.value {
                let state = if req.include_resource_object {
                    imported_state(&clients, &stack.id).await?
                } else {
                    listed_state(
                        &stack.id,
                        &stack.compartment_id,
                        stack.display_name.as_deref(),
                    )
                };
                let name = stack.display_name.as_deref().unwrap_or(&stack.id);
                if !sink.found(ListResult::new(name, state)).await {
                    return Ok(());
                }
            }
            match &page.next_page {
                Some(next) if query.page.as_deref() != Some(next.as_str()) => {
                    query.page = Some(next.clone())
                }
                _ => return Ok(()),
            }
        }
    }
}
