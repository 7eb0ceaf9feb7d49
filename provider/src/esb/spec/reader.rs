//! Walks an untyped YAML tree and records every problem it meets, each with the item and field
//! path it belongs to, so one run of validation reports all mistakes in a file at once instead of
//! the first one serde would stop at. It knows nothing about tables or buckets.

use galley_oci::echo::echo;
use serde_norway::{Mapping, Value};

use super::SpecProblem;

/// Collects problems and warnings while the typed spec is built.
pub(super) struct Reader<'s> {
    source: &'s str,
    pub(super) problems: Vec<SpecProblem>,
    pub(super) warnings: Vec<SpecProblem>,
}

/// Where a value sits: the item (e.g. `DynamoDB[1] (orders)`) and the field path inside it.
#[derive(Clone, Debug)]
pub(super) struct At {
    pub(super) item: Option<String>,
    pub(super) field: String,
}

impl At {
    pub(super) fn root(field: &str) -> At {
        At {
            item: None,
            field: field.to_owned(),
        }
    }

    pub(super) fn item(item: String) -> At {
        At {
            item: Some(item),
            field: String::new(),
        }
    }

    /// The path of a key below this one.
    pub(super) fn key(&self, key: &str) -> At {
        // Unknown keys come from the file: quoted bounded like every other echo of it.
        let key = echo(key);
        let field = if self.field.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.field)
        };
        At {
            item: self.item.clone(),
            field,
        }
    }

    /// The path of a list element below this one.
    pub(super) fn index(&self, index: usize) -> At {
        At {
            item: self.item.clone(),
            field: format!("{}[{index}]", self.field),
        }
    }
}

/// A mapping whose keys were checked against a list of accepted keys.
pub(super) struct Obj<'v> {
    map: &'v Mapping,
    pub(super) at: At,
}

impl<'v> Obj<'v> {
    /// The value under `key`, treating an explicit `null` like an absent key.
    pub(super) fn get(&self, key: &str) -> Option<&'v Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(value),
        }
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Whether the key is written at all, even with an empty value.
    pub(super) fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }
}

/// A short name for the kind of a YAML value, used in "expected X, found Y" messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

impl<'s> Reader<'s> {
    pub(super) fn new(source: &'s str) -> Reader<'s> {
        Reader {
            source,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn note(&self, at: &At, message: String) -> SpecProblem {
        SpecProblem {
            source: self.source.to_owned(),
            item: at.item.clone(),
            field: (!at.field.is_empty()).then(|| at.field.clone()),
            message,
            line: None,
            column: None,
        }
    }

    pub(super) fn problem(&mut self, at: &At, message: impl Into<String>) {
        let note = self.note(at, message.into());
        self.problems.push(note);
    }

    pub(super) fn warning(&mut self, at: &At, message: impl Into<String>) {
        let note = self.note(at, message.into());
        self.warnings.push(note);
    }

    /// Checks that `value` is a mapping with only `allowed` keys; every unknown key is reported.
    pub(super) fn object<'v>(
        &mut self,
        value: &'v Value,
        at: &At,
        allowed: &[&str],
    ) -> Option<Obj<'v>> {
        let Value::Mapping(map) = value else {
            self.problem(
                at,
                format!(
                    "expected a mapping with the keys {}, found {}",
                    allowed.join(", "),
                    kind(value)
                ),
            );
            return None;
        };
        for key in map.keys() {
            match key {
                Value::String(key) if allowed.contains(&key.as_str()) => {}
                Value::String(key) => {
                    let hint = allowed
                        .iter()
                        .find(|known| known.eq_ignore_ascii_case(key))
                        .map(|known| format!("did you mean `{known}`? "))
                        .unwrap_or_default();
                    self.problem(
                        &at.key(key),
                        format!(
                            "unknown key `{}`: {hint}remove it or use one of {}",
                            echo(key),
                            allowed.join(", ")
                        ),
                    );
                }
                other => self.problem(
                    at,
                    format!(
                        "keys must be strings, found {}: use one of {}",
                        kind(other),
                        allowed.join(", ")
                    ),
                ),
            }
        }
        Some(Obj {
            map,
            at: at.clone(),
        })
    }

    /// The list under `key`, or `None` (with a problem) when it is there but not a list.
    /// An absent key is `Some(&[])` unless `required`, then a problem.
    pub(super) fn list<'v>(
        &mut self,
        obj: &Obj<'v>,
        key: &str,
        required: bool,
    ) -> Option<&'v [Value]> {
        match obj.get(key) {
            None if required => {
                self.problem(&obj.at.key(key), "is required: add a list here");
                None
            }
            None => Some(&[]),
            Some(Value::Sequence(items)) => Some(items),
            Some(other) => {
                self.problem(
                    &obj.at.key(key),
                    format!("expected a list, found {}", kind(other)),
                );
                None
            }
        }
    }

    /// A string under `key`. Numbers are accepted as their text (YAML reads `123` as a number,
    /// and a table named `123` is legitimate).
    pub(super) fn string(&mut self, obj: &Obj<'_>, key: &str, required: bool) -> Option<String> {
        match obj.get(key) {
            None => {
                if required {
                    self.problem(&obj.at.key(key), "is required: add a string here");
                }
                None
            }
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Number(number)) => Some(number.to_string()),
            Some(other) => {
                self.problem(
                    &obj.at.key(key),
                    format!("expected a string, found {}", kind(other)),
                );
                None
            }
        }
    }

    /// One of `choices` under `key`.
    pub(super) fn choice(
        &mut self,
        obj: &Obj<'_>,
        key: &str,
        required: bool,
        choices: &[&str],
    ) -> Option<String> {
        let text = self.string(obj, key, required)?;
        if choices.contains(&text.as_str()) {
            Some(text)
        } else {
            self.problem(
                &obj.at.key(key),
                format!(
                    "`{}` is not valid: use one of {}",
                    echo(&text),
                    choices.join(", ")
                ),
            );
            None
        }
    }

    /// A positive whole number under `key`; a numeric string is accepted because the provisioner
    /// being replaced converted with `int(...)`.
    pub(super) fn positive(&mut self, obj: &Obj<'_>, key: &str, required: bool) -> Option<u64> {
        let at = obj.at.key(key);
        let parsed = match obj.get(key) {
            None => {
                if required {
                    self.problem(&at, "is required: add a whole number of at least 1");
                }
                return None;
            }
            Some(Value::Number(number)) => number.as_u64(),
            Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
            Some(other) => {
                self.problem(
                    &at,
                    format!("expected a whole number, found {}", kind(other)),
                );
                return None;
            }
        };
        match parsed {
            Some(number) if number >= 1 => Some(number),
            _ => {
                self.problem(&at, "must be a whole number of at least 1");
                None
            }
        }
    }

    /// A boolean under `key`.
    pub(super) fn boolean(&mut self, obj: &Obj<'_>, key: &str, required: bool) -> Option<bool> {
        match obj.get(key) {
            None => {
                if required {
                    self.problem(&obj.at.key(key), "is required: add true or false");
                }
                None
            }
            Some(Value::Bool(flag)) => Some(*flag),
            Some(other) => {
                self.problem(
                    &obj.at.key(key),
                    format!("expected true or false, found {}", kind(other)),
                );
                None
            }
        }
    }
}
