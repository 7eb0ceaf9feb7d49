//! The Terraform `http` backend that the runner's Terraform keeps its state in when sessions
//! live in a bucket: served by the sidecar on a loopback port of its own, it keeps each
//! session's state and the state's lock as runner objects of the store (`terraform.tfstate`,
//! `terraform.tflock`), so the link between a session and its Resource Manager stack is never
//! only on local disk, and two writers are refused rather than merged.
//!
//! The protocol is the one of Terraform's `http` backend (1.0 through 1.15): `GET` the state
//! (`404`: none yet), `POST` a new state (`?ID=<lock id>` while locked), `LOCK` and `UNLOCK` with
//! the lock's JSON (`423` with the holder's lock when taken), `DELETE`. Every request carries the
//! password of this process (basic auth), which only the Terraform runs it starts are given.
//! State writes are conditional on the version this server last read or wrote, and need the
//! lock when one is held.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::runner::RemoteState;
use crate::store::{Cond, SessionStore, StoreError, Version, objects, validate_session_id};

/// The user name Terraform sends (the password is what matters).
pub const USERNAME: &str = "galley";
/// Largest state accepted (one `galley_session` makes a few kilobytes).
const MAX_STATE_BYTES: usize = 64 << 20;

/// Where the backend listens and its password: what the runner hands Terraform.
#[derive(Clone)]
pub struct StateBackend {
    base: String,
    password: String,
}

impl std::fmt::Debug for StateBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateBackend")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl StateBackend {
    /// The backend settings of session `id`'s root module.
    pub fn for_session(&self, id: &str) -> RemoteState {
        RemoteState {
            address: format!("{}/state/{id}", self.base),
            username: USERNAME.into(),
            password: self.password.clone(),
        }
    }
}

struct Shared {
    store: SessionStore,
    /// `Basic <base64 of galley:password>`.
    authorization: String,
    /// The state's version as this server last saw it, per session (`None`: no state).
    versions: Mutex<HashMap<String, Option<Version>>>,
}

/// A random password for this process's backend.
fn new_password() -> String {
    let mut bytes = [0u8; 24];
    let _ = getrandom::fill(&mut bytes);
    hex::encode(bytes)
}

/// The backend's routes over `store`, checking `password`.
pub fn app(store: SessionStore, password: &str) -> Router {
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{USERNAME}:{password}").as_bytes());
    let shared = Arc::new(Shared {
        store,
        authorization: format!("Basic {credentials}"),
        versions: Mutex::default(),
    });
    Router::new()
        .route("/state/{id}", any(handle))
        .layer(DefaultBodyLimit::max(MAX_STATE_BYTES))
        .with_state(shared)
}

/// Serves the backend over `store` on a free loopback port until `shutdown`.
pub async fn serve(
    store: SessionStore,
    shutdown: CancellationToken,
) -> std::io::Result<StateBackend> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let password = new_password();
    let router = app(store, &password);
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the Terraform state backend stopped");
        }
    });
    tracing::info!(%addr, "serving the runner's Terraform state backend");
    Ok(StateBackend {
        base: format!("http://{addr}"),
        password,
    })
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A store failure as Terraform should see it: a conflict is final, anything else is worth a
/// retry (Terraform retries 5xx).
fn failed(e: StoreError) -> Response {
    match e {
        StoreError::Conflict { .. } => text(
            StatusCode::CONFLICT,
            "the state was changed by another writer since it was read",
        ),
        other => {
            tracing::warn!(error = %other, "the state backend could not reach the store");
            text(StatusCode::SERVICE_UNAVAILABLE, other.to_string())
        }
    }
}

/// The `ID` of a lock's JSON.
fn lock_id(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("ID")?
        .as_str()
        .map(str::to_string)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if !bool::from(given.ct_eq(shared.authorization.as_bytes())) {
        let mut r = text(StatusCode::UNAUTHORIZED, "unauthorized");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"galley\""),
        );
        return r;
    }
    if validate_session_id(&id).is_err() {
        return text(StatusCode::NOT_FOUND, "no such session");
    }
    tracing::debug!(session = %id, method = %method, "state backend request");
    match method.as_str() {
        "GET" => get(&shared, &id).await,
        "POST" | "PUT" => update(&shared, &id, query.get("ID"), body).await,
        "DELETE" => delete(&shared, &id).await,
        "LOCK" => lock(&shared, &id, body).await,
        "UNLOCK" => unlock(&shared, &id, body).await,
        _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

fn remember(shared: &Shared, id: &str, version: Option<Version>) {
    shared
        .versions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.to_string(), version);
}

