//! Reading `terraform show -json`: the `galley_session` resource's values in the root module's
//! state (stack id, last job, plan summary, outputs), and the actions a saved plan takes on it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::output::PlanSummary;

/// The address of the one resource the root module declares.
pub const ADDRESS: &str = "galley_session.this";

/// What the state says about the session's stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionState {
    pub stack_id: Option<String>,
    pub last_job_id: Option<String>,
    pub last_job_state: Option<String>,
    pub plan_summary: Option<PlanSummary>,
    pub outputs: BTreeMap<String, String>,
    pub log_tail: Option<String>,
    pub operation: Option<String>,
    /// Terraform marks a resource whose create failed as tainted: the next plan replaces it.
    pub tainted: bool,
}

fn find_resource(root: &Value) -> Option<&Value> {
    root["resources"]
        .as_array()?
        .iter()
        .find(|r| r["address"].as_str() == Some(ADDRESS))
}

/// The resource in `terraform show -json` of a state; `None` when it is not in state.
pub fn session_state(show: &Value) -> Option<SessionState> {
    let r = find_resource(&show["values"]["root_module"])?;
    let v = &r["values"];
    let s = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let n = |k: &str| v["plan_summary"][k].as_u64();
    let plan_summary = v["plan_summary"].is_object().then(|| PlanSummary {
        add: n("add").unwrap_or(0),
        change: n("change").unwrap_or(0),
        destroy: n("destroy").unwrap_or(0),
    });
    let outputs = v["outputs"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(SessionState {
        stack_id: s("id"),
        last_job_id: s("last_job_id"),
        last_job_state: s("last_job_state"),
        plan_summary,
        outputs,
        log_tail: s("log_tail"),
        operation: s("operation"),
        tainted: r["tainted"].as_bool().unwrap_or(false),
    })
}

/// The actions (`create`, `update`, `delete`, `no-op`...) a saved plan takes on the resource.
pub fn planned_actions(show: &Value) -> Vec<String> {
    show["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["address"].as_str() == Some(ADDRESS))
        .flat_map(|c| {
            c["change"]["actions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect()
}

/// A string attribute of the resource as a saved plan leaves it (`None` when unknown or null).
pub fn planned_after(show: &Value, attr: &str) -> Option<String> {
    show["resource_changes"]
        .as_array()?
        .iter()
        .find(|c| c["address"].as_str() == Some(ADDRESS))?["change"]["after"][attr]
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_session_resource() {
        let show = json!({"values": {"root_module": {"resources": [{
            "address": "galley_session.this",
            "values": {
                "id": "ocid1.ormstack.oc1..s", "last_job_id": "ocid1.ormjob.oc1..j",
                "last_job_state": "SUCCEEDED", "operation": "plan", "log_tail": "Plan: 2 to add",
                "plan_summary": {"add": 2, "change": 0, "destroy": 1},
                "outputs": {"greeting": "hello"}
            }
        }]}}});
        let s = session_state(&show).unwrap();
        assert_eq!(s.stack_id.as_deref(), Some("ocid1.ormstack.oc1..s"));
        assert_eq!(s.last_job_state.as_deref(), Some("SUCCEEDED"));
        assert_eq!(
            s.plan_summary,
            Some(PlanSummary {
                add: 2,
                change: 0,
                destroy: 1
            })
        );
        assert_eq!(s.outputs["greeting"], "hello");
        assert!(!s.tainted);
        assert_eq!(session_state(&json!({"values": {}})), None);
        assert_eq!(session_state(&json!({})), None);
    }

    #[test]
    fn plan_actions_of_the_resource() {
        let plan = json!({"resource_changes": [
            {"address": "galley_session.this", "change": {"actions": ["delete", "create"]}},
            {"address": "other.x", "change": {"actions": ["update"]}}
        ]});
        assert_eq!(planned_actions(&plan), ["delete", "create"]);
        assert!(planned_actions(&json!({})).is_empty());
        let create = json!({"resource_changes": [{"address": "galley_session.this",
            "change": {"actions": ["create"], "after": {"compartment_id": "ocid1.compartment.oc1..c", "id": null}}}]});
        assert_eq!(
            planned_after(&create, "compartment_id").as_deref(),
            Some("ocid1.compartment.oc1..c")
        );
        assert_eq!(planned_after(&create, "id"), None);
    }
}
