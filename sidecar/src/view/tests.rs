//! The layout's geometry (every component boxed inside its subnet and VCN, no sibling overlaps,
//! names that fit their boxes), the SVG and Mermaid texts' structure, and the summary's
//! placement and prices.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::diagram::{self, CHAR_W, GroupKind, NODE_W, Rect};
use super::*;
use crate::model::{Architecture, Component, Connection, Session, SessionStatus};

fn fixture() -> Architecture {
    let text = include_str!("../../tests/fixtures/full-architecture.json");
    serde_json::from_str(text).expect("fixture")
}

fn overlaps(a: &Rect, b: &Rect) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

#[test]
fn every_component_is_boxed_inside_its_subnet_and_vcn() {
    let arch = fixture();
    let d = diagram::layout(&arch);
    let boxed: HashSet<usize> = d
        .nodes
        .iter()
        .map(|n| n.component)
        .chain(d.groups.iter().filter_map(|g| g.component))
        .collect();
    assert_eq!(boxed.len(), arch.components.len(), "each component once");
    let group_of = |id: &str| {
        d.groups
            .iter()
            .position(|g| g.component.is_some_and(|c| arch.components[c].id == id))
            .expect("group")
    };
    // web1 runs in the private subnet of the VCN; the load balancer in the public one.
    for (id, subnet) in [
        ("web1", "priv"),
        ("lb", "pub"),
        ("db", "priv"),
        ("api", "pub"),
    ] {
        let n = d
            .nodes
            .iter()
            .find(|n| arch.components[n.component].id == id)
            .unwrap();
        let g = group_of(subnet);
        assert_eq!(n.parent, Some(g), "{id}");
        assert!(d.groups[g].rect.contains(&n.rect), "{id} inside {subnet}");
        let vcn = group_of("vcn");
        assert_eq!(d.groups[g].parent, Some(vcn));
        assert!(d.groups[vcn].rect.contains(&d.groups[g].rect));
    }
    // Gateways hang off the VCN; regional services sit outside it.
    let igw = d
        .nodes
        .iter()
        .find(|n| arch.components[n.component].id == "igw")
        .unwrap();
    assert_eq!(igw.parent, Some(group_of("vcn")));
    let bucket = d
        .nodes
        .iter()
        .find(|n| arch.components[n.component].id == "bucket")
        .unwrap();
    assert_eq!(d.groups[bucket.parent.unwrap()].kind, GroupKind::Outside);
    // Everything on the canvas, and siblings never overlap.
    let canvas = Rect {
        x: 0.0,
        y: 0.0,
        w: d.width,
        h: d.height,
    };
    let mut siblings: HashMap<Option<usize>, Vec<Rect>> = HashMap::new();
    for g in &d.groups {
        assert!(canvas.contains(&g.rect));
        siblings.entry(g.parent).or_default().push(g.rect);
    }
    for n in &d.nodes {
        assert!(canvas.contains(&n.rect));
        siblings.entry(n.parent).or_default().push(n.rect);
        for line in &n.name_lines {
            assert!(
                8.0 + line.chars().count() as f64 * CHAR_W <= NODE_W,
                "{line:?} fits"
            );
        }
    }
    for rects in siblings.values() {
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                assert!(!overlaps(a, b), "{a:?} overlaps {b:?}");
            }
        }
    }
    // Placement connections are drawn as nesting; the others as arrows.
    assert!(
        d.edges
            .iter()
            .all(|e| arch.connections[e.connection].connection_type != "placement")
    );
    assert!(
        d.edges
            .iter()
            .any(|e| arch.connections[e.connection].source_id == "lb"
                && arch.connections[e.connection].target_id == "web1")
    );
}

