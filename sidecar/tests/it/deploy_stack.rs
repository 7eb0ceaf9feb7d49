//! `deploy/` as a Resource Manager stack ("Deploy to Oracle Cloud"): `schema.yaml` agrees with
//! `variables.tf` and `outputs.tf` (names both ways, types, `required` exactly when there is no
//! default, the same defaults, pickers only on strings and with the compartment they list from,
//! groups that cover every variable once, the variables Resource Manager fills in kept out of
//! sight), and `package-stack.sh` zips exactly the files the stack needs and nothing secret.
//!
//! The checker returns its findings instead of panicking, so the same code is also run on broken
//! copies of the schema: each kind of mistake must be reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use galley_contract::rm::INJECTED_VARIABLES;
use hcl::expr::Expression;
use serde_json::Value;

use crate::deploy::{attr, blocks, deploy_dir, parse, read, text};
use crate::export;
use crate::util;

/// A Terraform variable's type, as far as the schema can express it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TfType {
    String,
    Number,
    Bool,
    List,
    Map,
}

#[derive(Debug, Clone)]
struct TfVar {
    ty: TfType,
    /// The default as JSON; `None` when the variable has none (and so is required).
    default: Option<Value>,
    sensitive: bool,
}

fn tf_type(e: Option<&Expression>) -> TfType {
    // Terraform's rule, repeated by Resource Manager's docs: no declared type means string.
    let Some(e) = e else { return TfType::String };
    let t = text(e);
    match t.split('(').next().unwrap_or_default().trim() {
        "string" => TfType::String,
        "number" => TfType::Number,
        "bool" => TfType::Bool,
        "list" | "set" | "tuple" => TfType::List,
        "map" | "object" => TfType::Map,
        other => panic!("variables.tf: unexpected type {other:?} in {t}"),
    }
}

fn tf_variables() -> BTreeMap<String, TfVar> {
    let body = parse("variables.tf");
    blocks(&body, "variable")
        .into_iter()
        .map(|v| {
            let find = |k: &str| v.body.attributes().find(|a| a.key() == k).map(|a| a.expr());
            let default = find("default").map(|e| {
                serde_json::to_value(e)
                    .unwrap_or_else(|err| panic!("default of {:?}: {err}", v.labels[0]))
            });
            let var = TfVar {
                ty: tf_type(find("type")),
                default,
                sensitive: find("sensitive").is_some_and(|e| text(e) == "true"),
            };
            (v.labels[0].as_str().to_string(), var)
        })
        .collect()
}

fn tf_outputs() -> BTreeSet<String> {
    blocks(&parse("outputs.tf"), "output")
        .into_iter()
        .map(|o| {
            // Every output has a value: the schema may show it.
            attr(&o.body, "value");
            o.labels[0].as_str().to_string()
        })
        .collect()
}

fn schema() -> Value {
    serde_norway::from_str(&read("schema.yaml")).expect("deploy/schema.yaml is YAML")
}

/// `${name}` or a bare `name`, as variable groups and references write them.
fn reference(s: &str) -> &str {
    s.strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(s)
}

/// The schema types a Terraform type may be shown as. Pickers (`oci:...`) fill in one OCID or
/// name, so they stand only for strings.
fn type_fits(tf: TfType, schema_type: &str, var: &Value) -> bool {
    match tf {
        TfType::String => {
            matches!(
                schema_type,
                "string" | "text" | "password" | "file" | "datetime"
            ) || (schema_type == "enum" && var["allowMultiple"] != true)
                || schema_type.starts_with("oci:")
        }
        TfType::Number => matches!(schema_type, "number" | "integer"),
        TfType::Bool => schema_type == "boolean",
        TfType::List => {
            schema_type == "array" || (schema_type == "enum" && var["allowMultiple"] == true)
        }
        // Resource Manager's schema has no map type.
        TfType::Map => false,
    }
}

/// Pickers that list without a compartment; every other `oci:` type needs
/// `dependsOn.compartmentId`.
const PICKERS_WITHOUT_COMPARTMENT: &[&str] = &[
    "oci:identity:compartment:id",
    "oci:identity:region:name",
    "oci:core:ssh:publickey",
];

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        _ => a == b,
    }
}

/// Whether a variable or its group is hidden (`visible: false`).
fn hidden(schema: &Value, name: &str) -> bool {
    schema["variables"][name]["visible"] == false
        || schema["variableGroups"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|g| {
                g["visible"] == false
                    && g["variables"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|v| v.as_str().map(reference) == Some(name))
            })
}

