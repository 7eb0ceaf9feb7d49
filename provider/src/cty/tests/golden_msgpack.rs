//! msgpack bytes checked against what go-cty writes. Each expectation is
//! either taken from Terraform's own test fixtures or derived by hand from
//! go-cty's encoder rules (smallest integer form, float64 without
//! compaction, str for strings, bin for type JSON, fixext where the length
//! allows, ext8 otherwise).

use crate::cty::{Number, Refinement, Type, Value, msgpack};

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("test hex"))
        .collect()
}

/// Encodes to exactly `expected`, and decodes `expected` back to `value`.
#[track_caller]
fn golden(value: Value, ty: &Type, expected: &str) {
    let bytes = msgpack::encode(&value, ty).unwrap_or_else(|e| panic!("encode {value:?}: {e}"));
    assert_eq!(
        hex(&bytes),
        hex(&unhex(expected)),
        "encoding {value:?} as {ty}"
    );
    let back = msgpack::decode(&bytes, ty).unwrap_or_else(|e| panic!("decode {expected}: {e}"));
    assert_eq!(back, value, "decoding {expected}");
}

fn num(text: &str) -> Value {
    Value::Number(Number::parse(text).expect("test number"))
}

#[test]
fn null_and_plain_unknown() {
    golden(Value::Null, &Type::String, "c0");
    golden(Value::Null, &Type::list(Type::String), "c0");
    golden(Value::Null, &Type::DynamicPseudoType, "c0");
    golden(Value::unknown(), &Type::String, "d4 00 00");
    golden(
        Value::unknown(),
        &Type::object([("a", Type::Bool)]),
        "d4 00 00",
    );
    golden(Value::unknown(), &Type::DynamicPseudoType, "d4 00 00");
}

#[test]
fn refined_unknowns() {
    // From Terraform's stacks plan fixtures: an unknown, not-null string id.
    golden(
        Value::unknown_not_null(),
        &Type::String,
        "c7 03 0c 81 01 c2",
    );
    golden(
        Value::Unknown(Refinement::not_null().with_string_prefix("abc")),
        &Type::String,
        "d7 0c 82 01 c2 02 a3 61 62 63",
    );
    golden(
        Value::Unknown(Refinement::default().with_string_prefix("foo-")),
        &Type::String,
        "c7 07 0c 81 02 a4 66 6f 6f 2d",
    );
    golden(
        Value::Unknown(Refinement::default().with_number_lower(0, true)),
        &Type::Number,
        "c7 05 0c 81 03 92 00 c3",
    );
    golden(
        Value::Unknown(
            Refinement::not_null()
                .with_number_lower(-1, false)
                .with_number_upper(Number::try_from(2.5).expect("finite"), true),
        ),
        &Type::Number,
        "c7 13 0c 83 01 c2 03 92 ff c2 04 92 cb 40 04 00 00 00 00 00 00 c3",
    );
    golden(
        Value::Unknown(Refinement::default().with_length(1, Some(2))),
        &Type::list(Type::String),
        "c7 05 0c 82 05 01 06 02",
    );
    golden(
        Value::Unknown(Refinement::not_null().with_length(0, Some(300))),
        &Type::map(Type::String),
        "c7 07 0c 82 01 c2 06 cd 01 2c",
    );
    golden(
        Value::Unknown(Refinement::not_null()),
        &Type::object([("a", Type::String)]),
        "c7 03 0c 81 01 c2",
    );
}

#[test]
fn unknown_of_dynamic_type_drops_refinements() {
    let bytes =
        msgpack::encode(&Value::unknown_not_null(), &Type::DynamicPseudoType).expect("encode");
    assert_eq!(bytes, [0xd4, 0, 0]);
    let decoded =
        msgpack::decode(&unhex("c7 03 0c 81 01 c2"), &Type::DynamicPseudoType).expect("decode");
    assert_eq!(decoded, Value::unknown());
}

#[test]
fn integers_use_the_smallest_form() {
    for (n, expected) in [
        (0i64, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "cc 80"),
        (255, "cc ff"),
        (256, "cd 01 00"),
        (65535, "cd ff ff"),
        (65536, "ce 00 01 00 00"),
        (4294967295, "ce ff ff ff ff"),
        (4294967296, "cf 00 00 00 01 00 00 00 00"),
        (i64::MAX, "cf 7f ff ff ff ff ff ff ff"),
        (-1, "ff"),
        (-32, "e0"),
        (-33, "d0 df"),
        (-128, "d0 80"),
        (-129, "d1 ff 7f"),
        (-32768, "d1 80 00"),
        (-32769, "d2 ff ff 7f ff"),
        (-2147483648, "d2 80 00 00 00"),
        (-2147483649, "d3 ff ff ff ff 7f ff ff ff"),
        (i64::MIN, "d3 80 00 00 00 00 00 00 00"),
    ] {
        golden(Value::from(n), &Type::Number, expected);
    }
}

