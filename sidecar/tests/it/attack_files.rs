//! Attacks through the data directory on the running binary: a session directory, a stack
//! directory or a file inside that is a symbolic link, and a stack directory swapped for a link
//! while tools write into it. Nothing may be written, read or planned through a link; errors
//! name the link relative to the session (never a server path); and no attack leaves a
//! half-written file. Also: every session file is private to the user.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::json;

use crate::util::{self, StdioSidecar};

/// A session with an exported one-bucket stack; its directory.
fn exported(s: &mut StdioSidecar) -> (String, PathBuf) {
    let (err, created, text) = s.call("create_session", json!({}));
    assert!(!err, "{text}");
    let id = created["id"].as_str().expect("id").to_string();
    let (err, _, text) = s.call(
        "save_architecture",
        json!({"session_id": id, "components": [
            {"id": "bucket", "service_type": "objectstorage", "display_name": "assets"}
        ]}),
    );
    assert!(!err, "{text}");
    let (err, _, text) = s.call("export_iac", json!({"session_id": id}));
    assert!(!err, "{text}");
    let dir = s.data.path().join("sessions").join(&id);
    (id, dir)
}

fn update(s: &mut StdioSidecar, id: &str, path: &str) -> (bool, String) {
    let (err, _, text) = s.call(
        "update_terraform_file",
        json!({"session_id": id, "file_path": path, "new_content": "# attacker was here\n"}),
    );
    (err, text)
}

fn plan(s: &mut StdioSidecar, id: &str) -> (bool, String) {
    let (err, _, text) = s.call("run_terraform_plan", json!({"session_id": id}));
    (err, text)
}

/// Every file under `dir` (not following links).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&p, out);
        }
    }
}

fn assert_no_half_written_files(dir: &Path) {
    let mut all = Vec::new();
    walk(dir, &mut all);
    let temps: Vec<_> = all
        .iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "half-written files left: {temps:?}");
}

fn assert_untouched(outside: &Path, expected: &[&str]) {
    let mut names: Vec<String> = fs::read_dir(outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, expected, "something was written outside");
    for n in expected {
        assert_eq!(
            fs::read_to_string(outside.join(n)).unwrap(),
            "secret\n",
            "{n} was changed"
        );
    }
}

fn outside() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("secret.tf"), "secret\n").unwrap();
    d
}

fn refused_naming(result: (bool, String), place: &str, data: &Path) {
    let (err, text) = result;
    assert!(err, "not refused: {text}");
    assert!(
        text.contains(place) && text.contains("symbolic link"),
        "{place}: {text}"
    );
    assert!(
        !text.contains(data.to_str().unwrap()),
        "a server path in the error: {text}"
    );
}

#[test]
fn a_stack_directory_that_is_a_link_is_never_written_read_or_planned() {
    let mut s = StdioSidecar::start(&[]);
    let (id, dir) = exported(&mut s);
    let out = outside();
    fs::remove_dir_all(dir.join("terraform")).unwrap();
    symlink(out.path(), dir.join("terraform")).unwrap();
    let data = s.data.path().to_path_buf();
    refused_naming(
        update(&mut s, &id, "secret.tf"),
        "terraform of session",
        &data,
    );
    refused_naming(update(&mut s, &id, "new.tf"), "terraform of session", &data);
    let (err, _, text) = s.call("export_iac", json!({"session_id": id}));
    refused_naming((err, text), "terraform of session", &data);
    refused_naming(plan(&mut s, &id), "terraform of session", &data);
    assert_untouched(out.path(), &["secret.tf"]);
    assert_no_half_written_files(&dir);
}

#[test]
fn a_link_inside_the_stack_is_refused_and_named() {
    let mut s = StdioSidecar::start(&[]);
    let (id, dir) = exported(&mut s);
    let out = outside();
    let data = s.data.path().to_path_buf();
    let tf = dir.join("terraform");
    // A file replaced by a link, and a directory that is a link.
    fs::remove_file(tf.join("main.tf")).unwrap();
    symlink(out.path().join("secret.tf"), tf.join("main.tf")).unwrap();
    symlink(out.path(), tf.join("modules")).unwrap();
    refused_naming(
        update(&mut s, &id, "main.tf"),
        "terraform/main.tf of session",
        &data,
    );
    refused_naming(
        update(&mut s, &id, "modules/net.tf"),
        "terraform/modules of session",
        &data,
    );
    let (err, _, text) = s.call("export_iac", json!({"session_id": id}));
    refused_naming((err, text), "terraform/main.tf of session", &data);
    // The plan refuses before anything runs: the digest and the package would disagree.
    let (err, text) = plan(&mut s, &id);
    assert!(err && text.contains("symbolic link"), "{text}");
    assert_untouched(out.path(), &["secret.tf"]);
    // Removing the links makes the stack usable again.
    fs::remove_file(tf.join("main.tf")).unwrap();
    fs::remove_file(tf.join("modules")).unwrap();
    let (err, _, text) = s.call("export_iac", json!({"session_id": id}));
    assert!(!err, "{text}");
    assert_no_half_written_files(&dir);
}

