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

/// A connection to draw: a straight line, or a curve through `control` when a straight line
/// would run behind other boxes.
#[derive(Debug, Clone)]
pub struct Edge {
    pub connection: usize,
    pub from: (f64, f64),
    pub to: (f64, f64),
    pub control: Option<(f64, f64)>,
}

/// Whether the segment a-b passes through `r` (shrunk a little, so touching a corner does not
/// count).
fn crosses(a: (f64, f64), b: (f64, f64), r: &Rect) -> bool {
    let (x0, y0, x1, y1) = (r.x + 2.0, r.y + 2.0, r.x + r.w - 2.0, r.y + r.h - 2.0);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p.abs() < 1e-12 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    t0 < t1
}

/// Whether the quadratic curve a-c-b passes through any of `obstacles`.
fn curve_blocked(a: (f64, f64), c: (f64, f64), b: (f64, f64), obstacles: &[Rect]) -> bool {
    const STEPS: usize = 12;
    let at = |t: f64| {
        let u = 1.0 - t;
        (
            u * u * a.0 + 2.0 * u * t * c.0 + t * t * b.0,
            u * u * a.1 + 2.0 * u * t * c.1 + t * t * b.1,
        )
    };
    (0..STEPS).any(|i| {
        let (p, q) = (
            at(i as f64 / STEPS as f64),
            at((i + 1) as f64 / STEPS as f64),
        );
        obstacles.iter().any(|r| crosses(p, q, r))
    })
}

/// The edge between boxes `ra` and `rb`, around the other component boxes when it can.
fn route(connection: usize, ra: &Rect, rb: &Rect, nodes: &[Rect]) -> Edge {
    let (ca, cb) = (ra.center(), rb.center());
    let obstacles: Vec<Rect> = nodes
        .iter()
        .filter(|r| *r != ra && *r != rb && !r.contains(ra) && !r.contains(rb))
        .copied()
        .collect();
    let (dx, dy) = (cb.0 - ca.0, cb.1 - ca.1);
    let straight = Edge {
        connection,
        from: ra.exit(dx, dy),
        to: rb.exit(-dx, -dy),
        control: None,
    };
    if !obstacles
        .iter()
        .any(|r| crosses(straight.from, straight.to, r))
    {
        return straight;
    }
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    // The normal pointing up (or left for a vertical line) is tried first.
    let (mut nx, mut ny) = (dy / len, -dx / len);
    if ny > 0.0 || (ny == 0.0 && nx > 0.0) {
        (nx, ny) = (-nx, -ny);
    }
    let mid = ((ca.0 + cb.0) / 2.0, (ca.1 + cb.1) / 2.0);
    for off in [60.0, 110.0, 170.0] {
        for side in [1.0, -1.0] {
            let c = (mid.0 + side * nx * off, mid.1 + side * ny * off);
            let from = ra.exit(c.0 - ca.0, c.1 - ca.1);
            let to = rb.exit(c.0 - cb.0, c.1 - cb.1);
            if !curve_blocked(from, c, to, &obstacles) {
                return Edge {
                    connection,
                    from,
                    to,
                    control: Some(c),
                };
            }
        }
    }
    straight
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
    let node_rects: Vec<Rect> = laid.nodes.iter().map(|n| n.rect).collect();
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
        edges.push(route(k, ra, rb, &node_rects));
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
