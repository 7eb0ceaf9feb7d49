//! A Resource Manager stack whose own configuration uses the Galley provider, installed from a
//! custom provider bucket: the release uploaded to galley-local's Object Storage with
//! `galley-upload-providers`, `examples/rm-custom-provider` applied with real Terraform, its
//! Resource Manager jobs (Terraform 1.6.6) installing hashicorp/galley from the bucket and
//! creating tables and buckets on moto, outputs back through `galley_session`, destroy removing
//! them. Also: a bucket without the binary for the job's platform, and older stacks that must
//! be switched to third-party providers before they name a bucket.

use std::path::Path;
use std::process::Command;

use galley_oci::resource_manager::{JobLifecycleState, JobOperation};
use galley_tests::local::{COMPARTMENT, LocalOci, LocalOptions, NAMESPACE};
use galley_tests::release::{VERSION, release, upload_command};
use galley_tests::servers::Moto;
use galley_tests::terraform::{Install, TfVersion, Workdir};
use galley_tests::tools;

use crate::oci_util::{Oci, attr, workdir};
use crate::util::table_names;

const ADDRESS: &str = "galley_session.esb";

fn example() -> std::path::PathBuf {
    tools::workspace_root()
        .join("examples")
        .join("rm-custom-provider")
}

/// `galley-upload-providers --bucket BUCKET --dir DIR --compartment-id ...` against the engine.
fn upload(local: &LocalOci, bucket: &str, dir: &Path) -> String {
    let out = Command::new(upload_command())
        .args(["--bucket", bucket, "--compartment-id", COMPARTMENT, "--dir"])
        .arg(dir)
        .envs(local.env())
        .output()
        .expect("run galley-upload-providers");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "galley-upload-providers failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The example copied into a working directory, its variables set for this engine and `moto`.
fn example_workdir(local: &LocalOci, moto: &Moto, bucket: &str) -> Workdir {
    let mut wd = workdir(local, TfVersion::Latest, Install::DevOverrides);
    wd.write(
        "main.tf",
        &std::fs::read_to_string(example().join("main.tf")).unwrap(),
    );
    for file in ["main.tf", "resources.yml"] {
        wd.write(
            &format!("stack/{file}"),
            &std::fs::read_to_string(example().join("stack").join(file)).unwrap(),
        );
    }
    let ep = moto.endpoint();
    for (name, value) in [
        ("providers_bucket", bucket),
        ("namespace", NAMESPACE),
        ("dynamodb_endpoint", &ep),
        ("s3_endpoint", &ep),
        ("aws_access_key", "esb"),
        ("aws_secret_key", "esbsecret"),
    ] {
        wd.env(&format!("TF_VAR_{name}"), value);
    }
    wd
}

/// The text of a job's log.
fn log_of(oci: &Oci, job_id: &str) -> String {
    oci.block(oci.rm.get_job_logs_content(job_id))
        .unwrap()
        .value
}

#[test]
fn a_stack_uses_esb_resources_through_the_custom_provider_end_to_end() {
    let release = release();
    let moto = Moto::start();
    let terraform_16 = tools::require("terraform-1.6");
    let local = LocalOci::start_with(LocalOptions {
        terraforms: vec![format!("1.6.6={}", terraform_16.display())],
        ..LocalOptions::default()
    });
    let oci = Oci::new(&local);

    let printed = upload(&local, "galley-providers", &release.rm_bucket());
    for platform in ["linux_amd64", "linux_arm64"] {
        assert!(
            printed.contains(&format!(
                "uploaded {platform}/terraform-provider-galley_v{VERSION} ("
            )),
            "{printed}"
        );
    }
    let object = format!("linux_amd64/terraform-provider-galley_v{VERSION}");
    let stored = oci
        .block(oci.os.get_object(NAMESPACE, "galley-providers", &object))
        .unwrap()
        .value
        .body;
    assert_eq!(
        stored.as_ref(),
        std::fs::read(release.binary("linux_amd64")).unwrap(),
        "the bucket holds the release's binary"
    );
    assert!(
        upload(&local, "galley-providers", &release.rm_bucket())
            .contains(&format!("unchanged {object}")),
        "a second upload changes nothing"
    );

    let wd = example_workdir(&local, &moto, "galley-providers");
    let run = wd.apply();
    let values = wd.resource_values(ADDRESS).unwrap();
    assert_eq!(values["last_job_state"], "SUCCEEDED", "{}", run.combined());
    assert_eq!(values["outputs"]["tables"], "[\"rm-orders\"]", "{values}");
    assert_eq!(values["outputs"]["buckets"], "[\"rm-uploads\"]", "{values}");
    assert_eq!(values["terraform_version"], "1.5.x");
    assert_eq!(table_names(&moto.endpoint()), vec!["rm-orders"]);
    let buckets = tools::aws_probe("buckets", &moto.endpoint(), &[]);
    assert!(buckets.get("rm-uploads").is_some(), "{buckets}");

    // Both jobs ran Terraform 1.6.6 with hashicorp/galley from the bucket, and said so first.
    let stack_id = attr(&wd, ADDRESS, "id");
    let jobs = oci.jobs(&stack_id);
    assert_eq!(jobs.len(), 2, "a PLAN job and an APPLY job");
    for job in &jobs {
        let log = log_of(&oci, &job.id);
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "The stack's terraformVersion is 1.5.x, which this engine does not have (it \
                 has {}): this job runs the closest, Terraform 1.6.6 ({}).",
                lines[0]
                    .split("(it has ")
                    .nth(1)
                    .and_then(|r| r.split(')').next())
                    .unwrap_or("?"),
                terraform_16.display()
            ),
            "{log}"
        );
        assert!(lines[0].contains("1.6.6, "), "{log}");
        assert_eq!(
            lines[1],
            "Getting providers from hashicorp registry and/or custom terraform providers"
        );
        assert!(
            lines[2].starts_with(&format!(
                "Installed custom provider {object} as registry.terraform.io/hashicorp/galley \
                 {VERSION} from bucket galley-providers"
            )),
            "{log}"
        );
        // The PLAN job's init installs from the job's mirror (Terraform calls a package from a
        // local directory "unauthenticated", as in Resource Manager's own logs); the APPLY job
        // reuses it through the plan's lock file and the plugin cache.
        let installed = if job.operation == JobOperation::Plan {
            format!("Installed hashicorp/galley v{VERSION} (unauthenticated)")
        } else {
            format!("hashicorp/galley v{VERSION}")
        };
        assert!(log.contains(&installed), "{installed} missing from: {log}");
        let install = lines[3];
        eprintln!("{:?} job: {install}", job.operation);
    }
    assert!(jobs.iter().any(|j| j.operation == JobOperation::Apply));

    wd.assert_empty_plan();
    wd.destroy();
    assert!(
        table_names(&moto.endpoint()).is_empty(),
        "destroy removes the tables"
    );
    let buckets = tools::aws_probe("buckets", &moto.endpoint(), &[]);
    assert!(buckets.get("rm-uploads").is_none(), "{buckets}");
    assert!(oci.stacks().is_empty(), "the stack is deleted");
}

