//! Diagnostics: what Terraform shows a user when something is wrong or worth a warning.
//!
//! This module owns the diagnostic model and its tfplugin5 encoding. Resources build
//! diagnostics with a summary, a detail that says what to do next, and the attribute they are
//! about; the RPC layer only converts.

use galley_proto::tfplugin5 as pb;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One step of an attribute path: `resources_file`, `endpoints[0]`, `variables["x"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Attr(String),
    Index(i64),
    Key(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Vec<PathStep>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: Vec::new(),
        }
    }

    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(summary, detail)
        }
    }

    /// Points the diagnostic at a top-level attribute.
    pub fn at(mut self, attribute: &str) -> Self {
        self.path = vec![PathStep::Attr(attribute.to_string())];
        self
    }

    pub fn at_path(mut self, path: Vec<PathStep>) -> Self {
        self.path = path;
        self
    }

    pub fn to_proto(&self) -> pb::Diagnostic {
        use pb::attribute_path::step::Selector;
        let steps = self
            .path
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attr(name) => Selector::AttributeName(name.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                }),
            })
            .collect::<Vec<_>>();
        pb::Diagnostic {
            severity: match self.severity {
                Severity::Error => pb::diagnostic::Severity::Error,
                Severity::Warning => pb::diagnostic::Severity::Warning,
            } as i32,
            summary: self.summary.clone(),
            detail: self.detail.clone(),
            attribute: (!steps.is_empty()).then_some(pb::AttributePath { steps }),
        }
    }
}

/// A list of diagnostics with the questions callers ask of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn to_proto(&self) -> Vec<pb::Diagnostic> {
        self.0.iter().map(Diagnostic::to_proto).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Self {
        Diagnostics(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_with_path_encodes_severity_and_steps() {
        let d = Diagnostic::error("Invalid resources file", "fix it").at_path(vec![
            PathStep::Attr("variables".into()),
            PathStep::Key("x".into()),
        ]);
        let pb = d.to_proto();
        assert_eq!(pb.severity, 1);
        let steps = pb.attribute.unwrap().steps;
        assert_eq!(steps.len(), 2);
        assert!(matches!(
            &steps[1].selector,
            Some(pb::attribute_path::step::Selector::ElementKeyString(k)) if k == "x"
        ));
        assert_eq!(Diagnostic::warning("w", "").to_proto().severity, 2);
        assert!(Diagnostic::warning("w", "").to_proto().attribute.is_none());
    }

    #[test]
    fn has_errors_ignores_warnings() {
        let mut ds = Diagnostics::from(Diagnostic::warning("w", ""));
        assert!(!ds.has_errors());
        ds.push(Diagnostic::error("e", ""));
        assert!(ds.has_errors());
    }
}
