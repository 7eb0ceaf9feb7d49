//! GenerateResourceConfig end to end: Terraform 1.14 and later ask the provider for the
//! configuration of an imported object (`terraform plan -generate-config-out`) because it
//! advertises `generate_resource_config`. The configuration written must keep what a user sets,
//! leave out what the provider computes, and import with an empty plan afterwards.

use galley_tests::servers::Moto;
use galley_tests::terraform::TfVersion;
use galley_tests::tools::aws_probe;

use crate::util::*;

#[test]
fn generated_configuration_imports_with_an_empty_plan_on_latest_terraform() {
    let moto = Moto::start();
    let ep = moto.endpoint();
    aws_probe("create-table", &ep, &["events"]);
    let wd = workdir(TfVersion::Latest);
    wd.write("resources.yml", &fixture("esb/one-table.yml"));
    wd.write(
        "main.tf",
        &format!(
            r#"terraform {{
  required_providers {{
    galley = {{ source = "galley-dev/galley" }}
  }}
}}

provider "galley" {{}}

import {{
  to       = esb_resources.app
  provider = galley
  id       = "resources.yml,dynamodb={ep},s3={ep}"
}}
"#
        ),
    );

    let out = wd
        .command(&["plan", "-no-color", "-generate-config-out=generated.tf"])
        .env("TF_LOG", "trace")
        .output()
        .expect("start terraform");
    let plan = galley_tests::terraform::Run::from(out);
    assert_eq!(plan.status, 0, "{}", plan.combined());
    // The provider wrote it, not Terraform's fallback that guesses from the state.
    assert!(
        plan.stderr.contains("GRPCProvider: GenerateResourceConfig"),
        "GenerateResourceConfig was not called"
    );
    let generated = std::fs::read_to_string(wd.path().join("generated.tf")).unwrap_or_else(|e| {
        panic!("no generated.tf ({e}):\n{}", plan.combined());
    });
    assert!(
        generated.contains("resource \"esb_resources\" \"app\""),
        "{generated}"
    );
    for set in [
        "resources_file    = \"resources.yml\"".to_string(),
        format!("dynamodb_endpoint = \"{ep}\""),
    ] {
        assert!(generated.contains(&set), "{set} missing:\n{generated}");
    }
    // Computed-only attributes are the provider's to fill in, never configuration.
    for computed in ["table_names", "created_table_names", "created_bucket_names"] {
        assert!(
            !generated.contains(&format!("{computed} ")),
            "{computed} generated:\n{generated}"
        );
    }

    wd.apply();
    let values = wd.resource_values("esb_resources.app").expect("imported");
    assert_eq!(names(&values["created_table_names"]), vec!["events"]);
    wd.assert_empty_plan();
}
