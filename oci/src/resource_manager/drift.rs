//! Drift detection (DetectStackDrift, ListStackResourceDriftDetails) and the work requests that
//! carry it (GetWorkRequest, ListWorkRequests, ListWorkRequestErrors, ListWorkRequestLogs):
//! their calls and bodies, field names as in the official SDKs' models.
//!
//! Detecting drift is asynchronous: DetectStackDrift answers with no body and the work
//! request's OCID in the `opc-work-request-id` header; the work request is polled until it
//! ends, then the per-resource results are listed for it and the stack's `stackDriftStatus`
//! says whether anything drifted.

use std::collections::BTreeMap;

use http::Method;
use serde::{Deserialize, Serialize};

use super::{ResourceManagerClient, collect_pages};
use crate::client::{OciError, Request, Safety};
use crate::model::{Reply, SortOrder, string_enum};

/// Response header carrying the OCID of the work request an asynchronous call started.
pub const WORK_REQUEST_ID_HEADER: &str = "opc-work-request-id";

string_enum! {
    /// `resourceDriftStatus` of one resource (the stack-level value is `StackDriftStatus`).
    ResourceDriftStatus {
        NotChecked => "NOT_CHECKED",
        InSync => "IN_SYNC",
        Modified => "MODIFIED",
        Deleted => "DELETED",
    }
}

impl ResourceDriftStatus {
    /// True for a resource that differs from what the stack's state records.
    pub fn is_drifted(&self) -> bool {
        matches!(
            self,
            ResourceDriftStatus::Modified | ResourceDriftStatus::Deleted
        )
    }
}

string_enum! {
    /// `status` of a work request.
    WorkRequestStatus {
        Accepted => "ACCEPTED",
        InProgress => "IN_PROGRESS",
        Failed => "FAILED",
        Succeeded => "SUCCEEDED",
    }
}

impl WorkRequestStatus {
    /// True once the work request can no longer change.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            WorkRequestStatus::Failed | WorkRequestStatus::Succeeded
        )
    }
}

string_enum! {
    /// `operationType` of a work request.
    WorkRequestOperationType {
        ChangeStackCompartment => "CHANGE_STACK_COMPARTMENT",
        CreateStackFromCompartment => "CREATE_STACK_FROM_COMPARTMENT",
        DriftDetection => "DRIFT_DETECTION",
        CreatePrivateEndpoint => "CREATE_PRIVATE_ENDPOINT",
        UpdatePrivateEndpoint => "UPDATE_PRIVATE_ENDPOINT",
        DeletePrivateEndpoint => "DELETE_PRIVATE_ENDPOINT",
    }
}

string_enum! {
    /// `actionType` of a resource a work request touches.
    WorkRequestActionType {
        Created => "CREATED",
        Updated => "UPDATED",
        Deleted => "DELETED",
        InProgress => "IN_PROGRESS",
    }
}

/// DetectStackDrift body: which resources to check (all when unset).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DetectStackDriftDetails {
    /// Terraform resource addresses, such as `oci_core_instance.test_instance[3]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_addresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_provider_upgrade_required: Option<bool>,
}

/// Drift of one resource of a stack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StackResourceDriftSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compartment_id: Option<String>,
    /// The resource's name as the stack's configuration defines it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Such as `oci_core_instance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_drift_status: Option<ResourceDriftStatus>,
    /// Flattened property paths (`options.0.server_type`) and their actual values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_properties: Option<BTreeMap<String, String>>,
    /// The same paths with the values the stack's state expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_properties: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_drift_checked: Option<String>,
}

impl StackResourceDriftSummary {
    /// The resource's Terraform address: the name as given when it already is one (it starts
    /// with the type or `module.`), else `<type>.<name>`.
    pub fn address(&self) -> String {
        let name = self.resource_name.as_deref().unwrap_or_default();
        match self.resource_type.as_deref() {
            Some(ty)
                if !ty.is_empty()
                    && !name.starts_with("module.")
                    && !name.starts_with(&format!("{ty}.")) =>
            {
                format!("{ty}.{name}")
            }
            _ => name.to_owned(),
        }
    }
}

/// ListStackResourceDriftDetails answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StackResourceDriftCollection {
    pub items: Vec<StackResourceDriftSummary>,
}

/// A resource a work request acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkRequestResource {
    pub action_type: WorkRequestActionType,
    pub entity_type: String,
    pub identifier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_uri: Option<String>,
}

/// A work request (GetWorkRequest; ListWorkRequests items have the same fields).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkRequest {
    pub operation_type: WorkRequestOperationType,
    pub status: WorkRequestStatus,
    pub id: String,
    pub compartment_id: String,
    pub resources: Vec<WorkRequestResource>,
    pub percent_complete: f64,
    pub time_accepted: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_finished: Option<String>,
}

/// Why a work request failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkRequestError {
    pub code: String,
    pub message: String,
    pub timestamp: String,
}

/// One line of a work request's log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkRequestLogEntry {
    pub message: String,
    pub timestamp: String,
}

/// Query of ListStackResourceDriftDetails.
#[derive(Clone, Debug, Default)]
pub struct ListResourceDriftRequest {
    /// The drift detection to report; the stack's latest completed one when unset.
    pub work_request_id: Option<String>,
    /// Only resources in these states (the parameter is repeated).
    pub resource_drift_status: Vec<ResourceDriftStatus>,
    pub limit: Option<u32>,
    pub page: Option<String>,
}

