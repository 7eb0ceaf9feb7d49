//! Runs an agent command's script with `bash` in its sandbox directory: combined output to
//! `output.log`, an optional `PATH` prefix (tests put stand-in tools there), the whole process
//! group killed at the command's timeout (TIMED_OUT) or on cancel (CANCELED).
//!
//! Without `--enable-run-command` the command is accepted but its execution ends FAILED with a
//! message naming the flag. A real instance whose Run Command plugin is disabled also accepts
//! commands and never runs them; answering FAILED at once, with the reason, lets a client under
//! test see the refusal instead of waiting for its own timeout, while the engine still never
//! runs a script nobody opted into.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::model::{ExecState, StoredCommand};
use crate::app::AppState;
use crate::process;

/// OCI returns at most this much TEXT output: the end of it is kept.
pub const MAX_TEXT_OUTPUT: u64 = 1024 * 1024;

struct Ended {
    state: ExecState,
    exit_code: Option<i32>,
    message: String,
}

impl Ended {
    fn failed(message: impl Into<String>) -> Self {
        Self {
            state: ExecState::Failed,
            exit_code: None,
            message: message.into(),
        }
    }
}

/// Runs command `id` to completion.
pub async fn run(state: AppState, id: String, cancel: CancellationToken) {
    let agent = state.agent();
    let Some(cmd) = agent.get(&id) else { return };
    let ended = if !state.config().enable_run_command {
        Ended::failed(
            "galley-local was started without --enable-run-command, so it accepts commands but does not run them",
        )
    } else if cancel.is_cancelled() {
        Ended {
            state: ExecState::Canceled,
            exit_code: None,
            message: "Command canceled.".to_owned(),
        }
    } else {
        let _ = agent.update(&id, |c| {
            c.execution.lifecycle_state = ExecState::InProgress;
            c.execution.delivery_state = "ACKED".to_owned();
            c.execution.time_updated = crate::clock::now();
        });
        execute(&state, &cmd, &cancel).await
    };

    let dir = agent.dir(&id);
    let output = read_tail(&dir.join("output.log"), MAX_TEXT_OUTPUT);
    let mut message = ended.message;
    let out = &cmd.command.content.output;
    let mut stored_object = None;
    if out.output_type == "OBJECT_STORAGE_TUPLE" {
        if let (Some(ns), Some(bucket), Some(object)) =
            (&out.namespace_name, &out.bucket_name, &out.object_name)
        {
            match state
                .os()
                .put_bytes(ns, bucket, object, output.as_bytes(), "text/plain")
            {
                Ok(()) => stored_object = Some((ns.clone(), bucket.clone(), object.clone())),
                Err(e) => message = format!("{message}; failed to store the output: {}", e.message),
            }
        }
    }
    let result = agent.update(&id, |c| {
        let e = &mut c.execution;
        e.lifecycle_state = ended.state;
        e.delivery_state = if ended.state == ExecState::Canceled {
            "ACKED_CANCELED".to_owned()
        } else {
            "ACKED".to_owned()
        };
        e.time_updated = crate::clock::now();
        e.content.exit_code = ended.exit_code;
        e.content.message = Some(message);
        match e.content.output_type.as_str() {
            "TEXT" => {
                e.content.text_sha256 = Some(hex::encode(Sha256::digest(output.as_bytes())));
                e.content.text = Some(output);
            }
            "OBJECT_STORAGE_TUPLE" => {
                if let Some((ns, bucket, object)) = stored_object {
                    e.content.namespace_name = Some(ns);
                    e.content.bucket_name = Some(bucket);
                    e.content.object_name = Some(object);
                }
            }
            _ => {}
        }
    });
    if let Err(e) = result {
        tracing::error!(command = %id, error = %e, "failed to record the end of a command");
    }
    agent.drop_control(&id);
    tracing::info!(command = %id, state = ?ended.state, "command finished");
}

