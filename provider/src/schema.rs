//! Schemas as the provider, its resources and its data sources declare them.
//!
//! This module owns the schema model (blocks, attributes, nesting) and the cty type a block's
//! values have. It knows nothing about any particular resource, nor about the wire: the
//! tfplugin5 encoding lives in `server::toproto`.

use std::collections::{BTreeMap, BTreeSet};

use crate::cty::Type;

/// A resource's or the provider's schema: a version (for state upgrades) and its root block.
#[derive(Debug, Clone)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub deprecated: bool,
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: Type,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
}

/// How Terraform should treat an attribute in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    /// Optional, and the provider fills it in when unset (defaults, environment variables).
    OptionalComputed,
    Computed,
}

impl Attribute {
    pub fn new(name: &'static str, ty: Type, presence: Presence, description: &str) -> Self {
        let (required, optional, computed) = match presence {
            Presence::Required => (true, false, false),
            Presence::Optional => (false, true, false),
            Presence::OptionalComputed => (false, true, true),
            Presence::Computed => (false, false, true),
        };
        Self {
            name,
            ty,
            description: description.to_string(),
            required,
            optional,
            computed,
            sensitive: false,
            deprecated: false,
        }
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    Group,
}

#[derive(Debug, Clone)]
pub struct NestedBlock {
    pub type_name: &'static str,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
}

impl Block {
    /// The cty object type of this block's values: what DynamicValues are decoded with.
    pub fn value_type(&self) -> Type {
        let mut attrs = BTreeMap::new();
        for a in &self.attributes {
            attrs.insert(a.name.to_string(), a.ty.clone());
        }
        for b in &self.blocks {
            let inner = b.block.value_type();
            let ty = match b.nesting {
                Nesting::Single | Nesting::Group => inner,
                Nesting::List => Type::List(Box::new(inner)),
                Nesting::Set => Type::Set(Box::new(inner)),
                Nesting::Map => Type::Map(Box::new(inner)),
            };
            attrs.insert(b.type_name.to_string(), ty);
        }
        Type::Object {
            attrs,
            optional: BTreeSet::new(),
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Block {
        Block {
            description: "sample".into(),
            attributes: vec![
                Attribute::new("name", Type::String, Presence::Required, "the name"),
                Attribute::new("id", Type::String, Presence::Computed, "the id"),
                Attribute::new("token", Type::String, Presence::Optional, "secret").sensitive(),
            ],
            blocks: vec![NestedBlock {
                type_name: "timeouts",
                block: Block {
                    attributes: vec![Attribute::new(
                        "create",
                        Type::String,
                        Presence::Optional,
                        "",
                    )],
                    ..Default::default()
                },
                nesting: Nesting::Single,
                min_items: 0,
                max_items: 0,
            }],
            deprecated: false,
        }
    }

    #[test]
    fn block_value_type_includes_nested_blocks() {
        let ty = sample().value_type();
        let Type::Object { attrs, .. } = ty else {
            panic!("not an object")
        };
        assert_eq!(
            attrs.keys().collect::<Vec<_>>(),
            ["id", "name", "timeouts", "token"]
        );
        assert!(matches!(attrs["timeouts"], Type::Object { .. }));
    }
}
