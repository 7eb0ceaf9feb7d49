//! The diagram as a person sees it, checked offline in headless Chromium (no OCR here):
//!
//! - The SVG is placed on a page whose size is the SVG's; a script in the page reports every
//!   component box, its parent box and its label's text and bounding box (Chromium's own text
//!   layout, `--dump-dom`). Each component's label must carry its whole display name, be
//!   non-empty and lie inside its box, which lies inside its subnet and VCN boxes, inside the
//!   viewport.
//! - A screenshot of the same page (PNG) is decoded and checked where the DOM says things are:
//!   each box's border is drawn in the box colour along its left edge, its fill colour is inside
//!   it, and its label's area holds dark glyph pixels (the name is rendered, not just present in
//!   the DOM).
//! - The Mermaid text goes through the official Mermaid parser and renderer (the `mermaid`
//!   package, loaded from a file in the page): it must parse, and the rendered diagram must have
//!   a node per component box, a cluster per VCN and subnet box, and every display name.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use galley_sidecar::model::{Architecture, Component, Connection};
use serde_json::Value;

use crate::util;

fn chromium(args: &[&str], page: &Path, size: (u32, u32)) -> String {
    let profile = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(util::tool("chromium"));
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--virtual-time-budget=15000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--window-size={},{}", size.0, size.1))
    .args(args)
    .arg(format!("file://{}", page.display()));
    let (ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(90));
    assert!(ok, "chromium {args:?} failed:\n{err}");
    out
}

/// The JSON a page wrote into `<pre id="report">`, from Chromium's DOM dump.
fn report(dom: &str) -> Value {
    let start = dom
        .find("<pre id=\"report\"")
        .and_then(|i| dom[i..].find('>').map(|j| i + j + 1))
        .unwrap_or_else(|| panic!("no report in the page:\n{dom}"));
    let end = start + dom[start..].find("</pre>").expect("report end");
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad report ({e}): {text}"))
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

const SVG_PROBE: &str = r#"<pre id="report" style="display:none"></pre>
<script>
const box = el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; };
const items = [];
for (const g of document.querySelectorAll('svg g.node, svg g.group')) {
  const rect = g.querySelector(':scope > rect');
  const label = g.querySelector(':scope > text.name, :scope > text.label');
  items.push({
    id: g.dataset.id, parent: g.dataset.parent, cls: g.getAttribute('class'),
    rect: box(rect), text: box(label),
    lines: Array.from(label.querySelectorAll('tspan')).map(t => t.textContent),
    type: (g.querySelector(':scope > text.type') || {}).textContent || null,
    fill: rect.getAttribute('fill'), stroke: rect.getAttribute('stroke'),
  });
}
document.getElementById('report').textContent = JSON.stringify({
  vw: window.innerWidth, vh: window.innerHeight, items,
  edges: document.querySelectorAll('svg path.edge').length,
});
</script>"#;

struct Png {
    w: usize,
    h: usize,
    rgb: Vec<[u8; 3]>,
}

impl Png {
    fn read(path: &Path) -> Png {
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(path).expect("screenshot"),
        ));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("png frame");
        let channels = info.color_type.samples();
        assert!(
            channels >= 3,
            "colour screenshot expected: {:?}",
            info.color_type
        );
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let rgb = buf[..info.buffer_size()]
            .chunks(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Png {
            w: info.width as usize,
            h: info.height as usize,
            rgb,
        }
    }
    fn at(&self, x: f64, y: f64) -> [u8; 3] {
        let (x, y) = (x.max(0.0) as usize, y.max(0.0) as usize);
        self.rgb[y.min(self.h - 1) * self.w + x.min(self.w - 1)]
    }
    fn luma(&self, x: f64, y: f64) -> f64 {
        let [r, g, b] = self.at(x, y);
        0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)
    }
}

