//! Where the test tools live: the launchers `tests/setup.sh` installs.

use std::path::PathBuf;

/// `GALLEY_TOOLS_BIN` when set, else `.tools/bin` of this checkout.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GALLEY_TOOLS_BIN") {
        return PathBuf::from(dir);
    }
    workspace_root().join(".tools").join("bin")
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate sits in the workspace")
        .to_path_buf()
}

/// The Python of the tools venv (moto, boto3, the OCI SDK, MCP clients live there).
pub fn python() -> PathBuf {
    let p = workspace_root()
        .join(".tools")
        .join("venv")
        .join("bin")
        .join("python");
    assert!(
        p.exists(),
        "{} is missing: run tests/setup.sh first",
        p.display()
    );
    p
}

/// A tool launcher that must exist; the panic says how to install it.
pub fn require(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run tests/setup.sh first",
        p.display()
    );
    p
}

/// Runs `tests/tools/aws_probe.py COMMAND ENDPOINT ARGS...` (boto3: an independent client) and
/// returns its JSON output.
pub fn aws_probe(command: &str, endpoint: &str, args: &[&str]) -> serde_json::Value {
    let script = workspace_root()
        .join("tests")
        .join("tools")
        .join("aws_probe.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .arg(command)
        .arg(endpoint)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "esb")
        .env("AWS_SECRET_ACCESS_KEY", "esbsecret")
        .output()
        .expect("run aws_probe.py");
    assert!(
        out.status.success(),
        "aws_probe.py {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("aws_probe.py prints JSON")
}
