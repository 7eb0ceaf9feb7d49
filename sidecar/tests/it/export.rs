//! Every service type's generated Terraform passes `terraform fmt -check` and a parser-level check
//! against the oracle/oci provider schema: resource types and arguments exist, required arguments
//! are set, and every reference resolves to a declared resource, data source or variable and a
//! real attribute.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use galley_sidecar::catalog;
use galley_sidecar::export::{self, ExportError};
use galley_sidecar::model::{Architecture, Component, Connection};
use galley_sidecar::rules::RuleSet;
use hcl::expr::{Expression, TraversalOperator};
use hcl::structure::{Body, Structure};
use serde_json::Value;

use crate::util;

/// The oracle/oci provider schema snapshot in `tests/fixtures/oci-provider-schema.json` (its
/// source is named in `tests/fixtures/README.md`), or the file `GALLEY_OCI_SCHEMA` names.
pub(crate) fn schema() -> Value {
    let path = std::env::var_os("GALLEY_OCI_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci-provider-schema.json")
        });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read the schema snapshot {}: {e}", path.display()));
    serde_json::from_str(&text).expect("parse schema")
}

/// The component of `service_type` from the full fixture, its direct neighbours (a load
/// balancer's backends), and every network component they depend on (transitively), so it can be
/// exported on its own.
fn minimal(service_type: &str) -> Architecture {
    let full = util::full_architecture();
    let start = full
        .components
        .iter()
        .find(|c| c.service_type == service_type)
        .expect("type in fixture");
    let network: HashSet<&str> = [
        "vcn",
        "subnet",
        "internet_gateway",
        "nat_gateway",
        "service_gateway",
        "route_table",
        "security_list",
    ]
    .into();
    let mut keep: BTreeSet<String> = BTreeSet::from([start.id.clone()]);
    let mut todo = vec![start.id.clone()];
    while let Some(id) = todo.pop() {
        for n in full.neighbours(&id) {
            let follow = id == start.id || network.contains(n.service_type.as_str());
            if follow && keep.insert(n.id.clone()) {
                todo.push(n.id.clone());
            }
        }
    }
    Architecture {
        components: full
            .components
            .iter()
            .filter(|c| keep.contains(&c.id))
            .cloned()
            .collect(),
        connections: full
            .connections
            .iter()
            .filter(|c| keep.contains(&c.source_id) && keep.contains(&c.target_id))
            .cloned()
            .collect(),
    }
}

fn write_stack(arch: &Architecture, dir: &Path) {
    let stack = export::export(arch).expect("export");
    for f in stack.files {
        std::fs::write(dir.join(&f.path), f.content).expect("write");
    }
}

