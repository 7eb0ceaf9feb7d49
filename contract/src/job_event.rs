//! Structured events about the Resource Manager jobs the provider follows: one definition of the
//! event names, their field names and their meaning, the one call that writes them to the
//! provider's log ([`JobEvent::emit`]) and the one that reads them back
//! ([`JobEvent::from_fields`], used by the parsers of [`crate::log_line`]).
//!
//! Every event is a log event with an `event` field naming it, `job_id`, and `operation` and
//! `stack_id` where known, plus the named fields of its kind. The event's message is for people
//! and is no part of the contract: the provider may reword it freely.
//!
//! The provider emits, for each job it follows: `job_started`; `job_state_changed` when a
//! status read shows a new lifecycle state; `job_log` for every line of the job's log;
//! `job_cancelling` when it cancels the job (interrupted, timed out); then, once following ends,
//! one `job_error` per Terraform error of the log and a closing `job_finished` with the final
//! state, the job's failure code and message, and the resource counts of its log.

use crate::log_line;
use crate::tf_output::{PlanSummary, TerraformError};

/// Event names: the values of the [`field::EVENT`] field.
pub mod name {
    pub const JOB_STARTED: &str = "job_started";
    pub const JOB_STATE_CHANGED: &str = "job_state_changed";
    pub const JOB_LOG: &str = "job_log";
    pub const JOB_ERROR: &str = "job_error";
    pub const JOB_CANCELLING: &str = "job_cancelling";
    pub const JOB_FINISHED: &str = "job_finished";
}

/// Field names. The provider's log uses `event` for contract events only.
pub mod field {
    /// Which event this is (see [`super::name`]).
    pub const EVENT: &str = "event";
    /// The job's OCID; on every event.
    pub const JOB_ID: &str = "job_id";
    /// `PLAN`, `APPLY`, `DESTROY`...; on every event when known.
    pub const OPERATION: &str = "operation";
    /// The stack's OCID; on every event when known.
    pub const STACK_ID: &str = "stack_id";
    /// The job's lifecycle state (`ACCEPTED`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED`...).
    pub const STATE: &str = "state";
    /// `job_log`: one line of the job's log.
    pub const TEXT: &str = "text";
    /// `job_error`: the parts of a [`crate::tf_output::TerraformError`].
    pub const ERROR_SUMMARY: &str = "error_summary";
    pub const ERROR_DETAIL: &str = "error_detail";
    pub const ERROR_LOCATION: &str = "error_location";
    pub const ERROR_FILE: &str = "error_file";
    pub const ERROR_LINE: &str = "error_line";
    /// `job_cancelling`: why (`interrupted`, `timed_out`).
    pub const REASON: &str = "reason";
    /// `job_finished`: how following ended (see [`super::FollowEnd`]).
    pub const ENDING: &str = "ending";
    /// `job_finished`: the job's `failureDetails`, when it has them.
    pub const FAILURE_CODE: &str = "failure_code";
    pub const FAILURE_MESSAGE: &str = "failure_message";
    /// `job_finished`: the resource counts the job's log printed, when it printed them.
    pub const ADD: &str = "add";
    pub const CHANGE: &str = "change";
    pub const DESTROY: &str = "destroy";

    /// Every field, in the order [`super::JobEvent::fields`] lists them.
    pub const ALL: &[&str] = &[
        EVENT,
        JOB_ID,
        OPERATION,
        STACK_ID,
        STATE,
        TEXT,
        ERROR_SUMMARY,
        ERROR_DETAIL,
        ERROR_LOCATION,
        ERROR_FILE,
        ERROR_LINE,
        REASON,
        ENDING,
        FAILURE_CODE,
        FAILURE_MESSAGE,
        ADD,
        CHANGE,
        DESTROY,
    ];
}

/// How following a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowEnd {
    /// The job reached a final state by itself.
    Finished,
    /// Terraform asked the provider to stop; the job was cancelled.
    Interrupted,
    /// The timeout passed; the job was cancelled.
    TimedOut,
    /// The job's status could not be read any more; it may still be running.
    Unreachable,
}

