//! The digest of a zip's files, computed as the digest of a directory is (see the module above:
//! one `<content sha256> <644|755> <path>` line per file, sorted by path), so a configuration
//! Resource Manager kept (a job's or a stack's zip) can be compared with a directory here
//! without unpacking it to disk.
//!
//! Reads plain zips: stored or deflated entries, Unix modes from the external attributes when
//! the archive was made on Unix (anything else counts as 644). Directories are skipped.

use std::io::Read;

use flate2::read::DeflateDecoder;
use sha2::{Digest, Sha256};

use super::{FileEntry, digest_of};

const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const LOCAL_HEADER: u32 = 0x0403_4b50;
/// Largest file read back (Resource Manager's own limits are far below it).
const MAX_ENTRY: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("failed to read the zip: {0}")]
pub struct UnzipError(String);

fn err(what: impl Into<String>) -> UnzipError {
    UnzipError(what.into())
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, UnzipError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| err("it is truncated"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, UnzipError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| err("it is truncated"))
}

/// The digest of the files in `zip`.
pub fn digest(zip: &[u8]) -> Result<String, UnzipError> {
    // The end record is in the last 22 bytes plus at most a 64 KiB comment.
    let min = zip.len().saturating_sub(22 + 65_535);
    let eocd = (min..=zip.len().saturating_sub(22))
        .rev()
        .find(|&i| u32_at(zip, i).ok() == Some(END_OF_CENTRAL_DIRECTORY))
        .ok_or_else(|| err("it has no end of central directory (not a zip)"))?;
    let count = usize::from(u16_at(zip, eocd + 10)?);
    let mut at = u32_at(zip, eocd + 16)? as usize;
    let mut files: Vec<(FileEntry, [u8; 32])> = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(zip, at)? != CENTRAL_HEADER {
            return Err(err("a central directory entry is damaged"));
        }
        let made_by = u16_at(zip, at + 4)?;
        let method = u16_at(zip, at + 10)?;
        let compressed = u64::from(u32_at(zip, at + 20)?);
        let size = u64::from(u32_at(zip, at + 24)?);
        let name_len = usize::from(u16_at(zip, at + 28)?);
        let extra_len = usize::from(u16_at(zip, at + 30)?);
        let comment_len = usize::from(u16_at(zip, at + 32)?);
        let external = u32_at(zip, at + 38)?;
        let local = u32_at(zip, at + 42)? as usize;
        let name = zip
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| err("it is truncated"))?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| err("a name is not UTF-8"))?;
        at += 46 + name_len + extra_len + comment_len;
        if name.ends_with('/') {
            continue;
        }
        if size > MAX_ENTRY {
            return Err(err(format!("{name} is larger than {MAX_ENTRY} bytes")));
        }
        if u32_at(zip, local)? != LOCAL_HEADER {
            return Err(err(format!("the local header of {name} is damaged")));
        }
        let start = local
            + 30
            + usize::from(u16_at(zip, local + 26)?)
            + usize::from(u16_at(zip, local + 28)?);
        let data = zip
            .get(start..start + compressed as usize)
            .ok_or_else(|| err(format!("{name} is truncated")))?;
        let content = match method {
            0 => data.to_vec(),
            8 => {
                let mut out = Vec::with_capacity(size as usize);
                DeflateDecoder::new(data)
                    .take(MAX_ENTRY)
                    .read_to_end(&mut out)
                    .map_err(|e| err(format!("{name} does not inflate: {e}")))?;
                out
            }
            other => return Err(err(format!("{name} uses compression method {other}"))),
        };
        let unix = made_by >> 8 == 3;
        let executable = unix && (external >> 16) & 0o111 != 0;
        let rel = name.trim_start_matches("./").to_owned();
        files.push((
            FileEntry {
                rel,
                abs: Default::default(),
                executable,
                size,
            },
            Sha256::digest(&content).into(),
        ));
    }
    files.sort_by(|a, b| a.0.rel.as_bytes().cmp(b.0.rel.as_bytes()));
    let (entries, hashes): (Vec<FileEntry>, Vec<[u8; 32]>) = files.into_iter().unzip();
    Ok(digest_of(&entries, &hashes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packaging::{Tree, testdir, zip};

    #[test]
    fn a_zip_has_the_digest_of_the_directory_it_was_made_from() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(
            dir.path(),
            &[
                ("main.tf", "resource \"terraform_data\" \"x\" {}\n"),
                ("modules/a/b.tf", &"x".repeat(5000)),
                ("run.sh", "#!/bin/sh\n"),
            ],
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.path().join("run.sh"),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
        }
        let tree = Tree::scan(dir.path()).unwrap();
        let package = zip::build(&tree).unwrap();
        assert_eq!(digest(&package.bytes).unwrap(), tree.digest().unwrap());
        // Stored entries too.
        let stored = zip::build_with_level(&tree, 0).unwrap();
        assert_eq!(digest(&stored.bytes).unwrap(), tree.digest().unwrap());
        testdir::write(dir.path(), &[("main.tf", "# changed\n")]);
        assert_ne!(
            digest(&package.bytes).unwrap(),
            Tree::scan(dir.path()).unwrap().digest().unwrap()
        );
        assert!(digest(b"not a zip").is_err());
    }
}
