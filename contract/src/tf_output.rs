//! Terraform's console output as a Resource Manager job logs it (text, without colour): the
//! resource counts of a plan, an apply or a destroy, the `Error:` entries with their
//! `on FILE line N` location, and the lines that announce the end of a run.
//!
//! The provider is the one reader of job logs: it parses them here and hands the results on as
//! structured job events ([`crate::job_event`]); the sidecar never parses a job's text itself.
//!
//! Terraform frames diagnostics with box-drawing characters (`╷`, `│`, `╵`) even without
//! colour; they are stripped before matching, and a closing `╵` ends an entry.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Resource counts: `Plan: N to add, N to change, N to destroy.`, `No changes.` (all zero), or
/// what an apply or destroy reports it did (`Apply complete! Resources: N added, ...`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PlanSummary {
    pub add: u64,
    pub change: u64,
    pub destroy: u64,
}

/// One `Error:` entry of Terraform's output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TerraformError {
    /// The text after `Error: `.
    pub summary: String,
    /// The explanation lines, joined with spaces (source excerpts left out).
    pub detail: String,
    /// The location line as Terraform wrote it: `on main.tf line 3, in output "x":`.
    pub location: Option<String>,
    /// The file and line of `location`.
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl fmt::Display for TerraformError {
    /// `Error: SUMMARY (on FILE line N, ...)`: one line for a person.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error: {}", self.summary)?;
        if let Some(location) = &self.location {
            write!(f, " ({location})")?;
        }
        Ok(())
    }
}

/// A line without Terraform's diagnostic frame and surrounding spaces.
pub fn unframed(line: &str) -> &str {
    line.trim().trim_start_matches(['│', '╷', '╵']).trim()
}

/// The comma-separated `N what` counts of a summary line: the number before `what`.
fn count(parts: &str, what: &str) -> Option<u64> {
    parts
        .trim()
        .trim_end_matches('.')
        .split(',')
        .find_map(|part| part.trim().strip_suffix(what)?.trim().parse().ok())
}

/// The counts of the last summary line: a plan's `Plan:` line (`No changes.` is all zero), or
/// an apply's or a destroy's `... complete! Resources:` line.
pub fn plan_summary<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<PlanSummary> {
    let mut found = None;
    for line in lines {
        let line = unframed(line);
        if line.starts_with("No changes.") {
            found = Some(PlanSummary::default());
        } else if let Some(rest) = line.strip_prefix("Plan:") {
            // "Plan: 1 to import, 2 to add, 0 to change, 0 to destroy."
            if let (Some(add), Some(change), Some(destroy)) = (
                count(rest, "to add"),
                count(rest, "to change"),
                count(rest, "to destroy"),
            ) {
                found = Some(PlanSummary {
                    add,
                    change,
                    destroy,
                });
            }
        } else if let Some(rest) = line
            .strip_prefix("Apply complete! Resources:")
            .or_else(|| line.strip_prefix("Destroy complete! Resources:"))
        {
            // "Destroy complete! Resources: 4 destroyed." names only what it did.
            if let Some(destroy) = count(rest, "destroyed") {
                found = Some(PlanSummary {
                    add: count(rest, "added").unwrap_or(0),
                    change: count(rest, "changed").unwrap_or(0),
                    destroy,
                });
            }
        }
    }
    found
}

/// `on FILE line N, ...` as the file and the line.
fn location(line: &str) -> Option<(String, u32)> {
    let mut words = line.strip_prefix("on ")?.split_whitespace();
    let file = words.next()?.trim_end_matches(',');
    if words.next()? != "line" {
        return None;
    }
    let n = words.next()?;
    let digits = n.find(|c: char| !c.is_ascii_digit()).unwrap_or(n.len());
    Some((file.to_owned(), n[..digits].parse().ok()?))
}

/// A source excerpt line of a diagnostic (`12:   bogus = 1`).
fn is_excerpt(line: &str) -> bool {
    let digits = line.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    digits > 0 && line[digits..].starts_with(':')
}

