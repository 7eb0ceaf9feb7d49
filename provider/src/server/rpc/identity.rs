//! Identity semantics of the resource RPCs: deriving the identity of a state the resource
//! returns, the checks Terraform (and the identity's meaning) require of it, and whether a plan
//! replaces the object (the one case where its identity may change).
//!
//! The wire encoding stays in `toproto`/`fromproto`; the identity model in `crate::identity`.

use super::guarded_try;
use crate::cty::Value;
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::identity;
use crate::provider::Registered;
use crate::resource::Ctx;
use crate::schema::Block;

/// The identity of `state`, checked; `None` for a resource without an identity schema or a
/// null state (an object that is gone has no identity). `unknown_allowed` holds for the planned
/// identity of a create or a replacement.
pub(super) async fn derive(
    rpc: &str,
    reg: &Registered,
    ctx: &Ctx,
    state: &Value,
    unknown_allowed: bool,
) -> Result<Option<Value>, Diagnostics> {
    let Some(schema) = &reg.identity else {
        return Ok(None);
    };
    if state.is_null() {
        return Ok(None);
    }
    let identity = guarded_try(rpc, async { reg.resource.identity(ctx, state) }).await?;
    match schema.schema.check(&identity, unknown_allowed) {
        None => Ok(Some(identity)),
        Some(problem) => Err(bug(reg, &format!("returned an identity that {problem}")).into()),
    }
}

/// An error for an identity that names another object than `prior` did.
pub(super) fn check_kept(
    reg: &Registered,
    prior: &Value,
    new: &Value,
    during: &str,
) -> Result<(), Diagnostic> {
    if identity::keeps(prior, new) {
        return Ok(());
    }
    Err(Diagnostic::error(
        "Unexpected identity change",
        format!(
            "During {during}, the {} resource returned an identity that differs from the stored \
             one, although the object was not replaced. This is a bug in the provider; please \
             report it.",
            reg.resource.type_name()
        ),
    ))
}

fn bug(reg: &Registered, what: &str) -> Diagnostic {
    Diagnostic::error(
        "Provider returned an invalid identity",
        format!(
            "The {} resource {what}. This is a bug in the provider; please report it.",
            reg.resource.type_name()
        ),
    )
}

/// Whether Terraform will replace the object rather than update it: a `requires_replace` path
/// whose value changes or is not known yet, or one into a write-only attribute (Terraform cannot
/// compare those and always replaces).
pub(super) fn replaces(
    block: &Block,
    prior: &Value,
    planned: &Value,
    requires_replace: &[Vec<PathStep>],
) -> bool {
    requires_replace.iter().any(|path| {
        let write_only = matches!(
            path.first(),
            Some(PathStep::Attr(name)) if block.attribute(name).is_some_and(|a| a.write_only)
        );
        let before = value_at(prior, path);
        let after = value_at(planned, path);
        write_only || !after.is_wholly_known() || !before.equivalent(&after)
    })
}

/// The value at `path` inside `v`; null where the path leads nowhere.
fn value_at(v: &Value, path: &[PathStep]) -> Value {
    let mut at = v;
    for step in path {
        let next = match (step, at.unwrap_dynamic()) {
            (PathStep::Attr(name), Value::Object(attrs)) => attrs.get(name),
            (PathStep::Key(key), Value::Map(entries)) => entries.get(key),
            (PathStep::Index(i), Value::List(items) | Value::Tuple(items) | Value::Set(items)) => {
                usize::try_from(*i).ok().and_then(|i| items.get(i))
            }
            (_, unknown @ Value::Unknown(_)) => return unknown.clone(),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return Value::Null,
        }
    }
    at.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::Type;
    use crate::schema::{Attribute, Presence};

    #[test]
    fn a_plan_replaces_when_a_requires_replace_value_changes_or_is_unknown() {
        let block = Block {
            attributes: vec![
                Attribute::new("name", Type::String, Presence::Required, ""),
                Attribute::new("key_wo", Type::String, Presence::Optional, "").write_only(),
            ],
            ..Default::default()
        };
        let obj = |name: Value| Value::object([("name", name), ("key_wo", Value::Null)]);
        let name = vec![vec![PathStep::Attr("name".into())]];
        let a = obj(Value::string("a"));
        assert!(!replaces(&block, &a, &a, &name));
        assert!(replaces(&block, &a, &obj(Value::string("b")), &name));
        assert!(replaces(&block, &a, &obj(Value::unknown()), &name));
        assert!(!replaces(&block, &a, &obj(Value::string("b")), &[]));
        let key = vec![vec![PathStep::Attr("key_wo".into())]];
        assert!(replaces(&block, &a, &a, &key), "write-only: always");
    }

    #[test]
    fn value_at_follows_attributes_keys_and_indexes() {
        let v = Value::object([(
            "m",
            Value::map([("k", Value::list(vec![Value::string("x")]))]),
        )]);
        let path = [
            PathStep::Attr("m".into()),
            PathStep::Key("k".into()),
            PathStep::Index(0),
        ];
        assert_eq!(value_at(&v, &path), Value::string("x"));
        assert_eq!(value_at(&v, &[PathStep::Attr("nope".into())]), Value::Null);
        let u = Value::object([("m", Value::unknown())]);
        assert!(!value_at(&u, &path).is_known());
    }
}
