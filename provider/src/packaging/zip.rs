//! A deterministic zip writer for Resource Manager configurations.
//!
//! Files are read, hashed and deflated on every core, then laid out in path order with fixed
//! timestamps (1980-01-01) and Unix modes, so the same tree always gives the same bytes. A
//! file that deflate cannot shrink is stored. Zip64 is not written: Resource Manager accepts
//! far smaller uploads than the 4 GiB and 65,535-entry limits of plain zip, and exceeding them
//! is an error here.

use std::fs;
use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;
use sha2::{Digest, Sha256};

use super::{Package, PackagingError, Tree, digest_of, par_map, read_error};

/// Deflate level. Level 1 of zlib-rs compresses Terraform configurations nearly as well as
/// level 6 at several times the speed (see `benches/session.rs`).
pub const LEVEL: u32 = 1;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// 2.0: deflate.
const VERSION_NEEDED: u16 = 20;
/// Made by Unix (3), spec 2.0: readers take the mode from the external attributes.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// Bit 11: names are UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATED: u16 = 8;
/// 00:00:00.
const DOS_TIME: u16 = 0;
/// 1980-01-01.
const DOS_DATE: u16 = (1 << 5) | 1;
const S_IFREG: u32 = 0o100_000;

struct Entry {
    crc: u32,
    size: u32,
    method: u16,
    data: Vec<u8>,
    sha256: [u8; 32],
}

fn too_large(tree: &Tree, reason: String) -> PackagingError {
    PackagingError::TooLarge {
        root: tree.root.clone(),
        reason,
    }
}

/// Zips `tree` with the default [`LEVEL`].
pub fn build(tree: &Tree) -> Result<Package, PackagingError> {
    build_with_level(tree, LEVEL)
}

/// Zips `tree`, deflating at `level` (0-9).
pub fn build_with_level(tree: &Tree, level: u32) -> Result<Package, PackagingError> {
    if tree.files.len() > usize::from(u16::MAX) {
        return Err(too_large(
            tree,
            format!(
                "{} files is more than a zip without zip64 holds (65535)",
                tree.files.len()
            ),
        ));
    }
    let entries = par_map(&tree.files, |file| {
        let content = fs::read(&file.abs).map_err(read_error(&file.abs))?;
        let size = u32::try_from(content.len())
            .map_err(|_| too_large(tree, format!("{} is larger than 4 GiB", file.rel)))?;
        let crc = crc32fast::hash(&content);
        let sha256 = Sha256::digest(&content).into();
        let compress_err = |source| PackagingError::Compress {
            path: file.rel.clone(),
            source,
        };
        let mut encoder = DeflateEncoder::new(
            Vec::with_capacity(content.len() / 3 + 64),
            Compression::new(level),
        );
        encoder.write_all(&content).map_err(compress_err)?;
        let deflated = encoder.finish().map_err(compress_err)?;
        let (method, data) = if deflated.len() < content.len() {
            (METHOD_DEFLATED, deflated)
        } else {
            (METHOD_STORED, content)
        };
        Ok(Entry {
            crc,
            size,
            method,
            data,
            sha256,
        })
    })?;

    let total: usize = entries
        .iter()
        .zip(&tree.files)
        .map(|(e, f)| e.data.len() + 2 * f.rel.len() + 30 + 46)
        .sum::<usize>()
        + 22;
    let mut out = Vec::with_capacity(total);
    let mut offsets = Vec::with_capacity(entries.len());
    for (entry, file) in entries.iter().zip(&tree.files) {
        offsets.push(offset32(tree, out.len())?);
        let name = file.rel.as_bytes();
        put32(&mut out, LOCAL_HEADER);
        put16(&mut out, VERSION_NEEDED);
        put16(&mut out, FLAG_UTF8);
        put16(&mut out, entry.method);
        put16(&mut out, DOS_TIME);
        put16(&mut out, DOS_DATE);
        put32(&mut out, entry.crc);
        put32(&mut out, entry.data.len() as u32);
        put32(&mut out, entry.size);
        put16(&mut out, name.len() as u16);
        put16(&mut out, 0);
        out.extend_from_slice(name);
        out.extend_from_slice(&entry.data);
    }
    let central_start = offset32(tree, out.len())?;
    for ((entry, file), offset) in entries.iter().zip(&tree.files).zip(&offsets) {
        let name = file.rel.as_bytes();
        put32(&mut out, CENTRAL_HEADER);
        put16(&mut out, VERSION_MADE_BY);
        put16(&mut out, VERSION_NEEDED);
        put16(&mut out, FLAG_UTF8);
        put16(&mut out, entry.method);
        put16(&mut out, DOS_TIME);
        put16(&mut out, DOS_DATE);
        put32(&mut out, entry.crc);
        put32(&mut out, entry.data.len() as u32);
        put32(&mut out, entry.size);
        put16(&mut out, name.len() as u16);
        put16(&mut out, 0); // extra field
        put16(&mut out, 0); // comment
        put16(&mut out, 0); // disk number
        put16(&mut out, 0); // internal attributes
        put32(&mut out, (S_IFREG | file.mode()) << 16);
        put32(&mut out, *offset);
        out.extend_from_slice(name);
    }
    let central_end = offset32(tree, out.len())?;
    let count = entries.len() as u16;
    put32(&mut out, END_OF_CENTRAL_DIRECTORY);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // disk with the central directory
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, central_end - central_start);
    put32(&mut out, central_start);
    put16(&mut out, 0); // comment length

    let hashes: Vec<[u8; 32]> = entries.iter().map(|e| e.sha256).collect();
    Ok(Package {
        bytes: out,
        digest: digest_of(&tree.files, &hashes),
        files: tree.files.len(),
    })
}

