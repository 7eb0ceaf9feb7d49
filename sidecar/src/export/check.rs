//! The load check every export passes before anything is written: the generated files are parsed
//! with a real HCL parser (`hcl-edit`) and checked for what makes Terraform refuse a
//! configuration when it loads it, before any provider is involved: syntax, block shapes and
//! names, a name declared twice (resources of one type, data sources, variables, outputs), an
//! attribute set twice in one body, a variable default that is not a literal, and a reference to
//! a variable, resource or data source that is not declared. The generator is written to never
//! produce these; this check is what makes "export succeeded" mean "Terraform loads it".

use std::collections::{HashMap, HashSet};

use hcl_edit::expr::{Expression, TraversalOperator, UnaryOperator};
use hcl_edit::structure::{Block, BlockLabel, Body, Structure};
use hcl_edit::visit::{Visit, visit_expr};

use super::{ExportError, ExportedFile};

fn problem(file: &str, problem: String) -> ExportError {
    ExportError::DoesNotLoad {
        file: file.to_string(),
        problem,
    }
}

fn label(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::Ident(i) => i.as_str(),
        BlockLabel::String(s) => s.as_str(),
    }
}

/// Terraform's rule for the names of resources, variables, outputs: a letter or `_`, then
/// letters, digits, `_` and `-`.
fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A value Terraform can take without evaluating anything: what a variable default and a
/// `.tfvars` value must be.
fn is_literal(e: &Expression) -> bool {
    match e {
        Expression::Null(_)
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_) => true,
        Expression::UnaryOp(op) => {
            *op.operator.value() == UnaryOperator::Neg && matches!(op.expr, Expression::Number(_))
        }
        Expression::Array(a) => a.iter().all(is_literal),
        Expression::Object(o) => o.iter().all(|(_, v)| is_literal(v.expr())),
        Expression::Parenthesis(p) => is_literal(p.inner()),
        _ => false,
    }
}

/// Every traversal root and the names after it (`var.x` -> ["var", "x"]).
#[derive(Default)]
struct References(Vec<Vec<String>>);

impl Visit for References {
    fn visit_expr(&mut self, e: &Expression) {
        match e {
            Expression::Traversal(t) => {
                if let Expression::Variable(root) = &t.expr {
                    let mut path = vec![root.as_str().to_string()];
                    for op in &t.operators {
                        match op.value() {
                            TraversalOperator::GetAttr(name) => {
                                path.push(name.as_str().to_string())
                            }
                            TraversalOperator::Index(i) => self.visit_expr(i),
                            _ => break,
                        }
                    }
                    self.0.push(path);
                    return;
                }
                visit_expr(self, e)
            }
            Expression::Variable(v) => self.0.push(vec![v.as_str().to_string()]),
            _ => visit_expr(self, e),
        }
    }
}

/// Attribute names set twice in one body (any depth).
fn duplicate_attribute(body: &Body) -> Option<String> {
    let mut seen = HashSet::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                if !seen.insert(a.key.as_str()) {
                    return Some(a.key.as_str().to_string());
                }
            }
            Structure::Block(b) => {
                if let Some(d) = duplicate_attribute(&b.body) {
                    return Some(d);
                }
            }
        }
    }
    None
}

#[derive(Default)]
struct Declarations {
    resources: HashSet<(String, String)>,
    data: HashSet<(String, String)>,
    variables: HashSet<String>,
    outputs: HashSet<String>,
}

/// Expected labels of each top-level block type, and whether its labels name something.
fn declare(file: &str, b: &Block, decls: &mut Declarations) -> Result<(), ExportError> {
    let kind = b.ident.as_str();
    let labels: Vec<&str> = b.labels.iter().map(label).collect();
    let want = match kind {
        "resource" | "data" => 2,
        "variable" | "output" | "provider" => 1,
        "terraform" | "locals" => 0,
        other => return Err(problem(file, format!("unknown top-level block {other:?}"))),
    };
    if labels.len() != want {
        return Err(problem(
            file,
            format!("a {kind} block needs {want} label(s), has {}", labels.len()),
        ));
    }
    if kind != "provider" && labels.iter().any(|l| !valid_name(l)) {
        return Err(problem(
            file,
            format!("{kind} {labels:?} is not a valid Terraform name"),
        ));
    }
    let fresh = match kind {
        "resource" => decls
            .resources
            .insert((labels[0].to_string(), labels[1].to_string())),
        "data" => decls
            .data
            .insert((labels[0].to_string(), labels[1].to_string())),
        "variable" => decls.variables.insert(labels[0].to_string()),
        "output" => decls.outputs.insert(labels[0].to_string()),
        _ => true,
    };
    if !fresh {
        return Err(problem(
            file,
            format!("{kind} {} is declared twice", labels.join(".")),
        ));
    }
    if kind == "variable"
        && let Some(default) = b.body.get_attribute("default")
        && !is_literal(&default.value)
    {
        return Err(problem(
            file,
            format!(
                "the default of variable {} is not a literal value",
                labels[0]
            ),
        ));
    }
    Ok(())
}

