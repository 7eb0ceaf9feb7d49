//! Following one Resource Manager job to its end: status polls on a [`Backoff`], the job's log
//! read incrementally and written to the provider's log as it arrives, an early status poll
//! when the log announces the end, and cancellation of the job on Terraform's Stop or at the
//! timeout. What the log says (plan summary, Terraform errors) is read once, when following
//! ends.
//!
//! Everything a reader of the provider's log may rely on goes out as the contract's job events
//! (`galley_contract::job_event`): started, state changes, each log line, cancelling, the
//! Terraform errors and the end. Their messages are for people; the sidecar reads the fields.
//!
//! The log is read every second: Terraform prints its closing line (`Apply complete!`, an
//! `Error:`...) just before a job ends, so the end is usually seen within about half a second,
//! while status polls stay on the slow schedule (see `benches/session.rs` for the figures).
//! The calls go through [`JobApi`] so a benchmark can drive the follower with simulated jobs on
//! a paused clock.

use std::time::Duration;

use async_trait::async_trait;
use galley_contract::job_event::{Failure, FollowEnd, JobEvent, JobEventKind};
use galley_contract::tf_output::{self, PlanSummary, TerraformError};
use galley_oci::client::{OciError, RetryPolicy};
use galley_oci::model::Reply;
use galley_oci::resource_manager::{Job, JobLogTail, LogEntry, ResourceManagerClient};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::poll::{Backoff, Schedule};
use super::tf_log::LineTail;

/// The Resource Manager calls the follower makes.
#[async_trait]
pub trait JobApi: Send + Sync {
    async fn get_job(&self, job_id: &str) -> Result<Reply<Job>, OciError>;
    /// The log entries written since the last call with this `tail`.
    async fn next_logs(&self, tail: &mut JobLogTail) -> Result<Vec<LogEntry>, OciError>;
    /// Asks for the job to be cancelled; a job that already ended is not an error.
    async fn cancel_job(&self, job_id: &str) -> Result<(), OciError>;
}

#[async_trait]
impl JobApi for ResourceManagerClient {
    async fn get_job(&self, job_id: &str) -> Result<Reply<Job>, OciError> {
        ResourceManagerClient::get_job(self, job_id).await
    }

    async fn next_logs(&self, tail: &mut JobLogTail) -> Result<Vec<LogEntry>, OciError> {
        tail.next(self).await
    }

    async fn cancel_job(&self, job_id: &str) -> Result<(), OciError> {
        // A job that ended meanwhile answers 409 IncorrectState, which the default policy
        // retries for minutes: here it only means there is nothing left to cancel.
        let quick = self.with_client(self.client().with_retry_policy(RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(15),
            ..RetryPolicy::default()
        }));
        match ResourceManagerClient::cancel_job(&quick, job_id, false).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_conflict() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Cadences and limits of following a job. [`FollowPolicy::default`] holds the defaults.
#[derive(Clone, Debug)]
pub struct FollowPolicy {
    /// GetJob schedule.
    pub status: Backoff,
    /// Interval between log reads.
    pub logs_every: Duration,
    /// How many times a log line announcing the end may restart the status schedule (each
    /// restart costs a few quick polls if the end was not near after all).
    pub max_end_resets: u32,
    /// How long to wait for a cancelled job to reach CANCELED.
    pub cancel_wait: Duration,
    /// Status poll interval while waiting for the cancellation.
    pub cancel_poll: Duration,
    /// Lines kept for parsing (plan summary, errors) and messages.
    pub keep_lines: usize,
}

impl Default for FollowPolicy {
    fn default() -> Self {
        Self {
            status: Backoff::STATUS,
            logs_every: Duration::from_secs(1),
            max_end_resets: 2,
            cancel_wait: Duration::from_secs(30),
            cancel_poll: Duration::from_millis(500),
            keep_lines: 400,
        }
    }
}

/// How following ended.
#[derive(Debug)]
pub enum Ending {
    /// The job reached SUCCEEDED, FAILED or CANCELED.
    Finished,
    /// Terraform's Stop arrived; the job was cancelled.
    Interrupted,
    /// The timeout passed; the job was cancelled.
    TimedOut(Duration),
    /// The job's status could not be read (after the transport's retries).
    Unreachable(OciError),
}

impl Ending {
    fn contract(&self) -> FollowEnd {
        match self {
            Ending::Finished => FollowEnd::Finished,
            Ending::Interrupted => FollowEnd::Interrupted,
            Ending::TimedOut(_) => FollowEnd::TimedOut,
            Ending::Unreachable(_) => FollowEnd::Unreachable,
        }
    }
}

/// Calls made while following, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FollowStats {
    pub status_calls: u32,
    pub log_calls: u32,
}

