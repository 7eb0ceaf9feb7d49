//! One running Terraform process: its output as lines, and Ctrl-C semantics when the request
//! is cancelled (SIGINT to its process group, SIGKILL after a grace period, and SIGKILL when
//! the run is dropped before it ends).

use std::process::ExitStatus;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

/// What a supervised run reports while it goes.
pub(super) enum ChildEvent {
    /// A line of its output; `true` for stdout.
    Line(bool, String),
    /// The request was cancelled and SIGINT sent.
    Interrupted,
}

/// Sends `signal` to the process group led by our child `pid`.
pub(super) fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; the group is the one our child leads
    // (spawned with process_group(0)), so nothing else is signalled.
    unsafe { libc::kill(-pid, signal) };
}

/// Kills the process group of a run that is dropped before it ends (the sidecar going away),
/// so its provider processes do not outlive it.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            signal_group(pid, libc::SIGKILL);
        }
    }
}

/// Runs `child` (spawned with piped output in a process group of its own) to its end. Every
/// output line goes to `on_event`; on `cancel`, SIGINT goes to the group (Terraform's graceful
/// stop: it asks the provider to stop, which cancels the Resource Manager job) and SIGKILL
/// follows after `grace`. Returns the exit status and whether the run was cancelled.
pub(super) async fn supervise(
    mut child: Child,
    cancel: &CancellationToken,
    grace: Duration,
    what: &str,
    mut on_event: impl FnMut(ChildEvent),
) -> (std::io::Result<ExitStatus>, bool) {
    let mut group = GroupGuard(child.id());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, String)>();
    let streams: [(bool, Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>); 2] = [
        (
            true,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
        (
            false,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
    ];
    for (is_stdout, stream) in streams {
        let Some(stream) = stream else { continue };
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if tx.send((is_stdout, l)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);

    let mut cancelled = false;
    let mut interrupted_at: Option<tokio::time::Instant> = None;
    let status = loop {
        let deadline = interrupted_at.map(|at| at + grace);
        tokio::select! {
            line = rx.recv() => match line {
                Some((is_stdout, l)) => on_event(ChildEvent::Line(is_stdout, l)),
                None => break child.wait().await,
            },
            _ = cancel.cancelled(), if !cancelled => {
                cancelled = true;
                interrupted_at = Some(tokio::time::Instant::now());
                on_event(ChildEvent::Interrupted);
                if let Some(pid) = child.id() {
                    tracing::info!(pid, what, "interrupting terraform");
                    signal_group(pid, libc::SIGINT);
                }
            },
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => {
                tracing::warn!(what, "terraform did not stop after SIGINT; killing it");
                if let Some(pid) = child.id() {
                    signal_group(pid, libc::SIGKILL);
                }
                let _ = child.start_kill();
                interrupted_at = None;
            }
        }
    };
    group.0 = None;
    (status, cancelled)
}
