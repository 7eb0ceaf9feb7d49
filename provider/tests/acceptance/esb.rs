//! `esb_resources` under real Terraform: the full lifecycle on moto, waiting on dynalite,
//! signatures on SeaweedFS, bad input, import, and the oldest supported Terraform.

use galley_tests::servers::{Dynalite, Moto, Seaweed};

use galley_tests::terraform::{Install, TfVersion, Workdir};
use galley_tests::tools::aws_probe;

use crate::util::*;

/// create (adopting one table) → empty plan → file change (add, remove, lifecycle) → empty plan
/// → out-of-band deletion found by refresh and re-created → non-empty bucket refused on destroy
/// → force_destroy → destroy leaves the adopted table alone.
fn full_lifecycle(version: TfVersion) {
    let moto = Moto::start();
    let ep = moto.endpoint();
    // Exists before Terraform: must be adopted, never deleted.
    aws_probe("create-table", &ep, &["legacy"]);

    let wd = workdir(version);
    wd.write("resources.yml", &fixture("esb/app.yml"));
    wd.write("main.tf", &esb_config(&ep, &ep, ""));

    // The plan names what will exist, before anything is created.
    let plan = wd.ok(&["plan", "-no-color"]);
    for name in ["orders", "sessions", "legacy", "uploads"] {
        assert!(
            plan.stdout.contains(&format!("\"{name}\"")),
            "plan does not name {name}:\n{}",
            plan.stdout
        );
    }
    assert!(
        plan.combined().contains("layers"),
        "layers warning missing:\n{}",
        plan.combined()
    );
    assert_eq!(
        table_names(&ep),
        vec!["legacy"],
        "plan must not create anything"
    );

    wd.apply();
    let tables = aws_probe("tables", &ep, &[]);
    assert_eq!(tables["orders"]["status"], "ACTIVE");
    assert_eq!(tables["orders"]["gsis"], serde_json::json!(["by-sk"]));
    assert_eq!(tables["sessions"]["billing"], "PROVISIONED");
    assert_eq!(tables["sessions"]["stream"], "NEW_IMAGE");
    let buckets = aws_probe("buckets", &ep, &[]);
    assert_eq!(buckets["uploads"]["rules"][0]["days"], 7, "{buckets}");
    let values = wd.resource_values("esb_resources.app").expect("in state");
    assert_eq!(
        sorted(names(&values["created_table_names"])),
        vec!["orders", "sessions"]
    );
    assert_eq!(names(&values["created_bucket_names"]), vec!["uploads"]);
    assert_eq!(
        names(&values["table_names"]),
        vec!["orders", "sessions", "legacy"]
    );
    wd.assert_empty_plan();

    // v2: sessions leaves the file, audit joins, lifecycle goes to 14 days.
    wd.write("resources.yml", &fixture("esb/app-v2.yml"));
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    assert!(plan.stdout.contains("\"audit\""), "{}", plan.stdout);
    wd.apply();
    assert_eq!(table_names(&ep), vec!["audit", "legacy", "orders"]);
    let buckets = aws_probe("buckets", &ep, &[]);
    assert_eq!(
        buckets["uploads"]["rules"][0]["days"], 14,
        "lifecycle not re-applied: {buckets}"
    );
    wd.assert_empty_plan();

    // Deleted behind Terraform's back: refresh notices, apply re-creates.
    aws_probe("delete-table", &ep, &["audit"]);
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(
        code,
        2,
        "out-of-band deletion not detected:\n{}",
        plan.combined()
    );
    assert!(plan.stdout.contains("\"audit\""), "{}", plan.stdout);
    wd.apply();
    assert!(table_names(&ep).contains(&"audit".to_string()));
    wd.assert_empty_plan();

    // A non-empty bucket is kept unless force_destroy is set.
    aws_probe("put-object", &ep, &["uploads", "tmp/a.txt"]);
    let refused = wd.run(&["destroy", "-auto-approve", "-no-color"]);
    assert_ne!(refused.status, 0, "destroy of a non-empty bucket must fail");
    assert!(
        refused.combined().contains("force_destroy"),
        "{}",
        refused.combined()
    );
    // Nothing was lost: the resource is still in state with what is left to delete.
    let values = wd
        .resource_values("esb_resources.app")
        .expect("still in state");
    assert!(names(&values["created_bucket_names"]).contains(&"uploads".to_string()));

    wd.write("main.tf", &esb_config(&ep, &ep, "  force_destroy = true"));
    wd.apply();
    wd.destroy();
    assert_eq!(
        table_names(&ep),
        vec!["legacy"],
        "only the adopted table may remain"
    );
    let buckets = aws_probe("buckets", &ep, &[]);
    assert!(buckets.get("uploads").is_none(), "{buckets}");
}

