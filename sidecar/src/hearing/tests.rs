//! The shipped question set, the checks of a replacement file, answers, and the starting designs
//! every combination of answers suggests.

use serde_json::{Map, Value, json};

use super::*;
use crate::rules::RuleSet;

fn answers(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn the_shipped_questions_load_with_phases_and_required_questions() {
    let set = QuestionSet::shipped();
    assert!(set.phases.len() >= 4);
    let required: Vec<&str> = set
        .questions()
        .filter(|q| q.required)
        .map(|q| q.id.as_str())
        .collect();
    for id in [
        "purpose",
        "workload_type",
        "expected_load",
        "availability",
        "data_store",
        "exposure",
        "region",
    ] {
        assert!(required.contains(&id), "{id} is required: {required:?}");
    }
}

#[test]
fn a_bad_choice_names_the_question_and_lists_the_choices() {
    let set = QuestionSet::shipped();
    let e = set
        .check_answer("availability", &json!("five nines"))
        .unwrap_err();
    assert!(
        e.contains("availability") && e.contains("standard") && e.contains("high"),
        "{e}"
    );
    let e = set.check_answer("no_such", &json!("x")).unwrap_err();
    assert!(e.contains("no_such") && e.contains("workload_type"), "{e}");
    let e = set
        .check_answer("monthly_budget_usd", &json!(-5))
        .unwrap_err();
    assert!(e.contains("at least 0"), "{e}");
    assert_eq!(
        set.check_answer("monthly_budget_usd", &json!("1200")),
        Ok(json!(1200))
    );
    assert_eq!(
        set.check_answer("region", &json!(" ap-osaka-1 ")),
        Ok(json!("ap-osaka-1"))
    );
    let e = set.check_answer("purpose", &json!("  ")).unwrap_err();
    assert!(e.contains("purpose"), "{e}");
}

#[test]
fn an_incomplete_hearing_names_the_missing_required_questions() {
    let set = QuestionSet::shipped();
    let a = answers(&[("purpose", json!("shop")), ("region", json!("mars-1"))]);
    let e = set.result(&a, 1).unwrap_err();
    for id in [
        "workload_type",
        "expected_load",
        "availability",
        "data_store",
        "exposure",
        "region",
    ] {
        assert!(e.contains(&format!("- {id}: ")), "{id} missing from {e}");
    }
    assert!(!e.contains("- purpose:") && !e.contains("- notes:"), "{e}");
    assert!(e.contains("mars-1"), "the invalid answer is named: {e}");
}

#[test]
fn answers_imply_settings_config_defaults_and_a_starting_design() {
    let set = QuestionSet::shipped();
    let a = answers(&[
        ("purpose", json!("an online shop")),
        ("workload_type", json!("web_app")),
        ("expected_load", json!("medium")),
        ("availability", json!("high")),
        ("data_store", json!("relational")),
        ("exposure", json!("internet")),
        ("region", json!("ap-tokyo-1")),
    ]);
    let r = set.result(&a, 7).expect("complete");
    assert_eq!(r.settings["region"], "ap-tokyo-1");
    assert_eq!(r.settings["high_availability"], true);
    assert_eq!(r.settings["expected_load"], "medium");
    assert_eq!(r.config_defaults["compute"]["ocpus"], 2);
    assert_eq!(r.config_defaults["adb"]["db_workload"], "OLTP");
    // availability comes after expected_load: its node count wins.
    assert_eq!(r.config_defaults["oke"]["node_count"], 3);
    let arch = &r.suggested_architecture;
    let of = |t: &str| {
        arch.components
            .iter()
            .filter(|c| c.service_type == t)
            .count()
    };
    assert_eq!(of("compute"), 2, "high availability: two instances");
    assert_eq!(
        (of("loadbalancer"), of("adb"), of("internet_gateway")),
        (1, 1, 1)
    );
    let web = arch.component("app-1").expect("app-1");
    assert_eq!(web.config["ocpus"], 2);
    assert_eq!(r.answers.len(), 7);
    assert_eq!(
        r.answers[1].label.as_deref(),
        Some("Web application on virtual machines behind a load balancer")
    );
}

/// Every combination of choice answers (region fixed) suggests a design with no rule error that
/// exports.
#[test]
fn every_combination_of_answers_suggests_a_valid_exportable_design() {
    let set = QuestionSet::shipped();
    let rules = RuleSet::embedded().expect("rules");
    let choice_questions: Vec<&Question> = set
        .questions()
        .filter(|q| q.kind == QuestionType::Choice && q.id != "region")
        .collect();
    let mut index = vec![0usize; choice_questions.len()];
    let mut combos = 0;
    loop {
        let mut a = answers(&[("purpose", json!("p")), ("region", json!("ap-tokyo-1"))]);
        for (q, i) in choice_questions.iter().zip(&index) {
            a.insert(q.id.clone(), json!(q.choices[*i].value));
        }
        let r = set.result(&a, 1).expect("complete");
        let report = rules.validate(&r.suggested_architecture);
        assert!(report.errors.is_empty(), "{a:?}: {:?}", report.errors);
        crate::export::export(&r.suggested_architecture)
            .unwrap_or_else(|e| panic!("{a:?} does not export: {e}"));
        combos += 1;
        // Next combination (odometer).
        let mut k = 0;
        loop {
            if k == index.len() {
                assert!(combos >= 100, "{combos}");
                return;
            }
            index[k] += 1;
            if index[k] < choice_questions[k].choices.len() {
                break;
            }
            index[k] = 0;
            k += 1;
        }
    }
}

#[test]
fn a_replacement_file_is_checked_with_its_name_and_the_field() {
    let bad_key = r#"
phases:
  - id: one
    title: One
    questions:
      - id: size
        text: How big?
        type: choice
        choices:
          - value: big
            label: Big
            implies:
              config:
                compute: {cpus: 4}
"#;
    let e = QuestionSet::parse("mine.yml", bad_key)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mine.yml")
            && e.contains("phases[0].questions[0].choices[0].implies.config.compute.cpus")
            && e.contains("ocpus"),
        "{e}"
    );
    let bad_type = bad_key.replace("{cpus: 4}", "{ocpus: four}");
    let e = QuestionSet::parse("mine.yml", &bad_type)
        .unwrap_err()
        .to_string();
    assert!(e.contains("takes a number"), "{e}");
    let unknown_service = bad_key.replace("compute: {cpus: 4}", "mainframe: {x: 1}");
    let e = QuestionSet::parse("mine.yml", &unknown_service)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mainframe") && e.contains("known service types"),
        "{e}"
    );
    let twice = r#"
phases:
  - id: one
    title: One
    questions:
      - {id: a, text: A?, type: text}
      - {id: a, text: Again?, type: text}
"#;
    let e = QuestionSet::parse("mine.yml", twice)
        .unwrap_err()
        .to_string();
    assert!(e.contains("phases[0].questions[1].id"), "{e}");
    let unknown_field = twice.replace(
        "type: text}\n      - {id: a",
        "type: text, colour: red}\n      - {id: b",
    );
    let e = QuestionSet::parse("mine.yml", &unknown_field)
        .unwrap_err()
        .to_string();
    assert!(e.contains("mine.yml") && e.contains("colour"), "{e}");
    let dir = tempfile::tempdir().expect("tempdir");
    let e = QuestionSet::from_file(&dir.path().join("missing.yml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.yml"), "{e}");
}
