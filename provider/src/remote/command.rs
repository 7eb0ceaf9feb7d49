//! Following one instance agent command: waiting for the agent to pick it up (a command that
//! is never picked up is the usual symptom of a disabled Run Command plugin, no route to OCI,
//! or missing IAM policies), then for it to finish, with cancellation on Terraform's Stop or
//! at a timeout.

use std::time::Duration;

use async_trait::async_trait;
use galley_oci::client::{OciError, RetryPolicy};
use galley_oci::instance_agent::{
    DeliveryState, ExecutionLifecycleState, InstanceAgentClient, InstanceAgentCommandExecution,
};
use galley_oci::model::Reply;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::poll::{Backoff, Schedule};

/// The Instance Agent calls the follower makes.
#[async_trait]
pub trait CommandApi: Send + Sync {
    async fn execution(
        &self,
        command_id: &str,
        instance_id: &str,
    ) -> Result<Reply<InstanceAgentCommandExecution>, OciError>;
    async fn cancel(&self, command_id: &str) -> Result<(), OciError>;
}

#[async_trait]
impl CommandApi for InstanceAgentClient {
    async fn execution(
        &self,
        command_id: &str,
        instance_id: &str,
    ) -> Result<Reply<InstanceAgentCommandExecution>, OciError> {
        self.get_instance_agent_command_execution(command_id, instance_id)
            .await
    }

