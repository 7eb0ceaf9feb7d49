//! `opc-retry-token` idempotency for create calls: the same token with the same body returns
//! the resource the first call created; the same token with a different body is a 409
//! `InvalidatedRetryToken`. Tokens are kept on disk so a retry after a restart still works.
//!
//! Callers hold [`RetryTokens::guard`] across check, create and remember, so two concurrent
//! retries cannot both create.

use std::path::PathBuf;

use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, MutexGuard};

use crate::api::{ApiError, ApiResult, OPC_RETRY_TOKEN};
use crate::store;

/// How long OCI honours a retry token.
const TOKEN_LIFETIME: time::Duration = time::Duration::hours(24);

#[derive(Serialize, Deserialize)]
struct Record {
    scope: String,
    body_sha256: String,
    resource_id: String,
    time_created: String,
}

/// Tokens remembered under `<data>/retry-tokens/`.
pub struct RetryTokens {
    dir: PathBuf,
    lock: Mutex<()>,
}

/// A claimed retry token: what the create call must do.
pub enum Claim {
    /// No token sent: just create.
    None,
    /// A token seen before with this body: answer with this resource.
    Replay(String),
    /// A new token: create, then [`RetryTokens::remember`] it.
    New { key: String, body_sha256: String },
}

impl RetryTokens {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            lock: Mutex::new(()),
        }
    }

    /// Serializes create calls that carry retry tokens.
    pub async fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// Looks up the `opc-retry-token` of a create call in `scope` (such as `CreateStack`).
    pub fn claim(&self, scope: &str, headers: &HeaderMap, body: &[u8]) -> ApiResult<Claim> {
        let Some(token) = headers.get(OPC_RETRY_TOKEN) else {
            return Ok(Claim::None);
        };
        let token = token
            .to_str()
            .map_err(|_| ApiError::invalid("opc-retry-token must be ASCII"))?;
        if token.is_empty() || token.len() > 64 {
            return Err(ApiError::invalid(
                "opc-retry-token must be 1 to 64 characters",
            ));
        }
        let key = hex::encode(Sha256::digest(format!("{scope}\n{token}")));
        let body_sha256 = hex::encode(Sha256::digest(body));
        match store::read_json::<Record>(&self.dir.join(format!("{key}.json"))) {
            Ok(rec) if !expired(&rec.time_created) => {
                if rec.body_sha256 == body_sha256 {
                    Ok(Claim::Replay(rec.resource_id))
                } else {
                    Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "InvalidatedRetryToken",
                        "this opc-retry-token was already used with a different request body",
                    ))
                }
            }
            Ok(_) => Ok(Claim::New { key, body_sha256 }),
            Err(e) if e.is_not_found() => Ok(Claim::New { key, body_sha256 }),
            Err(e) => Err(e.into()),
        }
    }

    /// Records that `claim` created `resource_id`.
    pub fn remember(&self, scope: &str, claim: &Claim, resource_id: &str) -> ApiResult<()> {
        if let Claim::New { key, body_sha256 } = claim {
            store::write_json(
                &self.dir.join(format!("{key}.json")),
                &Record {
                    scope: scope.to_owned(),
                    body_sha256: body_sha256.clone(),
                    resource_id: resource_id.to_owned(),
                    time_created: crate::clock::now(),
                },
            )?;
        }
        Ok(())
    }
}

fn expired(time_created: &str) -> bool {
    crate::clock::parse(time_created)
        .is_none_or(|t| time::OffsetDateTime::now_utc() - t > TOKEN_LIFETIME)
}