/// A stack naming a bucket that holds no linux_amd64 binary: the PLAN job fails with Resource
/// Manager's code, the error points at `custom_terraform_provider` and names the bucket and the
/// object expected, the stack is in state (nothing orphaned) and destroy removes it.
#[test]
fn a_bucket_without_the_binary_for_the_jobs_platform_fails_naming_both() {
    let moto = Moto::start();
    let local = LocalOci::start();
    let oci = Oci::new(&local);
    let only_arm = tempfile::tempdir().unwrap();
    let arm = only_arm
        .path()
        .join(format!("linux_arm64/terraform-provider-galley_v{VERSION}"));
    std::fs::create_dir_all(arm.parent().unwrap()).unwrap();
    std::fs::write(&arm, b"an arm64 build").unwrap();
    upload(&local, "arm-only", only_arm.path());

    let wd = example_workdir(&local, &moto, "arm-only");
    let run = wd.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.status, 0, "{}", run.combined());
    let text = run
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "CUSTOM_TERRAFORM_PROVIDER_BUCKET_NOT_FOUND",
        "holds no provider binary for linux_amd64",
        &format!("expected an object named linux_amd64/terraform-provider-galley_v{VERSION}"),
        "names bucket arm-only (namespace galleylocal, region us-ashburn-1)",
        "galley-upload-providers --bucket arm-only",
        "custom_terraform_provider {",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from:\n{}",
            run.combined()
        );
    }

    // Exactly the stack in state remains, with its failed PLAN job; no table was made.
    let stacks = oci.stacks();
    assert_eq!(stacks.len(), 1, "{stacks:?}");
    assert_eq!(stacks[0].id, attr(&wd, ADDRESS, "id"));
    let jobs = oci.jobs(&stacks[0].id);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].lifecycle_state, JobLifecycleState::Failed);
    assert!(table_names(&moto.endpoint()).is_empty());
    wd.destroy();
    assert!(oci.stacks().is_empty(), "destroy deletes the stack");
}