#[test]
fn non_integers_are_float64_or_decimal_strings() {
    golden(
        Value::number(Number::try_from(1.5).expect("finite")),
        &Type::Number,
        "cb 3f f8 00 00 00 00 00 00",
    );
    golden(
        Value::number(Number::try_from(-0.25).expect("finite")),
        &Type::Number,
        "cb bf d0 00 00 00 00 00 00",
    );
    // A float that is a whole number goes out as an integer, as in go-cty.
    let three = msgpack::encode(
        &Value::number(Number::try_from(3.0).expect("finite")),
        &Type::Number,
    )
    .expect("encode");
    assert_eq!(three, [0x03]);
    // 0.8 has no exact binary64, so go-cty writes the decimal text.
    golden(num("0.8"), &Type::Number, "a3 30 2e 38");
    golden(num("-1e-3"), &Type::Number, "a6 2d 30 2e 30 30 31");
    // 2^64 is not an int64 but is an exact binary64.
    golden(
        num("18446744073709551616"),
        &Type::Number,
        "cb 43 f0 00 00 00 00 00 00",
    );
    golden(
        num("18446744073709551615"),
        &Type::Number,
        "b4 31 38 34 34 36 37 34 34 30 37 33 37 30 39 35 35 31 36 31 35",
    );
    let big = "9".repeat(40);
    let expected = format!("d9 28 {}", ["39"; 40].join(" "));
    golden(num(&big), &Type::Number, &expected);
    golden(
        Value::number(Number::infinity()),
        &Type::Number,
        "cb 7f f0 00 00 00 00 00 00",
    );
    golden(
        Value::number(Number::neg_infinity()),
        &Type::Number,
        "cb ff f0 00 00 00 00 00 00",
    );
}

#[test]
fn numbers_decode_from_every_form() {
    let cases = [
        ("cc 05", "5"),
        ("cd 00 05", "5"),
        ("ce 00 00 00 05", "5"),
        ("cf ff ff ff ff ff ff ff ff", "18446744073709551615"),
        ("d0 05", "5"),
        ("d1 00 05", "5"),
        ("d2 00 00 00 05", "5"),
        ("d3 00 00 00 00 00 00 00 05", "5"),
        ("ca 3f c0 00 00", "1.5"),
        ("cb 40 09 21 fb 54 44 2d 18", "3.141592653589793"),
        ("a5 31 65 2b 32 30", "100000000000000000000"),
        ("c4 03 31 2e 35", "1.5"),
    ];
    for (bytes, printed) in cases {
        let v = msgpack::decode(&unhex(bytes), &Type::Number)
            .unwrap_or_else(|e| panic!("{bytes}: {e}"));
        assert_eq!(
            v.as_number().map(Number::to_string).as_deref(),
            Some(printed),
            "{bytes}"
        );
    }
    // A uint64 beyond int64 comes back out as its decimal text.
    let v = msgpack::decode(&unhex("cf ff ff ff ff ff ff ff ff"), &Type::Number).expect("decode");
    let again = msgpack::encode(&v, &Type::Number).expect("encode");
    assert_eq!(again[0], 0xb4);
}

#[test]
fn strings_use_str_forms() {
    golden(Value::string(""), &Type::String, "a0");
    golden(Value::string("hello"), &Type::String, "a5 68 65 6c 6c 6f");
    let s31 = "x".repeat(31);
    golden(
        Value::string(&s31),
        &Type::String,
        &format!("bf {}", ["78"; 31].join(" ")),
    );
    let s32 = "x".repeat(32);
    golden(
        Value::string(&s32),
        &Type::String,
        &format!("d9 20 {}", ["78"; 32].join(" ")),
    );
    let s256 = "y".repeat(256);
    let bytes = msgpack::encode(&Value::string(&s256), &Type::String).expect("encode");
    assert_eq!(&bytes[..3], &[0xda, 0x01, 0x00]);
    golden(Value::string("é"), &Type::String, "a2 c3 a9");
    golden(Value::Bool(true), &Type::Bool, "c3");
    golden(Value::Bool(false), &Type::Bool, "c2");
    // bin is accepted for strings too.
    assert_eq!(
        msgpack::decode(&unhex("c4 01 41"), &Type::String),
        Ok(Value::string("A"))
    );
}

