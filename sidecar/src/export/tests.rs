//! Unit tests of naming and assembly; the fmt and schema checks of the output are integration
//! tests (they need Terraform and the provider schema).

use super::*;
use crate::model::Connection;

fn comp(id: &str, t: &str, name: &str) -> Component {
    Component {
        id: id.into(),
        service_type: t.into(),
        display_name: name.into(),
        config: Default::default(),
    }
}

#[test]
fn labels_are_identifiers() {
    assert_eq!(label_for("Web Server #1"), "web_server_1");
    assert_eq!(label_for("1st"), "c_1st");
    assert_eq!(label_for("--"), "component");
    assert!(hcl::is_identifier(&label_for("ünïcode name")));
}

#[test]
fn colliding_names_get_distinct_labels() {
    let arch = Architecture {
        components: vec![
            comp("a", "objectstorage", "logs"),
            comp("b", "objectstorage", "Logs"),
        ],
        connections: vec![],
    };
    let stack = export(&arch).expect("export");
    assert_eq!(
        stack.resources,
        [
            "oci_objectstorage_bucket.logs",
            "oci_objectstorage_bucket.logs_2"
        ]
    );
}

#[test]
fn export_is_deterministic() {
    let arch = Architecture {
        components: vec![
            comp("v", "vcn", "net"),
            comp("s", "subnet", "app"),
            comp("g", "service_gateway", "sgw"),
        ],
        connections: vec![
            Connection {
                source_id: "s".into(),
                target_id: "v".into(),
                connection_type: "placement".into(),
                description: String::new(),
            },
            Connection {
                source_id: "g".into(),
                target_id: "v".into(),
                connection_type: "placement".into(),
                description: String::new(),
            },
        ],
    };
    let a = export(&arch).expect("export");
    let b = export(&arch).expect("export");
    let text = |s: &Stack| {
        s.files
            .iter()
            .map(|f| f.content.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(text(&a), text(&b));
    let components = &a
        .files
        .iter()
        .find(|f| f.path == "components.tf")
        .expect("components")
        .content;
    assert_eq!(
        components
            .matches("data \"oci_core_services\" \"all\"")
            .count(),
        1
    );
}

#[test]
fn bad_config_values_are_refused_with_the_key() {
    let mut vm = comp("vm", "nosql", "t");
    vm.config
        .insert("max_read_units".into(), serde_json::json!("lots"));
    let err = export(&Architecture {
        components: vec![vm],
        connections: vec![],
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("max_read_units") && err.to_string().contains("a number"),
        "{err}"
    );
}
