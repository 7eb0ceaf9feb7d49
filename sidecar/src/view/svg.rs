//! The diagram as a standalone SVG document, drawn from the layout: nested boxes for VCNs and
//! subnets with their names and settings in the header, a box per component with its display
//! name and service type, and arrows for the connections, coloured by kind with a legend.
//! Every element carries `data-id` (the component id) and `data-parent` (the enclosing box's
//! component id), so a reader can check what is drawn where.

use std::fmt::Write;

use super::diagram::{self, CHAR_W, Diagram, GroupKind, NAME_LINE_H, PAD};
use crate::catalog;
use crate::model::Architecture;

/// `data-id` of the box of what sits outside any VCN.
pub const OUTSIDE_ID: &str = "@outside";

/// Colour of a connection kind: the usual kinds get their own colour, others grey.
fn edge_colour(kind: &str) -> &'static str {
    match kind {
        "data" => "#b7791f",
        "route" => "#2f855a",
        "security" => "#c53030",
        "network" => "#2b6cb0",
        _ => "#4a5568",
    }
}

/// Fill of a component box by its category.
fn node_fill(service_type: &str) -> &'static str {
    match catalog::find(service_type).map(|t| t.category) {
        Some("network") => "#ebf4ff",
        Some("compute") => "#fffaf0",
        Some("containers") => "#e6fffa",
        Some("database") => "#f0fff4",
        Some("storage") => "#faf5ff",
        Some("serverless") => "#fff5f7",
        _ => "#f7fafc",
    }
}

/// Text escaped for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Renders the laid-out diagram.
pub fn render(arch: &Architecture, d: &Diagram) -> String {
    let mut s = String::with_capacity(4096 + 900 * (d.nodes.len() + d.groups.len()));
    // The box of what sits outside any VCN has no component: it is `@outside`, which no
    // component id can be.
    let group_id = |g: &diagram::GroupBox| -> String {
        g.component
            .map(|c| esc(&arch.components[c].id))
            .unwrap_or_else(|| OUTSIDE_ID.to_string())
    };
    let parent_id =
        |p: Option<usize>| -> String { p.map(|p| group_id(&d.groups[p])).unwrap_or_default() };
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans Mono, Liberation Mono, monospace" role="img" aria-label="Architecture: {n} components, {e} connections">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>
<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>
"##,
        w = d.width,
        h = d.height,
        n = arch.components.len(),
        e = arch.connections.len(),
    );
    for g in &d.groups {
        let (class, stroke, fill, dash) = match g.kind {
            GroupKind::Vcn => ("vcn", "#2b6cb0", "#f5f9ff", ""),
            GroupKind::Subnet => ("subnet", "#2f855a", "#f6fdf8", r#" stroke-dasharray="6 3""#),
            GroupKind::Outside => (
                "outside",
                "#718096",
                "#fafafa",
                r#" stroke-dasharray="2 3""#,
            ),
        };
        let id = group_id(g);
        let r = g.rect;
        let _ = write!(
            s,
            r##"<g class="group {class}" data-id="{id}" data-parent="{parent}"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="2"{dash}/><text class="label" x="{tx}" y="{ty}" font-size="13" fill="#1a202c">"##,
            parent = parent_id(g.parent),
            x = r.x,
            y = r.y,
            w = r.w,
            h = r.h,
            tx = r.x + PAD,
            ty = r.y + PAD + 12.0,
        );
        for (k, line) in g.header.iter().enumerate() {
            // The name lines in bold, the settings line in grey.
            let is_name = k < g.name_lines;
            let style = if is_name {
                r#" font-weight="bold""#
            } else {
                r##" fill="#4a5568" font-size="11""##
            };
            let _ = write!(
                s,
                r#"<tspan x="{x}" dy="{dy}"{style}>{t}</tspan>"#,
                x = r.x + PAD,
                dy = if k == 0 { 0.0 } else { diagram::HEADER_LINE_H },
                t = esc(line),
            );
        }
        s.push_str("</text></g>\n");
    }
    s.push_str(r#"<g class="edges" fill="none" stroke-width="1.6">"#);
    s.push('\n');
    for e in &d.edges {
        let c = &arch.connections[e.connection];
        let colour = edge_colour(&c.connection_type);
        let dash = if c.connection_type == "data" {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        let path = match e.control {
            Some((cx, cy)) => format!(
                "M{:.1},{:.1} Q{cx:.1},{cy:.1} {:.1},{:.1}",
                e.from.0, e.from.1, e.to.0, e.to.1
            ),
            None => format!(
                "M{:.1},{:.1} L{:.1},{:.1}",
                e.from.0, e.from.1, e.to.0, e.to.1
            ),
        };
        let _ = writeln!(
            s,
            r#"<path class="edge" data-source="{src}" data-target="{dst}" d="{path}" stroke="{colour}"{dash} marker-end="url(#arrow)"><title>{src} → {dst}: {kind}{desc}</title></path>"#,
            src = esc(&c.source_id),
            dst = esc(&c.target_id),
            kind = esc(&c.connection_type),
            desc = if c.description.is_empty() {
                String::new()
            } else {
                format!(" ({})", esc(&c.description))
            },
        );
    }
    s.push_str("</g>\n");
    for n in &d.nodes {
        let c = &arch.components[n.component];
        let r = n.rect;
        let _ = write!(
            s,
            r##"<g class="node" data-id="{id}" data-parent="{parent}" data-type="{t}"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="5" fill="{fill}" stroke="#2d3748" stroke-width="1.5"/><text class="name" x="{tx}" y="{ty}" font-size="12" font-weight="bold" fill="#1a202c">"##,
            id = esc(&c.id),
            parent = parent_id(n.parent),
            t = esc(&c.service_type),
            x = r.x,
            y = r.y,
            w = r.w,
            h = r.h,
            fill = node_fill(&c.service_type),
            tx = r.x + 8.0,
            ty = r.y + 8.0 + 12.0,
        );
        for (k, line) in n.name_lines.iter().enumerate() {
            let _ = write!(
                s,
                r#"<tspan x="{x}" dy="{dy}">{t}</tspan>"#,
                x = r.x + 8.0,
                dy = if k == 0 { 0.0 } else { NAME_LINE_H },
                t = esc(line),
            );
        }
        let _ = writeln!(
            s,
            r##"</text><text class="type" x="{x}" y="{y}" font-size="11" fill="#4a5568">{t}</text></g>"##,
            x = r.x + 8.0,
            y = r.y + 8.0 + 12.0 + NAME_LINE_H * (n.name_lines.len() as f64 - 1.0) + 15.0,
            t = esc(&c.service_type),
        );
    }
    // Legend: the connection colours.
    let y = d.height - diagram::LEGEND_H + 8.0;
    let _ = write!(s, r##"<g class="legend" font-size="11" fill="#4a5568">"##);
    let mut x = diagram::MARGIN;
    for kind in ["network", "data", "route", "security", "other"] {
        let _ = write!(
            s,
            r#"<line x1="{x}" y1="{ly}" x2="{x2}" y2="{ly}" stroke="{c}" stroke-width="2"/><text x="{tx}" y="{ty}">{kind}</text>"#,
            x2 = x + 24.0,
            ly = y + 6.0,
            c = edge_colour(kind),
            tx = x + 30.0,
            ty = y + 10.0,
        );
        x += 30.0 + CHAR_W * kind.len() as f64 + 24.0;
    }
    s.push_str("</g>\n</svg>\n");
    s
}
