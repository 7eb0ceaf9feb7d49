//! Errors of the cty codecs, and the path inside a value where they happened.

use std::fmt;

/// One step from a value into a part of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An object attribute.
    Attr(String),
    /// A position in a list, set or tuple (for sets: the position on the wire).
    Index(u64),
    /// A map key.
    Key(String),
}

/// Where inside a value something is, e.g. `.tables[2].name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<PathStep>);

impl Path {
    /// The path of the value itself.
    pub fn root() -> Path {
        Path(Vec::new())
    }

    /// Whether this is the path of the value itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The steps from the root.
    pub fn steps(&self) -> &[PathStep] {
        &self.0
    }

    pub(crate) fn push(&mut self, step: PathStep) {
        self.0.push(step);
    }

    pub(crate) fn pop(&mut self) {
        self.0.pop();
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.0 {
            match step {
                PathStep::Attr(name) => write!(f, ".{name}")?,
                PathStep::Index(i) => write!(f, "[{i}]")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

/// What went wrong while encoding, decoding or checking a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The data (or the Rust value) has a different shape than the type wants.
    #[error("expected {expected}, found {found}")]
    Mismatch { expected: String, found: String },
    /// An object has an attribute its type does not declare.
    #[error("unsupported attribute {0:?}")]
    UnsupportedAttribute(String),
    /// A tuple has the wrong number of elements.
    #[error("expected a tuple of {expected} elements, found {found}")]
    TupleLength { expected: usize, found: usize },
    /// A number could not be read.
    #[error("failed to read number {0:?}")]
    InvalidNumber(String),
    /// JSON cannot carry unknown values.
    #[error("failed to write an unknown value: JSON has no unknown values")]
    UnknownInJson,
    /// JSON cannot carry infinities.
    #[error("failed to write an infinite number: JSON has no infinity")]
    InfinityInJson,
    /// The payload of an unknown value, or a refinement given to a value of a
    /// type it does not apply to.
    #[error("invalid unknown value refinement: {0}")]
    InvalidRefinement(String),
    /// A type description (cty type JSON) could not be read.
    #[error("invalid type description: {0}")]
    InvalidType(String),
    /// A dynamically typed value is not in the `[type, value]` form.
    #[error("invalid dynamic value: {0}")]
    InvalidDynamic(String),
    /// The bytes are not well-formed msgpack or JSON.
    #[error("malformed {format} at byte {offset}: {message}")]
    Malformed {
        format: &'static str,
        offset: usize,
        message: String,
    },
    /// Values nest deeper than the codecs follow.
    #[error("value nests more than {0} levels deep")]
    TooDeep(usize),
}

/// A codec or conformance error, with the path inside the value where it
/// happened. Displays as `.tables[2].name: expected string, found integer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", PathPrefix(&self.path), self.kind)]
pub struct CodecError {
    /// Where in the value the problem is (the root when empty).
    pub path: Path,
    /// What the problem is.
    pub kind: ErrorKind,
}

impl CodecError {
    pub(crate) fn new(path: &Path, kind: ErrorKind) -> CodecError {
        CodecError {
            path: path.clone(),
            kind,
        }
    }

    pub(crate) fn mismatch(
        path: &Path,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> CodecError {
        CodecError::new(
            path,
            ErrorKind::Mismatch {
                expected: expected.into(),
                found: found.into(),
            },
        )
    }
}

struct PathPrefix<'a>(&'a Path);

impl fmt::Display for PathPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_root() {
            Ok(())
        } else {
            write!(f, "{}: ", self.0)
        }
    }
}

/// How deep values and types may nest before the codecs refuse them; keeps
/// hostile input from exhausting the stack.
pub(crate) const MAX_DEPTH: usize = 128;