pub(crate) fn fmt_check(dir: &Path) {
    let out = Command::new(util::tool("terraform"))
        .args(["fmt", "-check", "-diff", "-recursive"])
        .arg(dir)
        .output()
        .expect("run terraform fmt");
    assert!(
        out.status.success(),
        "terraform fmt -check failed for {}:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What Terraform says loading the configuration in `dir` (`terraform providers` decodes every
/// file, checks the declarations, duplicates included, and the `terraform` block, without
/// needing the provider): (loaded, stdout, stderr).
pub(crate) fn terraform_load(dir: &Path) -> (bool, String, String) {
    let out = Command::new(util::tool("terraform"))
        .arg(format!("-chdir={}", dir.display()))
        .arg("providers")
        .output()
        .expect("run terraform providers");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Terraform itself loads the configuration and finds exactly the oracle/oci provider.
pub(crate) fn terraform_loads(dir: &Path) {
    let (ok, stdout, stderr) = terraform_load(dir);
    assert!(
        ok,
        "terraform could not load {}:\n{stdout}\n{stderr}",
        dir.display()
    );
    assert!(
        stdout.contains("provider[registry.terraform.io/oracle/oci]"),
        "{stdout}"
    );
}

/// Declarations of a parsed configuration.
#[derive(Default)]
pub(crate) struct Decls {
    pub(crate) resources: BTreeMap<(String, String), Body>,
    pub(crate) data: BTreeSet<(String, String)>,
    pub(crate) variables: BTreeSet<String>,
    pub(crate) outputs: BTreeSet<String>,
    /// Names declared more than once (`resource a.b`, `variable x`...), which Terraform refuses.
    pub(crate) duplicates: Vec<String>,
}

fn labels(b: &hcl::structure::Block) -> Vec<String> {
    b.labels.iter().map(|l| l.as_str().to_string()).collect()
}

pub(crate) fn parse_dir(dir: &Path) -> (Decls, Vec<Expression>) {
    let mut decls = Decls::default();
    let mut exprs = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "tf") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let body: Body =
            hcl::parse(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        for s in body.into_iter() {
            let Structure::Block(b) = s else { continue };
            let l = labels(&b);
            let fresh = match (b.identifier.as_str(), l.as_slice()) {
                ("resource", [t, n]) => {
                    collect_exprs(&b.body, &mut exprs);
                    decls
                        .resources
                        .insert((t.clone(), n.clone()), b.body)
                        .is_none()
                }
                ("data", [t, n]) => {
                    collect_exprs(&b.body, &mut exprs);
                    decls.data.insert((t.clone(), n.clone()))
                }
                ("variable", [n]) => decls.variables.insert(n.clone()),
                ("output", [n]) => {
                    collect_exprs(&b.body, &mut exprs);
                    decls.outputs.insert(n.clone())
                }
                ("provider", _) => {
                    collect_exprs(&b.body, &mut exprs);
                    true
                }
                ("terraform", _) => true,
                (other, _) => panic!("unexpected top-level block {other}"),
            };
            if !fresh {
                decls
                    .duplicates
                    .push(format!("{} {}", b.identifier.as_str(), l.join(".")));
            }
        }
    }
    (decls, exprs)
}

fn collect_exprs(body: &Body, out: &mut Vec<Expression>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => out.push(a.expr.clone()),
            Structure::Block(b) => collect_exprs(&b.body, out),
        }
    }
}

/// Every traversal (`root.a.b[0].c`) inside an expression, as root name plus attribute names.
fn traversals(e: &Expression, out: &mut Vec<Vec<String>>) {
    match e {
        Expression::Traversal(t) => {
            if let Expression::Variable(v) = &t.expr {
                let mut path = vec![v.as_str().to_string()];
                for op in &t.operators {
                    match op {
                        TraversalOperator::GetAttr(id) => path.push(id.as_str().to_string()),
                        TraversalOperator::Index(i) => traversals(i, out),
                        _ => {}
                    }
                }
                out.push(path);
            } else {
                traversals(&t.expr, out);
            }
        }
        Expression::Variable(v) => out.push(vec![v.as_str().to_string()]),
        Expression::Array(items) => items.iter().for_each(|i| traversals(i, out)),
        Expression::Object(o) => o.values().for_each(|v| traversals(v, out)),
        Expression::FuncCall(f) => f.args.iter().for_each(|a| traversals(a, out)),
        Expression::Parenthesis(p) => traversals(p, out),
        Expression::Conditional(c) => {
            traversals(&c.cond_expr, out);
            traversals(&c.true_expr, out);
            traversals(&c.false_expr, out);
        }
        Expression::TemplateExpr(_) => panic!("generated HCL should not contain templates: {e:?}"),
        _ => {}
    }
}

/// The arguments every resource block takes besides its schema's.
const META_ARGUMENTS: [&str; 4] = ["count", "for_each", "depends_on", "provider"];

