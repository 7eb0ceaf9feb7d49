//! The `deploy/` directory that runs the sidecar on OCI: its Terraform is `terraform fmt` clean,
//! loads in Terraform, and matches the oracle/oci provider schema snapshot (the checker of
//! `export.rs`); the pieces that must agree across files do (gateway backend, container address
//! and port, token, data volume, IAM statements); the Dockerfile builds the workspace's real
//! binaries and starts the sidecar the way its own argument parser accepts; the Docker build
//! context left by the ignore rules is still a buildable workspace.
//!
//! The real oracle/oci provider cannot be installed here, so `terraform validate` cannot run, and
//! no Docker engine is reachable, so the image is not built: these checks are the offline
//! substitutes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use galley_contract::env::{LEGACY_COMPARTMENT_OCID, WORK_COMPARTMENT_ID};
use galley_oci::setup::env as oci_env;
use galley_sidecar::config::{Config, Transport};
use hcl::expr::{Expression, ObjectKey};
use hcl::structure::{Block, Body};

use crate::export;
use crate::util;

pub(crate) fn deploy_dir() -> PathBuf {
    util::workspace_root().join("deploy")
}

pub(crate) fn read(name: &str) -> String {
    let p = deploy_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

pub(crate) fn parse(name: &str) -> Body {
    hcl::parse(&read(name)).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

// --- HCL navigation ----------------------------------------------------------------------------

pub(crate) fn blocks<'a>(body: &'a Body, ident: &str) -> Vec<&'a Block> {
    body.blocks().filter(|b| b.identifier() == ident).collect()
}

fn block<'a>(body: &'a Body, ident: &str) -> &'a Block {
    let found = blocks(body, ident);
    assert_eq!(found.len(), 1, "expected exactly one {ident} block");
    found[0]
}

fn resource<'a>(body: &'a Body, kind: &str, name: &str) -> &'a Block {
    body.blocks()
        .find(|b| {
            b.identifier() == "resource"
                && b.labels.len() == 2
                && b.labels[0].as_str() == kind
                && b.labels[1].as_str() == name
        })
        .unwrap_or_else(|| panic!("resource {kind}.{name} not declared"))
}

pub(crate) fn attr<'a>(body: &'a Body, key: &str) -> &'a Expression {
    body.attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("attribute {key} not set"))
}

/// An expression as Terraform source text, for comparing references and function calls.
pub(crate) fn text(e: &Expression) -> String {
    hcl::format::to_string(e).expect("format expression")
}

pub(crate) fn string(e: &Expression) -> String {
    match e {
        Expression::String(s) => s.clone(),
        other => panic!("expected a string literal, got {}", text(other)),
    }
}

pub(crate) fn strings(e: &Expression) -> Vec<String> {
    match e {
        Expression::Array(items) => items.iter().map(string).collect(),
        other => panic!("expected a list, got {}", text(other)),
    }
}

fn object(e: &Expression) -> BTreeMap<String, &Expression> {
    let Expression::Object(o) = e else {
        panic!("expected an object, got {}", text(e))
    };
    o.iter()
        .map(|(k, v)| {
            let key = match k {
                ObjectKey::Identifier(i) => i.as_str().to_string(),
                ObjectKey::Expression(Expression::String(s)) => s.clone(),
                other => panic!("unexpected object key {other:?}"),
            };
            (key, v)
        })
        .collect()
}

/// Every `format(...)` call in an expression, with its literal format string and arguments.
fn format_calls<'a>(e: &'a Expression, out: &mut Vec<(String, &'a [Expression])>) {
    match e {
        Expression::FuncCall(f) => {
            if f.name.name.as_str() == "format"
                && let Some(Expression::String(s)) = f.args.first()
            {
                out.push((s.clone(), &f.args[1..]));
            }
            f.args.iter().for_each(|a| format_calls(a, out));
        }
        Expression::Array(items) => items.iter().for_each(|i| format_calls(i, out)),
        Expression::ForExpr(f) => format_calls(&f.value_expr, out),
        Expression::Parenthesis(p) => format_calls(p, out),
        _ => {}
    }
}

// --- Terraform: fmt, load, schema --------------------------------------------------------------

#[test]
fn deploy_terraform_is_fmt_clean_and_loads() {
    let dir = deploy_dir();
    export::fmt_check(&dir);
    // `terraform providers` decodes every file without the provider being installed.
    export::terraform_loads(&dir);
}