#[test]
fn long_and_hostile_names_are_wrapped_and_escaped() {
    let name = format!("a<b>&\"c'|#x{}", "long-name ".repeat(20));
    let arch = Architecture {
        components: vec![
            Component {
                id: "n".into(),
                service_type: "vcn".into(),
                display_name: "net".into(),
                config: Default::default(),
            },
            Component {
                id: "x".into(),
                service_type: "internet_gateway".into(),
                display_name: name.clone(),
                config: Default::default(),
            },
            Component {
                id: "s".into(),
                service_type: "subnet".into(),
                display_name: "lonely".into(),
                config: Default::default(),
            },
        ],
        connections: vec![Connection {
            source_id: "x".into(),
            target_id: "n".into(),
            connection_type: "placement".into(),
            description: String::new(),
        }],
    };
    let r = super::diagram(&arch);
    assert!(
        !r.svg.contains("a<b>") && r.svg.contains("a&lt;b&gt;&amp;&quot;c&#39;|#x"),
        "{}",
        r.svg
    );
    let node = diagram::layout(&arch)
        .nodes
        .into_iter()
        .find(|n| arch.components[n.component].id == "x")
        .unwrap();
    assert!(node.name_lines.len() > 5);
    assert_eq!(
        node.name_lines.concat().replace(' ', ""),
        name.replace(' ', "")
    );
    assert!(
        r.mermaid.contains("a#lt;b#gt;#amp;#quot;c'#124;#35;x"),
        "{}",
        r.mermaid
    );
}

/// Structure of the Mermaid text (the official parser checks it in the integration tests):
/// balanced subgraphs, every component declared once, edges between declared ids.
#[test]
fn mermaid_declares_every_component_once_and_links_declared_ids() {
    let arch = fixture();
    let m = super::diagram(&arch).mermaid;
    let mut lines = m.lines();
    assert_eq!(lines.next(), Some("flowchart TB"));
    let mut depth = 0i32;
    let mut declared = Vec::new();
    let mut edges = 0;
    for l in lines {
        let t = l.trim();
        if let Some(rest) = t.strip_prefix("subgraph ") {
            depth += 1;
            declared.push(rest.split('[').next().unwrap().to_string());
        } else if t == "end" {
            depth -= 1;
            assert!(depth >= 0, "unbalanced end");
        } else if t == "direction TB" {
        } else if t.contains("-->") || t.contains("-.->") {
            let parts: Vec<&str> = t.split_whitespace().collect();
            assert!(declared.contains(&parts[0].to_string()), "{t}");
            assert!(declared.contains(&parts.last().unwrap().to_string()), "{t}");
            edges += 1;
        } else {
            declared.push(t.split('[').next().unwrap().to_string());
            assert!(t.ends_with("\"]"), "{t}");
        }
    }
    assert_eq!(depth, 0);
    let components: Vec<&String> = declared.iter().filter(|d| d.starts_with('c')).collect();
    assert_eq!(components.len(), arch.components.len());
    assert_eq!(
        components.iter().collect::<HashSet<_>>().len(),
        arch.components.len()
    );
    assert_eq!(edges, diagram::layout(&arch).edges.len());
}

#[test]
fn the_summary_places_and_prices_every_component() {
    let arch = fixture();
    let s = Session {
        id: "s-abcdefabcdef".into(),
        status: SessionStatus::Designing,
        created_at: 0,
        updated_at: 0,
        answers: Default::default(),
        hearing_result: Some(json!({"settings": {"region": "ap-tokyo-1"}})),
        architecture: arch.clone(),
        rm_stack_id: None,
        last_job_id: None,
        pending_plan: None,
        app_files: Default::default(),
        last_build: None,
    };
    let report = crate::rules::RuleSet::embedded().unwrap().validate(&arch);
    let sum = summary::render(&s, &report, prices::PriceTable::shipped());
    let md = &sum.markdown;
    assert!(md.contains("- region: ap-tokyo-1"), "{md}");
    assert!(
        md.contains("| web-1 | `web1` | compute | main-vcn / private |"),
        "{md}"
    );
    assert!(
        md.contains("| assets | `bucket` | objectstorage | outside any VCN |"),
        "{md}"
    );
    assert!(md.contains("**Subnet public**"), "{md}");
    assert!(md.contains("recorded 2026-"), "{md}");
    // web-1 has 2 OCPUs: (2 * 0.025 + 16 * 0.0015) * 744 = 55.06.
    assert!(md.contains("| $55.06 |"), "{md}");
    for id in ["db", "lb", "bucket", "api", "fn", "events", "table"] {
        assert!(sum.unknown_cost.contains(&id.to_string()), "{id}");
    }
    assert!(!sum.unknown_cost.contains(&"web1".to_string()));
    let known: f64 = sum.estimates.iter().filter_map(|e| e.monthly_usd).sum();
    assert!((known - sum.known_monthly_usd).abs() < 1e-9 && known > 100.0);
    assert!(md.contains("unknown"));
}
