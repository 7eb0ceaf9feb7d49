//! The diagram's structure and layout, shared by the SVG and the Mermaid text: components
//! grouped by where they sit (a box per VCN holding its attached gateways and a box per subnet,
//! each subnet box holding what runs in it; a box for what sits outside any VCN), laid out as
//! rows of boxes that wrap at a maximum width, and the connections to draw between them
//! (placement is shown by nesting, so those connections are not drawn again).

use std::collections::HashMap;

use super::placement;
use crate::catalog;
use crate::model::Architecture;

/// Width of a component's box.
pub const NODE_W: f64 = 220.0;
/// Characters of a name per line in a component's box. Names are drawn in a monospace font of
/// 12 px (about 7.2 px a character), so a line fits inside the box with room to spare.
pub const NODE_CHARS: usize = 26;
/// Advance of one character of the 12 px monospace font, rounded up.
pub const CHAR_W: f64 = 7.5;
pub const NAME_LINE_H: f64 = 16.0;
pub const TYPE_LINE_H: f64 = 14.0;
pub const PAD: f64 = 12.0;
pub const GAP: f64 = 16.0;
pub const HEADER_LINE_H: f64 = 17.0;
/// Rows wrap when they would get wider than this.
pub const MAX_ROW_W: f64 = 1200.0;
/// The shortest a group box is, so its header has room.
const MIN_GROUP_W: f64 = 260.0;

/// What a group box stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Vcn,
    Subnet,
    /// Components outside any VCN: regional services and anything not yet placed.
    Outside,
}

#[derive(Debug, Clone)]
pub enum Item {
    /// A component drawn as a box, by index into the architecture's components.
    Node(usize),
    Group(Group),
}

#[derive(Debug, Clone)]
pub struct Group {
    pub kind: GroupKind,
    /// The VCN or subnet component (none for the outside group).
    pub component: Option<usize>,
    pub children: Vec<Item>,
}

/// A box placed on the canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x
            && o.y >= self.y
            && o.x + o.w <= self.x + self.w
            && o.y + o.h <= self.y + self.h
    }
    fn center(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
    /// Where the ray from the center towards (dx, dy) leaves the box.
    fn exit(&self, dx: f64, dy: f64) -> (f64, f64) {
        let (cx, cy) = self.center();
        let tx = if dx.abs() > 1e-9 {
            (self.w / 2.0) / dx.abs()
        } else {
            f64::INFINITY
        };
        let ty = if dy.abs() > 1e-9 {
            (self.h / 2.0) / dy.abs()
        } else {
            f64::INFINITY
        };
        let t = tx.min(ty);
        (cx + dx * t, cy + dy * t)
    }
}

/// A laid-out group.
#[derive(Debug, Clone)]
pub struct GroupBox {
    pub kind: GroupKind,
    pub component: Option<usize>,
    pub rect: Rect,
    /// Header lines: the name (wrapped), then the type and settings.
    pub header: Vec<String>,
    /// How many of the header lines are the name.
    pub name_lines: usize,
    /// Index of the enclosing group box.
    pub parent: Option<usize>,
}

/// A laid-out component box.
#[derive(Debug, Clone)]
pub struct NodeBox {
    pub component: usize,
    pub rect: Rect,
    pub name_lines: Vec<String>,
    pub parent: Option<usize>,
}

/// A connection to draw.
#[derive(Debug, Clone)]
pub struct Edge {
    pub connection: usize,
    pub from: (f64, f64),
    pub to: (f64, f64),
}

/// The whole laid-out diagram.
#[derive(Debug, Clone)]
pub struct Diagram {
    pub width: f64,
    pub height: f64,
    pub groups: Vec<GroupBox>,
    pub nodes: Vec<NodeBox>,
    pub edges: Vec<Edge>,
    /// The grouping, for the Mermaid text.
    pub tree: Vec<Item>,
}

