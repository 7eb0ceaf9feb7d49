//! The runner's Terraform state backend with real Terraform: 1.0 (the oldest the sidecar runs),
//! 1.6, the default build and 1.15 in turn keep one state in the store through the sidecar's
//! `http` backend (each reading what the previous wrote), over the directory store and over the
//! bucket store on galley-local. A lock held by someone else stops a run and names that lock,
//! and a wrong password is refused.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use galley_sidecar::runner::RemoteState;
use galley_sidecar::store::{Cond, objects};
use galley_sidecar::tfstate;
use galley_tests::local::LocalOci;
use tokio_util::sync::CancellationToken;

use crate::store::Backing;
use crate::util;

const VERSIONS: [&str; 4] = [
    "terraform-1.0",
    "terraform-1.6",
    "terraform",
    "terraform-1.15",
];

/// Runs `terraform args` in `dir` with the backend settings of `remote`; (success, output).
fn terraform(bin: &str, dir: &Path, remote: &RemoteState, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(util::tool(bin));
    cmd.args(args)
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("TF_CLI_CONFIG_FILE", dir.join("empty.tfrc"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TF_") && !matches!(k.as_str(), "TF_IN_AUTOMATION" | "TF_INPUT") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in remote.env() {
        cmd.env(k, v);
    }
    let (ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(180));
    (ok, format!("{out}\n{err}"))
}

async fn every_version_keeps_its_state_in_the_store(b: &Backing) {
    let store = b.open().await;
    let s = store.create(Default::default()).await.unwrap();
    let shutdown = CancellationToken::new();
    let backend = tfstate::serve(store.clone(), shutdown.clone())
        .await
        .expect("serve the backend");
    let remote = backend.for_session(&s.id);
    let mut serial = 0;
    for (i, bin) in VERSIONS.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty.tfrc"), "").unwrap();
        std::fs::write(
            dir.path().join("main.tf"),
            "terraform {\n  backend \"http\" {}\n}\n\nvariable \"who\" {\n  type = string\n}\n\noutput \"who\" {\n  value = var.who\n}\n",
        )
        .unwrap();
        let (ok, out) = terraform(
            bin,
            dir.path(),
            &remote,
            &["init", "-input=false", "-no-color"],
        );
        assert!(ok, "{bin} init ({}):\n{out}", b.name());
        if i > 0 {
            // The state the previous version wrote is there for this one.
            let (ok, out) = terraform(bin, dir.path(), &remote, &["output", "-no-color", "who"]);
            assert!(ok, "{bin} output:\n{out}");
            assert!(
                out.contains(VERSIONS[i - 1]),
                "{bin} read the state:\n{out}"
            );
        }
        let var = format!("-var=who={bin}");
        let (ok, out) = terraform(
            bin,
            dir.path(),
            &remote,
            &["apply", "-auto-approve", "-input=false", "-no-color", &var],
        );
        assert!(ok, "{bin} apply ({}):\n{out}", b.name());
        let (bytes, _) = store
            .get_object(&s.id, objects::STATE)
            .await
            .unwrap()
            .expect("the state is in the store");
        let state: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(state["outputs"]["who"]["value"], bin, "{}", b.name());
        let now = state["serial"].as_u64().unwrap();
        assert!(i == 0 || now > serial, "{bin}: serial {now} after {serial}");
        serial = now;
        assert!(
            store
                .get_object(&s.id, objects::STATE_LOCK)
                .await
                .unwrap()
                .is_none(),
            "{bin} unlocked the state"
        );
    }

    // A lock held elsewhere: the run stops and says whose it is.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.tfrc"), "").unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        "terraform {\n  backend \"http\" {}\n}\n\noutput \"who\" {\n  value = \"nobody\"\n}\n",
    )
    .unwrap();
    let (ok, out) = terraform(
        "terraform-1.0",
        dir.path(),
        &remote,
        &["init", "-input=false", "-no-color"],
    );
    assert!(ok, "{out}");
    store
        .put_object(
            &s.id,
            objects::STATE_LOCK,
            br#"{"ID":"4f0c","Operation":"OperationTypeApply","Who":"someone@elsewhere","Version":"1.5.7","Created":"2026-01-01T00:00:00Z","Path":""}"#.to_vec(),
            Cond::Absent,
        )
        .await
        .unwrap();
    for bin in ["terraform-1.0", "terraform"] {
        let (ok, out) = terraform(
            bin,
            dir.path(),
            &remote,
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        );
        assert!(!ok, "{bin} applied under someone else's lock:\n{out}");
        assert!(
            out.contains("already locked: ID=4f0c"),
            "{bin} names the lock held:\n{out}"
        );
    }
    let (bytes, _) = store
        .get_object(&s.id, objects::STATE)
        .await
        .unwrap()
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(state["serial"].as_u64(), Some(serial), "nothing written");

    // Without the password nothing is served.
    let wrong = RemoteState {
        password: "wrong".into(),
        ..remote.clone()
    };
    let (ok, out) = terraform("terraform", dir.path(), &wrong, &["output", "-no-color"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("401") || out.contains("requires auth"),
        "{out}"
    );
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terraform_1_0_to_1_15_keep_the_runner_state_in_both_stores() {
    let local = LocalOci::start();
    for b in [Backing::dir(), Backing::bucket(&local, "tfstate").await] {
        every_version_keeps_its_state_in_the_store(&b).await;
    }
}
