//! One suite for both stores: every case runs against the directory store and against the bucket
//! store on galley-local's Object Storage (real HTTP, signed requests, preconditions), each time
//! through a second store on the same backing (the same directory; the same bucket with a cache
//! of its own, as a second sidecar has) where the case needs two writers. Then what only a bucket
//! can do wrong: Object Storage unreachable or failing mid-write.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use galley_oci::object_storage::{CreateBucketDetails, ObjectStorageClient};
use galley_oci::setup::{self, SetupInputs};
use galley_sidecar::model::SessionStatus;
use galley_sidecar::store::lease::LeaseInfo;
use galley_sidecar::store::{
    BucketConfig, Cond, Durability, SessionStore, StoreError, UpdateError, digest_of, objects,
};
use galley_tests::local::{COMPARTMENT, LocalOci, NAMESPACE};
use sha2::{Digest, Sha256};

/// Where a store keeps its sessions.
pub enum Backing {
    Dir(tempfile::TempDir),
    Bucket {
        client: ObjectStorageClient,
        bucket: String,
        caches: std::sync::Mutex<Vec<tempfile::TempDir>>,
    },
}

/// The Object Storage client of the engine's environment, as the sidecar builds it.
pub async fn object_storage(local: &LocalOci) -> ObjectStorageClient {
    let env: HashMap<String, String> = local.env().into_iter().collect();
    let lookup = move |k: &str| env.get(k).cloned();
    let os = setup::build_clients(&SetupInputs::from_env(&lookup), &lookup, "galley-tests")
        .await
        .expect("OCI set-up")
        .object_storage;
    os.with_client(
        os.client()
            .with_retry_policy(galley_sidecar::store::retry_policy())
            .with_timeout(Duration::from_secs(10)),
    )
}

/// A new private bucket on the engine.
pub async fn new_bucket(client: &ObjectStorageClient, name: &str) {
    client
        .create_bucket(NAMESPACE, &CreateBucketDetails::new(name, COMPARTMENT))
        .await
        .expect("create the state bucket");
}

impl Backing {
    pub fn dir() -> Self {
        Backing::Dir(tempfile::tempdir().expect("tempdir"))
    }

    pub async fn bucket(local: &LocalOci, name: &str) -> Self {
        let client = object_storage(local).await;
        new_bucket(&client, name).await;
        Backing::Bucket {
            client,
            bucket: name.into(),
            caches: Default::default(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backing::Dir(_) => "directory",
            Backing::Bucket { .. } => "bucket",
        }
    }

    /// A store on this backing (for the bucket, with an empty cache of its own).
    pub async fn open(&self) -> SessionStore {
        match self {
            Backing::Dir(d) => SessionStore::open(d.path()).expect("open the directory store"),
            Backing::Bucket {
                client,
                bucket,
                caches,
            } => {
                let cache = tempfile::tempdir().expect("tempdir");
                let store = SessionStore::open_bucket(
                    cache.path(),
                    BucketConfig {
                        client: client.clone(),
                        namespace: NAMESPACE.into(),
                        bucket: bucket.clone(),
                        cache_sessions: 8,
                    },
                )
                .await
                .expect("open the bucket store");
                caches.lock().unwrap().push(cache);
                store
            }
        }
    }
}

/// The provider's digest of a directory, computed here from its documented definition: one line
/// per file, sorted by path, `<sha256 hex> <644|755> <path>\n`, hashed.
fn digest_of_dir(dir: &Path) -> String {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &rel, out);
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                out.push((rel, hex::encode(Sha256::digest(&bytes))));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, "", &mut files);
    files.sort();
    let mut h = Sha256::new();
    for (rel, sha) in files {
        h.update(format!("{sha} 644 {rel}\n"));
    }
    hex::encode(h.finalize())
}

fn refused<E: std::fmt::Debug>(r: Result<impl std::fmt::Debug, UpdateError<E>>) -> StoreError {
    match r {
        Err(UpdateError::Store(e)) => e,
        other => panic!("expected a store error, got {other:?}"),
    }
}