impl FollowEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowEnd::Finished => "finished",
            FollowEnd::Interrupted => "interrupted",
            FollowEnd::TimedOut => "timed_out",
            FollowEnd::Unreachable => "unreachable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            FollowEnd::Finished,
            FollowEnd::Interrupted,
            FollowEnd::TimedOut,
            FollowEnd::Unreachable,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

/// A job's `failureDetails`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

/// What happened to a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEventKind {
    /// The job was created; `state` is the one CreateJob returned.
    Started { state: String },
    /// A status read showed a new lifecycle state.
    StateChanged { state: String },
    /// One line of the job's log.
    Log { text: String },
    /// A Terraform error of the job's log.
    Error(TerraformError),
    /// The provider is cancelling the job (`reason`: interrupted or timed out).
    Cancelling { reason: FollowEnd },
    /// Following ended: the job's last known state, how following ended, and what its log said.
    Finished {
        state: String,
        ending: FollowEnd,
        failure: Option<Failure>,
        summary: Option<PlanSummary>,
    },
}

impl JobEventKind {
    /// The event's name (the value of its `event` field).
    pub fn name(&self) -> &'static str {
        match self {
            JobEventKind::Started { .. } => name::JOB_STARTED,
            JobEventKind::StateChanged { .. } => name::JOB_STATE_CHANGED,
            JobEventKind::Log { .. } => name::JOB_LOG,
            JobEventKind::Error(_) => name::JOB_ERROR,
            JobEventKind::Cancelling { .. } => name::JOB_CANCELLING,
            JobEventKind::Finished { .. } => name::JOB_FINISHED,
        }
    }
}

/// One event about one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobEvent {
    pub job_id: String,
    pub operation: Option<String>,
    pub stack_id: Option<String>,
    pub kind: JobEventKind,
}

