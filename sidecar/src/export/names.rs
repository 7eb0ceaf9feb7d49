//! Which component declares which Terraform name. Labels are unique (`Ctx::new`), but the names
//! built from them are not by construction: a load balancer `a` with a backend `b_c` and a load
//! balancer `a_b` with a backend `c` both declare `oci_load_balancer_backend.a_b_c`; an OKE
//! cluster `k` and an instance `k_node` both declare the variable `k_node_shape`. Terraform
//! refuses such a configuration when it loads it, so the collision is found here, before
//! anything is written, and named with both components.

use std::collections::HashMap;

use super::{Rendered, Variable};
use crate::echo;
use crate::model::Component;

/// Who declares a name.
#[derive(Debug, Clone, PartialEq)]
pub enum Owner {
    Component {
        id: String,
        service_type: String,
        display_name: String,
    },
    /// The variables every stack declares (`tenancy_ocid`, `compartment_ocid`, `region`).
    Stack,
}

impl Owner {
    fn of(c: &Component) -> Owner {
        Owner::Component {
            id: c.id.clone(),
            service_type: c.service_type.clone(),
            display_name: c.display_name.clone(),
        }
    }

    /// The component id, when a component owns the name.
    pub fn id(&self) -> Option<&str> {
        match self {
            Owner::Component { id, .. } => Some(id),
            Owner::Stack => None,
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Component {
                id,
                service_type,
                display_name,
            } => write!(
                f,
                "component {} ({service_type} named {})",
                echo::quoted(id),
                echo::quoted(display_name)
            ),
            Owner::Stack => f.write_str("the stack's own variables"),
        }
    }
}

/// Two declarations of one Terraform name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{first} and {second} both become the Terraform {kind} \"{name}\", which Terraform refuses to load; give one of them a display_name that differs in more than spaces, `-` and `_` (configure_component), then export again"
)]
pub struct NameCollision {
    /// `variable`, `output`, or `resource <type>`.
    pub kind: String,
    pub name: String,
    pub first: Owner,
    pub second: Owner,
}

impl NameCollision {
    /// Ids of the components involved.
    pub fn component_ids(&self) -> Vec<String> {
        [&self.first, &self.second]
            .into_iter()
            .filter_map(|o| o.id().map(str::to_string))
            .collect()
    }
}

/// Every name declared twice, in declaration order. A component that declares one name twice
/// (which the generator never does) is reported too, with itself as both owners.
pub fn collisions(rendered: &[(&Component, Rendered)], root: &[Variable]) -> Vec<NameCollision> {
    let mut seen: HashMap<(String, String), Owner> = HashMap::new();
    let mut out = Vec::new();
    let mut claim = |kind: String, name: &str, owner: &Owner| {
        let key = (kind, name.to_string());
        match seen.get(&key) {
            Some(first) => out.push(NameCollision {
                kind: key.0,
                name: key.1,
                first: first.clone(),
                second: owner.clone(),
            }),
            None => {
                seen.insert(key, owner.clone());
            }
        }
    };
    for v in root {
        claim("variable".into(), &v.name, &Owner::Stack);
    }
    for (c, r) in rendered {
        let owner = Owner::of(c);
        for v in &r.variables {
            claim("variable".into(), &v.name, &owner);
        }
        for (name, _, _) in &r.outputs {
            claim("output".into(), name, &owner);
        }
        for b in &r.resources {
            if let [kind, name] = b.labels.as_slice() {
                claim(format!("{} {kind}", b.kind), name, &owner);
            }
        }
    }
    out
}
