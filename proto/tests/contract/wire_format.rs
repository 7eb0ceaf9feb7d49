//! Field numbers, wire types and enum values of key messages, checked byte by byte.

use galley_proto::plugin::{ConnInfo, StdioData, conn_info, stdio_data};
use galley_proto::tfplugin5::{
    self as tf, AttributePath, Diagnostic, DynamicValue, RawState, Schema, ServerCapabilities,
    StringKind, attribute_path, diagnostic, schema,
};
use prost::Message;

/// Tag byte for fields 1..=15: field number in the high bits, wire type in the low three.
fn tag(field: u8, wire_type: u8) -> u8 {
    assert!((1..=15).contains(&field));
    (field << 3) | wire_type
}

const VARINT: u8 = 0;
const LEN: u8 = 2;

/// A length-delimited field: tag, one-byte length, payload.
fn len_field(field: u8, payload: &[u8]) -> Vec<u8> {
    let len = u8::try_from(payload.len()).expect("test payloads are short");
    assert!(len < 0x80, "one-byte varint length");
    let mut out = vec![tag(field, LEN), len];
    out.extend_from_slice(payload);
    out
}

#[test]
fn dynamic_value_puts_msgpack_in_field_1_and_json_in_field_2() {
    // msgpack nil, the encoding of a null value.
    let v = DynamicValue {
        msgpack: vec![0xc0],
        json: Vec::new(),
    };
    assert_eq!(v.encode_to_vec(), vec![0x0a, 0x01, 0xc0]);

    let v = DynamicValue {
        msgpack: Vec::new(),
        json: b"null".to_vec(),
    };
    assert_eq!(v.encode_to_vec(), len_field(2, b"null"));
}

#[test]
fn diagnostic_fields_and_attribute_path_decode_from_hand_written_bytes() {
    let step = len_field(1, b"name"); // Step.attribute_name = 1
    let path = len_field(1, &step); // AttributePath.steps = 1
    let mut bytes = vec![tag(1, VARINT), 1]; // severity = ERROR
    bytes.extend(len_field(2, b"bad"));
    bytes.extend(len_field(3, b"fix it"));
    bytes.extend(len_field(4, &path)); // attribute = 4

    let d = Diagnostic::decode(bytes.as_slice()).expect("valid Diagnostic bytes");
    assert_eq!(d.severity(), diagnostic::Severity::Error);
    assert_eq!(d.summary, "bad");
    assert_eq!(d.detail, "fix it");
    let steps = d.attribute.expect("attribute is field 4").steps;
    assert_eq!(
        steps[0].selector,
        Some(attribute_path::step::Selector::AttributeName("name".into()))
    );

    assert_eq!(diagnostic::Severity::Invalid as i32, 0);
    assert_eq!(diagnostic::Severity::Error as i32, 1);
    assert_eq!(diagnostic::Severity::Warning as i32, 2);
}

#[test]
fn attribute_path_step_selectors_use_fields_1_2_3() {
    let step = |selector| AttributePath {
        steps: vec![attribute_path::Step {
            selector: Some(selector),
        }],
    };
    use attribute_path::step::Selector;
    assert_eq!(
        step(Selector::ElementKeyString("k".into())).encode_to_vec(),
        len_field(1, &len_field(2, b"k"))
    );
    assert_eq!(
        step(Selector::ElementKeyInt(5)).encode_to_vec(),
        len_field(1, &[tag(3, VARINT), 5])
    );
}

