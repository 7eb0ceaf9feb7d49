//! MCP sessions over HTTP (the `initialize` handshake of the older protocol revisions), with
//! limits: at most `max_sessions` live at once, and at most `max_streams` requests and event
//! streams open per session. The SDK's in-memory session manager does the work; this wrapper
//! counts. When the table is full, `initialize` closes the least recently used session with no
//! stream open; when every session has one open, `initialize` is refused. Each session costs
//! tens of kilobytes and each open stream more, so without these a client (or anyone reaching
//! an unauthenticated loopback server) could hold memory until the sessions expire.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::WorkerTransport;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker, SessionConfig,
};
use rmcp::transport::streamable_http_server::session::{ServerSseMessage, SessionId};
use rmcp::transport::streamable_http_server::{RestoreOutcome, SessionManager};

/// Why a session or a stream was refused.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(
        "the server already holds {max} MCP sessions (GALLEY_HTTP_MAX_SESSIONS), each with a request or event stream open; close a session you no longer use (HTTP DELETE with its Mcp-Session-Id) or try again later"
    )]
    Sessions { max: usize },
    #[error(
        "this MCP session already has {max} requests and event streams open (GALLEY_HTTP_MAX_STREAMS_PER_SESSION); wait for one to finish or close one"
    )]
    Streams { max: usize },
    #[error(transparent)]
    Sdk(#[from] LocalSessionManagerError),
}

/// What is known of one live session.
#[derive(Debug)]
struct Meta {
    streams: Arc<AtomicUsize>,
    /// Milliseconds since the manager started, of the last request.
    last_used: AtomicU64,
}

#[derive(Debug, Default)]
struct Table {
    sessions: HashMap<SessionId, Arc<Meta>>,
    /// Sessions being created: counted so concurrent `initialize` calls cannot overshoot.
    pending: usize,
}

/// The SDK's session manager with limits.
#[derive(Debug)]
pub struct LimitedSessions {
    inner: LocalSessionManager,
    max_sessions: usize,
    max_streams: usize,
    table: Mutex<Table>,
    epoch: Instant,
}

