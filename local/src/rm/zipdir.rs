//! Stack configurations as zips: checking an upload, the working directory inside it, and
//! extracting it into a job's work directory without letting an entry escape it (`..` or
//! absolute paths, symbolic links) and within [`ExtractLimits`] (total bytes and entries, so a
//! zip bomb fails instead of filling the disk). A failed extraction removes what it wrote.

use std::fs;
use std::io::{self, Cursor, Read};
use std::path::{Component, Path, PathBuf};

use zip::ZipArchive;

use crate::config::ExtractLimits;

/// Which extraction limit a configuration exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Bytes,
    Files,
}

/// Why a configuration zip or working directory is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("failed to read the configuration zip: {0}")]
    Archive(#[from] zip::result::ZipError),
    #[error(
        "failed to extract the configuration zip: entry {0} is a symbolic link or would land \
         outside the work directory; zip the files themselves, with relative paths"
    )]
    UnsafeEntry(String),
    #[error("failed to extract the configuration zip: {0}")]
    Io(#[from] io::Error),
    #[error("workingDirectory {0} must be a relative path inside the zip, without `..`")]
    BadWorkingDirectory(String),
    #[error(
        "failed to extract the configuration zip: it holds more than {limit} {what} once \
         extracted, galley-local's limit for a job's configuration; leave build output and \
         other large files out of the zip, or start galley-local with a higher {flag}",
        what = match .which { Limit::Bytes => "bytes", Limit::Files => "entries" },
        flag = match .which {
            Limit::Bytes => "--max-config-extracted-mib",
            Limit::Files => "--max-config-files",
        }
    )]
    TooLarge { which: Limit, limit: u64 },
}

impl ZipError {
    fn unsafe_entry(name: &str) -> ZipError {
        ZipError::UnsafeEntry(format!("{:?}", galley_oci::echo::echo(name)))
    }
}

/// Checks that `bytes` is a zip whose entries all stay inside the extraction directory.
pub fn check(bytes: &[u8]) -> Result<(), ZipError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes))?;
    for i in 0..archive.len() {
        let entry = archive.by_index(i)?;
        if entry.enclosed_name().is_none() {
            return Err(ZipError::unsafe_entry(entry.name()));
        }
    }
    Ok(())
}

/// Normalises a `workingDirectory`: relative, no `..`; `None` or empty means the zip root.
pub fn working_directory(wd: Option<&str>) -> Result<Option<String>, ZipError> {
    let Some(wd) = wd.map(str::trim).filter(|w| !w.is_empty()) else {
        return Ok(None);
    };
    let mut parts = Vec::new();
    for c in Path::new(wd).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => {
                return Err(ZipError::BadWorkingDirectory(format!(
                    "{:?}",
                    galley_oci::echo::echo(wd)
                )));
            }
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// Extracts `bytes` into `dest`, which must not exist yet, keeping executable bits. On any
/// failure `dest` is removed again: a job never runs on, and never leaves behind, half a
/// configuration.
pub fn extract_into(bytes: &[u8], dest: &Path, limits: ExtractLimits) -> Result<(), ZipError> {
    fs::create_dir_all(dest)?;
    let result = extract(bytes, dest, limits);
    if result.is_err() {
        let _ = fs::remove_dir_all(dest);
    }
    result
}

/// Extracts `bytes` into `dest` (which must exist), keeping executable bits.
///
/// Every entry is checked before anything is written (names, symbolic links, the entry count
/// and the sizes the zip declares); the bytes actually inflated are counted too, since a zip
/// can declare less than it holds.
pub fn extract(bytes: &[u8], dest: &Path, limits: ExtractLimits) -> Result<(), ZipError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes))?;
    let too_large = |which, limit| ZipError::TooLarge { which, limit };
    if archive.len() as u64 > limits.max_files {
        return Err(too_large(Limit::Files, limits.max_files));
    }
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i)?;
        if entry.enclosed_name().is_none() || entry.is_symlink() {
            // A symlink could point anywhere; RM configurations have no need for one.
            return Err(ZipError::unsafe_entry(entry.name()));
        }
        declared = declared.saturating_add(entry.size());
        if declared > limits.max_bytes {
            return Err(too_large(Limit::Bytes, limits.max_bytes));
        }
    }
    let mut budget = limits.max_bytes;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let rel: PathBuf = entry
            .enclosed_name()
            .ok_or_else(|| ZipError::unsafe_entry(entry.name()))?;
        let out = dest.join(&rel);
        if entry.is_dir() {
            fs::create_dir_all(&out)?;
            continue;
        }
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = fs::File::create(&out)?;
        // One byte more than the budget tells "exactly at the limit" from "over it".
        let written = io::copy(&mut (&mut entry).take(budget + 1), &mut file)?;
        if written > budget {
            return Err(too_large(Limit::Bytes, limits.max_bytes));
        }
        budget -= written;
        #[cfg(unix)]
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&out, fs::Permissions::from_mode(mode & 0o755 | 0o600))?;
        }
    }
    Ok(())
}

/// True when `dir` holds a Terraform configuration file (`*.tf` or `*.tf.json`).
pub fn has_terraform_files(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(Result::ok).any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                e.path().is_file() && (name.ends_with(".tf") || name.ends_with(".tf.json"))
            })
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn extracts_nested_files_and_rejects_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let ok = zip_of(&[("main.tf", "x"), ("sub/a.tf", "y")]);
        check(&ok).unwrap();
        extract(&ok, dir.path(), ExtractLimits::default()).unwrap();
        assert!(has_terraform_files(dir.path()));
        assert!(has_terraform_files(&dir.path().join("sub")));
        let bad = zip_of(&[("../evil.tf", "x")]);
        assert!(matches!(check(&bad), Err(ZipError::UnsafeEntry(_))));
        assert!(check(b"not a zip").is_err());
    }

    #[test]
    fn working_directories_are_normalised_and_confined() {
        assert_eq!(working_directory(None).unwrap(), None);
        assert_eq!(working_directory(Some("")).unwrap(), None);
        assert_eq!(
            working_directory(Some("./a/b/")).unwrap().as_deref(),
            Some("a/b")
        );
        assert!(working_directory(Some("../a")).is_err());
        assert!(working_directory(Some("/etc")).is_err());
    }
}
