//! Property tests: random types, random values of them (nulls, unknowns with
//! random refinements, nested collections, dynamic values), through both
//! codecs and back.

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use crate::cty::{Number, NumberBound, Refinement, Type, Value, json, msgpack};

/// What a generated value may contain.
#[derive(Clone, Copy)]
struct Shape {
    /// Unknown values (msgpack only).
    unknowns: bool,
    /// Any binary64, including infinities and subnormals (msgpack only).
    /// Otherwise only binary64 values whose shortest decimal is exact.
    any_float: bool,
}

const MSGPACK: Shape = Shape {
    unknowns: true,
    any_float: true,
};
const JSON: Shape = Shape {
    unknowns: false,
    any_float: false,
};

fn attr_name() -> impl Strategy<Value = String> {
    // Includes characters that need escaping in JSON.
    "[a-z_<>&\"\\\\é\u{2028}]{0,5}"
}

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::Bool),
        Just(Type::Number),
        Just(Type::String),
        Just(Type::DynamicPseudoType),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            vec(inner.clone(), 0..3).prop_map(Type::Tuple),
            (btree_map(attr_name(), inner, 0..4), any::<u8>()).prop_map(|(attrs, mask)| {
                let optional: BTreeSet<String> = attrs
                    .keys()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, k)| k.clone())
                    .collect();
                Type::Object { attrs, optional }
            }),
        ]
    })
}

fn arb_number(shape: Shape) -> BoxedStrategy<Number> {
    let decimal =
        (any::<bool>(), "[1-9][0-9]{0,30}", -40i64..40).prop_map(|(negative, digits, exp)| {
            let sign = if negative { "-" } else { "" };
            Number::parse(&format!("{sign}{digits}e{exp}")).expect("generated decimal")
        });
    let float = if shape.any_float {
        any::<f64>()
            .prop_filter_map("not NaN", Number::from_f64)
            .boxed()
    } else {
        // At most 15 significant digits: the shortest decimal is the exact one.
        (any::<i16>(), 0i32..11)
            .prop_map(|(m, k)| Number::from_f64(f64::from(m) / 2f64.powi(k)).expect("finite"))
            .boxed()
    };
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        decimal,
        float,
    ]
    .boxed()
}

fn arb_refinement(ty: &Type, shape: Shape) -> BoxedStrategy<Refinement> {
    let not_null = any::<bool>();
    match ty {
        Type::DynamicPseudoType => Just(Refinement::default()).boxed(),
        Type::String => (not_null, "[a-zé-]{0,4}")
            .prop_map(|(not_null, prefix)| Refinement {
                not_null,
                string_prefix: prefix,
                ..Refinement::default()
            })
            .boxed(),
        Type::Number => {
            let bound = || {
                proptest::option::of((arb_number(shape), any::<bool>()))
                    .prop_map(|b| b.map(|(value, inclusive)| NumberBound { value, inclusive }))
            };
            (not_null, bound(), bound())
                .prop_map(|(not_null, number_lower, number_upper)| Refinement {
                    not_null,
                    number_lower,
                    number_upper,
                    ..Refinement::default()
                })
                .boxed()
        }
        Type::List(_) | Type::Set(_) | Type::Map(_) => {
            (not_null, 0u64..5, proptest::option::of(0u64..400))
                .prop_map(|(not_null, length_lower, length_upper)| Refinement {
                    not_null,
                    length_lower,
                    length_upper,
                    ..Refinement::default()
                })
                .boxed()
        }
        _ => not_null
            .prop_map(|not_null| Refinement {
                not_null,
                ..Refinement::default()
            })
            .boxed(),
    }
}

/// A value conforming to `ty`. `budget` limits how many dynamic values nest.
fn arb_value(ty: &Type, shape: Shape, budget: u32) -> BoxedStrategy<Value> {
    let mut options: Vec<(u32, BoxedStrategy<Value>)> = vec![(1, Just(Value::Null).boxed())];
    if shape.unknowns {
        options.push((
            1,
            arb_refinement(ty, shape).prop_map(Value::Unknown).boxed(),
        ));
    }
    if let Some(known) = arb_known(ty, shape, budget) {
        options.push((4, known));
    }
    proptest::strategy::Union::new_weighted(options).boxed()
}

