//! Diagnostics: what Terraform shows a user when something is wrong or worth a warning.
//!
//! This module owns the diagnostic model. Resources build diagnostics with a summary, a detail
//! that says what to do next, and the attribute they are about; the protocol layer
//! (`server::toproto`) encodes them.

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
    fn has_errors_ignores_warnings() {
        let mut ds = Diagnostics::from(Diagnostic::warning("w", ""));
        assert!(!ds.has_errors());
        ds.push(Diagnostic::error("e", ""));
        assert!(ds.has_errors());
    }
}
