//! The diagram as Mermaid flowchart text: a subgraph per VCN and subnet (nested as in the SVG),
//! a node per other component labelled with its display name and service type, and an arrow per
//! connection that nesting does not already show. Ids are `c<index>`, so no component id or
//! name can break the syntax; labels are quoted with Mermaid's entity codes for the characters
//! that would end them.

use std::collections::HashMap;
use std::fmt::Write;

use super::diagram::{Diagram, Item, group_detail};
use crate::model::Architecture;

/// A label escaped for a quoted Mermaid label.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn write_items(arch: &Architecture, items: &[Item], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for item in items {
        match item {
            Item::Node(i) => {
                let c = &arch.components[*i];
                let _ = writeln!(
                    out,
                    "{pad}c{i}[\"{}<br/>{}\"]",
                    esc(&c.display_name),
                    esc(&c.service_type)
                );
            }
            Item::Group(g) => {
                let (id, label) = match g.component {
                    Some(i) => (
                        format!("c{i}"),
                        format!(
                            "{}<br/>{}",
                            esc(&arch.components[i].display_name),
                            esc(&group_detail(arch, i))
                        ),
                    ),
                    None => ("outside".to_string(), "Outside any VCN".to_string()),
                };
                let _ = writeln!(out, "{pad}subgraph {id}[\"{label}\"]");
                let _ = writeln!(out, "{pad}  direction TB");
                write_items(arch, &g.children, depth + 1, out);
                let _ = writeln!(out, "{pad}end");
            }
        }
    }
}

/// Renders the diagram's grouping and edges as a Mermaid flowchart.
pub fn render(arch: &Architecture, d: &Diagram) -> String {
    let mut out =
        String::with_capacity(256 + 80 * (arch.components.len() + arch.connections.len()));
    out.push_str("flowchart TB\n");
    write_items(arch, &d.tree, 1, &mut out);
    let index: HashMap<&str, usize> = arch
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    for e in &d.edges {
        let c = &arch.connections[e.connection];
        let (Some(a), Some(b)) = (
            index.get(c.source_id.as_str()),
            index.get(c.target_id.as_str()),
        ) else {
            continue;
        };
        let mut label = c.connection_type.clone();
        if !c.description.is_empty() {
            label.push_str(": ");
            label.push_str(&c.description);
        }
        let arrow = if c.connection_type == "data" {
            "-.->"
        } else {
            "-->"
        };
        let _ = writeln!(out, "  c{a} {arrow}|\"{}\"| c{b}", esc(&label));
    }
    out
}
