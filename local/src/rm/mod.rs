//! Resource Manager 20180917: stacks keep their zip and their Terraform state; jobs run the
//! real terraform CLI in a per-job work directory of the stack, one job at a time per stack.
//!
//! Data layout:
//! - `<data>/stacks/<stack>/stack.json`, `config.zip`, `tfstate.json`, `work/<job>/` (the
//!   unzipped configuration a job ran in).
//! - `<data>/jobs/<job>/job.json`, `logs.jsonl`, `config.zip` (the configuration as of the
//!   job's creation), `plan.tfplan` (plan jobs), `tfstate.json` (state after the job),
//!   `import.tfstate` (IMPORT_TF_STATE jobs), `custom-providers/` (the providers of the stack's
//!   `customTerraformProvider` bucket and the job's CLI configuration, see [`providers`]).
//! - `<data>/workrequests/<id>/`: drift detections (see [`workrequests`] and [`drift`]).
//!
//! Before its first terraform command a job chooses its Terraform binary by the stack's
//! `terraformVersion` ([`terraforms`]) and installs its custom providers ([`prepare`]).
//!
//! On open, jobs and work requests found ACCEPTED or IN_PROGRESS were interrupted by a
//! restart: they end FAILED with a message saying so (CANCELING jobs end CANCELED).

pub mod drift;
pub mod jobs;
pub mod logs;
pub mod model;
pub mod prepare;
pub mod providers;
pub mod runner;
pub mod saved_plan;
pub mod stacks;
pub mod terraforms;
pub mod workrequests;
pub mod zipdir;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::store::{self, StoreError};
use model::{FailureDetails, JobState, Stack, StoredJob};
use workrequests::StoredWorkRequest;

/// Message of jobs and commands that were running when the engine stopped.
pub const INTERRUPTED_MESSAGE: &str = "interrupted by a galley-local restart: the engine stopped while this job was running; run it again";

/// Cancellation handles of a job that has not finished.
#[derive(Clone, Default)]
pub struct JobControl {
    /// Graceful: SIGINT to terraform, SIGKILL after the grace period.
    pub cancel: CancellationToken,
    /// `isForced=true`: SIGKILL at once.
    pub force: CancellationToken,
}

/// Stacks and jobs, in memory and on disk.
pub struct Rm {
    root: PathBuf,
    stacks: RwLock<HashMap<String, Stack>>,
    jobs: RwLock<HashMap<String, StoredJob>>,
    work_requests: RwLock<HashMap<String, StoredWorkRequest>>,
    stack_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    controls: Mutex<HashMap<String, JobControl>>,
}