#[test]
fn deploy_terraform_matches_the_oci_provider_schema() {
    let dir = deploy_dir();
    let schema = export::schema();
    // The export checker knows resources, data sources and variables; `path.module` (which
    // locates cloud-init.yaml next to build.tf) and `each.value` (the provider binary a
    // for_each instance uploads) are Terraform's own objects, so those references are the only
    // problems allowed.
    let problems: Vec<String> = export::schema_check(&dir, &schema)
        .into_iter()
        .filter(|p| {
            p != "reference path.module has an unknown root path"
                && p != "reference each.value has an unknown root each"
        })
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");

    let (decls, _) = export::parse_dir(&dir);
    assert!(
        decls.data.is_empty(),
        "the schema snapshot covers resources only"
    );
    let declared: BTreeSet<&str> = decls.resources.keys().map(|(t, _)| t.as_str()).collect();
    for t in [
        "oci_core_vcn",
        "oci_core_internet_gateway",
        "oci_core_nat_gateway",
        "oci_core_route_table",
        "oci_core_security_list",
        "oci_core_subnet",
        "oci_apigateway_gateway",
        "oci_apigateway_deployment",
        "oci_container_instances_container_instance",
        "oci_objectstorage_bucket",
        "oci_objectstorage_object",
        "oci_identity_dynamic_group",
        "oci_identity_policy",
        "oci_core_instance",
    ] {
        assert!(declared.contains(t), "no {t} declared in deploy/");
    }
}

#[test]
fn every_variable_is_described_and_the_example_sets_the_required_ones() {
    let vars = parse("variables.tf");
    let mut required = BTreeSet::new();
    let mut all = BTreeSet::new();
    for v in blocks(&vars, "variable") {
        let name = v.labels[0].as_str().to_string();
        let desc = string(attr(&v.body, "description"));
        assert!(desc.len() > 10, "variable {name} needs a real description");
        if !v.body.attributes().any(|a| a.key() == "default") {
            required.insert(name.clone());
        }
        all.insert(name);
    }
    let token = blocks(&vars, "variable")
        .into_iter()
        .find(|v| v.labels[0].as_str() == "galley_url_token")
        .expect("galley_url_token declared");
    assert_eq!(text(attr(&token.body, "sensitive")), "true");

    let example = parse("terraform.tfvars.example");
    let set: BTreeSet<String> = example.attributes().map(|a| a.key().to_string()).collect();
    for v in &required {
        assert!(set.contains(v), "terraform.tfvars.example does not set {v}");
    }
    for v in &set {
        assert!(
            all.contains(v),
            "terraform.tfvars.example sets undeclared {v}"
        );
    }

    // The token never leaves through an output.
    let outputs = parse("outputs.tf");
    for o in blocks(&outputs, "output") {
        let value = text(attr(&o.body, "value"));
        assert!(
            !value.contains("galley_url_token"),
            "output {} exposes the token",
            o.labels[0].as_str()
        );
    }
}

// --- The pieces that must agree ----------------------------------------------------------------

