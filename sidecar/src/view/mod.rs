//! Seeing a design: where components sit (`placement`), the diagram's grouping and layout
//! (`diagram`), drawn as SVG by the sidecar itself (`svg`) and written as Mermaid (`mermaid`),
//! the Markdown summary (`summary`) and the shipped price table it estimates with (`prices`).
//! Everything here reads an architecture; nothing changes one.

pub mod diagram;
pub mod mermaid;
pub mod placement;
pub mod prices;
pub mod summary;
pub mod svg;

#[cfg(test)]
mod tests;

use crate::model::Architecture;

/// The diagram of an architecture in both forms.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub svg: String,
    pub mermaid: String,
    pub width: f64,
    pub height: f64,
    /// Connections drawn as arrows (placement is drawn as nesting instead).
    pub edges: usize,
}

/// Lays out and renders `arch`.
pub fn diagram(arch: &Architecture) -> Rendered {
    let d = diagram::layout(arch);
    Rendered {
        svg: svg::render(arch, &d),
        mermaid: mermaid::render(arch, &d),
        width: d.width,
        height: d.height,
        edges: d.edges.len(),
    }
}
