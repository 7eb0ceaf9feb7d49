//! The msgpack encoding of cty values (`DynamicValue.msgpack`), byte for
//! byte as go-cty's `cty/msgpack` package writes it.
//!
//! Encoding rules that matter for exactness:
//! - null is nil; the plain unknown is `d4 00 00`; a refined unknown is
//!   extension 12 holding a map of integer keys (1 nullness, 2 string prefix,
//!   3/4 number bounds as `[number, inclusive]`, 5/6 collection length
//!   bounds), never an empty map;
//! - integers use the smallest msgpack integer form (non-negative ones the
//!   unsigned forms); numbers that are not an exact `i64` but are an exact
//!   binary64 are float64; all others are decimal strings;
//! - maps and objects are written in key order, objects with every attribute;
//! - a value under `DynamicPseudoType` is `[type JSON as bin, value]`.
//!
//! Decoding accepts every integer/float/string number form, str or bin for
//! strings, and any extension of length 0 or 1 as the plain unknown.

use super::error::{CodecError, ErrorKind, MAX_DEPTH, Path, PathStep};
use super::number::Number;
use super::types::Type;
use super::value::{NumberBound, Refinement, Value};

const EXT_REFINED_UNKNOWN: i8 = 12;
const KEY_NULLNESS: i64 = 1;
const KEY_STRING_PREFIX: i64 = 2;
const KEY_NUMBER_MIN: i64 = 3;
const KEY_NUMBER_MAX: i64 = 4;
const KEY_LENGTH_MIN: i64 = 5;
const KEY_LENGTH_MAX: i64 = 6;
/// go-cty refuses refinement payloads above this size; so do we.
const MAX_REFINEMENT_LEN: usize = 1024;

/// Encodes `value` as a value of type `ty`.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    write_value(&mut out, value, ty, &mut Path::root(), 0)?;
    Ok(out)
}

/// Decodes one value of type `ty`; the input must hold exactly one value.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut reader = Reader { buf: bytes, pos: 0 };
    let mut path = Path::root();
    let value = read_value(&mut reader, ty, &mut path, 0)?;
    if reader.pos != bytes.len() {
        return Err(reader.malformed(&path, "unexpected data after the value"));
    }
    Ok(value)
}

// ---------------------------------------------------------------- writing

