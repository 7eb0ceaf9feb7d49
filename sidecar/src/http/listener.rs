//! The HTTP listener: accepts connections and serves HTTP/1.1 on them, with the timeouts and the
//! connection limit that keep a slow or idle client from holding the server's file descriptors.
//! This runs before any authentication, so it is what faces the network.
//!
//! - A connection with no request in progress is *waiting*. Waiting without a byte for longer
//!   than the idle timeout, or with part of a request's headers for longer than the header
//!   timeout (counted from its first byte), it is closed. A request in progress is not limited
//!   here (a tool call may run for minutes; its body has the request timeout, see `messages`).
//! - At the connection limit, a new connection closes the connection that has been waiting for
//!   a request the longest (idle, or sending its headers slowly); when every connection has a
//!   request in progress, the new one gets a 503 and is closed. So a crowd of half-sent requests (slow-loris) cannot keep `/health` or a real
//!   client out.
//! - The limit is kept below the process's open-file limit, and an `accept` that fails for lack
//!   of descriptors closes a waiting connection and tries again soon rather than stalling.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::limits::HttpLimits;

/// Descriptors kept for everything but connections (session files, Terraform's pipes, the
/// runtime): at least this many, or a quarter of the limit.
const FD_RESERVE_MIN: u64 = 32;
/// How long shutdown waits for connections to finish their requests.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(210);