fn offset32(tree: &Tree, at: usize) -> Result<u32, PackagingError> {
    u32::try_from(at).map_err(|_| too_large(tree, "the zip would be larger than 4 GiB".into()))
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::super::testdir;
    use super::*;

    #[test]
    fn zip_reads_back_with_paths_contents_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let text = "resource \"terraform_data\" \"x\" {}\n".repeat(200);
        testdir::write(
            dir.path(),
            &[
                ("main.tf", text.as_str()),
                ("modules/net/variables.tf", "variable \"cidr\" {}\n"),
                ("empty.txt", ""),
                ("ünïcode.tf", "# names are UTF-8\n"),
            ],
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(dir.path().join("run.sh"), "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(
                dir.path().join("run.sh"),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
        }
        let tree = Tree::scan(dir.path()).unwrap();
        let package = build(&tree).unwrap();
        assert_eq!(package.digest, tree.digest().unwrap());
        assert_eq!(package.files, tree.files.len());

        let mut archive = ::zip::ZipArchive::new(Cursor::new(&package.bytes)).unwrap();
        assert_eq!(archive.len(), tree.files.len());
        for file in &tree.files {
            let mut entry = archive.by_name(&file.rel).unwrap();
            let mut content = String::new();
            entry.read_to_string(&mut content).unwrap();
            assert_eq!(content, std::fs::read_to_string(&file.abs).unwrap());
            assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(file.mode()));
        }
        let main = archive.by_name("main.tf").unwrap();
        assert_eq!(main.compression(), ::zip::CompressionMethod::Deflated);
        assert!(main.compressed_size() < main.size() / 10);
    }

    #[test]
    fn the_same_tree_gives_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("a.tf", "a"), ("b/c.tf", "c")]);
        let first = build(&Tree::scan(dir.path()).unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        testdir::write(dir.path(), &[("a.tf", "a")]);
        let second = build(&Tree::scan(dir.path()).unwrap()).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn incompressible_files_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        // xorshift64 output: nothing deflate could use.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        std::fs::write(dir.path().join("blob.bin"), &bytes).unwrap();
        let package = build(&Tree::scan(dir.path()).unwrap()).unwrap();
        let mut archive = ::zip::ZipArchive::new(Cursor::new(&package.bytes)).unwrap();
        let mut entry = archive.by_name("blob.bin").unwrap();
        assert_eq!(entry.compression(), ::zip::CompressionMethod::Stored);
        let mut back = Vec::new();
        entry.read_to_end(&mut back).unwrap();
        assert_eq!(back, bytes);
    }
}
