//! The engine's shared state and its router.
//!
//! [`AppState::open`] creates or reopens the data directory (recovering jobs and commands a
//! restart interrupted); [`app`] builds the router: services, admin endpoints, and the
//! middleware stack (request id, then fault injection, then signature verification).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::Agent;
use crate::config::Config;
use crate::faults::Faults;
use crate::objectstorage::ObjectStorage;
use crate::retry::RetryTokens;
use crate::rm::Rm;
use crate::store::StoreError;
use crate::trust::TrustStore;
use crate::{agent, api, auth, faults, objectstorage, rm};

/// Why the engine could not open its data directory.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("failed to create the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Shared by every handler and background task. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    trust: TrustStore,
    faults: Faults,
    retry: RetryTokens,
    rm: Rm,
    agent: Agent,
    os: ObjectStorage,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl AppState {
    /// Opens (or creates) the data directory. Jobs and commands that were running when the
    /// engine last stopped are marked FAILED. Must be called inside a Tokio runtime.
    pub fn open(mut config: Config, trust: TrustStore) -> Result<Self, OpenError> {
        let dir_error = |source| OpenError::DataDir {
            path: config.data_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.data_dir).map_err(dir_error)?;
        // Jobs run terraform in their own directories: every path handed to them is absolute.
        let root = std::fs::canonicalize(&config.data_dir).map_err(dir_error)?;
        config.data_dir = root.clone();
        let rm = Rm::open(&root)?;
        let agent = Agent::open(&root)?;
        let os = ObjectStorage::open(&root, &config.namespace)?;
        Ok(Self(Arc::new(Inner {
            retry: RetryTokens::new(root.join("retry-tokens")),
            config,
            trust,
            faults: Faults::default(),
            rm,
            agent,
            os,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        })))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn trust(&self) -> &TrustStore {
        &self.0.trust
    }

    pub fn faults(&self) -> &Faults {
        &self.0.faults
    }

    pub fn retry(&self) -> &RetryTokens {
        &self.0.retry
    }

    pub fn rm(&self) -> &Rm {
        &self.0.rm
    }

    pub fn agent(&self) -> &Agent {
        &self.0.agent
    }

    pub fn os(&self) -> &ObjectStorage {
        &self.0.os
    }

    /// Cancelled when the engine shuts down: runners stop their processes.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.0.shutdown
    }

    /// Spawns a background task (a job or command runner) that shutdown waits for.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.tasks.spawn(fut);
    }

    /// Stops running jobs and commands (they are recorded as interrupted) and waits for their
    /// runners to finish.
    pub async fn shutdown(&self) {
        self.0.shutdown.cancel();
        self.0.tasks.close();
        self.0.tasks.wait().await;
    }
}

/// The router: Resource Manager, Instance Agent, Object Storage and the admin endpoints,
/// behind request ids, fault injection and signature verification.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(rm::routes())
        .merge(agent::routes())
        .merge(objectstorage::routes())
        .merge(faults::admin_routes())
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn_with_state(state.clone(), faults::inject))
        .layer(from_fn(api::request_id))
        // The authentication layer buffers bodies with its own limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