/// The script text of a command's source.
fn script(state: &AppState, cmd: &StoredCommand) -> Result<String, String> {
    let source = &cmd.command.content.source;
    let text = match source.source_type.as_str() {
        "TEXT" => source.text.clone().unwrap_or_default(),
        "OBJECT_STORAGE_TUPLE" => {
            let (Some(ns), Some(bucket), Some(object)) = (
                &source.namespace_name,
                &source.bucket_name,
                &source.object_name,
            ) else {
                return Err(
                    "the OBJECT_STORAGE_TUPLE source lacks namespaceName, bucketName or objectName"
                        .into(),
                );
            };
            let bytes = state
                .os()
                .get_bytes(ns, bucket, object)
                .map_err(|e| format!("failed to fetch the script object: {}", e.message))?;
            String::from_utf8(bytes)
                .map_err(|_| "the script object is not UTF-8 text".to_owned())?
        }
        other => {
            return Err(format!(
                "galley-local does not fetch {other} command sources; use TEXT or OBJECT_STORAGE_TUPLE"
            ));
        }
    };
    if let Some(expected) = &source.text_sha256 {
        let actual = hex::encode(Sha256::digest(text.as_bytes()));
        if !actual.eq_ignore_ascii_case(expected.trim()) {
            return Err("the script does not match its textSha256".to_owned());
        }
    }
    Ok(text)
}

async fn execute(state: &AppState, cmd: &StoredCommand, cancel: &CancellationToken) -> Ended {
    let dir = state.agent().dir(&cmd.command.id);
    let text = match script(state, cmd) {
        Ok(t) => t,
        Err(e) => return Ended::failed(e),
    };
    let sandbox = dir.join("sandbox");
    let script_path = dir.join("script.sh");
    let output = match fs::create_dir_all(&sandbox)
        .and_then(|_| fs::write(&script_path, &text))
        .and_then(|_| File::create(dir.join("output.log")))
    {
        Ok(f) => f,
        Err(e) => return Ended::failed(format!("failed to prepare the sandbox: {e}")),
    };
    let stderr = match output.try_clone() {
        Ok(f) => f,
        Err(e) => return Ended::failed(format!("failed to prepare the sandbox: {e}")),
    };

    let mut command = Command::new("bash");
    command
        .arg(&script_path)
        .current_dir(&sandbox)
        .stdin(Stdio::null())
        .stdout(Stdio::from(output))
        .stderr(Stdio::from(stderr))
        .env("HOME", &sandbox);
    if let Some(prefix) = &state.config().run_command_path_prefix {
        let mut path = OsString::from(prefix.as_os_str());
        if let Some(old) = std::env::var_os("PATH") {
            path.push(":");
            path.push(old);
        }
        command.env("PATH", path);
    }
    process::isolate(&mut command);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return Ended::failed(format!("failed to start bash: {e}")),
    };
    let pid = child.id().unwrap_or(0);
    let timeout = Duration::from_secs(cmd.command.execution_time_out_in_seconds);
    let shutdown = state.shutdown_token();
    let ended = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => match s.code() {
                Some(0) => Ended { state: ExecState::Succeeded, exit_code: Some(0), message: "Command exited with code 0.".to_owned() },
                Some(code) => Ended { state: ExecState::Failed, exit_code: Some(code), message: format!("Command exited with code {code}.") },
                None => Ended::failed(format!("Command was terminated: {s}.")),
            },
            Err(e) => Ended::failed(format!("failed to wait for the command: {e}")),
        },
        _ = tokio::time::sleep(timeout) => Ended {
            state: ExecState::TimedOut,
            exit_code: None,
            message: format!("Command timed out after {} seconds.", timeout.as_secs()),
        },
        _ = cancel.cancelled() => Ended { state: ExecState::Canceled, exit_code: None, message: "Command canceled.".to_owned() },
        _ = shutdown.cancelled() => Ended::failed("interrupted by a galley-local restart: the engine stopped while this command was running"),
    };
    // Whatever ended the wait, nothing the script started may keep running.
    process::signal_group(pid, process::SIGKILL);
    let _ = child.wait().await;
    ended
}

/// The last `max` bytes of a file as text (lossy), empty when absent.
fn read_tail(path: &Path, max: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        let _ = f.seek(SeekFrom::Start(len - max));
    }
    let mut buf = Vec::new();
    let _ = f.take(max).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
