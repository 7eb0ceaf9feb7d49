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

/// `galley_build` with the token as a write-only attribute, or the stored fallback.
fn write_only_config(token_attribute: &str, version: u32) -> String {
    // A root module variable's value is saved in a plan file unless it is ephemeral (1.10 on).
    let (token, ephemeral) = if token_attribute == "registry_auth_token_wo" {
        (
            format!(
                "  registry_auth_token_wo         = var.token\n  registry_auth_token_wo_version = {version}\n"
            ),
            "  ephemeral = true\n",
        )
    } else {
        ("  registry_auth_token = var.token\n".to_string(), "")
    };
    format!(
        r#"{PROVIDER}
variable "token" {{
  type      = string
  sensitive = true
{ephemeral}}}

resource "galley_build" "app" {{
  provider          = galley
  instance_id       = "ocid1.instance.oc1..aaaaaaaabuildhost"
  app_dir           = "${{path.module}}/app"
  bucket_name       = "{BUCKET}"
  image_uri         = "{IMAGE}"
  registry_username = "galleylocal/ci"
{token}}}
"#
    )
}

/// Every file under `dir` and the text `logs` that hold `needle`, as names.
fn leaks(dir: &Path, logs: &[(&str, &str)], needle: &str) -> Vec<String> {
    let mut found: Vec<String> = files_containing(dir, needle)
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    found.extend(
        logs.iter()
            .filter(|(_, text)| text.contains(needle))
            .map(|(name, _)| name.to_string()),
    );
    found
}

#[test]
fn the_registry_token_is_never_stored_with_terraform_1_11_on_and_refused_with_the_fallback_before()
{
    let tools_dir = tempfile::tempdir().unwrap();
    let record = tools_dir.path().join("docker.record");
    let bin = stand_in_tools(&record);
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
    let token_sha = hex::encode(Sha256::digest(TOKEN.as_bytes()));
    let logged_in = |record: &Path| {
        std::fs::read_to_string(record)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.ends_with(&format!("password-sha256={token_sha}")))
            .count()
    };

    let mut versions = vec![TfVersion::Latest];
    if TfVersion::V1_11.binary().is_some() {
        versions.push(TfVersion::V1_11);
    } else {
        eprintln!("Terraform 1.11 is not installed here: checked on the newest only");
    }
    for version in versions {
        let mut wd = workdir(&local, version, Install::DevOverrides);
        wd.env("TF_VAR_token", TOKEN).env("TF_LOG", "trace");
        copy_fixture_dir("build/app", &wd.path().join("app"), &[]);
        wd.write("main.tf", &write_only_config("registry_auth_token_wo", 1));
        let logins = logged_in(&record);
        let plan = wd.ok(&["plan", "-no-color", "-out=tfplan"]);
        // A saved plan is a zip: look inside every entry, not at the compressed bytes.
        let saved = std::fs::read(wd.path().join("tfplan")).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(saved)).unwrap();
        assert!(archive.len() > 1, "{version:?}: a plan file");
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            assert!(
                !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
                "{version:?}: the token is in the saved plan's {}",
                entry.name()
            );
        }
        let apply = wd.ok(&["apply", "-no-color", "tfplan"]);
        assert_eq!(
            logged_in(&record),
            logins + 1,
            "{version:?}: the build logged in with the token"
        );
        let values = wd.resource_values(ADDRESS).unwrap();
        assert_eq!(values["exit_code"], 0, "{version:?}");
        assert!(values["registry_auth_token_wo"].is_null(), "{values}");
        assert_eq!(values["registry_auth_token_wo_version"], 1);
        let found = leaks(
            wd.path(),
            &[
                ("plan output and trace log", &plan.combined()),
                ("apply output and trace log", &apply.combined()),
            ],
            TOKEN,
        );
        assert_eq!(found, Vec::<String>::new(), "{version:?}: the token leaked");
        assert_eq!(
            files_containing(&local.data_dir(), TOKEN),
            Vec::<PathBuf>::new()
        );
        assert!(!local.log().contains(TOKEN));

        // Nothing changed: no rebuild. A new version rebuilds, with the token.
        wd.assert_empty_plan();
        wd.write("main.tf", &write_only_config("registry_auth_token_wo", 2));
        let (code, plan) = wd.plan_exit_code(&[]);
        assert_eq!(code, 2, "{}", plan.combined());
        assert!(
            plan.stdout
                .contains("~ registry_auth_token_wo_version = 1 -> 2"),
            "{}",
            plan.stdout
        );
        assert!(
            plan.stdout.contains("exit_code"),
            "a rebuild: {}",
            plan.stdout
        );
        let logins = logged_in(&record);
        wd.apply();
        assert_eq!(logged_in(&record), logins + 1, "rebuilt with the token");
        wd.assert_empty_plan();
        wd.destroy();
    }

    // Terraform 1.0.3 cannot keep a value out of state: refused, naming the fallback.
    let mut old = workdir(&local, TfVersion::V1_0, Install::PluginDir);
    old.env("TF_VAR_token", TOKEN);
    copy_fixture_dir("build/app", &old.path().join("app"), &[]);
    // (No ephemeral variables before 1.10 either.)
    old.write(
        "main.tf",
        &write_only_config("registry_auth_token_wo", 1).replace("  ephemeral = true\n", ""),
    );
    old.init();
    let refused = old.run(&["plan", "-no-color"]);
    assert_ne!(refused.status, 0);
    let text = refused
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("Write-only attribute needs Terraform 1.11 or later"),
        "{text}"
    );
    assert!(
        text.contains("or set `registry_auth_token` instead"),
        "{text}"
    );
    // The stored fallback still works there.
    old.write("main.tf", &write_only_config("registry_auth_token", 0));
    let logins = logged_in(&record);
    old.apply();
    assert_eq!(logged_in(&record), logins + 1);
    assert_eq!(old.resource_values(ADDRESS).unwrap()["exit_code"], 0);
    old.destroy();
}
