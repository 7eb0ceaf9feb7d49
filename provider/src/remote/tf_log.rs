//! Reading Terraform's console output as Resource Manager jobs log it: the plan summary, the
//! `Error:` entries with their `on FILE line N` location, the lines that announce the end of a
//! run, and the last lines for messages.
//!
//! Terraform frames diagnostics with box-drawing characters (`╷`, `│`, `╵`) even without
//! colour; they are stripped before matching.

use std::collections::VecDeque;

/// `Plan: N to add, N to change, N to destroy.` (or `No changes.`) as numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanSummary {
    pub add: u64,
    pub change: u64,
    pub destroy: u64,
}

/// A line without Terraform's diagnostic frame and surrounding spaces.
pub fn unframed(line: &str) -> &str {
    line.trim().trim_start_matches(['│', '╷', '╵']).trim()
}

/// The plan summary of a plan's output: the last `Plan:` line, or zeros after `No changes.`.
pub fn plan_summary<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<PlanSummary> {
    let mut found = None;
    for line in lines {
        let line = unframed(line);
        if line.starts_with("No changes.") {
            found = Some(PlanSummary::default());
        } else if let Some(rest) = line.strip_prefix("Plan:") {
            // "Plan: 1 to import, 2 to add, 0 to change, 0 to destroy."
            let rest = rest.trim().trim_end_matches('.');
            let count = |what: &str| {
                rest.split(',')
                    .find_map(|part| part.trim().strip_suffix(what)?.trim().parse::<u64>().ok())
            };
            if let (Some(add), Some(change), Some(destroy)) =
                (count("to add"), count("to change"), count("to destroy"))
            {
                found = Some(PlanSummary {
                    add,
                    change,
                    destroy,
                });
            }
        }
    }
    found
}

/// Each `Error:` of the output with the `on FILE line N, ...` line that follows it, if any:
/// `Error: Unsupported argument (on main.tf line 3, in resource "x" "y":)`.
pub fn errors<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let lines: Vec<&str> = lines.into_iter().map(unframed).collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with("Error:") {
            continue;
        }
        let location = lines
            .iter()
            .skip(i + 1)
            .take(4)
            .take_while(|l| !l.starts_with("Error:"))
            .find(|l| l.starts_with("on ") && l.contains(" line "));
        let entry = match location {
            Some(on) => format!("{line} ({on})"),
            None => (*line).to_owned(),
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// Whether a line announces that the run is ending: Terraform's closing summaries, an error,
/// or the job runner's own last words. Used to ask for the job's status at once instead of
/// waiting for the next scheduled poll.
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

/// The last `capacity` lines seen.
#[derive(Clone, Debug)]
pub struct LineTail {
    capacity: usize,
    lines: VecDeque<String>,
}

impl LineTail {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            lines: VecDeque::with_capacity(capacity),
        }
    }

    pub fn push(&mut self, line: &str) {
        if self.capacity == 0 {
            return;
        }
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line.trim_end().to_owned());
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }

    /// The lines joined with newlines.
    pub fn text(&self) -> String {
        self.lines().collect::<Vec<_>>().join("\n")
    }
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> String {
    let mut tail = LineTail::new(n);
    for line in text.lines() {
        tail.push(line);
    }
    tail.text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_summaries_are_parsed_from_plan_and_no_changes_lines() {
        let out = "Terraform will perform the following actions:\n\
                   Plan: 2 to add, 1 to change, 0 to destroy.\n\
                   Saved the plan to: /x/plan.tfplan";
        assert_eq!(
            plan_summary(out.lines()),
            Some(PlanSummary {
                add: 2,
                change: 1,
                destroy: 0
            })
        );
        let imports = "Plan: 1 to import, 3 to add, 0 to change, 4 to destroy.";
        assert_eq!(
            plan_summary(imports.lines()),
            Some(PlanSummary {
                add: 3,
                change: 0,
                destroy: 4
            })
        );
        let none = "No changes. Your infrastructure matches the configuration.";
        assert_eq!(plan_summary(none.lines()), Some(PlanSummary::default()));
        assert_eq!(plan_summary("Initializing...".lines()), None);
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
        assert_eq!(
            errors(out.lines()),
            vec![
                "Error: Reference to undeclared input variable (on main.tf line 3, in output \"x\":)"
                    .to_string(),
                "Error: Backend initialization required".to_string(),
            ]
        );
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

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(last_lines("a\nb\nc\nd", 2), "c\nd");
        assert_eq!(last_lines("a", 5), "a");
        assert_eq!(last_lines("", 5), "");
    }
}
