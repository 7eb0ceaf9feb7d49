//! The build's objects in Object Storage: the uploaded context
//! (`galley-build/<sha256>.tar.gz`, kept until the resource is deleted, so the same context is
//! uploaded once), and per build a [`Scratch`]: the registry token object and the
//! pre-authenticated URLs, all removed when the build ends.

use std::time::Duration;

use bytes::Bytes;
use galley_oci::auth::Secret;
use galley_oci::object_storage::{
    CreatePreauthenticatedRequestDetails, ObjectStorageClient, PreauthenticatedAccessType,
    PutObjectOptions, content_md5,
};

use super::error::BuildError;
use crate::packaging::Package;

/// Where build contexts are uploaded: `galley-build/<sha256>.tar.gz`.
pub const OBJECT_PREFIX: &str = "galley-build/";

/// The object name of the context whose files have digest `digest`.
pub fn object_name(digest: &str) -> String {
    format!("{OBJECT_PREFIX}{digest}.tar.gz")
}

/// An uploaded build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub namespace: String,
    pub bucket: String,
    pub object: String,
    /// The digest of its files.
    pub source_sha256: String,
}

/// Uploads `package` to `bucket`, unless the same context is there already. `namespace` is
/// looked up (as the tenancy's, seen from `compartment_id`) when not given.
pub async fn upload(
    os: &ObjectStorageClient,
    compartment_id: &str,
    namespace: Option<&str>,
    bucket: &str,
    package: Package,
) -> Result<Uploaded, BuildError> {
    let namespace = match namespace {
        Some(ns) => ns.to_owned(),
        None => {
            os.get_namespace(Some(compartment_id))
                .await
                .map_err(BuildError::Namespace)?
                .value
        }
    };
    let object = object_name(&package.digest);
    // The same context uploaded before is the same object: no need to send it again.
    let exists = matches!(
        os.head_object(&namespace, bucket, &object).await,
        Ok(Some(_))
    );
    if !exists {
        tracing::info!(bucket = %bucket, object = %object, bytes = package.bytes.len(), "uploading the build context");
        let options = PutObjectOptions {
            content_type: Some("application/gzip".into()),
            content_md5: Some(content_md5(&package.bytes)),
            ..Default::default()
        };
        os.put_object(
            &namespace,
            bucket,
            &object,
            Bytes::from(package.bytes),
            &options,
        )
        .await
        .map_err(BuildError::Upload)?;
    }
    Ok(Uploaded {
        namespace,
        bucket: bucket.to_owned(),
        object,
        source_sha256: package.digest,
    })
}

/// Whether the uploaded context `object` is still there.
pub async fn context_exists(
    os: &ObjectStorageClient,
    namespace: &str,
    bucket: &str,
    object: &str,
) -> Result<bool, BuildError> {
    match os.head_object(namespace, bucket, object).await {
        Ok(found) => Ok(found.is_some()),
        Err(e) if e.is_not_found() => Ok(false),
        Err(source) => Err(BuildError::CheckContext {
            bucket: bucket.to_owned(),
            object: object.to_owned(),
            source,
        }),
    }
}

/// Deletes the uploaded context `object`; one already gone is fine.
pub async fn remove_context(
    os: &ObjectStorageClient,
    namespace: &str,
    bucket: &str,
    object: &str,
) -> Result<(), BuildError> {
    match os.delete_object(namespace, bucket, object, None).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(source) => Err(BuildError::DeleteContext {
            bucket: bucket.to_owned(),
            object: object.to_owned(),
            source,
        }),
    }
}

/// Deletes the context a previous build uploaded as `object`, unless it is `now`'s: a
/// rebuild from other files leaves it unused.
pub async fn remove_replaced(
    os: &ObjectStorageClient,
    namespace: &str,
    bucket: &str,
    object: &str,
    now: &Uploaded,
) -> Result<(), BuildError> {
    if (namespace, bucket, object) == (&now.namespace, &now.bucket, &now.object) {
        return Ok(());
    }
    remove_context(os, namespace, bucket, object).await
}

fn random_hex() -> String {
    galley_oci::client::retry::new_retry_token()
}

/// The objects and URLs one build makes next to its context, removed by [`Scratch::clean`].
pub struct Scratch<'a> {
    os: &'a ObjectStorageClient,
    namespace: &'a str,
    bucket: &'a str,
    pars: Vec<String>,
    token_object: Option<String>,
}

impl<'a> Scratch<'a> {
    pub fn new(os: &'a ObjectStorageClient, context: &'a Uploaded) -> Self {
        Scratch {
            os,
            namespace: &context.namespace,
            bucket: &context.bucket,
            pars: Vec::new(),
            token_object: None,
        }
    }

    /// A URL that reads `object` for `life`.
    pub async fn read_url(&mut self, object: &str, life: Duration) -> Result<String, BuildError> {
        let par = self
            .os
            .create_preauthenticated_request(
                self.namespace,
                self.bucket,
                &CreatePreauthenticatedRequestDetails::object_read_for(
                    format!("galley-build-context-{}", &random_hex()[..12]),
                    object,
                    life,
                ),
            )
            .await
            .map_err(BuildError::ContextUrl)?
            .value;
        self.pars.push(par.id.clone());
        Ok(par.url(self.os.base_url()))
    }

    /// Stores `token` as an object of its own and returns a URL that reads and overwrites it
    /// for `life`: the script reads the token once, then overwrites it.
    pub async fn token_url(
        &mut self,
        token: &Secret,
        life: Duration,
    ) -> Result<String, BuildError> {
        let object = format!("{OBJECT_PREFIX}secrets/{}", random_hex());
        self.os
            .put_object(
                self.namespace,
                self.bucket,
                &object,
                Bytes::copy_from_slice(token.expose().as_bytes()),
                &PutObjectOptions {
                    content_type: Some("application/octet-stream".into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(BuildError::StageToken)?;
        self.token_object = Some(object.clone());
        let par = self
            .os
            .create_preauthenticated_request(
                self.namespace,
                self.bucket,
                &CreatePreauthenticatedRequestDetails {
                    access_type: PreauthenticatedAccessType::ObjectReadWrite,
                    ..CreatePreauthenticatedRequestDetails::object_read_for(
                        format!("galley-build-login-{}", &random_hex()[..12]),
                        object,
                        life,
                    )
                },
            )
            .await
            .map_err(BuildError::TokenUrl)?
            .value;
        self.pars.push(par.id.clone());
        Ok(par.url(self.os.base_url()))
    }

    /// Deletes the token object and the URLs. Failures are logged, not returned: the build's
    /// result stands, and the URLs expire on their own.
    pub async fn clean(self) {
        let (os, namespace, bucket) = (self.os, self.namespace, self.bucket);
        if let Some(object) = &self.token_object {
            if let Err(e) = os.delete_object(namespace, bucket, object, None).await {
                if !e.is_not_found() {
                    tracing::warn!(error = %e, "failed to delete the registry token object");
                }
            }
        }
        for par in &self.pars {
            if let Err(e) = os
                .delete_preauthenticated_request(namespace, bucket, par)
                .await
            {
                if !e.is_not_found() {
                    tracing::warn!(error = %e, "failed to delete a pre-authenticated request");
                }
            }
        }
    }
}
