//! What one line of a Terraform run means. A run prints two kinds of lines: on stdout Terraform's
//! machine-readable UI (`-json`: one object per line with `@message`, `type` and, for
//! diagnostics, `diagnostic{severity, summary, detail, range}`), and on stderr, with
//! `TF_LOG_PROVIDER=INFO`, the Galley provider's log as Terraform renders it, among which the
//! contract's job events (`galley_contract::job_event`: started, state changes, each line of
//! the job's log, its Terraform errors, cancelling, the end). Events are read from their named
//! fields only; the provider's messages are never looked at.

use galley_contract::job_event::JobEvent;
use galley_contract::log_line;

use super::output::Diagnostic;

/// One line, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A Terraform UI message (`@message`), with the diagnostic when it is one.
    Ui {
        message: String,
        kind: String,
        diagnostic: Option<UiDiagnostic>,
    },
    /// A change a plan makes (`planned_change` of the UI stream): the resource's address and
    /// Terraform's action (`create`, `update`, `replace`, `delete`...).
    Planned {
        message: String,
        address: String,
        action: String,
    },
    /// A job event of the provider's log.
    Job(JobEvent),
    /// Anything else (plain text, other provider or plugin log lines).
    Other(String),
}

/// A diagnostic of Terraform's UI stream.
#[derive(Debug, Clone, PartialEq)]
pub struct UiDiagnostic {
    pub error: bool,
    pub diagnostic: Diagnostic,
}

/// Classifies a line of stdout (`stdout = true`) or stderr.
pub fn classify(line: &str, stdout: bool) -> Line {
    if stdout
        && line.starts_with('{')
        && let Some(ui) = ui_line(line)
    {
        return ui;
    }
    if !stdout && let Some(event) = log_line::parse_terraform_line(line) {
        return Line::Job(event);
    }
    Line::Other(line.to_string())
}

fn ui_line(line: &str) -> Option<Line> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = v.get("@message")?.as_str()?.to_string();
    let kind = v["type"].as_str().unwrap_or_default().to_string();
    if kind == "planned_change" {
        let change = &v["change"];
        return Some(Line::Planned {
            message,
            address: change["resource"]["addr"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            action: change["action"].as_str().unwrap_or_default().to_string(),
        });
    }
    let diagnostic = v.get("diagnostic").map(|d| {
        let file = d["range"]["filename"].as_str().map(str::to_string);
        let line = d["range"]["start"]["line"]
            .as_u64()
            .and_then(|l| u32::try_from(l).ok());
        UiDiagnostic {
            error: d["severity"].as_str() == Some("error"),
            diagnostic: Diagnostic {
                summary: d["summary"].as_str().unwrap_or_default().to_string(),
                detail: d["detail"].as_str().unwrap_or_default().to_string(),
                file,
                line,
                origin: super::output::Origin::Runner,
            },
        }
    });
    Some(Line::Ui {
        message,
        kind,
        diagnostic,
    })
}

#[cfg(test)]
mod tests {
    use galley_contract::job_event::{Failure, FollowEnd, JobEventKind};

    use super::*;

    const JOB: &str = "ocid1.ormjob.oc1..4wga";
    const STACK: &str = "ocid1.ormstack.oc1..be5k";

    /// A line of Terraform's log as Terraform 1.15 rendered it (ids shortened).
    fn current(rest: &str) -> String {
        format!(
            "2026-12-06T04:03:12.266Z [INFO]  provider.terraform-provider-galley: {}",
            rest.replace("{JOB}", JOB).replace("{STACK}", STACK)
        )
    }

    /// The same as Terraform 1.0 renders it: the plugin's file name has its version, and values
    /// are quoted only for blanks (an empty one is bare).
    fn legacy(rest: &str) -> String {
        format!(
            "2026-12-06T04:03:14.647Z [INFO]  provider.terraform-provider-galley_v0.1.0: {}",
            rest.replace("{JOB}", JOB).replace("{STACK}", STACK)
        )
    }