impl LimitedSessions {
    /// `idle`: a session that receives nothing for this long is closed (by the SDK).
    pub fn new(max_sessions: usize, max_streams: usize, idle: Duration) -> Self {
        let mut inner = LocalSessionManager::default();
        let mut config = SessionConfig::default();
        config.keep_alive = Some(idle);
        // Finished request streams are kept for a client that reconnects to resume them; a
        // short time is enough for that and bounds what a burst of requests leaves behind.
        config.completed_cache_ttl = Duration::from_secs(10);
        inner.session_config = config;
        LimitedSessions {
            inner,
            max_sessions,
            max_streams,
            table: Mutex::default(),
            epoch: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many sessions are live.
    pub fn live(&self) -> usize {
        self.table().sessions.len()
    }

    /// Makes room for one more session, closing the least recently used one without an open
    /// stream when the table is full; with `reserve`, counts the new session as pending.
    async fn make_room(&self, reserve: bool) -> Result<(), LimitError> {
        let victim = {
            let mut t = self.table();
            let victim = if t.sessions.len() + t.pending >= self.max_sessions {
                let oldest = t
                    .sessions
                    .iter()
                    .filter(|(_, m)| m.streams.load(Ordering::SeqCst) == 0)
                    .min_by_key(|(_, m)| m.last_used.load(Ordering::SeqCst))
                    .map(|(id, _)| id.clone());
                match oldest {
                    Some(id) => {
                        t.sessions.remove(&id);
                        Some(id)
                    }
                    None => {
                        return Err(LimitError::Sessions {
                            max: self.max_sessions,
                        });
                    }
                }
            } else {
                None
            };
            if reserve {
                t.pending += 1;
            }
            victim
        };
        if let Some(id) = victim {
            tracing::info!(session = %id, "closing the least recently used MCP session to make room");
            let _ = self.inner.close_session(&id).await;
        }
        Ok(())
    }

    /// For a clear refusal before the SDK creates a session: room for one more, evicting an
    /// idle session when needed.
    pub async fn admit_session(&self) -> Result<(), LimitError> {
        self.make_room(false).await
    }

    /// For a clear refusal before the SDK opens a stream: whether session `id` may open one more.
    pub fn admit_stream(&self, id: &str) -> Result<(), LimitError> {
        match self.table().sessions.get(id) {
            Some(m) if m.streams.load(Ordering::SeqCst) >= self.max_streams => {
                Err(LimitError::Streams {
                    max: self.max_streams,
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts a new stream of session `id` (refusing one over the limit) and marks it used.
    fn open_stream(&self, id: &SessionId) -> Result<Option<StreamPermit>, LimitError> {
        let t = self.table();
        let Some(m) = t.sessions.get(id) else {
            return Ok(None);
        };
        m.last_used.store(self.now(), Ordering::SeqCst);
        let counter = m.streams.clone();
        let prev = counter.fetch_add(1, Ordering::SeqCst);
        if prev >= self.max_streams {
            counter.fetch_sub(1, Ordering::SeqCst);
            return Err(LimitError::Streams {
                max: self.max_streams,
            });
        }
        Ok(Some(StreamPermit(counter)))
    }

    fn touch(&self, id: &SessionId) {
        if let Some(m) = self.table().sessions.get(id) {
            m.last_used.store(self.now(), Ordering::SeqCst);
        }
    }
}

/// Held by an open stream; counts it in its session.
struct StreamPermit(Arc<AtomicUsize>);

impl Drop for StreamPermit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream of a session that releases its permit when it ends.
struct Counted<S> {
    inner: Pin<Box<S>>,
    _permit: Option<StreamPermit>,
}

impl<S: Stream> Stream for Counted<S> {
    type Item = S::Item;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl SessionManager for LimitedSessions {
    type Error = LimitError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.make_room(true).await?;
        let created = self.inner.create_session().await;
        let mut t = self.table();
        t.pending = t.pending.saturating_sub(1);
        let (id, transport) = created?;
        t.sessions.insert(
            id.clone(),
            Arc::new(Meta {
                streams: Arc::default(),
                last_used: AtomicU64::new(self.now()),
            }),
        );
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.table().sessions.remove(id);
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let permit = self.open_stream(id)?;
        let stream = self.inner.create_stream(id, message).await?;
        Ok(Counted {
            inner: Box::pin(stream),
            _permit: permit,
        })
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.touch(id);
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let permit = self.open_stream(id)?;
        let stream = self.inner.create_standalone_stream(id).await?;
        Ok(Counted {
            inner: Box::pin(stream),
            _permit: permit,
        })
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let permit = self.open_stream(id)?;
        let stream = self.inner.resume(id, last_event_id).await?;
        Ok(Counted {
            inner: Box::pin(stream),
            _permit: permit,
        })
    }

    async fn restore_session(
        &self,
        _id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        Ok(RestoreOutcome::NotSupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_tables_evict_the_least_recently_used_idle_session_or_refuse() {
        let m = LimitedSessions::new(2, 1, Duration::from_secs(60));
        let (a, _ta) = m.create_session().await.unwrap();
        let (b, _tb) = m.create_session().await.unwrap();
        // `a` has a stream open: it is not idle, `b` is evicted for `c`.
        let permit = m.open_stream(&a).unwrap();
        assert!(matches!(
            m.open_stream(&a),
            Err(LimitError::Streams { max: 1 })
        ));
        assert!(m.admit_stream(&a).is_err());
        let (c, _tc) = m.create_session().await.unwrap();
        assert_eq!(m.live(), 2);
        assert!(!m.table().sessions.contains_key(&b));
        // Both busy: refused.
        let _permit_c = m.open_stream(&c).unwrap();
        assert!(matches!(
            m.create_session().await,
            Err(LimitError::Sessions { max: 2 })
        ));
        assert!(m.admit_session().await.is_err());
        drop(permit);
        assert!(m.admit_stream(&a).is_ok());
        m.create_session()
            .await
            .expect("a is idle again and is evicted");
        assert!(!m.table().sessions.contains_key(&a));
    }
}