/// Every `Error:` entry, with its detail and its `on FILE line N` location; an entry seen twice
/// is kept once. An entry ends at the next `Error:` or `Warning:`, or at its closing frame.
pub fn errors<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<TerraformError> {
    fn keep(out: &mut Vec<TerraformError>, e: Option<TerraformError>) {
        if let Some(e) = e {
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    let mut out = Vec::new();
    let mut current: Option<TerraformError> = None;
    for raw in lines {
        let closes = raw.trim_start().starts_with('╵');
        let line = unframed(raw);
        if let Some(summary) = line.strip_prefix("Error:") {
            keep(&mut out, current.take());
            current = Some(TerraformError {
                summary: summary.trim().to_owned(),
                ..TerraformError::default()
            });
            continue;
        }
        let Some(e) = current.as_mut() else { continue };
        if closes || line.starts_with("Warning:") {
            keep(&mut out, current.take());
            continue;
        }
        if line.is_empty() || is_excerpt(line) || line.starts_with(['├', '└']) {
            continue;
        }
        if e.location.is_none() {
            if let Some((file, n)) = location(line) {
                e.location = Some(line.to_owned());
                e.file = Some(file);
                e.line = Some(n);
                continue;
            }
            // `with aws_instance.x,` names the resource just before the location.
            if e.detail.is_empty() && line.starts_with("with ") {
                continue;
            }
        }
        if !e.detail.is_empty() {
            e.detail.push(' ');
        }
        e.detail.push_str(line);
    }
    keep(&mut out, current);
    out
}

/// Whether a line announces that the run is ending: Terraform's closing summaries, an error,
/// or the job runner's own last words. The provider then asks for the job's status at once
/// instead of waiting for the next scheduled poll.
pub fn announces_end(line: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "Apply complete!",
        "Destroy complete!",
        "No changes.",
        "Plan: ",
        "Error: ",
        "Job succeeded.",
        "Job failed.",
        "Job canceled.",
    ];
    let line = unframed(line);
    ENDINGS.iter().any(|e| line.starts_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_of(text: &str) -> Option<PlanSummary> {
        plan_summary(text.lines())
    }

    fn s(add: u64, change: u64, destroy: u64) -> Option<PlanSummary> {
        Some(PlanSummary {
            add,
            change,
            destroy,
        })
    }

    #[test]
    fn plan_summaries_are_parsed_from_plan_and_no_changes_lines() {
        let out = "Terraform will perform the following actions:\n\
                   Plan: 2 to add, 1 to change, 0 to destroy.\n\
                   Saved the plan to: /x/plan.tfplan";
        assert_eq!(summary_of(out), s(2, 1, 0));
        assert_eq!(
            summary_of("Plan: 1 to import, 3 to add, 0 to change, 4 to destroy."),
            s(3, 0, 4)
        );
        assert_eq!(
            summary_of("x\nPlan: 3 to add, 1 to change, 2 to destroy.\n"),
            s(3, 1, 2)
        );
        assert_eq!(
            summary_of("No changes. Your infrastructure matches the configuration."),
            Some(PlanSummary::default())
        );
        assert_eq!(summary_of("Initializing..."), None);
        assert_eq!(summary_of("nothing"), None);
    }

    #[test]
    fn apply_and_destroy_results_count_too() {
        assert_eq!(
            summary_of("Apply complete! Resources: 1 added, 0 changed, 0 destroyed."),
            s(1, 0, 0)
        );
        assert_eq!(
            summary_of("Apply complete! Resources: 1 imported, 2 added, 1 changed, 0 destroyed."),
            s(2, 1, 0)
        );
        assert_eq!(
            summary_of("Destroy complete! Resources: 4 destroyed."),
            s(0, 0, 4)
        );
        // The last summary wins.
        assert_eq!(
            summary_of("Plan: 1 to add, 0 to change, 0 to destroy.\nNo changes."),
            Some(PlanSummary::default())
        );
    }

    #[test]
    fn errors_come_with_their_location() {
        let out = "╷\n\
                   │ Error: Reference to undeclared input variable\n\
                   │ \n\
                   │   on main.tf line 3, in output \"x\":\n\
                   │    3:   value = var.missing\n\
                   ╵\n\
                   Error: Backend initialization required\n\
                   \n\
                   Some explanation\n";
        let errs = errors(out.lines());
        assert_eq!(
            errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "Error: Reference to undeclared input variable (on main.tf line 3, in output \"x\":)"
                    .to_string(),
                "Error: Backend initialization required".to_string(),
            ]
        );
        assert_eq!(errs[0].file.as_deref(), Some("main.tf"));
        assert_eq!(errs[0].line, Some(3));
        assert_eq!(errs[1].detail, "Some explanation");
    }

    #[test]
    fn errors_with_file_line_and_detail() {
        let out = "\nError: Unsupported argument\n\n  on components.tf line 12, in resource \"oci_core_vcn\" \"main\":\n  12:   bogus = 1\n\nAn argument named \"bogus\" is not expected here.\n\nError: Stack job failed\n\nJob ocid1.ormjob.oc1..abc ended FAILED\n";
        let errs = errors(out.lines());
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
    }

    #[test]
    fn boxed_entries_end_at_their_frame_and_name_their_resource() {
        let out = "╷\n│ Error: creating VCN\n│ \n│   with oci_core_vcn.main,\n│   on main.tf line 3, in resource \"oci_core_vcn\" \"main\":\n│    3: resource \"oci_core_vcn\" \"main\" {\n│ \n│ 400 InvalidParameter\n╵\nJob failed.\n";
        let errs = errors(out.lines());
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].file.as_deref(), Some("main.tf"));
        assert_eq!(errs[0].line, Some(3));
        assert_eq!(errs[0].detail, "400 InvalidParameter");
    }

    #[test]
    fn an_error_repeated_in_the_log_is_kept_once() {
        let once = "Error: boom\n\n  on main.tf line 1:\n";
        let twice = format!("{once}{once}");
        assert_eq!(errors(twice.lines()).len(), 1);
    }

    #[test]
    fn end_announcements() {
        assert!(announces_end(
            "Apply complete! Resources: 1 added, 0 changed, 0 destroyed."
        ));
        assert!(announces_end("│ Error: boom"));
        assert!(announces_end("Job succeeded."));
        assert!(!announces_end("terraform_data.x: Creating..."));
        assert!(!announces_end(
            "Terraform has been successfully initialized!"
        ));
    }
}
