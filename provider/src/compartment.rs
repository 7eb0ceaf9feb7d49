//! The compartment an OCI-backed resource goes in when its configuration names none: the
//! prior state's, else the work compartment the environment gives
//! ([`galley_contract::env::WORK_COMPARTMENT_ID`], the name the sidecar sets too).

use galley_contract::env::WORK_COMPARTMENT_ID;

use crate::cty::Value;
use crate::diagnostics::Diagnostic;

/// Plans `compartment_id` when the configuration leaves it unset: the prior state's value, else
/// the work compartment variable. The error, pointed at the attribute, says what the
/// compartment is for (`purpose`, e.g. "the compartment the stack belongs in").
pub fn plan_compartment(
    state: &mut Value,
    config: &Value,
    prior_compartment: Option<String>,
    purpose: &str,
) -> Result<(), Diagnostic> {
    plan_compartment_from(state, config, prior_compartment, purpose, |k| {
        std::env::var(k).ok()
    })
}

/// The `compartment_id` to plan when the configuration leaves it unset (`Ok(None)` when it is
/// set: the planned value stands), for a resource that plans through a typed model; as
/// [`plan_compartment`].
pub fn planned_compartment(
    config: &Value,
    prior_compartment: Option<String>,
    purpose: &str,
) -> Result<Option<String>, Diagnostic> {
    planned_compartment_from(config, prior_compartment, purpose, |k| {
        std::env::var(k).ok()
    })
}

fn plan_compartment_from(
    state: &mut Value,
    config: &Value,
    prior_compartment: Option<String>,
    purpose: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), Diagnostic> {
    if let Some(c) = planned_compartment_from(config, prior_compartment, purpose, env)? {
        state.set_attr("compartment_id", Value::string(c));
    }
    Ok(())
}

fn planned_compartment_from(
    config: &Value,
    prior_compartment: Option<String>,
    purpose: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, Diagnostic> {
    if !config
        .get_attr("compartment_id")
        .is_some_and(Value::is_null)
    {
        return Ok(None);
    }
    let compartment = prior_compartment
        .or_else(|| env(WORK_COMPARTMENT_ID))
        .filter(|c| !c.is_empty());
    match compartment {
        Some(c) => Ok(Some(c)),
        None => Err(Diagnostic::error(
            "No compartment",
            format!(
                "Set compartment_id, or {WORK_COMPARTMENT_ID} in the environment, to the OCID of \
                 {purpose}."
            ),
        )
        .at("compartment_id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::PathStep;

    fn unset() -> Value {
        Value::object([("compartment_id", Value::Null)])
    }

    #[test]
    fn the_prior_value_then_the_work_compartment_fill_an_unset_compartment() {
        let env = |k: &str| (k == WORK_COMPARTMENT_ID).then(|| "ocid1.compartment.oc1..w".into());
        let mut state = unset();
        plan_compartment_from(&mut state, &unset(), Some("prior".into()), "it", env).unwrap();
        assert_eq!(
            state.get_attr("compartment_id"),
            Some(&Value::string("prior"))
        );
        let mut state = unset();
        plan_compartment_from(&mut state, &unset(), None, "it", env).unwrap();
        assert_eq!(
            state.get_attr("compartment_id"),
            Some(&Value::string("ocid1.compartment.oc1..w"))
        );
        // A configured compartment is left as planned.
        let set = Value::object([("compartment_id", Value::string("mine"))]);
        let mut state = set.clone();
        plan_compartment_from(&mut state, &set, None, "it", env).unwrap();
        assert_eq!(state, set);
    }

    #[test]
    fn no_compartment_anywhere_names_the_attribute_and_the_variable() {
        let mut state = unset();
        let err = plan_compartment_from(&mut state, &unset(), None, "the stack's home", |_| None)
            .unwrap_err();
        assert_eq!(err.path, vec![PathStep::Attr("compartment_id".into())]);
        assert!(err.detail.contains(WORK_COMPARTMENT_ID), "{}", err.detail);
        assert!(err.detail.contains("the stack's home"), "{}", err.detail);
    }
}
