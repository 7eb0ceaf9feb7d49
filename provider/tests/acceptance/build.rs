//! `galley_build` with real Terraform against galley-local, whose run command executes the
//! build script with a stand-in `docker` first on its PATH (it records its calls and prints a
//! push digest), and whose pre-authenticated URLs the script's real `curl` fetches.

use std::path::{Path, PathBuf};

use galley_oci::client::Request;
use galley_oci::object_storage::CreateBucketDetails;
use galley_provider::packaging::Tree;
use galley_tests::local::{COMPARTMENT, LocalOci, LocalOptions, NAMESPACE};
use galley_tests::terraform::{Install, TfVersion, Workdir};
use sha2::{Digest, Sha256};

use crate::oci_util::{Oci, PROVIDER, attr, copy_fixture_dir, workdir};

const ADDRESS: &str = "galley_build.app";
const BUCKET: &str = "builds";
const TOKEN: &str = "tok-s3cret-Value-42";
const IMAGE: &str = "iad.ocir.io/galleylocal/app:v1";

fn build_config() -> String {
    format!(
        r#"{PROVIDER}
resource "galley_build" "app" {{
  provider            = galley
  instance_id         = "ocid1.instance.oc1..aaaaaaaabuildhost"
  app_dir             = "${{path.module}}/app"
  bucket_name         = "{BUCKET}"
  image_uri           = "{IMAGE}"
  build_args          = {{ VERSION = "1.0" }}
  registry_username   = "galleylocal/ci"
  registry_auth_token = "{TOKEN}"
}}

output "digest" {{
  value = galley_build.app.image_digest
}}
"#
    )
}