/// Query of ListWorkRequests.
#[derive(Clone, Debug, Default)]
pub struct ListWorkRequestsRequest {
    /// Required by the service.
    pub compartment_id: String,
    pub resource_id: Option<String>,
    pub limit: Option<u32>,
    pub page: Option<String>,
}

impl ResourceManagerClient {
    /// DetectStackDrift: starts a drift detection and returns its work request's OCID.
    pub async fn detect_stack_drift(
        &self,
        stack_id: &str,
        details: &DetectStackDriftDetails,
    ) -> Result<Reply<String>, OciError> {
        let request = Request::new(
            "DetectStackDrift",
            Method::POST,
            self.url(&["stacks", stack_id, "actions", "detectDrift"]),
        )
        .json(details)?
        .with_retry_token();
        let response = self.client.send(request).await?;
        let work_request = response
            .header(WORK_REQUEST_ID_HEADER)
            .map(str::to_owned)
            .ok_or_else(|| OciError::Decode {
                operation: "DetectStackDrift",
                reason: format!("the answer has no {WORK_REQUEST_ID_HEADER} header"),
                opc_request_id: response.opc_request_id.clone(),
            })?;
        Ok(Reply::new(work_request, &response))
    }

    /// ListStackResourceDriftDetails: one page (a POST without a body; filters in the query).
    pub async fn list_stack_resource_drift_details(
        &self,
        stack_id: &str,
        query: &ListResourceDriftRequest,
    ) -> Result<Reply<StackResourceDriftCollection>, OciError> {
        let mut request = Request::new(
            "ListStackResourceDriftDetails",
            Method::POST,
            self.url(&["stacks", stack_id, "actions", "listResourceDriftDetails"]),
        )
        // A read: retrying it cannot do anything twice.
        .safety(Safety::Idempotent)
        .query_opt("workRequestId", query.work_request_id.as_deref());
        for status in &query.resource_drift_status {
            request = request.query("resourceDriftStatus", status);
        }
        let request = request
            .query_opt("limit", query.limit)
            .query_opt("page", query.page.as_deref());
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// ListStackResourceDriftDetails, every page.
    pub async fn list_all_stack_resource_drift_details(
        &self,
        stack_id: &str,
        query: &ListResourceDriftRequest,
    ) -> Result<Vec<StackResourceDriftSummary>, OciError> {
        let mut query = query.clone();
        collect_pages("ListStackResourceDriftDetails", |page| {
            query.page = page;
            let query = query.clone();
            async move {
                Ok(self
                    .list_stack_resource_drift_details(stack_id, &query)
                    .await?
                    .map(|c| c.items))
            }
        })
        .await
    }

    /// GetWorkRequest.
    pub async fn get_work_request(&self, id: &str) -> Result<Reply<WorkRequest>, OciError> {
        let request = Request::new(
            "GetWorkRequest",
            Method::GET,
            self.url(&["workRequests", id]),
        );
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// ListWorkRequests: one page.
    pub async fn list_work_requests(
        &self,
        query: &ListWorkRequestsRequest,
    ) -> Result<Reply<Vec<WorkRequest>>, OciError> {
        let request = Request::new("ListWorkRequests", Method::GET, self.url(&["workRequests"]))
            .query("compartmentId", &query.compartment_id)
            .query_opt("resourceId", query.resource_id.as_deref())
            .query_opt("limit", query.limit)
            .query_opt("page", query.page.as_deref());
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// ListWorkRequestErrors: every page, oldest first.
    pub async fn list_work_request_errors(
        &self,
        id: &str,
    ) -> Result<Vec<WorkRequestError>, OciError> {
        collect_pages("ListWorkRequestErrors", |page| async move {
            let request = Request::new(
                "ListWorkRequestErrors",
                Method::GET,
                self.url(&["workRequests", id, "errors"]),
            )
            .query("sortOrder", SortOrder::Asc)
            .query_opt("page", page.as_deref());
            let response = self.client.send(request).await?;
            Ok(Reply::new(response.json()?, &response))
        })
        .await
    }

    /// ListWorkRequestLogs: every page, oldest first.
    pub async fn list_work_request_logs(
        &self,
        id: &str,
    ) -> Result<Vec<WorkRequestLogEntry>, OciError> {
        collect_pages("ListWorkRequestLogs", |page| async move {
            let request = Request::new(
                "ListWorkRequestLogs",
                Method::GET,
                self.url(&["workRequests", id, "logs"]),
            )
            .query("sortOrder", SortOrder::Asc)
            .query_opt("page", page.as_deref());
            let response = self.client.send(request).await?;
            Ok(Reply::new(response.json()?, &response))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_rebuilt_from_a_bare_name_or_kept_whole() {
        let summary = |name: &str| StackResourceDriftSummary {
            resource_name: Some(name.into()),
            resource_type: Some("oci_core_instance".into()),
            ..Default::default()
        };
        assert_eq!(summary("web[3]").address(), "oci_core_instance.web[3]");
        assert_eq!(
            summary("oci_core_instance.web").address(),
            "oci_core_instance.web"
        );
        assert_eq!(
            summary("module.app.oci_core_instance.web").address(),
            "module.app.oci_core_instance.web"
        );
        assert!(ResourceDriftStatus::Deleted.is_drifted());
        assert!(!ResourceDriftStatus::InSync.is_drifted());
        assert!(!ResourceDriftStatus::from("SOMETHING_NEW").is_drifted());
    }
}
