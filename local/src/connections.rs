//! Connection supervision for the listener: what each open connection is doing (reading a
//! request's headers, idle between requests, or busy with one), the timeout of each of those
//! phases, and the connection limit.
//!
//! A connection that sends half a request, or nothing, costs a file descriptor for as long as
//! it stays open; enough of them and the engine can accept nothing else. So:
//!
//! - a request's headers must arrive within `header_read_timeout` of its first byte (of the
//!   connection being accepted, for the first request);
//! - a keep-alive connection with no request in progress is closed after `idle_timeout`;
//! - a request must be received and answered within `request_timeout` of its headers;
//! - at most `max_connections` are open (fewer when the process's file-descriptor limit leaves
//!   less room). When a new connection arrives at the limit, or `accept` runs out of file
//!   descriptors, the connection that has been idle or reading headers the longest is closed
//!   to make room: a connection doing work is never shed for one that has not sent anything.
//!   Only when every connection is busy is the new one answered `503` and closed.
//!
//! This module knows nothing of routes or OCI; [`crate::serve`] wires it into the accept loop.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Time allowed for a request's headers (`--header-read-timeout-secs`).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a keep-alive connection may wait for its next request (`--idle-timeout-secs`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Time to receive a request's body and answer it (`--request-timeout-secs`); a 512 MiB
/// upload on loopback takes seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Open connections at most (`--max-connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// File descriptors kept out of the connection budget: the data directory's files, terraform
/// and command pipes, the listener itself.
pub const RESERVED_FDS: u64 = 64;

/// The listener's timeouts and connection limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ConnectionLimits {
    /// `max_connections`, lowered so that connections cannot take the file descriptors the
    /// engine needs for everything else (the soft `RLIMIT_NOFILE` minus [`RESERVED_FDS`]).
    pub fn effective_max_connections(&self) -> usize {
        let budget = fd_limit()
            .map(|n| usize::try_from(n.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX))
            .unwrap_or(usize::MAX);
        self.max_connections.min(budget).max(1)
    }
}

/// The soft limit on open files, when there is one.
fn fd_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given and has no other effect.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// What a connection is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading a request's headers (or waiting for the first request of a new connection).
    Head = 0,
    /// Between requests of a keep-alive connection.
    Idle = 1,
    /// Receiving a request's body, handling it, or sending its answer.
    Busy = 2,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Head,
            1 => Phase::Idle,
            _ => Phase::Busy,
        }
    }
}

/// Milliseconds since the first call: comparable across connections.
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// One connection's phase and since when it is in it.
pub struct Tracker {
    id: u64,
    phase: AtomicU8,
    since_ms: AtomicU64,
    changed: Notify,
    shed: CancellationToken,
}

impl Tracker {
    fn new(id: u64) -> Self {
        Self {
            id,
            phase: AtomicU8::new(Phase::Head as u8),
            since_ms: AtomicU64::new(now_ms()),
            changed: Notify::new(),
            shed: CancellationToken::new(),
        }
    }

    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    fn since_ms(&self) -> u64 {
        self.since_ms.load(Ordering::Acquire)
    }