/// What a connection refused at the limit gets.
fn busy_response() -> Vec<u8> {
    let body = "{\"error\":\"too_many_connections\",\"message\":\"every connection has a request in progress (GALLEY_HTTP_MAX_CONNECTIONS); try again shortly\"}\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One connection as the limit and the timers see it.
#[derive(Debug)]
struct ConnState {
    /// Requests in progress (HTTP/1: 0 or 1).
    active: AtomicUsize,
    /// Milliseconds since the listener started: when the connection last became waiting.
    waiting_since: AtomicU64,
    /// When the first byte arrived while waiting (0: none yet).
    first_byte: AtomicU64,
    /// Set once the connection was chosen to be closed.
    shed: AtomicBool,
    kill: Notify,
    changed: Notify,
}

/// The open connections.
struct Tracker {
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    epoch: Instant,
    next_id: AtomicU64,
}

impl Tracker {
    fn now(&self) -> u64 {
        // +1 so that 0 can mean "never".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    fn conns(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open connections not already being closed.
    fn open(&self) -> usize {
        self.conns()
            .values()
            .filter(|c| !c.shed.load(Ordering::SeqCst))
            .count()
    }

    /// Closes the connection that has been waiting for a request the longest (idle or sending
    /// its headers slowly alike: a new connection, whose request is on its way, goes last);
    /// false when every connection has a request in progress.
    fn shed_one(&self) -> bool {
        let conns = self.conns();
        let victim = conns
            .values()
            .filter(|c| !c.shed.load(Ordering::SeqCst) && c.active.load(Ordering::SeqCst) == 0)
            .min_by_key(|c| c.waiting_since.load(Ordering::SeqCst))
            .cloned();
        match victim {
            Some(c) => {
                c.shed.store(true, Ordering::SeqCst);
                c.kill.notify_one();
                true
            }
            None => false,
        }
    }

    fn register(&self) -> (u64, Arc<ConnState>) {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let state = Arc::new(ConnState {
            active: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(self.now()),
            first_byte: AtomicU64::new(0),
            shed: AtomicBool::new(false),
            kill: Notify::new(),
            changed: Notify::new(),
        });
        self.conns().insert(id, state.clone());
        (id, state)
    }

    fn remove(&self, id: u64) {
        self.conns().remove(&id);
    }

    /// When the connection's current wait runs out (`None`: a request is in progress).
    fn deadline(&self, c: &ConnState, limits: &HttpLimits) -> Option<Instant> {
        if c.active.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let (from, limit) = match c.first_byte.load(Ordering::SeqCst) {
            0 => (c.waiting_since.load(Ordering::SeqCst), limits.idle_timeout),
            t => (t, limits.header_timeout),
        };
        Some(self.epoch + Duration::from_millis(from.saturating_sub(1)) + limit)
    }
}

/// The connection's socket, noting the first byte that arrives while it waits.
struct Watched {
    stream: TcpStream,
    state: Arc<ConnState>,
    tracker: Arc<Tracker>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before
            && self.state.active.load(Ordering::SeqCst) == 0
            && self.state.first_byte.load(Ordering::SeqCst) == 0
        {
            let now = self.tracker.now();
            self.state.first_byte.store(now, Ordering::SeqCst);
            self.state.changed.notify_one();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Marks the connection busy while a request is in progress: from its headers until its
/// response body is done (or dropped).
struct InProgress {
    state: Arc<ConnState>,
    tracker: Arc<Tracker>,
}

impl InProgress {
    fn begin(state: Arc<ConnState>, tracker: Arc<Tracker>) -> Self {
        state.active.fetch_add(1, Ordering::SeqCst);
        state.changed.notify_one();
        InProgress { state, tracker }
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.state
            .waiting_since
            .store(self.tracker.now(), Ordering::SeqCst);
        self.state.first_byte.store(0, Ordering::SeqCst);
        self.state.active.fetch_sub(1, Ordering::SeqCst);
        self.state.changed.notify_one();
    }
}

/// A response body that ends the request's "in progress" when it is done.
struct TrackedBody {
    inner: Body,
    _in_progress: InProgress,
}

impl hyper::body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How many connections the process's open-file limit leaves room for, after raising its soft
/// limit to the hard one.
fn fd_budget() -> Option<u64> {
    // SAFETY: getrlimit/setrlimit write and read only the struct passed.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        if lim.rlim_cur == libc::RLIM_INFINITY {
            return None;
        }
        let soft = lim.rlim_cur;
        Some(soft.saturating_sub(FD_RESERVE_MIN.max(soft / 4)))
    }
}

/// The connection limit actually applied: the setting, kept below the open-file limit.
pub fn effective_max_connections(configured: usize) -> usize {
    match fd_budget() {
        Some(budget) if (budget as usize) < configured => {
            let capped = (budget as usize).max(2);
            tracing::warn!(
                configured,
                applied = capped,
                "GALLEY_HTTP_MAX_CONNECTIONS is above what the open-file limit allows; raise the limit (ulimit -n) to allow more"
            );
            capped
        }
        _ => configured,
    }
}

fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Serves `app` on `listener` until `shutdown` completes, then lets connections finish their
/// requests (at most `SHUTDOWN_WAIT`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let max = effective_max_connections(limits.max_connections);
    let tracker = Arc::new(Tracker {
        conns: Mutex::default(),
        epoch: Instant::now(),
        next_id: AtomicU64::new(1),
    });
    let stop = CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if out_of_descriptors(&e) => {
                let shed = tracker.shed_one();
                tracing::warn!(error = %e, shed, "out of file descriptors accepting a connection");
                tokio::time::sleep(Duration::from_millis(if shed { 5 } else { 50 })).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        if tracker.open() >= max && !tracker.shed_one() {
            tracing::warn!(%peer, max, "refused a connection: every connection has a request in progress");
            let _ = stream.try_write(&busy_response());
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (id, state) = tracker.register();
        let tracker = tracker.clone();
        let app = app.clone();
        let limits = limits.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            serve_connection(stream, app, state, tracker.clone(), &limits, stop).await;
            tracker.remove(id);
        });
    }
    drop(listener);
    stop.cancel();
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_WAIT, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open at shutdown");
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    state: Arc<ConnState>,
    tracker: Arc<Tracker>,
    limits: &HttpLimits,
    stop: CancellationToken,
) {
    let io = TokioIo::new(Watched {
        stream,
        state: state.clone(),
        tracker: tracker.clone(),
    });
    let service = {
        let state = state.clone();
        let tracker = tracker.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let in_progress = InProgress::begin(state.clone(), tracker.clone());
            let app = app.clone();
            async move {
                let resp = app
                    .oneshot(req.map(Body::new))
                    .await
                    .unwrap_or_else(|never: Infallible| match never {});
                let (parts, body) = resp.into_parts();
                Ok::<_, Infallible>(Response::from_parts(
                    parts,
                    TrackedBody {
                        inner: body,
                        _in_progress: in_progress,
                    },
                ))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        // Stopping, a connection without a request in progress has nothing left to finish.
        if stopping && state.active.load(Ordering::SeqCst) == 0 {
            return;
        }
        let deadline = tracker.deadline(&state, limits);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = state.kill.notified() => return,
            _ = state.changed.notified() => {}
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => {
                // Re-read: a byte or a request may have arrived just now.
                if tracker.deadline(&state, limits).is_some_and(|d| d <= Instant::now()) {
                    return;
                }
            }
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