fn hex(c: &str) -> [u8; 3] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).expect("hex colour");
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn near(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

fn rect(v: &Value) -> [f64; 4] {
    let a = v.as_array().expect("box");
    [0, 1, 2, 3].map(|i| a[i].as_f64().expect("number"))
}

fn inside(inner: [f64; 4], outer: [f64; 4]) -> bool {
    const E: f64 = 0.5;
    inner[0] >= outer[0] - E
        && inner[1] >= outer[1] - E
        && inner[0] + inner[2] <= outer[0] + outer[2] + E
        && inner[1] + inner[3] <= outer[1] + outer[3] + E
}

/// Renders `svg` in Chromium and checks, from the DOM and from the screenshot, that every
/// component of `arch` is drawn with its whole name inside its box, nested in its subnet and
/// VCN boxes, inside the viewport.
pub fn check_svg(svg: &str, arch: &Architecture) {
    let size = |attr: &str| -> u32 {
        let at = svg.find(&format!(" {attr}=\"")).expect("svg size") + attr.len() + 3;
        svg[at..]
            .split('"')
            .next()
            .unwrap()
            .parse::<f64>()
            .expect("number") as u32
    };
    let (w, h) = (size("width"), size("height"));
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("diagram.html");
    std::fs::write(
        &page,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><style>html,body{{margin:0;padding:0;background:#fff;overflow:hidden}}</style></head><body>{svg}{SVG_PROBE}</body></html>"
        ),
    )
    .expect("write page");
    // Headless Chromium's viewport is its window less the browser's own bar: the window is made
    // taller than the diagram, and the diagram must then fit the viewport.
    let window = (w, h + 200);
    let r = report(&chromium(&["--dump-dom"], &page, window));
    let viewport = [
        0.0,
        0.0,
        r["vw"].as_f64().unwrap(),
        r["vh"].as_f64().unwrap(),
    ];
    let canvas = [0.0, 0.0, f64::from(w), f64::from(h)];
    assert!(
        inside(canvas, viewport),
        "the diagram ({w}x{h}) fits the viewport {viewport:?}"
    );
    let items = r["items"].as_array().expect("items");
    let components = items
        .iter()
        .filter(|i| i["id"] != galley_sidecar::view::svg::OUTSIDE_ID);
    assert_eq!(
        components.count(),
        arch.components.len(),
        "one box per component: {r}"
    );
    let by_id: HashMap<&str, &Value> = items
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i))
        .collect();

    let shot = dir.path().join("diagram.png");
    chromium(
        &[&format!("--screenshot={}", shot.display())],
        &page,
        window,
    );
    let png = Png::read(&shot);
    assert!(
        png.w as u32 >= w && png.h as u32 >= h,
        "screenshot {}x{}",
        png.w,
        png.h
    );
    assert!(
        near(png.at(2.0, 2.0), [255, 255, 255], 2),
        "white background"
    );

    for c in &arch.components {
        let item = by_id
            .get(c.id.as_str())
            .unwrap_or_else(|| panic!("{} is not drawn", c.id));
        let (b, t) = (rect(&item["rect"]), rect(&item["text"]));
        let lines: Vec<&str> = item["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l.as_str())
            .collect();
        let label = squash(&lines.concat());
        let name = squash(&c.display_name.replace(|c: char| c.is_control(), " "));
        assert!(
            label.starts_with(&name) && !name.is_empty(),
            "{}: label {lines:?} lacks its name {:?}",
            c.id,
            c.display_name
        );
        let is_node = item["cls"] == "node";
        if is_node {
            assert_eq!(label, name, "{}: the label is the whole name", c.id);
            assert_eq!(item["type"], c.service_type.as_str(), "{}", c.id);
        } else {
            assert!(
                label.contains(&squash(&c.service_type)),
                "{}: {lines:?}",
                c.id
            );
        }
        assert!(t[2] > 4.0 && t[3] > 8.0, "{}: empty label box {t:?}", c.id);
        assert!(inside(t, b), "{}: label {t:?} outside its box {b:?}", c.id);
        assert!(inside(b, canvas), "{}: box {b:?} outside the diagram", c.id);
        let parent = item["parent"].as_str().unwrap_or_default();
        if !parent.is_empty() {
            let p = rect(&by_id[parent]["rect"]);
            assert!(inside(b, p), "{} is not inside {parent}", c.id);
        }

        // The screenshot: border along the left edge, fill inside, ink where the name is.
        let stroke = hex(item["stroke"].as_str().unwrap());
        let border_rows: Vec<f64> = (6..(b[3] as i64 - 6)).map(|dy| b[1] + dy as f64).collect();
        let on_border = border_rows
            .iter()
            .filter(|y| {
                [b[0] - 1.0, b[0]].iter().any(|x| {
                    let p = png.at(*x, **y);
                    near(p, stroke, 110) && png.luma(*x, **y) < 200.0
                })
            })
            .count();
        let share = on_border as f64 / border_rows.len().max(1) as f64;
        let needed = if is_node {
            0.9
        } else if item["cls"] == "group subnet" {
            0.5
        } else {
            0.85
        };
        assert!(
            share >= needed,
            "{}: border drawn on {share:.2} of its left edge",
            c.id
        );
        if is_node {
            let fill = hex(item["fill"].as_str().unwrap());
            let p = png.at(b[0] + b[2] - 6.0, b[1] + b[3] - 6.0);
            assert!(near(p, fill, 6), "{}: fill {p:?} is not {fill:?}", c.id);
        }
        let mut ink = 0;
        for y in t[1] as i64..(t[1] + t[3]) as i64 {
            for x in t[0] as i64..(t[0] + t[2]) as i64 {
                if png.luma(x as f64, y as f64) < 110.0 {
                    ink += 1;
                }
            }
        }
        let chars = name.chars().count();
        assert!(
            ink >= 3 * chars,
            "{}: {ink} dark pixels for a {chars}-character name",
            c.id
        );
    }
    let placement_edges = r["edges"].as_u64().unwrap_or(0);
    assert!(placement_edges > 0, "arrows are drawn");
}

/// Parses and renders `mermaid` with the official Mermaid package in Chromium; checks it has a
/// node per component box, a cluster per group box and every display name.
pub fn check_mermaid(mermaid: &str, arch: &Architecture) {
    let lib =
        util::workspace_root().join(".tools/mermaid/node_modules/mermaid/dist/mermaid.min.js");
    assert!(
        lib.exists(),
        "{} is missing: run `bash tests/setup.sh` at the workspace root first",
        lib.display()
    );
    let text = serde_json::to_string(mermaid)
        .unwrap()
        .replace('<', "\\u003c");
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("mermaid.html");
    std::fs::write(
        &page,
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8"></head><body><pre id="report"></pre>
<script src="file://{lib}"></script>
<script>
(async () => {{
  const text = {text};
  const out = {{}};
  try {{
    mermaid.initialize({{ startOnLoad: false, securityLevel: 'strict', flowchart: {{ htmlLabels: false }} }});
    out.parsed = await mermaid.parse(text);
    const r = await mermaid.render('diagram', text);
    const div = document.createElement('div');
    div.innerHTML = r.svg;
    document.body.appendChild(div);
    out.nodes = Array.from(div.querySelectorAll('g.node')).map(g => g.textContent);
    out.clusters = Array.from(div.querySelectorAll('g.cluster')).map(g => g.textContent);
    out.edges = div.querySelectorAll('.edgePaths path').length;
  }} catch (e) {{ out.error = String((e && e.message) || e); }}
  document.getElementById('report').textContent = JSON.stringify(out);
}})();
</script></body></html>"#,
            lib = lib.display()
        ),
    )
    .expect("write page");
    let r = report(&chromium(&["--dump-dom"], &page, (1600, 1200)));
    assert!(
        r.get("error").is_none(),
        "Mermaid refused the text: {r}\n{mermaid}"
    );
    assert_eq!(r["parsed"]["diagramType"], "flowchart-v2", "{r}");
    let groups = arch
        .components
        .iter()
        .filter(|c| matches!(c.service_type.as_str(), "vcn" | "subnet"))
        .count();
    let nodes = r["nodes"].as_array().expect("nodes");
    let clusters = r["clusters"].as_array().expect("clusters");
    // Mermaid draws an empty subgraph (a subnet with nothing in it) as a plain node.
    let outside = usize::from(mermaid.contains("subgraph outside["));
    assert!(
        clusters.len() <= groups + outside && clusters.len() >= 2,
        "{r}"
    );
    assert_eq!(
        nodes.len() + clusters.len(),
        arch.components.len() + outside,
        "{r}"
    );
    let rendered: Vec<String> = nodes
        .iter()
        .chain(clusters)
        .filter_map(|t| t.as_str())
        .map(squash)
        .collect();
    for c in &arch.components {
        let name = squash(&c.display_name);
        assert!(
            rendered.iter().any(|t| t.contains(&name)),
            "{} ({:?}) is not in the rendered Mermaid diagram: {rendered:?}",
            c.id,
            c.display_name
        );
    }
    assert!(r["edges"].as_u64().is_some_and(|n| n > 0), "{r}");
}

