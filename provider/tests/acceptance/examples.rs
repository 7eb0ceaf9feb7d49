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