/// `text` cut into lines of at most `n` characters (at spaces when one is near).
pub fn wrap(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut lines = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut end = (start + n).min(chars.len());
        if end < chars.len()
            && let Some(space) = chars[start..end].iter().rposition(|c| *c == ' ')
            && space > n / 2
        {
            end = start + space + 1;
        }
        let line: String = chars[start..end].iter().collect();
        lines.push(line.trim_end().to_string());
        start = end;
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// The second header line of a VCN or subnet: its type and address settings.
pub fn group_detail(arch: &Architecture, idx: usize) -> String {
    let c = &arch.components[idx];
    let mut s = c.service_type.clone();
    let cfg = |k: &str| {
        c.config.get(k).cloned().or_else(|| {
            catalog::find(&c.service_type)
                .and_then(|t| t.config.iter().find(|x| x.name == k))
                .map(|x| x.default.clone())
        })
    };
    if let Some(cidr) = cfg("cidr").and_then(|v| v.as_str().map(str::to_string)) {
        s.push_str(" · ");
        s.push_str(&cidr);
    }
    if c.service_type == "subnet" {
        let public = cfg("public").and_then(|v| v.as_bool()).unwrap_or(false);
        s.push_str(if public { " · public" } else { " · private" });
    }
    s
}

/// Groups the components by where they sit.
pub fn tree(arch: &Architecture) -> Vec<Item> {
    let places = placement::places(arch);
    let index: HashMap<&str, usize> = arch
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let mut subnet_children: HashMap<usize, Vec<Item>> = HashMap::new();
    let mut vcn_nodes: HashMap<usize, Vec<Item>> = HashMap::new();
    let mut vcn_subnets: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut loose_subnets = Vec::new();
    let mut vcns = Vec::new();
    let mut outside = Vec::new();
    for (i, c) in arch.components.iter().enumerate() {
        let p = places.get(c.id.as_str()).copied().unwrap_or_default();
        let vcn = p.vcn.and_then(|v| index.get(v).copied());
        let subnet = p.subnet.and_then(|s| index.get(s).copied());
        match c.service_type.as_str() {
            "vcn" => vcns.push(i),
            "subnet" => match vcn {
                Some(v) => vcn_subnets.entry(v).or_default().push(i),
                None => loose_subnets.push(i),
            },
            _ => match (subnet, vcn) {
                (Some(s), _) => subnet_children.entry(s).or_default().push(Item::Node(i)),
                (None, Some(v)) => vcn_nodes.entry(v).or_default().push(Item::Node(i)),
                (None, None) => outside.push(Item::Node(i)),
            },
        }
    }
    let subnet_group = |s: usize, subnet_children: &mut HashMap<usize, Vec<Item>>| {
        Item::Group(Group {
            kind: GroupKind::Subnet,
            component: Some(s),
            children: subnet_children.remove(&s).unwrap_or_default(),
        })
    };
    let mut top = Vec::new();
    for v in vcns {
        let mut children = vcn_nodes.remove(&v).unwrap_or_default();
        for s in vcn_subnets.remove(&v).unwrap_or_default() {
            children.push(subnet_group(s, &mut subnet_children));
        }
        top.push(Item::Group(Group {
            kind: GroupKind::Vcn,
            component: Some(v),
            children,
        }));
    }
    for s in loose_subnets {
        top.push(subnet_group(s, &mut subnet_children));
    }
    if !outside.is_empty() {
        top.push(Item::Group(Group {
            kind: GroupKind::Outside,
            component: None,
            children: outside,
        }));
    }
    top
}

/// A subtree laid out with coordinates relative to its own top-left corner.
struct Laid {
    w: f64,
    h: f64,
    groups: Vec<GroupBox>,
    nodes: Vec<NodeBox>,
}

impl Laid {
    fn shift(&mut self, dx: f64, dy: f64, group_offset: usize) {
        for g in &mut self.groups {
            g.rect.x += dx;
            g.rect.y += dy;
            g.parent = g.parent.map(|p| p + group_offset);
        }
        for n in &mut self.nodes {
            n.rect.x += dx;
            n.rect.y += dy;
            n.parent = n.parent.map(|p| p + group_offset);
        }
    }
}

fn node_height(lines: usize) -> f64 {
    2.0 * 8.0 + NAME_LINE_H * lines as f64 + TYPE_LINE_H
}

/// Lays out `items` in rows that wrap at `max_w`; returns the pieces and the size they take.
fn flow(arch: &Architecture, items: &[Item], max_w: f64) -> Laid {
    let mut out = Laid {
        w: 0.0,
        h: 0.0,
        groups: Vec::new(),
        nodes: Vec::new(),
    };
    let (mut x, mut y, mut row_h) = (0.0f64, 0.0f64, 0.0f64);
    for item in items {
        let mut laid = lay_item(arch, item, max_w);
        if x > 0.0 && x + laid.w > max_w {
            x = 0.0;
            y += row_h + GAP;
            row_h = 0.0;
        }
        let offset = out.groups.len();
        laid.shift(x, y, offset);
        out.groups.append(&mut laid.groups);
        out.nodes.append(&mut laid.nodes);
        out.w = out.w.max(x + laid.w);
        row_h = row_h.max(laid.h);
        out.h = out.h.max(y + laid.h);
        x += laid.w + GAP;
    }
    out
}

fn lay_item(arch: &Architecture, item: &Item, max_w: f64) -> Laid {
    match item {
        Item::Node(i) => {
            let name_lines = wrap(&arch.components[*i].display_name, NODE_CHARS);
            let h = node_height(name_lines.len());
            Laid {
                w: NODE_W,
                h,
                groups: Vec::new(),
                nodes: vec![NodeBox {
                    component: *i,
                    rect: Rect {
                        x: 0.0,
                        y: 0.0,
                        w: NODE_W,
                        h,
                    },
                    name_lines,
                    parent: None,
                }],
            }
        }
        Item::Group(g) => {
            let mut inner = flow(arch, &g.children, (max_w - 2.0 * PAD).max(NODE_W));
            let w = (inner.w + 2.0 * PAD).max(MIN_GROUP_W);
            let chars = (((w - 2.0 * PAD) / CHAR_W).floor() as usize).max(8);
            let mut header = match g.component {
                Some(i) => wrap(&arch.components[i].display_name, chars),
                None => vec!["Outside any VCN".to_string()],
            };
            let name_lines = header.len();
            header.extend(match g.component {
                Some(i) => wrap(&group_detail(arch, i), chars),
                None => vec!["regional services and unplaced components".to_string()],
            });
            let header_h = HEADER_LINE_H * header.len() as f64 + 8.0;
            let top = PAD + header_h;
            // This group is index 0 of what is returned: the children's group indices move up
            // by one, and the children at the top of `inner` get this group as their parent.
            for n in &mut inner.nodes {
                n.parent = Some(n.parent.map_or(0, |p| p + 1));
            }
            for c in &mut inner.groups {
                c.parent = Some(c.parent.map_or(0, |p| p + 1));
            }
            inner.shift(PAD, top, 0);
            let h = top + inner.h + PAD;
            let mut groups = vec![GroupBox {
                kind: g.kind,
                component: g.component,
                rect: Rect {
                    x: 0.0,
                    y: 0.0,
                    w,
                    h,
                },
                header,
                name_lines,
                parent: None,
            }];
            groups.append(&mut inner.groups);
            Laid {
                w,
                h,
                groups,
                nodes: inner.nodes,
            }
        }
    }
}

/// Margin around the whole diagram.
pub const MARGIN: f64 = 20.0;
/// Height of the legend below the diagram.
pub const LEGEND_H: f64 = 30.0;

/// Lays out the architecture.
pub fn layout(arch: &Architecture) -> Diagram {
    let tree = tree(arch);
    let mut laid = flow(arch, &tree, MAX_ROW_W);
    laid.shift(MARGIN, MARGIN, 0);
    let mut rects: HashMap<usize, Rect> = HashMap::new();
    for g in &laid.groups {
        if let Some(c) = g.component {
            rects.insert(c, g.rect);
        }
    }
    for n in &laid.nodes {
        rects.insert(n.component, n.rect);
    }
    let index: HashMap<&str, usize> = arch
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let mut edges = Vec::new();
    for (k, conn) in arch.connections.iter().enumerate() {
        let (Some(a), Some(b)) = (
            index.get(conn.source_id.as_str()),
            index.get(conn.target_id.as_str()),
        ) else {
            continue;
        };
        let (Some(ra), Some(rb)) = (rects.get(a), rects.get(b)) else {
            continue;
        };
        // Placement is drawn as nesting.
        if ra.contains(rb) || rb.contains(ra) {
            continue;
        }
        let (ax, ay) = ra.center();
        let (bx, by) = rb.center();
        let (dx, dy) = (bx - ax, by - ay);
        edges.push(Edge {
            connection: k,
            from: ra.exit(dx, dy),
            to: rb.exit(-dx, -dy),
        });
    }
    let width = (laid.w + 2.0 * MARGIN).max(480.0);
    let height = laid.h + 2.0 * MARGIN + LEGEND_H;
    Diagram {
        width: width.ceil(),
        height: height.ceil(),
        groups: laid.groups,
        nodes: laid.nodes,
        edges,
        tree,
    }
}