/// Checks that `files` load as one Terraform configuration (`.tf` files) and that the example
/// `.tfvars` holds only literal values.
pub fn loads(files: &[ExportedFile]) -> Result<(), ExportError> {
    let mut decls = Declarations::default();
    let mut refs: Vec<(&str, Vec<String>)> = Vec::new();
    for f in files {
        let body = hcl_edit::parser::parse_body(&f.content)
            .map_err(|e| problem(&f.path, format!("it does not parse: {e}")))?;
        if let Some(attr) = duplicate_attribute(&body) {
            return Err(problem(&f.path, format!("attribute {attr:?} is set twice")));
        }
        if f.path.ends_with(".tfvars") || f.path.ends_with(".tfvars.example") {
            for s in body.iter() {
                match s {
                    Structure::Attribute(a) if is_literal(&a.value) => {}
                    Structure::Attribute(a) => {
                        return Err(problem(
                            &f.path,
                            format!("the value of {} is not a literal", a.key.as_str()),
                        ));
                    }
                    Structure::Block(_) => {
                        return Err(problem(&f.path, "a variables file has no blocks".into()));
                    }
                }
            }
            continue;
        }
        for s in body.iter() {
            let Structure::Block(b) = s else {
                return Err(problem(
                    &f.path,
                    "an attribute outside any block".to_string(),
                ));
            };
            declare(&f.path, b, &mut decls)?;
            // A variable's `type` is a type expression and its default a literal (checked in
            // `declare`): neither refers to anything.
            if b.ident.as_str() != "variable" {
                let mut r = References::default();
                r.visit_body(&b.body);
                refs.extend(r.0.into_iter().map(|p| (f.path.as_str(), p)));
            }
        }
    }
    let resource_names: HashMap<&str, HashSet<&str>> =
        decls
            .resources
            .iter()
            .fold(HashMap::new(), |mut m, (t, n)| {
                m.entry(t.as_str()).or_default().insert(n.as_str());
                m
            });
    for (file, path) in refs {
        let name = |i: usize| path.get(i).map(String::as_str).unwrap_or("");
        let ok = match name(0) {
            "var" => decls.variables.contains(name(1)),
            "data" => decls
                .data
                .contains(&(name(1).to_string(), name(2).to_string())),
            // Terraform's own roots; `path.module` is the only one the runner's module uses.
            "path" | "terraform" | "count" | "each" | "self" | "local" => true,
            t => resource_names
                .get(t)
                .is_some_and(|names| names.contains(name(1))),
        };
        if !ok {
            return Err(problem(
                file,
                format!("the reference {} names nothing declared", path.join(".")),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(main: &str) -> Vec<ExportedFile> {
        vec![ExportedFile {
            path: "main.tf".into(),
            content: main.into(),
        }]
    }

    fn refused(main: &str) -> String {
        match loads(&files(main)) {
            Err(ExportError::DoesNotLoad { problem, .. }) => problem,
            other => panic!("accepted {main:?}: {other:?}"),
        }
    }

    #[test]
    fn what_terraform_refuses_to_load_is_refused() {
        assert!(refused("variable \"n\" {\n  default = +5\n}\n").contains("does not parse"));
        assert!(refused("variable \"n\" {\n  default = .5\n}\n").contains("does not parse"));
        assert!(
            refused("resource \"a_b\" \"x\" {}\nresource \"a_b\" \"x\" {}\n")
                .contains("declared twice")
        );
        assert!(refused("variable \"v\" {}\nvariable \"v\" {}\n").contains("declared twice"));
        assert!(refused("output \"o\" {\n  value = var.nope\n}\n").contains("var.nope"));
        assert!(refused("output \"o\" {\n  value = a_b.missing.id\n}\n").contains("a_b.missing"));
        assert!(
            refused("variable \"v\" {\n  default = var.w\n}\nvariable \"w\" {}\n")
                .contains("not a literal")
        );
        let twice = refused("resource \"a_b\" \"x\" {\n  n = 1\n  n = 2\n}\n");
        assert!(
            twice.contains("set twice") || twice.contains("redefined"),
            "{twice}"
        );
        assert!(refused("resource \"a_b\" \"1x\" {}\n").contains("not a valid"));
    }

    #[test]
    fn a_consistent_configuration_loads() {
        loads(&files(
            "variable \"n\" {\n  type    = number\n  default = -5\n}\nresource \"a_b\" \"x\" {\n  size = var.n\n  list = [data.c_d.y.ids[0]]\n}\ndata \"c_d\" \"y\" {}\noutput \"o\" {\n  value = a_b.x.id\n}\n",
        ))
        .expect("loads");
    }
}