async fn sessions_files_and_the_digest(b: &Backing) {
    let store = b.open().await;
    let s = store.create(Default::default()).await.unwrap();
    let ((changed, digest_before), saved) = store
        .update(&s.id, Durability::Atomic, |s, edit| {
            s.status = SessionStatus::Exported;
            let digest_before = edit.stack_digest()?;
            let changed = vec![
                edit.write_stack_file("main.tf", b"variable \"a\" {}\n")?,
                edit.write_stack_file("modules/net/main.tf", b"# net\n")?,
            ];
            Ok::<_, StoreError>((changed, digest_before))
        })
        .await
        .unwrap();
    assert_eq!(changed, [true, true], "{}", b.name());
    assert_eq!(digest_before, digest_of(&[]), "an empty stack");
    assert_eq!(saved.status, SessionStatus::Exported);

    // Another store on the same backing (another sidecar, or this one restarted on an empty
    // cache) sees the session, its files and the same digest; its run directory holds them.
    let other = b.open().await;
    assert_eq!(other.load(&s.id).await.unwrap(), saved, "{}", b.name());
    let files: Vec<String> = other
        .stack_files(&s.id)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.rel)
        .collect();
    assert_eq!(files, ["main.tf", "modules/net/main.tf"]);
    let digest = other.stack_digest(&s.id).await.unwrap();
    assert_eq!(digest, store.stack_digest(&s.id).await.unwrap());
    let dirs = other.run_dirs(&s.id).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dirs.stack_dir.join("modules/net/main.tf")).unwrap(),
        "# net\n"
    );
    assert_eq!(
        digest_of_dir(&dirs.stack_dir),
        digest,
        "{}: the run directory is what the digest says",
        b.name()
    );

    // The same content again changes nothing; a changed file does, and reaches the other
    // store's run directory; a bad path is refused and nothing is written.
    let (unchanged, _) = other
        .update(&s.id, Durability::Atomic, |_, edit| {
            edit.write_stack_file("main.tf", b"variable \"a\" {}\n")
        })
        .await
        .unwrap();
    assert!(!unchanged);
    store
        .update(&s.id, Durability::Atomic, |_, edit| {
            edit.write_stack_file("main.tf", b"variable \"b\" {}\n")
        })
        .await
        .unwrap();
    let dirs = other.run_dirs(&s.id).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dirs.stack_dir.join("main.tf")).unwrap(),
        "variable \"b\" {}\n"
    );
    assert_ne!(other.stack_digest(&s.id).await.unwrap(), digest);
    let err = store
        .update(&s.id, Durability::Atomic, |_, edit| {
            edit.write_stack_file("../x.tf", b"x")
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpdateError::Refused(StoreError::PathRefused { .. })),
        "{err:?}"
    );

    // Listing: newest first, everything in it.
    let t = store.create(Default::default()).await.unwrap();
    let listed: Vec<String> = other
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert!(
        listed.contains(&s.id) && listed.contains(&t.id),
        "{listed:?}"
    );
    let err = other.load("s-aaaaaaaaaaaa").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
}

