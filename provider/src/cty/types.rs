//! cty types and their JSON form (the bytes of `Schema.Attribute.type`, and
//! the type half of every dynamically typed value on the wire).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::error::{CodecError, ErrorKind, Path};
use super::jsontext::{self, Json};

/// A type of Terraform's type system (go-cty's `cty.Type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Number,
    String,
    /// "Any type, decided at run time"; values of it carry their real type.
    DynamicPseudoType,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    /// An object type. `optional` names attributes that a type constraint
    /// allows to be omitted; every name in it must be a key of `attrs`.
    Object {
        attrs: BTreeMap<String, Type>,
        optional: BTreeSet<String>,
    },
}

impl Type {
    /// `list(element)`.
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    /// `set(element)`.
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    /// `map(element)`.
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// `tuple([elements...])`.
    pub fn tuple(elements: Vec<Type>) -> Type {
        Type::Tuple(elements)
    }

    /// `object({name = type, ...})` with no optional attributes.
    pub fn object<I, K>(attrs: I) -> Type
    where
        I: IntoIterator<Item = (K, Type)>,
        K: Into<String>,
    {
        Type::Object {
            attrs: attrs.into_iter().map(|(k, t)| (k.into(), t)).collect(),
            optional: BTreeSet::new(),
        }
    }

    /// An object type constraint whose `optional` attributes may be omitted.
    pub fn object_with_optional<I, K, O, N>(attrs: I, optional: O) -> Type
    where
        I: IntoIterator<Item = (K, Type)>,
        K: Into<String>,
        O: IntoIterator<Item = N>,
        N: Into<String>,
    {
        Type::Object {
            attrs: attrs.into_iter().map(|(k, t)| (k.into(), t)).collect(),
            optional: optional.into_iter().map(Into::into).collect(),
        }
    }

    /// The element type of a list, set or map.
    pub fn element_type(&self) -> Option<&Type> {
        match self {
            Type::List(e) | Type::Set(e) | Type::Map(e) => Some(e),
            _ => None,
        }
    }

    /// The type of an object attribute.
    pub fn attribute_type(&self, name: &str) -> Option<&Type> {
        match self {
            Type::Object { attrs, .. } => attrs.get(name),
            _ => None,
        }
    }

    /// Whether this is a list, set or map type.
    pub fn is_collection(&self) -> bool {
        matches!(self, Type::List(_) | Type::Set(_) | Type::Map(_))
    }

    /// Whether `DynamicPseudoType` appears anywhere in this type.
    pub fn has_dynamic(&self) -> bool {
        match self {
            Type::DynamicPseudoType => true,
            Type::Bool | Type::Number | Type::String => false,
            Type::List(e) | Type::Set(e) | Type::Map(e) => e.has_dynamic(),
            Type::Tuple(elems) => elems.iter().any(Type::has_dynamic),
            Type::Object { attrs, .. } => attrs.values().any(Type::has_dynamic),
        }
    }

    /// A short human name, as go-cty's `FriendlyName` gives:
    /// `string`, `list of string`, `object`, `dynamic`.
    pub fn friendly_name(&self) -> String {
        match self {
            Type::Bool => "bool".into(),
            Type::Number => "number".into(),
            Type::String => "string".into(),
            Type::DynamicPseudoType => "dynamic".into(),
            Type::List(e) => format!("list of {}", e.friendly_name()),
            Type::Set(e) => format!("set of {}", e.friendly_name()),
            Type::Map(e) => format!("map of {}", e.friendly_name()),
            Type::Tuple(_) => "tuple".into(),
            Type::Object { .. } => "object".into(),
        }
    }

    /// The compact JSON form Terraform expects, byte for byte as go-cty writes
    /// it: `"string"`, `["list","string"]`, `["object",{"a":"string"}]`,
    /// `["object",{"a":"string","b":"number"},["b"]]`, `["tuple",["bool"]]`,
    /// `"dynamic"`. Attribute names are sorted.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    pub(crate) fn write_json(&self, out: &mut String) {
        match self {
            Type::Bool => out.push_str("\"bool\""),
            Type::Number => out.push_str("\"number\""),
            Type::String => out.push_str("\"string\""),
            Type::DynamicPseudoType => out.push_str("\"dynamic\""),
            Type::List(e) | Type::Set(e) | Type::Map(e) => {
                out.push_str(match self {
                    Type::List(_) => "[\"list\",",
                    Type::Set(_) => "[\"set\",",
                    _ => "[\"map\",",
                });
                e.write_json(out);
                out.push(']');
            }
            Type::Tuple(elems) => {
                out.push_str("[\"tuple\",[");
                for (i, e) in elems.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    e.write_json(out);
                }
                out.push_str("]]");
            }
            Type::Object { attrs, optional } => {
                out.push_str("[\"object\",{");
                for (i, (name, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    jsontext::write_string(out, name);
                    out.push(':');
                    t.write_json(out);
                }
                out.push('}');
                if !optional.is_empty() {
                    out.push_str(",[");
                    for (i, name) in optional.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        jsontext::write_string(out, name);
                    }
                    out.push(']');
                }
                out.push(']');
            }
        }
    }

    /// Reads a type from its JSON form (whitespace allowed).
    pub fn from_json(bytes: &[u8]) -> Result<Type, CodecError> {
        let doc = jsontext::parse(bytes).map_err(|e| {
            CodecError::new(
                &Path::root(),
                ErrorKind::InvalidType(format!(
                    "malformed JSON at byte {}: {}",
                    e.offset, e.message
                )),
            )
        })?;
        Type::from_json_value(&doc)
            .map_err(|message| CodecError::new(&Path::root(), ErrorKind::InvalidType(message)))
    }

    pub(crate) fn from_json_value(doc: &Json) -> Result<Type, String> {
        match doc {
            Json::String(name) => match name.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::DynamicPseudoType),
                other => Err(format!("unknown primitive type {other:?}")),
            },
            Json::Array(items) => {
                let Some(Json::String(kind)) = items.first() else {
                    return Err("a complex type must start with its kind name".into());
                };
                let args = &items[1..];
                match (kind.as_str(), args) {
                    ("list", [e]) => Ok(Type::list(Type::from_json_value(e)?)),
                    ("set", [e]) => Ok(Type::set(Type::from_json_value(e)?)),
                    ("map", [e]) => Ok(Type::map(Type::from_json_value(e)?)),
                    ("tuple", [Json::Array(elems)]) => Ok(Type::Tuple(
                        elems
                            .iter()
                            .map(Type::from_json_value)
                            .collect::<Result<_, _>>()?,
                    )),
                    ("object", [Json::Object(members)]) => object_from_json(members, None),
                    ("object", [Json::Object(members), Json::Array(optional)]) => {
                        object_from_json(members, Some(optional))
                    }
                    ("list" | "set" | "map" | "tuple" | "object", _) => {
                        Err(format!("wrong arguments for a {kind} type"))
                    }
                    (other, _) => Err(format!("unknown type kind {other:?}")),
                }
            }
            other => Err(format!(
                "a type must be a string or an array, found {}",
                other.kind_name()
            )),
        }
    }
}

