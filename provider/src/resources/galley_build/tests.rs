//! Unit tests of `galley_build`: plan (digest, rebuilds, unknowns), validation, import usage,
//! and apply's packaging of the context.

use galley_oci::instance_agent::{
    CommandExecutionOutput, DeliveryState, ExecutionLifecycleState, InstanceAgentCommandExecution,
};

use super::*;
use crate::attrs::is_unknown;
use crate::build::Record;
use crate::cty::Refinement;
use crate::packaging::{Tree, testdir};

use crate::resource::testing::ctx;

fn config(dir: &str) -> Value {
    let mut v = Value::null_object(&schema().block.value_type());
    for (k, val) in [
        ("compartment_id", "ocid1.compartment.oc1..c"),
        ("instance_id", "ocid1.instance.oc1..i"),
        ("app_dir", dir),
        ("bucket_name", "builds"),
        ("namespace", "ns"),
        ("image_uri", "iad.ocir.io/ns/app:v1"),
    ] {
        v.set_attr(k, Value::string(val));
    }
    v
}

async fn plan(prior: &Value, config: &Value) -> Result<Planned, Diagnostics> {
    crate::resource::testing::plan(&GalleyBuild, prior, config).await
}

fn built(planned: &Value, exit: i64) -> Value {
    let execution = InstanceAgentCommandExecution {
        delivery_state: DeliveryState::Acked,
        lifecycle_state: ExecutionLifecycleState::Succeeded,
        content: Some(CommandExecutionOutput {
            exit_code: Some(exit as i32),
            text: Some(format!("v1: digest: sha256:{} size: 1", "b".repeat(64))),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut m = Model::from_value(planned);
    m.record(&Record::of(
        "ocid1.instanceagentcommand.oc1..x",
        Some(&execution),
    ));
    m.to_value()
}

#[tokio::test]
async fn plan_knows_the_digest_and_rebuilds_only_when_the_image_changes() {
    let dir = tempfile::tempdir().unwrap();
    testdir::write(
        dir.path(),
        &[("Dockerfile", "FROM scratch\n"), (".git/HEAD", "x")],
    );
    let d = dir.path().display().to_string();
    let cfg = config(&d);
    let first = plan(&Value::Null, &cfg).await.unwrap().planned_state;
    let digest = Tree::scan(dir.path()).unwrap().digest().unwrap();
    assert_eq!(str_of(&first, "source_sha256"), Some(digest.clone()));
    assert_eq!(str_of(&first, "object_name"), Some(object_name(&digest)));
    assert_eq!(str_of(&first, "dockerfile").as_deref(), Some("Dockerfile"));
    assert!(!first.get_attr("image_digest").unwrap().is_known());

    let prior = built(&first, 0);
    assert_eq!(plan(&prior, &cfg).await.unwrap().planned_state, prior);

    // A new registry token or instance changes no image: no rebuild.
    let mut rotated = cfg.clone();
    rotated.set_attr("instance_id", Value::string("ocid1.instance.oc1..other"));
    let p = plan(&prior, &rotated).await.unwrap().planned_state;
    assert!(p.get_attr("exit_code").unwrap().is_known());

    testdir::write(dir.path(), &[("app.py", "print(1)\n")]);
    let p = plan(&prior, &cfg).await.unwrap().planned_state;
    assert!(!p.get_attr("exit_code").unwrap().is_known());

    // A failed build is retried.
    let failed = built(&first, 1);
    testdir::write(dir.path(), &[]);
    std::fs::remove_file(dir.path().join("app.py")).unwrap();
    let p = plan(&failed, &cfg).await.unwrap().planned_state;
    assert!(!p.get_attr("exit_code").unwrap().is_known());
}

#[tokio::test]
async fn unknowns_in_the_configuration_are_planned_as_given() {
    let dir = tempfile::tempdir().unwrap();
    testdir::write(dir.path(), &[("Dockerfile", "FROM scratch\n")]);
    let mut cfg = config(&dir.path().display().to_string());
    let instance = Value::Unknown(Refinement::not_null().with_string_prefix("ocid1."));
    let args = Value::map([("A", Value::string("1")), ("B", Value::unknown())]);
    cfg.set_attr("instance_id", instance.clone());
    cfg.set_attr("build_args", args.clone());
    let planned = plan(&Value::Null, &cfg).await.unwrap().planned_state;
    assert_eq!(planned.get_attr("instance_id"), Some(&instance));
    assert_eq!(planned.get_attr("build_args"), Some(&args));
    assert!(is_unknown(&planned, "image_digest"));
    // What the model reads, it writes back unchanged.
    assert_eq!(Model::from_value(&planned).to_value(), planned);
}

#[tokio::test]
async fn a_missing_dockerfile_is_refused_at_plan() {
    let dir = tempfile::tempdir().unwrap();
    testdir::write(dir.path(), &[("app.py", "x")]);
    let Err(err) = plan(&Value::Null, &config(&dir.path().display().to_string())).await else {
        panic!("a context without Dockerfile must be refused");
    };
    assert_eq!(err.0[0].path, vec![PathStep::Attr("dockerfile".into())]);
}

#[test]
fn credentials_must_come_in_pairs_and_argument_names_be_identifiers() {
    let mut cfg = config("/tmp");
    cfg.set_attr("registry_username", Value::string("ns/ci"));
    cfg.set_attr(
        "build_args",
        Value::Map([("BAD-NAME".to_string(), Value::string("x"))].into()),
    );
    let diags = GalleyBuild.validate(&cfg);
    let summaries: Vec<&str> = diags.0.iter().map(|d| d.summary.as_str()).collect();
    assert!(summaries.contains(&"Registry credentials are incomplete"));
    assert!(summaries.contains(&"Invalid build argument name"));
}

#[tokio::test]
async fn a_malformed_import_id_shows_the_expected_format() {
    let err = GalleyBuild.import(&ctx(), "build-1").await.unwrap_err();
    assert!(err.0[0].detail.contains("ocid1.instanceagentcommand."));
    assert!(
        err.0[0]
            .detail
            .contains("terraform import galley_build.NAME")
    );
}

/// Regression: with `app_dir` unknown at plan time (another resource's output), the planned
/// `source_sha256` is unknown, and apply refused to package the context with "Build context
/// changed after plan". Apply packages it and records the digest of what it packaged; a
/// digest known at plan time that the files no longer have is still refused.
#[tokio::test]
async fn app_dir_unknown_at_plan_is_built_not_refused_as_build_context_changed_after_plan() {
    let dir = tempfile::tempdir().unwrap();
    testdir::write(dir.path(), &[("Dockerfile", "FROM scratch\n")]);
    let d = dir.path().display().to_string();
    let mut cfg = config(&d);
    cfg.set_attr("app_dir", Value::unknown_not_null());
    let planned = plan(&Value::Null, &cfg).await.unwrap().planned_state;
    for name in ["source_sha256", "object_name", "exit_code"] {
        assert!(is_unknown(&planned, name), "{name}");
    }

    // Apply, with app_dir known by then and the digest as planned.
    let mut state = Model::from_value(&planned);
    state.app_dir = Attr::Known(d.clone());
    let packaged = match package(&state) {
        Ok(p) => p,
        Err(e) => panic!("{}", report::context(&e).summary),
    };
    let digest = Tree::scan(dir.path()).unwrap().digest().unwrap();
    assert_eq!(packaged.digest, digest);
    state.record_upload(&scratch::Uploaded {
        namespace: "ns".into(),
        bucket: "builds".into(),
        object: object_name(&packaged.digest),
        source_sha256: packaged.digest.clone(),
    });
    let recorded = state.to_value();
    assert_eq!(str_of(&recorded, "source_sha256"), Some(digest.clone()));
    assert_eq!(str_of(&recorded, "object_name"), Some(object_name(&digest)));

    let mut stale =
        Model::from_value(&plan(&Value::Null, &config(&d)).await.unwrap().planned_state);
    testdir::write(dir.path(), &[("app.py", "print(1)\n")]);
    stale.app_dir = Attr::Known(d);
    let Err(e) = package(&stale) else {
        panic!("a context that changed after a known digest was planned must be refused");
    };
    assert_eq!(
        report::context(&e).summary,
        "Build context changed after plan"
    );
}
