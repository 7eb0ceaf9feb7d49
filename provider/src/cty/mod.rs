//! Terraform's value model (go-cty) and its two wire encodings.
//!
//! Owns: [`Type`] (with the type JSON that goes into `Schema.Attribute.type`),
//! [`Value`] (null, unknown with [`Refinement`]s, known values, and
//! dynamically typed values that carry their type), [`Number`] (no digit is
//! ever lost), and the [`msgpack`] and [`json`] codecs that read and write
//! `DynamicValue` and raw state exactly as Terraform does. It knows nothing
//! about schemas, resources or RPCs; callers pass the type to use.
//!
//! # Layout
//! - `types`: [`Type`] and its JSON form.
//! - `value`: [`Value`], [`Refinement`], accessors and [`Value::conforms_to`].
//! - `number`: [`Number`].
//! - `msgpack`, `json`: the codecs (`encode(&Value, &Type)`, `decode(&[u8], &Type)`).
//! - `error`: [`CodecError`] with the [`Path`] inside the value.
//! - `jsontext`: the JSON reader/writer the other modules share.

mod error;
mod jsontext;
mod number;
mod types;
mod value;

pub mod json;
pub mod msgpack;

pub use error::{CodecError, ErrorKind, Path, PathStep};
pub use number::{Number, NumberError};
pub use types::Type;
pub use value::{NumberBound, Refinement, Value};

#[cfg(test)]
mod tests;
