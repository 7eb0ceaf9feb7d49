//! An existing stack read whole by its OCID: the stack, its latest job and its outputs. What
//! `galley_session`'s import and the `galley_stack` data source start from.

use galley_oci::model::SortOrder;
use galley_oci::resource_manager::{
    JobLifecycleState, ListJobsRequest, ListSortBy, ResourceManagerClient,
};

use super::error::{Call, SessionError};
use super::stack::{self, StackView};
use super::state::{self, Outputs};

/// A stack OCID as Resource Manager issues them: `ocid1.ormstack.<realm>.<region>.<unique>`
/// (the region may be empty), lowercase, nothing that could leave a URL path segment.
pub fn is_stack_ocid(id: &str) -> bool {
    id.starts_with("ocid1.ormstack.")
        && id.split('.').count() >= 4
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// What [`describe`] read.
#[derive(Debug, Clone)]
pub struct Described {
    pub stack: StackView,
    /// The newest job of the stack: its OCID and state.
    pub last_job: Option<(String, JobLifecycleState)>,
    pub outputs: Outputs,
}

/// Reads stack `stack_id` (a missing or deleted stack is [`SessionError::is_gone`]), its newest
/// job and its outputs.
pub async fn describe(
    rm: &ResourceManagerClient,
    stack_id: &str,
) -> Result<Described, SessionError> {
    let stack = stack::read(rm, stack_id).await?;
    let latest = rm
        .list_jobs(&ListJobsRequest {
            stack_id: Some(stack.id.clone()),
            sort_by: Some(ListSortBy::TimeCreated),
            sort_order: Some(SortOrder::Desc),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .map_err(SessionError::oci(Call::ListJobs))?;
    let outputs = state::read_outputs(rm, &stack.id)
        .await
        .map_err(SessionError::oci(Call::ReadOutputs))?;
    Ok(Described {
        last_job: latest
            .value
            .first()
            .map(|j| (j.id.clone(), j.lifecycle_state.clone())),
        stack: StackView::from(&stack),
        outputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_ocids_are_checked_before_any_call() {
        assert!(is_stack_ocid("ocid1.ormstack.oc1..aaaabbbb"));
        assert!(is_stack_ocid("ocid1.ormstack.oc1.iad.aaaabbbb"));
        assert!(!is_stack_ocid("ocid1.ormjob.oc1..aaaabbbb"));
        assert!(!is_stack_ocid("my-stack"));
        assert!(!is_stack_ocid("ocid1.ormstack.oc1..AAA/../x"));
    }
}
