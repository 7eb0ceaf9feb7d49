//! The release (`deploy/package-provider.sh`, built once per test run by
//! `galley_tests::release`): for linux_amd64 and linux_arm64 the registry zips, SHA256SUMS and
//! manifest agree with each other, the bucket layout holds executables of the right
//! architecture, and Terraform 1.0.3 and the newest available install the provider from the
//! packed mirror.

use std::io::Read;

use galley_tests::release::{VERSION, elf_platform, release};
use galley_tests::terraform::TfVersion;
use sha2::{Digest, Sha256};

use crate::util::workdir;

const PLATFORMS: [&str; 2] = ["linux_amd64", "linux_arm64"];

#[test]
fn the_release_holds_both_platforms_in_every_layout() {
    let release = release();
    let registry = release.registry();
    let sums = std::fs::read_to_string(
        registry.join(format!("terraform-provider-galley_{VERSION}_SHA256SUMS")),
    )
    .unwrap();
    let manifest_name = format!("terraform-provider-galley_{VERSION}_manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(registry.join(&manifest_name)).unwrap()).unwrap();
    assert_eq!(
        manifest,
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["5.0"]}})
    );
    let mut summed = vec![manifest_name];
    for platform in PLATFORMS {
        let zip_name = format!("terraform-provider-galley_{VERSION}_{platform}.zip");
        let zip = std::fs::read(registry.join(&zip_name)).unwrap();
        assert_eq!(
            std::fs::read(release.mirror().join(format!(
                "registry.terraform.io/galley-dev/galley/{zip_name}"
            )))
            .unwrap(),
            zip,
            "the mirror serves the registry zip"
        );
        summed.push(zip_name);

        // The zip holds exactly the executable, with its executable bit, and it is the bucket's.
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(
            entry.name(),
            format!("terraform-provider-galley_v{VERSION}")
        );
        assert_eq!(entry.unix_mode().unwrap_or(0) & 0o111, 0o111);
        let mut inside = Vec::new();
        entry.read_to_end(&mut inside).unwrap();
        let raw = release.binary(platform);
        assert_eq!(std::fs::read(&raw).unwrap(), inside);
        assert_eq!(elf_platform(&raw), Some(platform), "{}", raw.display());
    }
    // SHA256SUMS covers the zips and the manifest, with their real digests.
    let lines: Vec<&str> = sums.lines().collect();
    assert_eq!(lines.len(), summed.len(), "{sums}");
    for name in &summed {
        let digest = hex::encode(Sha256::digest(std::fs::read(registry.join(name)).unwrap()));
        assert!(
            lines.contains(&format!("{digest}  {name}").as_str()),
            "{name} {digest} not in:\n{sums}"
        );
    }
}

#[test]
fn terraform_1_0_and_the_newest_install_the_release_from_the_mirror() {
    let mirror = format!("-plugin-dir={}", release().mirror().display());
    for version in [TfVersion::V1_0, TfVersion::Latest] {
        let wd = workdir(version);
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
        // A CLI configuration without dev_overrides, so init really installs from the mirror.
        std::fs::write(wd.path().join(".terraformrc"), "").unwrap();
        let init = wd.run(&["init", "-no-color", &mirror]);
        assert_eq!(init.status, 0, "{version:?}: {}", init.combined());
        assert!(
            init.combined()
                .contains(&format!("galley-dev/galley v{VERSION}")),
            "{version:?}: {}",
            init.combined()
        );
        wd.ok(&["plan", "-no-color"]);
    }
}
