//! The provider's schema as real Terraform loads it. `terraform providers schema -json` on the
//! newest Terraform here (1.15) and the oldest supported one (1.0.3) must show exactly the types,
//! attributes, blocks and flags the provider declares, so protocol features newer than a client
//! (write-only flags, identities, list resources) cost it nothing and hide nothing.

use galley_provider::cty::Type;
use galley_provider::provider::Provider;
use galley_provider::schema::{Block, Nesting};
use galley_tests::terraform::{Install, PROVIDER_SOURCE, TfVersion, Workdir};
use serde_json::Value as Json;

use crate::util::provider_bin;

/// `terraform providers schema -json` for a configuration that requires the provider, installed
/// from a filesystem mirror through `terraform init` as users on any version get it.
fn loaded_schema(version: TfVersion) -> Json {
    let wd = Workdir::new(version, provider_bin(), Install::PluginDir);
    wd.write(
        "main.tf",
        "terraform {\n  required_providers {\n    galley = { source = \"galley-dev/galley\" }\n  }\n}\n",
    );
    wd.init();
    let out = wd.ok(&["providers", "schema", "-json"]);
    let json: Json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("schema JSON: {e}\n{}", out.stdout));
    json["provider_schemas"][PROVIDER_SOURCE].clone()
}

/// The keys of a JSON object that may be absent (Terraform leaves out empty maps).
fn keys(v: &Json) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every difference between a block as Terraform printed it and as the provider declares it.
/// `write_only_known`: the client knows the write-only flag (Terraform 1.11 on).
fn differences(
    json: &Json,
    block: &Block,
    at: &str,
    write_only_known: bool,
    out: &mut Vec<String>,
) {
    let attrs = &json["attributes"];
    let mut want: Vec<String> = block
        .attributes
        .iter()
        .map(|a| a.name.to_string())
        .collect();
    want.sort();
    if keys(attrs) != want {
        out.push(format!(
            "{at}: attributes {:?}, declared {want:?}",
            keys(attrs)
        ));
    }
    for a in &block.attributes {
        let got = &attrs[a.name];
        let flag = |name: &str| got[name].as_bool().unwrap_or(false);
        let ty: Json = serde_json::from_str(&a.ty.to_json()).expect("type JSON");
        let checks = [
            ("type", got["type"] == ty),
            ("required", flag("required") == a.required),
            ("optional", flag("optional") == a.optional),
            ("computed", flag("computed") == a.computed),
            ("sensitive", flag("sensitive") == a.sensitive),
            ("deprecated", flag("deprecated") == a.deprecated),
            (
                "write_only",
                !write_only_known || flag("write_only") == a.write_only,
            ),
            (
                "description",
                got["description"].as_str().unwrap_or("") == a.description,
            ),
        ];
        for (what, same) in checks {
            if !same {
                out.push(format!("{at}{}: {what} differs: {got}", a.name));
            }
        }
    }
    let blocks = &json["block_types"];
    let mut want: Vec<String> = block
        .blocks
        .iter()
        .map(|b| b.type_name.to_string())
        .collect();
    want.sort();
    if keys(blocks) != want {
        out.push(format!(
            "{at}: blocks {:?}, declared {want:?}",
            keys(blocks)
        ));
    }
    for b in &block.blocks {
        let got = &blocks[b.type_name];
        let nesting = match b.nesting {
            Nesting::Single => "single",
            Nesting::List => "list",
            Nesting::Set => "set",
            Nesting::Map => "map",
            Nesting::Group => "group",
        };
        if got["nesting_mode"] != nesting {
            out.push(format!(
                "{at}{}: nesting {}",
                b.type_name, got["nesting_mode"]
            ));
        }
        let count = |name: &str| got[name].as_i64().unwrap_or(0);
        if count("min_items") != b.min_items || count("max_items") != b.max_items {
            out.push(format!("{at}{}: item counts differ: {got}", b.type_name));
        }
        let inner = format!("{at}{}.", b.type_name);
        differences(&got["block"], &b.block, &inner, write_only_known, out);
    }
}

fn loads_unchanged(version: TfVersion) {
    let loaded = loaded_schema(version);
    let provider = Provider::new();
    let newest = matches!(version, TfVersion::Latest);
    let mut out = Vec::new();

    differences(
        &loaded["provider"]["block"],
        &provider.schema.block,
        "provider.",
        newest,
        &mut out,
    );
    let resources: Vec<String> = provider.resources().map(|(n, _)| n.to_string()).collect();
    if keys(&loaded["resource_schemas"]) != resources {
        out.push(format!(
            "resource types {:?}",
            keys(&loaded["resource_schemas"])
        ));
    }
    for (name, reg) in provider.resources() {
        let got = &loaded["resource_schemas"][*name];
        if got["version"].as_i64() != Some(reg.schema.version) {
            out.push(format!("{name}: schema version {}", got["version"]));
        }
        differences(
            &got["block"],
            &reg.schema.block,
            &format!("{name}."),
            newest,
            &mut out,
        );
    }
    let data_sources: Vec<String> = provider
        .data_sources()
        .map(|(n, _)| n.to_string())
        .collect();
    if keys(&loaded["data_source_schemas"]) != data_sources {
        out.push(format!(
            "data sources {:?}",
            keys(&loaded["data_source_schemas"])
        ));
    }
    for (name, reg) in provider.data_sources() {
        let got = &loaded["data_source_schemas"][*name]["block"];
        differences(
            got,
            &reg.schema.block,
            &format!("{name}."),
            newest,
            &mut out,
        );
    }

    if newest {
        // Identities and list resources exist only for clients that know them.
        let identities: Vec<String> = provider
            .resources()
            .filter(|(_, r)| r.identity.is_some())
            .map(|(n, _)| n.to_string())
            .collect();
        if keys(&loaded["resource_identity_schemas"]) != identities {
            out.push(format!(
                "identity schemas {:?}, declared {identities:?}",
                keys(&loaded["resource_identity_schemas"])
            ));
        }
        let lists: Vec<String> = provider
            .list_resources()
            .map(|(n, _)| n.to_string())
            .collect();
        if keys(&loaded["list_resource_schemas"]) != lists {
            out.push(format!(
                "list resources {:?}, declared {lists:?}",
                keys(&loaded["list_resource_schemas"])
            ));
        }
    } else {
        for newer in ["resource_identity_schemas", "list_resource_schemas"] {
            if !loaded[newer].is_null() {
                out.push(format!("Terraform 1.0 printed {newer}"));
            }
        }
    }
    assert!(out.is_empty(), "{version:?}: {out:#?}");
    // The comparison ran over something: the three resources and their attributes.
    assert!(resources.len() >= 3, "{resources:?}");
    assert!(matches!(
        Type::from_json(loaded["resource_schemas"]["esb_resources"]["block"]["attributes"]
            ["resources_file"]["type"]
            .to_string()
            .as_bytes()),
        Ok(Type::String)
    ));
}

#[test]
fn schema_loads_unchanged_on_latest_terraform() {
    loads_unchanged(TfVersion::Latest);
}

#[test]
fn schema_loads_unchanged_on_terraform_1_0() {
    loads_unchanged(TfVersion::V1_0);
}
