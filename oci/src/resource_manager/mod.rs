//! Resource Manager (API 20180917): stacks, jobs, job logs and Terraform state; drift
//! detection and its work requests in [`drift`].
//!
//! Each method is one API operation, named as in the API reference; creates carry an
//! `opc-retry-token` so the transport's retries never create twice. List calls return one page
//! (its `next_page` in the [`Reply`]); the `list_all_*` helpers follow the pages.

pub mod drift;
pub mod models;

use std::time::SystemTime;

use bytes::Bytes;
use http::Method;
use http::header::{ACCEPT, IF_MATCH};

use crate::client::{Client, OciError, Request, encode_path_segment};
use crate::endpoints::{EndpointError, Endpoints, Service};
use crate::model::{Reply, SortOrder, parse_rfc3339};

pub use drift::*;
pub use models::*;

/// Largest number of pages a `list_all_*` helper follows, against a server that never stops.
pub const MAX_PAGES: usize = 1000;

/// Query of ListStacks.
#[derive(Clone, Debug, Default)]
pub struct ListStacksRequest {
    pub compartment_id: Option<String>,
    pub id: Option<String>,
    pub lifecycle_state: Option<StackLifecycleState>,
    pub display_name: Option<String>,
    pub sort_by: Option<ListSortBy>,
    pub sort_order: Option<SortOrder>,
    pub limit: Option<u32>,
    pub page: Option<String>,
}

/// Query of ListJobs.
#[derive(Clone, Debug, Default)]
pub struct ListJobsRequest {
    pub compartment_id: Option<String>,
    pub stack_id: Option<String>,
    pub id: Option<String>,
    pub lifecycle_state: Option<JobLifecycleState>,
    pub display_name: Option<String>,
    pub sort_by: Option<ListSortBy>,
    pub sort_order: Option<SortOrder>,
    pub limit: Option<u32>,
    pub page: Option<String>,
}

/// Query of GetJobLogs.
#[derive(Clone, Debug, Default)]
pub struct JobLogsRequest {
    pub types: Vec<LogEntryType>,
    pub level_greater_than_or_equal_to: Option<LogLevel>,
    pub sort_order: Option<SortOrder>,
    pub limit: Option<u32>,
    pub page: Option<String>,
    /// RFC 3339; entries at or after it.
    pub timestamp_greater_than_or_equal_to: Option<String>,
    /// RFC 3339; entries at or before it.
    pub timestamp_less_than_or_equal_to: Option<String>,
}

/// A Resource Manager client for one region (or endpoint).
#[derive(Clone, Debug)]
pub struct ResourceManagerClient {
    client: Client,
    base_url: String,
}

service_client!(ResourceManagerClient, Service::ResourceManager);

impl ResourceManagerClient {
    fn url(&self, segments: &[&str]) -> String {
        let mut url = self.base_url.clone();
        for segment in segments {
            url.push('/');
            url.push_str(&encode_path_segment(segment));
        }
        url
    }

