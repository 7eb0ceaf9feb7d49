//! JSON text checked against what go-cty writes and reads (state files,
//! `RawState.json`, `DynamicValue.json`).

use crate::cty::{ErrorKind, Number, Type, Value, json};

#[track_caller]
fn golden(value: Value, ty: &Type, expected: &str) {
    let bytes = json::encode(&value, ty).unwrap_or_else(|e| panic!("encode {value:?}: {e}"));
    assert_eq!(String::from_utf8_lossy(&bytes), expected);
    let back =
        json::decode(expected.as_bytes(), ty).unwrap_or_else(|e| panic!("decode {expected}: {e}"));
    assert_eq!(back, value, "decoding {expected}");
}

fn num(text: &str) -> Value {
    Value::Number(Number::parse(text).expect("test number"))
}

/// The state Terraform's tests write for a `terraform_data` resource.
#[test]
fn terraform_data_state() {
    let ty = Type::object([
        ("id", Type::String),
        ("input", Type::DynamicPseudoType),
        ("output", Type::DynamicPseudoType),
        ("triggers_replace", Type::DynamicPseudoType),
    ]);
    golden(
        Value::object([
            ("id", Value::from("FE1D5830765C")),
            ("input", Value::dynamic(Type::String, Value::from("hello"))),
            ("output", Value::dynamic(Type::String, Value::Null)),
            ("triggers_replace", Value::Null),
        ]),
        &ty,
        r#"{"id":"FE1D5830765C","input":{"value":"hello","type":"string"},"output":{"value":null,"type":"string"},"triggers_replace":null}"#,
    );
}

#[test]
fn numbers_keep_every_digit() {
    golden(
        num("123456789012345678901234567890"),
        &Type::Number,
        "123456789012345678901234567890",
    );
    golden(num("0.1"), &Type::Number, "0.1");
    golden(
        num("-0.000000000000000000000000001"),
        &Type::Number,
        "-0.000000000000000000000000001",
    );
    golden(Value::from(i64::MIN), &Type::Number, "-9223372036854775808");
    golden(
        num("18446744073709551615"),
        &Type::Number,
        "18446744073709551615",
    );
    golden(num("1.5"), &Type::Number, "1.5");
    // Exponents and trailing zeros are normalised away, as go-cty prints.
    let v = json::decode(b"1.50e3", &Type::Number).expect("decode");
    assert_eq!(json::encode(&v, &Type::Number).expect("encode"), b"1500");
    let v = json::decode(b"-0", &Type::Number).expect("decode");
    assert_eq!(json::encode(&v, &Type::Number).expect("encode"), b"0");
    // A binary64 prints as its shortest decimal.
    let f = Value::number(Number::try_from(0.1).expect("finite"));
    assert_eq!(json::encode(&f, &Type::Number).expect("encode"), b"0.1");
}

#[test]
fn strings_are_escaped_like_go() {
    golden(
        Value::string("<a & b>\n\"q\"\\\u{2028}é\u{1}"),
        &Type::String,
        r#""\u003ca \u0026 b\u003e\n\"q\"\\\u2028é\u0001""#,
    );
    golden(
        Value::map([("k<", Value::from("v"))]),
        &Type::map(Type::String),
        r#"{"k\u003c":"v"}"#,
    );
}

#[test]
fn collections_and_objects() {
    golden(
        Value::list(vec![Value::from("a"), Value::Null]),
        &Type::list(Type::String),
        r#"["a",null]"#,
    );
    golden(
        Value::set(vec![Value::from(2), Value::from(1)]),
        &Type::set(Type::Number),
        "[2,1]",
    );
    golden(
        Value::map([("z", Value::from(true)), ("a", Value::from(false))]),
        &Type::map(Type::Bool),
        r#"{"a":false,"z":true}"#,
    );
    golden(
        Value::tuple(vec![Value::from("x"), Value::from(1)]),
        &Type::tuple(vec![Type::String, Type::Number]),
        r#"["x",1]"#,
    );
    golden(
        Value::object([
            ("b", Value::list(vec![])),
            ("a", Value::object([("n", Value::from(1))])),
        ]),
        &Type::object([
            ("a", Type::object([("n", Type::Number)])),
            ("b", Type::list(Type::String)),
        ]),
        r#"{"a":{"n":1},"b":[]}"#,
    );
    golden(
        Value::list(vec![
            Value::dynamic(Type::list(Type::Number), Value::list(vec![Value::from(1)])),
            Value::Null,
        ]),
        &Type::list(Type::DynamicPseudoType),
        r#"[{"value":[1],"type":["list","number"]},null]"#,
    );
}

#[test]
fn decoding_is_as_lenient_as_go_cty() {
    let ty = Type::object([
        ("s", Type::String),
        ("n", Type::Number),
        ("b", Type::Bool),
        ("missing", Type::String),
    ]);
    let v = json::decode(br#" { "s": 12.50, "n": "42", "b": "true" } "#, &ty).expect("decode");
    assert_eq!(
        v,
        Value::object([
            ("s", Value::from("12.50")),
            ("n", Value::from(42)),
            ("b", Value::from(true)),
            ("missing", Value::Null),
        ])
    );
    assert_eq!(
        json::decode(b"false", &Type::String),
        Ok(Value::from("false"))
    );
    // "type" and "value" may come in either order.
    assert_eq!(
        json::decode(br#"{"type":"bool","value":true}"#, &Type::DynamicPseudoType),
        Ok(Value::dynamic(Type::Bool, Value::from(true)))
    );
    // Duplicate keys: the last one wins, as in Go.
    assert_eq!(
        json::decode(br#"{"a":"1","a":"2"}"#, &Type::map(Type::String)),
        Ok(Value::map([("a", Value::from("2"))]))
    );
}

#[test]
fn refuses_what_json_cannot_hold() {
    let err = json::encode(&Value::unknown(), &Type::String).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnknownInJson);
    let nested = Value::object([("a", Value::list(vec![Value::unknown_not_null()]))]);
    let err = json::encode(&nested, &Type::object([("a", Type::list(Type::String))])).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(".a[0]: {}", ErrorKind::UnknownInJson)
    );
    let err = json::encode(&Value::number(Number::infinity()), &Type::Number).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InfinityInJson);
    assert!(json::encode(&Value::unknown(), &Type::DynamicPseudoType).is_err());
}

#[test]
fn rejects_bad_dynamic_wrappers() {
    for bad in [
        &br#"{"value":1}"#[..],
        br#"{"type":"number"}"#,
        br#"{"type":"number","value":1,"extra":2}"#,
        br#"{"type":"nope","value":1}"#,
        br#"[1]"#,
    ] {
        assert!(
            json::decode(bad, &Type::DynamicPseudoType).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}
