//! The lease of heavy operations: a plan, apply or destroy holds the runner object `lease.json`
//! of its session for as long as it runs, so two sidecars on one bucket (or one data directory)
//! never run Terraform on one session at once. The lease names its holder and when it ends; it
//! is renewed every third of its duration while held, released when the operation ends, and
//! taken over by anyone once it has ended without renewal (its holder died). A lease whose
//! renewal finds it taken over (or cannot renew it before it ends) reports it lost, and the
//! operation is cancelled.
//!
//! Taking a lease also removes a lock of the session's Terraform state left behind: only a
//! lease holder runs Terraform on the session, so a lock present while nobody holds the lease is
//! a dead holder's.
//!
//! Times are the holders' wall clocks (Unix seconds): sidecars sharing a bucket must agree on
//! the time to well within the lease duration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{Cond, SessionStore, StoreError, Version, objects};
use crate::model::now_secs;

/// How long a lease lasts without renewal, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Who takes leases, and for how long.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// This process, as a holder: `galley-sidecar on <host>, pid <pid> (<random>)`.
    pub holder: String,
    pub duration: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        LeaseSettings {
            holder: holder_name(),
            duration: DEFAULT_LEASE,
        }
    }
}

/// The name of this process as a lease holder: the host and pid say where to look, the random
/// part tells two processes that reused a pid apart.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into());
    let mut nonce = [0u8; 3];
    let _ = getrandom::fill(&mut nonce);
    format!(
        "galley-sidecar on {host}, pid {} ({})",
        std::process::id(),
        hex::encode(nonce)
    )
}

/// What `lease.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    pub holder: String,
    pub operation: String,
    pub acquired_at: u64,
    /// Unix seconds; renewed while held.
    pub expires_at: u64,
}

impl LeaseInfo {
    fn expired(&self, now: u64) -> bool {
        self.expires_at <= now
    }
}

/// RFC 3339 (UTC, seconds) of Unix seconds, for messages.
pub fn rfc3339(secs: u64) -> String {
    galley_oci::model::rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

/// A held lease. Dropping it releases it in the background; [`Lease::release`] waits.
pub struct Lease {
    store: SessionStore,
    session: String,
    /// The lease this one replaced after it ended unrenewed: its holder died mid-operation.
    taken_over: Option<LeaseInfo>,
    lost: CancellationToken,
    renewer: Option<tokio::task::JoinHandle<Option<Version>>>,
    stop: CancellationToken,
    released: bool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("session", &self.session)
            .field("taken_over", &self.taken_over)
            .finish()
    }
}

/// How many times acquiring reads and writes again after losing a race for the object.
const ACQUIRE_ATTEMPTS: usize = 3;

