//! What a component costs to run, where the shipped price table (`prices/oci-prices.yml`) knows
//! it: E4 flexible compute (instances and OKE worker nodes) and the services that have no
//! charge. Everything else is "unknown": a figure is only ever computed from a recorded rate.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Component;

const SHIPPED: &str = include_str!("../../prices/oci-prices.yml");
/// The only flexible shape with recorded rates.
const E4_FLEX: &str = "VM.Standard.E4.Flex";
/// What the OKE export gives each worker node (see `export::oke`).
const OKE_NODE_OCPUS: f64 = 1.0;
const OKE_NODE_MEMORY_GBS: f64 = 16.0;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub part: String,
    pub description: String,
    pub usd: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoCharge {
    service_types: Vec<String>,
    basis: String,
}

/// The loaded price table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub source: String,
    pub recorded: String,
    pub hours_per_month: f64,
    pub rates: BTreeMap<String, Rate>,
    no_charge: Vec<NoCharge>,
}

/// A component's estimated cost.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Estimate {
    pub component_id: String,
    /// USD per month, or `None` when the table has no price for it.
    pub monthly_usd: Option<f64>,
    /// How the figure was made, or why there is none.
    pub basis: String,
}

impl PriceTable {
    /// The shipped table (checked by a unit test).
    pub fn shipped() -> &'static PriceTable {
        static T: std::sync::LazyLock<PriceTable> = std::sync::LazyLock::new(|| {
            serde_norway::from_str(SHIPPED).expect("the shipped price table parses")
        });
        &T
    }

    fn rate(&self, id: &str) -> Option<f64> {
        self.rates.get(id).map(|r| r.usd)
    }

    /// USD per month of `ocpus` and `memory` GB of E4 flexible compute.
    fn e4_month(&self, ocpus: f64, memory: f64) -> Option<f64> {
        Some(
            (ocpus * self.rate("e4_ocpu_hour")? + memory * self.rate("e4_memory_gb_hour")?)
                * self.hours_per_month,
        )
    }

    /// The estimate for one component (config defaults taken from the catalog).
    pub fn estimate(&self, c: &Component) -> Estimate {
        let (monthly_usd, basis) = self.price(c);
        Estimate {
            component_id: c.id.clone(),
            monthly_usd,
            basis,
        }
    }

    fn price(&self, c: &Component) -> (Option<f64>, String) {
        let cfg = |k: &str| -> Value {
            c.config.get(k).cloned().unwrap_or_else(|| {
                crate::catalog::find(&c.service_type)
                    .and_then(|t| t.config.iter().find(|x| x.name == k))
                    .map(|x| x.default.clone())
                    .unwrap_or(Value::Null)
            })
        };
        let num = |k: &str| cfg(k).as_f64();
        let hours = self.hours_per_month;
        match c.service_type.as_str() {
            "compute" => {
                let shape = cfg("shape");
                let shape = shape.as_str().unwrap_or_default();
                match (shape == E4_FLEX, num("ocpus"), num("memory_in_gbs")) {
                    (true, Some(o), Some(m)) => match self.e4_month(o, m) {
                        Some(usd) => (
                            Some(usd),
                            format!(
                                "{o} OCPU and {m} GB of {E4_FLEX} for {hours} hours; boot volume not included"
                            ),
                        ),
                        None => (None, "unknown: no E4 rates in the price table".into()),
                    },
                    (true, _, _) => (
                        None,
                        "unknown: ocpus or memory_in_gbs is not a number".into(),
                    ),
                    (false, _, _) => (
                        None,
                        format!("unknown: no price recorded for shape {shape}"),
                    ),
                }
            }
            "oke" => {
                let shape = cfg("node_shape");
                let shape = shape.as_str().unwrap_or_default();
                let nodes = num("node_count").unwrap_or(0.0);
                let plane = self.no_charge_basis("oke");
                match (
                    shape == E4_FLEX,
                    self.e4_month(OKE_NODE_OCPUS, OKE_NODE_MEMORY_GBS),
                ) {
                    (true, Some(per_node)) if plane.is_some() => (
                        Some(per_node * nodes),
                        format!(
                            "{nodes} worker node(s) of {OKE_NODE_OCPUS} OCPU and {OKE_NODE_MEMORY_GBS} GB of {E4_FLEX} for {hours} hours; basic cluster control plane at no charge; boot volumes not included"
                        ),
                    ),
                    _ => (
                        None,
                        format!("unknown: no price recorded for worker nodes of shape {shape}"),
                    ),
                }
            }
            t => match self.no_charge_basis(t) {
                Some(basis) => (Some(0.0), format!("no charge: {basis}")),
                None => (
                    None,
                    format!("unknown: the price table has no price for {t}"),
                ),
            },
        }
    }

    fn no_charge_basis(&self, service_type: &str) -> Option<&str> {
        self.no_charge
            .iter()
            .find(|n| n.service_types.iter().any(|t| t == service_type))
            .map(|n| n.basis.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn comp(t: &str, config: Value) -> Component {
        Component {
            id: "c".into(),
            service_type: t.into(),
            display_name: "c".into(),
            config: serde_json::from_value(config).unwrap(),
        }
    }

    #[test]
    fn the_shipped_table_states_its_source_and_date_and_prices_only_what_it_records() {
        let t = PriceTable::shipped();
        assert!(t.source.contains("Price List") && t.recorded.len() == 10);
        for (id, r) in &t.rates {
            assert!(r.usd > 0.0 && r.part.starts_with('B'), "{id}");
        }
        // 2 OCPU + 32 GB for 744 h: (2 * 0.025 + 32 * 0.0015) * 744.
        let e = t.estimate(&comp("compute", json!({"ocpus": 2, "memory_in_gbs": 32})));
        let expected = (2.0 * 0.025 + 32.0 * 0.0015) * 744.0;
        assert!((e.monthly_usd.unwrap() - expected).abs() < 1e-9, "{e:?}");
        // Defaults come from the catalog: 1 OCPU, 16 GB.
        let e = t.estimate(&comp("compute", json!({})));
        assert!((e.monthly_usd.unwrap() - (0.025 + 16.0 * 0.0015) * 744.0).abs() < 1e-9);
        let e = t.estimate(&comp("compute", json!({"shape": "VM.Standard3.Flex"})));
        assert_eq!(e.monthly_usd, None);
        assert!(e.basis.starts_with("unknown") && e.basis.contains("VM.Standard3.Flex"));
        assert_eq!(t.estimate(&comp("vcn", json!({}))).monthly_usd, Some(0.0));
        for unknown in [
            "adb",
            "loadbalancer",
            "objectstorage",
            "functions",
            "nosql",
            "streaming",
            "apigateway",
        ] {
            let e = t.estimate(&comp(unknown, json!({})));
            assert_eq!(e.monthly_usd, None, "{unknown} has no recorded price");
            assert!(e.basis.starts_with("unknown"), "{e:?}");
        }
        let e = t.estimate(&comp("oke", json!({"node_count": 3})));
        assert!((e.monthly_usd.unwrap() - 3.0 * (0.025 + 16.0 * 0.0015) * 744.0).abs() < 1e-9);
    }
}
