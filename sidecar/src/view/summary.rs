//! The design as a readable Markdown summary: the hearing's settings when it is complete, where
//! every component sits (VCN and subnet), the components with their settings and estimated
//! monthly cost, the connections, the cost total of what is priced with the list of what is
//! not, and the validation state.

use std::fmt::Write;

use schemars::JsonSchema;
use serde::Serialize;

use super::diagram::{self, GroupKind, Item, group_detail};
use super::placement;
use super::prices::{Estimate, PriceTable};
use crate::model::Session;
use crate::rules::ValidationReport;

/// The summary and the figures in it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Summary {
    pub markdown: String,
    /// One per component, in component order.
    pub estimates: Vec<Estimate>,
    /// The sum of the known estimates, USD per month.
    pub known_monthly_usd: f64,
    /// Components without a recorded price.
    pub unknown_cost: Vec<String>,
    /// Where the prices come from and when they were recorded.
    pub price_source: String,
}

/// A Markdown table cell: pipes and line breaks would end it.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

fn placement_lines(s: &Session, items: &[Item], depth: usize, out: &mut String) {
    let arch = &s.architecture;
    let pad = "  ".repeat(depth);
    for item in items {
        match item {
            Item::Node(i) => {
                let c = &arch.components[*i];
                let _ = writeln!(
                    out,
                    "{pad}- {} (`{}`, {})",
                    cell(&c.display_name),
                    cell(&c.id),
                    c.service_type
                );
            }
            Item::Group(g) => {
                match (g.kind, g.component) {
                    (GroupKind::Outside, _) | (_, None) => {
                        let _ = writeln!(
                            out,
                            "{pad}- **Outside any VCN** (regional services and components not yet placed)"
                        );
                    }
                    (kind, Some(i)) => {
                        let c = &arch.components[i];
                        let what = if kind == GroupKind::Vcn {
                            "VCN"
                        } else {
                            "Subnet"
                        };
                        let _ = writeln!(
                            out,
                            "{pad}- **{what} {}** (`{}`, {})",
                            cell(&c.display_name),
                            cell(&c.id),
                            group_detail(arch, i)
                        );
                    }
                }
                if g.children.is_empty() {
                    let _ = writeln!(out, "{pad}  - (empty)");
                }
                placement_lines(s, &g.children, depth + 1, out);
            }
        }
    }
}

/// Renders the summary of session `s`.
pub fn render(s: &Session, report: &ValidationReport, prices: &PriceTable) -> Summary {
    let arch = &s.architecture;
    let mut md = String::with_capacity(2048 + 200 * arch.components.len());
    let _ = writeln!(md, "# Design of session {}\n", s.id);
    let _ = writeln!(
        md,
        "Status: {} · {} components · {} connections\n",
        serde_json::to_value(s.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        arch.components.len(),
        arch.connections.len()
    );
    if let Some(settings) = s
        .hearing_result
        .as_ref()
        .and_then(|h| h.get("settings"))
        .and_then(|v| v.as_object())
        && !settings.is_empty()
    {
        md.push_str("## Requirements (from the hearing)\n\n");
        for (k, v) in settings {
            let v = match v {
                serde_json::Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(md, "- {k}: {}", cell(&v));
        }
        md.push('\n');
    }

    md.push_str("## Placement\n\n");
    if arch.components.is_empty() {
        md.push_str("No components yet.\n\n");
    } else {
        placement_lines(s, &diagram::tree(arch), 0, &mut md);
        md.push('\n');
    }

    let estimates: Vec<Estimate> = arch.components.iter().map(|c| prices.estimate(c)).collect();
    md.push_str("## Components\n\n| Component | Id | Type | VCN / subnet | Settings | Monthly cost (USD) |\n|---|---|---|---|---|---|\n");
    for (c, e) in arch.components.iter().zip(&estimates) {
        let p = placement::place(arch, c);
        let name_of = |id: Option<&str>| {
            id.and_then(|id| arch.component(id))
                .map(|x| x.display_name.clone())
        };
        let place = match (c.service_type.as_str(), name_of(p.vcn), name_of(p.subnet)) {
            ("vcn", _, _) => "—".to_string(),
            (_, Some(v), Some(sn)) => format!("{v} / {sn}"),
            (_, Some(v), None) => v,
            (_, None, Some(sn)) => format!("(no VCN) / {sn}"),
            (_, None, None) => "outside any VCN".to_string(),
        };
        let settings = if c.config.is_empty() {
            "defaults".to_string()
        } else {
            c.config
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::echo::value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let cost = match e.monthly_usd {
            Some(v) => usd(v),
            None => "unknown".to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {} | {} | {} | {} |",
            cell(&c.display_name),
            cell(&c.id),
            c.service_type,
            cell(&place),
            cell(&settings),
            cost
        );
    }
    md.push('\n');

    md.push_str("## Connections\n\n");
    if arch.connections.is_empty() {
        md.push_str("None.\n\n");
    } else {
        md.push_str("| From | To | Kind | Description |\n|---|---|---|---|\n");
        let name = |id: &str| {
            arch.component(id)
                .map(|c| c.display_name.as_str())
                .unwrap_or(id)
                .to_string()
        };
        for c in &arch.connections {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                cell(&name(&c.source_id)),
                cell(&name(&c.target_id)),
                cell(&c.connection_type),
                cell(&c.description)
            );
        }
        md.push('\n');
    }

    let known: f64 = estimates.iter().filter_map(|e| e.monthly_usd).sum();
    let unknown: Vec<String> = arch
        .components
        .iter()
        .zip(&estimates)
        .filter(|(_, e)| e.monthly_usd.is_none())
        .map(|(c, _)| c.id.clone())
        .collect();
    md.push_str("## Estimated cost\n\n");
    let _ = writeln!(
        md,
        "Known: **{} per month** ({} hours) for {} of {} components.",
        usd(known),
        prices.hours_per_month,
        estimates.len() - unknown.len(),
        estimates.len()
    );
    if !unknown.is_empty() {
        let names: Vec<String> = unknown
            .iter()
            .filter_map(|id| arch.component(id))
            .map(|c| format!("{} ({})", cell(&c.display_name), c.service_type))
            .collect();
        let _ = writeln!(
            md,
            "Unknown (no recorded price; not included in the figure): {}.",
            names.join(", ")
        );
    }
    let price_source = format!("{}, recorded {}", prices.source, prices.recorded);
    let _ = writeln!(
        md,
        "\nPrices: {price_source}. List prices only; boot volumes, storage and data transfer are not included.\n"
    );
    for (c, e) in arch.components.iter().zip(&estimates) {
        let _ = writeln!(md, "- {}: {}", cell(&c.display_name), cell(&e.basis));
    }
    md.push('\n');

    md.push_str("## Validation\n\n");
    if report.valid && report.warnings.is_empty() {
        md.push_str("No problems found.\n");
    } else {
        let _ = writeln!(
            md,
            "{} error(s), {} warning(s):\n",
            report.errors.len(),
            report.warnings.len()
        );
        for f in report.errors.iter().chain(&report.warnings) {
            let _ = writeln!(
                md,
                "- {:?} [{}] {} ({})",
                f.severity,
                f.rule_id,
                cell(&f.message),
                cell(&f.recommendation)
            );
        }
    }
    Summary {
        markdown: md,
        estimates,
        known_monthly_usd: known,
        unknown_cost: unknown,
        price_source,
    }
}