#[test]
fn full_lifecycle_on_latest_terraform() {
    full_lifecycle(TfVersion::Latest);
}

#[test]
fn full_lifecycle_on_terraform_1_11() {
    if TfVersion::V1_11.binary().is_none() {
        eprintln!(
            "Terraform 1.11 is not installed on this machine: lifecycle covered on 1.15 only"
        );
        return;
    }
    full_lifecycle(TfVersion::V1_11);
}

/// The oldest supported Terraform, with the provider installed from a filesystem mirror in the
/// registry layout through `terraform init`.
#[test]
fn smoke_on_terraform_1_0_with_init() {
    let moto = Moto::start();
    let ep = moto.endpoint();
    let mut wd = Workdir::new(TfVersion::V1_0, provider_bin(), Install::PluginDir);
    wd.env("AWS_ACCESS_KEY_ID", "esb")
        .env("AWS_SECRET_ACCESS_KEY", "esbsecret");
    wd.write("resources.yml", &fixture("esb/one-table.yml"));
    wd.write("main.tf", &esb_config(&ep, &ep, ""));
    wd.init();
    wd.apply();
    assert_eq!(table_names(&ep), vec!["events"]);
    wd.destroy();
    assert!(table_names(&ep).is_empty());
}

#[test]
fn bad_input_fails_at_plan_naming_file_item_and_field() {
    let moto = Moto::start();
    let ep = moto.endpoint();
    let wd = workdir(TfVersion::Latest);
    wd.write("main.tf", &esb_config(&ep, &ep, ""));

    wd.write("resources.yml", &fixture("esb/bad-keys.yml"));
    let run = wd.run(&["plan", "-no-color"]);
    assert_ne!(run.status, 0);
    let out = run.combined();
    for needle in [
        "resources.yml",
        "orders",
        "Colour",
        "pk",
        "AttributeDefinitions",
        "Not_A_Bucket",
    ] {
        assert!(
            out.contains(needle),
            "error does not mention {needle}:\n{out}"
        );
    }

    wd.write("resources.yml", &fixture("esb/malformed.yml"));
    let run = wd.run(&["plan", "-no-color"]);
    assert_ne!(run.status, 0);
    assert!(
        run.combined().contains("resources.yml:"),
        "{}",
        run.combined()
    );
    assert!(run.combined().contains("YAML"), "{}", run.combined());

    // Both inputs at once is refused at validation, naming the attributes.
    wd.write(
        "main.tf",
        &esb_config(&ep, &ep, "  resources_yaml = \"S3: []\""),
    );
    let run = wd.run(&["validate", "-no-color"]);
    assert_ne!(run.status, 0);
    assert!(
        run.combined().contains("resources_yaml"),
        "{}",
        run.combined()
    );
    assert!(
        table_names(&ep).is_empty(),
        "nothing may be created by a failed plan"
    );
}

#[test]
fn key_schema_change_is_refused_not_recreated() {
    let moto = Moto::start();
    let ep = moto.endpoint();
    let wd = workdir(TfVersion::Latest);
    wd.write("main.tf", &esb_config(&ep, &ep, ""));
    wd.write("resources.yml", &fixture("esb/app-v2.yml"));
    wd.apply();
    aws_probe("put-object", &ep, &["uploads", "keep.txt"]);

    wd.write("resources.yml", &fixture("esb/rekeyed.yml"));
    let run = wd.run(&["plan", "-no-color"]);
    assert_ne!(
        run.status,
        0,
        "a key schema change must fail the plan:\n{}",
        run.combined()
    );
    let out = run.combined();
    assert!(
        out.contains("orders") && out.contains("re-created"),
        "{out}"
    );
    let tables = aws_probe("tables", &ep, &[]);
    assert_eq!(
        tables["orders"]["key"],
        serde_json::json!([["pk", "HASH"], ["sk", "RANGE"]])
    );
}

#[test]
fn import_takes_ownership_of_existing_tables() {
    let moto = Moto::start();
    let ep = moto.endpoint();
    aws_probe("create-table", &ep, &["events"]);
    let wd = workdir(TfVersion::Latest);
    wd.write("resources.yml", &fixture("esb/one-table.yml"));
    wd.write("main.tf", &esb_config(&ep, &ep, ""));

    let bad = wd.run(&["import", "-no-color", "esb_resources.app", ",s3"]);
    assert_ne!(bad.status, 0);
    assert!(
        bad.combined().contains("RESOURCES_FILE[,dynamodb="),
        "{}",
        bad.combined()
    );

    let id = format!("resources.yml,dynamodb={ep},s3={ep}");
    wd.ok(&["import", "-no-color", "esb_resources.app", &id]);
    let values = wd.resource_values("esb_resources.app").expect("imported");
    assert_eq!(names(&values["created_table_names"]), vec!["events"]);
    wd.assert_empty_plan();
    wd.destroy();
    assert!(
        table_names(&ep).is_empty(),
        "imported tables are managed, so destroy deletes them"
    );
}

