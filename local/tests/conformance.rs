//! Runs the Python conformance suite (tests/conformance, the official OCI SDK as the client)
//! against the built `galley-local` binary, on a free loopback port with a temporary data
//! directory and a freshly generated key trusted with `--trust-key`.
//!
//! Needs the tools of `tests/setup.sh`: the venv (with `oci` and `pytest`) and terraform.

mod support;

use support::Fixture;

#[test]
fn the_oci_python_sdk_drives_galley_local() {
    let f = Fixture::new();
    let engine = f.start();
    f.pytest(&engine, "test_sdk.py", &[]);
    engine.stop();
}

#[test]
fn a_crashed_engine_restarts_with_its_data_and_fails_the_interrupted_job() {
    let f = Fixture::new();
    let state = f.path("restart.json");
    let engine = f.start();
    f.pytest(
        &engine,
        "test_restart.py",
        &[
            ("GALLEY_RESTART_PHASE", "before".into()),
            ("GALLEY_RESTART_STATE", state.display().to_string()),
        ],
    );
    engine.crash();
    let engine = f.start();
    // What the crashed job left running (terraform's provisioner) was killed at start-up.
    let work = std::fs::canonicalize(f.path("data")).unwrap();
    let strays: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c.starts_with(&work)))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        strays.is_empty(),
        "processes left in the data directory: {strays:?}"
    );
    f.pytest(
        &engine,
        "test_restart.py",
        &[
            ("GALLEY_RESTART_PHASE", "after".into()),
            ("GALLEY_RESTART_STATE", state.display().to_string()),
        ],
    );
    engine.stop();
}
