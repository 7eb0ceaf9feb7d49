//! The stdio transport: newline-delimited JSON-RPC on stdin and stdout.
//!
//! MCP clients start servers with stdin and stdout as pipes; those are read and written
//! non-blocking on the runtime's own event loop, so a request costs no hand-offs to and from the
//! blocking thread pool (tokio's `stdin()` and `stdout()` go through it), which shows in tail
//! latency on a busy machine. Anything else (a terminal, a file) falls back to tokio's stdin and
//! stdout.
//!
//! Every line is checked before the SDK sees it (`jsonrpc::classify`): a line longer than the
//! message limit is discarded without being buffered, and it, like a line that is not JSON or
//! not a JSON-RPC message, is answered with a JSON-RPC error carrying the request's id when it
//! can be read, so the client's call fails at once; the server keeps serving. Writes go through
//! one writer task in order, so a cancelled send never leaves half a line on stdout.

use std::os::fd::AsFd;

use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use crate::jsonrpc::{self, HEAD_BYTES, Incoming};

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

/// The stdio transport on stdin and stdout, with messages of at most `max_message_bytes`.
pub fn transport(max_message_bytes: usize) -> LineTransport<Reader> {
    let (r, w) = ends();
    LineTransport::new(r, w, max_message_bytes)
}

type Outgoing = (Vec<u8>, Option<oneshot::Sender<std::io::Result<()>>>);

/// Newline-delimited JSON-RPC over any reader and writer.
pub struct LineTransport<R> {
    read: BufReader<R>,
    /// The line being read; kept across cancelled reads (`receive` runs inside a `select!`).
    line: Vec<u8>,
    /// The first bytes of a line found too long, for its id.
    head: Vec<u8>,
    /// Dropping the rest of a too-long line until its newline.
    discarding: bool,
    max: usize,
    out: mpsc::UnboundedSender<Outgoing>,
}

/// What one bounded read produced.
enum Read {
    Line,
    Oversized,
    Eof,
    Failed(std::io::Error),
}

impl<R: AsyncRead + Send + Unpin> LineTransport<R> {
    pub fn new<W: AsyncWrite + Send + Unpin + 'static>(read: R, write: W, max: usize) -> Self {
        let (out, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_lines(write, rx));
        LineTransport {
            read: BufReader::with_capacity(64 * 1024, read),
            line: Vec::new(),
            head: Vec::new(),
            discarding: false,
            max,
            out,
        }
    }

    /// Queues a message for the writer; the receiver learns when it was written.
    fn queue(&self, message: &ServerJsonRpcMessage) -> oneshot::Receiver<std::io::Result<()>> {
        let (tx, rx) = oneshot::channel();
        match serde_json::to_vec(message) {
            Ok(mut bytes) => {
                bytes.push(b'\n');
                let _ = self.out.send((bytes, Some(tx)));
            }
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e)));
            }
        }
        rx
    }

    /// Reads one line into `self.line` without letting it grow past the limit. Cancel-safe:
    /// bytes are consumed only together with the state change they cause.
    async fn read_line(&mut self) -> Read {
        loop {
            let (consumed, done) = {
                let available = match self.read.fill_buf().await {
                    Ok(a) => a,
                    Err(e) => return Read::Failed(e),
                };
                if available.is_empty() {
                    return Read::Eof;
                }
                let newline = available.iter().position(|b| *b == b'\n');
                let take = newline.map_or(available.len(), |i| i + 1);
                let chunk = &available[..take];
                if self.discarding {
                    (take, newline.map(|_| Read::Oversized))
                } else if self.line.len() + take > self.max + 1 {
                    // Keep the head for the id, drop the rest as it comes.
                    self.head = std::mem::take(&mut self.line);
                    let room = HEAD_BYTES.saturating_sub(self.head.len());
                    self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    self.head.truncate(HEAD_BYTES);
                    if newline.is_some() {
                        (take, Some(Read::Oversized))
                    } else {
                        self.discarding = true;
                        (take, None)
                    }
                } else {
                    self.line.extend_from_slice(chunk);
                    (take, newline.map(|_| Read::Line))
                }
            };
            self.read.consume(consumed);
            if let Some(r) = done {
                if matches!(r, Read::Oversized) {
                    self.discarding = false;
                }
                return r;
            }
        }
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut broken: Option<std::io::ErrorKind> = None;
    while let Some((bytes, ack)) = rx.recv().await {
        let result = match broken {
            Some(kind) => Err(std::io::Error::from(kind)),
            None => {
                let r = async {
                    w.write_all(&bytes).await?;
                    w.flush().await
                }
                .await;
                if let Err(e) = &r {
                    broken = Some(e.kind());
                }
                r
            }
        };
        if let Some(ack) = ack {
            let _ = ack.send(result);
        }
    }
}