/// The provider binaries go to the providers bucket (the one the `custom_terraform_provider`
/// output names), one object per file of the layout `deploy/package-provider.sh` writes, under
/// the same relative name, which is the name Resource Manager looks for.
#[test]
fn the_provider_binaries_go_to_the_providers_bucket_in_the_release_layout() {
    let providers = parse("providers.tf");
    let objects = resource(&providers, "oci_objectstorage_object", "provider_binaries");
    let body = &objects.body;
    assert_eq!(
        text(attr(body, "for_each")),
        r#"fileset(var.provider_dist_dir, "linux_*/terraform-provider-galley_v*")"#
    );
    assert_eq!(
        text(attr(body, "bucket")),
        "oci_objectstorage_bucket.providers.name"
    );
    assert_eq!(text(attr(body, "namespace")), "var.namespace");
    assert_eq!(text(attr(body, "object")), "each.value");
    assert_eq!(
        text(attr(body, "source")),
        r#"abspath(format("%s/%s", var.provider_dist_dir, each.value))"#
    );
    let outputs = parse("outputs.tf");
    let custom = blocks(&outputs, "output")
        .into_iter()
        .find(|o| o.labels[0].as_str() == "custom_terraform_provider")
        .expect("custom_terraform_provider output");
    assert_eq!(
        text(object(attr(&custom.body, "value"))["bucket_name"]),
        "oci_objectstorage_bucket.providers.name"
    );

    // The default directory is where the release script writes the bucket layout, relative
    // to this directory, and the names it writes are the ones the glob selects and Resource
    // Manager reads.
    let vars = parse("variables.tf");
    let dist = blocks(&vars, "variable")
        .into_iter()
        .find(|v| v.labels[0].as_str() == "provider_dist_dir")
        .expect("provider_dist_dir declared");
    assert_eq!(string(attr(&dist.body, "default")), "../dist/rm-bucket");
    let script = read("package-provider.sh");
    assert!(script.contains(r#"out="${1:-$root/dist}""#), "{script}");
    assert!(
        script.contains(r#"cp "$exe" "$out/rm-bucket/$p/${name}_v${version}""#),
        "{script}"
    );
    for platform in ["linux_amd64", "linux_arm64"] {
        let name = format!("{platform}/terraform-provider-galley_v0.1.0");
        let parsed = galley_oci::provider_bucket::ProviderObject::parse(&name)
            .unwrap_or_else(|| panic!("{name} is not in Resource Manager's layout"));
        assert_eq!(parsed.type_name, "galley");
    }
}

#[test]
fn the_gateway_requires_a_token_and_reaches_the_sidecar_where_it_listens() {
    let gateway = parse("gateway.tf");
    let deployment = resource(&gateway, "oci_apigateway_deployment", "galley");
    assert_eq!(string(attr(&deployment.body, "path_prefix")), "/galley");
    let spec = block(&deployment.body, "specification");
    let routes = blocks(&spec.body, "routes");
    let route = |path: &str| {
        routes
            .iter()
            .find(|r| string(attr(&r.body, "path")) == path)
            .unwrap_or_else(|| panic!("no route {path}"))
    };

    let mcp = route("/mcp");
    assert_eq!(
        strings(attr(&mcp.body, "methods")),
        ["GET", "POST", "DELETE"]
    );
    let backend = block(&mcp.body, "backend");
    assert_eq!(string(attr(&backend.body, "type")), "HTTP_BACKEND");
    assert_eq!(
        text(attr(&backend.body, "url")),
        r#"format("http://%s:8000/mcp", var.sidecar_private_ip)"#
    );
    assert_eq!(text(attr(&backend.body, "read_timeout_in_seconds")), "300");
    let validations = block(
        &block(&mcp.body, "request_policies").body,
        "query_parameter_validations",
    );
    assert_eq!(
        string(attr(&validations.body, "validation_mode")),
        "ENFORCING"
    );
    let param = block(&validations.body, "parameters");
    assert_eq!(string(attr(&param.body, "name")), "token");
    assert_eq!(text(attr(&param.body, "required")), "true");

    let health = route("/health");
    assert_eq!(
        text(attr(&block(&health.body, "backend").body, "url")),
        r#"format("http://%s:8000/health", var.sidecar_private_ip)"#
    );

    // The container instance sits at that address, on the port the image exposes.
    let container = parse("container.tf");
    let ci = resource(
        &container,
        "oci_container_instances_container_instance",
        "sidecar",
    );
    let vnic = block(&ci.body, "vnics");
    assert_eq!(
        text(attr(&vnic.body, "private_ip")),
        "var.sidecar_private_ip"
    );
    assert_eq!(
        text(attr(&vnic.body, "subnet_id")),
        "oci_core_subnet.private.id"
    );
    let c = block(&ci.body, "containers");
    assert_eq!(text(attr(&c.body, "image_url")), "var.sidecar_image");
    let env = object(attr(&c.body, "environment_variables"));
    assert_eq!(text(env["GALLEY_URL_TOKEN"]), "var.galley_url_token");
    assert_eq!(string(env[oci_env::AUTH]), "ResourcePrincipal");
    assert_eq!(text(env[LEGACY_COMPARTMENT_OCID]), "var.compartment_ocid");
    // The sidecar hands it to the provider as the stacks' compartment.
    let config = Config::from_parts(&["--stdio".to_string()], |k| {
        (k == LEGACY_COMPARTMENT_OCID).then(|| "ocid1.compartment.oc1..c".to_string())
    })
    .expect("config");
    assert_eq!(
        config.oci.get(WORK_COMPARTMENT_ID),
        Some("ocid1.compartment.oc1..c")
    );
    let hosts = text(env["GALLEY_ALLOWED_HOSTS"]);
    assert!(
        hosts.contains("var.sidecar_private_ip")
            && hosts.contains("oci_apigateway_gateway.galley.hostname"),
        "the sidecar must accept the Host the gateway sends: {hosts}"
    );
    // The data directory is the mounted volume.
    let mount = block(&c.body, "volume_mounts");
    assert_eq!(
        string(env["GALLEY_DATA_DIR"]),
        string(attr(&mount.body, "mount_path"))
    );
    let volume = block(&ci.body, "volumes");
    assert_eq!(
        string(attr(&mount.body, "volume_name")),
        string(attr(&volume.body, "name"))
    );
    let check = block(&c.body, "health_checks");
    assert_eq!(text(attr(&check.body, "port")), "8000");
    assert_eq!(string(attr(&check.body, "path")), "/health");

    // The private subnet lets 8000 in from the gateway's subnet, and from nowhere else.
    let network = parse("network.tf");
    let private = resource(&network, "oci_core_security_list", "private");
    let ingress: Vec<_> = blocks(&private.body, "ingress_security_rules")
        .into_iter()
        .filter(|r| string(attr(&r.body, "protocol")) == "6")
        .collect();
    assert_eq!(ingress.len(), 1, "one TCP rule into the private subnet");
    assert_eq!(
        text(attr(&ingress[0].body, "source")),
        "var.public_subnet_cidr"
    );
    let tcp = block(&ingress[0].body, "tcp_options");
    assert_eq!(text(attr(&tcp.body, "min")), "8000");
    assert_eq!(text(attr(&tcp.body, "max")), "8000");
    let subnet = resource(&network, "oci_core_subnet", "private");
    assert_eq!(
        text(attr(&subnet.body, "prohibit_public_ip_on_vnic")),
        "true"
    );

    // And the image listens on 8000.
    let df = Dockerfile::parse(&read("Dockerfile"));
    assert_eq!(df.last_stage_values("EXPOSE"), vec!["8000"]);
}

#[test]
fn the_sidecar_keeps_its_state_in_the_versioned_sessions_bucket() {
    let buckets = parse("bucket.tf");
    let sessions = resource(&buckets, "oci_objectstorage_bucket", "sessions");
    assert_eq!(
        text(attr(&sessions.body, "name")),
        r#"format("%s-sessions", var.name_prefix)"#
    );
    assert_eq!(string(attr(&sessions.body, "versioning")), "Enabled");
    assert_eq!(
        string(attr(&sessions.body, "access_type")),
        "NoPublicAccess"
    );

    // The container is pointed at it (the store's two settings).
    let container = parse("container.tf");
    let ci = resource(
        &container,
        "oci_container_instances_container_instance",
        "sidecar",
    );
    let c = block(&ci.body, "containers");
    let env = object(attr(&c.body, "environment_variables"));
    assert_eq!(
        text(env["GALLEY_STATE_BUCKET"]),
        "oci_objectstorage_bucket.sessions.name"
    );
    assert_eq!(text(env["GALLEY_STATE_NAMESPACE"]), "var.namespace");
    // The one volume stays an EMPTYDIR: a cache, with no second volume to keep state on.
    let volumes = blocks(&ci.body, "volumes");
    assert_eq!(volumes.len(), 1);
    assert_eq!(string(attr(&volumes[0].body, "volume_type")), "EMPTYDIR");

    // Exactly one sidecar statement names the sessions bucket: objects in it, with the
    // permissions the store uses, never the deletion of versions.
    let iam = parse("iam.tf");
    let policy = resource(&iam, "oci_identity_policy", "sidecar");
    let mut calls = Vec::new();
    format_calls(attr(&policy.body, "statements"), &mut calls);
    let on_sessions: Vec<_> = calls
        .iter()
        .filter(|(_, args)| {
            args.iter()
                .any(|a| text(a) == "oci_objectstorage_bucket.sessions.name")
        })
        .collect();
    assert_eq!(
        on_sessions.len(),
        1,
        "one statement for the sessions bucket"
    );
    let (fmt, args) = on_sessions[0];
    assert!(
        fmt.starts_with("Allow dynamic-group %s to manage objects in compartment id %s where all {target.bucket.name = '%s', "),
        "{fmt}"
    );
    assert_eq!(text(&args[2]), "oci_objectstorage_bucket.sessions.name");
    let granted: BTreeSet<&str> = regex::Regex::new(r"request\.permission = '([A-Z_]+)'")
        .expect("regex")
        .captures_iter(fmt)
        .map(|c| c.get(1).expect("group").as_str())
        .collect();
    assert_eq!(
        granted,
        BTreeSet::from([
            "OBJECT_INSPECT",
            "OBJECT_READ",
            "OBJECT_CREATE",
            "OBJECT_OVERWRITE",
            "OBJECT_DELETE"
        ])
    );

    let outputs = parse("outputs.tf");
    assert!(
        blocks(&outputs, "output")
            .iter()
            .any(|o| o.labels[0].as_str() == "sessions_bucket")
    );
}

#[test]
fn iam_statements_are_well_formed_and_name_their_dynamic_groups() {
    let iam = parse("iam.tf");
    let statement = regex::Regex::new(
        r"^Allow dynamic-group %s to (inspect|read|use|manage) ([a-z-]+|%s) in compartment id %s( where .+)?$",
    )
    .expect("regex");
    let mut seen = 0;
    for policy in ["sidecar", "build"] {
        let p = resource(&iam, "oci_identity_policy", policy);
        assert_eq!(
            text(attr(&p.body, "compartment_id")),
            "var.compartment_ocid"
        );
        let mut calls = Vec::new();
        format_calls(attr(&p.body, "statements"), &mut calls);
        assert!(!calls.is_empty(), "policy {policy} has no statements");
        for (fmt, args) in calls {
            assert!(statement.is_match(&fmt), "malformed statement: {fmt}");
            assert_eq!(
                fmt.matches("%s").count(),
                args.len(),
                "placeholders and arguments differ: {fmt}"
            );
            assert_eq!(
                text(&args[0]),
                format!("oci_identity_dynamic_group.{policy}.name"),
                "a {policy} policy statement names another group: {fmt}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} statements found");

    let sidecar = resource(&iam, "oci_identity_dynamic_group", "sidecar");
    let rule = text(attr(&sidecar.body, "matching_rule"));
    assert!(
        rule.contains("resource.type = 'computecontainerinstance'")
            && rule.contains("resource.compartment.id"),
        "{rule}"
    );
    let build = resource(&iam, "oci_identity_dynamic_group", "build");
    assert!(text(attr(&build.body, "matching_rule")).contains("oci_core_instance.build.id"));
    for g in [sidecar, build] {
        assert_eq!(text(attr(&g.body, "compartment_id")), "var.tenancy_ocid");
    }

    // Each statement carries a comment saying what it is for.
    let source = read("iam.tf");
    let lines: Vec<&str> = source.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains("format(\"Allow ") {
            let before = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim())
                .unwrap_or_default();
            assert!(
                before.starts_with('#'),
                "statement without a comment: {}",
                line.trim()
            );
        }
    }
}

#[test]
fn the_build_instance_runs_commands_and_gets_docker_from_cloud_init() {
    let build = parse("build.tf");
    let instance = resource(&build, "oci_core_instance", "build");
    let agent = block(&instance.body, "agent_config");
    assert_eq!(text(attr(&agent.body, "is_management_disabled")), "false");
    let plugin = block(&agent.body, "plugins_config");
    assert_eq!(
        string(attr(&plugin.body, "name")),
        "Compute Instance Run Command"
    );
    assert_eq!(string(attr(&plugin.body, "desired_state")), "ENABLED");
    let vnic = block(&instance.body, "create_vnic_details");
    assert_eq!(
        text(attr(&vnic.body, "subnet_id")),
        "oci_core_subnet.private.id"
    );
    let metadata = object(attr(&instance.body, "metadata"));
    let user_data = text(metadata["user_data"]);
    assert!(
        user_data.contains("\"%s/cloud-init.yaml\""),
        "user_data should load cloud-init.yaml: {user_data}"
    );

    let cloud_init = read("cloud-init.yaml");
    assert!(
        cloud_init.starts_with("#cloud-config\n"),
        "cloud-init reads user data as cloud-config only with that first line"
    );
    let doc: serde_json::Value =
        serde_norway::from_str(&cloud_init).expect("cloud-init.yaml is YAML");
    let runcmd: Vec<&str> = doc["runcmd"]
        .as_array()
        .expect("runcmd list")
        .iter()
        .map(|c| c.as_str().expect("runcmd entries are shell lines"))
        .collect();
    for wanted in [
        "docker-ce",
        "systemctl enable --now docker",
        "usermod -aG docker ocarun",
    ] {
        assert!(
            runcmd.iter().any(|c| c.contains(wanted)),
            "cloud-init does not run {wanted:?}: {runcmd:#?}"
        );
    }
}

// --- Dockerfile --------------------------------------------------------------------------------

/// One Dockerfile instruction: keyword and the rest of the logical line.
struct Instruction {
    stage: usize,
    keyword: String,
    args: String,
}

/// One `FROM`: the image as written, the image with the build arguments' defaults put in (what
/// a plain `docker build` uses), and the stage name.
struct Stage {
    written: String,
    image: String,
    name: Option<String>,
}

struct Dockerfile {
    /// Build arguments declared before the first FROM, with their defaults.
    args: BTreeMap<String, Option<String>>,
    stages: Vec<Stage>,
    instructions: Vec<Instruction>,
}

impl Dockerfile {
    /// Joins continuation lines, drops comments and the parser directive.
    fn parse(text: &str) -> Self {
        let mut logical = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            let t = line.trim();
            if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
                continue;
            }
            if let Some(head) = t.strip_suffix('\\') {
                current.push_str(head.trim());
                current.push(' ');
            } else {
                current.push_str(t);
                logical.push(std::mem::take(&mut current));
            }
        }
        assert!(current.is_empty(), "dangling continuation line");
        let mut args = BTreeMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        let mut instructions = Vec::new();
        for l in logical {
            let (keyword, rest) = l.split_once(' ').unwrap_or((&l, ""));
            let keyword = keyword.to_ascii_uppercase();
            if keyword == "ARG" && stages.is_empty() {
                let (name, default) = match rest.trim().split_once('=') {
                    Some((n, d)) => (n.to_string(), Some(d.to_string())),
                    None => (rest.trim().to_string(), None),
                };
                args.insert(name, default);
                continue;
            }
            if keyword == "FROM" {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let name = match words.as_slice() {
                    [_] => None,
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
                    other => panic!("unexpected FROM {other:?}"),
                };
                let written = words[0].to_string();
                stages.push(Stage {
                    image: expand_args(&written, &args),
                    written,
                    name,
                });
            }
            assert!(!stages.is_empty(), "{keyword} before the first FROM");
            instructions.push(Instruction {
                stage: stages.len() - 1,
                keyword,
                args: rest.trim().to_string(),
            });
        }
        Dockerfile {
            args,
            stages,
            instructions,
        }
    }

    fn stage_named(&self, name: &str) -> Option<(usize, &Stage)> {
        self.stages
            .iter()
            .enumerate()
            .find(|(_, s)| s.name.as_deref() == Some(name))
    }

    /// Follows `FROM <earlier stage>` aliases to the stage (or image) a reference ends at.
    fn origin<'a>(&'a self, reference: &'a str) -> &'a str {
        match self.stage_named(reference) {
            Some((_, stage)) if self.stage_named(&stage.image).is_some() => {
                self.origin(&stage.image)
            }
            Some(_) => reference,
            None => reference,
        }
    }

    fn last_stage(&self) -> impl Iterator<Item = &Instruction> {
        let last = self.stages.len() - 1;
        self.instructions.iter().filter(move |i| i.stage == last)
    }

    fn last_stage_values(&self, keyword: &str) -> Vec<String> {
        self.last_stage()
            .filter(|i| i.keyword == keyword)
            .map(|i| i.args.clone())
            .collect()
    }

    /// `KEY=VALUE` pairs of the last stage's ENV instructions.
    fn env(&self) -> BTreeMap<String, String> {
        self.last_stage_values("ENV")
            .iter()
            .flat_map(|a| a.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("ENV in KEY=VALUE form");
                (k.to_string(), v.to_string())
            })
            .collect()
    }
}