    fn enter(&self, phase: Phase) {
        self.since_ms.store(now_ms(), Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
        self.changed.notify_one();
    }

    /// Bytes arrived: an idle connection starts reading a request.
    fn on_bytes(&self) {
        if self
            .phase
            .compare_exchange(
                Phase::Idle as u8,
                Phase::Head as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            self.since_ms.store(now_ms(), Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// A request's headers are complete.
    pub fn on_request(&self) {
        self.enter(Phase::Busy);
    }

    /// The answer has been sent.
    pub fn on_response_done(&self) {
        self.enter(Phase::Idle);
    }

    /// Resolves when the connection must be closed, with the reason.
    pub async fn expired(&self, limits: &ConnectionLimits) -> &'static str {
        loop {
            let (timeout, reason) = match self.phase() {
                Phase::Head => (
                    limits.header_read_timeout,
                    "the request headers did not arrive within the header read timeout",
                ),
                Phase::Idle => (limits.idle_timeout, "idle for the idle timeout"),
                Phase::Busy => (
                    limits.request_timeout,
                    "the request was not received and answered within the request timeout",
                ),
            };
            let deadline_ms = self.since_ms() + timeout.as_millis() as u64;
            let now = now_ms();
            if now >= deadline_ms {
                return reason;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(deadline_ms - now)) => {}
                _ = self.changed.notified() => {}
                _ = self.shed.cancelled() => {
                    return "closed to make room for a new connection";
                }
            }
        }
    }
}

/// What to do with a newly accepted connection.
pub enum Admission {
    /// Serve it; it is tracked by this tracker.
    Admit(Arc<Tracker>),
    /// Every connection is busy: answer 503 and close it.
    Refuse,
}

/// The open connections.
pub struct Registry {
    capacity: usize,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Tracker>>>,
}

impl Registry {
    pub fn new(limits: &ConnectionLimits) -> Self {
        Self {
            capacity: limits.effective_max_connections(),
            next_id: AtomicU64::new(1),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Connections open at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Tracker>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection, shedding the longest-idle one when at capacity.
    pub fn admit(&self) -> Admission {
        let mut open = self.lock();
        if open.len() >= self.capacity && !shed_oldest(&mut open) {
            return Admission::Refuse;
        }
        let tracker = Arc::new(Tracker::new(self.next_id.fetch_add(1, Ordering::Relaxed)));
        open.insert(tracker.id, Arc::clone(&tracker));
        Admission::Admit(tracker)
    }

    /// Closes the longest-idle connection (out of file descriptors); false when all are busy.
    pub fn shed_one(&self) -> bool {
        shed_oldest(&mut self.lock())
    }

    /// Forgets a connection that has ended.
    pub fn remove(&self, tracker: &Tracker) {
        self.lock().remove(&tracker.id);
    }
}

/// Cancels and forgets the connection that has been idle or reading headers the longest.
fn shed_oldest(open: &mut HashMap<u64, Arc<Tracker>>) -> bool {
    let victim = open
        .values()
        .filter(|t| t.phase() != Phase::Busy)
        .min_by_key(|t| (t.since_ms(), t.id))
        .map(|t| t.id);
    match victim.and_then(|id| open.remove(&id)) {
        Some(tracker) => {
            tracker.shed.cancel();
            true
        }
        None => false,
    }
}

/// The answer to a connection refused because every connection is busy: OCI's error shape, so
/// SDKs retry it.
pub fn busy_response(capacity: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "code": "ServiceUnavailable",
        "message": format!(
            "galley-local has {capacity} connections open and all are busy; retry later, or \
             start it with a higher --max-connections (and file-descriptor limit)"
        ),
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nopc-request-id: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        crate::ids::request_id(),
        body.len()
    )
    .into_bytes()
}

/// A connection's socket, noting when bytes arrive on an idle connection.
pub struct TrackedIo<T> {
    inner: T,
    tracker: Arc<Tracker>,
}

impl<T> TrackedIo<T> {
    pub fn new(inner: T, tracker: Arc<Tracker>) -> Self {
        Self { inner, tracker }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.tracker.on_bytes();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A response body that marks its connection idle once hyper has sent it (and drops it).
pub struct TrackedBody {
    inner: axum::body::Body,
    tracker: Arc<Tracker>,
}

impl TrackedBody {
    pub fn new(inner: axum::body::Body, tracker: Arc<Tracker>) -> Self {
        Self { inner, tracker }
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.tracker.on_response_done();
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(capacity: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: capacity,
            ..ConnectionLimits::default()
        }
    }

    fn admit(r: &Registry) -> Arc<Tracker> {
        match r.admit() {
            Admission::Admit(t) => t,
            Admission::Refuse => panic!("refused"),
        }
    }

    #[test]
    fn at_capacity_the_longest_idle_connection_is_shed_and_busy_ones_are_kept() {
        let r = Registry::new(&limits(3));
        let busy = admit(&r);
        busy.on_request();
        let oldest_idle = admit(&r);
        std::thread::sleep(Duration::from_millis(5));
        let newer = admit(&r);
        // A fourth: the oldest non-busy connection makes room.
        let fourth = admit(&r);
        assert!(oldest_idle.shed.is_cancelled());
        assert!(!busy.shed.is_cancelled() && !newer.shed.is_cancelled());
        assert_eq!(r.len(), 3);
        // When all are busy, a new connection is refused.
        newer.on_request();
        fourth.on_request();
        assert!(matches!(r.admit(), Admission::Refuse));
        assert!(!r.shed_one());
        fourth.on_response_done();
        assert!(r.shed_one());
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn the_file_descriptor_limit_bounds_the_connection_count() {
        let budget = fd_limit().map(|n| n.saturating_sub(RESERVED_FDS).max(1) as usize);
        let unlimited = limits(usize::MAX).effective_max_connections();
        assert_eq!(unlimited, budget.unwrap_or(usize::MAX));
        assert_eq!(limits(1).effective_max_connections(), 1);
        assert_eq!(limits(0).effective_max_connections(), 1);
    }

    #[tokio::test]
    async fn each_phase_expires_after_its_own_timeout() {
        let l = ConnectionLimits {
            header_read_timeout: Duration::from_millis(50),
            idle_timeout: Duration::from_millis(300),
            request_timeout: Duration::from_millis(150),
            max_connections: 4,
        };
        let t = Tracker::new(1);
        let started = Instant::now();
        assert!(t.expired(&l).await.contains("header read timeout"));
        assert!(started.elapsed() >= Duration::from_millis(50));

        // Idle, then a byte arrives: the (shorter) header timeout takes over at once.
        t.on_response_done();
        let started = Instant::now();
        let t = Arc::new(t);
        let t2 = Arc::clone(&t);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            t2.on_bytes();
        });
        assert!(t.expired(&l).await.contains("header read timeout"));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(60) && waited < Duration::from_millis(250),
            "{waited:?}"
        );

        t.on_request();
        assert!(t.expired(&l).await.contains("request timeout"));
        t.on_response_done();
        let started = Instant::now();
        assert!(t.expired(&l).await.contains("idle"));
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
