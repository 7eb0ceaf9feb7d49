//! Schemas as the provider, its resources, data sources and list resources declare them.
//!
//! This module owns the schema model (blocks, attributes, nesting), the cty type a block's
//! values have, the rules a schema must follow ([`Block::problems`]) and what the schema alone
//! says about a value: where its write-only attributes are ([`Block::null_write_only`],
//! [`Block::write_only_set`]) and which part of a state is configuration
//! ([`Block::config_from_state`]). It knows nothing about any particular resource, nor about the
//! wire: the tfplugin5 encoding lives in `server::toproto`.

use std::collections::{BTreeMap, BTreeSet};

use crate::cty::{Type, Value};
use crate::diagnostics::PathStep;

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
    /// Terraform (1.11 on) sends the configured value during plan and apply and never stores it:
    /// the protocol layer nulls it in every state it returns, and refuses it in configuration
    /// when the client cannot handle write-only attributes.
    pub write_only: bool,
    /// The attribute (of the same block, stored in state) that does the same job on Terraform
    /// versions without write-only attributes; named in the error those versions get.
    pub write_only_fallback: Option<&'static str>,
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
            write_only: false,
            write_only_fallback: None,
        }
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Marks the attribute write-only (it must be Required or Optional, not computed).
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    /// Write-only, with `fallback` as what Terraform versions before 1.11 should set instead.
    pub fn write_only_with_fallback(mut self, fallback: &'static str) -> Self {
        self.write_only_fallback = Some(fallback);
        self.write_only()
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

    /// Whether a write-only attribute appears anywhere in this block or its nested blocks.
    pub fn has_write_only(&self) -> bool {
        self.attributes.iter().any(|a| a.write_only)
            || self.blocks.iter().any(|b| b.block.has_write_only())
    }

    /// What is wrong with this block as a schema Terraform accepts, one sentence per problem,
    /// naming the attribute. `write_only_allowed` is false for every schema but a managed
    /// resource's (data sources, list resources and the provider block cannot have them).
    pub fn problems(&self, write_only_allowed: bool) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_problems(write_only_allowed, "", false, &mut out);
        out
    }

    fn collect_problems(&self, allowed: bool, at: &str, in_set: bool, out: &mut Vec<String>) {
        for a in &self.attributes {
            let name = format!("{at}{}", a.name);
            if !a.write_only {
                if a.write_only_fallback.is_some() {
                    out.push(format!(
                        "{name} names a write-only fallback but is not write-only"
                    ));
                }
                continue;
            }
            if !allowed {
                out.push(format!(
                    "{name} is write-only, which only managed resources may declare"
                ));
            }
            if a.computed {
                out.push(format!(
                    "{name} is write-only and computed: it could never be read"
                ));
            }
            if in_set {
                out.push(format!("{name} is write-only inside a set-nested block"));
            }
            if let Some(fallback) = a.write_only_fallback {
                match self.attribute(fallback) {
                    Some(f) if !f.write_only && f.ty == a.ty => {}
                    _ => out.push(format!(
                        "{name} names {fallback} as its fallback, which is not a stored \
                         attribute of the same type in the same block"
                    )),
                }
            }
        }
        for b in &self.blocks {
            let inner = format!("{at}{}.", b.type_name);
            let set = in_set || b.nesting == Nesting::Set;
            b.block.collect_problems(allowed, &inner, set, out);
        }
    }

    /// Sets every write-only attribute of `value` (an object of this block's type) to null,
    /// in nested blocks too. Terraform refuses a plan or state holding a write-only value.
    pub fn null_write_only(&self, value: &mut Value) {
        if !self.has_write_only() {
            return;
        }
        let Value::Object(attrs) = value else {
            return;
        };
        for a in self.attributes.iter().filter(|a| a.write_only) {
            if let Some(v) = attrs.get_mut(a.name) {
                *v = Value::Null;
            }
        }
        for b in self.blocks.iter().filter(|b| b.block.has_write_only()) {
            match attrs.get_mut(b.type_name) {
                Some(Value::List(items) | Value::Set(items)) => {
                    items.iter_mut().for_each(|i| b.block.null_write_only(i));
                }
                Some(Value::Map(items)) => {
                    items.values_mut().for_each(|i| b.block.null_write_only(i));
                }
                Some(single) => b.block.null_write_only(single),
                None => {}
            }
        }
    }

    /// Where `config` sets a write-only attribute (any non-null value, unknown included), with
    /// the attribute's schema.
    pub fn write_only_set<'s>(&'s self, config: &Value) -> Vec<(Vec<PathStep>, &'s Attribute)> {
        let mut out = Vec::new();
        self.collect_write_only_set(config, &mut Vec::new(), &mut out);
        out
    }

    fn collect_write_only_set<'s>(
        &'s self,
        value: &Value,
        at: &mut Vec<PathStep>,
        out: &mut Vec<(Vec<PathStep>, &'s Attribute)>,
    ) {
        if !self.has_write_only() {
            return;
        }
        for a in self.attributes.iter().filter(|a| a.write_only) {
            if value.get_attr(a.name).is_some_and(|v| !v.is_null()) {
                let mut path = at.clone();
                path.push(PathStep::Attr(a.name.to_string()));
                out.push((path, a));
            }
        }
        for b in &self.blocks {
            let Some(inner) = value.get_attr(b.type_name) else {
                continue;
            };
            at.push(PathStep::Attr(b.type_name.to_string()));
            match inner {
                Value::List(items) | Value::Set(items) => {
                    for (i, item) in items.iter().enumerate() {
                        at.push(PathStep::Index(i as i64));
                        b.block.collect_write_only_set(item, at, out);
                        at.pop();
                    }
                }
                Value::Map(items) => {
                    for (k, item) in items {
                        at.push(PathStep::Key(k.clone()));
                        b.block.collect_write_only_set(item, at, out);
                        at.pop();
                    }
                }
                single => b.block.collect_write_only_set(single, at, out),
            }
            at.pop();
        }
    }

    /// The configuration that would produce `state` (an object of this block's type): what
    /// Terraform writes for `-generate-config-out`. Required and optional attributes keep their
    /// values; computed-only, deprecated and write-only attributes become null, and so does a
    /// single nested block left with nothing set, so no empty block is generated.
    pub fn config_from_state(&self, state: &Value) -> Value {
        let Value::Object(attrs) = state else {
            return state.clone();
        };
        let mut out = BTreeMap::new();
        for (name, v) in attrs {
            let kept = if let Some(a) = self.attribute(name) {
                let config_only = (a.required || a.optional) && !a.deprecated && !a.write_only;
                if config_only { v.clone() } else { Value::Null }
            } else if let Some(b) = self.blocks.iter().find(|b| b.type_name == name) {
                b.config_from_state(v)
            } else {
                v.clone()
            };
            out.insert(name.clone(), kept);
        }
        Value::Object(out)
    }
}

