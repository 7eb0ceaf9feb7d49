//! The JSON encoding of cty values, as go-cty's `cty/json` package reads and
//! writes it: `DynamicValue.json`, `RawState.json` in UpgradeResourceState,
//! and resource attributes in state files.
//!
//! Numbers keep every digit; a value under `DynamicPseudoType` is
//! `{"value":...,"type":...}`; unknown values cannot be written. Like
//! go-cty, decoding converts between primitives where Terraform would
//! (`"12"` for a number, `12` or `true` for a string, `"true"` for a bool),
//! reads missing object attributes as null and rejects undeclared ones.

use std::collections::BTreeMap;

use super::error::{CodecError, ErrorKind, MAX_DEPTH, Path, PathStep};
use super::jsontext::{self, Json};
use super::number::Number;
use super::types::Type;
use super::value::Value;

/// Encodes a wholly known `value` as JSON for type `ty`, compact, with object
/// attributes and map keys in sorted order.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = String::new();
    write_value(&mut out, value, ty, &mut Path::root(), 0)?;
    Ok(out.into_bytes())
}

/// Decodes one JSON document as a value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let doc = jsontext::parse(bytes).map_err(|e| {
        CodecError::new(
            &Path::root(),
            ErrorKind::Malformed {
                format: "JSON",
                offset: e.offset,
                message: e.message,
            },
        )
    })?;
    read_value(&doc, ty, &mut Path::root())
}

// ---------------------------------------------------------------- writing

fn write_value(
    out: &mut String,
    value: &Value,
    ty: &Type,
    path: &mut Path,
    depth: usize,
) -> Result<(), CodecError> {
    if depth > MAX_DEPTH {
        return Err(CodecError::new(path, ErrorKind::TooDeep(MAX_DEPTH)));
    }
    if *ty == Type::DynamicPseudoType {
        return match value {
            Value::Null => {
                out.push_str("null");
                Ok(())
            }
            Value::Unknown(_) => Err(CodecError::new(path, ErrorKind::UnknownInJson)),
            Value::Dynamic(real, inner) => {
                if *real == Type::DynamicPseudoType {
                    return Err(CodecError::new(
                        path,
                        ErrorKind::InvalidDynamic(
                            "the carried type must be a concrete type, not dynamic".into(),
                        ),
                    ));
                }
                out.push_str("{\"value\":");
                write_value(out, inner, real, path, depth + 1)?;
                out.push_str(",\"type\":");
                real.write_json(out);
                out.push('}');
                Ok(())
            }
            other => Err(CodecError::mismatch(
                path,
                "a dynamic value (Value::Dynamic with its type)",
                other.kind_name(),
            )),
        };
    }
    match (value, ty) {
        (Value::Null, _) => {
            out.push_str("null");
            Ok(())
        }
        (Value::Unknown(_), _) => Err(CodecError::new(path, ErrorKind::UnknownInJson)),
        (Value::Bool(b), Type::Bool) => {
            out.push_str(if *b { "true" } else { "false" });
            Ok(())
        }
        (Value::Number(n), Type::Number) => {
            if !n.is_finite() {
                return Err(CodecError::new(path, ErrorKind::InfinityInJson));
            }
            out.push_str(&n.to_string());
            Ok(())
        }
        (Value::String(s), Type::String) => {
            jsontext::write_string(out, s);
            Ok(())
        }
        (Value::List(items), Type::List(elem)) | (Value::Set(items), Type::Set(elem)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.push(PathStep::Index(i as u64));
                write_value(out, item, elem, path, depth + 1)?;
                path.pop();
            }
            out.push(']');
            Ok(())
        }
        (Value::Map(entries), Type::Map(elem)) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.push(PathStep::Key(key.clone()));
                jsontext::write_string(out, key);
                out.push(':');
                write_value(out, item, elem, path, depth + 1)?;
                path.pop();
            }
            out.push('}');
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
            out.push('[');
            for (i, (item, elem)) in items.iter().zip(elems).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.push(PathStep::Index(i as u64));
                write_value(out, item, elem, path, depth + 1)?;
                path.pop();
            }
            out.push(']');
            Ok(())
        }
        (Value::Object(attrs), Type::Object { attrs: types, .. }) => {
            if let Some(extra) = attrs.keys().find(|k| !types.contains_key(*k)) {
                return Err(CodecError::new(
                    path,
                    ErrorKind::UnsupportedAttribute(extra.clone()),
                ));
            }
            out.push('{');
            for (i, (name, attr_ty)) in types.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.push(PathStep::Attr(name.clone()));
                jsontext::write_string(out, name);
                out.push(':');
                match attrs.get(name) {
                    Some(item) => write_value(out, item, attr_ty, path, depth + 1)?,
                    None => out.push_str("null"),
                }
                path.pop();
            }
            out.push('}');
            Ok(())
        }
        (other, _) => Err(CodecError::mismatch(
            path,
            ty.friendly_name(),
            other.kind_name(),
        )),
    }
}

