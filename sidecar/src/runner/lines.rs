//! What one line of a Terraform run means. A run prints two kinds of lines: on stdout Terraform's
//! machine-readable UI (`-json`: one object per line with `@message`, `type` and, for
//! diagnostics, `diagnostic{severity, summary, detail, range}`), and on stderr, with
//! `TF_LOG_PROVIDER=INFO`, the Galley provider's log as Terraform renders it
//! (`TIME [INFO]  provider.terraform-provider-galley: MESSAGE: key=value ...`), which carries the
//! Resource Manager job's own log lines (fields `job` and `operation`) and its start and end.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

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
    /// A line of a Resource Manager job's log, relayed by the provider.
    JobLog {
        job_id: String,
        operation: String,
        line: String,
    },
    /// The provider started, finished or cancelled a job.
    Job {
        job_id: String,
        operation: Option<String>,
        event: JobEvent,
        stack_id: Option<String>,
    },
    /// Anything else (plain text, other provider or plugin log lines).
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    Started,
    /// The follow ended; the job's final state when it is known.
    Followed(Option<String>),
    Cancelling,
}

/// A diagnostic of Terraform's UI stream.
#[derive(Debug, Clone, PartialEq)]
pub struct UiDiagnostic {
    pub error: bool,
    pub diagnostic: Diagnostic,
}

static PROVIDER_LOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\S+ \[([A-Z]+)\]\s+provider\.terraform-provider-galley[^:\s]*: ?(.*)$")
        .expect("static regex")
});
static FIELD_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[@A-Za-z_][A-Za-z0-9_.@-]*$").expect("static regex"));

/// Classifies a line of stdout (`stdout = true`) or stderr.
pub fn classify(line: &str, stdout: bool) -> Line {
    if stdout
        && line.starts_with('{')
        && let Some(ui) = ui_line(line)
    {
        return ui;
    }
    if let Some(c) = PROVIDER_LOG.captures(line) {
        let (message, fields) = split_fields(&c[2]);
        return provider_line(message, fields, line);
    }
    Line::Other(line.to_string())
}

fn ui_line(line: &str) -> Option<Line> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = v.get("@message")?.as_str()?.to_string();
    let kind = v["type"].as_str().unwrap_or_default().to_string();
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

fn provider_line(message: &str, fields: BTreeMap<String, String>, raw: &str) -> Line {
    let job = fields.get("job").cloned();
    let operation = fields.get("operation").cloned();
    let Some(job_id) = job else {
        return Line::Other(raw.to_string());
    };
    let event = match message {
        "job started" => Some(JobEvent::Started),
        "job followed" => Some(JobEvent::Followed(fields.get("state").cloned())),
        "cancelling the Resource Manager job" => Some(JobEvent::Cancelling),
        _ => None,
    };
    // The job's log lines are the ones the follower relays: with the job and its operation,
    // and logged from the follower's module.
    let relayed = fields
        .get("@caller")
        .is_some_and(|c| c.ends_with("remote::job"))
        && operation.is_some();
    if relayed {
        return Line::JobLog {
            job_id,
            operation: operation.unwrap_or_default(),
            line: message.to_string(),
        };
    }
    match event {
        Some(event) => Line::Job {
            job_id,
            operation,
            event,
            stack_id: fields.get("stack").cloned(),
        },
        None => Line::Other(raw.to_string()),
    }
}

/// Splits `MESSAGE: k=v k="quoted v" ...` into the message and its fields. The message may
/// itself hold `: `, so the split is the first `: ` after which everything parses as fields
/// including `@module` (every provider line has it). A line of fields only has no message.
pub fn split_fields(rest: &str) -> (&str, BTreeMap<String, String>) {
    if let Some(fields) = parse_fields(rest) {
        return ("", fields);
    }
    let mut from = 0;
    while let Some(i) = rest[from..].find(": ") {
        let at = from + i;
        if let Some(fields) = parse_fields(&rest[at + 2..]) {
            return (&rest[..at], fields);
        }
        from = at + 2;
    }
    (rest, BTreeMap::new())
}

