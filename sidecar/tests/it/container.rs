//! The image `deploy/` runs, built from `deploy/Dockerfile` and started with podman, offline:
//! the runtime base is a Debian image made here with mmdebstrap (the host's own release and apt
//! sources, so the binaries built on this host find their glibc), and the build arguments point
//! the Terraform and binaries stages at an image holding Terraform from the test tools and the
//! debug binaries this test run already built (no registry, no second compilation). The
//! container must run as its non-root user, pass its own HEALTHCHECK (`podman healthcheck
//! run`), serve a whole MCP session over HTTP with a URL token against galley-local (create,
//! design, export, plan, apply with the plan token, destroy), keep the token out of its logs,
//! keep its sessions in a bucket (`GALLEY_STATE_BUCKET`, as `container.tf` sets it) so that a
//! session survives the container being killed and replaced by a fresh one with no volume, and
//! stop cleanly on SIGTERM as PID 1.
//!
//! The container has a network namespace of its own (slirp4netns): the published port is on the
//! host's loopback, and the container reaches galley-local, which listens on the host's
//! loopback, at slirp4netns's host address. Nothing listens beyond loopback.
//!
//! Needs podman, buildah, runc and mmdebstrap (`bash tests/setup.sh` installs and configures
//! them) and root; fails with what to install otherwise. Everything it creates (images, the
//! container, tarballs) is removed by id when it ends, passed or not. Takes about two minutes on
//! two cores, most of it mmdebstrap (about 70 s) and apt-get inside the build. Debug binaries,
//! because the test run builds them anyway: release ones would add minutes of compilation.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use galley_contract::env::WORK_COMPARTMENT_ID;
use galley_oci::setup::env as oci_env;
use galley_tests::local::LocalOci;

use crate::local_engine::{self, Rm};
use crate::store::{new_bucket, object_storage};
use crate::util;

/// Where the container sees galley-local: slirp4netns forwards this address to the host's
/// loopback when `allow_host_loopback` is set.
const HOST_LOOPBACK_FROM_CONTAINER: &str = "10.0.2.2";
const NETWORK: &str = "slirp4netns:allow_host_loopback=true";
/// Where the OCI config file and key are mounted in the container.
const OCI_DIR: &str = "/run/galley-oci";
const TOKEN: &str = "container-t0ken-0123456789abcdef0123456789abcdef";
/// The sessions bucket, as `container.tf` gives the container one.
const STATE_BUCKET: &str = "galley-sessions";

const INSTALL_HINT: &str = "install them with `bash tests/setup.sh` (as root: it runs apt-get \
     install podman buildah runc mmdebstrap and writes /etc/containers/containers.conf)";

/// Runs a command with a deadline; panics with its output when it fails.
fn run(cmd: &mut Command, limit: Duration, what: &str) -> String {
    let (ok, out, err) = util::run_with_timeout(cmd, limit);
    assert!(ok, "{what} failed:\n{out}\n{err}");
    out.trim().to_string()
}

fn podman(args: &[&str], limit: Duration) -> String {
    run(
        Command::new("podman").args(args),
        limit,
        &format!("podman {}", args.join(" ")),
    )
}

/// Fails (never skips) when the tools are missing or podman cannot start a container.
fn require_tools() {
    for tool in ["podman", "buildah", "runc", "mmdebstrap"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "{tool} is needed to build and run the deployment image: {INSTALL_HINT}"
        );
    }
    let (ok, out, err) = util::run_with_timeout(
        Command::new("podman").args(["info", "--format", "{{.Host.OCIRuntime.Name}}"]),
        Duration::from_secs(60),
    );
    assert!(
        ok,
        "podman cannot run here ({out}{err}): {INSTALL_HINT}. Without root, podman needs subuids \
         for the user."
    );
}

/// What the test created, removed by id when it ends, in reverse order of creation.
#[derive(Default)]
struct Created {
    containers: Vec<String>,
    images: Vec<String>,
}

impl Drop for Created {
    fn drop(&mut self) {
        for id in self.containers.drain(..).rev() {
            let _ = Command::new("podman").args(["rm", "-f", &id]).output();
        }
        for id in self.images.drain(..).rev() {
            let _ = Command::new("podman").args(["rmi", "-f", &id]).output();
        }
    }
}

