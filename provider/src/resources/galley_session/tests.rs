//! Plan, refresh and import of `galley_session` without a remote: the planned values, what
//! changes plan jobs or a replacement, and the typed model's round trip.

use std::collections::BTreeMap;

use galley_contract::tf_output::PlanSummary;
use galley_oci::resource_manager::Stack;

use super::model::Model;
use super::*;
use crate::attrs::{map_of, str_of};
use crate::diagnostics::PathStep;
use crate::packaging::{Tree, testdir};
use crate::resource::Planned;
use crate::session::JobRun;
use crate::session::stack::SOURCE_TAG;

use crate::resource::testing::ctx;

fn config(dir: &str, extra: &[(&str, Value)]) -> Value {
    let ty = schema().block.value_type();
    let mut v = Value::null_object(&ty);
    v.set_attr("terraform_dir", Value::string(dir));
    v.set_attr("compartment_id", Value::string("ocid1.compartment.oc1..c"));
    for (k, val) in extra {
        v.set_attr(k, val.clone());
    }
    v
}

async fn plan(prior: &Value, config: &Value) -> Result<Planned, Diagnostics> {
    crate::resource::testing::plan(&GalleySession, prior, config).await
}

fn stack_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    testdir::write(
        dir.path(),
        &[
            ("main.tf", "resource \"terraform_data\" \"x\" {}\n"),
            ("terraform.tfstate", "{}"),
        ],
    );
    dir
}

/// The state an apply of `planned` would leave when every job succeeded.
fn applied(planned: &Value) -> Value {
    let mut s = planned.clone();
    s.set_attr("id", Value::string("ocid1.ormstack.oc1..s"));
    s.set_attr("display_name", Value::string("ormstack1"));
    s.set_attr("last_job_id", Value::string("ocid1.ormjob.oc1..j"));
    s.set_attr("last_job_state", Value::string("SUCCEEDED"));
    s.set_attr(
        "plan_summary",
        Attr::Known(PlanSummary::default()).to_value(),
    );
    s.set_attr("outputs", Value::Map(BTreeMap::new()));
    s.set_attr("sensitive_outputs", Value::Map(BTreeMap::new()));
    s.set_attr("log_tail", Value::string("Apply complete!"));
    s
}

#[tokio::test]
async fn create_plan_knows_the_digest_and_defaults() {
    let dir = stack_dir();
    let d = dir.path().display().to_string();
    let p = plan(&Value::Null, &config(&d, &[])).await.unwrap();
    let s = &p.planned_state;
    let expected = Tree::scan(dir.path()).unwrap().digest().unwrap();
    assert_eq!(str_of(s, "source_sha256"), Some(expected));
    assert_eq!(str_of(s, "terraform_version").as_deref(), Some("1.5.x"));
    assert_eq!(str_of(s, "operation").as_deref(), Some("apply"));
    assert_eq!(s.get_attr("destroy_on_delete"), Some(&Value::Bool(true)));
    for name in [
        "id",
        "display_name",
        "last_job_state",
        "outputs",
        "log_tail",
    ] {
        assert!(!s.get_attr(name).unwrap().is_known(), "{name}");
    }
}

#[tokio::test]
async fn an_unchanged_configuration_plans_no_change_and_a_changed_file_does() {
    let dir = stack_dir();
    let d = dir.path().display().to_string();
    let cfg = config(&d, &[]);
    let first = plan(&Value::Null, &cfg).await.unwrap().planned_state;
    let prior = applied(&first);
    let again = plan(&prior, &cfg).await.unwrap();
    assert_eq!(
        again.planned_state, prior,
        "nothing changed: the plan is the prior state"
    );
    assert!(again.requires_replace.is_empty());

    testdir::write(
        dir.path(),
        &[("main.tf", "resource \"terraform_data\" \"y\" {}\n")],
    );
    let changed = plan(&prior, &cfg).await.unwrap().planned_state;
    assert_ne!(
        str_of(&changed, "source_sha256"),
        str_of(&prior, "source_sha256")
    );
    assert!(!changed.get_attr("last_job_state").unwrap().is_known());
    assert_eq!(str_of(&changed, "id"), str_of(&prior, "id"));
}

#[tokio::test]
async fn a_failed_last_job_plans_the_jobs_again_in_place() {
    let dir = stack_dir();
    let d = dir.path().display().to_string();
    let cfg = config(&d, &[]);
    let mut prior = applied(&plan(&Value::Null, &cfg).await.unwrap().planned_state);
    prior.set_attr("last_job_state", Value::string("FAILED"));
    let p = plan(&prior, &cfg).await.unwrap();
    assert!(p.requires_replace.is_empty());
    assert!(
        !p.planned_state
            .get_attr("last_job_state")
            .unwrap()
            .is_known()
    );
    assert_eq!(str_of(&p.planned_state, "id"), str_of(&prior, "id"));
}