fn write_value(
    out: &mut Vec<u8>,
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
                out.push(0xc0);
                Ok(())
            }
            // An unknown of unknown type cannot carry refinements (go-cty
            // drops them too).
            Value::Unknown(_) => {
                out.extend_from_slice(&[0xd4, 0, 0]);
                Ok(())
            }
            Value::Dynamic(real, inner) => {
                if *real == Type::DynamicPseudoType {
                    return Err(CodecError::new(
                        path,
                        ErrorKind::InvalidDynamic(
                            "the carried type must be a concrete type, not dynamic".into(),
                        ),
                    ));
                }
                out.push(0x92);
                write_bin(out, real.to_json().as_bytes());
                write_value(out, inner, real, path, depth + 1)
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
            out.push(0xc0);
            Ok(())
        }
        (Value::Unknown(refinement), _) => write_unknown(out, refinement, ty, path),
        (Value::Bool(b), Type::Bool) => {
            out.push(if *b { 0xc3 } else { 0xc2 });
            Ok(())
        }
        (Value::Number(n), Type::Number) => {
            write_number(out, n);
            Ok(())
        }
        (Value::String(s), Type::String) => {
            write_str(out, s);
            Ok(())
        }
        (Value::List(items), Type::List(elem)) | (Value::Set(items), Type::Set(elem)) => {
            write_array_len(out, items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(PathStep::Index(i as u64));
                write_value(out, item, elem, path, depth + 1)?;
                path.pop();
            }
            Ok(())
        }
        (Value::Map(entries), Type::Map(elem)) => {
            write_map_len(out, entries.len());
            for (key, item) in entries {
                path.push(PathStep::Key(key.clone()));
                write_str(out, key);
                write_value(out, item, elem, path, depth + 1)?;
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
            write_array_len(out, items.len());
            for (i, (item, elem)) in items.iter().zip(elems).enumerate() {
                path.push(PathStep::Index(i as u64));
                write_value(out, item, elem, path, depth + 1)?;
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
            write_map_len(out, types.len());
            for (name, attr_ty) in types {
                path.push(PathStep::Attr(name.clone()));
                write_str(out, name);
                match attrs.get(name) {
                    Some(item) => write_value(out, item, attr_ty, path, depth + 1)?,
                    None => out.push(0xc0),
                }
                path.pop();
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

fn write_unknown(
    out: &mut Vec<u8>,
    refinement: &Refinement,
    ty: &Type,
    path: &Path,
) -> Result<(), CodecError> {
    refinement.check_applies_to(ty, path)?;
    let mut body = Vec::new();
    let mut entries = 0;
    if refinement.not_null {
        entries += 1;
        write_int(&mut body, KEY_NULLNESS);
        body.push(0xc2); // "is null: false"
    }
    match ty {
        Type::Number => {
            for (key, bound) in [
                (KEY_NUMBER_MIN, &refinement.number_lower),
                (KEY_NUMBER_MAX, &refinement.number_upper),
            ] {
                if let Some(NumberBound { value, inclusive }) = bound {
                    entries += 1;
                    write_int(&mut body, key);
                    body.push(0x92);
                    write_number(&mut body, value);
                    body.push(if *inclusive { 0xc3 } else { 0xc2 });
                }
            }
        }
        Type::String if !refinement.string_prefix.is_empty() => {
            entries += 1;
            write_int(&mut body, KEY_STRING_PREFIX);
            write_str(&mut body, &refinement.string_prefix);
        }
        Type::List(_) | Type::Set(_) | Type::Map(_) => {
            if refinement.length_lower != 0 {
                entries += 1;
                write_int(&mut body, KEY_LENGTH_MIN);
                write_uint(&mut body, refinement.length_lower);
            }
            if let Some(upper) = refinement.length_upper {
                entries += 1;
                write_int(&mut body, KEY_LENGTH_MAX);
                write_uint(&mut body, upper);
            }
        }
        _ => {}
    }
    if entries == 0 {
        // The protocol requires the old form for an unrefined unknown.
        out.extend_from_slice(&[0xd4, 0, 0]);
        return Ok(());
    }
    let mut payload = Vec::with_capacity(body.len() + 1);
    write_map_len(&mut payload, entries);
    payload.extend_from_slice(&body);
    write_ext_header(out, EXT_REFINED_UNKNOWN, payload.len());
    out.extend_from_slice(&payload);
    Ok(())
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(i) = n.as_i64() {
        write_int(out, i);
    } else if let Some(f) = n.exact_f64() {
        out.push(0xcb);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        write_str(out, &n.to_string());
    }
}

fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as u8); // negative fixint
    } else if v >= i64::from(i8::MIN) {
        out.push(0xd0);
        out.push(v as i8 as u8);
    } else if v >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn write_uint(out: &mut Vec<u8>, v: u64) {
    if v <= 0x7f {
        out.push(v as u8);
    } else if v <= u64::from(u8::MAX) {
        out.push(0xcc);
        out.push(v as u8);
    } else if v <= u64::from(u16::MAX) {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.push(0xd9);
        out.push(len as u8);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    let len = b.len();
    if len <= 0xff {
        out.push(0xc4);
        out.push(len as u8);
    } else if len <= 0xffff {
        out.push(0xc5);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

fn write_array_len(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if len <= 0xffff {
        out.push(0xdc);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn write_map_len(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0xde);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn write_ext_header(out: &mut Vec<u8>, ext_type: i8, len: usize) {
    match len {
        1 => out.push(0xd4),
        2 => out.push(0xd5),
        4 => out.push(0xd6),
        8 => out.push(0xd7),
        16 => out.push(0xd8),
        _ if len <= 0xff => {
            out.push(0xc7);
            out.push(len as u8);
        }
        _ if len <= 0xffff => {
            out.push(0xc8);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xc9);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
    out.push(ext_type as u8);
}

// ---------------------------------------------------------------- reading

/// One msgpack item header (containers report only their length).
enum Item<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

impl Item<'_> {
    fn kind_name(&self) -> &'static str {
        match self {
            Item::Nil => "nil",
            Item::Bool(_) => "boolean",
            Item::Int(_) | Item::Uint(_) => "integer",
            Item::Float(_) => "float",
            Item::Str(_) => "string",
            Item::Bin(_) => "binary",
            Item::Array(_) => "array",
            Item::Map(_) => "map",
            Item::Ext(..) => "extension",
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn malformed(&self, path: &Path, message: &str) -> CodecError {
        CodecError::new(
            path,
            ErrorKind::Malformed {
                format: "msgpack",
                offset: self.pos,
                message: message.to_owned(),
            },
        )
    }

    fn take(&mut self, n: usize, path: &Path) -> Result<&'a [u8], CodecError> {
        match self.pos.checked_add(n).filter(|&end| end <= self.buf.len()) {
            Some(end) => {
                let bytes = &self.buf[self.pos..end];
                self.pos = end;
                Ok(bytes)
            }
            None => Err(self.malformed(path, "unexpected end of data")),
        }
    }

    fn fixed<const N: usize>(&mut self, path: &Path) -> Result<[u8; N], CodecError> {
        let bytes = self.take(N, path)?;
        let mut array = [0u8; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    fn len8(&mut self, path: &Path) -> Result<usize, CodecError> {
        Ok(usize::from(self.fixed::<1>(path)?[0]))
    }

    fn len16(&mut self, path: &Path) -> Result<usize, CodecError> {
        Ok(usize::from(u16::from_be_bytes(self.fixed(path)?)))
    }

    fn len32(&mut self, path: &Path) -> Result<usize, CodecError> {
        usize::try_from(u32::from_be_bytes(self.fixed(path)?))
            .map_err(|_| self.malformed(path, "length too large"))
    }

    /// A container length, checked against the bytes left (every element
    /// takes at least one byte) so a forged length cannot reserve memory.
    fn container(
        &mut self,
        len: usize,
        per_element: usize,
        path: &Path,
    ) -> Result<usize, CodecError> {
        if len.saturating_mul(per_element) > self.buf.len() - self.pos {
            return Err(self.malformed(path, "container length exceeds the data"));
        }
        Ok(len)
    }

    fn ext(&mut self, len: usize, path: &Path) -> Result<Item<'a>, CodecError> {
        let ext_type = self.fixed::<1>(path)?[0] as i8;
        Ok(Item::Ext(ext_type, self.take(len, path)?))
    }

    fn next(&mut self, path: &Path) -> Result<Item<'a>, CodecError> {
        let marker = self.fixed::<1>(path)?[0];
        Ok(match marker {
            0x00..=0x7f => Item::Int(i64::from(marker)),
            0x80..=0x8f => Item::Map(self.container(usize::from(marker & 0x0f), 2, path)?),
            0x90..=0x9f => Item::Array(self.container(usize::from(marker & 0x0f), 1, path)?),
            0xa0..=0xbf => Item::Str(self.take(usize::from(marker & 0x1f), path)?),
            0xc0 => Item::Nil,
            0xc2 => Item::Bool(false),
            0xc3 => Item::Bool(true),
            0xc4 => {
                let n = self.len8(path)?;
                Item::Bin(self.take(n, path)?)
            }
            0xc5 => {
                let n = self.len16(path)?;
                Item::Bin(self.take(n, path)?)
            }
            0xc6 => {
                let n = self.len32(path)?;
                Item::Bin(self.take(n, path)?)
            }
            0xc7 => {
                let n = self.len8(path)?;
                self.ext(n, path)?
            }
            0xc8 => {
                let n = self.len16(path)?;
                self.ext(n, path)?
            }
            0xc9 => {
                let n = self.len32(path)?;
                self.ext(n, path)?
            }
            0xca => Item::Float(f64::from(f32::from_be_bytes(self.fixed(path)?))),
            0xcb => Item::Float(f64::from_be_bytes(self.fixed(path)?)),
            0xcc => Item::Uint(u64::from(self.fixed::<1>(path)?[0])),
            0xcd => Item::Uint(u64::from(u16::from_be_bytes(self.fixed(path)?))),
            0xce => Item::Uint(u64::from(u32::from_be_bytes(self.fixed(path)?))),
            0xcf => Item::Uint(u64::from_be_bytes(self.fixed(path)?)),
            0xd0 => Item::Int(i64::from(i8::from_be_bytes(self.fixed(path)?))),
            0xd1 => Item::Int(i64::from(i16::from_be_bytes(self.fixed(path)?))),
            0xd2 => Item::Int(i64::from(i32::from_be_bytes(self.fixed(path)?))),
            0xd3 => Item::Int(i64::from_be_bytes(self.fixed(path)?)),
            0xd4 => self.ext(1, path)?,
            0xd5 => self.ext(2, path)?,
            0xd6 => self.ext(4, path)?,
            0xd7 => self.ext(8, path)?,
            0xd8 => self.ext(16, path)?,
            0xd9 => {
                let n = self.len8(path)?;
                Item::Str(self.take(n, path)?)
            }
            0xda => {
                let n = self.len16(path)?;
                Item::Str(self.take(n, path)?)
            }
            0xdb => {
                let n = self.len32(path)?;
                Item::Str(self.take(n, path)?)
            }
            0xdc => {
                let n = self.len16(path)?;
                Item::Array(self.container(n, 1, path)?)
            }
            0xdd => {
                let n = self.len32(path)?;
                Item::Array(self.container(n, 1, path)?)
            }
            0xde => {
                let n = self.len16(path)?;
                Item::Map(self.container(n, 2, path)?)
            }
            0xdf => {
                let n = self.len32(path)?;
                Item::Map(self.container(n, 2, path)?)
            }
            0xe0..=0xff => Item::Int(i64::from(marker as i8)),
            0xc1 => {
                self.pos -= 1;
                return Err(self.malformed(path, "reserved marker 0xc1"));
            }
        })
    }

    /// Skips one complete item, whatever it is.
    fn skip(&mut self, path: &Path, depth: usize) -> Result<(), CodecError> {
        if depth > MAX_DEPTH {
            return Err(CodecError::new(path, ErrorKind::TooDeep(MAX_DEPTH)));
        }
        match self.next(path)? {
            Item::Array(n) => (0..n).try_for_each(|_| self.skip(path, depth + 1)),
            Item::Map(n) => (0..n * 2).try_for_each(|_| self.skip(path, depth + 1)),
            _ => Ok(()),
        }
    }
}

fn utf8<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a str, CodecError> {
    std::str::from_utf8(bytes).map_err(|_| CodecError::mismatch(path, "string", "invalid UTF-8"))
}

fn read_value(
    reader: &mut Reader<'_>,
    ty: &Type,
    path: &mut Path,
    depth: usize,
) -> Result<Value, CodecError> {
    if depth > MAX_DEPTH {
        return Err(CodecError::new(path, ErrorKind::TooDeep(MAX_DEPTH)));
    }
    let item = reader.next(path)?;
    if let Item::Ext(ext_type, payload) = item {
        return read_unknown(ext_type, payload, ty, path);
    }
    if *ty == Type::DynamicPseudoType {
        return match item {
            Item::Nil => Ok(Value::Null),
            Item::Array(2) => {
                let type_json = match reader.next(path)? {
                    Item::Str(b) | Item::Bin(b) => b,
                    other => {
                        return Err(CodecError::new(
                            path,
                            ErrorKind::InvalidDynamic(format!(
                                "expected the type as binary or string, found {}",
                                other.kind_name()
                            )),
                        ));
                    }
                };
                let real = Type::from_json(type_json).map_err(|e| CodecError::new(path, e.kind))?;
                let inner = read_value(reader, &real, path, depth + 1)?;
                // "dynamic" as the carried type says nothing; keep the bare value.
                Ok(if real == Type::DynamicPseudoType {
                    inner
                } else {
                    Value::Dynamic(real, Box::new(inner))
                })
            }
            Item::Array(n) => Err(CodecError::new(
                path,
                ErrorKind::InvalidDynamic(format!(
                    "expected a [type, value] array, found {n} elements"
                )),
            )),
            other => Err(CodecError::mismatch(
                path,
                "a [type, value] array",
                other.kind_name(),
            )),
        };
    }
    if let Item::Nil = item {
        return Ok(Value::Null);
    }
    match (ty, item) {
        (Type::Bool, Item::Bool(b)) => Ok(Value::Bool(b)),
        (Type::Number, item) => read_number(item, path).map(Value::Number),
        (Type::String, Item::Str(b) | Item::Bin(b)) => Ok(Value::String(utf8(b, path)?.to_owned())),
        (Type::List(elem), Item::Array(n)) => {
            Ok(Value::List(read_elements(reader, n, elem, path, depth)?))
        }
        (Type::Set(elem), Item::Array(n)) => {
            Ok(Value::Set(read_elements(reader, n, elem, path, depth)?))
        }
        (Type::Tuple(elems), Item::Array(n)) => {
            if n != elems.len() {
                return Err(CodecError::new(
                    path,
                    ErrorKind::TupleLength {
                        expected: elems.len(),
                        found: n,
                    },
                ));
            }
            let mut items = Vec::with_capacity(n);
            for (i, elem) in elems.iter().enumerate() {
                path.push(PathStep::Index(i as u64));
                items.push(read_value(reader, elem, path, depth + 1)?);
                path.pop();
            }
            Ok(Value::Tuple(items))
        }
        (Type::Map(elem), Item::Map(n)) => {
            let mut entries = std::collections::BTreeMap::new();
            for _ in 0..n {
                let key = read_key(reader, path)?;
                path.push(PathStep::Key(key.clone()));
                let item = read_value(reader, elem, path, depth + 1)?;
                path.pop();
                entries.insert(key, item);
            }
            Ok(Value::Map(entries))
        }
        (Type::Object { attrs: types, .. }, Item::Map(n)) => {
            let mut attrs = std::collections::BTreeMap::new();
            for _ in 0..n {
                let name = read_key(reader, path)?;
                let Some(attr_ty) = types.get(&name) else {
                    return Err(CodecError::new(path, ErrorKind::UnsupportedAttribute(name)));
                };
                path.push(PathStep::Attr(name.clone()));
                let item = read_value(reader, attr_ty, path, depth + 1)?;
                path.pop();
                attrs.insert(name, item);
            }
            // Terraform sends every attribute; be lenient and read a missing
            // one as null, as the JSON decoder does.
            for name in types.keys() {
                attrs.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(attrs))
        }
        (ty, item) => Err(CodecError::mismatch(
            path,
            ty.friendly_name(),
            item.kind_name(),
        )),
    }
}

fn read_elements(
    reader: &mut Reader<'_>,
    n: usize,
    elem: &Type,
    path: &mut Path,
    depth: usize,
) -> Result<Vec<Value>, CodecError> {
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        path.push(PathStep::Index(i as u64));
        items.push(read_value(reader, elem, path, depth + 1)?);
        path.pop();
    }
    Ok(items)
}

fn read_key(reader: &mut Reader<'_>, path: &Path) -> Result<String, CodecError> {
    match reader.next(path)? {
        Item::Str(b) | Item::Bin(b) => Ok(utf8(b, path)?.to_owned()),
        other => Err(CodecError::mismatch(
            path,
            "a string key",
            other.kind_name(),
        )),
    }
}

fn read_number(item: Item<'_>, path: &Path) -> Result<Number, CodecError> {
    match item {
        Item::Int(i) => Ok(Number::from(i)),
        Item::Uint(u) => Ok(Number::from(u)),
        Item::Float(f) => Number::from_f64(f)
            .ok_or_else(|| CodecError::new(path, ErrorKind::InvalidNumber("NaN".into()))),
        Item::Str(b) | Item::Bin(b) => {
            let text = utf8(b, path)?;
            Number::parse(text)
                .map_err(|_| CodecError::new(path, ErrorKind::InvalidNumber(text.to_owned())))
        }
        other => Err(CodecError::mismatch(path, "number", other.kind_name())),
    }
}

fn read_unknown(ext_type: i8, payload: &[u8], ty: &Type, path: &Path) -> Result<Value, CodecError> {
    if payload.len() <= 1 {
        return Ok(Value::unknown());
    }
    let invalid = |message: String| CodecError::new(path, ErrorKind::InvalidRefinement(message));
    if ext_type != EXT_REFINED_UNKNOWN {
        return Err(invalid(format!(
            "unsupported extension type {ext_type} with length {}",
            payload.len()
        )));
    }
    if payload.len() > MAX_REFINEMENT_LEN {
        return Err(invalid(
            "refinement payload is larger than 1024 bytes".into(),
        ));
    }
    let mut body = Reader {
        buf: payload,
        pos: 0,
    };
    let Ok(Item::Map(entries)) = body.next(path) else {
        return Err(invalid("payload is not a map".into()));
    };
    if *ty == Type::DynamicPseudoType {
        // No refinements apply to a value of unknown type; go-cty ignores them.
        return Ok(Value::unknown());
    }
    let mut refinement = Refinement::default();
    let mut definitely_null = false;
    for _ in 0..entries {
        let key = match body.next(path)? {
            Item::Int(i) => i,
            Item::Uint(u) => i64::try_from(u).unwrap_or(i64::MAX),
            _ => return Err(invalid("non-integer key".into())),
        };
        match key {
            KEY_NULLNESS => match body.next(path)? {
                Item::Bool(is_null) => {
                    definitely_null = is_null;
                    refinement.not_null = !is_null;
                }
                _ => return Err(invalid("nullness is not a boolean".into())),
            },
            KEY_STRING_PREFIX => {
                if *ty != Type::String {
                    return Err(invalid(format!("string prefix for a value of type {ty}")));
                }
                match body.next(path)? {
                    Item::Str(b) | Item::Bin(b) => {
                        let prefix = std::str::from_utf8(b)
                            .map_err(|_| invalid("string prefix is not UTF-8".into()))?;
                        refinement.string_prefix = prefix.to_owned();
                    }
                    _ => return Err(invalid("string prefix is not a string".into())),
                }
            }
            KEY_NUMBER_MIN | KEY_NUMBER_MAX => {
                if *ty != Type::Number {
                    return Err(invalid(format!("number bound for a value of type {ty}")));
                }
                let shape_error = || invalid("number bound is not a [number, bool] array".into());
                let Item::Array(2) = body.next(path)? else {
                    return Err(shape_error());
                };
                let value = read_number(body.next(path)?, path).map_err(|_| shape_error())?;
                let Item::Bool(inclusive) = body.next(path)? else {
                    return Err(shape_error());
                };
                let bound = Some(NumberBound { value, inclusive });
                if key == KEY_NUMBER_MIN {
                    refinement.number_lower = bound;
                } else {
                    refinement.number_upper = bound;
                }
            }
            KEY_LENGTH_MIN | KEY_LENGTH_MAX => {
                if !ty.is_collection() {
                    return Err(invalid(format!("length bound for a value of type {ty}")));
                }
                let length = match body.next(path)? {
                    Item::Int(i) if i >= 0 => i as u64,
                    Item::Uint(u) => u,
                    _ => return Err(invalid("length bound is not a non-negative integer".into())),
                };
                if key == KEY_LENGTH_MIN {
                    refinement.length_lower = length;
                } else {
                    refinement.length_upper = Some(length);
                }
            }
            // Unknown keys are reserved for future refinements: skip them.
            _ => body.skip(path, 0)?,
        }
    }
    // Bytes after the map are reserved by the protocol and ignored.
    if definitely_null {
        // "Unknown but definitely null" is just null.
        return Ok(Value::Null);
    }
    Ok(Value::Unknown(refinement))
}