impl NestedBlock {
    fn config_from_state(&self, v: &Value) -> Value {
        let inner = |item: &Value| self.block.config_from_state(item);
        match v {
            Value::List(items) => Value::List(items.iter().map(inner).collect()),
            Value::Set(items) => Value::Set(items.iter().map(inner).collect()),
            Value::Map(items) => {
                Value::Map(items.iter().map(|(k, i)| (k.clone(), inner(i))).collect())
            }
            Value::Object(_) => {
                let config = inner(v);
                let empty = config
                    .as_map()
                    .is_some_and(|attrs| attrs.values().all(Value::is_null));
                if empty && self.nesting == Nesting::Single {
                    Value::Null
                } else {
                    config
                }
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small block with each kind of attribute and a nested block (the wire encoding's tests
    /// use it too).
    pub(crate) fn sample() -> Block {
        Block {
            description: "sample".into(),
            attributes: vec![
                Attribute::new("name", Type::String, Presence::Required, "the name"),
                Attribute::new("id", Type::String, Presence::Computed, "the id"),
                Attribute::new("token", Type::String, Presence::Optional, "secret").sensitive(),
                Attribute::new("token_wo", Type::String, Presence::Optional, "").write_only(),
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
            ["id", "name", "timeouts", "token", "token_wo"]
        );
        assert!(matches!(attrs["timeouts"], Type::Object { .. }));
    }

    #[test]
    fn problems_name_each_write_only_mistake() {
        assert!(sample().problems(true).is_empty());
        let wo = |name| Attribute::new(name, Type::String, Presence::Optional, "");
        let block = Block {
            attributes: vec![
                wo("ok_wo").write_only_with_fallback("ok"),
                wo("ok"),
                Attribute::new("computed_wo", Type::String, Presence::OptionalComputed, "")
                    .write_only(),
                wo("lost_wo").write_only_with_fallback("nowhere"),
                wo("self_wo").write_only_with_fallback("ok_wo"),
                Attribute {
                    write_only_fallback: Some("ok"),
                    ..wo("plain")
                },
            ],
            blocks: vec![NestedBlock {
                type_name: "rules",
                block: Block {
                    attributes: vec![wo("pin_wo").write_only()],
                    ..Default::default()
                },
                nesting: Nesting::Set,
                min_items: 0,
                max_items: 0,
            }],
            ..Default::default()
        };
        assert_eq!(
            block.problems(true),
            [
                "computed_wo is write-only and computed: it could never be read",
                "lost_wo names nowhere as its fallback, which is not a stored attribute of the \
                 same type in the same block",
                "self_wo names ok_wo as its fallback, which is not a stored attribute of the \
                 same type in the same block",
                "plain names a write-only fallback but is not write-only",
                "rules.pin_wo is write-only inside a set-nested block",
            ]
        );
        let data_source = Block {
            attributes: vec![wo("token_wo").write_only()],
            ..Default::default()
        };
        assert_eq!(
            data_source.problems(false),
            ["token_wo is write-only, which only managed resources may declare"]
        );
    }

    #[test]
    fn write_only_values_are_found_and_nulled_at_every_depth() {
        let block = Block {
            attributes: vec![
                Attribute::new("name", Type::String, Presence::Required, ""),
                Attribute::new("key_wo", Type::String, Presence::Optional, "").write_only(),
            ],
            blocks: vec![NestedBlock {
                type_name: "rule",
                block: Block {
                    attributes: vec![
                        Attribute::new("pin_wo", Type::String, Presence::Optional, "").write_only(),
                    ],
                    ..Default::default()
                },
                nesting: Nesting::List,
                min_items: 0,
                max_items: 0,
            }],
            ..Default::default()
        };
        let rule = |pin: Value| Value::object([("pin_wo", pin)]);
        let mut v = Value::object([
            ("name", Value::string("n")),
            ("key_wo", Value::string("k")),
            (
                "rule",
                Value::list(vec![rule(Value::Null), rule(Value::unknown())]),
            ),
        ]);
        let found: Vec<_> = block
            .write_only_set(&v)
            .into_iter()
            .map(|(path, a)| (path, a.name))
            .collect();
        assert_eq!(
            found,
            [
                (vec![PathStep::Attr("key_wo".into())], "key_wo"),
                (
                    vec![
                        PathStep::Attr("rule".into()),
                        PathStep::Index(1),
                        PathStep::Attr("pin_wo".into())
                    ],
                    "pin_wo"
                ),
            ]
        );
        block.null_write_only(&mut v);
        assert_eq!(
            v,
            Value::object([
                ("name", Value::string("n")),
                ("key_wo", Value::Null),
                (
                    "rule",
                    Value::list(vec![rule(Value::Null), rule(Value::Null)])
                ),
            ])
        );
        assert!(block.write_only_set(&v).is_empty());
        let mut null = Value::Null;
        block.null_write_only(&mut null);
        assert_eq!(null, Value::Null);
    }

    #[test]
    fn config_from_state_keeps_what_a_user_sets() {
        let state = Value::object([
            ("name", Value::string("n")),
            ("id", Value::string("x")),
            ("token", Value::string("t")),
            ("timeouts", Value::object([("create", Value::string("5m"))])),
        ]);
        let config = sample().config_from_state(&state);
        assert_eq!(
            config,
            Value::object([
                ("name", Value::string("n")),
                ("id", Value::Null),
                ("token", Value::string("t")),
                ("timeouts", Value::object([("create", Value::string("5m"))]),),
            ])
        );
        let mut deprecated = sample();
        deprecated.attributes[2].deprecated = true;
        let config = deprecated.config_from_state(&state);
        assert_eq!(config.get_attr("token"), Some(&Value::Null));
        assert_eq!(sample().config_from_state(&Value::Null), Value::Null);
    }
}