#[test]
fn schema_block_attributes_are_field_2_and_block_types_field_3() {
    let attr = {
        let mut a = len_field(1, b"id"); // name
        a.extend(len_field(2, b"\"string\"")); // type: JSON type constraint
        a.extend([tag(6, VARINT), 1]); // computed
        a.extend([tag(8, VARINT), 1]); // description_kind = MARKDOWN
        a.extend([tag(10, VARINT), 1]); // write_only
        a.extend(len_field(11, b"use x")); // deprecation_message
        a
    };
    let nested = {
        let mut n = len_field(1, b"rule"); // type_name
        n.extend([tag(3, VARINT), 5]); // nesting = GROUP
        n.extend([tag(5, VARINT), 3]); // max_items
        n
    };
    let mut block = vec![tag(1, VARINT), 2]; // version
    block.extend(len_field(2, &attr));
    block.extend(len_field(3, &nested));
    block.extend([tag(6, VARINT), 1]); // deprecated
    block.extend(len_field(7, b"gone")); // deprecation_message
    let mut bytes = vec![tag(1, VARINT), 7]; // Schema.version
    bytes.extend(len_field(2, &block)); // Schema.block

    let s = Schema::decode(bytes.as_slice()).expect("valid Schema bytes");
    assert_eq!(s.version, 7);
    let b = s.block.expect("block is field 2");
    assert_eq!(b.version, 2);
    assert!(b.deprecated);
    assert_eq!(b.deprecation_message, "gone");
    let a = &b.attributes[0];
    assert_eq!(a.deprecation_message, "use x");
    assert_eq!(
        (a.name.as_str(), a.r#type.as_slice()),
        ("id", &b"\"string\""[..])
    );
    assert!(a.computed && a.write_only && !a.required && !a.optional && !a.sensitive);
    assert_eq!(a.description_kind(), StringKind::Markdown);
    let n = &b.block_types[0];
    assert_eq!(n.type_name, "rule");
    assert_eq!(n.nesting(), schema::nested_block::NestingMode::Group);
    assert_eq!(n.max_items, 3);
}

#[test]
fn get_provider_schema_response_field_numbers() {
    let thing = Schema {
        version: 1,
        block: None,
    };
    let resp = tf::get_provider_schema::Response {
        provider: Some(Schema::default()),
        resource_schemas: [("galley_thing".to_string(), thing)].into(),
        ..Default::default()
    };
    // provider = 1 (an empty message), then one map entry in field 2: key = 1, value = 2.
    let mut want = len_field(1, &[]);
    want.extend(len_field(2, &{
        let mut entry = len_field(1, b"galley_thing");
        entry.extend(len_field(2, &[tag(1, VARINT), 1]));
        entry
    }));
    assert_eq!(resp.encode_to_vec(), want);

    // server_capabilities = 6 holding plan_destroy = 1, and one action_schemas (field 11) entry
    // with key "a" and an empty ActionSchema.
    let mut bytes = len_field(6, &[tag(1, VARINT), 1]);
    bytes.extend(len_field(11, &[0x0a, 0x01, b'a', 0x12, 0x00]));
    assert_eq!(bytes[4], 0x5a, "field 11, length-delimited");
    let decoded = tf::get_provider_schema::Response::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(
        decoded.server_capabilities,
        Some(ServerCapabilities {
            plan_destroy: true,
            ..Default::default()
        })
    );
    assert!(decoded.action_schemas.contains_key("a"));

    // list_resource_schemas = 9: an entry "l" holding Schema{version: 2}.
    let bytes = len_field(9, &[0x0a, 0x01, b'l', 0x12, 0x02, tag(1, VARINT), 2]);
    assert_eq!(bytes[0], 0x4a, "field 9, length-delimited");
    let decoded = tf::get_provider_schema::Response::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(decoded.list_resource_schemas["l"].version, 2);
}

/// `ResourceIdentityData{identity_data: DynamicValue{msgpack: [0x80]}}`: an empty msgpack map.
fn identity_bytes() -> Vec<u8> {
    len_field(1, &len_field(1, &[0x80]))
}

fn identity() -> tf::ResourceIdentityData {
    tf::ResourceIdentityData {
        identity_data: Some(DynamicValue {
            msgpack: vec![0x80],
            json: Vec::new(),
        }),
    }
}

#[test]
fn identity_fields_of_resource_rpcs_use_their_numbers() {
    let r = tf::read_resource::Request {
        current_identity: Some(identity()),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(6, &identity_bytes()));
    let r = tf::read_resource::Response {
        new_identity: Some(identity()),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(5, &identity_bytes()));
    let r = tf::plan_resource_change::Request {
        prior_identity: Some(identity()),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(8, &identity_bytes()));
    let r = tf::plan_resource_change::Response {
        planned_identity: Some(identity()),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(7, &identity_bytes()));
    let r = tf::apply_resource_change::Request {
        planned_identity: Some(identity()),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(7, &identity_bytes()));
    let r = tf::apply_resource_change::Response {
        new_identity: Some(identity()),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(5, &identity_bytes()));
    let r = tf::import_resource_state::Request {
        identity: Some(identity()),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(4, &identity_bytes()));
    let r = tf::import_resource_state::ImportedResource {
        identity: Some(identity()),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(4, &identity_bytes()));
    let r = tf::move_resource_state::Request {
        source_identity: Some(RawState {
            json: b"{}".to_vec(),
            ..Default::default()
        }),
        source_identity_schema_version: 3,
        ..Default::default()
    };
    let mut want = len_field(7, &len_field(1, b"{}"));
    want.extend([tag(8, VARINT), 3]);
    assert_eq!(r.encode_to_vec(), want);
    let r = tf::move_resource_state::Response {
        target_identity: Some(identity()),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(4, &identity_bytes()));
}

#[test]
fn identity_schemas_and_their_upgrade_use_their_numbers() {
    let attr = {
        let mut a = len_field(1, b"id"); // name
        a.extend(len_field(2, b"\"string\"")); // type
        a.extend([tag(3, VARINT), 1]); // required_for_import
        a.extend([tag(4, VARINT), 1]); // optional_for_import
        a.extend(len_field(5, b"the id")); // description
        a
    };
    let mut schema = vec![tag(1, VARINT), 2]; // version
    schema.extend(len_field(2, &attr)); // identity_attributes
    let mut entry = len_field(1, b"galley_thing");
    entry.extend(len_field(2, &schema));
    let mut bytes = len_field(1, &entry); // identity_schemas
    bytes.extend(len_field(2, &[tag(1, VARINT), 2])); // diagnostics: a warning
    let r =
        tf::get_resource_identity_schemas::Response::decode(bytes.as_slice()).expect("valid bytes");
    let s = &r.identity_schemas["galley_thing"];
    assert_eq!(s.version, 2);
    let a = &s.identity_attributes[0];
    assert_eq!(
        (a.name.as_str(), a.r#type.as_slice()),
        ("id", &b"\"string\""[..])
    );
    assert!(a.required_for_import && a.optional_for_import);
    assert_eq!(a.description, "the id");
    assert_eq!(r.diagnostics[0].severity(), diagnostic::Severity::Warning);

    let mut bytes = len_field(1, b"galley_thing"); // type_name
    bytes.extend([tag(2, VARINT), 1]); // version
    bytes.extend(len_field(3, &len_field(1, b"{}"))); // raw_identity.json
    let r = tf::upgrade_resource_identity::Request::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!((r.type_name.as_str(), r.version), ("galley_thing", 1));
    assert_eq!(r.raw_identity.expect("field 3").json, b"{}");
    let r = tf::upgrade_resource_identity::Response {
        upgraded_identity: Some(identity()),
        diagnostics: Vec::new(),
    };
    assert_eq!(r.encode_to_vec(), len_field(1, &identity_bytes()));
}

#[test]
fn list_resource_and_generate_config_requests_use_their_numbers() {
    let mut bytes = len_field(1, b"galley_thing"); // type_name
    bytes.extend(len_field(2, &len_field(1, &[0x80]))); // config
    bytes.extend([tag(3, VARINT), 1]); // include_resource_object
    bytes.extend([tag(4, VARINT), 100]); // limit
    let r = tf::list_resource::Request::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(r.type_name, "galley_thing");
    assert!(r.include_resource_object);
    assert_eq!(r.limit, 100);
    assert_eq!(r.config.expect("field 2").msgpack, vec![0x80]);

    // Validation gets include_resource_object and limit as values: they may be unknown then.
    let mut bytes = len_field(3, &len_field(1, &[0xc3])); // include_resource_object: true
    bytes.extend(len_field(4, &len_field(1, &[0x05]))); // limit: 5
    let r =
        tf::validate_list_resource_config::Request::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(r.include_resource_object.expect("field 3").msgpack, [0xc3]);
    assert_eq!(r.limit.expect("field 4").msgpack, [0x05]);

    let mut bytes = len_field(1, b"galley_thing"); // type_name
    bytes.extend(len_field(2, &len_field(1, &[0x80]))); // state
    let r = tf::generate_resource_config::Request::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(r.state.expect("field 2").msgpack, [0x80]);
    let r = tf::generate_resource_config::Response {
        config: Some(DynamicValue {
            msgpack: vec![0x80],
            json: Vec::new(),
        }),
        diagnostics: vec![Diagnostic::default()],
    };
    let mut want = len_field(1, &len_field(1, &[0x80]));
    want.extend(len_field(2, &[]));
    assert_eq!(r.encode_to_vec(), want);
}

#[test]
fn metadata_lists_list_resources_in_7_and_actions_in_8() {
    // Terraform's file; terraform-plugin-go's own copy moved actions to 9 (unused by Terraform).
    let mut bytes = len_field(7, &len_field(1, b"galley_thing"));
    bytes.extend(len_field(8, &len_field(1, b"galley_act")));
    let r = tf::get_metadata::Response::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(r.list_resources[0].type_name, "galley_thing");
    assert_eq!(r.actions[0].type_name, "galley_act");
}

#[test]
fn action_requests_use_their_numbers() {
    let mut bytes = len_field(1, b"galley_act"); // action_type
    bytes.extend(len_field(2, &len_field(1, &[0x80]))); // config
    bytes.extend(len_field(3, &[tag(1, VARINT), 1])); // client_capabilities.deferral_allowed
    let r = tf::plan_action::Request::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(r.action_type, "galley_act");
    assert!(r.client_capabilities.expect("field 3").deferral_allowed);
    let r = tf::invoke_action::Request::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(r.action_type, "galley_act");
    let r = tf::validate_action_config::Request::decode(&bytes[..bytes.len() - 4])
        .expect("valid bytes");
    assert_eq!(r.type_name, "galley_act");
    let e = tf::invoke_action::Event::decode(len_field(1, &len_field(1, b"half")).as_slice())
        .expect("valid bytes");
    assert!(matches!(
        e.r#type,
        Some(tf::invoke_action::event::Type::Progress(p)) if p.message == "half"
    ));
}

#[test]
fn server_capabilities_field_numbers() {
    let caps = ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: true,
        generate_resource_config: true,
    };
    assert_eq!(
        caps.encode_to_vec(),
        vec![
            tag(1, VARINT),
            1,
            tag(2, VARINT),
            1,
            tag(3, VARINT),
            1,
            tag(4, VARINT),
            1
        ]
    );
}

#[test]
fn plan_resource_change_response_field_numbers() {
    let mut bytes = len_field(1, &len_field(1, &[0xc0])); // planned_state.msgpack
    bytes.extend(len_field(2, &[])); // requires_replace: one empty path
    bytes.extend(len_field(3, b"p")); // planned_private
    bytes.extend([tag(5, VARINT), 1]); // legacy_type_system
    bytes.extend(len_field(6, &[tag(1, VARINT), 3])); // deferred.reason = ABSENT_PREREQ
    let r = tf::plan_resource_change::Response::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(r.planned_state.expect("field 1").msgpack, vec![0xc0]);
    assert_eq!(r.requires_replace.len(), 1);
    assert_eq!(r.planned_private, b"p");
    assert!(r.legacy_type_system);
    assert_eq!(
        r.deferred.expect("field 6").reason(),
        tf::deferred::Reason::AbsentPrereq
    );
}

#[test]
fn upgrade_resource_state_request_carries_raw_state_in_field_3() {
    let mut raw = len_field(1, b"{}"); // json
    raw.extend(len_field(2, &{
        // flatmap entry: key = 1, value = 2
        let mut e = len_field(1, b"id");
        e.extend(len_field(2, b"x"));
        e
    }));
    let mut bytes = len_field(1, b"galley_thing");
    bytes.extend([tag(2, VARINT), 4]); // version
    bytes.extend(len_field(3, &raw));
    let r = tf::upgrade_resource_state::Request::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(r.type_name, "galley_thing");
    assert_eq!(r.version, 4);
    let RawState { json, flatmap } = r.raw_state.expect("field 3");
    assert_eq!(json, b"{}");
    assert_eq!(flatmap.get("id").map(String::as_str), Some("x"));
}

#[test]
fn stop_response_error_is_field_1() {
    let r = tf::stop::Response {
        error: "stuck".into(),
    };
    assert_eq!(r.encode_to_vec(), len_field(1, b"stuck"));
}

#[test]
fn configure_request_field_numbers() {
    let mut bytes = len_field(1, b"1.14.9"); // terraform_version
    bytes.extend(len_field(2, &len_field(1, &[0x80]))); // config: empty msgpack map
    bytes.extend(len_field(3, &[tag(1, VARINT), 1, tag(2, VARINT), 1])); // client_capabilities
    let r = tf::configure::Request::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(r.terraform_version, "1.14.9");
    assert_eq!(r.config.expect("field 2").msgpack, vec![0x80]);
    let caps = r.client_capabilities.expect("field 3");
    assert!(caps.deferral_allowed && caps.write_only_attributes_allowed);
}

#[test]
fn optional_fields_keep_presence() {
    // Proto3 `optional`: an explicitly empty private blob is not the same as an absent one.
    let r = tf::renew_ephemeral_resource::Request {
        type_name: String::new(),
        private: Some(vec![]),
    };
    assert_eq!(r.encode_to_vec(), len_field(2, &[]));
    let r = tf::open_ephemeral_resource::Response {
        renew_at: Some(galley_proto::prost_types::Timestamp {
            seconds: 1,
            nanos: 0,
        }),
        ..Default::default()
    };
    assert_eq!(r.encode_to_vec(), len_field(2, &[tag(1, VARINT), 1]));
}

#[test]
fn streamed_events_use_their_field_numbers() {
    let mut bytes = len_field(1, &len_field(1, &len_field(1, &[0x80]))); // identity.identity_data
    bytes.extend(len_field(2, b"thing one")); // display_name
    bytes.extend(len_field(4, &[tag(1, VARINT), 2])); // diagnostic: a warning
    let e = tf::list_resource::Event::decode(bytes.as_slice()).expect("valid bytes");
    assert_eq!(e.display_name, "thing one");
    assert!(e.identity.and_then(|i| i.identity_data).is_some());
    assert_eq!(e.diagnostic[0].severity(), diagnostic::Severity::Warning);

    let bytes = len_field(2, &[]); // oneof type: completed = 2
    let e = tf::invoke_action::Event::decode(bytes.as_slice()).expect("valid bytes");
    assert!(matches!(
        e.r#type,
        Some(tf::invoke_action::event::Type::Completed(_))
    ));
}

#[test]
fn go_plugin_messages_field_numbers() {
    let s = StdioData {
        channel: stdio_data::Channel::Stderr as i32,
        data: b"log".to_vec(),
    };
    let mut want = vec![tag(1, VARINT), 2];
    want.extend(len_field(2, b"log"));
    assert_eq!(s.encode_to_vec(), want);

    let c = ConnInfo {
        service_id: 1,
        network: "unix".into(),
        address: "/s".into(),
        knock: Some(conn_info::Knock {
            knock: true,
            ack: false,
            error: String::new(),
        }),
    };
    let mut want = vec![tag(1, VARINT), 1];
    want.extend(len_field(2, b"unix"));
    want.extend(len_field(3, b"/s"));
    want.extend(len_field(4, &[tag(1, VARINT), 1]));
    assert_eq!(c.encode_to_vec(), want);
}