/// Checks a block body against a schema `arguments` map; returns problems.
fn check_body(
    path: &str,
    body: &Body,
    args: &serde_json::Map<String, Value>,
    problems: &mut Vec<String>,
) {
    let mut seen = HashSet::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let k = a.key.as_str();
                seen.insert(k.to_string());
                match args.get(k) {
                    None => problems.push(format!("{path}: argument {k:?} does not exist")),
                    Some(spec) if spec.get("block").is_some() => {
                        problems.push(format!("{path}: {k:?} is a block, written as an argument"))
                    }
                    Some(_) => {}
                }
            }
            Structure::Block(b) => {
                let k = b.identifier.as_str();
                seen.insert(k.to_string());
                match args
                    .get(k)
                    .and_then(|s| s.get("block"))
                    .and_then(Value::as_object)
                {
                    None => problems.push(format!("{path}: block {k:?} does not exist")),
                    Some(inner) => check_body(&format!("{path}.{k}"), &b.body, inner, problems),
                }
            }
        }
    }
    for (k, spec) in args {
        if spec.get("required").and_then(Value::as_bool) == Some(true) && !seen.contains(k) {
            problems.push(format!("{path}: required argument {k:?} is not set"));
        }
    }
}

pub(crate) fn schema_check(dir: &Path, schema: &Value) -> Vec<String> {
    let resources = schema["resources"].as_object().expect("resources");
    let (decls, exprs) = parse_dir(dir);
    let mut problems: Vec<String> = decls
        .duplicates
        .iter()
        .map(|d| format!("{d} is declared twice"))
        .collect();
    for ((t, n), body) in &decls.resources {
        match resources.get(t).and_then(|r| r["arguments"].as_object()) {
            None => problems.push(format!("resource type {t} does not exist in the provider")),
            Some(args) => {
                // Meta-arguments belong to Terraform's language, not to the provider's schema.
                let own: Body = body
                    .iter()
                    .filter(|s| !matches!(s, Structure::Attribute(a) if META_ARGUMENTS.contains(&a.key.as_str())))
                    .cloned()
                    .collect();
                check_body(&format!("{t}.{n}"), &own, args, &mut problems)
            }
        }
    }
    let mut refs = Vec::new();
    for e in &exprs {
        traversals(e, &mut refs);
    }
    for r in refs {
        match r[0].as_str() {
            "var" => {
                if r.get(1).is_none_or(|v| !decls.variables.contains(v)) {
                    problems.push(format!(
                        "reference {} names no declared variable",
                        r.join(".")
                    ));
                }
            }
            "data" => {
                if r.len() < 3 || !decls.data.contains(&(r[1].clone(), r[2].clone())) {
                    problems.push(format!(
                        "reference {} names no declared data source",
                        r.join(".")
                    ));
                }
            }
            t if t.starts_with("oci_") => {
                let (Some(name), Some(attr)) = (r.get(1), r.get(2)) else {
                    problems.push(format!("reference {} is incomplete", r.join(".")));
                    continue;
                };
                if !decls.resources.contains_key(&(t.to_string(), name.clone())) {
                    problems.push(format!(
                        "reference {} names no declared resource",
                        r.join(".")
                    ));
                    continue;
                }
                let spec = &resources[t];
                let known = spec["attributes_approx"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == attr.as_str()))
                    || spec["arguments"].get(attr.as_str()).is_some();
                if !known {
                    problems.push(format!(
                        "reference {}: {t} has no attribute {attr}",
                        r.join(".")
                    ));
                }
            }
            other => problems.push(format!(
                "reference {} has an unknown root {other}",
                r.join(".")
            )),
        }
    }
    problems
}

#[test]
fn every_service_type_exports_fmt_clean_and_schema_valid_terraform() {
    let schema = schema();
    for t in catalog::service_types() {
        let arch = minimal(t.service_type);
        let dir = tempfile::tempdir().expect("tempdir");
        write_stack(&arch, dir.path());
        fmt_check(dir.path());
        terraform_loads(dir.path());
        let problems = schema_check(dir.path(), &schema);
        assert!(problems.is_empty(), "{}: {problems:#?}", t.service_type);
        // The stack declares exactly the resource types the catalog promises for this type.
        let (decls, _) = parse_dir(dir.path());
        for r in &t.terraform_resources {
            assert!(
                decls.resources.keys().any(|(k, _)| k == r),
                "{}: no {r} written",
                t.service_type
            );
        }
    }
}