/// `${NAME}` and `$NAME` replaced with the build arguments' defaults; an argument without one
/// fails the check, since a plain `docker build` would then have no image to start from.
fn expand_args(word: &str, args: &BTreeMap<String, Option<String>>) -> String {
    let mut out = word.to_string();
    for (name, default) in args {
        for form in [format!("${{{name}}}"), format!("${name}")] {
            if out.contains(&form) {
                let default = default
                    .as_deref()
                    .unwrap_or_else(|| panic!("build argument {name} in {word} has no default"));
                out = out.replace(&form, default);
            }
        }
    }
    assert!(
        !out.contains('$'),
        "{word} uses an undeclared build argument"
    );
    out
}

/// `name:tag` with a version-like tag (digits, not `latest`), or a digest. Base images may
/// follow a release line instead (`debian:bookworm-slim`), images files are copied from may not.
fn pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let Some((_, tag)) = image.rsplit_once(':') else {
        return false;
    };
    !tag.contains('/') && tag != "latest" && tag.chars().any(|c| c.is_ascii_digit())
}

/// Workspace members and their binary targets, from `cargo metadata --no-deps` run in `dir`.
/// `--no-deps` reads only the workspace's own manifests: resolving the whole graph would need
/// every platform's crates in the local cargo cache, which a fresh machine does not have.
/// `Cargo.lock` is checked separately ([`assert_lock_lists_members`]).
fn workspace_bins(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(dir)
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata --no-deps failed in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    assert_lock_lists_members(dir, &meta);
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
        .map(|p| {
            let bins = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "bin"))
                })
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect();
            (p["name"].as_str().unwrap_or_default().to_string(), bins)
        })
        .collect()
}

