//! cty values as the provider handles them: known, null, unknown (with
//! refinements), and values of dynamic type that carry their real type.
//!
//! A `Value` does not carry its own type; the schema supplies it, exactly as
//! on the wire. The one exception is a value whose schema type is
//! `DynamicPseudoType`: it is a `Value::Dynamic(real_type, value)` (or a bare
//! `Null`/`Unknown`, meaning "null/unknown of unknown type").

use std::collections::BTreeMap;

use super::error::{CodecError, ErrorKind, MAX_DEPTH, Path, PathStep};
use super::number::Number;
use super::types::Type;

/// A value of Terraform's type system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A null of whatever type the schema gives.
    Null,
    /// A value that will be known only after apply, possibly narrowed down.
    Unknown(Refinement),
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Set elements in wire order. The codecs neither sort nor deduplicate;
    /// compare sets with [`Value::equivalent`].
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    /// Object attributes. The codecs write every attribute of the type and
    /// write null for one missing here; decoding fills in every attribute.
    Object(BTreeMap<String, Value>),
    /// A value placed where the schema says `DynamicPseudoType`, with the
    /// concrete type it has. The type is never `DynamicPseudoType` itself.
    Dynamic(Type, Box<Value>),
}

/// What is known about an unknown value. The default (nothing known) is the
/// plain unknown. Only refinements that apply to the value's type are valid:
/// `string_prefix` for strings, number bounds for numbers, length bounds for
/// lists, sets and maps; `not_null` for any type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Refinement {
    /// The final value is definitely not null.
    pub not_null: bool,
    /// The final string starts with this (empty: nothing known).
    pub string_prefix: String,
    /// Lower bound of the final number.
    pub number_lower: Option<NumberBound>,
    /// Upper bound of the final number.
    pub number_upper: Option<NumberBound>,
    /// Inclusive lower bound of the final collection length (0: nothing known).
    pub length_lower: u64,
    /// Inclusive upper bound of the final collection length.
    pub length_upper: Option<u64>,
}

/// One end of a number range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NumberBound {
    pub value: Number,
    pub inclusive: bool,
}

impl Refinement {
    /// Nothing is known (the plain unknown).
    pub fn is_empty(&self) -> bool {
        *self == Refinement::default()
    }

    /// Only "definitely not null" is known.
    pub fn not_null() -> Refinement {
        Refinement {
            not_null: true,
            ..Refinement::default()
        }
    }

    /// Adds a known string prefix.
    pub fn with_string_prefix(mut self, prefix: impl Into<String>) -> Refinement {
        self.string_prefix = prefix.into();
        self
    }

    /// Adds a number lower bound.
    pub fn with_number_lower(mut self, value: impl Into<Number>, inclusive: bool) -> Refinement {
        self.number_lower = Some(NumberBound {
            value: value.into(),
            inclusive,
        });
        self
    }

    /// Adds a number upper bound.
    pub fn with_number_upper(mut self, value: impl Into<Number>, inclusive: bool) -> Refinement {
        self.number_upper = Some(NumberBound {
            value: value.into(),
            inclusive,
        });
        self
    }

    /// Adds collection length bounds (inclusive; `None`: no upper bound).
    pub fn with_length(mut self, lower: u64, upper: Option<u64>) -> Refinement {
        self.length_lower = lower;
        self.length_upper = upper;
        self
    }

    /// Checks that every refinement present applies to `ty`.
    pub(crate) fn check_applies_to(&self, ty: &Type, path: &Path) -> Result<(), CodecError> {
        let fail = |what: &str| {
            Err(CodecError::new(
                path,
                ErrorKind::InvalidRefinement(format!(
                    "{what} does not apply to a value of type {ty}"
                )),
            ))
        };
        if !self.string_prefix.is_empty() && *ty != Type::String {
            return fail("a string prefix");
        }
        if (self.number_lower.is_some() || self.number_upper.is_some()) && *ty != Type::Number {
            return fail("a number bound");
        }
        if (self.length_lower != 0 || self.length_upper.is_some()) && !ty.is_collection() {
            return fail("a length bound");
        }
        Ok(())
    }
}