/// Every way `schema` disagrees with the Terraform variables and outputs.
fn stack_problems(
    schema: &Value,
    vars: &BTreeMap<String, TfVar>,
    outputs: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut p = |s: String| problems.push(s);

    if !matches!(schema["schemaVersion"].as_str(), Some("1.0.0" | "1.1.0")) {
        p(format!(
            "schemaVersion must be 1.0.0 or 1.1.0, not {}",
            schema["schemaVersion"]
        ));
    }
    for key in ["title", "description"] {
        if schema[key].as_str().is_none_or(str::is_empty) {
            p(format!(
                "{key} is missing: the stack's Application information tab needs it"
            ));
        }
    }
    let empty = serde_json::Map::new();
    let svars = schema["variables"].as_object().unwrap_or(&empty);
    if schema.get("groupings").is_some() {
        p("groupings is the deprecated key: use variableGroups".into());
    }

    // Names, both ways.
    for name in vars.keys() {
        if !svars.contains_key(name) {
            p(format!(
                "variable {name} of variables.tf is missing from schema.yaml's variables"
            ));
        }
    }
    for name in svars.keys() {
        if !vars.contains_key(name) {
            p(format!(
                "schema.yaml describes {name}, which variables.tf does not declare"
            ));
        }
    }

    for (name, sv) in svars {
        let Some(tv) = vars.get(name) else { continue };
        let Some(ty) = sv["type"].as_str() else {
            p(format!("{name}: no type in schema.yaml"));
            continue;
        };
        if !type_fits(tv.ty, ty, sv) {
            p(format!(
                "{name}: schema type {ty} does not fit the Terraform type {:?}",
                tv.ty
            ));
        }
        if tv.sensitive && ty != "password" {
            p(format!(
                "{name} is sensitive in variables.tf: show it as type password, not {ty}"
            ));
        }
        let required = sv["required"] == true;
        if required != tv.default.is_none() {
            p(format!(
                "{name}: required is {required} in schema.yaml, but the variable {} a default",
                if tv.default.is_some() {
                    "has"
                } else {
                    "has no"
                }
            ));
        }
        match (&tv.default, sv.get("default")) {
            (Some(d), Some(s)) if !same_value(d, s) => p(format!(
                "{name}: schema.yaml's default {s} differs from variables.tf's {d}"
            )),
            // Resource Manager sends what the form holds: an empty field would replace the default.
            (Some(d), None) => p(format!(
                "{name}: schema.yaml has no default, variables.tf has {d}"
            )),
            (None, Some(s)) => p(format!(
                "{name}: schema.yaml has a default {s} for a variable without one"
            )),
            _ => {}
        }
        if let (Some(pattern), Some(Value::String(d))) = (sv["pattern"].as_str(), &tv.default) {
            match regex::Regex::new(pattern) {
                Ok(re) if !re.is_match(d) => p(format!(
                    "{name}: the default {d:?} does not match the pattern {pattern}"
                )),
                Err(e) => p(format!("{name}: pattern {pattern:?} is not a regex: {e}")),
                _ => {}
            }
        }
        if ty.starts_with("oci:")
            && !PICKERS_WITHOUT_COMPARTMENT.contains(&ty)
            && sv["dependsOn"]["compartmentId"].as_str().is_none()
        {
            p(format!(
                "{name}: the {ty} picker needs dependsOn.compartmentId to list anything"
            ));
        }
        for (key, value) in sv["dependsOn"].as_object().into_iter().flatten() {
            if let Some(s) = value.as_str()
                && s.starts_with("${")
                && !svars.contains_key(reference(s))
            {
                p(format!(
                    "{name}: dependsOn.{key} names {s}, which is not a variable"
                ));
            }
        }
    }

    // Groups: only known variables, each variable in exactly one group.
    let mut grouped: BTreeMap<String, usize> = BTreeMap::new();
    for g in schema["variableGroups"].as_array().into_iter().flatten() {
        let title = g["title"].as_str().unwrap_or_default();
        if title.is_empty() {
            p("a variable group has no title".into());
        }
        for v in g["variables"].as_array().into_iter().flatten() {
            let name = reference(v.as_str().unwrap_or_default()).to_string();
            if !vars.contains_key(&name) {
                p(format!(
                    "group {title:?} lists {name}, which variables.tf does not declare"
                ));
            }
            *grouped.entry(name).or_default() += 1;
        }
    }
    for name in vars.keys() {
        match grouped.get(name).copied().unwrap_or(0) {
            1 => {}
            0 => p(format!("{name} is in no variable group")),
            n => p(format!("{name} is in {n} variable groups")),
        }
    }

    // What Resource Manager fills in stays out of the form, except the compartment, which the
    // form offers as a picker holding the stack's compartment.
    for name in INJECTED_VARIABLES.iter().filter(|n| vars.contains_key(**n)) {
        let ty = svars
            .get(*name)
            .and_then(|v| v["type"].as_str())
            .unwrap_or_default();
        let ok = if *name == "compartment_ocid" {
            ty == "oci:identity:compartment:id" || hidden(schema, name)
        } else {
            hidden(schema, name)
        };
        if !ok {
            p(format!(
                "{name} is filled in by Resource Manager: hide it (visible: false){}",
                if *name == "compartment_ocid" {
                    " or make it a compartment picker"
                } else {
                    ""
                }
            ));
        }
    }

    // Outputs.
    let souts = schema["outputs"].as_object().unwrap_or(&empty);
    for name in souts.keys() {
        if !outputs.contains(name) {
            p(format!(
                "schema.yaml shows output {name}, which outputs.tf does not declare"
            ));
        }
    }
    if let Some(button) = schema["primaryOutputButton"].as_str() {
        let name = reference(button);
        if souts.get(name).is_none_or(|o| o["type"] != "link") {
            p(format!(
                "primaryOutputButton {button} must name a link output of schema.yaml"
            ));
        }
    }
    problems
}

