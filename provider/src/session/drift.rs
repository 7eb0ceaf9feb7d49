//! Drift of a session's stack: Resource Manager's drift detection (a refresh of the stack's
//! state against the real resources) started, its work request followed to the end, and the
//! per-resource results read back.
//!
//! The work request is polled on the status schedule of jobs (`crate::remote::poll`) until it
//! ends, the timeout passes or Terraform's Stop arrives; a work request cannot be cancelled, so
//! the last two only stop waiting.

use std::time::Duration;

use galley_oci::resource_manager::{
    DetectStackDriftDetails, ListResourceDriftRequest, ResourceDriftStatus, ResourceManagerClient,
    StackDriftStatus, WorkRequestStatus,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::{Call, SessionError};
use crate::remote::poll::{Backoff, Schedule};

/// What a drift detection found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftReport {
    pub work_request_id: String,
    /// `IN_SYNC` or `DRIFTED` (the stack's `stackDriftStatus` after the check).
    pub status: StackDriftStatus,
    /// The resources that drifted, by address, with `MODIFIED` or `DELETED`, sorted.
    pub drifted: Vec<(String, ResourceDriftStatus)>,
}

impl DriftReport {
    /// The addresses of the drifted resources.
    pub fn addresses(&self) -> Vec<String> {
        self.drifted.iter().map(|(a, _)| a.clone()).collect()
    }
}

/// Detects the drift of stack `stack_id`, waiting at most `timeout`.
pub async fn detect(
    rm: &ResourceManagerClient,
    stack_id: &str,
    timeout: Duration,
    stop: &CancellationToken,
) -> Result<DriftReport, SessionError> {
    let failed = |work_request_id: Option<&str>, reason: String| SessionError::Drift {
        stack_id: stack_id.to_owned(),
        work_request_id: work_request_id.map(str::to_owned),
        reason,
    };
    let id = rm
        .detect_stack_drift(stack_id, &DetectStackDriftDetails::default())
        .await
        .map_err(SessionError::oci(Call::DetectDrift))?
        .value;
    tracing::info!(stack = %stack_id, work_request = %id, "detecting the stack's drift");
    let deadline = Instant::now() + timeout;
    let mut schedule = Schedule::new(Backoff::STATUS);
    let status = loop {
        let wake = (Instant::now() + schedule.next_delay()).min(deadline);
        tokio::select! {
            biased;
            _ = stop.cancelled() => {
                return Err(failed(Some(&id), "Terraform was interrupted while waiting for it".into()));
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        let wr = rm
            .get_work_request(&id)
            .await
            .map_err(SessionError::oci(Call::ReadWorkRequest))?
            .value;
        if wr.status.is_terminal() {
            break wr.status;
        }
        if Instant::now() >= deadline {
            return Err(failed(
                Some(&id),
                format!(
                    "it did not finish within {} (timeouts.drift); it is {} and may still be \
                     running",
                    crate::timeouts::format_duration(timeout),
                    wr.status
                ),
            ));
        }
    };
    if status != WorkRequestStatus::Succeeded {
        let errors = rm.list_work_request_errors(&id).await.unwrap_or_default();
        let reason = errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(failed(
            Some(&id),
            if reason.is_empty() {
                format!("it ended {status}")
            } else {
                format!("it ended {status}: {reason}")
            },
        ));
    }
    let items = rm
        .list_all_stack_resource_drift_details(
            stack_id,
            &ListResourceDriftRequest {
                work_request_id: Some(id.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(SessionError::oci(Call::ListDrift))?;
    let mut drifted: Vec<(String, ResourceDriftStatus)> = items
        .iter()
        .filter_map(|d| {
            let status = d.resource_drift_status.clone()?;
            status.is_drifted().then(|| (d.address(), status))
        })
        .collect();
    drifted.sort_by(|a, b| a.0.cmp(&b.0));
    let status = if drifted.is_empty() {
        StackDriftStatus::InSync
    } else {
        StackDriftStatus::Drifted
    };
    Ok(DriftReport {
        work_request_id: id,
        status,
        drifted,
    })
}