/// The image id `podman import` prints on its last stdout line.
fn import(tar: &Path, tag: &str, created: &mut Created) -> String {
    let out = podman(
        &["import", "--quiet", tar.to_str().expect("utf-8"), tag],
        Duration::from_secs(300),
    );
    let id = out.lines().last().unwrap_or_default().trim().to_string();
    assert!(!id.is_empty(), "podman import printed no id");
    created.images.push(id.clone());
    std::fs::remove_file(tar).expect("remove the tarball");
    id
}

/// A minimal Debian of the host's release from the host's apt sources, as an image.
fn debian_base(work: &Path, tag: &str, created: &mut Created) -> String {
    let os = std::fs::read_to_string("/etc/os-release").expect("read /etc/os-release");
    let field = |k: &str| {
        os.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
    };
    assert_eq!(
        field("ID").as_deref(),
        Some("debian"),
        "the test image is built from the host's Debian release; this host is not Debian"
    );
    let codename = field("VERSION_CODENAME").expect("VERSION_CODENAME in /etc/os-release");
    // mmdebstrap pastes a sources file into the new system as it is (deb822 or one-line).
    let sources = [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ]
    .into_iter()
    .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.lines().any(|l| l.contains("debian"))))
    .expect("no Debian apt sources on this host");
    let tar = work.join("base.tar");
    run(
        Command::new("mmdebstrap")
            .args(["--variant=minbase", "--quiet"])
            // Without it, usrmerge and perl come in: a third bigger and slower.
            .arg("--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr")
            .arg(&codename)
            .arg(&tar)
            .arg(sources),
        Duration::from_secs(600),
        "mmdebstrap",
    );
    import(&tar, tag, created)
}

/// An image holding `/bin/terraform` and `/out/{galley-sidecar,terraform-provider-galley}`: the
/// Dockerfile's TERRAFORM_IMAGE and BINARIES.
fn artifacts(work: &Path, tag: &str, created: &mut Created) -> String {
    let root = work.join("artifacts");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::create_dir_all(root.join("out")).expect("mkdir");
    // The Terraform build of the test tools that is a static Go binary (the newest one runs
    // inside Python here), so it runs in any base.
    let terraform = std::fs::canonicalize(util::tool("terraform-1.0")).expect("resolve");
    std::fs::copy(&terraform, root.join("bin/terraform")).expect("copy terraform");
    std::fs::copy(util::sidecar_bin(), root.join("out/galley-sidecar")).expect("copy sidecar");
    local_engine::provider_dir(&root.join("out"));
    let tar = work.join("artifacts.tar");
    run(
        Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .args(["bin", "out"]),
        Duration::from_secs(120),
        "tar",
    );
    std::fs::remove_dir_all(&root).expect("remove the staging directory");
    import(&tar, tag, created)
}

