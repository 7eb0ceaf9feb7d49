//! `validate_architecture`'s rule engine. Rules are data: YAML files shipped in `rules/` (embedded
//! in the binary) or read from a directory that replaces them. This module owns the rule format,
//! loading, and evaluation; it never changes an architecture.

use std::collections::HashMap;
use std::path::Path;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{self, Placement};
use crate::echo;
use crate::export::{self, label_for};
use crate::model::{Architecture, Component};

/// The rule files shipped with the sidecar.
const EMBEDDED: &[(&str, &str)] = &[
    ("connections.yml", include_str!("../rules/connections.yml")),
    ("placement.yml", include_str!("../rules/placement.yml")),
    ("naming.yml", include_str!("../rules/naming.yml")),
];

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("failed to read rules from {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse rule file {file}: {source}")]
    Parse {
        file: String,
        #[source]
        source: serde_norway::Error,
    },
    #[error("rule {id} in {file} is invalid: {reason}")]
    Invalid {
        file: String,
        id: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A service type, a list of them, or `*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Services {
    One(String),
    Many(Vec<String>),
}

impl Services {
    fn matches(&self, t: &str) -> bool {
        match self {
            Services::One(s) => s == "*" || s == t,
            Services::Many(v) => v.iter().any(|s| s == "*" || s == t),
        }
    }
    fn names(&self) -> Vec<&str> {
        match self {
            Services::One(s) => vec![s.as_str()],
            Services::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    source_service: Services,
    #[serde(default)]
    target_service: Option<Services>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Requirement {
    connected_to: Option<String>,
    min: Option<usize>,
    max: Option<usize>,
    same_vcn: Option<bool>,
    subnet_public: Option<bool>,
    name_pattern: Option<String>,
    max_length: Option<usize>,
    unique_names: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    description: String,
    severity: Severity,
    condition: Condition,
    requirement: Requirement,
    #[serde(default)]
    recommendation: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RawRule>,
}

#[derive(Debug, Clone)]
struct Rule {
    raw: RawRule,
    pattern: Option<Regex>,
}

/// One problem found.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    /// Components the finding is about.
    pub component_ids: Vec<String>,
    pub message: String,
    pub recommendation: String,
}

/// The result of validating an architecture.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ValidationReport {
    /// True when there is no error (warnings allowed).
    pub valid: bool,
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
    pub rules_checked: usize,
}

/// A loaded, checked set of rules.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// The rules shipped in the binary.
    pub fn embedded() -> Result<Self, RulesError> {
        Self::from_sources(EMBEDDED.iter().map(|(f, s)| (f.to_string(), s.to_string())))
    }

    /// Every `*.yml` / `*.yaml` file of `dir`, in name order; replaces the embedded rules.
    pub fn from_dir(dir: &Path) -> Result<Self, RulesError> {
        let read_err = |source| RulesError::Read {
            path: dir.display().to_string(),
            source,
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
            .collect();
        files.sort();
        let mut sources = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| RulesError::Read {
                path: f.display().to_string(),
                source,
            })?;
            sources.push((f.display().to_string(), text));
        }
        Self::from_sources(sources.into_iter())
    }

    fn from_sources(sources: impl Iterator<Item = (String, String)>) -> Result<Self, RulesError> {
        let known: Vec<&str> = catalog::service_types()
            .iter()
            .map(|t| t.service_type)
            .collect();
        let mut rules = Vec::new();
        for (file, text) in sources {
            let parsed: RuleFile =
                serde_norway::from_str(&text).map_err(|source| RulesError::Parse {
                    file: file.clone(),
                    source,
                })?;
            for raw in parsed.rules {
                let invalid = |reason: String| RulesError::Invalid {
                    file: file.clone(),
                    id: raw.id.clone(),
                    reason,
                };
                let mut services = raw.condition.source_service.names();
                if let Some(t) = &raw.condition.target_service {
                    services.extend(t.names());
                }
                if let Some(t) = &raw.requirement.connected_to {
                    services.push(t);
                }
                if let Some(bad) = services.iter().find(|s| **s != "*" && !known.contains(s)) {
                    return Err(invalid(catalog::unknown_type_message(bad)));
                }
                let pattern = match &raw.requirement.name_pattern {
                    Some(p) => {
                        Some(Regex::new(p).map_err(|e| invalid(format!("bad name_pattern: {e}")))?)
                    }
                    None => None,
                };
                let r = &raw.requirement;
                let kinds = [
                    r.connected_to.is_some(),
                    r.same_vcn.is_some(),
                    r.subnet_public.is_some(),
                    r.name_pattern.is_some() || r.max_length.is_some(),
                    r.unique_names.is_some(),
                ];
                if !kinds.iter().any(|k| *k) {
                    return Err(invalid("the requirement checks nothing".into()));
                }
                rules.push(Rule { raw, pattern });
            }
        }
        Ok(RuleSet { rules })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Evaluates every rule, plus the structural checks no rule file can switch off (known
    /// service types, connections between existing components, Terraform names that would
    /// collide in the export).
    pub fn validate(&self, arch: &Architecture) -> ValidationReport {
        let mut findings = structural(arch);
        for rule in &self.rules {
            evaluate(rule, arch, &mut findings);
        }
        let (errors, warnings): (Vec<_>, Vec<_>) = findings
            .into_iter()
            .partition(|f| f.severity == Severity::Error);
        ValidationReport {
            valid: errors.is_empty(),
            errors,
            warnings,
            rules_checked: self.rules.len(),
        }
    }
}

fn structural(arch: &Architecture) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &arch.components {
        if catalog::find(&c.service_type).is_none() {
            out.push(Finding {
                rule_id: "known-service-type".into(),
                severity: Severity::Error,
                component_ids: vec![c.id.clone()],
                message: catalog::unknown_type_message(&c.service_type),
                recommendation: "Change the component's service_type to a known one.".into(),
            });
        }
    }
    for conn in &arch.connections {
        for end in [&conn.source_id, &conn.target_id] {
            if arch.component(end).is_none() {
                out.push(Finding {
                    rule_id: "connection-ends-exist".into(),
                    severity: Severity::Error,
                    component_ids: vec![end.clone()],
                    message: format!(
                        "connection {} -> {} names component {end:?}, which does not exist",
                        conn.source_id, conn.target_id
                    ),
                    recommendation: "Remove the connection or add the component.".into(),
                });
            }
        }
    }
    // Distinct display names can still become one Terraform name once labels and suffixes are
    // joined; Terraform would refuse the export, so this is an error whatever the rule files say.
    for collision in export::name_collisions(arch) {
        out.push(Finding {
            rule_id: "terraform-names-unique".into(),
            severity: Severity::Error,
            component_ids: collision.component_ids(),
            message: collision.to_string(),
            recommendation: "Rename one of the components (configure_component with a display_name that differs in more than spaces, `-` and `_`).".into(),
        });
    }
    out
}

/// The VCN a component sits in, when it can be worked out from its connections.
fn vcn_of<'a>(arch: &'a Architecture, c: &'a Component) -> Option<&'a str> {
    let placement = catalog::find(&c.service_type)?.placement;
    match placement {
        Placement::Network => Some(c.id.as_str()),
        Placement::InVcn => arch
            .neighbours_of_type(&c.id, "vcn")
            .next()
            .map(|v| v.id.as_str()),
        Placement::InSubnet | Placement::OptionalSubnet => {
            let subnet = arch.neighbours_of_type(&c.id, "subnet").next()?;
            arch.neighbours_of_type(&subnet.id, "vcn")
                .next()
                .map(|v| v.id.as_str())
        }
        Placement::Regional => None,
    }
}

fn finding(rule: &Rule, ids: Vec<String>, message: String) -> Finding {
    Finding {
        rule_id: rule.raw.id.clone(),
        severity: rule.raw.severity,
        component_ids: ids,
        message,
        recommendation: rule.raw.recommendation.clone(),
    }
}

fn evaluate(rule: &Rule, arch: &Architecture, out: &mut Vec<Finding>) {
    let cond = &rule.raw.condition;
    let req = &rule.raw.requirement;
    let sources: Vec<&Component> = arch
        .components
        .iter()
        .filter(|c| cond.source_service.matches(&c.service_type))
        .collect();

    if let Some(target) = &req.connected_to {
        let min = req.min.unwrap_or(1);
        for c in &sources {
            let n = arch.neighbours_of_type(&c.id, target).count();
            if n < min {
                out.push(finding(
                    rule,
                    vec![c.id.clone()],
                    format!(
                        "{} ({}) is connected to {n} {target}, needs at least {min}: {}",
                        c.id, c.service_type, rule.raw.description
                    ),
                ));
            }
            if let Some(max) = req.max
                && n > max
            {
                out.push(finding(
                    rule,
                    vec![c.id.clone()],
                    format!(
                        "{} ({}) is connected to {n} {target}, at most {max} allowed: {}",
                        c.id, c.service_type, rule.raw.description
                    ),
                ));
            }
        }
    }

    if req.same_vcn == Some(true) {
        for conn in &arch.connections {
            let (Some(a), Some(b)) = (
                arch.component(&conn.source_id),
                arch.component(&conn.target_id),
            ) else {
                continue;
            };
            let target = cond.target_service.as_ref();
            let pair_matches = |x: &Component, y: &Component| {
                cond.source_service.matches(&x.service_type)
                    && target.is_none_or(|t| t.matches(&y.service_type))
            };
            if !(pair_matches(a, b) || pair_matches(b, a)) {
                continue;
            }
            if let (Some(va), Some(vb)) = (vcn_of(arch, a), vcn_of(arch, b))
                && va != vb
            {
                out.push(finding(
                    rule,
                    vec![a.id.clone(), b.id.clone()],
                    format!(
                        "{} is in VCN {va} but connected {} is in VCN {vb}",
                        a.id, b.id
                    ),
                ));
            }
        }
    }

    if let Some(want) = req.subnet_public {
        for c in &sources {
            for s in arch.neighbours_of_type(&c.id, "subnet") {
                let public = s
                    .config
                    .get("public")
                    .and_then(|v| v.as_bool().or_else(|| v.as_str().map(|s| s == "true")))
                    .unwrap_or(false);
                if public != want {
                    let kind = if public { "public" } else { "private" };
                    out.push(finding(
                        rule,
                        vec![c.id.clone(), s.id.clone()],
                        format!(
                            "{} ({}) is in {kind} subnet {}: {}",
                            c.id, c.service_type, s.id, rule.raw.description
                        ),
                    ));
                }
            }
        }
    }

    if rule.pattern.is_some() || req.max_length.is_some() {
        for c in &sources {
            if let Some(p) = &rule.pattern
                && !p.is_match(&c.display_name)
            {
                out.push(finding(
                    rule,
                    vec![c.id.clone()],
                    format!(
                        "display name {} of {} does not match {}: {}",
                        echo::quoted(&c.display_name),
                        c.id,
                        p.as_str(),
                        rule.raw.description
                    ),
                ));
            }
            if let Some(max) = req.max_length
                && c.display_name.chars().count() > max
            {
                out.push(finding(
                    rule,
                    vec![c.id.clone()],
                    format!(
                        "display name {} of {} is longer than {max} characters: {}",
                        echo::quoted(&c.display_name),
                        c.id,
                        rule.raw.description
                    ),
                ));
            }
        }
    }

    if req.unique_names == Some(true) {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for c in &sources {
            let key = label_for(&c.display_name);
            if let Some(first) = seen.get(&key) {
                out.push(finding(
                    rule,
                    vec![first.to_string(), c.id.clone()],
                    format!(
                        "{} and {} both have the name {}",
                        first,
                        c.id,
                        echo::quoted(&c.display_name)
                    ),
                ));
            } else {
                seen.insert(key, &c.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Connection;
    use serde_json::json;

    fn comp(id: &str, t: &str) -> Component {
        Component {
            id: id.into(),
            service_type: t.into(),
            display_name: id.into(),
            config: Default::default(),
        }
    }
    fn conn(a: &str, b: &str) -> Connection {
        Connection {
            source_id: a.into(),
            target_id: b.into(),
            connection_type: "network".into(),
            description: String::new(),
        }
    }
    fn ids(r: &ValidationReport, rule: &str) -> Vec<Vec<String>> {
        r.errors
            .iter()
            .chain(&r.warnings)
            .filter(|f| f.rule_id == rule)
            .map(|f| f.component_ids.clone())
            .collect()
    }

    #[test]
    fn shipped_rules_load() {
        let rules = RuleSet::embedded().expect("shipped rules parse");
        assert!(rules.len() >= 10);
    }

    #[test]
    fn compute_without_subnet_is_an_error() {
        let rules = RuleSet::embedded().unwrap();
        let arch = Architecture {
            components: vec![comp("web", "compute")],
            connections: vec![],
        };
        let r = rules.validate(&arch);
        assert!(!r.valid);
        assert_eq!(
            ids(&r, "compute-needs-subnet"),
            vec![vec!["web".to_string()]]
        );
    }

    #[test]
    fn connected_components_in_different_vcns_are_an_error() {
        let rules = RuleSet::embedded().unwrap();
        let arch = Architecture {
            components: vec![
                comp("v1", "vcn"),
                comp("v2", "vcn"),
                comp("s1", "subnet"),
                comp("s2", "subnet"),
                comp("lb", "loadbalancer"),
                comp("vm", "compute"),
            ],
            connections: vec![
                conn("s1", "v1"),
                conn("s2", "v2"),
                conn("lb", "s1"),
                conn("vm", "s2"),
                conn("lb", "vm"),
            ],
        };
        let r = rules.validate(&arch);
        assert_eq!(
            ids(&r, "same-vcn"),
            vec![vec!["lb".to_string(), "vm".to_string()]]
        );
        // The same design with both in one VCN passes that rule.
        let mut ok = arch.clone();
        ok.connections[1] = conn("s2", "v1");
        assert!(ids(&rules.validate(&ok), "same-vcn").is_empty());
    }

    #[test]
    fn naming_and_placement_rules_fire() {
        let rules = RuleSet::embedded().unwrap();
        let mut bad = comp("x", "objectstorage");
        bad.display_name = "1 bad/name".into();
        let mut dup = comp("y", "objectstorage");
        dup.display_name = "Logs".into();
        let mut dup2 = comp("z", "nosql");
        dup2.display_name = "logs".into();
        let mut db = comp("db", "adb");
        db.display_name = "db".into();
        let mut public = comp("pub", "subnet");
        public.config.insert("public".into(), json!(true));
        let arch = Architecture {
            components: vec![bad, dup, dup2, db, public, comp("v", "vcn")],
            connections: vec![conn("db", "pub"), conn("pub", "v")],
        };
        let r = rules.validate(&arch);
        assert_eq!(ids(&r, "display-name-format"), vec![vec!["x".to_string()]]);
        assert_eq!(
            ids(&r, "display-name-unique"),
            vec![vec!["y".to_string(), "z".to_string()]]
        );
        assert_eq!(
            ids(&r, "data-private-subnet"),
            vec![vec!["db".to_string(), "pub".to_string()]]
        );
    }

    #[test]
    fn a_rules_directory_replaces_the_shipped_rules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("only.yml"), "rules:\n  - id: bucket-needs-nosql\n    description: d\n    severity: warning\n    condition: {source_service: objectstorage}\n    requirement: {connected_to: nosql}\n").unwrap();
        let rules = RuleSet::from_dir(dir.path()).unwrap();
        assert_eq!(rules.len(), 1);
        let r = rules.validate(&Architecture {
            components: vec![comp("b", "objectstorage")],
            connections: vec![],
        });
        assert!(r.valid);
        assert_eq!(ids(&r, "bucket-needs-nosql").len(), 1);
        std::fs::write(dir.path().join("bad.yml"), "rules:\n  - id: x\n    description: d\n    severity: error\n    condition: {source_service: mainframe}\n    requirement: {connected_to: vcn}\n").unwrap();
        let err = RuleSet::from_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("mainframe") && err.contains("known service types"),
            "{err}"
        );
    }
}