#[test]
fn the_full_architecture_exports_as_one_consistent_stack() {
    let schema = schema();
    let arch = util::full_architecture();
    let dir = tempfile::tempdir().expect("tempdir");
    write_stack(&arch, dir.path());
    fmt_check(dir.path());
    terraform_loads(dir.path());
    let problems = schema_check(dir.path(), &schema);
    assert!(problems.is_empty(), "{problems:#?}");
    let main = std::fs::read_to_string(dir.path().join("main.tf")).unwrap();
    let provider = main
        .split("provider \"oci\" {")
        .nth(1)
        .expect("provider block");
    let provider_body = provider.split('}').next().unwrap_or_default();
    assert_eq!(
        provider_body.trim(),
        "region = var.region",
        "the provider block sets region only"
    );
    let vars = std::fs::read_to_string(dir.path().join("variables.tf")).unwrap();
    for v in ["tenancy_ocid", "compartment_ocid", "region"] {
        assert!(
            vars.contains(&format!("variable \"{v}\"")),
            "missing variable {v}"
        );
    }
    let components = std::fs::read_to_string(dir.path().join("components.tf")).unwrap();
    // Components refer to each other through real attributes.
    assert!(
        components.contains("vcn_id                     = oci_core_vcn.main_vcn.id"),
        "{components}"
    );
    assert!(components.contains("network_entity_id = oci_core_internet_gateway.igw.id"));
    assert!(components.contains("ip_address       = oci_core_instance.web_1.private_ip"));
    assert!(dir.path().join("terraform.tfvars.example").exists());
}

#[test]
fn a_schema_violation_is_caught_by_the_checker() {
    // Guards the checker itself: misspelt arguments, missing required ones and dangling
    // references must be reported.
    let schema = schema();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("main.tf"),
        "variable \"compartment_ocid\" {}\nresource \"oci_core_subnet\" \"a\" {\n  compartment_id = var.compartment_ocid\n  cidr_blok      = \"10.0.0.0/24\"\n  vcn_id         = oci_core_vcn.missing.id\n  route_table_id = var.nope\n}\n",
    )
    .unwrap();
    let problems = schema_check(dir.path(), &schema).join("\n");
    assert!(
        problems.contains("\"cidr_blok\" does not exist"),
        "{problems}"
    );
    assert!(
        problems.contains("required argument \"cidr_block\""),
        "{problems}"
    );
    assert!(
        problems.contains("oci_core_vcn.missing.id names no declared resource"),
        "{problems}"
    );
    assert!(
        problems.contains("var.nope names no declared variable"),
        "{problems}"
    );
}

#[test]
fn unknown_types_and_missing_dependencies_are_refused() {
    let mut arch = minimal("compute");
    arch.components.push(Component {
        id: "mf".into(),
        service_type: "mainframe".into(),
        display_name: "mf".into(),
        config: Default::default(),
    });
    let err = export::export(&arch).unwrap_err();
    assert_eq!(err, ExportError::UnknownType("mainframe".into()));
    let msg = err.to_string();
    for t in catalog::service_types() {
        assert!(
            msg.contains(t.service_type),
            "{msg} lacks {}",
            t.service_type
        );
    }
    let lonely = Architecture {
        components: vec![Component {
            id: "vm".into(),
            service_type: "compute".into(),
            display_name: "vm".into(),
            config: Default::default(),
        }],
        connections: vec![],
    };
    let err = export::export(&lonely).unwrap_err().to_string();
    assert!(err.contains("needs a connection to a subnet"), "{err}");
}