/// What following a job saw.
#[derive(Debug)]
pub struct Followed {
    /// The job as last read (its final state when `ending` is `Finished`).
    pub job: Job,
    /// `opc-request-id` of the last status read.
    pub opc_request_id: Option<String>,
    pub ending: Ending,
    /// The last [`FollowPolicy::keep_lines`] log lines.
    pub lines: LineTail,
    /// The resource counts those lines print (a plan's, an apply's or a destroy's), if any.
    pub summary: Option<PlanSummary>,
    /// The Terraform errors in those lines.
    pub errors: Vec<TerraformError>,
    pub stats: FollowStats,
    /// When the follower saw the job in a final state.
    pub seen_finished_at: Option<Instant>,
}

impl Followed {
    pub fn succeeded(&self) -> bool {
        matches!(self.ending, Ending::Finished)
            && self.job.lifecycle_state
                == galley_oci::resource_manager::JobLifecycleState::Succeeded
    }
}

enum Step<T> {
    Done(T),
    Stopped,
}

async fn unless_stopped<T>(stop: &CancellationToken, fut: impl Future<Output = T>) -> Step<T> {
    tokio::select! {
        biased;
        _ = stop.cancelled() => Step::Stopped,
        v = fut => Step::Done(v),
    }
}

/// Follows `job` (as CreateJob returned it) until it ends, `timeout` passes or `stop` fires.
/// The two last cases cancel the job and wait a little for CANCELED. Never returns an error:
/// what happened is in [`Followed::ending`].
pub async fn follow(
    api: &dyn JobApi,
    job: Job,
    policy: &FollowPolicy,
    timeout: Duration,
    stop: &CancellationToken,
) -> Followed {
    let f = Follower {
        api,
        policy,
        tail: JobLogTail::new(job.id.clone()),
        out: Followed {
            job,
            opc_request_id: None,
            ending: Ending::Finished,
            lines: LineTail::new(policy.keep_lines),
            summary: None,
            errors: Vec::new(),
            stats: FollowStats::default(),
            seen_finished_at: None,
        },
    };
    f.event(JobEventKind::Started {
        state: f.out.job.lifecycle_state.to_string(),
    })
    .emit("job started");
    let mut out = until_the_end(f, timeout, stop).await;
    out.summary = tf_output::plan_summary(out.lines.lines());
    out.errors = tf_output::errors(out.lines.lines());
    let job = &out.job;
    let event = |kind| job_event(job, kind);
    for e in &out.errors {
        event(JobEventKind::Error(e.clone())).emit("Terraform error in the job's log");
    }
    event(JobEventKind::Finished {
        state: job.lifecycle_state.to_string(),
        ending: out.ending.contract(),
        failure: job.failure_details.as_ref().map(|fd| Failure {
            code: fd.code.to_string(),
            message: fd.message.clone(),
        }),
        summary: out.summary,
    })
    .emit("job followed");
    tracing::debug!(job = %job.id, stats = ?out.stats, "calls made following the job");
    out
}

/// A contract event about `job`.
fn job_event(job: &Job, kind: JobEventKind) -> JobEvent {
    let known = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    JobEvent {
        job_id: job.id.clone(),
        operation: known(job.operation.as_str()),
        stack_id: known(&job.stack_id),
        kind,
    }
}

