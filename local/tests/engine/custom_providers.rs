//! Resource Manager's custom providers and Terraform versions: a job of a stack that names a
//! bucket in `customTerraformProvider` installs its binaries before `terraform init` (real
//! Terraform, with hashicorp/null 2.1.2 served from the bucket), a stack without one gets
//! none, a missing bucket or binary fails in Resource Manager's shape, older stacks need
//! `isThirdPartyProviderExperienceEnabled` first, and a job runs the Terraform line its stack
//! names or says which one it ran.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use galley_local::rm::providers::{BUCKET_NOT_FOUND, GETTING_PROVIDERS};
use galley_local::rm::terraforms::TerraformBinary;
use serde_json::{Value, json};

use crate::util::{COMPARTMENT, Engine, fixture, zip_b64};

const NAMESPACE: &str = "galleylocal";
const REGION: &str = "us-ashburn-1";
const NULL_OBJECT: &str = "linux_amd64/terraform-provider-null_v2.1.2_x4";

fn tool(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run tests/setup.sh",
        path.display()
    );
    path
}

fn bucket_ref(bucket: &str) -> Value {
    json!({"region": REGION, "namespace": NAMESPACE, "bucketName": bucket})
}

async fn create_bucket(e: &Engine, name: &str) {
    let r = e
        .post(
            &format!("/n/{NAMESPACE}/b"),
            json!({"name": name, "compartmentId": COMPARTMENT}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

fn put(e: &Engine, bucket: &str, object: &str, content: &[u8]) {
    e.state
        .os()
        .put_bytes(
            NAMESPACE,
            bucket,
            object,
            content,
            "application/octet-stream",
        )
        .expect("put the object");
}

fn null_binary() -> Vec<u8> {
    std::fs::read(tool("terraform-provider-null")).expect("read hashicorp/null")
}

async fn stack(e: &Engine, fixture_dir: &str, extra: Value) -> Value {
    let mut body = json!({
        "compartmentId": COMPARTMENT,
        "displayName": fixture_dir,
        "configSource": {
            "configSourceType": "ZIP_UPLOAD",
            "zipFileBase64Encoded": zip_b64(&fixture(&format!("tf/{fixture_dir}"))),
        },
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = e.post("/20180917/stacks", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

async fn run(e: &Engine, stack: &Value, details: Value) -> (Value, String) {
    let job = e.create_job(stack["id"].as_str().unwrap(), details).await;
    let job = e.wait_job_finished(job["id"].as_str().unwrap()).await;
    let log = e.logs_text(job["id"].as_str().unwrap()).await;
    (job, log)
}

#[tokio::test]
async fn a_job_installs_the_bucket_providers_and_a_stack_without_a_bucket_gets_none() {
    let e = Engine::new();
    create_bucket(&e, "providers").await;
    put(&e, "providers", NULL_OBJECT, &null_binary());
    put(&e, "providers", "notes.txt", b"not a provider");

    let s = stack(
        &e,
        "custom-null",
        json!({"customTerraformProvider": bucket_ref("providers")}),
    )
    .await;
    assert_eq!(s["isThirdPartyProviderExperienceEnabled"], true, "{s}");
    let (plan, log) = run(&e, &s, json!({"operation": "PLAN"})).await;
    assert_eq!(plan["lifecycleState"], "SUCCEEDED", "{plan}\n{log}");
    assert_eq!(plan["isThirdPartyProviderExperienceEnabled"], true);
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].contains("terraformVersion is 1.5.x"), "{log}");
    assert_eq!(lines[1], GETTING_PROVIDERS, "{log}");
    assert!(
        lines[2].starts_with(&format!(
            "Installed custom provider {NULL_OBJECT} as registry.terraform.io/hashicorp/null \
             2.1.2 from bucket providers (namespace {NAMESPACE}, region {REGION})"
        )),
        "{log}"
    );
    assert!(
        lines[3].starts_with("Installed 1 custom provider binaries (")
            && lines[3].ends_with("(other platforms, or not provider binaries): 1."),
        "{log}"
    );
    assert!(lines[4].starts_with("Running: terraform init"), "{log}");
    assert!(log.contains("null_resource.x will be created"), "{log}");
    let plan_id = plan["id"].as_str().unwrap();
    let installed = e
        .dir
        .join("jobs")
        .join(plan_id)
        .join("custom-providers/mirror/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/terraform-provider-null_v2.1.2_x4");
    assert!(installed.is_file(), "{}", installed.display());

    // The apply of that plan installs again and runs with the plan's lock file.
    let (apply, log) = run(
        &e,
        &s,
        json!({"operation": "APPLY", "executionPlanStrategy": "FROM_PLAN_JOB_ID", "executionPlanJobId": plan_id}),
    )
    .await;
    assert_eq!(apply["lifecycleState"], "SUCCEEDED", "{apply}\n{log}");
    let own_config = e
        .dir
        .join("jobs")
        .join(apply["id"].as_str().unwrap())
        .join("custom-providers/terraform.rc");
    assert!(
        log.contains(&format!("cli-config={}", own_config.display())),
        "the stack's Terraform runs with the job's CLI configuration: {log}"
    );

    // A stack without the setting: no providers, the engine's CLI configuration.
    let plain = stack(&e, "env", json!({})).await;
    let (job, log) = run(
        &e,
        &plain,
        json!({"operation": "APPLY", "executionPlanStrategy": "AUTO_APPROVED"}),
    )
    .await;
    assert_eq!(job["lifecycleState"], "SUCCEEDED", "{job}\n{log}");
    assert!(!log.contains(GETTING_PROVIDERS), "{log}");
    assert!(!log.contains("custom-providers"), "{log}");
    assert!(
        !e.dir
            .join("jobs")
            .join(job["id"].as_str().unwrap())
            .join("custom-providers")
            .exists()
    );
}

#[tokio::test]
async fn a_missing_bucket_or_binary_fails_the_job_in_resource_managers_shape() {
    let e = Engine::new();
    create_bucket(&e, "arm-only").await;
    put(
        &e,
        "arm-only",
        "linux_arm64/terraform-provider-null_v2.1.2_x4",
        b"an arm binary",
    );

    for (bucket, namespace, region, says) in [
        ("absent", NAMESPACE, REGION, "no such bucket".to_owned()),
        (
            "arm-only",
            "othertenancy",
            REGION,
            format!("this engine's Object Storage namespace is {NAMESPACE}"),
        ),
        (
            "arm-only",
            NAMESPACE,
            "eu-frankfurt-1",
            format!("serves Object Storage of region {REGION} only"),
        ),
        (
            "arm-only",
            NAMESPACE,
            "iad",
            format!(
                "holds no provider binary for linux_amd64, the platform of this engine's jobs: \
                 expected an object named {NULL_OBJECT} (the bucket holds \
                 linux_arm64/terraform-provider-null_v2.1.2_x4)"
            ),
        ),
    ] {
        let s = stack(
            &e,
            "custom-null",
            json!({"customTerraformProvider": {"region": region, "namespace": namespace, "bucketName": bucket}}),
        )
        .await;
        let (job, log) = run(&e, &s, json!({"operation": "PLAN"})).await;
        assert_eq!(job["lifecycleState"], "FAILED", "{job}");
        let details = &job["failureDetails"];
        assert_eq!(details["code"], BUCKET_NOT_FOUND, "{job}");
        let message = details["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "bucket {bucket} (namespace {namespace}, region {region})"
            )) && message.contains(&says),
            "{message}"
        );
        assert!(log.contains(message), "the log says it too: {log}");
        assert!(
            !log.contains("Running: terraform"),
            "no terraform ran: {log}"
        );
    }

    let r = e
        .post(
            "/20180917/stacks",
            json!({
                "compartmentId": COMPARTMENT,
                "configSource": {"configSourceType": "ZIP_UPLOAD", "zipFileBase64Encoded": zip_b64(&fixture("tf/ok"))},
                "customTerraformProvider": {"region": REGION, "namespace": NAMESPACE},
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().contains("customTerraformProvider.bucketName"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn older_stacks_need_third_party_providers_enabled_before_a_bucket() {
    let e = Engine::with(|c| c.older_stacks = true);
    let s = stack(
        &e,
        "ok",
        json!({"customTerraformProvider": bucket_ref("providers")}),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(s["isThirdPartyProviderExperienceEnabled"], false, "{s}");
    assert!(s.get("customTerraformProvider").is_none(), "ignored: {s}");
    let path = format!("/20180917/stacks/{id}");
    let put = |body: Value| e.call(axum::http::Method::PUT, &path, Some(body));

    let r = put(json!({"customTerraformProvider": bucket_ref("providers")})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .contains("update it with isThirdPartyProviderExperienceEnabled = true first"),
        "{}",
        r.text()
    );
    let r = put(json!({"isThirdPartyProviderExperienceEnabled": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["isThirdPartyProviderExperienceEnabled"], true);
    let r = put(json!({"customTerraformProvider": bucket_ref("providers")})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json()["customTerraformProvider"]["bucketName"],
        "providers"
    );
    let r = put(json!({"isThirdPartyProviderExperienceEnabled": false})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "cannot be reverted");

    // The empty value removes the bucket.
    let r = put(json!({"customTerraformProvider": {}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let (job, log) = run(&e, &r.json(), json!({"operation": "PLAN"})).await;
    assert_eq!(job["lifecycleState"], "SUCCEEDED", "{job}\n{log}");
    assert_eq!(job["isThirdPartyProviderExperienceEnabled"], true);
    assert!(!log.contains(GETTING_PROVIDERS), "{log}");
}

#[tokio::test]
async fn a_job_runs_its_stacks_terraform_line_or_says_which_it_ran() {
    let old: TerraformBinary = format!("1.0.3={}", tool("terraform-1.0").display())
        .parse()
        .unwrap();
    let old_path = old.path.clone();
    let e = Engine::with(move |c| {
        // The default's version is asked from the binary; 1.0.3's is declared.
        c.terraforms = vec![TerraformBinary::new(c.terraform.clone()), old];
    });
    let default = e.state.config().terraform.clone();

    let s = stack(&e, "plain", json!({"terraformVersion": "1.0.x"})).await;
    let (job, log) = run(&e, &s, json!({"operation": "PLAN"})).await;
    assert_eq!(job["lifecycleState"], "SUCCEEDED", "{job}\n{log}");
    let first = log.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "Terraform 1.0.3 ({}) runs this job: the stack's terraformVersion is 1.0.x.",
            old_path.display()
        )
    );

    // Nothing of the 1.5 line here: the closest newer one runs, and the log says so first.
    let s = stack(&e, "plain", json!({})).await;
    assert_eq!(s["terraformVersion"], "1.5.x");
    let (job, log) = run(&e, &s, json!({"operation": "PLAN"})).await;
    assert_eq!(job["lifecycleState"], "SUCCEEDED", "{job}\n{log}");
    let first = log.lines().next().unwrap();
    assert!(
        first.starts_with(
            "The stack's terraformVersion is 1.5.x, which this engine does not have (it has 1.0.3, "
        ) && first.contains("this job runs the closest, Terraform ")
            && first.ends_with(&format!("({}).", default.display())),
        "{first}"
    );
    assert!(log.contains("Changes to Outputs"), "{log}");
}