/// What `cargo build --locked` needs of the workspace's own packages: `Cargo.lock` in `dir`
/// lists every member at its version and no path package that is gone. (Registry packages are
/// pinned by the lock itself; checking them would need the crates downloaded.)
fn assert_lock_lists_members(dir: &Path, meta: &serde_json::Value) {
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).expect("read Cargo.lock");
    let mut locked_paths = BTreeSet::new();
    for package in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            package.lines().find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|r| r.trim().strip_prefix('='))
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
        };
        // Path packages (the workspace's members) are the ones without a `source`.
        if field("source ").is_none() {
            let name = field("name ").expect("a locked package has a name");
            let version = field("version ").expect("a locked package has a version");
            locked_paths.insert(format!("{name} {version}"));
        }
    }
    let members: BTreeSet<String> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap_or_default(),
                p["version"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        locked_paths,
        members,
        "Cargo.lock in {} is out of date with the workspace members: run `cargo build` and \
         commit Cargo.lock",
        dir.display()
    );
}

#[test]
fn the_dockerfile_builds_the_workspace_binaries_and_starts_the_sidecar() {
    let df = Dockerfile::parse(&read("Dockerfile"));
    // With its build arguments' defaults (what users build): a builder compiling the workspace
    // on a pinned official Rust image, and a Debian bookworm runtime. The other stages only
    // name where the binaries and Terraform come from, so the tests can swap them.
    let builder_stage = &df.stages[0];
    let builder = builder_stage
        .name
        .as_deref()
        .expect("the builder stage is named");
    assert!(
        builder_stage.image.starts_with("rust:") && pinned(&builder_stage.image),
        "builder from a pinned official Rust image: {}",
        builder_stage.image
    );
    let runtime = df.stages.last().expect("a runtime stage");
    assert_eq!(runtime.image, "debian:bookworm-slim");
    assert!(
        runtime.name.is_none(),
        "the runtime is the last, unnamed stage"
    );
    for stage in &df.stages {
        let tag = stage.image.rsplit_once(':').map(|(_, t)| t);
        assert!(
            tag.is_some_and(|t| t != "latest") || df.stage_named(&stage.image).is_some(),
            "base image {} follows latest",
            stage.image
        );
    }
    // Every image the build starts from can be replaced, so it can run without a registry.
    for stage in &df.stages {
        assert!(
            stage.written.starts_with("${") || df.stage_named(&stage.written).is_some(),
            "FROM {} cannot be replaced with a build argument",
            stage.written
        );
    }
    for arg in ["RUNTIME_IMAGE", "TERRAFORM_IMAGE", "BINARIES", "RUST_IMAGE"] {
        assert!(df.args.contains_key(arg), "no build argument {arg}");
    }

    // Every COPY --from names an earlier stage or a pinned image; the binaries come, by
    // default, from the builder, and Terraform from HashiCorp's 1.5 image.
    let mut copied_bins = BTreeMap::new();
    let mut terraform_copied = false;
    for i in df.instructions.iter().filter(|i| i.keyword == "COPY") {
        let Some(from) = i
            .args
            .split_whitespace()
            .find_map(|w| w.strip_prefix("--from="))
        else {
            continue;
        };
        let earlier_stage = df.stage_named(from).is_some_and(|(n, _)| n < i.stage);
        assert!(
            earlier_stage || pinned(from),
            "COPY --from={from} names neither an earlier stage nor a pinned image"
        );
        let words: Vec<&str> = i.args.split_whitespace().collect();
        let (src, dest) = (words[words.len() - 2], words[words.len() - 1]);
        if df.origin(from) == builder {
            let name = src.rsplit('/').next().unwrap_or_default();
            copied_bins.insert(name.to_string(), dest.to_string());
        }
        let image = df
            .stage_named(from)
            .map(|(_, s)| s.image.as_str())
            .unwrap_or(from);
        if image.starts_with("hashicorp/terraform:") {
            assert!(
                image.starts_with("hashicorp/terraform:1.5."),
                "Terraform 1.5.x, what Resource Manager runs: {image}"
            );
            assert_eq!(src, "/bin/terraform");
            assert_eq!(dest, "/usr/local/bin/terraform");
            terraform_copied = true;
        }
    }
    assert!(
        terraform_copied,
        "Terraform is not copied from hashicorp/terraform"
    );

    // The builder builds the packages whose binaries are copied, and those are real targets.
    let bins = workspace_bins(&util::workspace_root());
    let build = df
        .instructions
        .iter()
        .find(|i| i.stage == 0 && i.keyword == "RUN" && i.args.contains("cargo build"))
        .expect("a cargo build step");
    let cargo_command = build
        .args
        .split("&&")
        .find(|c| c.contains("cargo build"))
        .unwrap_or_default();
    let words: Vec<&str> = cargo_command.split_whitespace().collect();
    assert!(words.contains(&"--release") && words.contains(&"--locked"));
    let packages: Vec<&str> = words
        .windows(2)
        .filter(|w| w[0] == "-p")
        .map(|w| w[1])
        .collect();
    for name in ["galley-sidecar", "terraform-provider-galley"] {
        assert!(copied_bins.contains_key(name), "{name} is not copied");
        let owner = bins
            .iter()
            .find(|(_, b)| b.iter().any(|b| b == name))
            .map(|(p, _)| p.as_str())
            .unwrap_or_else(|| panic!("no workspace package has a binary {name}: {bins:?}"));
        assert!(
            packages.contains(&owner),
            "cargo build does not build {owner}"
        );
    }
    for p in &packages {
        assert!(bins.contains_key(*p), "cargo build -p {p}: no such package");
    }

    // The runtime: non-root, a HEALTHCHECK on the address the sidecar listens on, with the curl
    // it installs, and an entrypoint the sidecar's own parser accepts with the provider where
    // GALLEY_PROVIDER_DIR points.
    let health = df.last_stage_values("HEALTHCHECK");
    assert_eq!(health.len(), 1, "one HEALTHCHECK");
    assert!(
        health[0].contains("CMD curl ") && health[0].contains("http://127.0.0.1:8000/health"),
        "{}",
        health[0]
    );
    assert!(
        df.last_stage_values("RUN")
            .iter()
            .any(|r| r.contains("apt-get install") && r.contains(" curl")),
        "the HEALTHCHECK's curl is not installed"
    );
    let user = df.last_stage_values("USER");
    assert_eq!(user.len(), 1);
    assert!(!["root", "0"].contains(&user[0].as_str()), "runs as root");
    let env = df.env();
    let provider_dest = &copied_bins["terraform-provider-galley"];
    assert_eq!(
        Path::new(provider_dest).parent(),
        Some(Path::new(&env["GALLEY_PROVIDER_DIR"])),
        "the provider is not where GALLEY_PROVIDER_DIR points"
    );
    assert_eq!(
        copied_bins["galley-sidecar"],
        "/usr/local/bin/galley-sidecar"
    );

    let entrypoint: Vec<String> =
        serde_json::from_str(&df.last_stage_values("ENTRYPOINT")[0]).expect("exec-form ENTRYPOINT");
    assert_eq!(entrypoint[0], "galley-sidecar");
    let config = Config::from_parts(&entrypoint[1..], |k| env.get(k).cloned())
        .expect("the sidecar accepts the entrypoint's arguments");
    assert_eq!(
        config.transport,
        Transport::Http("0.0.0.0:8000".parse().expect("addr"))
    );
    assert_eq!(
        config.provider_dir,
        PathBuf::from(&env["GALLEY_PROVIDER_DIR"])
    );
    assert_eq!(config.terraform, PathBuf::from("/usr/local/bin/terraform"));
}

