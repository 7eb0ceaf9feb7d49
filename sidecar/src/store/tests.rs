//! The directory store against a real directory: ids, atomic private writes, path rules, links anywhere in
//! a session, permissions of what older versions wrote, and the digest's definition.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::*;

fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).expect("open");
    (dir, store)
}

fn session_path(data: &Path, id: &str) -> PathBuf {
    data.join("sessions").join(id)
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn generated_ids_validate_and_differ() {
    let a = new_session_id();
    let b = new_session_id();
    validate_session_id(&a).expect("valid");
    assert_ne!(a, b);
    assert_eq!(a.len(), 14);
}

#[test]
fn malformed_ids_are_refused() {
    for bad in [
        "",
        "s-",
        "../etc",
        "s-abcdefghijk",
        "s-abcdefghijkl/",
        "s-ABCDEFGHIJKL",
        "s-abcdefghij01",
        "/tmp/s-abcdefghijkl",
        "s-abcdefghijkl\0",
    ] {
        assert!(validate_session_id(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn sessions_survive_reopening_the_store() {
    let (dir, store) = store();
    let s = store.create(Default::default()).expect("create");
    let again = LocalStore::open(dir.path()).expect("reopen");
    assert_eq!(again.load(&s.id).expect("load"), s);
    assert_eq!(again.list().expect("list").len(), 1);
    // No temporary files are left behind by the atomic write.
    let names: Vec<_> = fs::read_dir(session_path(dir.path(), &s.id))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
}

#[test]
fn session_files_are_private_and_older_ones_are_made_private_on_open() {
    let (dir, store) = store();
    let s = store.create(Default::default()).unwrap();
    store
        .write_stack_file(&s.id, "modules/net/main.tf", b"x", Durability::Atomic)
        .unwrap();
    let sp = session_path(dir.path(), &s.id);
    assert_eq!(mode(&dir.path().join("sessions")), 0o700);
    assert_eq!(mode(&sp), 0o700);
    assert_eq!(mode(&sp.join("session.json")), 0o600);
    assert_eq!(mode(&sp.join("terraform/modules/net")), 0o700);
    assert_eq!(mode(&sp.join("terraform/modules/net/main.tf")), 0o600);
    let runner = store.runner_dir(&s.id).unwrap();
    assert_eq!(mode(&runner), 0o700);
    write_atomic(&runner.join("galley.auto.tfvars.json"), b"{}").unwrap();
    assert_eq!(mode(&runner.join("galley.auto.tfvars.json")), 0o600);

    // What an older version left: world-readable files and directories, an executable, and a
    // temporary file of an interrupted write.
    fs::set_permissions(&sp, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(sp.join("session.json"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(runner.join("terraform.tfstate"), "{}").unwrap();
    fs::set_permissions(
        runner.join("terraform.tfstate"),
        fs::Permissions::from_mode(0o664),
    )
    .unwrap();
    fs::write(runner.join("hook.sh"), "").unwrap();
    fs::set_permissions(runner.join("hook.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let stale = sp.join("terraform/.main.tf.tmp-0123456789ab");
    fs::write(&stale, "half").unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    // A temporary file of a write in progress (another process) is left alone.
    let fresh = sp.join("terraform/.variables.tf.tmp-ba9876543210");
    fs::write(&fresh, "writing").unwrap();
    let again = LocalStore::open(dir.path()).unwrap();
    assert!(fresh.exists());
    assert_eq!(mode(&sp), 0o700);
    assert_eq!(mode(&sp.join("session.json")), 0o600);
    assert_eq!(mode(&runner.join("terraform.tfstate")), 0o600);
    assert_eq!(
        mode(&runner.join("hook.sh")),
        0o700,
        "the owner keeps its bits"
    );
    assert!(!stale.exists());
    assert!(again.load(&s.id).is_ok());
}

#[test]
fn traversal_and_absolute_paths_are_refused() {
    let (dir, store) = store();
    let s = store.create(Default::default()).unwrap();
    for bad in [
        "../session.json",
        "a/../../x.tf",
        "/etc/passwd",
        "./main.tf",
        ".terraform/x",
        "",
        "a/b/c/d/e.tf",
        "a\\..\\x.tf",
        "terraform.tfstate",
        "x/terraform.tfstate.backup",
    ] {
        let err = store
            .write_stack_file(&s.id, bad, b"x", Durability::Atomic)
            .expect_err(bad);
        assert!(
            matches!(err, StoreError::PathRefused { .. }),
            "{bad}: {err}"
        );
    }
    assert!(
        store
            .write_stack_file(&s.id, "modules/net/main.tf", b"x", Durability::Atomic)
            .expect("nested ok")
    );
    assert!(
        session_path(dir.path(), &s.id)
            .join("terraform/modules/net/main.tf")
            .is_file()
    );
    assert!(
        !store
            .write_stack_file(&s.id, "modules/net/main.tf", b"x", Durability::Atomic)
            .unwrap(),
        "same content: unchanged"
    );
}

#[test]
fn symlinks_are_not_followed() {
    let (d, store) = store();
    let s = store.create(Default::default()).unwrap();
    let tf = session_path(d.path(), &s.id).join("terraform");
    let outside = d.path().join("outside");
    fs::create_dir(&outside).unwrap();
    symlink(&outside, tf.join("escape")).unwrap();
    symlink(outside.join("f.tf"), tf.join("link.tf")).unwrap();
    let err = store
        .write_stack_file(&s.id, "escape/x.tf", b"x", Durability::Atomic)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Symlink { place } if place.rel == "terraform/escape"),
        "{err}"
    );
    assert!(
        store
            .write_stack_file(&s.id, "link.tf", b"x", Durability::Atomic)
            .is_err()
    );
    assert!(!outside.join("x.tf").exists() && !outside.join("f.tf").exists());
    // The listing and the digest refuse the stack too, naming the link relative to the session.
    let err = store.stack_digest(&s.id).unwrap_err().to_string();
    assert!(err.starts_with("terraform/escape of session s-"), "{err}");
    assert!(!err.contains(d.path().to_str().unwrap()), "{err}");
}

#[test]
fn a_session_or_stack_directory_that_is_a_link_is_refused() {
    let (d, store) = store();
    let outside = tempfile::tempdir().unwrap();
    // The stack directory itself.
    let s = store.create(Default::default()).unwrap();
    let sp = session_path(d.path(), &s.id);
    fs::remove_dir(sp.join("terraform")).unwrap();
    symlink(outside.path(), sp.join("terraform")).unwrap();
    for err in [
        store
            .write_stack_file(&s.id, "main.tf", b"x", Durability::Atomic)
            .unwrap_err(),
        store
            .write_stack_files(&s.id, &[("main.tf", b"x")], Durability::Atomic)
            .unwrap_err(),
        store.terraform_dir(&s.id).unwrap_err(),
        store.stack_files(&s.id).unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Symlink { .. }), "{err}");
    }
    // The runner directory, and a link inside it (Terraform would write through it).
    let r = store.create(Default::default()).unwrap();
    let rp = session_path(d.path(), &r.id);
    fs::create_dir(rp.join("runner")).unwrap();
    symlink(
        outside.path().join("state"),
        rp.join("runner/terraform.tfstate"),
    )
    .unwrap();
    assert!(matches!(
        store.runner_dir(&r.id),
        Err(StoreError::Symlink { .. })
    ));
    // The session directory itself, and its session.json.
    let t = store.create(Default::default()).unwrap();
    let tp = session_path(d.path(), &t.id);
    fs::rename(&tp, outside.path().join("moved")).unwrap();
    symlink(outside.path().join("moved"), &tp).unwrap();
    assert!(matches!(store.load(&t.id), Err(StoreError::Symlink { .. })));
    let u = store.create(Default::default()).unwrap();
    let up = session_path(d.path(), &u.id);
    fs::rename(up.join("session.json"), outside.path().join("u.json")).unwrap();
    symlink(outside.path().join("u.json"), up.join("session.json")).unwrap();
    assert!(matches!(store.load(&u.id), Err(StoreError::Symlink { .. })));
    assert!(matches!(
        store.save(&u, Durability::Atomic),
        Err(StoreError::Symlink { .. })
    ));
    // Listing skips what it cannot read and still lists the rest.
    let listed: Vec<_> = store.list().unwrap().into_iter().map(|s| s.id).collect();
    assert!(listed.contains(&s.id) && !listed.contains(&t.id) && !listed.contains(&u.id));
    assert_eq!(
        fs::read_dir(outside.path()).unwrap().count(),
        2,
        "nothing written outside"
    );
}

#[test]
fn digest_changes_with_any_packaged_file_but_not_with_terraform_bookkeeping() {
    let (d, store) = store();
    let s = store.create(Default::default()).unwrap();
    let tf = session_path(d.path(), &s.id).join("terraform");
    fs::write(tf.join("main.tf"), "a").unwrap();
    let d1 = store.stack_digest(&s.id).unwrap();
    fs::create_dir_all(tf.join(".terraform")).unwrap();
    fs::write(tf.join(".terraform/x"), "y").unwrap();
    fs::create_dir_all(tf.join("mod/.git")).unwrap();
    fs::write(tf.join("mod/.git/HEAD"), "y").unwrap();
    fs::write(tf.join("terraform.tfstate"), "{}").unwrap();
    fs::write(tf.join("terraform.tfstate.backup"), "{}").unwrap();
    assert_eq!(d1, store.stack_digest(&s.id).unwrap());
    // Hidden files and the lock file are packaged by the provider, so they count.
    fs::write(tf.join(".terraform.lock.hcl"), "l").unwrap();
    let d2 = store.stack_digest(&s.id).unwrap();
    assert_ne!(d1, d2);
    fs::set_permissions(tf.join("main.tf"), fs::Permissions::from_mode(0o700)).unwrap();
    let d3 = store.stack_digest(&s.id).unwrap();
    assert_ne!(d2, d3, "the executable bit is packaged");
    fs::write(tf.join("main.tf"), "b").unwrap();
    assert_ne!(d3, store.stack_digest(&s.id).unwrap());
}

#[test]
fn digest_matches_the_providers_documented_definition() {
    let (d, store) = store();
    let s = store.create(Default::default()).unwrap();
    let tf = session_path(d.path(), &s.id).join("terraform");
    fs::create_dir(tf.join("b")).unwrap();
    fs::write(tf.join("b/x.tf"), "xx").unwrap();
    fs::write(tf.join("a.tf"), "a").unwrap();
    fs::write(tf.join("run.sh"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(tf.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let line = |content: &str, mode: &str, rel: &str| {
        format!("{} {mode} {rel}\n", hex::encode(Sha256::digest(content)))
    };
    let manifest = [
        line("a", "644", "a.tf"),
        line("xx", "644", "b/x.tf"),
        line("#!/bin/sh\n", "755", "run.sh"),
    ]
    .concat();
    assert_eq!(
        store.stack_digest(&s.id).unwrap(),
        hex::encode(Sha256::digest(manifest))
    );
}

#[test]
fn errors_name_files_relative_to_the_session() {
    let (d, store) = store();
    let s = store.create(Default::default()).unwrap();
    let tf = session_path(d.path(), &s.id).join("terraform");
    fs::create_dir(tf.join("main.tf")).unwrap();
    let err = store
        .write_stack_file(&s.id, "main.tf", b"x", Durability::Atomic)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "terraform/main.tf of session {} is a directory, not a file",
            s.id
        )
    );
    let text = format!("Error: failed to read {}/x.tf", tf.display());
    assert_eq!(
        store.relative_to_session(&s.id, &text),
        "Error: failed to read terraform/x.tf"
    );
}

#[test]
fn update_locks_of_made_up_ids_do_not_accumulate() {
    let d = tempfile::tempdir().unwrap();
    let store = SessionStore::open(d.path()).unwrap();
    for i in 0..100 {
        let lock = store.update_lock(&format!("s-{i:012}"));
        drop(lock);
    }
    assert!(store.locks.lock().unwrap().is_empty());
    let a = store.update_lock("s-aaaaaaaaaaaa");
    let b = store.update_lock("s-aaaaaaaaaaaa");
    drop(a);
    assert_eq!(store.locks.lock().unwrap().len(), 1, "still held by b");
    drop(b);
    assert!(store.locks.lock().unwrap().is_empty());
}