    fn event(line: &str) -> JobEvent {
        match classify(line, false) {
            Line::Job(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ui_messages_and_diagnostics() {
        let l = classify(
            r#"{"@level":"error","@message":"Error: Unsupported argument","@module":"terraform.ui","diagnostic":{"severity":"error","summary":"Unsupported argument","detail":"No bogus here.","range":{"filename":"main.tf","start":{"line":12,"column":3}}},"type":"diagnostic"}"#,
            true,
        );
        let Line::Ui {
            message,
            kind,
            diagnostic: Some(d),
        } = l
        else {
            panic!("{l:?}")
        };
        assert_eq!(message, "Error: Unsupported argument");
        assert_eq!(kind, "diagnostic");
        assert!(d.error);
        assert_eq!(d.diagnostic.file.as_deref(), Some("main.tf"));
        assert_eq!(d.diagnostic.line, Some(12));
        // JSON on stderr is not UI output.
        assert!(matches!(
            classify(r#"{"@message":"x"}"#, false),
            Line::Other(_)
        ));
    }

    #[test]
    fn planned_changes_name_the_resource_and_the_action() {
        // As Terraform 1.0 and 1.15 print them (fields beyond these vary).
        let l = classify(
            r#"{"@level":"info","@message":"galley_session.this: Plan to replace","@module":"terraform.ui","change":{"resource":{"addr":"galley_session.this","module":"","resource":"galley_session.this","implied_provider":"galley","resource_type":"galley_session","resource_name":"this","resource_key":null},"action":"replace","reason":"tainted"},"type":"planned_change"}"#,
            true,
        );
        assert_eq!(
            l,
            Line::Planned {
                message: "galley_session.this: Plan to replace".into(),
                address: "galley_session.this".into(),
                action: "replace".into(),
            }
        );
    }

    #[test]
    fn relayed_job_log_lines() {
        let l = event(&current(
            "job log: job_id={JOB} operation=PLAN stack_id={STACK} text=\"  on main.tf line 6, in output %22broken%22:\" @module=provider.galley event=job_log @caller=galley_contract::job_event timestamp=2026-12-06T04:03:12.267Z",
        ));
        assert_eq!(
            l,
            JobEvent {
                job_id: JOB.into(),
                operation: Some("PLAN".into()),
                stack_id: Some(STACK.into()),
                kind: JobEventKind::Log {
                    text: "  on main.tf line 6, in output \"broken\":".into()
                },
            }
        );
        // A line holding ": " and one ending in ":", and empty lines in both renderings.
        for (line, text) in [
            (
                current(
                    "job log: event=job_log @caller=galley_contract::job_event @module=provider.galley job_id={JOB} operation=PLAN stack_id={STACK} text=\"Running: terraform init -input=false -no-color\" timestamp=x",
                ),
                "Running: terraform init -input=false -no-color",
            ),
            (
                current(
                    "job log: event=job_log job_id={JOB} operation=APPLY text=\"Terraform will perform the following actions:\" @module=provider.galley",
                ),
                "Terraform will perform the following actions:",
            ),
            (
                current(
                    "job log: @caller=galley_contract::job_event text=\"\" @module=provider.galley event=job_log job_id={JOB} operation=PLAN stack_id={STACK} timestamp=x",
                ),
                "",
            ),
            (
                legacy(
                    "job log: event=job_log stack_id={STACK} text= @caller=galley_contract::job_event operation=PLAN @module=provider.galley job_id={JOB} timestamp=x",
                ),
                "",
            ),
        ] {
            assert_eq!(
                event(&line).kind,
                JobEventKind::Log { text: text.into() },
                "{line}"
            );
        }
    }

    #[test]
    fn job_events() {
        let started = event(&current(
            "job started: @caller=galley_contract::job_event @module=provider.galley event=job_started job_id={JOB} stack_id={STACK} operation=PLAN state=ACCEPTED timestamp=x",
        ));
        assert_eq!(
            started,
            JobEvent {
                job_id: JOB.into(),
                operation: Some("PLAN".into()),
                stack_id: Some(STACK.into()),
                kind: JobEventKind::Started {
                    state: "ACCEPTED".into()
                },
            }
        );
        let error = event(&legacy(
            "Terraform error in the job's log: error_location=\"on main.tf line 6, in output %22broken%22:\" operation=PLAN stack_id={STACK} @caller=galley_contract::job_event @module=provider.galley error_file=main.tf error_summary=\"Reference to undeclared input variable\" error_detail=\"An input variable with the name %22missing%22 has not been declared.\" job_id={JOB} error_line=6 event=job_error timestamp=x",
        ));
        let JobEventKind::Error(e) = error.kind else {
            panic!("{error:?}")
        };
        assert_eq!(e.summary, "Reference to undeclared input variable");
        assert_eq!(e.file.as_deref(), Some("main.tf"));
        assert_eq!(e.line, Some(6));
        assert_eq!(
            e.detail,
            "An input variable with the name \"missing\" has not been declared."
        );
        let finished = event(&current(
            "job followed: @module=provider.galley ending=finished event=job_finished failure_code=TERRAFORM_EXECUTION_ERROR operation=PLAN stack_id={STACK} @caller=galley_contract::job_event failure_message=\"Error: Reference to undeclared input variable%0A%0A  on main.tf line 6, in output %22broken%22:\" job_id={JOB} state=FAILED timestamp=x",
        ));
        assert_eq!(
            finished.kind,
            JobEventKind::Finished {
                state: "FAILED".into(),
                ending: FollowEnd::Finished,
                failure: Some(Failure {
                    code: "TERRAFORM_EXECUTION_ERROR".into(),
                    message: "Error: Reference to undeclared input variable\n\n  on main.tf line 6, in output \"broken\":".into(),
                }),
                summary: None,
            }
        );
        let cancelling = event(&legacy(
            "cancelling the Resource Manager job: @module=provider.galley event=job_cancelling job_id={JOB} operation=APPLY reason=interrupted timestamp=x",
        ));
        assert_eq!(
            cancelling.kind,
            JobEventKind::Cancelling {
                reason: FollowEnd::Interrupted
            }
        );
    }

    #[test]
    fn the_provider_s_wording_is_not_read() {
        let line = "job started: @module=provider.galley event=job_started job_id={JOB} operation=PLAN state=ACCEPTED";
        let reworded = "Resource Manager job created: following it now: @module=provider.galley event=job_started job_id={JOB} operation=PLAN state=ACCEPTED";
        assert_eq!(event(&current(line)), event(&current(reworded)));
        // The old wording without the event's fields is no event.
        assert!(matches!(
            classify(
                &current(
                    "job started: @module=provider.galley job={JOB} operation=PLAN stack={STACK}"
                ),
                false
            ),
            Line::Other(_)
        ));
    }

    #[test]
    fn other_lines() {
        for l in [
            "2026-11-23T04:32:51.701Z [INFO]  provider: configuring client automatic mTLS",
            "Interrupt received.",
            "T [INFO]  provider.terraform-provider-galley: created the stack: @module=provider.galley stack=x",
        ] {
            assert!(matches!(classify(l, false), Line::Other(_)), "{l}");
        }
        // Events are read from stderr only.
        assert!(matches!(
            classify(
                &current("job started: event=job_started job_id={JOB} state=ACCEPTED"),
                true
            ),
            Line::Other(_)
        ));
    }
}