/// Two writers read the same version; the second to save is refused with what to do, and the
/// first one's change is kept whole.
async fn a_racing_update_is_refused_and_nothing_is_lost(b: &Backing) {
    let a = b.open().await;
    let other = b.open().await;
    let s = a.create(Default::default()).await.unwrap();
    // Both stores read the session before either saves.
    a.load(&s.id).await.unwrap();
    other.load(&s.id).await.unwrap();
    let read = Arc::new(Barrier::new(2));
    let saved = Arc::new(Barrier::new(2));
    let slow = {
        let (read, saved, a, id) = (read.clone(), saved.clone(), a.clone(), s.id.clone());
        tokio::spawn(async move {
            a.update(&id, Durability::Atomic, move |s, edit| {
                read.wait();
                // The other writer saves here.
                saved.wait();
                s.answers.insert("from".into(), "a".into());
                edit.write_stack_file("a.tf", b"# a\n")
            })
            .await
        })
    };
    let fast = {
        let (read, saved, other, id) = (read, saved, other.clone(), s.id.clone());
        tokio::spawn(async move {
            // Wait until the slow writer has read.
            tokio::task::spawn_blocking(move || read.wait())
                .await
                .unwrap();
            let r = other
                .update(&id, Durability::Atomic, |s, edit| {
                    s.answers.insert("from".into(), "b".into());
                    edit.write_stack_file("b.tf", b"# b\n")
                })
                .await;
            tokio::task::spawn_blocking(move || saved.wait())
                .await
                .unwrap();
            r
        })
    };
    fast.await.unwrap().expect("the first to save wins");
    let err = refused(slow.await.unwrap());
    assert!(err.is_conflict(), "{}: {err}", b.name());
    assert!(err.to_string().contains("get_session"), "{err}");
    let fresh = b.open().await;
    let stored = fresh.load(&s.id).await.unwrap();
    assert_eq!(stored.answers["from"], "b", "{}", b.name());
    let files: Vec<String> = fresh
        .stack_files(&s.id)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.rel)
        .collect();
    assert_eq!(
        files,
        ["b.tf"],
        "{}: the refused update wrote nothing",
        b.name()
    );
}

async fn runner_objects_are_compared_and_swapped(b: &Backing) {
    let store = b.open().await;
    let other = b.open().await;
    let s = store.create(Default::default()).await.unwrap();
    let id = s.id.as_str();
    assert!(
        store
            .get_object(id, objects::STATE)
            .await
            .unwrap()
            .is_none()
    );
    let v1 = store
        .put_object(id, objects::STATE, b"one".to_vec(), Cond::Absent)
        .await
        .unwrap();
    let err = other
        .put_object(id, objects::STATE, b"two".to_vec(), Cond::Absent)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{}: {err}", b.name());
    let (bytes, seen) = other.get_object(id, objects::STATE).await.unwrap().unwrap();
    assert_eq!((bytes.as_slice(), &seen), (&b"one"[..], &v1));
    let v2 = other
        .put_object(
            id,
            objects::STATE,
            b"two".to_vec(),
            Cond::Matches(v1.clone()),
        )
        .await
        .unwrap();
    let err = store
        .put_object(
            id,
            objects::STATE,
            b"three".to_vec(),
            Cond::Matches(v1.clone()),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "a stale version is refused: {err}");
    assert!(
        store
            .delete_object(id, objects::STATE, Cond::Matches(v1))
            .await
            .unwrap_err()
            .is_conflict()
    );
    store
        .delete_object(id, objects::STATE, Cond::Matches(v2))
        .await
        .unwrap();
    assert!(
        other
            .get_object(id, objects::STATE)
            .await
            .unwrap()
            .is_none()
    );
}

async fn saved_plans_follow_the_session(b: &Backing) {
    let store = b.open().await;
    let s = store.create(Default::default()).await.unwrap();
    let dirs = store.run_dirs(&s.id).await.unwrap();
    assert_eq!(store.keep_plan(&s.id, "plan.tfplan").await.unwrap(), None);
    std::fs::write(dirs.work_dir.join("plan.tfplan"), b"a saved plan").unwrap();
    let digest = store
        .keep_plan(&s.id, "plan.tfplan")
        .await
        .unwrap()
        .expect("a digest");
    assert_eq!(digest, hex::encode(Sha256::digest(b"a saved plan")));
    let other = b.open().await;
    other
        .fetch_plan(&s.id, "plan.tfplan", &digest)
        .await
        .unwrap();
    let there = other.run_dirs(&s.id).await.unwrap().work_dir;
    assert_eq!(
        std::fs::read(there.join("plan.tfplan")).unwrap(),
        b"a saved plan",
        "{}",
        b.name()
    );
}