async fn get(shared: &Shared, id: &str) -> Response {
    match shared.store.get_object(id, objects::STATE).await {
        Ok(Some((bytes, version))) => {
            remember(shared, id, Some(version));
            json(StatusCode::OK, bytes)
        }
        Ok(None) => {
            remember(shared, id, None);
            text(StatusCode::NOT_FOUND, "no state yet")
        }
        Err(e) => failed(e),
    }
}

async fn update(shared: &Shared, id: &str, lock: Option<&String>, body: Bytes) -> Response {
    // While a lock is held, only its holder writes.
    match shared.store.get_object(id, objects::STATE_LOCK).await {
        Ok(Some((held, _))) => {
            let held_id = lock_id(&held);
            if lock.is_none() || held_id.as_ref() != lock {
                return json(StatusCode::LOCKED, held);
            }
        }
        Ok(None) => {}
        Err(e) => return failed(e),
    }
    let known = shared
        .versions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .cloned();
    let cond = match known {
        Some(v) => Cond::from_current(v.as_ref()),
        // Never read by this server (Terraform reads before it writes): what is there now.
        None => match shared.store.get_object(id, objects::STATE).await {
            Ok(current) => Cond::from_current(current.map(|(_, v)| v).as_ref()),
            Err(e) => return failed(e),
        },
    };
    match shared
        .store
        .put_object(id, objects::STATE, body.to_vec(), cond)
        .await
    {
        Ok(version) => {
            remember(shared, id, Some(version));
            StatusCode::OK.into_response()
        }
        Err(e) => {
            // Read again next time rather than trust a version that lost.
            shared
                .versions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
            failed(e)
        }
    }
}

async fn delete(shared: &Shared, id: &str) -> Response {
    let current = match shared.store.get_object(id, objects::STATE).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    if let Some((_, version)) = current
        && let Err(e) = shared
            .store
            .delete_object(id, objects::STATE, Cond::Matches(version))
            .await
    {
        return failed(e);
    }
    remember(shared, id, None);
    StatusCode::OK.into_response()
}

async fn lock(shared: &Shared, id: &str, body: Bytes) -> Response {
    let Some(wanted) = lock_id(&body) else {
        return text(StatusCode::BAD_REQUEST, "the lock has no ID");
    };
    match shared
        .store
        .put_object(id, objects::STATE_LOCK, body.to_vec(), Cond::Absent)
        .await
    {
        Ok(_) => StatusCode::OK.into_response(),
        Err(StoreError::Conflict { .. }) => {
            match shared.store.get_object(id, objects::STATE_LOCK).await {
                Ok(Some((held, _))) if lock_id(&held).as_deref() == Some(wanted.as_str()) => {
                    StatusCode::OK.into_response()
                }
                Ok(Some((held, _))) => json(StatusCode::LOCKED, held),
                // Released in between: the caller tries again.
                Ok(None) => text(StatusCode::CONFLICT, "the lock changed; try again"),
                Err(e) => failed(e),
            }
        }
        Err(e) => failed(e),
    }
}

async fn unlock(shared: &Shared, id: &str, body: Bytes) -> Response {
    let wanted = lock_id(&body);
    match shared.store.get_object(id, objects::STATE_LOCK).await {
        Ok(None) => StatusCode::OK.into_response(),
        Ok(Some((held, version))) => {
            if wanted.is_some() && lock_id(&held) != wanted {
                return json(StatusCode::CONFLICT, held);
            }
            match shared
                .store
                .delete_object(id, objects::STATE_LOCK, Cond::Matches(version))
                .await
            {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => failed(e),
            }
        }
        Err(e) => failed(e),
    }
}
