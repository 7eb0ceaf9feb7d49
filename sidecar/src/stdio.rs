//! The two ends of the stdio transport. MCP clients start servers with stdin and stdout as
//! pipes; those are then read and written non-blocking on the runtime's own event loop, so a
//! request costs no hand-offs to and from the blocking thread pool (tokio's `stdin()` and
//! `stdout()` go through it), which shows in tail latency on a busy machine. Anything else (a
//! terminal, a file) falls back to tokio's stdin and stdout.

use std::os::fd::AsFd;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;

pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// The transport's ends; must be called inside the runtime.
pub fn ends() -> (Reader, Writer) {
    let reader: Reader = match std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Receiver::from_owned_fd)
    {
        Ok(r) => Box::new(r),
        Err(e) => {
            tracing::debug!(error = %e, "stdin is not a pipe; reading it through tokio's stdin");
            Box::new(tokio::io::stdin())
        }
    };
    let writer: Writer = match std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Sender::from_owned_fd)
    {
        Ok(w) => Box::new(w),
        Err(e) => {
            tracing::debug!(error = %e, "stdout is not a pipe; writing it through tokio's stdout");
            Box::new(tokio::io::stdout())
        }
    };
    (reader, writer)
}