fn object_from_json(
    members: &[(String, Json)],
    optional: Option<&Vec<Json>>,
) -> Result<Type, String> {
    let mut attrs = BTreeMap::new();
    for (name, t) in members {
        attrs.insert(name.clone(), Type::from_json_value(t)?);
    }
    let mut optional_names = BTreeSet::new();
    for item in optional.into_iter().flatten() {
        let Json::String(name) = item else {
            return Err("optional attribute names must be strings".into());
        };
        if !attrs.contains_key(name) {
            return Err(format!(
                "optional attribute {name:?} is not an attribute of the object"
            ));
        }
        optional_names.insert(name.clone());
    }
    Ok(Type::Object {
        attrs,
        optional: optional_names,
    })
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.friendly_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden() -> Vec<(Type, &'static str)> {
        vec![
            (Type::String, r#""string""#),
            (Type::Number, r#""number""#),
            (Type::Bool, r#""bool""#),
            (Type::DynamicPseudoType, r#""dynamic""#),
            (Type::list(Type::String), r#"["list","string"]"#),
            (Type::set(Type::Number), r#"["set","number"]"#),
            (
                Type::map(Type::list(Type::Bool)),
                r#"["map",["list","bool"]]"#,
            ),
            (
                Type::object([("b", Type::map(Type::Number)), ("a", Type::String)]),
                r#"["object",{"a":"string","b":["map","number"]}]"#,
            ),
            (
                Type::object_with_optional(
                    [("b", Type::Number), ("a", Type::String), ("c", Type::Bool)],
                    ["c", "b"],
                ),
                r#"["object",{"a":"string","b":"number","c":"bool"},["b","c"]]"#,
            ),
            (
                Type::tuple(vec![Type::Bool, Type::DynamicPseudoType]),
                r#"["tuple",["bool","dynamic"]]"#,
            ),
            (Type::tuple(vec![]), r#"["tuple",[]]"#),
            (
                Type::object::<[(&str, Type); 0], &str>([]),
                r#"["object",{}]"#,
            ),
            (
                Type::set(Type::object([("a<b", Type::String)])),
                r#"["set",["object",{"a\u003cb":"string"}]]"#,
            ),
        ]
    }

    #[test]
    fn writes_golden_type_json() {
        for (t, json) in golden() {
            assert_eq!(t.to_json(), json);
        }
    }

    #[test]
    fn reads_golden_type_json() {
        for (t, json) in golden() {
            assert_eq!(Type::from_json(json.as_bytes()).unwrap(), t, "{json}");
        }
        assert_eq!(
            Type::from_json(b" [ \"object\" , { \"x\" : [\"list\", \"string\"] } ] ").unwrap(),
            Type::object([("x", Type::list(Type::String))])
        );
    }

    #[test]
    fn rejects_invalid_type_json() {
        for bad in [
            &br#""str""#[..],
            br#"["list"]"#,
            br#"["list","string","string"]"#,
            br#"["object",{"a":"string"},["b"]]"#,
            br#"["tuple","string"]"#,
            br#"["bag","string"]"#,
            br#"42"#,
            br#"["list","string"] x"#,
            br#"[]"#,
        ] {
            let err = Type::from_json(bad).unwrap_err();
            assert!(
                matches!(err.kind, ErrorKind::InvalidType(_)),
                "{}: {err}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn names_types_for_people() {
        assert_eq!(
            Type::list(Type::map(Type::String)).to_string(),
            "list of map of string"
        );
        assert!(Type::list(Type::tuple(vec![Type::DynamicPseudoType])).has_dynamic());
        assert!(!Type::list(Type::String).has_dynamic());
    }
}
