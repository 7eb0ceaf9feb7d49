//! Where each component sits in the network, worked out from its connections: the VCN a subnet,
//! gateway, route table or security list is attached to, and the subnet (and through it the VCN)
//! an instance, cluster, load balancer or database endpoint runs in. Validation, the summary and
//! the diagram all place components this way.

use std::collections::HashMap;

use crate::catalog::{self, Placement};
use crate::model::{Architecture, Component};

/// A component's place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place<'a> {
    /// The VCN it is in (for a VCN: itself).
    pub vcn: Option<&'a str>,
    /// The subnet it runs in (components placed in subnets only).
    pub subnet: Option<&'a str>,
}

/// The place of one component.
pub fn place<'a>(arch: &'a Architecture, c: &'a Component) -> Place<'a> {
    let Some(t) = catalog::find(&c.service_type) else {
        return Place::default();
    };
    let vcn_of = |id: &'a str| {
        arch.neighbours_of_type(id, "vcn")
            .next()
            .map(|v| v.id.as_str())
    };
    match t.placement {
        Placement::Network => Place {
            vcn: Some(c.id.as_str()),
            subnet: None,
        },
        Placement::InVcn => Place {
            vcn: vcn_of(&c.id),
            subnet: None,
        },
        Placement::InSubnet | Placement::OptionalSubnet => {
            match arch.neighbours_of_type(&c.id, "subnet").next() {
                Some(s) => Place {
                    vcn: vcn_of(&s.id),
                    subnet: Some(s.id.as_str()),
                },
                None => Place::default(),
            }
        }
        Placement::Regional => Place::default(),
    }
}

/// Every component's place, by id.
pub fn places(arch: &Architecture) -> HashMap<&str, Place<'_>> {
    arch.components
        .iter()
        .map(|c| (c.id.as_str(), place(arch, c)))
        .collect()
}