/// The full fixture plus `extra` components placed like its web tier: instances in the private
/// subnet, load balancers in the public one, OKE clusters in the private one.
fn with_components(extra: &[(&str, &str, &str)], links: &[(&str, &str)]) -> Architecture {
    let mut arch = util::full_architecture();
    for (id, t, name) in extra {
        arch.components.push(Component {
            id: id.to_string(),
            service_type: t.to_string(),
            display_name: name.to_string(),
            config: Default::default(),
        });
        let subnet = if *t == "loadbalancer" { "pub" } else { "priv" };
        arch.connections.push(Connection {
            source_id: id.to_string(),
            target_id: subnet.into(),
            connection_type: "placement".into(),
            description: String::new(),
        });
    }
    for (a, b) in links {
        arch.connections.push(Connection {
            source_id: a.to_string(),
            target_id: b.to_string(),
            connection_type: "network".into(),
            description: String::new(),
        });
    }
    arch
}

/// Exports `arch` into a directory and runs every load check on it: `terraform fmt -check`,
/// Terraform's own loader, and the parser-level check against the provider schema.
fn exported_and_loaded(arch: &Architecture) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_stack(arch, dir.path());
    fmt_check(dir.path());
    terraform_loads(dir.path());
    let problems = schema_check(dir.path(), &schema());
    assert!(problems.is_empty(), "{problems:#?}");
    dir
}

#[test]
fn names_that_collide_only_as_terraform_names_are_refused_at_validation_naming_both() {
    let rules = RuleSet::embedded().expect("rules");
    for (extra, links, name, ids) in [
        (
            // Load balancer `a` with backend `b c`, load balancer `a b` with backend `c`:
            // both would declare oci_load_balancer_backend.a_b_c.
            vec![
                ("lb-a", "loadbalancer", "a"),
                ("vm-bc", "compute", "b c"),
                ("lb-ab", "loadbalancer", "a b"),
                ("vm-c", "compute", "c"),
            ],
            vec![("lb-a", "vm-bc"), ("lb-ab", "vm-c")],
            "oci_load_balancer_backend \"a_b_c\"",
            ["lb-a", "lb-ab"],
        ),
        (
            // OKE `k` declares k_node_shape; so does an instance `k node`.
            vec![("oke-k", "oke", "k"), ("vm-kn", "compute", "k node")],
            vec![],
            "variable \"k_node_shape\"",
            ["oke-k", "vm-kn"],
        ),
    ] {
        let arch = with_components(&extra, &links);
        let report = rules.validate(&arch);
        let rule_ids: BTreeSet<_> = report.errors.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(
            rule_ids,
            BTreeSet::from(["terraform-names-unique"]),
            "distinct display names pass display-name-unique; only the Terraform name collides: {:#?}",
            report.errors
        );
        let finding = &report.errors[0];
        assert_eq!(finding.component_ids, ids);
        assert!(finding.message.contains(name), "{}", finding.message);
        let err = export::export(&arch).unwrap_err().to_string();
        assert!(
            err.contains(name) && err.contains(ids[0]) && err.contains(ids[1]),
            "{err}"
        );
        // Renamed, the same design exports and loads.
        let mut renamed = arch.clone();
        let last = renamed.components.last_mut().unwrap();
        last.display_name = format!("{}-x", last.display_name.replace(' ', "-"));
        assert!(rules.validate(&renamed).valid);
        exported_and_loaded(&renamed);
    }
}