// --- Build context -----------------------------------------------------------------------------

/// Docker's ignore-pattern match for the forms the ignore file uses: `*` within a path segment,
/// `**` for any number of segments; a pattern that matches a directory excludes what is under it.
fn ignored(patterns: &[Vec<String>], path: &[&str]) -> bool {
    fn segment(p: &str, s: &str) -> bool {
        match p.split_once('*') {
            None => p == s,
            Some((head, tail)) => {
                s.starts_with(head)
                    && (0..=s.len() - head.len()).any(|i| {
                        s.is_char_boundary(head.len() + i) && segment(tail, &s[head.len() + i..])
                    })
            }
        }
    }
    fn matches(p: &[String], s: &[&str]) -> bool {
        match (p.first(), s.first()) {
            (None, _) => true, // a prefix matched: everything below is excluded too
            (Some(d), _) if d == "**" => (0..=s.len()).any(|i| matches(&p[1..], &s[i..])),
            (Some(_), None) => false,
            (Some(head), Some(first)) => segment(head, first) && matches(&p[1..], &s[1..]),
        }
    }
    patterns.iter().any(|p| matches(p, path))
}

fn copy_context(
    from: &Path,
    to: &Path,
    rel: &mut Vec<String>,
    patterns: &[Vec<String>],
    kept: &mut BTreeSet<String>,
) {
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        rel.push(name.clone());
        let parts: Vec<&str> = rel.iter().map(String::as_str).collect();
        if !ignored(patterns, &parts) {
            let kind = entry.file_type().expect("file type");
            let dest = to.join(&name);
            if kind.is_dir() {
                std::fs::create_dir_all(&dest).expect("mkdir");
                copy_context(&entry.path(), &dest, rel, patterns, kept);
            } else if kind.is_file() {
                std::fs::copy(entry.path(), &dest).expect("copy");
                kept.insert(rel.join("/"));
            }
        }
        rel.pop();
    }
}