#[test]
fn a_session_directory_that_is_a_link_is_refused() {
    let mut s = StdioSidecar::start(&[]);
    let (id, dir) = exported(&mut s);
    let data = s.data.path().to_path_buf();
    // The attacker's copy of the session, elsewhere, with the session directory a link to it.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("copy");
    fs::rename(&dir, &copy).unwrap();
    symlink(&copy, &dir).unwrap();
    for (tool, args) in [
        ("get_session", json!({"session_id": id})),
        ("export_iac", json!({"session_id": id})),
        (
            "update_terraform_file",
            json!({"session_id": id, "file_path": "x.tf", "new_content": "x"}),
        ),
        ("run_terraform_plan", json!({"session_id": id})),
    ] {
        let (err, _, text) = s.call(tool, args);
        refused_naming((err, text), &format!("sessions/{id}"), &data);
    }
    assert!(!copy.join("terraform/x.tf").exists());
    // Listing skips it rather than failing.
    let (err, list, text) = s.call("list_sessions", json!({}));
    assert!(!err, "{text}");
    assert_eq!(list["sessions"], json!([]));
}

#[test]
fn a_stack_directory_swapped_for_a_link_while_tools_write_leaks_nothing() {
    let mut s = StdioSidecar::start(&[]);
    let (id, dir) = exported(&mut s);
    let out = outside();
    let tf = dir.join("terraform");
    let link = dir.join("terraform.link");
    symlink(out.path(), &link).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    // Exchanges terraform/ and a link to the outside directory atomically (renameat2 with
    // RENAME_EXCHANGE: there is no moment without a `terraform`), as fast as it can.
    let swapper = {
        let (tf, link) = (tf.clone(), link.clone());
        let (stop, swaps) = (stop.clone(), swaps.clone());
        std::thread::spawn(move || {
            let exchange = || {
                rustix::fs::renameat_with(
                    rustix::fs::CWD,
                    &tf,
                    rustix::fs::CWD,
                    &link,
                    rustix::fs::RenameFlags::EXCHANGE,
                )
            };
            while !stop.load(Ordering::SeqCst) {
                exchange().expect("exchange");
                std::thread::yield_now();
                exchange().expect("exchange back");
                swaps.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let mut outcomes: [usize; 2] = [0, 0];
    let mut i = 0;
    // At least 300 calls, and on until the swaps and both outcomes happened (bounded).
    while i < 300 || (i < 5_000 && (swaps.load(Ordering::SeqCst) < 100 || outcomes.contains(&0))) {
        let (err, text) = if i % 6 == 0 {
            let (err, _, text) = s.call("export_iac", json!({"session_id": id}));
            (err, text)
        } else {
            update(
                &mut s,
                &id,
                if i % 2 == 0 {
                    "secret.tf"
                } else {
                    "nested/x.tf"
                },
            )
        };
        if err {
            // Refused: the link was seen (or the directory was briefly missing).
            assert!(
                text.contains("symbolic link") || text.contains("terraform"),
                "unexpected failure: {text}"
            );
        }
        outcomes[usize::from(err)] += 1;
        i += 1;
    }
    stop.store(true, Ordering::SeqCst);
    swapper.join().unwrap();
    let swaps = swaps.load(Ordering::SeqCst);
    assert!(swaps >= 100, "only {swaps} swaps in {i} calls");
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0,
        "writes and refusals both happened: {outcomes:?}"
    );
    assert_untouched(out.path(), &["secret.tf"]);
    assert_no_half_written_files(&dir);
}

#[test]
fn session_files_are_private_to_the_user() {
    let providers = tempfile::tempdir().unwrap();
    let terraform = util::tool("terraform");
    let mut s = StdioSidecar::start(&[
        ("GALLEY_TERRAFORM", terraform.to_str().unwrap()),
        ("GALLEY_PROVIDER_DIR", providers.path().to_str().unwrap()),
    ]);
    let (id, dir) = exported(&mut s);
    let (err, _, text) = s.call(
        "update_terraform_file",
        json!({"session_id": id, "file_path": "modules/net/main.tf", "new_content": "# x\n"}),
    );
    assert!(!err, "{text}");
    // The plan fails (no provider build) after the runner wrote its files, stack variables
    // included.
    let (err, result, text) = s.call(
        "run_terraform_plan",
        json!({"session_id": id, "variables": {"db_password": "hunter2"}}),
    );
    assert!(err, "{text}");
    assert!(
        !text.contains(s.data.path().to_str().unwrap())
            && !result.to_string().contains(s.data.path().to_str().unwrap()),
        "a server path reached the client: {text}"
    );
    assert!(dir.join("runner/galley.auto.tfvars.json").exists());
    let mut all = vec![s.data.path().join("sessions"), dir.clone()];
    walk(&dir, &mut all);
    assert!(all.len() > 10, "{all:?}");
    for p in all {
        let meta = fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
    }
}