#[tokio::test]
async fn injected_variables_warn_and_do_not_count_as_changes() {
    let dir = stack_dir();
    let d = dir.path().display().to_string();
    let vars = |extra: &[(&str, &str)]| {
        Value::Map(
            [("greeting", "hi")]
                .iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), Value::string(*v)))
                .collect(),
        )
    };
    let cfg = config(&d, &[("variables", vars(&[("region", "x")]))]);
    let warnings = GalleySession.validate(&cfg);
    assert_eq!(warnings.0.len(), 1);
    assert_eq!(
        warnings.0[0].path,
        vec![
            PathStep::Attr("variables".into()),
            PathStep::Key("region".into())
        ]
    );
    let m = Model::from_value(&cfg);
    assert_eq!(
        m.sent_variables(),
        BTreeMap::from([("greeting".to_string(), "hi".to_string())])
    );
    let prior = applied(&plan(&Value::Null, &cfg).await.unwrap().planned_state);
    let cfg2 = config(&d, &[("variables", vars(&[("region", "y")]))]);
    let p = plan(&prior, &cfg2).await.unwrap().planned_state;
    assert!(
        p.get_attr("last_job_state").unwrap().is_known(),
        "an injected variable changing runs no job"
    );
}

/// Values known only at apply (a variable from another resource, a partly known block) reach
/// the plan exactly as configured, as Terraform requires of non-computed attributes.
#[tokio::test]
async fn values_unknown_at_plan_pass_through_unchanged() {
    let dir = stack_dir();
    let d = dir.path().display().to_string();
    let vars = Value::map([("greeting", Value::string("hi")), ("id", Value::unknown())]);
    let bucket = Value::object([
        ("region", Value::unknown()),
        ("namespace", Value::string("n")),
        ("bucket_name", Value::string("b")),
    ]);
    let cfg = config(
        &d,
        &[
            ("variables", vars.clone()),
            ("custom_terraform_provider", bucket.clone()),
            ("timeouts", Value::object([("plan", Value::string("1m"))])),
        ],
    );
    let p = plan(&Value::Null, &cfg).await.unwrap().planned_state;
    assert_eq!(p.get_attr("variables"), Some(&vars));
    assert_eq!(p.get_attr("custom_terraform_provider"), Some(&bucket));
    assert_eq!(p.get_attr("timeouts"), cfg.get_attr("timeouts"));
    let m = Model::from_value(&p);
    assert_eq!(m.to_value(), p, "the model writes back what it read");
    assert_eq!(m.job_timeouts().plan, std::time::Duration::from_secs(60));
    assert_eq!(m.job_timeouts().apply, JobKind::Apply.default_timeout());
}

#[tokio::test]
async fn a_directory_without_terraform_files_is_refused_at_plan() {
    let dir = tempfile::tempdir().unwrap();
    testdir::write(dir.path(), &[("README.md", "x"), ("stack/main.tf", "")]);
    let d = dir.path().display().to_string();
    let Err(err) = plan(&Value::Null, &config(&d, &[])).await else {
        panic!("a directory without .tf files must be refused")
    };
    assert!(err.0[0].detail.contains("Terraform config file is missing"));
    assert_eq!(err.0[0].path, vec![PathStep::Attr("terraform_dir".into())]);
    let ok = plan(
        &Value::Null,
        &config(&d, &[("working_directory", Value::string("./stack/"))]),
    )
    .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn a_compartment_change_replaces_the_stack() {
    let dir = stack_dir();
    let d = dir.path().display().to_string();
    let prior = applied(
        &plan(&Value::Null, &config(&d, &[]))
            .await
            .unwrap()
            .planned_state,
    );
    let cfg = config(
        &d,
        &[(
            "compartment_id",
            Value::string("ocid1.compartment.oc1..other"),
        )],
    );
    let p = plan(&prior, &cfg).await.unwrap();
    assert_eq!(
        p.requires_replace,
        vec![vec![PathStep::Attr("compartment_id".into())]]
    );
}

#[test]
fn refresh_reports_variable_and_source_drift_and_keeps_equivalent_spellings() {
    let mut state = Value::null_object(&schema().block.value_type());
    state.set_attr(
        "variables",
        Value::Map(BTreeMap::from([
            ("greeting".to_string(), Value::string("hi")),
            ("region".to_string(), Value::string("x")),
        ])),
    );
    state.set_attr("working_directory", Value::string("./stack"));
    state.set_attr("source_sha256", Value::string("aaa"));
    let m = Model::from_value(&state);
    let mut stack = Stack {
        id: "ocid1.ormstack.oc1..s".into(),
        compartment_id: "ocid1.compartment.oc1..c".into(),
        variables: Some(BTreeMap::from([("greeting".into(), "hi".into())])),
        config_source: Some(galley_oci::resource_manager::ConfigSource {
            working_directory: Some("stack".into()),
            ..Default::default()
        }),
        freeform_tags: Some(BTreeMap::from([(SOURCE_TAG.into(), "aaa".into())])),
        ..Stack::default()
    };
    let refreshed = |stack: &Stack| {
        let mut m = m.clone();
        m.refresh(&StackView::from(stack));
        m.to_value()
    };
    let same = refreshed(&stack);
    assert_eq!(same.get_attr("variables"), state.get_attr("variables"));
    assert_eq!(
        str_of(&same, "working_directory").as_deref(),
        Some("./stack")
    );
    assert_eq!(str_of(&same, "source_sha256").as_deref(), Some("aaa"));

    stack.variables = Some(BTreeMap::from([("greeting".into(), "drifted".into())]));
    stack.freeform_tags = Some(BTreeMap::from([(SOURCE_TAG.into(), "bbb".into())]));
    let drifted = refreshed(&stack);
    assert_eq!(
        map_of(&drifted, "variables"),
        Some(BTreeMap::from([("greeting".into(), "drifted".into())]))
    );
    assert_eq!(str_of(&drifted, "source_sha256").as_deref(), Some("bbb"));
}

#[tokio::test]
async fn a_malformed_import_id_shows_the_expected_format() {
    let err = GalleySession.import(&ctx(), "stack-1").await.unwrap_err();
    assert!(
        err.0[0].detail.contains("ocid1.ormstack."),
        "{}",
        err.0[0].detail
    );
    assert!(
        err.0[0]
            .detail
            .contains("terraform import galley_session.NAME")
    );
}

/// After a failed job the state is complete: what the jobs did not produce reads as nothing,
/// and the failure says what happens next.
#[test]
fn a_failed_plan_job_leaves_a_complete_state_and_the_next_step() {
    let mut m = Model::from_value(&config("dir", &[]));
    m.forget_job_results();
    let run = JobRun {
        job_id: "ocid1.ormjob.oc1..j".into(),
        state: JobLifecycleState::Failed,
        log_tail: "Error: boom".into(),
    };
    m.record(&run);
    m.settle_job_results();
    let v = m.to_value();
    assert_eq!(str_of(&v, "last_job_state").as_deref(), Some("FAILED"));
    assert_eq!(str_of(&v, "log_tail").as_deref(), Some("Error: boom"));
    assert_eq!(v.get_attr("plan_summary"), Some(&Value::Null));
    assert_eq!(v.get_attr("outputs"), Some(&Value::Map(BTreeMap::new())));
    assert!(v.is_wholly_known());

    let interrupted = session::SessionError::Interrupted {
        stack_id: "ocid1.ormstack.oc1..s".into(),
        kind: JobKind::Apply,
    };
    let d = diagnostic(&interrupted);
    assert_eq!(d.summary, "Interrupted");
    assert!(d.detail.contains("before the APPLY job"), "{}", d.detail);
}

fn tags(pairs: &[(&str, &str)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::string(*v)))
            .collect(),
    )
}