/// A directory holding the stand-in `docker`, recording into `record`.
fn stand_in_tools(record: &Path) -> tempfile::TempDir {
    let bin = tempfile::Builder::new()
        .prefix("galley-build-bin-")
        .tempdir()
        .unwrap();
    copy_fixture_dir(
        "build/bin",
        bin.path(),
        &[("RECORD", &record.display().to_string())],
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        bin.path().join("docker"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    bin
}

/// The names of the objects in the bucket.
fn objects(oci: &Oci) -> Vec<String> {
    let url = format!("{}/n/{NAMESPACE}/b/{BUCKET}/o", oci.os.base_url());
    let response = oci
        .block(
            oci.os
                .client()
                .send(Request::new("ListObjects", http::Method::GET, url)),
        )
        .unwrap();
    let body: serde_json::Value = response.json().unwrap();
    let mut names: Vec<String> = body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The pre-authenticated requests of the bucket.
fn pars(oci: &Oci) -> Vec<serde_json::Value> {
    let url = format!("{}/n/{NAMESPACE}/b/{BUCKET}/p", oci.os.base_url());
    let response = oci
        .block(oci.os.client().send(Request::new(
            "ListPreauthenticatedRequests",
            http::Method::GET,
            url,
        )))
        .unwrap();
    response.json::<Vec<serde_json::Value>>().unwrap()
}

/// Every file under `dir` whose content contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            .unwrap_or(false)
        {
            found.push(path);
        }
    }
    found
}

fn context_digest(wd: &Workdir) -> String {
    Tree::scan(&wd.path().join("app"))
        .unwrap()
        .digest()
        .unwrap()
}

/// The local engine running build commands with the stand-in `docker` (recording into
/// `record`), and the bucket the context goes to. The directory of the stand-in is returned
/// too: it must outlive the engine.
fn build_host(record: &Path) -> (tempfile::TempDir, LocalOci, Oci) {
    let bin = stand_in_tools(record);
    let local = LocalOci::start_with(LocalOptions {
        enable_run_command: true,
        run_command_path_prefix: Some(bin.path().to_owned()),
        ..Default::default()
    });
    let oci = Oci::new(&local);
    oci.block(
        oci.os
            .create_bucket(NAMESPACE, &CreateBucketDetails::new(BUCKET, COMPARTMENT)),
    )
    .unwrap();
    (bin, local, oci)
}

#[test]
fn build_uploads_the_context_runs_docker_and_records_the_digest() {
    let tools_dir = tempfile::tempdir().unwrap();
    let record = tools_dir.path().join("docker.record");
    let (_bin, local, oci) = build_host(&record);
    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    copy_fixture_dir("build/app", &wd.path().join("app"), &[]);
    wd.write("app/.git/config", "[core]\n");
    wd.write("app/debug.log", "noise\n");
    wd.write("main.tf", &build_config());

    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    let digest = context_digest(&wd);
    assert!(
        plan.stdout
            .contains(&format!("galley-build/{digest}.tar.gz")),
        "the object name is known at plan time:\n{}",
        plan.stdout
    );

    wd.apply();
    let values = wd.resource_values(ADDRESS).unwrap();
    let pushed = std::fs::read_to_string(record.with_extension("record.digests")).unwrap();
    let pushed = pushed.lines().last().unwrap();
    assert_eq!(values["image_digest"], pushed);
    assert_eq!(values["exit_code"], 0);
    assert_eq!(values["source_sha256"], digest.as_str());
    let object = format!("galley-build/{digest}.tar.gz");
    assert_eq!(values["object_name"], object.as_str());
    assert!(
        values["output_tail"]
            .as_str()
            .unwrap()
            .contains("digest: sha256:")
    );
    assert_eq!(values["id"], values["command_id"]);

    // What docker was asked to do, and what the build received.
    let calls = std::fs::read_to_string(&record).unwrap();
    let token_sha = hex::encode(Sha256::digest(TOKEN.as_bytes()));
    for line in [
        format!(
            "login --username galleylocal/ci --password-stdin iad.ocir.io password-sha256={token_sha}"
        ),
        format!("build -f context/Dockerfile -t {IMAGE} --build-arg VERSION=1.0 context"),
        "context Dockerfile".to_string(),
        "context src/app.py".to_string(),
        format!("push {IMAGE}"),
    ] {
        assert!(
            calls.lines().any(|l| l == line),
            "{line:?} missing from:\n{calls}"
        );
    }
    assert!(
        !calls.contains(".git") && !calls.contains("debug.log"),
        "{calls}"
    );

    // The secret never appears where a record or a log would show it.
    let command_id = attr(&wd, ADDRESS, "command_id");
    let command = oci
        .block(oci.ia.get_instance_agent_command(&command_id))
        .unwrap()
        .value;
    let script = match command.content.unwrap().source {
        galley_oci::instance_agent::CommandSource::Text { text, .. } => text,
        other => panic!("unexpected source {other:?}"),
    };
    assert!(script.len() < 4096, "{} bytes", script.len());
    assert!(!script.contains(TOKEN));
    assert!(!values["output_tail"].as_str().unwrap().contains(TOKEN));
    assert_eq!(
        files_containing(&local.data_dir(), TOKEN),
        Vec::<PathBuf>::new()
    );
    assert!(!local.log().contains(TOKEN));
    // Only the build context is left in the bucket; the URLs are gone.
    assert_eq!(objects(&oci), vec![object.clone()]);
    assert_eq!(pars(&oci), Vec::<serde_json::Value>::new());

    wd.assert_empty_plan();

    // A changed file rebuilds, and the previous upload goes.
    wd.write("app/src/app.py", "print(\"hello again\")\n");
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    assert!(plan.stdout.contains("~ source_sha256"), "{}", plan.stdout);
    wd.apply();
    let second = wd.resource_values(ADDRESS).unwrap();
    assert_ne!(second["image_digest"], values["image_digest"]);
    let object2 = format!("galley-build/{}.tar.gz", context_digest(&wd));
    assert_eq!(objects(&oci), vec![object2.clone()]);
    wd.assert_empty_plan();

    // A failing build is an error with the exit code and the output's last lines.
    wd.write("app/FAIL", "\n");
    let run = wd.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.status, 0);
    let text = run
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("Build failed with exit code 1"), "{text}");
    assert!(text.contains("ERROR: failed to solve"), "{text}");
    assert!(text.contains("opc-request-id"), "{text}");
    assert_eq!(wd.resource_values(ADDRESS).unwrap()["exit_code"], 1);
    // Fixed: the next plan builds again.
    wd.remove("app/FAIL");
    let (code, _) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "a failed build is retried");
    wd.apply();
    assert_eq!(wd.resource_values(ADDRESS).unwrap()["exit_code"], 0);
    assert_eq!(objects(&oci), vec![object2]);

    // Destroy removes the upload; the image is the registry's business.
    wd.destroy();
    assert_eq!(objects(&oci), Vec::<String>::new());
}