impl Rm {
    /// Loads stacks and jobs from `root` and fails the jobs a restart interrupted.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let rm = Self {
            root: root.to_owned(),
            stacks: RwLock::default(),
            jobs: RwLock::default(),
            work_requests: RwLock::default(),
            stack_locks: Mutex::default(),
            controls: Mutex::default(),
        };
        for dir in store::subdirs(&root.join("stacks")) {
            match store::read_json::<Stack>(&dir.join("stack.json")) {
                Ok(stack) => {
                    rm.write_stacks().insert(stack.id.clone(), stack);
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable stack"),
            }
        }
        let mut interrupted = Vec::new();
        for dir in store::subdirs(&root.join("jobs")) {
            match store::read_json::<StoredJob>(&dir.join("job.json")) {
                Ok(job) => {
                    if !job.api.lifecycle_state.is_terminal() {
                        interrupted.push(job.api.id.clone());
                    }
                    rm.write_jobs().insert(job.api.id.clone(), job);
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable job"),
            }
        }
        for id in interrupted {
            let log = logs::LogWriter::open(&rm.job_dir(&id).join("logs.jsonl"));
            rm.update_job(&id, |job| {
                job.api.time_finished = Some(crate::clock::now());
                if job.api.lifecycle_state == JobState::Canceling {
                    job.api.lifecycle_state = JobState::Canceled;
                } else {
                    job.api.lifecycle_state = JobState::Failed;
                    job.api.failure_details = Some(FailureDetails {
                        code: "INTERNAL_SERVICE_ERROR".to_owned(),
                        message: INTERRUPTED_MESSAGE.to_owned(),
                    });
                }
            })?;
            if let Ok(log) = log {
                log.line(logs::Level::Error, INTERRUPTED_MESSAGE);
            }
            if let Some(job) = rm.job(&id) {
                let work = rm.stack_dir(&job.api.stack_id).join("work").join(&id);
                let killed = crate::process::kill_strays(&work);
                if killed > 0 {
                    tracing::warn!(job = %id, killed, "killed processes the interrupted job left behind");
                }
            }
            tracing::warn!(job = %id, "marked a job interrupted by a restart");
        }
        for dir in store::subdirs(&root.join("workrequests")) {
            match store::read_json::<StoredWorkRequest>(&dir.join("workrequest.json")) {
                Ok(mut wr) => {
                    if !wr.api.is_terminal() {
                        wr.interrupted();
                        rm.save_work_request(wr.clone())?;
                        tracing::warn!(work_request = %wr.api.id, "marked a work request interrupted by a restart");
                    }
                    rm.work_requests
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(wr.api.id.clone(), wr);
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable work request"),
            }
        }
        Ok(rm)
    }

    pub fn work_request_dir(&self, id: &str) -> PathBuf {
        self.root.join("workrequests").join(id)
    }

    pub fn work_request(&self, id: &str) -> Option<StoredWorkRequest> {
        self.work_requests
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub fn work_requests(&self) -> Vec<StoredWorkRequest> {
        self.work_requests
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Writes `workrequest.json`, then publishes the work request.
    pub fn save_work_request(&self, wr: StoredWorkRequest) -> Result<(), StoreError> {
        let mut all = self
            .work_requests
            .write()
            .unwrap_or_else(|e| e.into_inner());
        store::write_json(
            &self.work_request_dir(&wr.api.id).join("workrequest.json"),
            &wr,
        )?;
        all.insert(wr.api.id.clone(), wr);
        Ok(())
    }

    /// Changes a work request under the lock.
    pub fn update_work_request(
        &self,
        id: &str,
        f: impl FnOnce(&mut StoredWorkRequest),
    ) -> Result<(), StoreError> {
        let mut all = self
            .work_requests
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let Some(current) = all.get(id) else {
            return Ok(());
        };
        let mut wr = current.clone();
        f(&mut wr);
        store::write_json(&self.work_request_dir(id).join("workrequest.json"), &wr)?;
        all.insert(id.to_owned(), wr);
        Ok(())
    }

    /// Changes a stack record under the lock (a drift result must not undo a concurrent update).
    pub fn update_stack(&self, id: &str, f: impl FnOnce(&mut Stack)) -> Result<(), StoreError> {
        let mut stacks = self.write_stacks();
        let Some(current) = stacks.get(id) else {
            return Ok(());
        };
        let mut stack = current.clone();
        f(&mut stack);
        store::write_json(&self.stack_dir(id).join("stack.json"), &stack)?;
        stacks.insert(id.to_owned(), stack);
        Ok(())
    }

    pub fn stack_dir(&self, id: &str) -> PathBuf {
        self.root.join("stacks").join(id)
    }

    pub fn job_dir(&self, id: &str) -> PathBuf {
        self.root.join("jobs").join(id)
    }

    /// Shared plugin cache of all jobs (only used when the environment sets none).
    pub fn plugin_cache_dir(&self) -> PathBuf {
        self.root.join("terraform-plugin-cache")
    }

    fn write_stacks(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Stack>> {
        self.stacks.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_stacks(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Stack>> {
        self.stacks.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_jobs(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, StoredJob>> {
        self.jobs.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_jobs(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, StoredJob>> {
        self.jobs.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stack(&self, id: &str) -> Option<Stack> {
        self.read_stacks().get(id).cloned()
    }

    pub fn stacks(&self) -> Vec<Stack> {
        self.read_stacks().values().cloned().collect()
    }

    /// Writes `stack.json`, then publishes the stack.
    pub fn save_stack(&self, stack: Stack) -> Result<(), StoreError> {
        let mut stacks = self.write_stacks();
        store::write_json(&self.stack_dir(&stack.id).join("stack.json"), &stack)?;
        stacks.insert(stack.id.clone(), stack);
        Ok(())
    }

    pub fn job(&self, id: &str) -> Option<StoredJob> {
        self.read_jobs().get(id).cloned()
    }

    pub fn jobs(&self) -> Vec<StoredJob> {
        self.read_jobs().values().cloned().collect()
    }

    /// Writes `job.json`, then publishes the job.
    pub fn save_job(&self, job: StoredJob) -> Result<(), StoreError> {
        let mut jobs = self.write_jobs();
        store::write_json(&self.job_dir(&job.api.id).join("job.json"), &job)?;
        jobs.insert(job.api.id.clone(), job);
        Ok(())
    }

    /// Changes a job record under the lock, so the runner and a cancel never lose an update.
    pub fn update_job(
        &self,
        id: &str,
        f: impl FnOnce(&mut StoredJob),
    ) -> Result<Option<StoredJob>, StoreError> {
        let mut jobs = self.write_jobs();
        let Some(current) = jobs.get(id) else {
            return Ok(None);
        };
        let mut job = current.clone();
        f(&mut job);
        store::write_json(&self.job_dir(id).join("job.json"), &job)?;
        jobs.insert(id.to_owned(), job.clone());
        Ok(Some(job))
    }

    /// Forgets a job and deletes its files.
    pub fn remove_job(&self, id: &str) {
        self.write_jobs().remove(id);
        let _ = std::fs::remove_dir_all(self.job_dir(id));
    }

    /// The lock that makes a stack's jobs run one at a time.
    pub fn stack_lock(&self, stack_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.stack_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(stack_id.to_owned())
            .or_default()
            .clone()
    }

    /// True when a job of the stack has not finished.
    pub fn has_unfinished_jobs(&self, stack_id: &str) -> bool {
        self.read_jobs()
            .values()
            .any(|j| j.api.stack_id == stack_id && !j.api.lifecycle_state.is_terminal())
    }

    pub fn register_control(&self, job_id: &str) -> JobControl {
        let ctl = JobControl::default();
        self.controls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job_id.to_owned(), ctl.clone());
        ctl
    }

    pub fn control(&self, job_id: &str) -> Option<JobControl> {
        self.controls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(job_id)
            .cloned()
    }

    pub fn drop_control(&self, job_id: &str) {
        self.controls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(job_id);
    }
}

/// Routes under `/20180917`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/20180917/stacks",
            get(stacks::list_stacks).post(stacks::create_stack),
        )
        .route(
            "/20180917/stacks/{stack_id}",
            get(stacks::get_stack)
                .put(stacks::update_stack)
                .delete(stacks::delete_stack),
        )
        .route(
            "/20180917/stacks/{stack_id}/tfConfig",
            get(stacks::get_tf_config),
        )
        .route(
            "/20180917/stacks/{stack_id}/tfState",
            get(stacks::get_tf_state),
        )
        .route(
            "/20180917/jobs",
            get(jobs::list_jobs).post(jobs::create_job),
        )
        .route(
            "/20180917/jobs/{job_id}",
            get(jobs::get_job)
                .put(jobs::update_job)
                .delete(jobs::cancel_job),
        )
        .route("/20180917/jobs/{job_id}/logs", get(jobs::get_logs))
        .route(
            "/20180917/jobs/{job_id}/logs/content",
            get(jobs::get_logs_content),
        )
        .route("/20180917/jobs/{job_id}/tfState", get(jobs::get_tf_state))
        .route("/20180917/jobs/{job_id}/tfConfig", get(jobs::get_tf_config))
        .route(
            "/20180917/stacks/{stack_id}/actions/detectDrift",
            post(drift::detect_drift),
        )
        .route(
            "/20180917/stacks/{stack_id}/actions/listResourceDriftDetails",
            post(drift::list_resource_drift_details),
        )
        .route(
            "/20180917/workRequests",
            get(workrequests::list_work_requests),
        )
        .route(
            "/20180917/workRequests/{id}",
            get(workrequests::get_work_request),
        )
        .route(
            "/20180917/workRequests/{id}/errors",
            get(workrequests::list_errors),
        )
        .route(
            "/20180917/workRequests/{id}/logs",
            get(workrequests::list_logs),
        )
}
