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

pub use libc::{SIGINT, SIGKILL, SIGTERM};