/// `k=v` tokens separated by spaces, values bare or Go-quoted; `None` unless the whole text is
/// such tokens and `@module` is among them.
fn parse_fields(text: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut rest = text.trim_end();
    while !rest.is_empty() {
        rest = rest.trim_start_matches(' ');
        let eq = rest.find('=')?;
        let key = &rest[..eq];
        if !FIELD_KEY.is_match(key) {
            return None;
        }
        let after = &rest[eq + 1..];
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, other)) => value.push(other),
                        None => return None,
                    },
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end?;
            (value, &quoted[end..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        if !(remaining.is_empty() || remaining.starts_with(' ')) {
            return None;
        }
        out.insert(key.to_string(), value);
        rest = remaining;
    }
    out.contains_key("@module").then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = "ocid1.ormjob.oc1..2ml4";
    const STACK: &str = "ocid1.ormstack.oc1..40qy";

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
    fn relayed_job_log_lines() {
        let l = classify(
            &format!(
                "2026-11-23T04:32:52.595Z [INFO]  provider.terraform-provider-galley: Plan: 2 to add, 0 to change, 0 to destroy.: @module=provider.galley job={JOB} operation=PLAN @caller=galley_provider::remote::job timestamp=2026-11-23T04:32:52.590Z"
            ),
            false,
        );
        assert_eq!(
            l,
            Line::JobLog {
                job_id: JOB.into(),
                operation: "PLAN".into(),
                line: "Plan: 2 to add, 0 to change, 0 to destroy.".into()
            }
        );
        // A message holding ": " and one ending in ":", and an empty line.
        let l = classify(
            &format!(
                "T [INFO]  provider.terraform-provider-galley: Running: terraform init -input=false: @module=provider.galley job={JOB} operation=PLAN @caller=galley_provider::remote::job"
            ),
            false,
        );
        assert!(
            matches!(&l, Line::JobLog { line, .. } if line == "Running: terraform init -input=false"),
            "{l:?}"
        );
        let l = classify(
            &format!(
                "T [INFO]  provider.terraform-provider-galley: Terraform will perform the following actions:: @module=provider.galley job={JOB} operation=APPLY @caller=galley_provider::remote::job"
            ),
            false,
        );
        assert!(
            matches!(&l, Line::JobLog { line, operation, .. } if line == "Terraform will perform the following actions:" && operation == "APPLY"),
            "{l:?}"
        );
        let l = classify(
            &format!(
                "T [INFO]  provider.terraform-provider-galley: @caller=galley_provider::remote::job @module=provider.galley job={JOB} operation=PLAN timestamp=x"
            ),
            false,
        );
        assert!(
            matches!(&l, Line::JobLog { line, .. } if line.is_empty()),
            "{l:?}"
        );
    }

    #[test]
    fn job_events() {
        let l = classify(
            &format!(
                "T [INFO]  provider.terraform-provider-galley: job started: @module=provider.galley job={JOB} operation=PLAN stack={STACK} @caller=galley_provider::resources::galley_session timestamp=x"
            ),
            false,
        );
        assert_eq!(
            l,
            Line::Job {
                job_id: JOB.into(),
                operation: Some("PLAN".into()),
                event: JobEvent::Started,
                stack_id: Some(STACK.into())
            }
        );
        let l = classify(
            &format!(
                "T [INFO]  provider.terraform-provider-galley: job followed: stats=\"FollowStats {{ status_calls: 1, log_calls: 1 }}\" @caller=galley_provider::resources::galley_session @module=provider.galley job={JOB} state=SUCCEEDED timestamp=x"
            ),
            false,
        );
        assert!(
            matches!(&l, Line::Job { event: JobEvent::Followed(Some(s)), .. } if s == "SUCCEEDED"),
            "{l:?}"
        );
        let l = classify(
            &format!(
                "T [INFO]  provider.terraform-provider-galley: cancelling the Resource Manager job: @module=provider.galley job={JOB} reason=Interrupted @caller=galley_provider::remote::job"
            ),
            false,
        );
        assert!(
            matches!(
                &l,
                Line::Job {
                    event: JobEvent::Cancelling,
                    ..
                }
            ),
            "{l:?}"
        );
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
    }

    #[test]
    fn quoted_values_unescape() {
        let (m, f) =
            split_fields(r#"creating: @module=provider.galley compartment="Some(\"c\")" x=1"#);
        assert_eq!(m, "creating");
        assert_eq!(f["compartment"], "Some(\"c\")");
        assert_eq!(f["x"], "1");
        let (m, f) = split_fields("no fields: here");
        assert_eq!(m, "no fields: here");
        assert!(f.is_empty());
    }
}