/// The full fixture plus what makes a diagram hard: a long name that wraps, characters that
/// need escaping in SVG and Mermaid, a subnet outside any VCN, a component not placed yet.
fn hard_architecture() -> Architecture {
    let mut arch = util::full_architecture();
    let comp = |id: &str, t: &str, name: &str| Component {
        id: id.into(),
        service_type: t.into(),
        display_name: name.into(),
        config: Default::default(),
    };
    arch.components.extend([
        comp(
            "long",
            "compute",
            "reporting worker for the nightly settlement and reconciliation batch",
        ),
        comp("odd", "compute", "db <primary> & \"replica\" #1 | 'x'"),
        comp("loose", "subnet", "orphan-net"),
        comp("lost", "apigateway", "unplaced-api"),
    ]);
    for (a, b, kind) in [
        ("long", "priv", "placement"),
        ("odd", "priv", "placement"),
        ("long", "db", "data"),
        ("odd", "bucket", "data"),
    ] {
        arch.connections.push(Connection {
            source_id: a.into(),
            target_id: b.into(),
            connection_type: kind.into(),
            description: String::new(),
        });
    }
    arch
}

#[test]
fn chromium_shows_every_component_of_the_svg_diagram_in_its_boxes() {
    let arch = hard_architecture();
    let d = galley_sidecar::view::diagram(&arch);
    check_svg(&d.svg, &arch);
}

#[test]
fn the_official_mermaid_parser_accepts_and_renders_the_diagram_text() {
    let arch = hard_architecture();
    let d = galley_sidecar::view::diagram(&arch);
    check_mermaid(&d.mermaid, &arch);
}
