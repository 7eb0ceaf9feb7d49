//! Reading and writing the top-level attributes of a resource's object value (its
//! configuration, planned state or state), with one meaning of null and unknown for every
//! resource.
//!
//! This module owns the helpers only; what an attribute means belongs to the resource that
//! declares it. It must not know any attribute name.
//!
//! # What null, unknown and a wrong type read as
//! - The getters ([`str_of`], [`bool_of`], [`i64_of`], [`map_of`], [`list_of`]) return `Some`
//!   only for a known value of the type they read. Null, unknown (refined or not), an absent
//!   attribute and a value of another type all read as `None`, so a getter cannot tell "unset"
//!   from "not yet known": ask [`is_unknown`] first where that matters (plan time).
//! - A collection reads as `None` as a whole when any element is not a known string: a
//!   half-known map is not a smaller map.
//! - [`is_unknown`] is true when the attribute is unknown or holds an unknown anywhere inside
//!   (a map with one unknown entry is unknown). An attribute of an unknown object is unknown.
//! - [`is_null`] is true when the attribute is null or absent (the codecs write an absent
//!   attribute as null), and for every attribute of a null object or of a value that is not an
//!   object. An unknown is never null: it is not known yet, even without a "not null"
//!   refinement.
//! - `Dynamic` wrappers are looked through everywhere.
//! - [`Attr`] holds one attribute in a resource's typed model: known, null, or unknown kept
//!   exactly as Terraform gave it.

use std::collections::BTreeMap;

use crate::cty::Value;

/// The attribute as a known string.
pub fn str_of(v: &Value, name: &str) -> Option<String> {
    v.get_attr(name).and_then(Value::as_str).map(str::to_owned)
}

/// The attribute as a known bool.
pub fn bool_of(v: &Value, name: &str) -> Option<bool> {
    v.get_attr(name).and_then(Value::as_bool)
}

/// The attribute as a known whole number that fits an `i64`.
pub fn i64_of(v: &Value, name: &str) -> Option<i64> {
    v.get_attr(name).and_then(Value::as_i64)
}

/// The attribute as a known map of known strings.
pub fn map_of(v: &Value, name: &str) -> Option<BTreeMap<String, String>> {
    let entries = v.get_attr(name)?.as_map()?;
    entries
        .iter()
        .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect()
}

/// The attribute as a known list (or set) of known strings, in its order.
pub fn list_of(v: &Value, name: &str) -> Option<Vec<String>> {
    let items = v.get_attr(name)?.as_elements()?;
    items
        .iter()
        .map(|i| i.as_str().map(str::to_owned))
        .collect()
}

/// Whether the attribute is unknown or holds an unknown anywhere inside.
pub fn is_unknown(v: &Value, name: &str) -> bool {
    match v.unwrap_dynamic() {
        Value::Unknown(_) => true,
        _ => v.get_attr(name).is_some_and(|a| !a.is_wholly_known()),
    }
}

/// Whether the attribute is null (or absent, or of a null object).
pub fn is_null(v: &Value, name: &str) -> bool {
    match v.unwrap_dynamic() {
        Value::Unknown(_) => false,
        _ => v.get_attr(name).is_none_or(Value::is_null),
    }
}

/// A known string, or null for `None`.
pub fn string_or_null(v: Option<&str>) -> Value {
    v.map(Value::string).unwrap_or(Value::Null)
}

/// A known map of known strings.
pub fn strings_value(map: &BTreeMap<String, String>) -> Value {
    Value::Map(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::string(v)))
            .collect(),
    )
}

/// A known list of known strings.
pub fn string_list_value(items: &[String]) -> Value {
    Value::List(items.iter().map(Value::string).collect())
}

/// One attribute of a typed model as Terraform holds it: null, a known value of the model's
/// type, or anything else kept exactly as it came (an unknown, refined or not; a collection
/// holding an unknown or a null element; an object only partly known). A model read with
/// [`Attr::from_value`] writes the very same value back with [`Attr::to_value`], so a plan built
/// from Terraform's proposal never changes what the configuration says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Attr<T> {
    #[default]
    Null,
    Known(T),
    Other(Value),
}