#[test]
fn the_build_context_keeps_a_buildable_workspace_and_drops_the_rest() {
    let lines: Vec<String> = read("Dockerfile.dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    for l in &lines {
        assert!(
            !l.starts_with('!') && !l.contains('?') && !l.contains('['),
            "pattern {l:?} uses syntax this check does not model"
        );
    }
    let patterns: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            l.trim_start_matches('/')
                .trim_end_matches('/')
                .split('/')
                .map(str::to_string)
                .collect()
        })
        .collect();

    // The matcher itself, on the shapes the file relies on.
    assert!(ignored(&patterns, &["target", "release", "x"]));
    assert!(ignored(&patterns, &["sidecar", "galley-data"]));
    assert!(ignored(&patterns, &["terraform.tfstate.backup"]));
    assert!(!ignored(&patterns, &["sidecar", "src", "main.rs"]));

    let root = util::workspace_root();
    let ctx = tempfile::tempdir().expect("tempdir");
    let mut kept = BTreeSet::new();
    copy_context(&root, ctx.path(), &mut Vec::new(), &patterns, &mut kept);
    for f in ["Cargo.toml", "Cargo.lock", "proto/tfplugin5.proto"] {
        assert!(kept.contains(f), "the build context lacks {f}");
    }
    for f in &kept {
        let top = f.split('/').next().unwrap_or_default();
        assert!(
            ![".git", "target", ".tools", "deploy"].contains(&top),
            "{f} is sent to the Docker daemon"
        );
    }
    // Cargo reads the copied workspace, its lock file lists every member as `--locked` in the
    // builder requires, and both binaries are there.
    let bins = workspace_bins(ctx.path());
    let all: BTreeSet<&str> = bins.values().flatten().map(String::as_str).collect();
    assert!(all.contains("galley-sidecar") && all.contains("terraform-provider-galley"));
}