/// Tags are the stack's way of saying whose it is (the sidecar finds a session's stack by
/// one): configured ones reach the engine, changing them runs no job, and refresh and import
/// read them back without the provider's own source tag.
#[tokio::test]
async fn freeform_tags_are_sent_tracked_when_configured_and_imported() {
    let dir = stack_dir();
    let d = dir.path().display().to_string();
    let cfg = config(&d, &[("freeform_tags", tags(&[("galley-session", "s-1")]))]);
    let planned = plan(&Value::Null, &cfg).await.unwrap().planned_state;
    let m = Model::from_value(&planned);
    assert_eq!(
        m.spec().freeform_tags,
        Some(BTreeMap::from([("galley-session".into(), "s-1".into())]))
    );
    let prior = applied(&planned);
    let retagged = config(&d, &[("freeform_tags", tags(&[("galley-session", "s-2")]))]);
    let p = plan(&prior, &retagged).await.unwrap().planned_state;
    assert_eq!(
        str_of(&p, "last_job_state").as_deref(),
        Some("SUCCEEDED"),
        "a tag change runs no job"
    );
    assert_eq!(
        map_of(&p, "freeform_tags"),
        Some(BTreeMap::from([("galley-session".into(), "s-2".into())]))
    );

    let stack = Stack {
        id: "ocid1.ormstack.oc1..s".into(),
        compartment_id: "ocid1.compartment.oc1..c".into(),
        freeform_tags: Some(BTreeMap::from([
            (SOURCE_TAG.into(), "aaa".into()),
            ("galley-session".into(), "s-1".into()),
            ("team".into(), "x".into()),
        ])),
        ..Stack::default()
    };
    let view = StackView::from(&stack);
    let mut managed = Model::from_value(&prior);
    managed.refresh(&view);
    assert_eq!(
        map_of(&managed.to_value(), "freeform_tags"),
        Some(BTreeMap::from([
            ("galley-session".into(), "s-1".into()),
            ("team".into(), "x".into()),
        ])),
        "drift shows"
    );
    let mut unmanaged = Model::from_value(&applied(
        &plan(&Value::Null, &config(&d, &[]))
            .await
            .unwrap()
            .planned_state,
    ));
    unmanaged.refresh(&view);
    assert_eq!(
        unmanaged.to_value().get_attr("freeform_tags"),
        Some(&Value::Null),
        "tags nobody configured are left alone"
    );
    let imported = Model::imported(&session::Described {
        stack: view,
        last_job: None,
        outputs: Default::default(),
    });
    assert_eq!(
        map_of(&imported.to_value(), "freeform_tags").map(|t| t.len()),
        Some(2)
    );
}