#[test]
fn schema_yaml_agrees_with_variables_and_outputs() {
    let vars = tf_variables();
    assert!(vars.len() > 20, "only {} variables parsed", vars.len());
    let outputs = tf_outputs();
    let schema = schema();
    let problems = stack_problems(&schema, &vars, &outputs);
    assert!(problems.is_empty(), "{problems:#?}");

    // What the form looks like where it matters.
    let v = &schema["variables"];
    assert_eq!(v["galley_url_token"]["type"], "password");
    assert_eq!(v["compartment_ocid"]["type"], "oci:identity:compartment:id");
    assert_eq!(
        v["availability_domain"]["type"],
        "oci:identity:availabilitydomain:name"
    );
    assert_eq!(v["build_instance_image_id"]["type"], "oci:core:image:id");
    for name in ["tenancy_ocid", "region"] {
        assert!(hidden(&schema, name), "{name} is shown");
    }
}

#[test]
fn the_schema_checker_reports_each_kind_of_mistake() {
    let vars = tf_variables();
    let outputs = tf_outputs();
    let good = schema();
    let broken = |change: &dyn Fn(&mut Value), expected: &str| {
        let mut s = good.clone();
        change(&mut s);
        let problems = stack_problems(&s, &vars, &outputs);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "expected a problem containing {expected:?}, got {problems:#?}"
        );
    };
    let var = |s: &mut Value, name: &str| -> serde_json::Map<String, Value> {
        s["variables"][name].as_object().expect("variable").clone()
    };
    broken(
        &|s| {
            s["variables"]
                .as_object_mut()
                .expect("vars")
                .remove("namespace");
        },
        "variable namespace of variables.tf is missing",
    );
    broken(
        &|s| s["variables"]["not_declared"] = serde_json::json!({"type": "string"}),
        "not_declared, which variables.tf does not declare",
    );
    broken(
        &|s| s["variables"]["read_only"]["type"] = "string".into(),
        "read_only: schema type string does not fit",
    );
    broken(
        &|s| s["variables"]["container_ocpus"]["type"] = "oci:core:image:id".into(),
        "container_ocpus: schema type oci:core:image:id does not fit",
    );
    broken(
        &|s| s["variables"]["galley_url_token"]["type"] = "string".into(),
        "galley_url_token is sensitive",
    );
    broken(
        &|s| s["variables"]["sidecar_image"]["required"] = false.into(),
        "sidecar_image: required is false",
    );
    broken(
        &|s| s["variables"]["name_prefix"]["required"] = true.into(),
        "name_prefix: required is true",
    );
    broken(
        &|s| s["variables"]["container_ocpus"]["default"] = 2.into(),
        "container_ocpus: schema.yaml's default 2 differs",
    );
    broken(
        &|s| {
            let mut v = var(s, "gateway_rate_limit");
            v.remove("default");
            s["variables"]["gateway_rate_limit"] = Value::Object(v);
        },
        "gateway_rate_limit: schema.yaml has no default",
    );
    broken(
        &|s| {
            let mut v = var(s, "availability_domain");
            v.remove("dependsOn");
            s["variables"]["availability_domain"] = Value::Object(v);
        },
        "needs dependsOn.compartmentId",
    );
    broken(
        &|s| s["variables"]["build_instance_image_id"]["dependsOn"]["shape"] = "${nope}".into(),
        "dependsOn.shape names ${nope}",
    );
    broken(
        &|s| s["variables"]["name_prefix"]["pattern"] = "^[0-9]+$".into(),
        "does not match the pattern",
    );
    broken(
        &|s| {
            let groups = s["variableGroups"].as_array_mut().expect("groups");
            groups[1]["variables"]
                .as_array_mut()
                .expect("list")
                .retain(|v| v != "namespace");
        },
        "namespace is in no variable group",
    );
    broken(
        &|s| {
            let groups = s["variableGroups"].as_array_mut().expect("groups");
            groups[2]["variables"]
                .as_array_mut()
                .expect("list")
                .push("${namespace}".into());
        },
        "namespace is in 2 variable groups",
    );
    broken(
        &|s| {
            let groups = s["variableGroups"].as_array_mut().expect("groups");
            groups[0]["visible"] = true.into();
        },
        "tenancy_ocid is filled in by Resource Manager",
    );
    broken(
        &|s| s["variables"]["compartment_ocid"]["type"] = "string".into(),
        "compartment_ocid is filled in by Resource Manager",
    );
    broken(
        &|s| s["outputs"]["no_such_output"] = serde_json::json!({"type": "string"}),
        "output no_such_output",
    );
    broken(
        &|s| s["primaryOutputButton"] = "${gateway_hostname}".into(),
        "must name a link output",
    );
    broken(&|s| s["schemaVersion"] = "2.0.0".into(), "schemaVersion");
}