#[test]
fn collections() {
    let strings = || vec![Value::from("a"), Value::from("b")];
    golden(
        Value::list(strings()),
        &Type::list(Type::String),
        "92 a1 61 a1 62",
    );
    golden(
        Value::set(strings()),
        &Type::set(Type::String),
        "92 a1 61 a1 62",
    );
    golden(Value::list(vec![]), &Type::list(Type::String), "90");
    golden(
        Value::list(vec![Value::unknown(), Value::Null]),
        &Type::list(Type::String),
        "92 d4 00 00 c0",
    );
    golden(
        Value::map([("b", Value::from(1)), ("a", Value::from(2))]),
        &Type::map(Type::Number),
        "82 a1 61 02 a1 62 01",
    );
    golden(
        Value::tuple(vec![Value::from("x"), Value::from(1), Value::from(true)]),
        &Type::tuple(vec![Type::String, Type::Number, Type::Bool]),
        "93 a1 78 01 c3",
    );
    golden(Value::tuple(vec![]), &Type::tuple(vec![]), "90");
    let sixteen: Vec<Value> = (0..16).map(Value::from).collect();
    let expected = format!(
        "dc 00 10 {}",
        (0..16)
            .map(|i| format!("{i:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    golden(Value::list(sixteen), &Type::list(Type::Number), &expected);
    let map16 = Value::map((0..16).map(|i| (format!("{i:x}"), Value::Bool(true))));
    let mut expected = "de 00 10".to_string();
    let mut keys: Vec<String> = (0..16).map(|i| format!("{i:x}")).collect();
    keys.sort();
    for k in keys {
        expected.push_str(&format!(" a1 {:02x} c3", k.as_bytes()[0]));
    }
    golden(map16, &Type::map(Type::Bool), &expected);
}

#[test]
fn objects_write_every_attribute_in_order() {
    let ty = Type::object([
        ("b", Type::String),
        ("a", Type::String),
        ("c", Type::Number),
    ]);
    // "b" and "c" are left out and go out as nil.
    let value = Value::object([("a", Value::from("x"))]);
    let bytes = msgpack::encode(&value, &ty).expect("encode");
    assert_eq!(hex(&bytes), "83 a1 61 a1 78 a1 62 c0 a1 63 c0");
    // Decoding fills every attribute in.
    let back = msgpack::decode(&bytes, &ty).expect("decode");
    assert_eq!(
        back,
        Value::object([
            ("a", Value::from("x")),
            ("b", Value::Null),
            ("c", Value::Null)
        ])
    );
    golden(
        Value::object::<[(&str, Value); 0], &str>([]),
        &Type::object::<[(&str, Type); 0], &str>([]),
        "80",
    );
    // A map with attributes left out (Terraform never sends one; other
    // clients may) reads them as null; an undeclared one is refused.
    assert_eq!(
        msgpack::decode(&unhex("81 a1 63 05"), &ty),
        Ok(Value::object([
            ("a", Value::Null),
            ("b", Value::Null),
            ("c", Value::from(5))
        ]))
    );
    assert!(msgpack::decode(&unhex("81 a1 64 05"), &ty).is_err());
}

/// Terraform's own fixture for a planned `terraform_data` object: an unknown
/// not-null id, a dynamic input holding a string, a dynamic output of string
/// type that is unknown, and a null dynamic.
#[test]
fn terraform_data_fixture() {
    let ty = Type::object([
        ("id", Type::String),
        ("input", Type::DynamicPseudoType),
        ("output", Type::DynamicPseudoType),
        ("triggers_replace", Type::DynamicPseudoType),
    ]);
    let value = Value::object([
        ("id", Value::unknown_not_null()),
        ("input", Value::dynamic(Type::String, Value::from("hello"))),
        ("output", Value::dynamic(Type::String, Value::unknown())),
        ("triggers_replace", Value::Null),
    ]);
    let expected = [
        0x84, 0xa2, 0x69, 0x64, 0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2, 0xa5, 0x69, 0x6e, 0x70, 0x75,
        0x74, 0x92, 0xc4, 0x08, 0x22, 0x73, 0x74, 0x72, 0x69, 0x6e, 0x67, 0x22, 0xa5, 0x68, 0x65,
        0x6c, 0x6c, 0x6f, 0xa6, 0x6f, 0x75, 0x74, 0x70, 0x75, 0x74, 0x92, 0xc4, 0x08, 0x22, 0x73,
        0x74, 0x72, 0x69, 0x6e, 0x67, 0x22, 0xd4, 0x00, 0x00, 0xb0, 0x74, 0x72, 0x69, 0x67, 0x67,
        0x65, 0x72, 0x73, 0x5f, 0x72, 0x65, 0x70, 0x6c, 0x61, 0x63, 0x65, 0xc0,
    ];
    assert_eq!(
        hex(&msgpack::encode(&value, &ty).expect("encode")),
        hex(&expected)
    );
    assert_eq!(msgpack::decode(&expected, &ty), Ok(value));
}

#[test]
fn dynamic_values_carry_their_type() {
    // go-cty's round-trip case: list(dynamic) holding a string.
    golden(
        Value::list(vec![Value::dynamic(Type::String, Value::from("hello"))]),
        &Type::list(Type::DynamicPseudoType),
        "91 92 c4 08 22 73 74 72 69 6e 67 22 a5 68 65 6c 6c 6f",
    );
    // A null of a known type is not a null of unknown type.
    golden(
        Value::dynamic(Type::String, Value::Null),
        &Type::DynamicPseudoType,
        "92 c4 08 22 73 74 72 69 6e 67 22 c0",
    );
    let obj_ty = Type::object([("n", Type::Number), ("s", Type::list(Type::String))]);
    let type_json = br#"["object",{"n":"number","s":["list","string"]}]"#;
    let mut expected = vec![0x92, 0xc4, type_json.len() as u8];
    expected.extend_from_slice(type_json);
    expected.extend_from_slice(&[0x82, 0xa1, b'n', 0x07, 0xa1, b's', 0x91, 0xa1, b'z']);
    let value = Value::dynamic(
        obj_ty,
        Value::object([
            ("n", Value::from(7)),
            ("s", Value::list(vec![Value::from("z")])),
        ]),
    );
    golden(value, &Type::DynamicPseudoType, &hex(&expected));
    // A type sent as str rather than bin is read too.
    let mut as_str = vec![0x92, 0xa8];
    as_str.extend_from_slice(b"\"string\"");
    as_str.extend_from_slice(&[0xa1, b'q']);
    assert_eq!(
        msgpack::decode(&as_str, &Type::DynamicPseudoType),
        Ok(Value::dynamic(Type::String, Value::from("q")))
    );
}

#[test]
fn any_short_extension_is_the_plain_unknown() {
    for bytes in [
        "d4 05 07",
        "c7 00 00",
        "c7 00 63",
        "d4 0c 00",
        "c7 01 7f 01",
    ] {
        assert_eq!(
            msgpack::decode(&unhex(bytes), &Type::Number),
            Ok(Value::unknown()),
            "{bytes}"
        );
    }
}

#[test]
fn refinement_decoding_follows_go_cty() {
    // Unknown keys are skipped, trailing payload bytes ignored.
    let v =
        msgpack::decode(&unhex("c7 08 0c 82 09 92 01 02 01 c2 ff"), &Type::String).expect("decode");
    assert_eq!(v, Value::unknown_not_null());
    // "Definitely null" collapses to null.
    assert_eq!(
        msgpack::decode(&unhex("c7 03 0c 81 01 c3"), &Type::String),
        Ok(Value::Null)
    );
    // A longer extension of another type is not a refinement.
    assert!(msgpack::decode(&unhex("d5 03 00 00"), &Type::String).is_err());
    // Refinements must apply to the type.
    assert!(msgpack::decode(&unhex("c7 05 0c 81 02 a2 61 62"), &Type::Number).is_err());
    assert!(msgpack::decode(&unhex("c7 03 0c 81 05 01"), &Type::String).is_err());
    assert!(msgpack::decode(&unhex("c7 05 0c 81 03 92 00 c3"), &Type::String).is_err());
    // Number bounds may be in any number form, including decimal text.
    let v =
        msgpack::decode(&unhex("c7 08 0c 81 04 92 a3 30 2e 31 c2"), &Type::Number).expect("decode");
    assert_eq!(
        v,
        Value::Unknown(
            Refinement::default().with_number_upper(Number::parse("0.1").expect("number"), false)
        )
    );
}

#[test]
fn decoding_rejects_malformed_bytes() {
    for bytes in [
        "",
        "a5 68 65",
        "92 a1 61",
        "c1",
        "dc 00 10 01",
        "a1 61 a1 62",
        "c4 02 ff fe",
    ] {
        assert!(
            msgpack::decode(&unhex(bytes), &Type::String).is_err(),
            "{bytes:?}"
        );
    }
}
