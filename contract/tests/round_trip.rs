//! Job events emitted through `tracing`, rendered as the provider writes them (a go-plugin JSON
//! line) and then as Terraform re-renders that line in its log (hclog text: fields in no fixed
//! order, values quoted and escaped the way current hclog releases do, or the way releases
//! before 1.0 did), and parsed back: what comes out must be what went in, whatever the message.

use std::sync::{Arc, Mutex};

use galley_contract::job_event::{Failure, FollowEnd, JobEvent, JobEventKind, field, name};
use galley_contract::log_line::{self, parse_plugin_line, parse_terraform_line};
use galley_contract::tf_output::{PlanSummary, TerraformError};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;

/// Renders events as go-plugin JSON lines, the shape of the provider's stderr.
struct PluginJson(Arc<Mutex<Vec<String>>>);

#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let key = if field.name() == "message" {
            "@message"
        } else {
            field.name()
        };
        self.0.insert(key.into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for PluginJson {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut object = fields.0;
        object.insert("@level".into(), "info".into());
        object.insert("@timestamp".into(), "2026-11-23T04:32:52.590000Z".into());
        object.insert("@module".into(), "provider.galley".into());
        object.insert("@caller".into(), event.metadata().target().into());
        self.0
            .lock()
            .unwrap()
            .push(Value::Object(object).to_string());
    }
}

/// The JSON lines of the events `f` emits.
fn emitted(f: impl FnOnce()) -> Vec<String> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(PluginJson(lines.clone()));
    tracing::subscriber::with_default(subscriber, f);
    Arc::try_unwrap(lines).unwrap().into_inner().unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Hclog {
    /// hclog 1.x: quotes values with anything outside `-`..`~`, escaping `"` and unprintables.
    Current,
    /// hclog before 1.0 (Terraform 1.0): quotes values with blanks, escapes nothing.
    Legacy,
}

