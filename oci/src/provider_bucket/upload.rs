//! Uploading a directory in the bucket layout (`<platform>/terraform-provider-<TYPE>_v<X.Y.Z>`,
//! what `deploy/package-provider.sh` writes to `dist/rm-bucket/`) to a bucket.
//!
//! Idempotent: an object whose MD5 already equals the file's is left alone. Every upload
//! carries `Content-MD5`, so the service refuses a body damaged on the way, and the MD5 the
//! service reports back is compared too.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::ProviderObject;
use crate::client::OciError;
use crate::object_storage::{
    CreateBucketDetails, ObjectStorageClient, PutObjectOptions, content_md5,
};

/// One executable of the local layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalBinary {
    pub object: ProviderObject,
    pub path: PathBuf,
}

/// What happened to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Written (it was missing or differed).
    Uploaded,
    /// Already there with the same MD5.
    Unchanged,
}

/// One object after [`upload`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub object_name: String,
    pub size: u64,
    /// Base64 MD5 of the content.
    pub md5: String,
    pub action: Action,
}

/// Why an upload failed; messages read as "failed to ..." and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "failed to upload {path}: it is not a provider binary in Resource Manager's bucket layout \
         (<linux_amd64|linux_arm64>/terraform-provider-<TYPE>_v<MAJOR.MINOR.PATCH>[_<SUFFIX>]); \
         the bucket must hold only provider binaries, so remove it from the directory"
    )]
    NotInLayout { path: PathBuf },
    #[error(
        "failed to find a provider binary in {dir}: expected \
         linux_amd64/terraform-provider-<TYPE>_v<X.Y.Z> (run deploy/package-provider.sh, which \
         writes dist/rm-bucket)"
    )]
    Empty { dir: PathBuf },
    #[error(
        "failed to find bucket {bucket} in namespace {namespace}: {source}. Create it (deploy/ \
         creates <prefix>-providers), or give a compartment to create it in"
    )]
    BucketNotFound {
        bucket: String,
        namespace: String,
        #[source]
        source: Box<OciError>,
    },
    #[error("failed to {what} bucket {bucket}: {source}")]
    Bucket {
        what: &'static str,
        bucket: String,
        #[source]
        source: Box<OciError>,
    },
    #[error("failed to {what} object {object} of bucket {bucket}: {source}")]
    Object {
        what: &'static str,
        object: String,
        bucket: String,
        #[source]
        source: Box<OciError>,
    },
    #[error(
        "failed to upload {object} to bucket {bucket} intact: the service stored MD5 {stored}, \
         the file has {local}; run the upload again"
    )]
    Md5Mismatch {
        object: String,
        bucket: String,
        stored: String,
        local: String,
    },
}