impl<R: AsyncRead + Send + Unpin> Transport<RoleServer> for LineTransport<R> {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let written = self.queue(&item);
        async move {
            written
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::BrokenPipe.into()))
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            match self.read_line().await {
                Read::Line => {}
                Read::Oversized => {
                    let head = std::mem::take(&mut self.head);
                    tracing::warn!(
                        limit = self.max,
                        "discarded an incoming message over the size limit"
                    );
                    drop(self.queue(&jsonrpc::too_large(self.max, &head)));
                    continue;
                }
                Read::Eof => return None,
                Read::Failed(e) => {
                    tracing::error!(error = %e, "failed to read stdin");
                    return None;
                }
            }
            let line = std::mem::take(&mut self.line);
            let body = line.strip_suffix(b"\n").unwrap_or(&line);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            match jsonrpc::classify(body) {
                Incoming::Message(m) => return Some(*m),
                Incoming::Ignore => {}
                Incoming::Reject(err) => {
                    tracing::debug!("answered a malformed message with a JSON-RPC error");
                    drop(self.queue(&err));
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        // Everything queued before is written once this empty write is.
        let (tx, rx) = oneshot::channel();
        if self.out.send((Vec::new(), Some(tx))).is_ok() {
            let _ = rx.await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use tokio::io::AsyncBufReadExt;

    async fn lines_after(input: Vec<u8>, max: usize) -> (Vec<Value>, usize) {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (sr, sw) = tokio::io::split(server);
        let (cr, mut cw) = tokio::io::split(client);
        let mut t = LineTransport::new(sr, sw, max);
        let writer = tokio::spawn(async move {
            cw.write_all(&input).await.unwrap();
            cw.shutdown().await.unwrap();
        });
        let mut delivered = 0;
        while let Some(_m) = t.receive().await {
            delivered += 1;
        }
        t.close().await.unwrap();
        writer.await.unwrap();
        drop(t);
        let mut out = Vec::new();
        let mut lines = BufReader::new(cr).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            out.push(serde_json::from_str(&l).unwrap());
        }
        (out, delivered)
    }

    #[tokio::test]
    async fn oversized_and_malformed_lines_are_answered_and_reading_goes_on() {
        let max = 1024;
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
        input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"x\",\"arguments\":{\"pad\":\"");
        input.extend(std::iter::repeat_n(b'a', 100_000));
        input.extend_from_slice(b"\"}}}\n");
        input.extend_from_slice(b"{not json\n");
        input.extend_from_slice(b"\n");
        input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\r\n");
        let (out, delivered) = lines_after(input, max).await;
        assert_eq!(delivered, 2, "both pings reach the server");
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0]["id"], 2);
        assert_eq!(out[0]["error"]["code"], -32600);
        assert!(
            out[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("GALLEY_MAX_MESSAGE_BYTES")
        );
        assert_eq!(out[1]["error"]["code"], -32700);
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_is_accepted() {
        let msg = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
        let mut input = msg.to_vec();
        input.push(b'\n');
        let (out, delivered) = lines_after(input.clone(), msg.len()).await;
        assert_eq!((delivered, out.len()), (1, 0));
        let (out, delivered) = lines_after(input, msg.len() - 1).await;
        assert_eq!((delivered, out.len()), (0, 1));
    }
}