/// A Rust type an [`Attr`] holds: read from a wholly known value, written back as one.
pub trait AttrValue: Sized {
    /// `None` when the value is not of this type.
    fn read(v: &Value) -> Option<Self>;
    fn write(&self) -> Value;
}

impl AttrValue for String {
    fn read(v: &Value) -> Option<Self> {
        v.as_str().map(str::to_owned)
    }
    fn write(&self) -> Value {
        Value::string(self)
    }
}

impl AttrValue for bool {
    fn read(v: &Value) -> Option<Self> {
        v.as_bool()
    }
    fn write(&self) -> Value {
        Value::Bool(*self)
    }
}

impl AttrValue for Vec<String> {
    fn read(v: &Value) -> Option<Self> {
        v.as_elements()?
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect()
    }
    fn write(&self) -> Value {
        string_list_value(self)
    }
}

impl AttrValue for i64 {
    fn read(v: &Value) -> Option<Self> {
        v.as_i64()
    }
    fn write(&self) -> Value {
        Value::number(*self)
    }
}

/// A secret attribute (a registry token): its `Debug` stays redacted inside a model.
impl AttrValue for galley_oci::auth::Secret {
    fn read(v: &Value) -> Option<Self> {
        v.as_str()
            .map(|s| galley_oci::auth::Secret::new(s.to_owned()))
    }
    fn write(&self) -> Value {
        Value::string(self.expose())
    }
}

impl AttrValue for BTreeMap<String, String> {
    fn read(v: &Value) -> Option<Self> {
        v.as_map()?
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect()
    }
    fn write(&self) -> Value {
        strings_value(self)
    }
}

impl<T: AttrValue> Attr<T> {
    /// The attribute `name` of the object `v` (absent, or of a null object: null; of an
    /// unknown object: unknown).
    pub fn of(v: &Value, name: &str) -> Self {
        match v.unwrap_dynamic() {
            Value::Unknown(_) => Self::unknown(),
            _ => Self::from_value(v.get_attr(name).unwrap_or(&Value::Null)),
        }
    }

    /// `Known` only when `v` is wholly known, of the type, and written back unchanged.
    pub fn from_value(v: &Value) -> Self {
        if v.is_null() {
            return Attr::Null;
        }
        match T::read(v).filter(|t| v.is_wholly_known() && t.write() == *v) {
            Some(t) => Attr::Known(t),
            None => Attr::Other(v.clone()),
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Attr::Null => Value::Null,
            Attr::Known(t) => t.write(),
            Attr::Other(v) => v.clone(),
        }
    }

    /// Not known until apply.
    pub fn unknown() -> Self {
        Attr::Other(Value::unknown())
    }

    /// `Known` for `Some`, null for `None`.
    pub fn from_option(value: Option<T>) -> Self {
        value.map_or(Attr::Null, Attr::Known)
    }

    pub fn known(&self) -> Option<&T> {
        match self {
            Attr::Known(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Attr::Null)
    }

    /// Unknown, or holding an unknown anywhere inside.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Attr::Other(v) if !v.is_wholly_known())
    }
}

impl Attr<String> {
    pub fn as_deref(&self) -> Option<&str> {
        self.known().map(String::as_str)
    }
}

