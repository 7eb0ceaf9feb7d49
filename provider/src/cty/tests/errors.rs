//! Errors name the path inside the value where decoding or encoding failed.

use crate::cty::{CodecError, ErrorKind, Path, PathStep, Type, Value, json, msgpack};

fn tables_type() -> Type {
    Type::object([
        (
            "tables",
            Type::list(Type::object([
                ("name", Type::String),
                ("size", Type::Number),
            ])),
        ),
        ("tags", Type::map(Type::Number)),
    ])
}

#[test]
fn msgpack_decode_names_the_path() {
    // {"tables": [{name:"a",size:1}, {name:"b",size:2}, {name:7,size:3}], "tags": nil}
    let mut bytes = vec![0x82, 0xa6];
    bytes.extend_from_slice(b"tables");
    bytes.push(0x93);
    for (name, size) in [(&b"a"[..], 1u8), (b"b", 2)] {
        bytes.extend_from_slice(&[0x82, 0xa4]);
        bytes.extend_from_slice(b"name");
        bytes.push(0xa1);
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(&[0xa4]);
        bytes.extend_from_slice(b"size");
        bytes.push(size);
    }
    bytes.extend_from_slice(&[0x82, 0xa4]);
    bytes.extend_from_slice(b"name");
    bytes.push(0x07);
    bytes.extend_from_slice(&[0xa4]);
    bytes.extend_from_slice(b"size");
    bytes.push(0x03);
    bytes.extend_from_slice(&[0xa4]);
    bytes.extend_from_slice(b"tags");
    bytes.push(0xc0);

    let err = msgpack::decode(&bytes, &tables_type()).unwrap_err();
    assert_eq!(
        err.to_string(),
        ".tables[2].name: expected string, found integer"
    );
    assert_eq!(
        err.path,
        Path(vec![
            PathStep::Attr("tables".into()),
            PathStep::Index(2),
            PathStep::Attr("name".into())
        ])
    );
}

#[test]
fn json_decode_names_the_path() {
    let doc = br#"{"tables":[{"name":"a","size":1}],"tags":{"env":"x1"}}"#;
    let err = json::decode(doc, &tables_type()).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#".tags["env"]: failed to read number "x1""#
    );

    let doc = br#"{"tables":[{"name":"a","size":1,"colour":"red"}]}"#;
    let err = json::decode(doc, &tables_type()).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#".tables[0]: unsupported attribute "colour""#
    );

    let doc = br#"{"tables":{"name":"a"}}"#;
    let err = json::decode(doc, &tables_type()).unwrap_err();
    assert_eq!(
        err.to_string(),
        ".tables: expected list of object, found object"
    );
}

#[test]
fn malformed_input_reports_the_offset() {
    let err = json::decode(br#"{"tables": [1,}"#, &tables_type()).unwrap_err();
    assert!(
        matches!(
            err.kind,
            ErrorKind::Malformed {
                format: "JSON",
                offset: 14,
                ..
            }
        ),
        "{err}"
    );
    // Truncated in the middle of the second table.
    let bytes = [
        0x81, 0xa6, b't', b'a', b'b', b'l', b'e', b's', 0x92, 0xc0, 0xa3, b'x',
    ];
    let err = msgpack::decode(&bytes, &tables_type()).unwrap_err();
    assert_eq!(
        err.path,
        Path(vec![PathStep::Attr("tables".into()), PathStep::Index(1)])
    );
    assert!(
        matches!(
            err.kind,
            ErrorKind::Malformed {
                format: "msgpack",
                offset: 11,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn encode_names_the_path() {
    let value = Value::object([(
        "tables",
        Value::list(vec![Value::object([("name", Value::from(true))])]),
    )]);
    let expect = ".tables[0].name: expected string, found bool";
    assert_eq!(
        msgpack::encode(&value, &tables_type())
            .unwrap_err()
            .to_string(),
        expect
    );
    assert_eq!(
        json::encode(&value, &tables_type())
            .unwrap_err()
            .to_string(),
        expect
    );
    assert_eq!(
        value.conforms_to(&tables_type()).unwrap_err().to_string(),
        expect
    );
}

#[test]
fn dynamic_places_need_the_carried_type() {
    let ty = Type::object([("any", Type::DynamicPseudoType)]);
    let bare = Value::object([("any", Value::from("x"))]);
    let err: CodecError = msgpack::encode(&bare, &ty).unwrap_err();
    assert_eq!(err.path, Path(vec![PathStep::Attr("any".into())]));
    let nested_dynamic =
        Value::object([("any", Value::dynamic(Type::DynamicPseudoType, Value::Null))]);
    assert!(matches!(
        msgpack::encode(&nested_dynamic, &ty).unwrap_err().kind,
        ErrorKind::InvalidDynamic(_)
    ));
    // A wrong type JSON inside a dynamic value names where it was.
    let bytes = [
        0x81, 0xa3, b'a', b'n', b'y', 0x92, 0xc4, 0x03, b'"', b'x', b'"', 0xc0,
    ];
    let err = msgpack::decode(&bytes, &ty).unwrap_err();
    assert_eq!(err.path, Path(vec![PathStep::Attr("any".into())]));
    assert!(matches!(err.kind, ErrorKind::InvalidType(_)), "{err}");
}

#[test]
fn refinements_must_fit_the_type_when_encoding() {
    let v = Value::Unknown(crate::cty::Refinement::default().with_length(2, None));
    let err = msgpack::encode(&v, &Type::String).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::InvalidRefinement(_)), "{err}");
}

#[test]
fn tuple_length_is_checked() {
    let ty = Type::tuple(vec![Type::String, Type::String]);
    let err = msgpack::decode(&[0x91, 0xa0], &ty).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::TupleLength {
            expected: 2,
            found: 1
        }
    );
    let err = json::decode(br#"["a","b","c"]"#, &ty).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::TupleLength {
            expected: 2,
            found: 3
        }
    );
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let mut ty = Type::String;
    for _ in 0..200 {
        ty = Type::list(ty);
    }
    let mut bytes = vec![0x91; 200];
    bytes.push(0xa0);
    let err = msgpack::decode(&bytes, &ty).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::TooDeep(_)), "{err}");
}