impl JobEvent {
    /// The event's fields as (name, value), in the order of [`field::ALL`]; absent values are
    /// left out. Values are plain text, not yet encoded for the log (see [`Self::emit`]).
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (field::EVENT, self.kind.name().to_owned()),
            (field::JOB_ID, self.job_id.clone()),
        ];
        let mut opt = |name: &'static str, value: Option<&str>| {
            if let Some(v) = value {
                out.push((name, v.to_owned()));
            }
        };
        opt(field::OPERATION, self.operation.as_deref());
        opt(field::STACK_ID, self.stack_id.as_deref());
        match &self.kind {
            JobEventKind::Started { state } | JobEventKind::StateChanged { state } => {
                opt(field::STATE, Some(state));
            }
            JobEventKind::Log { text } => opt(field::TEXT, Some(text)),
            JobEventKind::Error(e) => {
                opt(field::ERROR_SUMMARY, Some(&e.summary));
                opt(field::ERROR_DETAIL, Some(&e.detail));
                opt(field::ERROR_LOCATION, e.location.as_deref());
                opt(field::ERROR_FILE, e.file.as_deref());
                opt(field::ERROR_LINE, e.line.map(|n| n.to_string()).as_deref());
            }
            JobEventKind::Cancelling { reason } => opt(field::REASON, Some(reason.as_str())),
            JobEventKind::Finished {
                state,
                ending,
                failure,
                summary,
            } => {
                opt(field::STATE, Some(state));
                opt(field::ENDING, Some(ending.as_str()));
                opt(
                    field::FAILURE_CODE,
                    failure.as_ref().map(|f| f.code.as_str()),
                );
                opt(
                    field::FAILURE_MESSAGE,
                    failure.as_ref().map(|f| f.message.as_str()),
                );
                if let Some(s) = summary {
                    opt(field::ADD, Some(&s.add.to_string()));
                    opt(field::CHANGE, Some(&s.change.to_string()));
                    opt(field::DESTROY, Some(&s.destroy.to_string()));
                }
            }
        }
        out
    }

    /// Reads an event from its (decoded) fields; `None` unless `event` names a known event and
    /// the fields that event requires are there. Fields of other events are ignored.
    pub fn from_fields(get: impl Fn(&str) -> Option<String>) -> Option<JobEvent> {
        let event = get(field::EVENT)?;
        let number = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok());
        let kind = match event.as_str() {
            name::JOB_STARTED => JobEventKind::Started {
                state: get(field::STATE)?,
            },
            name::JOB_STATE_CHANGED => JobEventKind::StateChanged {
                state: get(field::STATE)?,
            },
            name::JOB_LOG => JobEventKind::Log {
                text: get(field::TEXT)?,
            },
            name::JOB_ERROR => JobEventKind::Error(TerraformError {
                summary: get(field::ERROR_SUMMARY)?,
                detail: get(field::ERROR_DETAIL).unwrap_or_default(),
                location: get(field::ERROR_LOCATION),
                file: get(field::ERROR_FILE),
                line: get(field::ERROR_LINE).and_then(|n| n.parse().ok()),
            }),
            name::JOB_CANCELLING => JobEventKind::Cancelling {
                reason: FollowEnd::parse(&get(field::REASON)?)?,
            },
            name::JOB_FINISHED => JobEventKind::Finished {
                state: get(field::STATE)?,
                ending: FollowEnd::parse(&get(field::ENDING)?)?,
                failure: get(field::FAILURE_CODE).map(|code| Failure {
                    code,
                    message: get(field::FAILURE_MESSAGE).unwrap_or_default(),
                }),
                summary: match (
                    number(field::ADD),
                    number(field::CHANGE),
                    number(field::DESTROY),
                ) {
                    (Some(add), Some(change), Some(destroy)) => Some(PlanSummary {
                        add,
                        change,
                        destroy,
                    }),
                    _ => None,
                },
            },
            _ => return None,
        };
        Some(JobEvent {
            job_id: get(field::JOB_ID).filter(|id| !id.is_empty())?,
            operation: get(field::OPERATION),
            stack_id: get(field::STACK_ID),
            kind,
        })
    }

    /// Writes the event to the log as one `tracing` event at INFO: the named fields, each
    /// value encoded for the trip through Terraform's log (see [`log_line::encode`]), and
    /// `message`, which is for people only.
    pub fn emit(&self, message: &str) {
        let fields = self.fields();
        let value = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| log_line::encode(v))
        };
        // One binding per field of `field::ALL`: a `tracing` call site names its fields at
        // compile time. The contract's tests check that nothing listed is left out here.
        let event = value(field::EVENT);
        let job_id = value(field::JOB_ID);
        let operation = value(field::OPERATION);
        let stack_id = value(field::STACK_ID);
        let state = value(field::STATE);
        let text = value(field::TEXT);
        let error_summary = value(field::ERROR_SUMMARY);
        let error_detail = value(field::ERROR_DETAIL);
        let error_location = value(field::ERROR_LOCATION);
        let error_file = value(field::ERROR_FILE);
        let error_line = value(field::ERROR_LINE);
        let reason = value(field::REASON);
        let ending = value(field::ENDING);
        let failure_code = value(field::FAILURE_CODE);
        let failure_message = value(field::FAILURE_MESSAGE);
        let add = value(field::ADD);
        let change = value(field::CHANGE);
        let destroy = value(field::DESTROY);
        tracing::info!(
            { field::EVENT } = event.as_deref(),
            { field::JOB_ID } = job_id.as_deref(),
            { field::OPERATION } = operation.as_deref(),
            { field::STACK_ID } = stack_id.as_deref(),
            { field::STATE } = state.as_deref(),
            { field::TEXT } = text.as_deref(),
            { field::ERROR_SUMMARY } = error_summary.as_deref(),
            { field::ERROR_DETAIL } = error_detail.as_deref(),
            { field::ERROR_LOCATION } = error_location.as_deref(),
            { field::ERROR_FILE } = error_file.as_deref(),
            { field::ERROR_LINE } = error_line.as_deref(),
            { field::REASON } = reason.as_deref(),
            { field::ENDING } = ending.as_deref(),
            { field::FAILURE_CODE } = failure_code.as_deref(),
            { field::FAILURE_MESSAGE } = failure_message.as_deref(),
            { field::ADD } = add.as_deref(),
            { field::CHANGE } = change.as_deref(),
            { field::DESTROY } = destroy.as_deref(),
            "{message}"
        );
    }
}
