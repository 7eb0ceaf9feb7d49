//! Helpers shared by the acceptance suites.

use std::path::{Path, PathBuf};

use galley_tests::terraform::{Install, TfVersion, Workdir};
use galley_tests::tools;

pub fn provider_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-galley"))
}

pub fn fixture(rel: &str) -> String {
    let path: PathBuf = tools::workspace_root()
        .join("tests")
        .join("fixtures")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A working directory using the provider through dev_overrides, with the keys ESB uses.
pub fn workdir(version: TfVersion) -> Workdir {
    let mut wd = Workdir::new(version, provider_bin(), Install::DevOverrides);
    wd.env("AWS_ACCESS_KEY_ID", "esb")
        .env("AWS_SECRET_ACCESS_KEY", "esbsecret")
        .env("AWS_DEFAULT_REGION", "us-east-1");
    wd
}

/// The provider block and one `esb_resources` reading `resources.yml` beside it.
pub fn esb_config(dynamodb: &str, s3: &str, extra: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    galley = {{ source = "galley-dev/galley" }}
  }}
}}

provider "galley" {{}}

resource "esb_resources" "app" {{
  provider          = galley
  resources_file    = "resources.yml"
  dynamodb_endpoint = "{dynamodb}"
  s3_endpoint       = "{s3}"
{extra}
}}

output "tables" {{ value = esb_resources.app.table_names }}
"#
    )
}

pub fn names(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub fn table_names(endpoint: &str) -> Vec<String> {
    let tables = tools::aws_probe("tables", endpoint, &[]);
    sorted(
        tables
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    )
}
