//! A deterministic tar.gz writer for image build contexts: GNU tar headers (long names
//! supported) with mtime 0, owner 0:0 and modes 644/755, in path order, gzip-compressed.
//!
//! Files are streamed one at a time, so memory holds the compressed archive and one file.

use std::fs;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::{Package, PackagingError, Tree, digest_of, read_error};

/// Gzip level: build contexts often hold already-compressed assets, where higher levels only
/// cost time.
pub const LEVEL: u32 = 1;

/// Builds the tar.gz of `tree`.
pub fn build(tree: &Tree) -> Result<Package, PackagingError> {
    let compress_err = |path: &str| {
        let path = path.to_owned();
        move |source| PackagingError::Compress { path, source }
    };
    let gz = GzEncoder::new(
        Vec::with_capacity((tree.total_size() / 3) as usize + 1024),
        Compression::new(LEVEL),
    );
    let mut archive = tar::Builder::new(gz);
    archive.mode(tar::HeaderMode::Deterministic);
    let mut hashes = Vec::with_capacity(tree.files.len());
    for file in &tree.files {
        let content = fs::read(&file.abs).map_err(read_error(&file.abs))?;
        hashes.push(Sha256::digest(&content).into());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(content.len() as u64);
        header.set_mode(file.mode());
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        archive
            .append_data(&mut header, &file.rel, content.as_slice())
            .map_err(compress_err(&file.rel))?;
    }
    let gz = archive.into_inner().map_err(compress_err("the archive"))?;
    let mut bytes = gz.finish().map_err(compress_err("the archive"))?;
    bytes.flush().map_err(compress_err("the archive"))?;
    Ok(Package {
        bytes,
        digest: digest_of(&tree.files, &hashes),
        files: tree.files.len(),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::GzDecoder;

    use super::super::testdir;
    use super::*;

    #[test]
    fn tar_gz_reads_back_with_long_names_and_same_digest() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{}/Dockerfile", "deep".repeat(40));
        testdir::write(
            dir.path(),
            &[
                ("Dockerfile", "FROM scratch\n"),
                (long.as_str(), "FROM busybox\n"),
                (".git/config", "x"),
            ],
        );
        let tree = Tree::scan(dir.path()).unwrap();
        let package = build(&tree).unwrap();
        assert_eq!(package.digest, tree.digest().unwrap());
        let mut archive = tar::Archive::new(GzDecoder::new(package.bytes.as_slice()));
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            assert_eq!(entry.header().mtime().unwrap(), 0);
            assert_eq!(entry.header().mode().unwrap(), 0o644);
            let mut content = String::new();
            entry.read_to_string(&mut content).unwrap();
            seen.push((path, content));
        }
        assert_eq!(
            seen,
            vec![
                ("Dockerfile".to_string(), "FROM scratch\n".to_string()),
                (long, "FROM busybox\n".to_string()),
            ]
        );
        // Deterministic: the same tree gives the same bytes.
        assert_eq!(build(&tree).unwrap().bytes, package.bytes);
    }
}
