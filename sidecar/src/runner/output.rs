//! Parsing of what the `terraform` CLI prints (with `-no-color`): change summaries, error
//! diagnostics with file and line, and Resource Manager job and stack ids with job states.

use std::sync::LazyLock;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Resource counts of a plan or of a finished apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanSummary {
    pub add: u32,
    pub change: u32,
    pub destroy: u32,
}

/// An error Terraform reported, with its location when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Diagnostic {
    pub summary: String,
    pub detail: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

static PLAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy").expect("static regex")
});
static APPLIED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:Apply|Destroy) complete! Resources: (?:(\d+) added, (\d+) changed, )?(\d+) destroyed",
    )
    .expect("static regex")
});
static LOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^on (\S+) line (\d+)").expect("static regex"));
/// A source excerpt line of a diagnostic (`  12:   bogus = 1`).
static EXCERPT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d+:").expect("static regex"));
static JOB: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ocid1\.ormjob\.[A-Za-z0-9._-]+").expect("static regex"));
static STACK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ocid1\.ormstack\.[A-Za-z0-9._-]+").expect("static regex"));
static STATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(ACCEPTED|IN_PROGRESS|SUCCEEDED|FAILED|CANCELING|CANCELED)\b")
        .expect("static regex")
});

/// Strips the box drawing Terraform puts around diagnostics, and surrounding blanks.
fn clean(line: &str) -> &str {
    line.trim_start_matches(['│', '╷', '╵', ' ']).trim_end()
}

/// The summary line of a plan or apply, if any. "No changes." counts as all zero.
pub fn summary(lines: &[String]) -> Option<PlanSummary> {
    let mut found = None;
    for l in lines {
        if let Some(c) = PLAN.captures(l) {
            found = Some(PlanSummary {
                add: c[1].parse().unwrap_or(0),
                change: c[2].parse().unwrap_or(0),
                destroy: c[3].parse().unwrap_or(0),
            });
        } else if let Some(c) = APPLIED.captures(l) {
            let n = |i: usize| c.get(i).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
            found = Some(PlanSummary {
                add: n(1),
                change: n(2),
                destroy: n(3),
            });
        } else if clean(l).starts_with("No changes.") {
            found = Some(PlanSummary::default());
        }
    }
    found
}

/// Every `Error: ...` diagnostic with its detail and `on FILE line N` location.
pub fn errors(lines: &[String]) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut current: Option<Diagnostic> = None;
    for raw in lines {
        let l = clean(raw);
        if let Some(summary) = l.strip_prefix("Error: ") {
            out.extend(current.take());
            current = Some(Diagnostic {
                summary: summary.to_string(),
                detail: String::new(),
                file: None,
                line: None,
            });
            continue;
        }
        let Some(d) = current.as_mut() else { continue };
        if l.starts_with("Warning: ") {
            out.extend(current.take());
            continue;
        }
        if l.is_empty() || EXCERPT.is_match(l) || l.starts_with(['├', '└']) {
            continue;
        }
        if d.file.is_none()
            && let Some(c) = LOCATION.captures(l)
        {
            d.file = Some(c[1].trim_end_matches(',').to_string());
            d.line = c[2].parse().ok();
            continue;
        }
        if !d.detail.is_empty() {
            d.detail.push(' ');
        }
        d.detail.push_str(l);
    }
    out.extend(current);
    out
}

/// The last Resource Manager job id mentioned.
pub fn job_id(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .rev()
        .find_map(|l| JOB.find(l).map(|m| m.as_str().to_string()))
}

/// The last Resource Manager stack id mentioned.
pub fn stack_id(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .rev()
        .find_map(|l| STACK.find(l).map(|m| m.as_str().to_string()))
}

/// A job state change mentioned on one line (`... ocid1.ormjob... IN_PROGRESS`).
pub fn job_state(line: &str) -> Option<(String, String)> {
    let job = JOB.find(line)?;
    let state = STATE.find(line)?;
    Some((job.as_str().to_string(), state.as_str().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn plan_and_apply_summaries() {
        assert_eq!(
            summary(&lines("x\nPlan: 3 to add, 1 to change, 2 to destroy.\n")),
            Some(PlanSummary {
                add: 3,
                change: 1,
                destroy: 2
            })
        );
        assert_eq!(
            summary(&lines(
                "Apply complete! Resources: 1 added, 0 changed, 0 destroyed."
            )),
            Some(PlanSummary {
                add: 1,
                change: 0,
                destroy: 0
            })
        );
        assert_eq!(
            summary(&lines("Destroy complete! Resources: 4 destroyed.")),
            Some(PlanSummary {
                add: 0,
                change: 0,
                destroy: 4
            })
        );
        assert_eq!(
            summary(&lines(
                "No changes. Your infrastructure matches the configuration."
            )),
            Some(PlanSummary::default())
        );
        assert_eq!(summary(&lines("nothing")), None);
    }

    #[test]
    fn errors_with_file_and_line() {
        let out = lines(
            "\nError: Unsupported argument\n\n  on components.tf line 12, in resource \"oci_core_vcn\" \"main\":\n  12:   bogus = 1\n\nAn argument named \"bogus\" is not expected here.\n\nError: Stack job failed\n\nJob ocid1.ormjob.oc1..abc ended FAILED\n",
        );
        let errs = errors(&out);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].summary, "Unsupported argument");
        assert_eq!(errs[0].file.as_deref(), Some("components.tf"));
        assert_eq!(errs[0].line, Some(12));
        assert!(
            errs[0].detail.contains("not expected here"),
            "{:?}",
            errs[0]
        );
        assert_eq!(errs[1].file, None);
        assert!(errs[1].detail.contains("FAILED"));
        assert_eq!(job_id(&out).as_deref(), Some("ocid1.ormjob.oc1..abc"));
    }

    #[test]
    fn boxed_diagnostics_are_understood() {
        let out = lines(
            "╷\n│ Error: Invalid reference\n│ \n│   on main.tf line 3:\n│    3:   x = foo.bar\n│ \n╵",
        );
        let errs = errors(&out);
        assert_eq!(errs[0].file.as_deref(), Some("main.tf"));
        assert_eq!(errs[0].line, Some(3));
    }

    #[test]
    fn job_states_on_a_line() {
        assert_eq!(
            job_state("galley_session.this: job ocid1.ormjob.oc1.iad.xyz is IN_PROGRESS"),
            Some(("ocid1.ormjob.oc1.iad.xyz".into(), "IN_PROGRESS".into()))
        );
        assert_eq!(job_state("no job here SUCCEEDED"), None);
    }
}