    /// CreateStack.
    pub async fn create_stack(
        &self,
        details: &CreateStackDetails,
    ) -> Result<Reply<Stack>, OciError> {
        let request = Request::new("CreateStack", Method::POST, self.url(&["stacks"]))
            .json(details)?
            .with_retry_token();
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// GetStack.
    pub async fn get_stack(&self, stack_id: &str) -> Result<Reply<Stack>, OciError> {
        let request = Request::new("GetStack", Method::GET, self.url(&["stacks", stack_id]));
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// UpdateStack; `if_match` is an etag from a previous read.
    pub async fn update_stack(
        &self,
        stack_id: &str,
        details: &UpdateStackDetails,
        if_match: Option<&str>,
    ) -> Result<Reply<Stack>, OciError> {
        let request = Request::new("UpdateStack", Method::PUT, self.url(&["stacks", stack_id]))
            .json(details)?
            .header_opt(IF_MATCH, if_match);
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// DeleteStack.
    pub async fn delete_stack(
        &self,
        stack_id: &str,
        if_match: Option<&str>,
    ) -> Result<Reply<()>, OciError> {
        let request = Request::new(
            "DeleteStack",
            Method::DELETE,
            self.url(&["stacks", stack_id]),
        )
        .header_opt(IF_MATCH, if_match);
        let response = self.client.send(request).await?;
        Ok(Reply::new((), &response))
    }

    /// ListStacks: one page.
    pub async fn list_stacks(
        &self,
        query: &ListStacksRequest,
    ) -> Result<Reply<Vec<StackSummary>>, OciError> {
        let request = Request::new("ListStacks", Method::GET, self.url(&["stacks"]))
            .query_opt("compartmentId", query.compartment_id.as_deref())
            .query_opt("id", query.id.as_deref())
            .query_opt("lifecycleState", query.lifecycle_state.as_ref())
            .query_opt("displayName", query.display_name.as_deref())
            .query_opt("sortBy", query.sort_by.as_ref())
            .query_opt("sortOrder", query.sort_order.as_ref())
            .query_opt("limit", query.limit)
            .query_opt("page", query.page.as_deref());
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// ListStacks, every page.
    pub async fn list_all_stacks(
        &self,
        query: &ListStacksRequest,
    ) -> Result<Vec<StackSummary>, OciError> {
        let mut query = query.clone();
        collect_pages("ListStacks", |page| {
            query.page = page;
            let query = query.clone();
            async move { self.list_stacks(&query).await }
        })
        .await
    }

    /// GetStackTfState: the stack's Terraform state file.
    pub async fn get_stack_tf_state(&self, stack_id: &str) -> Result<Reply<Bytes>, OciError> {
        self.get_bytes("GetStackTfState", &["stacks", stack_id, "tfState"], None)
            .await
    }

    /// GetStackTfConfig: the stack's configuration as a zip.
    pub async fn get_stack_tf_config(&self, stack_id: &str) -> Result<Reply<Bytes>, OciError> {
        self.get_bytes("GetStackTfConfig", &["stacks", stack_id, "tfConfig"], None)
            .await
    }

    /// CreateJob.
    pub async fn create_job(&self, details: &CreateJobDetails) -> Result<Reply<Job>, OciError> {
        let request = Request::new("CreateJob", Method::POST, self.url(&["jobs"]))
            .json(details)?
            .with_retry_token();
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// GetJob.
    pub async fn get_job(&self, job_id: &str) -> Result<Reply<Job>, OciError> {
        let request = Request::new("GetJob", Method::GET, self.url(&["jobs", job_id]));
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// CancelJob. `is_forced` stops Terraform at once instead of letting it finish the
    /// resource it is on (the state may then be left inconsistent).
    pub async fn cancel_job(&self, job_id: &str, is_forced: bool) -> Result<Reply<()>, OciError> {
        let request = Request::new("CancelJob", Method::DELETE, self.url(&["jobs", job_id]))
            .query("isForced", is_forced);
        let response = self.client.send(request).await?;
        Ok(Reply::new((), &response))
    }

    /// ListJobs: one page.
    pub async fn list_jobs(
        &self,
        query: &ListJobsRequest,
    ) -> Result<Reply<Vec<JobSummary>>, OciError> {
        let request = Request::new("ListJobs", Method::GET, self.url(&["jobs"]))
            .query_opt("compartmentId", query.compartment_id.as_deref())
            .query_opt("stackId", query.stack_id.as_deref())
            .query_opt("id", query.id.as_deref())
            .query_opt("lifecycleState", query.lifecycle_state.as_ref())
            .query_opt("displayName", query.display_name.as_deref())
            .query_opt("sortBy", query.sort_by.as_ref())
            .query_opt("sortOrder", query.sort_order.as_ref())
            .query_opt("limit", query.limit)
            .query_opt("page", query.page.as_deref());
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// ListJobs, every page.
    pub async fn list_all_jobs(
        &self,
        query: &ListJobsRequest,
    ) -> Result<Vec<JobSummary>, OciError> {
        let mut query = query.clone();
        collect_pages("ListJobs", |page| {
            query.page = page;
            let query = query.clone();
            async move { self.list_jobs(&query).await }
        })
        .await
    }

    /// GetJobLogs: one page.
    pub async fn get_job_logs(
        &self,
        job_id: &str,
        query: &JobLogsRequest,
    ) -> Result<Reply<Vec<LogEntry>>, OciError> {
        let mut request = Request::new(
            "GetJobLogs",
            Method::GET,
            self.url(&["jobs", job_id, "logs"]),
        );
        for entry_type in &query.types {
            request = request.query("type", entry_type);
        }
        let request = request
            .query_opt(
                "levelGreaterThanOrEqualTo",
                query.level_greater_than_or_equal_to.as_ref(),
            )
            .query_opt("sortOrder", query.sort_order.as_ref())
            .query_opt("limit", query.limit)
            .query_opt("page", query.page.as_deref())
            .query_opt(
                "timestampGreaterThanOrEqualTo",
                query.timestamp_greater_than_or_equal_to.as_deref(),
            )
            .query_opt(
                "timestampLessThanOrEqualTo",
                query.timestamp_less_than_or_equal_to.as_deref(),
            );
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// GetJobLogs, every page.
    pub async fn get_all_job_logs(
        &self,
        job_id: &str,
        query: &JobLogsRequest,
    ) -> Result<Vec<LogEntry>, OciError> {
        let mut query = query.clone();
        collect_pages("GetJobLogs", |page| {
            query.page = page;
            let query = query.clone();
            async move { self.get_job_logs(job_id, &query).await }
        })
        .await
    }

    /// GetJobLogsContent: the whole log as plain text.
    pub async fn get_job_logs_content(&self, job_id: &str) -> Result<Reply<String>, OciError> {
        let request = Request::new(
            "GetJobLogsContent",
            Method::GET,
            self.url(&["jobs", job_id, "logs", "content"]),
        )
        .header(ACCEPT, "text/plain; charset=utf-8");
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.text(), &response))
    }

    /// GetJobTfState: the state file as the job left it.
    pub async fn get_job_tf_state(&self, job_id: &str) -> Result<Reply<Bytes>, OciError> {
        self.get_bytes("GetJobTfState", &["jobs", job_id, "tfState"], None)
            .await
    }

    /// GetJobTfConfig: the configuration a job ran, as a zip.
    pub async fn get_job_tf_config(&self, job_id: &str) -> Result<Reply<Bytes>, OciError> {
        self.get_bytes("GetJobTfConfig", &["jobs", job_id, "tfConfig"], None)
            .await
    }

    /// GetJobTfPlan: a plan job's plan, binary or JSON (`terraform show -json`).
    pub async fn get_job_tf_plan(
        &self,
        job_id: &str,
        format: Option<TfPlanFormat>,
    ) -> Result<Reply<Bytes>, OciError> {
        self.get_bytes("GetJobTfPlan", &["jobs", job_id, "tfPlan"], format)
            .await
    }

    async fn get_bytes(
        &self,
        operation: &'static str,
        segments: &[&str],
        plan_format: Option<TfPlanFormat>,
    ) -> Result<Reply<Bytes>, OciError> {
        let request = Request::new(operation, Method::GET, self.url(segments))
            .header(ACCEPT, "application/octet-stream")
            .query_opt("tfPlanFormat", plan_format.as_ref());
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.body.clone(), &response))
    }
}

/// Follows `opc-next-page` until the last page.
async fn collect_pages<T, F, Fut>(operation: &'static str, mut fetch: F) -> Result<Vec<T>, OciError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Reply<Vec<T>>, OciError>>,
{
    let mut items = Vec::new();
    let mut page: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let reply = fetch(page.clone()).await?;
        let next = reply.next_page.clone();
        items.extend(reply.value);
        match next {
            // A server that hands back the same token would loop forever.
            Some(next) if page.as_deref() != Some(next.as_str()) => page = Some(next),
            _ => return Ok(items),
        }
    }
    Err(OciError::InvalidRequest {
        operation,
        reason: format!("the list did not end after {MAX_PAGES} pages"),
    })
}

/// Reads a job's log incrementally: each [`JobLogTail::next`] returns the entries written since
/// the previous call, in order, without repeats.
///
/// It asks for entries at or after the last timestamp seen (`timestampGreaterThanOrEqualTo`,
/// ascending) and skips the ones already returned at that timestamp, since several entries can
/// share one.
#[derive(Clone, Debug)]
pub struct JobLogTail {
    job_id: String,
    last_timestamp: Option<String>,
    seen_at_last: usize,
    page_size: Option<u32>,
}

impl JobLogTail {
    pub fn new(job_id: impl Into<String>) -> Self {
        Self {
            job_id: job_id.into(),
            last_timestamp: None,
            seen_at_last: 0,
            page_size: None,
        }
    }

    /// Entries per page requested (the service's default when unset).
    pub fn page_size(mut self, limit: u32) -> Self {
        self.page_size = Some(limit);
        self
    }

    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The timestamp of the newest entry returned so far.
    pub fn last_timestamp(&self) -> Option<&str> {
        self.last_timestamp.as_deref()
    }

    /// The entries written since the last call.
    pub async fn next(&mut self, rm: &ResourceManagerClient) -> Result<Vec<LogEntry>, OciError> {
        let query = JobLogsRequest {
            sort_order: Some(SortOrder::Asc),
            limit: self.page_size,
            timestamp_greater_than_or_equal_to: self.last_timestamp.clone(),
            ..JobLogsRequest::default()
        };
        let entries = rm.get_all_job_logs(&self.job_id, &query).await?;
        Ok(self.absorb(entries))
    }

    /// Drops what was already returned and moves the cursor past the rest.
    fn absorb(&mut self, entries: Vec<LogEntry>) -> Vec<LogEntry> {
        let last = self.last_timestamp.as_deref().map(timestamp_key);
        let mut skip = self.seen_at_last;
        let mut fresh = Vec::new();
        for entry in entries {
            let key = timestamp_key(&entry.timestamp);
            if let Some(last) = &last {
                if key < *last {
                    continue;
                }
                if key == *last && skip > 0 {
                    skip -= 1;
                    continue;
                }
            }
            fresh.push(entry);
        }
        if let Some(newest) = fresh.last() {
            let newest_key = timestamp_key(&newest.timestamp);
            let at_newest = fresh
                .iter()
                .rev()
                .take_while(|e| timestamp_key(&e.timestamp) == newest_key)
                .count();
            if last.as_ref() == Some(&newest_key) {
                self.seen_at_last += at_newest;
            } else {
                self.seen_at_last = at_newest;
                self.last_timestamp = Some(newest.timestamp.clone());
            }
        }
        fresh
    }
}

/// Orders timestamps by time when they parse, else by text (equal texts still compare equal).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimestampKey {
    Time(SystemTime),
    Text(String),
}

fn timestamp_key(text: &str) -> TimestampKey {
    parse_rfc3339(text).map_or_else(|| TimestampKey::Text(text.to_owned()), TimestampKey::Time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts: &str, msg: &str) -> LogEntry {
        LogEntry {
            timestamp: ts.into(),
            message: msg.into(),
            ..LogEntry::default()
        }
    }

    #[test]
    fn tail_skips_entries_already_returned_at_the_same_timestamp() {
        let mut tail = JobLogTail::new("job");
        let first = tail.absorb(vec![
            entry("2024-01-01T00:00:01.000Z", "a"),
            entry("2024-01-01T00:00:02.000Z", "b"),
            entry("2024-01-01T00:00:02.000Z", "c"),
        ]);
        assert_eq!(first.len(), 3);
        assert_eq!(tail.last_timestamp(), Some("2024-01-01T00:00:02.000Z"));
        // The next read starts at 00:02 again: b and c come back, plus a new d at 00:02.
        let second = tail.absorb(vec![
            entry("2024-01-01T00:00:02.000Z", "b"),
            entry("2024-01-01T00:00:02.000Z", "c"),
            entry("2024-01-01T00:00:02.000Z", "d"),
        ]);
        assert_eq!(
            second
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
            ["d"]
        );
        let third = tail.absorb(vec![
            entry("2024-01-01T00:00:02.000Z", "b"),
            entry("2024-01-01T00:00:02.000Z", "c"),
            entry("2024-01-01T00:00:02.000Z", "d"),
            entry("2024-01-01T00:00:03Z", "e"),
        ]);
        assert_eq!(
            third.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
            ["e"]
        );
        assert!(
            tail.absorb(vec![entry("2024-01-01T00:00:03.000Z", "e")])
                .is_empty()
        );
    }
}