fn quote_current(value: &str) -> String {
    if value.is_empty() {
        return "\"\"".into();
    }
    if value.chars().all(|c| ('-'..='~').contains(&c)) {
        return value.into();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            '\u{a0}' | '\u{2028}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn quote_legacy(value: &str) -> String {
    if value.contains([' ', '\t', '\r']) {
        format!("\"{value}\"")
    } else {
        value.into()
    }
}

/// A go-plugin JSON line as Terraform writes it to its log: go-plugin takes `@message`,
/// `@level` and `@timestamp` out, hands the other keys to hclog in map order (random in Go:
/// here, rotated by `turn`) and adds `timestamp`.
fn terraform_renders(json: &str, style: Hclog, turn: usize) -> String {
    let mut object: Map<String, Value> = serde_json::from_str(json).unwrap();
    let message = object.remove("@message").unwrap();
    object.remove("@level");
    object.remove("@timestamp");
    let mut pairs: Vec<(String, String)> = object
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
        .collect();
    let n = pairs.len();
    pairs.rotate_left(turn % n);
    if turn % 2 == 1 {
        pairs.reverse();
    }
    pairs.push(("timestamp".into(), "2026-11-23T04:32:52.590Z".into()));
    let mut line =
        String::from("2026-11-23T04:32:52.595Z [INFO]  provider.terraform-provider-galley_v0.1.0");
    let message = message.as_str().unwrap();
    if !message.is_empty() {
        line.push_str(": ");
        line.push_str(message);
    }
    line.push(':');
    for (k, v) in pairs {
        assert!(
            !v.contains('\n'),
            "{k}: a newline would split the line in hclog"
        );
        let v = match style {
            Hclog::Current => quote_current(&v),
            Hclog::Legacy => quote_legacy(&v),
        };
        line.push_str(&format!(" {k}={v}"));
    }
    line
}

const JOB: &str = "ocid1.ormjob.oc1.iad.amaaaaaa2ml4";
const STACK: &str = "ocid1.ormstack.oc1.iad.amaaaaaa40qy";

fn event(kind: JobEventKind) -> JobEvent {
    JobEvent {
        job_id: JOB.into(),
        operation: Some("PLAN".into()),
        stack_id: Some(STACK.into()),
        kind,
    }
}

/// One event of every kind, with the text job logs and Terraform errors really hold.
fn samples() -> Vec<JobEvent> {
    let mut out = vec![
        event(JobEventKind::Started {
            state: "ACCEPTED".into(),
        }),
        event(JobEventKind::StateChanged {
            state: "IN_PROGRESS".into(),
        }),
        event(JobEventKind::Cancelling {
            reason: FollowEnd::Interrupted,
        }),
        event(JobEventKind::Cancelling {
            reason: FollowEnd::TimedOut,
        }),
        event(JobEventKind::Error(TerraformError {
            summary: "Reference to undeclared input variable".into(),
            detail: "An input variable with the name \"missing\" has not been declared. \\ 100%"
                .into(),
            location: Some("on main.tf line 3, in output \"x\":".into()),
            file: Some("main.tf".into()),
            line: Some(3),
        })),
        event(JobEventKind::Error(TerraformError {
            summary: "Backend initialization required".into(),
            ..TerraformError::default()
        })),
        event(JobEventKind::Finished {
            state: "FAILED".into(),
            ending: FollowEnd::Finished,
            failure: Some(Failure {
                code: "TERRAFORM_EXECUTION_ERROR".into(),
                message: "Error: Reference to undeclared input variable: \"x\"".into(),
            }),
            summary: None,
        }),
        event(JobEventKind::Finished {
            state: "SUCCEEDED".into(),
            ending: FollowEnd::Finished,
            failure: None,
            summary: Some(PlanSummary {
                add: 2,
                change: 0,
                destroy: 1_000_000,
            }),
        }),
        event(JobEventKind::Finished {
            state: "IN_PROGRESS".into(),
            ending: FollowEnd::Unreachable,
            failure: None,
            summary: None,
        }),
        JobEvent {
            operation: None,
            stack_id: None,
            ..event(JobEventKind::Started {
                state: "ACCEPTED".into(),
            })
        },
    ];
    for text in [
        "Plan: 2 to add, 0 to change, 0 to destroy.",
        "Running: terraform init -input=false",
        "Terraform will perform the following actions:",
        "│   on main.tf line 4, in resource \"x\" \"y\":",
        "  # terraform_data.x will be created",
        "event=job_finished state=SUCCEEDED: job_id=forged",
        "C:\\stack\\main.tf \"quoted\" \t tab \u{1b}[1mbold\u{1b}[0m 100% é ✓ \u{a0}",
        "line one\nline two\r",
        "",
    ] {
        out.push(event(JobEventKind::Log { text: text.into() }));
    }
    out
}

#[test]
fn every_event_survives_the_provider_and_terraform_renderings() {
    for sample in samples() {
        let lines = emitted(|| sample.emit("job news"));
        assert_eq!(lines.len(), 1);
        assert_eq!(
            parse_plugin_line(&lines[0]).as_ref(),
            Some(&sample),
            "{}",
            lines[0]
        );
        for style in [Hclog::Current, Hclog::Legacy] {
            for turn in 0..6 {
                let line = terraform_renders(&lines[0], style, turn);
                assert_eq!(
                    parse_terraform_line(&line).as_ref(),
                    Some(&sample),
                    "{style:?}: {line}"
                );
            }
        }
    }
}

#[test]
fn the_message_is_no_part_of_the_contract() {
    let sample = event(JobEventKind::Started {
        state: "ACCEPTED".into(),
    });
    for message in [
        "job started",
        "",
        "Resource Manager job started: following it now",
        "job: state=FAILED started",
        "100% \"started\"",
    ] {
        let lines = emitted(|| sample.emit(message));
        assert_eq!(parse_plugin_line(&lines[0]).as_ref(), Some(&sample));
        for style in [Hclog::Current, Hclog::Legacy] {
            let line = terraform_renders(&lines[0], style, 3);
            assert_eq!(
                parse_terraform_line(&line).as_ref(),
                Some(&sample),
                "{message:?}: {line}"
            );
        }
    }
}

#[test]
fn emit_writes_every_field_the_event_has_and_nothing_else() {
    for sample in samples() {
        let lines = emitted(|| sample.emit("m"));
        let object: Map<String, Value> = serde_json::from_str(&lines[0]).unwrap();
        let written: Vec<&str> = object
            .keys()
            .map(String::as_str)
            .filter(|k| !k.starts_with('@'))
            .collect();
        let mut expected: Vec<&str> = sample.fields().into_iter().map(|(n, _)| n).collect();
        expected.sort_unstable();
        assert_eq!(written, expected, "{sample:?}");
        for (n, v) in sample.fields() {
            assert_eq!(object[n], log_line::encode(&v).as_str(), "{n}");
        }
    }
}

#[test]
fn field_names_are_listed_once_and_events_use_only_listed_ones() {
    let mut all = field::ALL.to_vec();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), field::ALL.len(), "a field is listed twice");
    let mut names = Vec::new();
    for sample in samples() {
        names.push(sample.kind.name());
        let fields = sample.fields();
        let order: Vec<usize> = fields
            .iter()
            .map(|(n, _)| field::ALL.iter().position(|a| a == n).expect(n))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{fields:?}");
    }
    for n in [
        name::JOB_STARTED,
        name::JOB_STATE_CHANGED,
        name::JOB_LOG,
        name::JOB_ERROR,
        name::JOB_CANCELLING,
        name::JOB_FINISHED,
    ] {
        assert!(names.contains(&n), "no sample of {n}");
    }
}