/// On an engine whose stacks are like those made before custom providers existed, a session
/// created with a bucket and one given a bucket later both end up with third-party providers
/// enabled (in an update of its own, before the bucket) and their jobs install from it.
#[test]
fn older_stacks_are_switched_to_third_party_providers_before_their_bucket() {
    let local = LocalOci::start_with(LocalOptions {
        older_stacks: true,
        ..LocalOptions::default()
    });
    let oci = Oci::new(&local);
    let dist = tempfile::tempdir().unwrap();
    let null = dist
        .path()
        .join("linux_amd64/terraform-provider-null_v2.1.2_x4");
    std::fs::create_dir_all(null.parent().unwrap()).unwrap();
    std::fs::copy(tools::require("terraform-provider-null"), &null).unwrap();
    upload(&local, "providers", dist.path());

    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    wd.write("stack/main.tf", "resource \"terraform_data\" \"x\" {}\n");
    let bucket = format!(
        "  custom_terraform_provider {{\n    region      = \"us-ashburn-1\"\n    namespace   = \"{NAMESPACE}\"\n    bucket_name = \"providers\"\n  }}\n"
    );
    let config = |b_bucket: &str| {
        format!(
            "{}\nresource \"galley_session\" \"a\" {{\n  provider      = galley\n  terraform_dir = \"${{path.module}}/stack\"\n  operation     = \"plan\"\n{bucket}}}\n\nresource \"galley_session\" \"b\" {{\n  provider      = galley\n  terraform_dir = \"${{path.module}}/stack\"\n  operation     = \"plan\"\n{b_bucket}}}\n",
            crate::oci_util::PROVIDER
        )
    };
    wd.write("main.tf", &config(""));
    wd.apply();
    let a = attr(&wd, "galley_session.a", "id");
    let b = attr(&wd, "galley_session.b", "id");
    let stack = |id: &str| oci.block(oci.rm.get_stack(id)).unwrap().value;
    assert_eq!(
        stack(&b).is_third_party_provider_experience_enabled,
        Some(false)
    );

    wd.write("main.tf", &config(&bucket));
    wd.apply();
    for id in [&a, &b] {
        let s = stack(id);
        assert_eq!(
            s.is_third_party_provider_experience_enabled,
            Some(true),
            "{id}"
        );
        assert_eq!(
            s.custom_terraform_provider
                .and_then(|c| c.bucket_name)
                .as_deref(),
            Some("providers"),
            "{id}"
        );
        let last = &oci.jobs(id)[0];
        assert_eq!(last.lifecycle_state, JobLifecycleState::Succeeded);
        let log = log_of(&oci, &last.id);
        assert!(
            log.contains(
                "Installed custom provider linux_amd64/terraform-provider-null_v2.1.2_x4 as \
                 registry.terraform.io/hashicorp/null 2.1.2"
            ),
            "{log}"
        );
    }
    wd.assert_empty_plan();
    wd.destroy();
    assert!(oci.stacks().is_empty());
}