#[test]
fn numbers_in_any_spelling_are_written_as_terraform_numbers_and_load() {
    let mut arch = util::full_architecture();
    let set = |arch: &mut Architecture, id: &str, key: &str, v: serde_json::Value| {
        let c = arch.components.iter_mut().find(|c| c.id == id).unwrap();
        c.config.insert(key.into(), v);
    };
    set(&mut arch, "table", "max_read_units", "+5".into());
    set(&mut arch, "table", "max_write_units", ".5".into());
    set(&mut arch, "table", "max_storage_in_gbs", "5.".into());
    set(&mut arch, "web1", "ocpus", "-0".into());
    set(&mut arch, "web1", "memory_in_gbs", "1E+1".into());
    set(&mut arch, "events", "partitions", serde_json::json!(3));
    let dir = exported_and_loaded(&arch);
    let vars = std::fs::read_to_string(dir.path().join("variables.tf")).unwrap();
    for (var, want) in [
        ("sessions_table_max_read_units", "5"),
        ("sessions_table_max_write_units", "0.5"),
        ("sessions_table_max_storage_in_gbs", "5"),
        ("web_1_ocpus", "0"),
        ("web_1_memory_in_gbs", "1e1"),
        ("events_partitions", "3"),
    ] {
        let block = vars
            .split(&format!("variable \"{var}\" {{"))
            .nth(1)
            .unwrap_or_else(|| panic!("no variable {var}"));
        let default = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("default"))
            .expect("default");
        assert_eq!(
            default.trim_start().trim_start_matches('=').trim(),
            want,
            "{var}"
        );
    }
    // Spellings that are not a plain number are refused, naming the component and the setting.
    for bad in ["5 ", "0x10", "inf", "1_000", "--5", "five"] {
        let mut a = util::full_architecture();
        set(&mut a, "table", "max_read_units", bad.into());
        let err = export::export(&a).unwrap_err().to_string();
        assert!(
            err.contains("\"table\"") && err.contains("max_read_units") && err.contains("a number"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn the_load_checks_catch_what_an_unchecked_export_wrote() {
    // Guards the checks above: the configuration an export without name and number checks wrote
    // for the attack designs is refused by Terraform's loader and by the parser-level check.
    let dir = tempfile::tempdir().unwrap();
    let backend = "resource \"oci_load_balancer_backend\" \"a_b_c\" {\n  load_balancer_id = \"x\"\n  backendset_name  = \"b\"\n  ip_address       = \"10.0.0.1\"\n  port             = 80\n}\n";
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            "{backend}{backend}variable \"k_node_shape\" {{}}\nvariable \"k_node_shape\" {{}}\n"
        ),
    )
    .unwrap();
    let (ok, _, stderr) = terraform_load(dir.path());
    assert!(!ok && stderr.contains("Duplicate"), "{stderr}");
    let problems = schema_check(dir.path(), &schema()).join("\n");
    assert!(
        problems.contains("resource oci_load_balancer_backend.a_b_c is declared twice")
            && problems.contains("variable k_node_shape is declared twice"),
        "{problems}"
    );
    let raw = tempfile::tempdir().unwrap();
    std::fs::write(
        raw.path().join("variables.tf"),
        "variable \"n\" {\n  type    = number\n  default = +5\n}\n",
    )
    .unwrap();
    let (ok, _, stderr) = terraform_load(raw.path());
    assert!(!ok && stderr.contains("Invalid expression"), "{stderr}");
}

#[test]
fn a_container_running_the_app_is_exported_with_the_built_image_by_digest() {
    let mut arch = minimal("container_instance");
    for c in &mut arch.components {
        if c.service_type == "container_instance" {
            c.config.insert("image".into(), Value::String("app".into()));
        }
    }
    let err = export::export(&arch).unwrap_err();
    assert!(
        matches!(err, ExportError::NoAppImage { .. })
            && err.to_string().contains("build_app_image"),
        "{err}"
    );
    let image = "iad.ocir.io/ns/app:0123abcd4567@sha256:0000000000000000000000000000000000000000000000000000000000000001";
    let stack = export::export_with(
        &arch,
        &export::Options {
            app_image: Some(image),
        },
    )
    .expect("export with the built image");
    let dir = tempfile::tempdir().expect("tempdir");
    for f in &stack.files {
        std::fs::write(dir.path().join(&f.path), &f.content).expect("write");
    }
    fmt_check(dir.path());
    terraform_loads(dir.path());
    let problems = schema_check(dir.path(), &schema());
    assert!(problems.is_empty(), "{problems:#?}");
    let components = std::fs::read_to_string(dir.path().join("components.tf")).unwrap();
    let vars = std::fs::read_to_string(dir.path().join("variables.tf")).unwrap();
    assert!(vars.contains(&format!("\"{image}\"")), "{vars}");
    assert!(
        components.contains("image_url    = var.api_container_image_url"),
        "{components}"
    );
}
