//! Parsing of what Terraform prints as text (with `-no-color`), which is what a Resource Manager
//! job's log holds: change summaries, and error diagnostics with file and line.

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

/// Which Terraform reported an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The Resource Manager job running the session's stack: `file` is a stack file, relative
    /// to the stack directory (what `update_terraform_file` takes).
    Stack,
    /// The sidecar's own Terraform run (the Galley provider, Resource Manager access).
    Runner,
}

/// An error Terraform reported, with its location when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Diagnostic {
    pub summary: String,
    pub detail: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub origin: Origin,
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
                origin: Origin::Stack,
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
        assert_eq!(errs[0].origin, Origin::Stack);
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
}
