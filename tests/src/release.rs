//! The provider's release, built once for the tests that need it: `deploy/package-provider.sh`
//! (release builds for linux_amd64 and linux_arm64, the registry zips, the mirror and the
//! Resource Manager bucket layout) run into `<target>/galley-release/`, once per test process
//! and under a file lock across processes. Cargo rebuilds only what changed, so a run after the
//! first costs seconds; the first on a fresh checkout costs the two release builds (see the
//! README's benchmark section).
//!
//! Also where the tests find `galley-upload-providers`, the command that uploads the bucket
//! layout (a binary of galley-oci, built by `cargo test --workspace`).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::tools;

/// The workspace version: the release's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A packaged release.
#[derive(Debug, Clone)]
pub struct Release {
    /// `OUT_DIR` of the packaging script.
    pub dir: PathBuf,
    /// How long the script took in this process (seconds when cargo had nothing to rebuild).
    pub took: Duration,
}

impl Release {
    /// `dist/rm-bucket`: the bucket layout.
    pub fn rm_bucket(&self) -> PathBuf {
        self.dir.join("rm-bucket")
    }

    /// The packed filesystem mirror.
    pub fn mirror(&self) -> PathBuf {
        self.dir.join("mirror")
    }

    /// Registry zips, SHA256SUMS and manifest.
    pub fn registry(&self) -> PathBuf {
        self.dir.join("release")
    }

    /// The raw executable for `platform` (`linux_amd64`, `linux_arm64`).
    pub fn binary(&self, platform: &str) -> PathBuf {
        self.rm_bucket()
            .join(platform)
            .join(format!("terraform-provider-galley_v{VERSION}"))
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tools::workspace_root().join("target"))
}

/// The release, packaged by this process on first use.
pub fn release() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let dir = target_dir().join("galley-release");
        std::fs::create_dir_all(&dir).expect("create the release directory");
        let lock = File::create(dir.with_extension("lock")).expect("create the release lock");
        // SAFETY: flock on a descriptor this function owns; released when `lock` is dropped.
        let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "failed to lock the release directory");
        let started = Instant::now();
        let script = tools::workspace_root().join("deploy/package-provider.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .current_dir(tools::workspace_root())
            .output()
            .expect("run deploy/package-provider.sh");
        assert!(
            out.status.success(),
            "deploy/package-provider.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let took = started.elapsed();
        eprintln!(
            "release packaged in {:.1} s:\n{}",
            took.as_secs_f64(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| l.starts_with("[package-provider]"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        drop(lock);
        Release { dir, took }
    })
}

/// A binary of the workspace built for the tests (`cargo test --workspace` builds every
/// package's binaries): next to the running test, else in the target directory. The panic
/// says which package to build.
pub fn workspace_binary(name: &str, package: &str) -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).take(3).map(|d| d.join(name)));
    }
    candidates.push(target_dir().join("debug").join(name));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} was not found next to this test: run `cargo build -p {package}` (cargo \
                 test --workspace builds it)"
            )
        })
}

/// `galley-upload-providers`.
pub fn upload_command() -> PathBuf {
    workspace_binary("galley-upload-providers", "galley-oci")
}

/// The platform an executable was built for, read from its ELF header's machine field.
pub fn elf_platform(path: &Path) -> Option<&'static str> {
    use std::io::Read as _;
    let mut header = [0u8; 20];
    File::open(path).ok()?.read_exact(&mut header).ok()?;
    if header[..4] != *b"\x7fELF" {
        return None;
    }
    match &header[18..20] {
        [0x3e, 0x00] => Some("linux_amd64"),
        [0xb7, 0x00] => Some("linux_arm64"),
        _ => None,
    }
}
