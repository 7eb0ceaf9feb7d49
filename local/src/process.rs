//! Child processes of jobs and commands: each runs in its own process group so a cancel or a
//! timeout reaches everything it started (terraform's providers and provisioners, a script's
//! children), and dies with the engine if the engine is killed.

use std::io;

use tokio::process::Command;

/// Puts the child in a new process group and, on Linux, asks the kernel to kill it when the
/// engine dies, so a crashed engine leaves no terraform writing into a job it will mark FAILED
/// on restart.
pub fn isolate(cmd: &mut Command) {
    cmd.process_group(0);
    cmd.kill_on_drop(true);
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: prctl and getppid are async-signal-safe and touch no memory of the parent.
        // PR_SET_PDEATHSIG follows the spawning thread; children are spawned from runtime
        // worker threads, which live as long as the engine.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    // The engine died between fork and prctl.
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
}

/// Sends `signal` to the process group led by `pid`.
pub fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill has no memory-safety preconditions; a stale group only yields ESRCH.
    unsafe {
        libc::kill(-pid, signal);
    }
}

/// Kills every process whose working directory is inside `dir`: what a crashed engine's jobs
/// or commands left behind (terraform itself dies with the engine, but a provisioner's or a
/// script's own children do not). Matching on the working directory, not on a remembered
/// process group, means a reused pid can never make the engine kill a stranger.
///
/// Scans again until a scan finds nothing (for at most [`STRAY_WAIT`]): a process that was still
/// dying from the engine's crash can start a child after the first scan, and a killed process
/// stays visible until the kernel has torn it down. Returns how many processes were signalled.
pub fn kill_strays(dir: &std::path::Path) -> usize {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return 0;
    };
    let deadline = std::time::Instant::now() + STRAY_WAIT;
    let mut killed = 0;
    loop {
        let found = kill_strays_once(&dir);
        killed += found;
        if found == 0 || std::time::Instant::now() >= deadline {
            return killed;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// How long [`kill_strays`] keeps scanning while it still finds processes.
const STRAY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn kill_strays_once(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let inside =
            std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir));
        if inside && pid != std::process::id() as libc::pid_t {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            killed += 1;
        }
    }
    killed
}

pub use libc::{SIGINT, SIGKILL, SIGTERM};
