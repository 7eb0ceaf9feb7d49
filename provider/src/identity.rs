//! Resource identity: the few attributes that name a remote object independently of its full
//! state (Terraform 1.12 on: `import { identity = {...} }`, and every `terraform query` result).
//!
//! This module owns the identity schema model, the cty type identity values have, and the
//! checks an identity value must pass before it goes on the wire. A resource declares its
//! identity with [`crate::resource::Resource::identity_schema`] and derives identity values from
//! its state; the protocol layer (`server::rpc`) decodes, checks and encodes them.

use std::collections::BTreeSet;

use crate::cty::{Type, Value};

/// Whether an import by identity must set the attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForImport {
    Required,
    /// May be left out of an `import` block's identity; the resource fills it in (a default,
    /// the provider's region).
    Optional,
}

#[derive(Debug, Clone)]
pub struct IdentityAttribute {
    pub name: &'static str,
    /// A primitive type or a list of one: what Terraform accepts in an identity.
    pub ty: Type,
    pub for_import: ForImport,
    /// Markdown, shown in the docs' identity section.
    pub description: String,
}

impl IdentityAttribute {
    pub fn new(name: &'static str, ty: Type, for_import: ForImport, description: &str) -> Self {
        Self {
            name,
            ty,
            for_import,
            description: description.to_string(),
        }
    }
}

/// A resource's identity schema. Its version is independent of the resource schema's and
/// drives `Resource::upgrade_identity`.
#[derive(Debug, Clone)]
pub struct IdentitySchema {
    pub version: i64,
    pub attributes: Vec<IdentityAttribute>,
}

impl IdentitySchema {
    /// The object type of identity values (every attribute present, nulls allowed).
    pub fn value_type(&self) -> Type {
        Type::object(self.attributes.iter().map(|a| (a.name, a.ty.clone())))
    }

    /// The identity of `state`: the state's attributes with the identity's names. The default
    /// derivation of `Resource::identity`, right whenever the identity attributes are
    /// attributes of the resource too.
    pub fn project(&self, state: &Value) -> Value {
        Value::object(self.attributes.iter().map(|a| {
            let v = state.get_attr(a.name).cloned().unwrap_or(Value::Null);
            (a.name, v)
        }))
    }

    /// What is wrong with this schema, one sentence per problem: Terraform's rule on attribute
    /// types, and ours that an import block must be able to name an object (at least one
    /// attribute required for import).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.attributes.is_empty() {
            out.push("the identity schema has no attributes".to_string());
        }
        if !self
            .attributes
            .iter()
            .any(|a| a.for_import == ForImport::Required)
        {
            out.push("no identity attribute is required for import".to_string());
        }
        let mut seen = BTreeSet::new();
        for a in &self.attributes {
            if !seen.insert(a.name) {
                out.push(format!("identity attribute {} is declared twice", a.name));
            }
            let primitive = |t: &Type| matches!(t, Type::Bool | Type::Number | Type::String);
            let ok = match &a.ty {
                Type::List(inner) => primitive(inner),
                t => primitive(t),
            };
            if !ok {
                out.push(format!(
                    "identity attribute {} has type {}; identities hold bool, number, string or \
                     a list of one of those",
                    a.name,
                    a.ty.friendly_name()
                ));
            }
        }
        out
    }

    /// The first problem of an identity value the provider is about to send, as the end of
    /// a sentence ("... returned an identity that {problem}"); `None` when it may be sent.
    /// `unknown_allowed` holds for the planned identity of a create or a replacement only.
    pub fn check(&self, identity: &Value, unknown_allowed: bool) -> Option<String> {
        if identity.is_null() {
            return Some("is null".into());
        }
        if let Err(e) = identity.conforms_to(&self.value_type()) {
            return Some(format!("does not match the identity schema: {e}"));
        }
        if !unknown_allowed && !identity.is_wholly_known() {
            return Some("is not wholly known".into());
        }
        let missing: Vec<_> = self
            .required_for_import()
            .filter(|name| identity.get_attr(name).is_none_or(Value::is_null))
            .collect();
        if !missing.is_empty() {
            return Some(format!("leaves {} null", missing.join(", ")));
        }
        None
    }

    pub fn required_for_import(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.attributes
            .iter()
            .filter(|a| a.for_import == ForImport::Required)
            .map(|a| a.name)
    }
}

/// Whether `new` keeps `prior`: every attribute `prior` knows is the same in `new`. An identity
/// may be completed (an import by identity leaves optional attributes null, the next read fills
/// them; a create plans unknowns) but never changed: it names the same remote object for as long
/// as the object exists.
pub fn keeps(prior: &Value, new: &Value) -> bool {
    let Some(attrs) = prior.as_map() else {
        return true;
    };
    attrs
        .iter()
        .filter(|(_, v)| !v.is_null() && v.is_wholly_known())
        .all(|(name, v)| new.get_attr(name).is_some_and(|n| n.equivalent(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> IdentitySchema {
        IdentitySchema {
            version: 1,
            attributes: vec![
                IdentityAttribute::new("id", Type::String, ForImport::Required, "The id."),
                IdentityAttribute::new("region", Type::String, ForImport::Optional, "Region."),
            ],
        }
    }

    #[test]
    fn project_takes_the_identity_attributes_of_a_state() {
        let state = Value::object([("id", Value::string("x")), ("name", Value::string("n"))]);
        assert_eq!(
            schema().project(&state),
            Value::object([("id", Value::string("x")), ("region", Value::Null)])
        );
        assert_eq!(
            schema().project(&Value::Null),
            Value::object([("id", Value::Null), ("region", Value::Null)])
        );
    }

    #[test]
    fn check_refuses_null_mistyped_unknown_and_incomplete_identities() {
        let s = schema();
        let id = |v: Value| Value::object([("id", v), ("region", Value::Null)]);
        assert_eq!(s.check(&id(Value::string("x")), false), None);
        assert_eq!(s.check(&Value::Null, false).as_deref(), Some("is null"));
        assert!(
            s.check(&id(Value::Bool(true)), false)
                .unwrap()
                .starts_with("does not match the identity schema")
        );
        assert_eq!(
            s.check(&id(Value::unknown()), false).as_deref(),
            Some("is not wholly known")
        );
        assert_eq!(s.check(&id(Value::unknown()), true), None);
        assert_eq!(
            s.check(&id(Value::Null), true).as_deref(),
            Some("leaves id null")
        );
    }

    #[test]
    fn an_identity_may_be_completed_but_not_changed() {
        let a = Value::object([("id", Value::string("x")), ("region", Value::Null)]);
        let filled = Value::object([("id", Value::string("x")), ("region", Value::string("r"))]);
        let other = Value::object([("id", Value::string("y")), ("region", Value::Null)]);
        assert!(keeps(&a, &filled));
        assert!(keeps(&Value::Null, &other));
        assert!(!keeps(&a, &other));
        assert!(!keeps(&filled, &a), "a set attribute may not become null");
        let planned = Value::object([("id", Value::unknown()), ("region", Value::Null)]);
        assert!(
            keeps(&planned, &filled),
            "a planned unknown is not a value yet"
        );
    }

    #[test]
    fn problems_name_the_attribute() {
        assert!(schema().problems().is_empty());
        let bad = IdentitySchema {
            version: 0,
            attributes: vec![IdentityAttribute::new(
                "tags",
                Type::map(Type::String),
                ForImport::Optional,
                "",
            )],
        };
        let problems = bad.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("required for import"));
        assert!(problems[1].starts_with("identity attribute tags has type map of string"));
    }
}