/// Leases: one holder at a time, named in the refusal with its end; kept while renewed; taken
/// over once ended unrenewed (and the dead holder's state lock with it); lost when taken.
async fn leases(b: &Backing) {
    let a = b.open().await.with_lease_duration(Duration::from_secs(2));
    let other = b.open().await.with_lease_duration(Duration::from_secs(2));
    let s = a.create(Default::default()).await.unwrap();
    let id = s.id.as_str();
    let held = a.lease(id, "apply").await.unwrap();
    assert!(held.taken_over().is_none());
    // Past its first duration: renewal keeps it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let err = other.lease(id, "plan").await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, StoreError::Busy { operation, .. } if operation == "apply"),
        "{}: {text}",
        b.name()
    );
    assert!(
        text.contains(&a.leases().holder),
        "names the holder: {text}"
    );
    assert!(text.contains("lease of the session ends at 20"), "{text}");
    held.release().await;
    other.lease(id, "plan").await.unwrap().release().await;

    // A holder that died: its lease (and a state lock of its run) stays until it ends.
    let dead = LeaseInfo {
        holder: "galley-sidecar on gone, pid 1 (000000)".into(),
        operation: "apply".into(),
        acquired_at: now(),
        expires_at: now() + 2,
    };
    a.put_object(
        id,
        objects::LEASE,
        serde_json::to_vec(&dead).unwrap(),
        Cond::Absent,
    )
    .await
    .unwrap();
    a.put_object(
        id,
        objects::STATE_LOCK,
        br#"{"ID":"x"}"#.to_vec(),
        Cond::Absent,
    )
    .await
    .unwrap();
    let err = other.lease(id, "plan").await.unwrap_err().to_string();
    assert!(err.contains("pid 1 (000000)"), "{err}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let taken = other.lease(id, "plan").await.unwrap();
    assert_eq!(taken.taken_over(), Some(&dead), "{}", b.name());
    assert!(
        a.get_object(id, objects::STATE_LOCK)
            .await
            .unwrap()
            .is_none(),
        "the dead run's state lock went with its lease"
    );

    // A lease overwritten under its holder is lost: the holder's operation is told.
    let lost = taken.lost();
    let (_, version) = a.get_object(id, objects::LEASE).await.unwrap().unwrap();
    a.put_object(id, objects::LEASE, b"{}".to_vec(), Cond::Matches(version))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), lost.cancelled())
        .await
        .expect("the holder noticed the lease was taken");
    drop(taken);
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The application directory lives with the session: another store on the same backing sees
/// it, and a build directory written from it holds exactly its files (a file removed from the
/// app leaves the build directory too), without touching the stack's digest.
async fn app_files_follow_the_session(b: &Backing) {
    let store = b.open().await;
    let s = store.create(Default::default()).await.unwrap();
    let stack_digest = store.stack_digest(&s.id).await.unwrap();
    let (_, saved) = store
        .update(&s.id, Durability::Atomic, |s, _| {
            for (p, c) in [
                ("Dockerfile", "FROM scratch\n"),
                ("src/app.py", "print(1)\n"),
            ] {
                galley_sidecar::app::put_file(&mut s.app_files, p, c)?;
            }
            Ok::<_, String>(())
        })
        .await
        .unwrap();
    let other = b.open().await;
    let loaded = other.load(&s.id).await.unwrap();
    assert_eq!(loaded.app_files, saved.app_files, "{}", b.name());
    assert_eq!(other.stack_digest(&s.id).await.unwrap(), stack_digest);
    let dir = other.build_dir(&s.id, &loaded.app_files).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("app/src/app.py")).unwrap(),
        "print(1)\n"
    );
    let mut fewer = loaded.app_files.clone();
    fewer.remove("src/app.py");
    let dir = other.build_dir(&s.id, &fewer).await.unwrap();
    assert!(dir.join("app/Dockerfile").is_file());
    assert!(!dir.join("app/src/app.py").exists(), "{}", b.name());
}