// ---------------------------------------------------------------- reading

fn read_value(doc: &Json, ty: &Type, path: &mut Path) -> Result<Value, CodecError> {
    // The parser already bounds nesting depth, and types are finite, so the
    // recursion here is bounded by the document.
    if let Json::Null = doc {
        return Ok(Value::Null);
    }
    match (ty, doc) {
        (Type::DynamicPseudoType, Json::Object(members)) => read_dynamic(members, path),
        (Type::DynamicPseudoType, other) => Err(CodecError::mismatch(
            path,
            "a {\"value\":...,\"type\":...} object",
            other.kind_name(),
        )),
        (Type::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
        (Type::Bool, Json::String(s)) => match s.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(CodecError::mismatch(path, "bool", format!("string {s:?}"))),
        },
        (Type::Number, Json::Number(text) | Json::String(text)) => Number::parse(text)
            .map(Value::Number)
            .map_err(|_| CodecError::new(path, ErrorKind::InvalidNumber(text.clone()))),
        (Type::String, Json::String(s) | Json::Number(s)) => Ok(Value::String(s.clone())),
        (Type::String, Json::Bool(b)) => Ok(Value::String(b.to_string())),
        (Type::List(elem), Json::Array(items)) => {
            Ok(Value::List(read_elements(items, elem, path)?))
        }
        (Type::Set(elem), Json::Array(items)) => Ok(Value::Set(read_elements(items, elem, path)?)),
        (Type::Tuple(elems), Json::Array(items)) => {
            if items.len() != elems.len() {
                return Err(CodecError::new(
                    path,
                    ErrorKind::TupleLength {
                        expected: elems.len(),
                        found: items.len(),
                    },
                ));
            }
            let mut values = Vec::with_capacity(items.len());
            for (i, (item, elem)) in items.iter().zip(elems).enumerate() {
                path.push(PathStep::Index(i as u64));
                values.push(read_value(item, elem, path)?);
                path.pop();
            }
            Ok(Value::Tuple(values))
        }
        (Type::Map(elem), Json::Object(members)) => {
            let mut entries = BTreeMap::new();
            for (key, item) in members {
                path.push(PathStep::Key(key.clone()));
                let value = read_value(item, elem, path)?;
                path.pop();
                entries.insert(key.clone(), value);
            }
            Ok(Value::Map(entries))
        }
        (Type::Object { attrs: types, .. }, Json::Object(members)) => {
            let mut attrs = BTreeMap::new();
            for (name, item) in members {
                let Some(attr_ty) = types.get(name) else {
                    return Err(CodecError::new(
                        path,
                        ErrorKind::UnsupportedAttribute(name.clone()),
                    ));
                };
                path.push(PathStep::Attr(name.clone()));
                let value = read_value(item, attr_ty, path)?;
                path.pop();
                attrs.insert(name.clone(), value);
            }
            for name in types.keys() {
                attrs.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(attrs))
        }
        (ty, other) => Err(CodecError::mismatch(
            path,
            ty.friendly_name(),
            other.kind_name(),
        )),
    }
}

fn read_elements(items: &[Json], elem: &Type, path: &mut Path) -> Result<Vec<Value>, CodecError> {
    let mut values = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        path.push(PathStep::Index(i as u64));
        values.push(read_value(item, elem, path)?);
        path.pop();
    }
    Ok(values)
}

fn read_dynamic(members: &[(String, Json)], path: &mut Path) -> Result<Value, CodecError> {
    let invalid = |message: String| CodecError::new(path, ErrorKind::InvalidDynamic(message));
    let mut type_doc = None;
    let mut value_doc = None;
    for (key, item) in members {
        match key.as_str() {
            "type" => type_doc = Some(item),
            "value" => value_doc = Some(item),
            other => return Err(invalid(format!("unexpected key {other:?}"))),
        }
    }
    let type_doc = type_doc.ok_or_else(|| invalid("missing \"type\"".into()))?;
    let value_doc = value_doc.ok_or_else(|| invalid("missing \"value\"".into()))?;
    let real = Type::from_json_value(type_doc)
        .map_err(|m| CodecError::new(path, ErrorKind::InvalidType(m)))?;
    let inner = read_value(value_doc, &real, path)?;
    // "dynamic" as the carried type says nothing; keep the bare value.
    Ok(if real == Type::DynamicPseudoType {
        inner
    } else {
        Value::Dynamic(real, Box::new(inner))
    })
}