/// Terraform's proposed new state as PlanResourceChange receives it, for tests that call
/// `plan` directly: the configuration, with the prior value of every computed attribute the
/// configuration leaves null.
#[cfg(test)]
pub(crate) fn proposed_new_state(
    block: &crate::schema::Block,
    prior: &Value,
    config: &Value,
) -> Value {
    let mut proposed = config.clone();
    if let Some(p) = prior.as_map() {
        for (k, v) in p {
            let computed = block.attribute(k).is_some_and(|a| a.computed);
            if computed && is_null(config, k) {
                proposed.set_attr(k, v.clone());
            }
        }
    }
    proposed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::{Number, Refinement, Type};
    use crate::schema::{Attribute, Block, Presence};

    fn obj(attrs: &[(&str, Value)]) -> Value {
        Value::object(attrs.iter().map(|(k, v)| (*k, v.clone())))
    }

    fn refined() -> Value {
        Value::Unknown(Refinement::not_null().with_string_prefix("ocid1."))
    }

    #[test]
    fn getters_read_only_known_values_of_their_type() {
        let v = obj(&[
            ("s", Value::string("x")),
            ("b", Value::Bool(true)),
            ("n", Value::number(42)),
            ("m", Value::map([("k", Value::string("v"))])),
            (
                "l",
                Value::list(vec![Value::string("a"), Value::string("b")]),
            ),
            ("set", Value::set(vec![Value::string("c")])),
            ("d", Value::dynamic(Type::String, Value::string("dyn"))),
        ]);
        assert_eq!(str_of(&v, "s").as_deref(), Some("x"));
        assert_eq!(str_of(&v, "d").as_deref(), Some("dyn"));
        assert_eq!(bool_of(&v, "b"), Some(true));
        assert_eq!(i64_of(&v, "n"), Some(42));
        assert_eq!(
            map_of(&v, "m"),
            Some(BTreeMap::from([("k".to_string(), "v".to_string())]))
        );
        assert_eq!(list_of(&v, "l"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(list_of(&v, "set"), Some(vec!["c".into()]));
    }

    #[test]
    fn null_unknown_refined_absent_and_wrong_type_read_as_none() {
        for value in [Value::Null, Value::unknown(), refined(), Value::Bool(false)] {
            let v = obj(&[("a", value.clone())]);
            assert_eq!(str_of(&v, "a"), None, "{value:?}");
            assert_eq!(map_of(&v, "a"), None, "{value:?}");
            assert_eq!(list_of(&v, "a"), None, "{value:?}");
            assert_eq!(i64_of(&v, "a"), None, "{value:?}");
        }
        let v = obj(&[
            ("s", Value::string("x")),
            ("f", Value::Number(Number::parse("1.5").unwrap())),
        ]);
        assert_eq!(str_of(&v, "absent"), None);
        assert_eq!(bool_of(&v, "s"), None);
        assert_eq!(i64_of(&v, "s"), None);
        assert_eq!(i64_of(&v, "f"), None, "not a whole number");
        // Attributes of something that is not a known object.
        for outer in [Value::Null, Value::unknown(), Value::string("x")] {
            assert_eq!(str_of(&outer, "s"), None, "{outer:?}");
        }
    }

    #[test]
    fn a_collection_with_one_bad_element_reads_as_none() {
        for bad in [Value::Null, Value::unknown(), Value::Bool(true)] {
            let v = obj(&[
                (
                    "m",
                    Value::map([("k", Value::string("v")), ("x", bad.clone())]),
                ),
                ("l", Value::list(vec![Value::string("a"), bad.clone()])),
            ]);
            assert_eq!(map_of(&v, "m"), None, "{bad:?}");
            assert_eq!(list_of(&v, "l"), None, "{bad:?}");
        }
    }

    #[test]
    fn is_unknown_looks_inside_collections_and_objects() {
        let v = obj(&[
            ("u", Value::unknown()),
            ("r", refined()),
            ("m", Value::map([("k", Value::unknown())])),
            ("o", obj(&[("inner", Value::unknown())])),
            ("known", Value::map([("k", Value::string("v"))])),
            ("null", Value::Null),
        ]);
        for name in ["u", "r", "m", "o"] {
            assert!(is_unknown(&v, name), "{name}");
        }
        for name in ["known", "null", "absent"] {
            assert!(!is_unknown(&v, name), "{name}");
        }
        assert!(
            is_unknown(&Value::unknown(), "a"),
            "attribute of an unknown object"
        );
        assert!(!is_unknown(&Value::Null, "a"), "attribute of a null object");
        assert!(!is_unknown(&Value::string("x"), "a"), "not an object");
    }

    #[test]
    fn is_null_counts_absent_but_never_unknown() {
        let v = obj(&[
            ("null", Value::Null),
            ("u", Value::unknown()),
            ("r", Value::unknown_not_null()),
            ("s", Value::string("")),
            ("d", Value::dynamic(Type::String, Value::Null)),
        ]);
        assert!(is_null(&v, "null"));
        assert!(is_null(&v, "absent"));
        assert!(is_null(&v, "d"));
        assert!(!is_null(&v, "u"));
        assert!(!is_null(&v, "r"));
        assert!(!is_null(&v, "s"), "an empty string is a value");
        assert!(is_null(&Value::Null, "a"), "attribute of a null object");
        assert!(
            !is_null(&Value::unknown(), "a"),
            "attribute of an unknown object"
        );
        assert!(is_null(&Value::string("x"), "a"), "not an object");
    }

    #[test]
    fn writers_build_known_values_or_null() {
        assert_eq!(string_or_null(Some("a")), Value::string("a"));
        assert_eq!(string_or_null(None), Value::Null);
        let m = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let v = obj(&[("m", strings_value(&m))]);
        assert_eq!(map_of(&v, "m"), Some(m));
        assert_eq!(
            string_list_value(&["a".into(), "b".into()]),
            Value::list(vec![Value::string("a"), Value::string("b")])
        );
        assert_eq!(strings_value(&BTreeMap::new()), Value::Map(BTreeMap::new()));
    }

    #[test]
    fn a_typed_attribute_writes_back_exactly_what_it_read() {
        let partly_unknown = Value::map([("a", Value::string("x")), ("b", Value::unknown())]);
        let null_element = Value::map([("a", Value::Null)]);
        let v = obj(&[
            ("s", Value::string("x")),
            ("m", Value::map([("k", Value::string("v"))])),
            ("partly", partly_unknown.clone()),
            ("null_element", null_element.clone()),
            ("refined", refined()),
            ("null", Value::Null),
        ]);
        let s = Attr::<String>::of(&v, "s");
        assert_eq!(s.as_deref(), Some("x"));
        let m = Attr::<BTreeMap<String, String>>::of(&v, "m");
        assert_eq!(m.known().map(|m| m["k"].as_str()), Some("v"));
        for name in ["partly", "null_element", "refined"] {
            let a = Attr::<BTreeMap<String, String>>::of(&v, name);
            assert_eq!(a.known(), None, "{name}");
            assert_eq!(&a.to_value(), v.get_attr(name).unwrap(), "{name}");
        }
        assert!(Attr::<BTreeMap<String, String>>::of(&v, "partly").is_unknown());
        assert!(!Attr::<BTreeMap<String, String>>::of(&v, "null_element").is_unknown());
        assert!(Attr::<String>::of(&v, "refined").is_unknown());
        for name in ["null", "absent"] {
            let a = Attr::<String>::of(&v, name);
            assert!(a.is_null() && !a.is_unknown(), "{name}");
            assert_eq!(a.to_value(), Value::Null);
        }
        assert!(Attr::<String>::of(&Value::unknown(), "s").is_unknown());
        assert!(Attr::<String>::of(&Value::Null, "s").is_null());
        // A value of another type is kept, not read.
        assert_eq!(Attr::<bool>::of(&v, "s"), Attr::Other(Value::string("x")));
        assert_eq!(Attr::from_option(Some(true)).to_value(), Value::Bool(true));
        assert_eq!(Attr::<bool>::from_option(None), Attr::Null);
    }

    #[test]
    fn proposed_state_keeps_prior_computed_values_the_config_leaves_unset() {
        let block = Block {
            attributes: vec![
                Attribute::new("name", Type::String, Presence::Required, ""),
                Attribute::new("id", Type::String, Presence::Computed, ""),
                Attribute::new("mode", Type::String, Presence::OptionalComputed, ""),
                Attribute::new("note", Type::String, Presence::Optional, ""),
            ],
            ..Default::default()
        };
        let prior = obj(&[
            ("name", Value::string("old")),
            ("id", Value::string("i-1")),
            ("mode", Value::string("fast")),
            ("note", Value::string("kept?")),
        ]);
        let config = obj(&[
            ("name", Value::string("new")),
            ("id", Value::Null),
            ("mode", Value::Null),
            ("note", Value::Null),
        ]);
        let p = proposed_new_state(&block, &prior, &config);
        assert_eq!(str_of(&p, "name").as_deref(), Some("new"));
        assert_eq!(str_of(&p, "id").as_deref(), Some("i-1"));
        assert_eq!(str_of(&p, "mode").as_deref(), Some("fast"));
        assert!(
            is_null(&p, "note"),
            "an optional, non-computed attribute follows config"
        );
        let created = proposed_new_state(&block, &Value::Null, &config);
        assert_eq!(created, config);
    }
}