#[test]
fn a_build_the_instance_cannot_run_says_why() {
    // Without --enable-run-command the engine accepts commands and fails them at once, as an
    // instance whose Run Command plugin refuses them would.
    let local = LocalOci::start();
    let oci = Oci::new(&local);
    oci.block(
        oci.os
            .create_bucket(NAMESPACE, &CreateBucketDetails::new(BUCKET, COMPARTMENT)),
    )
    .unwrap();
    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    copy_fixture_dir("build/app", &wd.path().join("app"), &[]);
    wd.write("main.tf", &build_config());
    let run = wd.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.status, 0);
    let text = run
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("Build failed with no exit code"), "{text}");
    assert!(text.contains("--enable-run-command"), "{text}");
    // The uploaded context is in state, so destroy cleans it up.
    let object = attr(&wd, ADDRESS, "object_name");
    assert_eq!(objects(&oci), vec![object]);
    wd.destroy();
    assert_eq!(objects(&oci), Vec::<String>::new());
}

/// `app_dir` from another resource's output is unknown at plan time: the plan shows the digest
/// as known after apply, apply builds and records the digest of the context it packaged, and
/// the next plan is empty. Terraform plans again with the now known values before it applies,
/// so the provider's apply gets a known digest here; an apply whose plan has no digest is
/// pinned by the unit test named after the bug (`app_dir_unknown_at_plan_is_built_not_refused_
/// as_build_context_changed_after_plan`).
#[test]
fn app_dir_from_another_resource_is_unknown_at_plan_and_built_at_apply() {
    let tools_dir = tempfile::tempdir().unwrap();
    let record = tools_dir.path().join("docker.record");
    let (_bin, local, oci) = build_host(&record);
    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    copy_fixture_dir("build/app", &wd.path().join("app"), &[]);
    let config = build_config().replace(
        r#"app_dir             = "${path.module}/app""#,
        "app_dir             = terraform_data.app_dir.output",
    );
    assert!(config.contains("terraform_data.app_dir.output"), "{config}");
    wd.write(
        "main.tf",
        &format!(
            "{config}\nresource \"terraform_data\" \"app_dir\" {{\n  input = \"${{path.module}}/app\"\n}}\n"
        ),
    );

    let plan = wd.ok(&["plan", "-no-color"]);
    let planned_digest = plan
        .stdout
        .lines()
        .find(|l| l.contains("source_sha256"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        planned_digest.contains("(known after apply)"),
        "the digest cannot be known at plan time:\n{}",
        plan.stdout
    );

    let run = wd.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(run.status, 0, "{}", run.combined());
    let values = wd.resource_values(ADDRESS).unwrap();
    let digest = context_digest(&wd);
    assert_eq!(values["source_sha256"], digest.as_str());
    let object = format!("galley-build/{digest}.tar.gz");
    assert_eq!(values["object_name"], object.as_str());
    assert_eq!(values["exit_code"], 0);
    assert_eq!(objects(&oci), vec![object]);
    wd.assert_empty_plan();
    wd.destroy();
    assert_eq!(objects(&oci), Vec::<String>::new());
}