async fn both(local: &LocalOci, bucket: &str) -> [Backing; 2] {
    [Backing::dir(), Backing::bucket(local, bucket).await]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_stores_keep_sessions_files_and_digests_alike() {
    let local = LocalOci::start();
    for b in both(&local, "suite-files").await {
        sessions_files_and_the_digest(&b).await;
        saved_plans_follow_the_session(&b).await;
        app_files_follow_the_session(&b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_stores_refuse_a_racing_update_and_swap_objects_conditionally() {
    let local = LocalOci::start();
    for b in both(&local, "suite-race").await {
        a_racing_update_is_refused_and_nothing_is_lost(&b).await;
        runner_objects_are_compared_and_swapped(&b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_stores_lease_heavy_operations() {
    let local = LocalOci::start();
    for b in both(&local, "suite-lease").await {
        leases(&b).await;
    }
}

/// The session's record as Object Storage has it, read with a client of its own.
async fn record(client: &ObjectStorageClient, bucket: &str, id: &str) -> serde_json::Value {
    let body = client
        .get_object(NAMESPACE, bucket, &format!("sessions/{id}.json"))
        .await
        .expect("the record")
        .value
        .body;
    serde_json::from_slice(&body).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn object_storage_failing_mid_write_leaves_the_session_as_it_was() {
    let local = LocalOci::start();
    let b = Backing::bucket(&local, "suite-faults").await;
    let Backing::Bucket { client, bucket, .. } = &b else {
        unreachable!()
    };
    let store = b.open().await;
    let s = store.create(Default::default()).await.unwrap();
    store
        .update(&s.id, Durability::Atomic, |_, edit| {
            edit.write_stack_file("main.tf", b"# one\n")
        })
        .await
        .unwrap();
    let before = record(client, bucket, &s.id).await;

    // 500 on the session's record, after the new files' contents were stored.
    local.arm_fault(&serde_json::json!({
        "route": format!("PUT /n/{NAMESPACE}/b/{bucket}/o/sessions%2F{}.json", s.id),
        "kind": "status", "status": 500, "count": 5
    }));
    let err = refused(
        store
            .update(&s.id, Durability::Atomic, |s, edit| {
                s.status = SessionStatus::Exported;
                edit.write_stack_file("main.tf", b"# two\n")?;
                edit.write_stack_file("variables.tf", b"# vars\n")
            })
            .await,
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "failed to save session {} in Object Storage",
            s.id
        )),
        "{text}"
    );
    assert!(
        text.contains("500") && text.contains("get_session"),
        "{text}"
    );
    local.clear_faults();
    assert_eq!(
        record(client, bucket, &s.id).await,
        before,
        "nothing half-written"
    );

    // 500 on a file's content: the record is not written at all.
    local.arm_fault(&serde_json::json!({
        "route": format!("PUT /n/{NAMESPACE}/b/{bucket}/o/sessions%2F{}%2Ffiles%2F*", s.id),
        "kind": "status", "status": 500, "count": 1
    }));
    let err = refused(
        store
            .update(&s.id, Durability::Atomic, |_, edit| {
                edit.write_stack_file("main.tf", b"# three\n")
            })
            .await,
    )
    .to_string();
    assert!(err.contains("The session was not changed"), "{err}");
    assert_eq!(record(client, bucket, &s.id).await, before);

    // Unreachable: connections dropped. Reads say so and change nothing.
    local.clear_faults();
    local.arm_fault(&serde_json::json!({
        "route": format!("* /n/{NAMESPACE}/b/{bucket}/**"), "kind": "drop", "count": 50
    }));
    let err = store.load(&s.id).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "failed to read session {} in Object Storage",
            s.id
        )),
        "{err}"
    );
    assert!(err.contains("Nothing was changed"), "{err}");
    local.clear_faults();

    // Once Object Storage answers again, the session is what it was, and editable.
    let fresh = b.open().await;
    let files = fresh.run_dirs(&s.id).await.unwrap().stack_dir;
    assert_eq!(
        std::fs::read_to_string(files.join("main.tf")).unwrap(),
        "# one\n"
    );
    assert!(!files.join("variables.tf").exists());
    assert_eq!(
        fresh.load(&s.id).await.unwrap().status,
        SessionStatus::Designing
    );
    fresh
        .update(&s.id, Durability::Atomic, |_, edit| {
            edit.write_stack_file("main.tf", b"# four\n")
        })
        .await
        .unwrap();
}