/// The follow loop proper: polls and log reads until the job ends, the timeout passes or
/// `stop` fires (the two last cancel the job); what happened is in the returned `ending`.
async fn until_the_end(
    mut f: Follower<'_>,
    timeout: Duration,
    stop: &CancellationToken,
) -> Followed {
    let (api, policy) = (f.api, f.policy);
    let started = Instant::now();
    let deadline = started + timeout;
    let mut status = Schedule::new(policy.status);
    let mut next_status = started + status.next_delay();
    let mut next_logs = started + policy.logs_every;
    let mut resets = 0;

    loop {
        let wake = next_status.min(next_logs).min(deadline);
        if let Step::Stopped = unless_stopped(stop, tokio::time::sleep_until(wake)).await {
            return f.cancel(Ending::Interrupted).await;
        }
        let now = Instant::now();
        if now >= deadline {
            return f.cancel(Ending::TimedOut(timeout)).await;
        }
        if now >= next_logs {
            let announced = match unless_stopped(stop, f.read_logs()).await {
                Step::Done(announced) => announced,
                Step::Stopped => return f.cancel(Ending::Interrupted).await,
            };
            next_logs = Instant::now() + policy.logs_every;
            if announced && resets < policy.max_end_resets {
                resets += 1;
                status.reset();
                next_status = now;
            }
        }
        if Instant::now() >= next_status {
            let reply = match unless_stopped(stop, api.get_job(&f.out.job.id)).await {
                Step::Done(r) => r,
                Step::Stopped => return f.cancel(Ending::Interrupted).await,
            };
            f.out.stats.status_calls += 1;
            match reply {
                Ok(reply) => {
                    f.out.opc_request_id = reply.opc_request_id.clone();
                    f.observe(reply.value);
                    if f.out.job.lifecycle_state.is_terminal() {
                        f.out.seen_finished_at = Some(Instant::now());
                        // The last lines were written before the state changed.
                        f.read_logs().await;
                        return f.out;
                    }
                }
                Err(e) => {
                    f.out.ending = Ending::Unreachable(e);
                    return f.out;
                }
            }
            next_status = Instant::now() + status.next_delay();
        }
    }
}

struct Follower<'a> {
    api: &'a dyn JobApi,
    policy: &'a FollowPolicy,
    tail: JobLogTail,
    out: Followed,
}