// --- The stack zip -----------------------------------------------------------------------------

/// The files a copy of `deploy/` holds, by name (no subdirectories are expected).
fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_type().expect("type").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn package_stack_zips_exactly_what_the_stack_needs() {
    // A copy of deploy/ with what a user's working copy may also hold: secrets, state, plugins.
    let work = tempfile::tempdir().expect("tempdir");
    let copy = work.path().join("deploy");
    std::fs::create_dir(&copy).expect("mkdir");
    for name in files_in(&deploy_dir()) {
        std::fs::copy(deploy_dir().join(&name), copy.join(&name)).expect("copy");
    }
    let decoys = [
        ("terraform.tfvars", "galley_url_token = \"decoy-secret\"\n"),
        ("prod.auto.tfvars", "galley_url_token = \"decoy-secret\"\n"),
        ("terraform.tfstate", "{}\n"),
        ("override.tf", "# local override\n"),
        ("container_override.tf", "# local override\n"),
    ];
    for (name, content) in decoys {
        std::fs::write(copy.join(name), content).expect("write decoy");
    }
    std::fs::create_dir_all(copy.join(".terraform/providers")).expect("mkdir");
    std::fs::write(copy.join(".terraform/providers/x"), "x").expect("write");

    let zip = work.path().join("out/galley-deploy-stack.zip");
    let out = Command::new("bash")
        .arg(copy.join("package-stack.sh"))
        .arg(&zip)
        .output()
        .expect("run package-stack.sh");
    assert!(
        out.status.success(),
        "package-stack.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Unpacked with Python's zipfile (the tools venv has it; the crate has no zip reader).
    let unpacked = work.path().join("unpacked");
    let status = Command::new(util::python())
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(&unpacked)
        .status()
        .expect("unzip");
    assert!(status.success());
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&unpacked).expect("list") {
        let entry = entry.expect("entry");
        assert!(
            entry.file_type().expect("type").is_file(),
            "the zip holds a directory {:?}: Resource Manager wants the stack at its root",
            entry.file_name()
        );
        names.insert(entry.file_name().to_string_lossy().into_owned());
    }

    // Exactly: every Terraform file of the repository's deploy/, schema.yaml, cloud-init.yaml.
    let mut expected: BTreeSet<String> = files_in(&deploy_dir())
        .into_iter()
        .filter(|n| n.ends_with(".tf"))
        .collect();
    assert!(expected.len() >= 9, "{expected:?}");
    expected.extend(["schema.yaml".to_string(), "cloud-init.yaml".to_string()]);
    assert_eq!(names, expected);
    for name in &names {
        assert_eq!(
            std::fs::read(unpacked.join(name)).expect("read"),
            std::fs::read(deploy_dir().join(name)).expect("read"),
            "{name} differs from deploy/{name}"
        );
    }
    // And it is a configuration Terraform loads as it stands.
    export::terraform_loads(&unpacked);
}