fn arb_known(ty: &Type, shape: Shape, budget: u32) -> Option<BoxedStrategy<Value>> {
    Some(match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => arb_number(shape).prop_map(Value::Number).boxed(),
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::List(e) => vec(arb_value(e, shape, budget), 0..3)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(e) => vec(arb_value(e, shape, budget), 0..3)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(e) => btree_map(".{0,4}", arb_value(e, shape, budget), 0..3)
            .prop_map(Value::Map)
            .boxed(),
        Type::Tuple(elems) => elems
            .iter()
            .map(|e| arb_value(e, shape, budget))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Object { attrs, .. } => attrs
            .iter()
            .map(|(name, t)| {
                let name = name.clone();
                arb_value(t, shape, budget)
                    .prop_map(move |v| (name.clone(), v))
                    .boxed()
            })
            .collect::<Vec<_>>()
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<BTreeMap<_, _>>()))
            .boxed(),
        Type::DynamicPseudoType => {
            if budget == 0 {
                return None;
            }
            arb_type()
                .prop_filter("a concrete type", |t| *t != Type::DynamicPseudoType)
                .prop_flat_map(move |real| {
                    arb_value(&real, shape, budget - 1)
                        .prop_map(move |v| Value::dynamic(real.clone(), v))
                })
                .boxed()
        }
    })
}

fn typed_value(shape: Shape) -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(move |ty| {
        let value = arb_value(&ty, shape, 2);
        (Just(ty), value)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn msgpack_round_trips((ty, value) in typed_value(MSGPACK)) {
        prop_assert_eq!(value.conforms_to(&ty), Ok(()));
        let bytes = msgpack::encode(&value, &ty).expect("encode");
        let back = msgpack::decode(&bytes, &ty).expect("decode");
        prop_assert_eq!(&back, &value);
        // Encoding is stable: what we read we write back identically.
        prop_assert_eq!(msgpack::encode(&back, &ty).expect("re-encode"), bytes);
    }

    #[test]
    fn json_round_trips((ty, value) in typed_value(JSON)) {
        prop_assert!(value.is_wholly_known());
        let bytes = json::encode(&value, &ty).expect("encode");
        let back = json::decode(&bytes, &ty).expect("decode");
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(json::encode(&back, &ty).expect("re-encode"), bytes);
    }

    #[test]
    fn json_and_msgpack_agree((ty, value) in typed_value(JSON)) {
        let via_json = json::decode(&json::encode(&value, &ty).expect("json"), &ty).expect("json back");
        let via_msgpack = msgpack::decode(&msgpack::encode(&value, &ty).expect("msgpack"), &ty).expect("msgpack back");
        prop_assert_eq!(via_json, via_msgpack);
    }

    #[test]
    fn encode_checks_exactly_what_conforms_to_checks(
        (_, value) in typed_value(MSGPACK),
        other in arb_type(),
    ) {
        let checked = value.conforms_to(&other);
        let encoded = msgpack::encode(&value, &other);
        match (checked, encoded) {
            (Ok(()), Ok(_)) => {}
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "conforms_to {:?} but encode {:?}", a, b.map(|_| ())),
        }
    }

    #[test]
    fn decoders_never_panic(ty in arb_type(), bytes in vec(any::<u8>(), 0..64)) {
        let _ = msgpack::decode(&bytes, &ty);
        let _ = json::decode(&bytes, &ty);
    }

    #[test]
    fn truncated_msgpack_is_an_error((ty, value) in typed_value(MSGPACK)) {
        let bytes = msgpack::encode(&value, &ty).expect("encode");
        for cut in 0..bytes.len() {
            prop_assert!(msgpack::decode(&bytes[..cut], &ty).is_err(), "cut at {}", cut);
        }
    }

    #[test]
    fn integers_survive_text(n in any::<i64>()) {
        let number = Number::from(n);
        prop_assert_eq!(number.as_i64(), Some(n));
        prop_assert_eq!(Number::parse(&n.to_string()).expect("parse"), number.clone());
        prop_assert_eq!(number.to_string(), n.to_string());
    }

    #[test]
    fn numbers_order_like_floats(a in any::<f64>(), b in any::<f64>()) {
        prop_assume!(!a.is_nan() && !b.is_nan());
        let (na, nb) = (Number::from_f64(a).expect("a"), Number::from_f64(b).expect("b"));
        prop_assert_eq!(Some(na.cmp(&nb)), a.partial_cmp(&b));
        prop_assert_eq!(na.as_f64(), if a == 0.0 { 0.0 } else { a });
    }

    #[test]
    fn decimals_print_and_parse_back(n in arb_number(JSON)) {
        prop_assert_eq!(Number::parse(&n.to_string()).expect("parse"), n);
    }
}
