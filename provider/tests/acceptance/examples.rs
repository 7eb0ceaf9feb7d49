//! The examples are executable documentation: formatted, and the local ones applied for real.

use galley_tests::servers::Moto;
use galley_tests::terraform::TfVersion;
use galley_tests::tools;

use crate::util::*;

#[test]
fn examples_are_terraform_fmt_clean() {
    let examples = tools::workspace_root().join("examples");
    let wd = workdir(TfVersion::Latest);
    let run = wd.run(&[
        "fmt",
        "-check",
        "-recursive",
        "-diff",
        &examples.display().to_string(),
    ]);
    assert_eq!(
        run.status,
        0,
        "terraform fmt would change:\n{}",
        run.combined()
    );
}

#[test]
fn the_esb_example_applies_replans_clean_and_destroys() {
    let moto = Moto::start();
    let ep = moto.endpoint();
    let mut wd = workdir(TfVersion::Latest);
    let example = tools::workspace_root().join("examples").join("esb");
    for file in ["main.tf", "resources.yml"] {
        wd.write(file, &std::fs::read_to_string(example.join(file)).unwrap());
    }
    wd.env("DYNAMODB_ENDPOINT", &ep).env("S3_ENDPOINT", &ep);
    wd.apply();
    let outputs = wd.ok(&["output", "-json"]);
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    assert_eq!(
        names(&outputs["tables"]["value"]),
        vec!["orders", "sessions"]
    );
    assert_eq!(names(&outputs["buckets"]["value"]), vec!["uploads"]);
    wd.assert_empty_plan();
    wd.destroy();
    assert!(table_names(&ep).is_empty());
}

/// The release packaging script produces a packed mirror Terraform installs from, and the
/// files a registry and a Resource Manager bucket expect.
#[test]
fn packaged_provider_installs_from_a_packed_mirror() {
    let out = tempfile::tempdir().unwrap();
    let script = tools::workspace_root()
        .join("deploy")
        .join("package-provider.sh");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .arg(provider_bin())
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let version = env!("CARGO_PKG_VERSION");
    let release = out.path().join("release");
    let sums = std::fs::read_to_string(
        release.join(format!("terraform-provider-galley_{version}_SHA256SUMS")),
    )
    .unwrap();
    assert!(sums.contains(&format!(
        "terraform-provider-galley_{version}_linux_amd64.zip"
    )));
    assert!(sums.contains(&format!(
        "terraform-provider-galley_{version}_manifest.json"
    )));
    assert!(
        out.path()
            .join(format!(
                "rm-bucket/linux_amd64/terraform-provider-galley_v{version}"
            ))
            .exists()
    );

    let wd = workdir(TfVersion::Latest);
    wd.write(
        "main.tf",
        r#"
terraform {
  required_providers {
    galley = { source = "galley-dev/galley" }
  }
}
resource "esb_resources" "none" {
  provider       = galley
  resources_yaml = "S3: []"
}
"#,
    );
    // A fresh CLI config without dev_overrides, so init really installs from the mirror.
    std::fs::write(wd.path().join(".terraformrc"), "").unwrap();
    let mirror = format!("-plugin-dir={}", out.path().join("mirror").display());
    let init = wd.run(&["init", "-no-color", &mirror]);
    assert_eq!(init.status, 0, "{}", init.combined());
    assert!(
        init.combined()
            .contains(&format!("galley-dev/galley v{version}")),
        "{}",
        init.combined()
    );
    wd.ok(&["plan", "-no-color"]);
}
