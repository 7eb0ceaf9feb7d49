//! What the stack's Terraform state (as Resource Manager keeps it) says: its outputs, and
//! whether it holds any resource. A stack that has not applied anything yet has no state.

use std::collections::BTreeMap;

use galley_oci::client::OciError;
use galley_oci::resource_manager::ResourceManagerClient;

/// The stack's outputs, split by sensitivity: strings as they are, other values JSON-encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    pub plain: BTreeMap<String, String>,
    pub sensitive: BTreeMap<String, String>,
}

impl Outputs {
    /// From a Terraform state file: `{"outputs": {"name": {"value": ..., "sensitive": ...}}}`.
    pub fn from_state(bytes: &[u8]) -> Result<Self, String> {
        let state: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("the state is not JSON: {e}"))?;
        let mut out = Outputs::default();
        let Some(outputs) = state.get("outputs").and_then(|o| o.as_object()) else {
            return Ok(out);
        };
        for (name, output) in outputs {
            let value = match output.get("value") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => continue,
            };
            let sensitive = output
                .get("sensitive")
                .and_then(|s| s.as_bool())
                .unwrap_or(false);
            if sensitive {
                out.sensitive.insert(name.clone(), value);
            } else {
                out.plain.insert(name.clone(), value);
            }
        }
        Ok(out)
    }
}

/// Reads the stack's outputs; a stack without state (nothing applied yet) has none.
pub async fn read_outputs(rm: &ResourceManagerClient, stack_id: &str) -> Result<Outputs, OciError> {
    match rm.get_stack_tf_state(stack_id).await {
        Ok(reply) => Outputs::from_state(&reply.value).map_err(|reason| OciError::Decode {
            operation: "GetStackTfState",
            reason,
            opc_request_id: reply.opc_request_id.clone(),
        }),
        Err(e) if e.is_not_found() => Ok(Outputs::default()),
        Err(e) => Err(e),
    }
}

/// Whether the stack's Terraform state holds any resource (no state: nothing deployed).
pub async fn has_deployed_resources(
    rm: &ResourceManagerClient,
    stack_id: &str,
) -> Result<bool, OciError> {
    match rm.get_stack_tf_state(stack_id).await {
        Ok(reply) => Ok(state_has_resources(&reply.value)),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// True unless the state file is readable and lists no resource.
fn state_has_resources(state: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(state) {
        Ok(s) => s
            .get("resources")
            .and_then(|r| r.as_array())
            .is_some_and(|r| !r.is_empty()),
        // Unreadable: destroy, to be safe.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_split_by_sensitivity_and_encode_non_strings_as_json() {
        let state = br#"{"version":4,"outputs":{
            "name":{"value":"hello","type":"string"},
            "count":{"value":3,"type":"number"},
            "list":{"value":["a","b"],"type":["list","string"]},
            "secret":{"value":"s3cr3t","type":"string","sensitive":true}}}"#;
        let o = Outputs::from_state(state).unwrap();
        assert_eq!(o.plain["name"], "hello");
        assert_eq!(o.plain["count"], "3");
        assert_eq!(o.plain["list"], r#"["a","b"]"#);
        assert_eq!(o.sensitive["secret"], "s3cr3t");
        assert!(!o.plain.contains_key("secret"));
        assert_eq!(Outputs::from_state(b"{}").unwrap(), Outputs::default());
        assert!(Outputs::from_state(b"not json").is_err());
    }

    #[test]
    fn only_states_with_resources_need_a_destroy_job() {
        assert!(!state_has_resources(br#"{"version":4,"resources":[]}"#));
        assert!(!state_has_resources(
            br#"{"version":4,"outputs":{"x":{"value":1}}}"#
        ));
        assert!(state_has_resources(
            br#"{"version":4,"resources":[{"type":"terraform_data","name":"x"}]}"#
        ));
        assert!(
            state_has_resources(b"not json"),
            "unreadable: destroy to be safe"
        );
    }
}