    async fn cancel(&self, command_id: &str) -> Result<(), OciError> {
        let quick = self.with_client(self.client().with_retry_policy(RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(15),
            ..RetryPolicy::default()
        }));
        match quick.cancel_instance_agent_command(command_id).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_conflict() || e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// How following a command ended.
#[derive(Debug)]
pub enum CommandEnding {
    /// SUCCEEDED, FAILED, TIMED_OUT or CANCELED.
    Finished,
    /// The agent did not pick the command up in time; it was cancelled.
    NeverStarted(Duration),
    /// Terraform's Stop arrived; the command was cancelled.
    Interrupted,
    /// It ran longer than allowed; it was cancelled.
    TimedOut(Duration),
    /// The status could not be read.
    Unreachable(OciError),
}

/// What following a command saw.
#[derive(Debug)]
pub struct CommandFollowed {
    pub execution: Option<InstanceAgentCommandExecution>,
    pub opc_request_id: Option<String>,
    pub ending: CommandEnding,
    pub status_calls: u32,
}

fn started(e: &InstanceAgentCommandExecution) -> bool {
    e.delivery_state == DeliveryState::Acked
        || e.lifecycle_state != ExecutionLifecycleState::Accepted
}

/// Follows command `command_id` on `instance_id`: at most `start_timeout` until the agent picks
/// it up, then at most `run_timeout` (plus a minute for the agent's own timeout to report).
pub async fn follow_command(
    api: &dyn CommandApi,
    command_id: &str,
    instance_id: &str,
    start_timeout: Duration,
    run_timeout: Duration,
    stop: &CancellationToken,
) -> CommandFollowed {
    let mut out = CommandFollowed {
        execution: None,
        opc_request_id: None,
        ending: CommandEnding::Finished,
        status_calls: 0,
    };
    let begun = Instant::now();
    let mut deadline = begun + start_timeout;
    let mut is_running = false;
    let mut schedule = Schedule::new(Backoff::STATUS);
    loop {
        let wake = (Instant::now() + schedule.next_delay()).min(deadline);
        let stopped = tokio::select! {
            biased;
            _ = stop.cancelled() => true,
            _ = tokio::time::sleep_until(wake) => false,
        };
        let ending = if stopped {
            Some(CommandEnding::Interrupted)
        } else if Instant::now() >= deadline {
            Some(if is_running {
                CommandEnding::TimedOut(run_timeout)
            } else {
                CommandEnding::NeverStarted(start_timeout)
            })
        } else {
            None
        };
        if let Some(ending) = ending {
            if let Err(e) = api.cancel(command_id).await {
                tracing::warn!(command = %command_id, error = %e, "failed to cancel the command");
            }
            if let Ok(reply) = api.execution(command_id, instance_id).await {
                out.status_calls += 1;
                out.opc_request_id = reply.opc_request_id.clone();
                out.execution = Some(reply.value);
            }
            out.ending = ending;
            return out;
        }
        let reply = tokio::select! {
            biased;
            _ = stop.cancelled() => continue,
            r = api.execution(command_id, instance_id) => r,
        };
        out.status_calls += 1;
        match reply {
            Ok(reply) => {
                out.opc_request_id = reply.opc_request_id.clone();
                let execution = reply.value;
                if execution.lifecycle_state.is_terminal() {
                    out.execution = Some(execution);
                    return out;
                }
                if !is_running && started(&execution) {
                    is_running = true;
                    deadline = Instant::now() + run_timeout + Duration::from_secs(60);
                    tracing::info!(command = %command_id, "the agent picked the command up");
                }
                out.execution = Some(execution);
            }
            // The execution record may appear a moment after the command.
            Err(e) if e.is_not_found() && !is_running => {}
            Err(e) => {
                out.ending = CommandEnding::Unreachable(e);
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use galley_oci::instance_agent::CommandExecutionOutput;

    use super::*;

    /// A command that the agent acknowledges after `ack` (never when `None`) and that runs
    /// `run` after that.
    struct SimCommand {
        start: Instant,
        ack: Option<Duration>,
        run: Duration,
        cancelled: Mutex<bool>,
    }

    #[async_trait]
    impl CommandApi for SimCommand {
        async fn execution(
            &self,
            _command_id: &str,
            _instance_id: &str,
        ) -> Result<Reply<InstanceAgentCommandExecution>, OciError> {
            let now = Instant::now();
            let cancelled = *self.cancelled.lock().unwrap();
            let (delivery, state) = match self.ack {
                _ if cancelled => (
                    DeliveryState::AckedCanceled,
                    ExecutionLifecycleState::Canceled,
                ),
                None => (DeliveryState::Visible, ExecutionLifecycleState::Accepted),
                Some(ack) if now < self.start + ack => {
                    (DeliveryState::Visible, ExecutionLifecycleState::Accepted)
                }
                Some(ack) if now < self.start + ack + self.run => {
                    (DeliveryState::Acked, ExecutionLifecycleState::InProgress)
                }
                Some(_) => (DeliveryState::Acked, ExecutionLifecycleState::Succeeded),
            };
            Ok(Reply {
                value: InstanceAgentCommandExecution {
                    delivery_state: delivery,
                    lifecycle_state: state.clone(),
                    content: (state == ExecutionLifecycleState::Succeeded).then(|| {
                        CommandExecutionOutput {
                            exit_code: Some(0),
                            ..Default::default()
                        }
                    }),
                    ..Default::default()
                },
                etag: None,
                opc_request_id: Some("req".into()),
                next_page: None,
            })
        }

        async fn cancel(&self, _command_id: &str) -> Result<(), OciError> {
            *self.cancelled.lock().unwrap() = true;
            Ok(())
        }
    }

    fn sim(ack: Option<Duration>, run: Duration) -> SimCommand {
        SimCommand {
            start: Instant::now(),
            ack,
            run,
            cancelled: Mutex::new(false),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_command_never_picked_up_ends_at_the_start_timeout_and_is_cancelled() {
        let api = sim(None, Duration::ZERO);
        let f = follow_command(
            &api,
            "cmd",
            "inst",
            Duration::from_secs(300),
            Duration::from_secs(1800),
            &CancellationToken::new(),
        )
        .await;
        assert!(
            matches!(f.ending, CommandEnding::NeverStarted(_)),
            "{:?}",
            f.ending
        );
        assert!(*api.cancelled.lock().unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_build_outlives_the_start_timeout_once_picked_up() {
        let api = sim(Some(Duration::from_secs(20)), Duration::from_secs(900));
        let f = follow_command(
            &api,
            "cmd",
            "inst",
            Duration::from_secs(60),
            Duration::from_secs(1800),
            &CancellationToken::new(),
        )
        .await;
        assert!(
            matches!(f.ending, CommandEnding::Finished),
            "{:?}",
            f.ending
        );
        let e = f.execution.unwrap();
        assert_eq!(e.lifecycle_state, ExecutionLifecycleState::Succeeded);
        // 15 minutes on the capped schedule: about one call per 10 s.
        assert!(f.status_calls < 110, "{}", f.status_calls);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_cancels_a_running_command() {
        let api = sim(Some(Duration::from_secs(1)), Duration::from_secs(900));
        let stop = CancellationToken::new();
        let trigger = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            trigger.cancel();
        });
        let f = follow_command(
            &api,
            "cmd",
            "inst",
            Duration::from_secs(60),
            Duration::from_secs(1800),
            &stop,
        )
        .await;
        assert!(
            matches!(f.ending, CommandEnding::Interrupted),
            "{:?}",
            f.ending
        );
        assert_eq!(
            f.execution.unwrap().lifecycle_state,
            ExecutionLifecycleState::Canceled
        );
    }
}