impl Value {
    /// The plain unknown.
    pub fn unknown() -> Value {
        Value::Unknown(Refinement::default())
    }

    /// An unknown that is definitely not null.
    pub fn unknown_not_null() -> Value {
        Value::Unknown(Refinement::not_null())
    }

    /// A known string.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A known number.
    pub fn number(n: impl Into<Number>) -> Value {
        Value::Number(n.into())
    }

    /// A known bool.
    pub fn bool(b: bool) -> Value {
        Value::Bool(b)
    }

    /// A known list.
    pub fn list(elements: Vec<Value>) -> Value {
        Value::List(elements)
    }

    /// A known set.
    pub fn set(elements: Vec<Value>) -> Value {
        Value::Set(elements)
    }

    /// A known tuple.
    pub fn tuple(elements: Vec<Value>) -> Value {
        Value::Tuple(elements)
    }

    /// A known object from `(name, value)` pairs; attributes left out are null.
    pub fn object<I, K>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A known map from `(key, value)` pairs.
    pub fn map<I, K>(entries: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A value for a place typed `DynamicPseudoType`, with its real type.
    pub fn dynamic(ty: Type, value: Value) -> Value {
        Value::Dynamic(ty, Box::new(value))
    }

    /// The value itself, looking through a `Dynamic` wrapper.
    pub fn unwrap_dynamic(&self) -> &Value {
        match self {
            Value::Dynamic(_, inner) => inner.unwrap_dynamic(),
            other => other,
        }
    }

    /// Whether the value is null (looking through `Dynamic`).
    pub fn is_null(&self) -> bool {
        matches!(self.unwrap_dynamic(), Value::Null)
    }

    /// Whether the value itself is known (its parts may still be unknown).
    pub fn is_known(&self) -> bool {
        !matches!(self.unwrap_dynamic(), Value::Unknown(_))
    }

    /// Whether the value and everything inside it is known.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                items.iter().all(Value::is_wholly_known)
            }
            Value::Map(entries) | Value::Object(entries) => {
                entries.values().all(Value::is_wholly_known)
            }
            Value::Dynamic(_, inner) => inner.is_wholly_known(),
        }
    }

    /// The refinements of an unknown value.
    pub fn refinement(&self) -> Option<&Refinement> {
        match self.unwrap_dynamic() {
            Value::Unknown(r) => Some(r),
            _ => None,
        }
    }

    /// An object attribute. `None` when this is not a known object or when
    /// the attribute is absent (the codecs treat absent as null).
    pub fn get_attr(&self, name: &str) -> Option<&Value> {
        match self.unwrap_dynamic() {
            Value::Object(attrs) => attrs.get(name),
            _ => None,
        }
    }

    /// Sets an object attribute; does nothing on a value that is not a known object (a null or
    /// unknown object has no attributes to set).
    pub fn set_attr(&mut self, name: &str, value: Value) {
        if let Value::Object(attrs) = self {
            attrs.insert(name.to_string(), value);
        }
    }

    /// An object of type `ty` whose attributes are all null; `Null` for a non-object type.
    pub fn null_object(ty: &Type) -> Value {
        match ty {
            Type::Object { attrs, .. } => {
                Value::Object(attrs.keys().map(|k| (k.clone(), Value::Null)).collect())
            }
            _ => Value::Null,
        }
    }

    /// The string, if this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self.unwrap_dynamic() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bool, if this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self.unwrap_dynamic() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is a known number.
    pub fn as_number(&self) -> Option<&Number> {
        match self.unwrap_dynamic() {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as an `i64`, if this is a known integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The elements of a known list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self.unwrap_dynamic() {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a known map or the attributes of a known object.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self.unwrap_dynamic() {
            Value::Map(entries) | Value::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// A short name of the value's shape, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown(_) => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Tuple(_) => "tuple",
            Value::Object(_) => "object",
            Value::Dynamic(..) => "dynamic value",
        }
    }

    /// Whether two values mean the same: like `==`, except that set elements
    /// are compared without regard to order.
    pub fn equivalent(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len()
                    && a.iter().all(|x| b.iter().any(|y| x.equivalent(y)))
                    && b.iter().all(|y| a.iter().any(|x| x.equivalent(y)))
            }
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equivalent(y))
            }
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.equivalent(vb))
            }
            (Value::Dynamic(ta, a), Value::Dynamic(tb, b)) => ta == tb && a.equivalent(b),
            _ => self == other,
        }
    }

    /// Checks that the value fits `ty` under the rules the codecs apply;
    /// the error names the first place that does not.
    pub fn conforms_to(&self, ty: &Type) -> Result<(), CodecError> {
        conform(self, ty, &mut Path::root(), 0)
    }
}

