//! Stack configurations as zips: checking an upload, the working directory inside it, and
//! extracting it into a job's work directory without letting an entry escape it.

use std::fs;
use std::io::{self, Cursor};
use std::path::{Component, Path, PathBuf};

use zip::ZipArchive;

/// Why a configuration zip or working directory is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("failed to read the configuration zip: {0}")]
    Archive(#[from] zip::result::ZipError),
    #[error(
        "failed to extract the configuration zip: entry {0:?} would land outside the work directory"
    )]
    UnsafeEntry(String),
    #[error("failed to extract the configuration zip: {0}")]
    Io(#[from] io::Error),
    #[error("workingDirectory {0:?} must be a relative path inside the zip, without `..`")]
    BadWorkingDirectory(String),
}

/// Checks that `bytes` is a zip whose entries all stay inside the extraction directory.
pub fn check(bytes: &[u8]) -> Result<(), ZipError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes))?;
    for i in 0..archive.len() {
        let entry = archive.by_index(i)?;
        if entry.enclosed_name().is_none() {
            return Err(ZipError::UnsafeEntry(entry.name().to_owned()));
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
            _ => return Err(ZipError::BadWorkingDirectory(wd.to_owned())),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// Extracts `bytes` into `dest` (which must exist), keeping executable bits.
pub fn extract(bytes: &[u8], dest: &Path) -> Result<(), ZipError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let rel: PathBuf = entry
            .enclosed_name()
            .ok_or_else(|| ZipError::UnsafeEntry(entry.name().to_owned()))?;
        let out = dest.join(&rel);
        if entry.is_dir() {
            fs::create_dir_all(&out)?;
            continue;
        }
        if entry.is_symlink() {
            // A symlink could point anywhere; RM configurations have no need for one.
            return Err(ZipError::UnsafeEntry(entry.name().to_owned()));
        }
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = fs::File::create(&out)?;
        io::copy(&mut entry, &mut file)?;
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
        extract(&ok, dir.path()).unwrap();
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