impl Lease {
    pub(super) async fn acquire(
        store: SessionStore,
        session: &str,
        operation: &str,
    ) -> Result<Lease, StoreError> {
        let settings = store.leases().clone();
        for _ in 0..ACQUIRE_ATTEMPTS {
            let now = now_secs();
            let current = store.get_object(session, objects::LEASE).await?;
            let (cond, taken_over) = match current {
                None => (Cond::Absent, None),
                Some((bytes, version)) => match serde_json::from_slice::<LeaseInfo>(&bytes) {
                    // Our own lease (an earlier release failed) is ours to take again.
                    Ok(info) if info.holder == settings.holder => (Cond::Matches(version), None),
                    Ok(info) if info.expired(now) => (Cond::Matches(version), Some(info)),
                    Ok(info) => {
                        return Err(StoreError::Busy {
                            id: session.to_string(),
                            holder: info.holder,
                            operation: info.operation,
                            until: rfc3339(info.expires_at),
                        });
                    }
                    Err(e) => {
                        tracing::warn!(session, error = %e, "replacing an unreadable lease");
                        (Cond::Matches(version), None)
                    }
                },
            };
            let info = LeaseInfo {
                holder: settings.holder.clone(),
                operation: operation.to_string(),
                acquired_at: now,
                expires_at: now + settings.duration.as_secs().max(1),
            };
            let bytes = serde_json::to_vec(&info).unwrap_or_default();
            match store.put_object(session, objects::LEASE, bytes, cond).await {
                Ok(version) => {
                    if let Some(old) = &taken_over {
                        tracing::warn!(session, holder = %old.holder, operation = %old.operation, "took over a lease that ended unrenewed");
                    }
                    // A state lock nobody holds a lease for is a dead run's.
                    if let Some((_, lock)) = store.get_object(session, objects::STATE_LOCK).await? {
                        tracing::warn!(
                            session,
                            "removing a Terraform state lock left by a run that ended"
                        );
                        store
                            .delete_object(session, objects::STATE_LOCK, Cond::Matches(lock))
                            .await?;
                    }
                    return Ok(Lease::start(store, session, info, version, taken_over));
                }
                // Another sidecar wrote it between the read and the write: read again.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        // Lost every race: someone else holds it now; say who.
        match store.get_object(session, objects::LEASE).await? {
            Some((bytes, _)) => {
                let info: LeaseInfo =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::BadObject {
                        id: session.to_string(),
                        name: objects::LEASE.into(),
                        reason: e.to_string(),
                    })?;
                Err(StoreError::Busy {
                    id: session.to_string(),
                    holder: info.holder,
                    operation: info.operation,
                    until: rfc3339(info.expires_at),
                })
            }
            None => Err(StoreError::Conflict {
                id: session.to_string(),
            }),
        }
    }

    fn start(
        store: SessionStore,
        session: &str,
        info: LeaseInfo,
        version: Version,
        taken_over: Option<LeaseInfo>,
    ) -> Lease {
        let lost = CancellationToken::new();
        let stop = CancellationToken::new();
        let renewer = tokio::spawn(renew(
            store.clone(),
            session.to_string(),
            info,
            version,
            lost.clone(),
            stop.clone(),
        ));
        Lease {
            store,
            session: session.to_string(),
            taken_over,
            lost,
            renewer: Some(renewer),
            stop,
            released: false,
        }
    }

    /// The lease this one replaced after it ended unrenewed (its holder died during an
    /// operation, whose jobs may still run).
    pub fn taken_over(&self) -> Option<&LeaseInfo> {
        self.taken_over.as_ref()
    }

    /// Cancelled when the lease is lost (taken over, or not renewed in time).
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Stops renewing and removes the lease; problems are logged (the lease then ends on its
    /// own).
    pub async fn release(mut self) {
        self.released = true;
        let version = self.stop_renewing().await;
        release(&self.store, &self.session, version).await;
    }

    async fn stop_renewing(&mut self) -> Option<Version> {
        self.stop.cancel();
        match self.renewer.take() {
            Some(task) => task.await.ok().flatten(),
            None => None,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.stop.cancel();
        let Some(task) = self.renewer.take() else {
            return;
        };
        let store = self.store.clone();
        let session = self.session.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let version = task.await.ok().flatten();
                release(&store, &session, version).await;
            });
        }
    }
}

async fn release(store: &SessionStore, session: &str, version: Option<Version>) {
    let Some(version) = version else {
        return;
    };
    match store
        .delete_object(session, objects::LEASE, Cond::Matches(version))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            tracing::warn!(session, "the lease was taken over before it was released")
        }
        Err(e) => {
            tracing::warn!(session, error = %e, "failed to release the lease; it ends on its own")
        }
    }
}

/// Renews the lease every third of its duration until stopped; returns the version held then
/// (`None` once lost).
async fn renew(
    store: SessionStore,
    session: String,
    mut info: LeaseInfo,
    mut version: Version,
    lost: CancellationToken,
    stop: CancellationToken,
) -> Option<Version> {
    let duration = store.leases().duration;
    let period = (duration / 3).max(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Some(version),
            _ = tokio::time::sleep(period) => {}
        }
        let now = now_secs();
        let renewed = LeaseInfo {
            expires_at: now + duration.as_secs().max(1),
            ..info.clone()
        };
        let bytes = serde_json::to_vec(&renewed).unwrap_or_default();
        match store
            .put_object(
                &session,
                objects::LEASE,
                bytes,
                Cond::Matches(version.clone()),
            )
            .await
        {
            Ok(v) => {
                version = v;
                info = renewed;
            }
            Err(StoreError::Conflict { .. }) => {
                tracing::error!(session = %session, "the lease was taken over by another sidecar; cancelling the operation");
                lost.cancel();
                return None;
            }
            Err(e) if info.expired(now_secs()) => {
                tracing::error!(session = %session, error = %e, "the lease could not be renewed before it ended; cancelling the operation");
                lost.cancel();
                return None;
            }
            Err(e) => {
                tracing::warn!(session = %session, error = %e, "failed to renew the lease; trying again");
            }
        }
    }
}