fn conform(value: &Value, ty: &Type, path: &mut Path, depth: usize) -> Result<(), CodecError> {
    if depth > MAX_DEPTH {
        return Err(CodecError::new(path, ErrorKind::TooDeep(MAX_DEPTH)));
    }
    if *ty == Type::DynamicPseudoType {
        return match value {
            // Refinements of an unknown of unknown type are dropped on the
            // wire, as go-cty does, so they are not an error.
            Value::Null | Value::Unknown(_) => Ok(()),
            Value::Dynamic(real, inner) => {
                if *real == Type::DynamicPseudoType {
                    Err(CodecError::new(
                        path,
                        ErrorKind::InvalidDynamic(
                            "the carried type must be a concrete type, not dynamic".into(),
                        ),
                    ))
                } else {
                    conform(inner, real, path, depth + 1)
                }
            }
            other => Err(CodecError::mismatch(
                path,
                "a dynamic value (Value::Dynamic with its type)",
                other.kind_name(),
            )),
        };
    }
    match (value, ty) {
        (Value::Null, _) => Ok(()),
        (Value::Unknown(r), _) => r.check_applies_to(ty, path),
        (Value::Bool(_), Type::Bool)
        | (Value::Number(_), Type::Number)
        | (Value::String(_), Type::String) => Ok(()),
        (Value::List(items), Type::List(elem)) | (Value::Set(items), Type::Set(elem)) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathStep::Index(i as u64));
                conform(item, elem, path, depth + 1)?;
                path.pop();
            }
            Ok(())
        }
        (Value::Map(entries), Type::Map(elem)) => {
            for (key, item) in entries {
                path.push(PathStep::Key(key.clone()));
                conform(item, elem, path, depth + 1)?;
                path.pop();
            }
            Ok(())
        }
        (Value::Tuple(items), Type::Tuple(elems)) => {
            if items.len() != elems.len() {
                return Err(CodecError::new(
                    path,
                    ErrorKind::TupleLength {
                        expected: elems.len(),
                        found: items.len(),
                    },
                ));
            }
            for (i, (item, elem)) in items.iter().zip(elems).enumerate() {
                path.push(PathStep::Index(i as u64));
                conform(item, elem, path, depth + 1)?;
                path.pop();
            }
            Ok(())
        }
        (Value::Object(attrs), Type::Object { attrs: types, .. }) => {
            if let Some(extra) = attrs.keys().find(|k| !types.contains_key(*k)) {
                return Err(CodecError::new(
                    path,
                    ErrorKind::UnsupportedAttribute(extra.clone()),
                ));
            }
            for (name, item) in attrs {
                if let Some(attr_ty) = types.get(name) {
                    path.push(PathStep::Attr(name.clone()));
                    conform(item, attr_ty, path, depth + 1)?;
                    path.pop();
                }
            }
            Ok(())
        }
        (other, _) => Err(CodecError::mismatch(
            path,
            ty.friendly_name(),
            other.kind_name(),
        )),
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Number::from(n))
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        Value::object([
            ("name", Value::string("db")),
            ("size", Value::from(3)),
            ("tags", Value::map([("env", Value::unknown())])),
            (
                "any",
                Value::dynamic(
                    Type::list(Type::String),
                    Value::list(vec![Value::unknown()]),
                ),
            ),
        ])
    }

    fn sample_type() -> Type {
        Type::object([
            ("name", Type::String),
            ("size", Type::Number),
            ("tags", Type::map(Type::String)),
            ("any", Type::DynamicPseudoType),
            ("note", Type::String),
        ])
    }

    #[test]
    fn set_attr_and_null_object_fill_objects_only() {
        let mut v = Value::null_object(&sample_type());
        assert_eq!(v.get_attr("note"), Some(&Value::Null));
        v.set_attr("note", Value::string("hi"));
        assert_eq!(v.get_attr("note").and_then(Value::as_str), Some("hi"));
        let mut null = Value::Null;
        null.set_attr("note", Value::string("x"));
        assert_eq!(null, Value::Null);
        assert_eq!(Value::null_object(&Type::String), Value::Null);
    }

    #[test]
    fn accessors_look_through_dynamic() {
        let v = sample();
        assert_eq!(v.get_attr("name").and_then(Value::as_str), Some("db"));
        assert_eq!(v.get_attr("size").and_then(Value::as_i64), Some(3));
        assert!(v.get_attr("note").is_none());
        let any = v.get_attr("any").unwrap();
        assert!(any.is_known());
        assert!(!any.is_wholly_known());
        assert_eq!(any.as_elements().map(<[Value]>::len), Some(1));
        assert!(Value::dynamic(Type::String, Value::Null).is_null());
        assert!(!Value::dynamic(Type::String, Value::unknown()).is_known());
        assert!(!v.is_wholly_known());
        assert!(Value::object([("a", Value::Null)]).is_wholly_known());
    }

    #[test]
    fn conformance_names_the_path() {
        assert_eq!(sample().conforms_to(&sample_type()), Ok(()));
        let bad = Value::object([("tags", Value::map([("env", Value::from(1))]))]);
        let err = bad.conforms_to(&sample_type()).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#".tags["env"]: expected string, found number"#
        );

        let extra = Value::object([("nope", Value::Null)]);
        let err = extra.conforms_to(&sample_type()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnsupportedAttribute("nope".into()));

        let bare = Value::object([("any", Value::string("x"))]);
        let err = bare.conforms_to(&sample_type()).unwrap_err();
        assert_eq!(err.path, Path(vec![PathStep::Attr("any".into())]));

        let prefix_on_number = Value::Unknown(Refinement::default().with_string_prefix("a"));
        assert!(matches!(
            prefix_on_number
                .conforms_to(&Type::Number)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidRefinement(_)
        ));
        assert!(
            Value::Unknown(Refinement::default().with_length(1, Some(3)))
                .conforms_to(&Type::set(Type::String))
                .is_ok()
        );
    }

    #[test]
    fn equivalence_ignores_set_order_only() {
        let a = Value::set(vec![Value::from("x"), Value::from("y")]);
        let b = Value::set(vec![Value::from("y"), Value::from("x")]);
        assert!(a.equivalent(&b));
        assert_ne!(a, b);
        let la = Value::list(vec![Value::from("x"), Value::from("y")]);
        let lb = Value::list(vec![Value::from("y"), Value::from("x")]);
        assert!(!la.equivalent(&lb));
        // Same null, different carried type: not the same value.
        assert!(
            !Value::dynamic(Type::String, Value::Null)
                .equivalent(&Value::dynamic(Type::Number, Value::Null))
        );
        assert!(!a.equivalent(&Value::set(vec![Value::from("x"), Value::from("x")])));
    }
}