impl Follower<'_> {
    fn event(&self, kind: JobEventKind) -> JobEvent {
        job_event(&self.out.job, kind)
    }

    /// Takes the job as a status read returned it; a new lifecycle state is an event.
    fn observe(&mut self, job: Job) {
        let changed = job.lifecycle_state != self.out.job.lifecycle_state;
        self.out.job = job;
        if changed {
            self.event(JobEventKind::StateChanged {
                state: self.out.job.lifecycle_state.to_string(),
            })
            .emit("job state changed");
        }
    }

    /// Reads the new log lines into the provider's log; true when one announces the end.
    async fn read_logs(&mut self) -> bool {
        self.out.stats.log_calls += 1;
        match self.api.next_logs(&mut self.tail).await {
            Ok(entries) => {
                let mut announced = false;
                for entry in entries {
                    self.event(JobEventKind::Log {
                        text: entry.message.clone(),
                    })
                    .emit("job log");
                    announced |= tf_output::announces_end(&entry.message);
                    self.out.lines.push(&entry.message);
                }
                announced
            }
            Err(e) => {
                // The log is for people; a failed read must not end the wait.
                tracing::warn!(job = %self.out.job.id, error = %e, "failed to read the job log");
                false
            }
        }
    }

    /// Cancels the job and waits (briefly) for it to reach a final state.
    async fn cancel(mut self, ending: Ending) -> Followed {
        let id = self.out.job.id.clone();
        self.event(JobEventKind::Cancelling {
            reason: ending.contract(),
        })
        .emit("cancelling the Resource Manager job");
        if let Err(e) = self.api.cancel_job(&id).await {
            tracing::warn!(job = %id, error = %e, "failed to cancel the job");
        }
        let until = Instant::now() + self.policy.cancel_wait;
        loop {
            match self.api.get_job(&id).await {
                Ok(reply) => {
                    self.out.stats.status_calls += 1;
                    self.out.opc_request_id = reply.opc_request_id.clone();
                    self.observe(reply.value);
                    if self.out.job.lifecycle_state.is_terminal() {
                        self.out.seen_finished_at = Some(Instant::now());
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "failed to read the cancelled job");
                    break;
                }
            }
            if Instant::now() >= until {
                break;
            }
            tokio::time::sleep(self.policy.cancel_poll).await;
        }
        self.read_logs().await;
        self.out.ending = ending;
        self.out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use galley_oci::resource_manager::JobLifecycleState;

    use super::*;

    /// A job that runs `duration` on the paused clock, logs a line a second and a closing line
    /// just before it ends.
    struct SimJob {
        start: Instant,
        duration: Duration,
        /// Ends FAILED, its log closing with a Terraform error instead of `Apply complete!`.
        fails: bool,
        cancelled_at: Mutex<Option<Instant>>,
        delivered: Mutex<usize>,
        status_calls: Mutex<u32>,
    }

    impl SimJob {
        fn new(duration: Duration) -> Self {
            Self {
                start: Instant::now(),
                duration,
                fails: false,
                cancelled_at: Mutex::new(None),
                delivered: Mutex::new(0),
                status_calls: Mutex::new(0),
            }
        }

        fn end(&self) -> Instant {
            let natural = self.start + self.duration;
            match *self.cancelled_at.lock().unwrap() {
                Some(c) => natural.min(c + Duration::from_secs(2)),
                None => natural,
            }
        }

        fn lines_until(&self, now: Instant) -> Vec<String> {
            let end = self.end();
            let mut lines = Vec::new();
            let mut t = self.start + Duration::from_secs(1);
            while t < end.min(now) {
                lines.push("terraform_data.x: Still creating...".to_owned());
                t += Duration::from_secs(1);
            }
            if now >= end - Duration::from_millis(20) {
                if self.fails {
                    lines.extend(FAILURE_LOG.iter().map(|l| l.to_string()));
                } else {
                    lines
                        .push("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.".into());
                }
            }
            lines
        }

        fn job(&self) -> Job {
            let state = if Instant::now() >= self.end() {
                if self.cancelled_at.lock().unwrap().is_some() {
                    JobLifecycleState::Canceled
                } else if self.fails {
                    JobLifecycleState::Failed
                } else {
                    JobLifecycleState::Succeeded
                }
            } else {
                JobLifecycleState::InProgress
            };
            let failure_details = (state == JobLifecycleState::Failed).then(|| {
                galley_oci::resource_manager::FailureDetails {
                    code: "TERRAFORM_EXECUTION_ERROR".into(),
                    message: "Error: Unsupported argument".into(),
                }
            });
            Job {
                lifecycle_state: state,
                failure_details,
                ..initial()
            }
        }
    }

    #[async_trait]
    impl JobApi for SimJob {
        async fn get_job(&self, _id: &str) -> Result<Reply<Job>, OciError> {
            *self.status_calls.lock().unwrap() += 1;
            Ok(Reply {
                value: self.job(),
                etag: None,
                opc_request_id: Some("req".into()),
                next_page: None,
            })
        }

        async fn next_logs(&self, _tail: &mut JobLogTail) -> Result<Vec<LogEntry>, OciError> {
            let all = self.lines_until(Instant::now());
            let mut delivered = self.delivered.lock().unwrap();
            let fresh = all[*delivered..]
                .iter()
                .map(|m| LogEntry {
                    message: m.clone(),
                    ..LogEntry::default()
                })
                .collect::<Vec<_>>();
            *delivered = all.len();
            Ok(fresh)
        }

        async fn cancel_job(&self, _id: &str) -> Result<(), OciError> {
            self.cancelled_at
                .lock()
                .unwrap()
                .get_or_insert(Instant::now());
            Ok(())
        }
    }

    const FAILURE_LOG: &[&str] = &[
        "╷",
        "│ Error: Unsupported argument",
        "│ ",
        "│   on main.tf line 4, in resource \"terraform_data\" \"x\":",
        "│    4:   bogus = \"100% \\\\ sure\"",
        "│ ",
        "│ An argument named \"bogus\" is not expected here.",
        "╵",
        "Job failed.",
    ];

    fn initial() -> Job {
        Job {
            id: "ocid1.ormjob.oc1..sim".into(),
            stack_id: "ocid1.ormstack.oc1..sim".into(),
            operation: galley_oci::resource_manager::JobOperation::Apply,
            lifecycle_state: JobLifecycleState::Accepted,
            ..Job::default()
        }
    }

    /// Follows `sim` and returns what following wrote to the provider's log, each line as the
    /// provider renders it on stderr.
    async fn follow_logged(
        sim: &SimJob,
        timeout: Duration,
        stop: &CancellationToken,
    ) -> (Followed, Vec<String>) {
        use tracing_subscriber::layer::{Context, SubscriberExt};

        struct Capture(std::sync::Arc<Mutex<Vec<String>>>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
            fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
                let line = crate::logging::render("provider.galley", event);
                self.0.lock().unwrap().push(line);
            }
        }
        let lines = std::sync::Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(lines.clone()));
        // The paused-clock runtime is single-threaded: the follower logs on this thread.
        let _guard = tracing::subscriber::set_default(subscriber);
        let f = follow(sim, initial(), &FollowPolicy::default(), timeout, stop).await;
        let lines = lines.lock().unwrap().clone();
        (f, lines)
    }

    /// The contract events among `lines`, read with the contract's parser.
    fn events(lines: &[String]) -> Vec<JobEvent> {
        lines
            .iter()
            .filter_map(|l| galley_contract::log_line::parse_plugin_line(l))
            .collect()
    }

    fn states(events: &[JobEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                JobEventKind::Started { state } | JobEventKind::StateChanged { state } => {
                    Some(state.clone())
                }
                _ => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_followed_job_is_told_in_contract_events() {
        let sim = SimJob::new(Duration::from_secs(10));
        let (f, lines) =
            follow_logged(&sim, Duration::from_secs(600), &CancellationToken::new()).await;
        assert!(f.succeeded(), "{:?}", f.ending);
        let events = events(&lines);
        assert!(events.iter().all(|e| e.job_id == "ocid1.ormjob.oc1..sim"
            && e.operation.as_deref() == Some("APPLY")
            && e.stack_id.as_deref() == Some("ocid1.ormstack.oc1..sim")));
        assert!(
            matches!(events[0].kind, JobEventKind::Started { .. }),
            "{events:?}"
        );
        assert_eq!(states(&events), ["ACCEPTED", "IN_PROGRESS", "SUCCEEDED"]);
        let logged: Vec<&str> = events
            .iter()
            .filter_map(|e| match &e.kind {
                JobEventKind::Log { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(logged, f.lines.lines().collect::<Vec<_>>());
        assert_eq!(
            events.last().map(|e| &e.kind),
            Some(&JobEventKind::Finished {
                state: "SUCCEEDED".into(),
                ending: FollowEnd::Finished,
                failure: None,
                summary: Some(PlanSummary {
                    add: 1,
                    change: 0,
                    destroy: 0
                }),
            })
        );
        assert_eq!(
            f.summary,
            Some(PlanSummary {
                add: 1,
                change: 0,
                destroy: 0
            })
        );
        // Every line the follower logged about the job is a contract event.
        let other: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("ocid1.ormjob.oc1..sim"))
            .filter(|l| galley_contract::log_line::parse_plugin_line(l).is_none())
            .filter(|l| !l.contains("\"@level\":\"debug\""))
            .collect();
        assert!(other.is_empty(), "{other:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_job_ends_with_its_errors_and_failure_as_fields() {
        let sim = SimJob {
            fails: true,
            ..SimJob::new(Duration::from_secs(5))
        };
        let (f, lines) =
            follow_logged(&sim, Duration::from_secs(600), &CancellationToken::new()).await;
        assert!(!f.succeeded());
        let events = events(&lines);
        let n = events.len();
        let JobEventKind::Error(error) = &events[n - 2].kind else {
            panic!("{events:?}")
        };
        assert_eq!(error.summary, "Unsupported argument");
        assert_eq!(error.file.as_deref(), Some("main.tf"));
        assert_eq!(error.line, Some(4));
        assert_eq!(
            error.detail,
            "An argument named \"bogus\" is not expected here."
        );
        assert_eq!(f.errors, vec![error.clone()]);
        assert_eq!(
            events[n - 1].kind,
            JobEventKind::Finished {
                state: "FAILED".into(),
                ending: FollowEnd::Finished,
                failure: Some(Failure {
                    code: "TERRAFORM_EXECUTION_ERROR".into(),
                    message: "Error: Unsupported argument".into(),
                }),
                summary: None,
            }
        );
        // The log line with `"`, `\` and `%` comes through whole.
        assert!(events.iter().any(|e| e.kind
            == JobEventKind::Log {
                text: FAILURE_LOG[4].into()
            }));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_is_an_event_and_the_end_says_why() {
        let sim = SimJob::new(Duration::from_secs(300));
        let (f, lines) =
            follow_logged(&sim, Duration::from_secs(30), &CancellationToken::new()).await;
        assert!(matches!(f.ending, Ending::TimedOut(_)), "{:?}", f.ending);
        let events = events(&lines);
        assert!(events.iter().any(|e| e.kind
            == JobEventKind::Cancelling {
                reason: FollowEnd::TimedOut
            }));
        assert!(matches!(
            &events.last().unwrap().kind,
            JobEventKind::Finished { state, ending: FollowEnd::TimedOut, .. } if state == "CANCELED"
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_two_minute_job_is_seen_ending_quickly_with_few_status_calls() {
        let sim = SimJob::new(Duration::from_secs(120));
        let f = follow(
            &sim,
            initial(),
            &FollowPolicy::default(),
            Duration::from_secs(600),
            &CancellationToken::new(),
        )
        .await;
        assert!(f.succeeded(), "{:?}", f.ending);
        let delay = f.seen_finished_at.unwrap() - sim.end();
        assert!(
            delay < Duration::from_secs(1),
            "seen {delay:?} after the end"
        );
        assert!(f.stats.status_calls <= 24, "{:?}", f.stats);
        assert!(f.lines.text().contains("Apply complete!"));
    }

    #[tokio::test(start_paused = true)]
    async fn stop_cancels_the_job_and_waits_for_canceled() {
        let sim = SimJob::new(Duration::from_secs(300));
        let stop = CancellationToken::new();
        let trigger = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            trigger.cancel();
        });
        let f = follow(
            &sim,
            initial(),
            &FollowPolicy::default(),
            Duration::from_secs(600),
            &stop,
        )
        .await;
        assert!(matches!(f.ending, Ending::Interrupted), "{:?}", f.ending);
        assert_eq!(f.job.lifecycle_state, JobLifecycleState::Canceled);
        assert!(sim.cancelled_at.lock().unwrap().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_cancels_the_job() {
        let sim = SimJob::new(Duration::from_secs(300));
        let f = follow(
            &sim,
            initial(),
            &FollowPolicy::default(),
            Duration::from_secs(30),
            &CancellationToken::new(),
        )
        .await;
        assert!(matches!(f.ending, Ending::TimedOut(_)), "{:?}", f.ending);
        assert_eq!(f.job.lifecycle_state, JobLifecycleState::Canceled);
    }
}