/// The OCI config file and key galley-local trusts, readable by the container's user, with
/// the paths the container sees.
fn oci_config(local: &LocalOci, dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("mkdir");
    let config = std::fs::read_to_string(local.config_file()).expect("read the config");
    let mut out = String::new();
    for line in config.lines() {
        if let Some(key) = line.strip_prefix("key_file=") {
            std::fs::copy(key, dir.join("oci_api_key.pem")).expect("copy the key");
            out.push_str(&format!("key_file={OCI_DIR}/oci_api_key.pem\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(dir.join("config"), out).expect("write the config");
    // A throwaway test key: the container runs as uid 10001, not as the owner.
    for (path, mode) in [
        (dir.to_path_buf(), 0o755),
        (dir.join("config"), 0o644),
        (dir.join("oci_api_key.pem"), 0o644),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    dir.to_path_buf()
}

/// The environment `container.tf` gives the sidecar, with galley-local in place of OCI: the
/// config file and the endpoints the provider reads, the work compartment, the token.
fn container_env(local: &LocalOci) -> Vec<String> {
    let port = local.addr().port();
    let endpoint = format!("http://{HOST_LOOPBACK_FROM_CONTAINER}:{port}");
    let mut env = Vec::new();
    for (k, v) in local.env() {
        let v = if k == oci_env::CONFIG_FILE {
            format!("{OCI_DIR}/config")
        } else if v.starts_with("http://127.0.0.1:") {
            endpoint.clone()
        } else {
            v
        };
        env.push(format!("{k}={v}"));
    }
    assert!(
        env.iter()
            .any(|e| e.starts_with(&format!("{WORK_COMPARTMENT_ID}=")))
    );
    env.push(format!("GALLEY_URL_TOKEN={TOKEN}"));
    env.push(format!("GALLEY_STATE_BUCKET={STATE_BUCKET}"));
    env.push("GALLEY_ALLOWED_HOSTS=127.0.0.1".to_string());
    env.push("RUST_LOG=info".to_string());
    env
}

/// Starts a container of `image` as `container.tf` runs it (no volume: its data directory is the
/// container's own), and waits for its HEALTHCHECK to pass; the container and how long it took.
fn start_container(
    image: &str,
    local: &LocalOci,
    oci: &Path,
    created: &mut Created,
) -> (String, Duration) {
    let mut args: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        "--pull=never".into(),
        format!("--network={NETWORK}"),
        // A free port on the host's loopback only.
        "-p".into(),
        "127.0.0.1::8000".into(),
        "-v".into(),
        format!("{}:{OCI_DIR}:ro", oci.display()),
        // What container.tf asks of Container Instances.
        "--cap-drop=ALL".into(),
    ];
    for e in container_env(local) {
        args.push("-e".into());
        args.push(e);
    }
    args.push(image.to_string());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run_started = Instant::now();
    let container = podman(&refs, Duration::from_secs(120));
    created.containers.push(container.clone());

    // Its own HEALTHCHECK passes once the sidecar listens.
    let healthy = loop {
        let (ok, _, _) = util::run_with_timeout(
            Command::new("podman").args(["healthcheck", "run", &container]),
            Duration::from_secs(30),
        );
        if ok {
            break run_started.elapsed();
        }
        let logs = Command::new("podman")
            .args(["logs", &container])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_default();
        assert!(
            run_started.elapsed() < Duration::from_secs(60),
            "the container is not healthy after a minute:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };

    (container, healthy)
}

#[test]
fn the_sidecar_image_builds_runs_as_non_root_and_serves_a_whole_session() {
    require_tools();
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("galley-image-")
        .tempdir()
        .expect("tempdir");
    let unique = format!(
        "t{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    );
    let mut created = Created::default();

    let base = debian_base(
        work.path(),
        &format!("localhost/galley-test-base:{unique}"),
        &mut created,
    );
    let base_done = started.elapsed();
    let artifacts = artifacts(
        work.path(),
        &format!("localhost/galley-test-artifacts:{unique}"),
        &mut created,
    );

    // The Dockerfile as users build it, with the three sources replaced.
    let context = work.path().join("context");
    std::fs::create_dir(&context).expect("mkdir");
    let iid = work.path().join("iid");
    let dockerfile = util::workspace_root().join("deploy/Dockerfile");
    let build_started = Instant::now();
    let (ok, out, err) = util::run_with_timeout(
        Command::new("podman")
            // Layers are kept (the default): removing the image by id removes them too, while
            // `--layers=false` deletes the imported images the empty stages start from.
            .args(["build", "--pull=never", "--format", "docker"])
            .arg("--iidfile")
            .arg(&iid)
            .arg("-f")
            .arg(&dockerfile)
            .args(["--build-arg", &format!("RUNTIME_IMAGE={base}")])
            .args(["--build-arg", &format!("TERRAFORM_IMAGE={artifacts}")])
            .args(["--build-arg", &format!("BINARIES={artifacts}")])
            .args(["-t", &format!("localhost/galley-test-sidecar:{unique}")])
            .arg(&context),
        Duration::from_secs(900),
    );
    if let Ok(id) = std::fs::read_to_string(&iid) {
        created.images.push(id.trim().to_string());
    }
    assert!(ok, "podman build failed:\n{out}\n{err}");
    let build_time = build_started.elapsed();
    let image = std::fs::read_to_string(&iid)
        .expect("the image id")
        .trim()
        .to_string();
    let size: u64 = podman(
        &["image", "inspect", "--format", "{{.Size}}", &image],
        Duration::from_secs(60),
    )
    .parse()
    .expect("size");
    assert_eq!(
        podman(
            &["image", "inspect", "--format", "{{.Config.User}}", &image],
            Duration::from_secs(60)
        ),
        "galley"
    );

    // galley-local on the host's loopback, and the container in front of it.
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async { new_bucket(&object_storage(&local).await, STATE_BUCKET).await });
    let oci = oci_config(&local, &work.path().join("oci"));
    let (container, healthy) = start_container(&image, &local, &oci, &mut created);

    // Non-root: the sidecar's own process, not just the image's setting.
    assert_eq!(
        podman(&["exec", &container, "id", "-u"], Duration::from_secs(30)),
        "10001"
    );
    assert_eq!(
        podman(
            &["top", &container, "user", "comm"],
            Duration::from_secs(30)
        )
        .lines()
        .filter(|l| l.contains("galley-sidecar"))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .collect::<Vec<_>>(),
        ["galley"]
    );

    // A whole session through the published port, with the token.
    let published = podman(&["port", &container, "8000/tcp"], Duration::from_secs(30));
    let addr = published
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "published on {addr}");
    let url = format!("http://{addr}/mcp?token={TOKEN}");
    let marks = tempfile::tempdir().expect("tempdir");
    let marker = marks.path().join("destroyed.marker");
    let session_started = Instant::now();
    let seen = local_engine::client(
        "deploy_session.py",
        "legacy",
        &["http", &url],
        &[],
        &["--marker", marker.to_str().expect("utf-8")],
    );
    let session_time = session_started.elapsed();
    local_engine::assert_deployed_and_destroyed(&seen, &rm, &marker);

    // The sidecar logged its work (structured, on stderr) and never the token.
    let logs = Command::new("podman")
        .args(["logs", &container])
        .output()
        .expect("podman logs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&logs.stdout),
        String::from_utf8_lossy(&logs.stderr),
    );
    assert!(
        stdout.trim().is_empty(),
        "the HTTP sidecar wrote to stdout: {stdout}"
    );
    assert!(stderr.contains("ready: serving MCP"), "{stderr}");
    assert!(
        !stderr.contains(TOKEN),
        "the token is in the container's logs"
    );

    // The container replaced, as an image update or a host failure replaces it: a session
    // planned on this one, the container killed (SIGKILL) and removed with its data
    // directory, a fresh one started with no volume. The session is read back from the bucket
    // and planned and applied again on the same stack.
    let planned = local_engine::client("plan_session.py", "legacy", &[&url], &[], &[]);
    let sid = planned["session_id"]
        .as_str()
        .expect("a session")
        .to_string();
    let stack = planned["stack_id"].as_str().expect("a stack").to_string();
    podman(&["kill", "-s", "KILL", &container], Duration::from_secs(60));
    podman(&["rm", "-f", &container], Duration::from_secs(60));
    let (container, _) = start_container(&image, &local, &oci, &mut created);
    let published = podman(&["port", &container, "8000/tcp"], Duration::from_secs(30));
    let url = format!(
        "http://{}/mcp?token={TOKEN}",
        published.lines().next().unwrap_or_default().trim()
    );
    let resumed = local_engine::client("resume_session.py", "legacy", &[&url, &sid], &[], &[]);
    assert_eq!(resumed["ok"], true, "{resumed}");
    assert_eq!(resumed["session"]["id"], sid.as_str(), "{resumed}");
    assert_eq!(
        resumed["session"]["rm_stack_id"],
        stack.as_str(),
        "{resumed}"
    );
    assert_eq!(resumed["apply"]["stack_id"], stack.as_str(), "{resumed}");
    assert_eq!(resumed["apply"]["job_state"], "SUCCEEDED", "{resumed}");
    let tagged: Vec<_> = rm
        .stacks()
        .into_iter()
        .filter(|(_, tags)| tags.get("galley-session") == Some(&sid))
        .collect();
    assert_eq!(tagged.len(), 1, "one stack for the session: {tagged:?}");

    // SIGTERM to PID 1: a clean exit well before podman's kill.
    let stop_started = Instant::now();
    podman(&["stop", "-t", "20", &container], Duration::from_secs(60));
    let stop_time = stop_started.elapsed();
    assert!(
        stop_time < Duration::from_secs(15),
        "the sidecar took {stop_time:?} to stop"
    );
    assert_eq!(
        podman(
            &["inspect", "--format", "{{.State.ExitCode}}", &container],
            Duration::from_secs(30)
        ),
        "0"
    );

    eprintln!(
        "deployment image: {:.0} MB; base {:.0?}, build {:.0?}, healthy after {:.1?}, session {:.0?}, stop {:.1?}, total {:.0?}",
        size as f64 / 1e6,
        base_done,
        build_time,
        healthy,
        session_time,
        stop_time,
        started.elapsed()
    );
    drop(created);
}