/// The provider binaries under `dir`, sorted by object name. Anything else in `dir` is an
/// error, because Resource Manager wants nothing but provider binaries in the bucket.
pub fn scan(dir: &Path) -> Result<Vec<LocalBinary>, UploadError> {
    let read = |path: &Path| {
        std::fs::read_dir(path).map_err(|source| UploadError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let mut found = Vec::new();
    for folder in read(dir)? {
        let folder = folder.map_err(|source| UploadError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let folder_path = folder.path();
        if !folder_path.is_dir() {
            return Err(UploadError::NotInLayout { path: folder_path });
        }
        for file in read(&folder_path)? {
            let file = file.map_err(|source| UploadError::Read {
                path: folder_path.clone(),
                source,
            })?;
            let path = file.path();
            let name = format!(
                "{}/{}",
                folder.file_name().to_string_lossy(),
                file.file_name().to_string_lossy()
            );
            match ProviderObject::parse(&name) {
                Some(object) if path.is_file() => found.push(LocalBinary { object, path }),
                _ => return Err(UploadError::NotInLayout { path }),
            }
        }
    }
    if found.is_empty() {
        return Err(UploadError::Empty {
            dir: dir.to_owned(),
        });
    }
    found.sort_by(|a, b| a.object.cmp(&b.object));
    Ok(found)
}

/// Makes sure the bucket exists: created in `compartment_id` when it is missing and one is
/// given. Returns whether it was created.
pub async fn ensure_bucket(
    client: &ObjectStorageClient,
    namespace: &str,
    bucket: &str,
    compartment_id: Option<&str>,
) -> Result<bool, UploadError> {
    match client.get_bucket(namespace, bucket).await {
        Ok(_) => Ok(false),
        Err(source) if source.is_not_found() => {
            let Some(compartment) = compartment_id else {
                return Err(UploadError::BucketNotFound {
                    bucket: bucket.to_owned(),
                    namespace: namespace.to_owned(),
                    source: Box::new(source),
                });
            };
            match client
                .create_bucket(namespace, &CreateBucketDetails::new(bucket, compartment))
                .await
            {
                Ok(_) => Ok(true),
                // Created by someone else in between: it exists, which is what was asked.
                Err(e) if e.status() == Some(409) => Ok(false),
                Err(source) => Err(UploadError::Bucket {
                    what: "create",
                    bucket: bucket.to_owned(),
                    source: Box::new(source),
                }),
            }
        }
        Err(source) => Err(UploadError::Bucket {
            what: "read",
            bucket: bucket.to_owned(),
            source: Box::new(source),
        }),
    }
}

/// Puts every binary into the bucket unless an object with its MD5 is already there, calling
/// `each` after every object (in order).
pub async fn upload(
    client: &ObjectStorageClient,
    namespace: &str,
    bucket: &str,
    binaries: &[LocalBinary],
    mut each: impl FnMut(&Placed),
) -> Result<Vec<Placed>, UploadError> {
    let mut placed = Vec::with_capacity(binaries.len());
    for binary in binaries {
        let object = binary.object.object_name();
        let object_error = |what: &'static str| {
            let object = object.clone();
            move |source| UploadError::Object {
                what,
                object,
                bucket: bucket.to_owned(),
                source: Box::new(source),
            }
        };
        let body = std::fs::read(&binary.path).map_err(|source| UploadError::Read {
            path: binary.path.clone(),
            source,
        })?;
        let md5 = content_md5(&body);
        let size = body.len() as u64;
        let existing = client
            .head_object(namespace, bucket, &object)
            .await
            .map_err(object_error("read"))?;
        let action = if existing.is_some_and(|h| h.value.content_md5.as_deref() == Some(&md5)) {
            Action::Unchanged
        } else {
            let options = PutObjectOptions {
                content_type: Some("application/octet-stream".to_owned()),
                content_md5: Some(md5.clone()),
                ..PutObjectOptions::default()
            };
            let reply = client
                .put_object(namespace, bucket, &object, Bytes::from(body), &options)
                .await
                .map_err(object_error("upload"))?;
            if let Some(stored) = reply.value.content_md5.as_deref()
                && stored != md5
            {
                return Err(UploadError::Md5Mismatch {
                    object,
                    bucket: bucket.to_owned(),
                    stored: stored.to_owned(),
                    local: md5,
                });
            }
            Action::Uploaded
        };
        let p = Placed {
            object_name: object,
            size,
            md5,
            action,
        };
        each(&p);
        placed.push(p);
    }
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_in_the_layout_scans_and_anything_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let amd = dir.path().join("linux_amd64");
        let arm = dir.path().join("linux_arm64");
        std::fs::create_dir_all(&amd).unwrap();
        std::fs::create_dir_all(&arm).unwrap();
        assert!(matches!(scan(dir.path()), Err(UploadError::Empty { .. })));
        std::fs::write(arm.join("terraform-provider-galley_v0.1.0"), b"arm").unwrap();
        std::fs::write(amd.join("terraform-provider-galley_v0.1.0"), b"amd").unwrap();
        let found = scan(dir.path()).unwrap();
        let names: Vec<String> = found.iter().map(|b| b.object.object_name()).collect();
        assert_eq!(
            names,
            [
                "linux_amd64/terraform-provider-galley_v0.1.0",
                "linux_arm64/terraform-provider-galley_v0.1.0"
            ]
        );

        std::fs::write(amd.join("terraform-provider-galley_0.1.0.zip"), b"zip").unwrap();
        let err = scan(dir.path()).unwrap_err().to_string();
        assert!(err.contains("terraform-provider-galley_0.1.0.zip"), "{err}");
        assert!(err.contains("not a provider binary"), "{err}");
        std::fs::remove_file(amd.join("terraform-provider-galley_0.1.0.zip")).unwrap();
        std::fs::write(dir.path().join("SHA256SUMS"), b"x").unwrap();
        assert!(matches!(
            scan(dir.path()),
            Err(UploadError::NotInLayout { .. })
        ));
    }
}