#[test]
fn dynalite_tables_are_waited_for() {
    let dynalite = Dynalite::start();
    let ep = dynalite.endpoint();
    let wd = workdir(TfVersion::Latest);
    wd.write("resources.yml", &fixture("esb/one-table.yml"));
    // No bucket in the file: the S3 endpoint may be anything.
    wd.write("main.tf", &esb_config(&ep, "http://127.0.0.1:9", ""));
    wd.apply();
    let tables = aws_probe("tables", &ep, &[]);
    assert_eq!(tables["events"]["status"], "ACTIVE");
    wd.assert_empty_plan();
    wd.destroy();
}

#[test]
fn seaweedfs_checks_signatures() {
    let seaweed = Seaweed::start("esb", "esbsecret");
    let ep = seaweed.endpoint();
    let mut wd = workdir(TfVersion::Latest);
    wd.write("resources.yml", &fixture("esb/bucket-only.yml"));
    wd.write("main.tf", &esb_config("http://127.0.0.1:9", &ep, ""));

    wd.env("AWS_SECRET_ACCESS_KEY", "wrong-secret");
    let run = wd.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(
        run.status,
        0,
        "a wrong secret must fail:\n{}",
        run.combined()
    );
    assert!(run.combined().contains("secret_key"), "{}", run.combined());
    assert!(
        !run.combined().contains("wrong-secret"),
        "the secret leaked into output"
    );

    wd.env("AWS_SECRET_ACCESS_KEY", "esbsecret");
    wd.apply();
    let buckets = aws_probe("buckets", &ep, &[]);
    assert!(buckets.get("artifacts").is_some(), "{buckets}");
    wd.assert_empty_plan();
    wd.destroy();
}

/// Ctrl-C during a long wait: Terraform calls Stop, the provider ends the wait at once, and the
/// table it already created is in state (nothing orphaned).
#[test]
fn interrupt_during_wait_stops_and_keeps_what_was_created() {
    // Tables stay CREATING for a minute: apply would otherwise wait that long.
    let dynalite = Dynalite::start_with_delay(std::time::Duration::from_secs(60));
    let ep = dynalite.endpoint();
    // A real Go binary, so SIGINT reaches Terraform's own handler.
    let mut wd = Workdir::new(TfVersion::V1_0, provider_bin(), Install::PluginDir);
    wd.env("AWS_ACCESS_KEY_ID", "esb")
        .env("AWS_SECRET_ACCESS_KEY", "esbsecret");
    wd.write("resources.yml", &fixture("esb/one-table.yml"));
    wd.write("main.tf", &esb_config(&ep, "http://127.0.0.1:9", ""));
    wd.init();
    let mut apply = wd.command(&["apply", "-auto-approve", "-no-color"]);
    apply
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // Ctrl-C in a terminal signals the whole foreground process group: Terraform, its child
    // processes and the provider (which must survive it). Reproduce that with a group of its
    // own, and undo the SIGINT-ignored state a background shell job would pass on.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut apply, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    let child = apply.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while table_names(&ep).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the table was never created"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let interrupted = std::time::Instant::now();
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let took = interrupted.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "apply must report the interruption:\n{text}"
    );
    assert!(
        took < std::time::Duration::from_secs(20),
        "Stop took {took:?}:\n{text}"
    );
    assert!(text.contains("interrupted"), "{text}");
    let values = wd
        .resource_values("esb_resources.app")
        .expect("the resource is in state");
    assert_eq!(names(&values["created_table_names"]), vec!["events"]);
}

/// Another server is another place: changing the endpoint plans a replacement, which deletes
/// what was created on the old server and creates it on the new one.
#[test]
fn changing_the_endpoint_replaces_the_resource() {
    let old = Moto::start();
    let new = Moto::start();
    let wd = workdir(TfVersion::Latest);
    wd.write("resources.yml", &fixture("esb/one-table.yml"));
    wd.write("main.tf", &esb_config(&old.endpoint(), &old.endpoint(), ""));
    wd.apply();
    assert_eq!(table_names(&old.endpoint()), vec!["events"]);

    wd.write("main.tf", &esb_config(&new.endpoint(), &new.endpoint(), ""));
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("forces replacement"),
        "{}",
        plan.stdout
    );
    wd.apply();
    assert!(
        table_names(&old.endpoint()).is_empty(),
        "the old server still has the table"
    );
    assert_eq!(table_names(&new.endpoint()), vec!["events"]);
    wd.assert_empty_plan();
}
