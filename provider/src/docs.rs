//! Registry-layout documentation (`docs/index.md`, `docs/resources/<type>.md`) rendered from the
//! schema descriptions and the example files, so the docs cannot drift from the code.
//!
//! The test `docs_are_current` fails when the checked-in `docs/` differ from what this renders;
//! `GALLEY_WRITE_DOCS=1 cargo test -p terraform-provider-galley docs_are_current` rewrites them.

use std::fmt::Write as _;
use std::path::Path;

use crate::cty::Type;
use crate::provider::Provider;
use crate::schema::{Block, Nesting};

/// Every docs file as (path relative to the repository root, content).
pub fn render_all(provider: &Provider, repo_root: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let example = read(repo_root, "examples/provider/provider.tf");
    let mut index = String::new();
    let _ = writeln!(
        index,
        "---\npage_title: \"galley provider\"\ndescription: |-\n  {}\n---\n",
        first_sentence(&provider.schema.block.description)
    );
    let _ = writeln!(
        index,
        "# galley provider\n\n{}\n",
        provider.schema.block.description
    );
    if let Some(example) = example {
        let _ = writeln!(index, "## Example Usage\n\n```terraform\n{}```\n", example);
    }
    index.push_str("## Schema\n\n");
    render_block(&mut index, &provider.schema.block, "");
    files.push(("docs/index.md".to_string(), index));

    for (name, reg) in provider.resources() {
        let mut page = String::new();
        let block = &reg.schema.block;
        let _ = writeln!(
            page,
            "---\npage_title: \"{name} Resource - galley\"\nsubcategory: \"\"\ndescription: |-\n  {}\n---\n",
            first_sentence(&block.description)
        );
        let _ = writeln!(page, "# {name} (Resource)\n\n{}\n", block.description);
        if let Some(example) = read(repo_root, &format!("examples/resources/{name}/resource.tf")) {
            let _ = writeln!(page, "## Example Usage\n\n```terraform\n{example}```\n");
        }
        page.push_str("## Schema\n\n");
        render_block(&mut page, block, "");
        if let Some(import) = read(repo_root, &format!("examples/resources/{name}/import.sh")) {
            let _ = writeln!(
                page,
                "## Import\n\nImport is supported using the following syntax:\n\n```shell\n{import}```"
            );
        }
        files.push((format!("docs/resources/{name}.md"), page));
    }
    files
}

fn read(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(root.join(rel)).ok()
}

fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map(|i| i + 1).unwrap_or(text.len());
    text[..end].replace('\n', " ")
}

fn render_block(out: &mut String, block: &Block, anchor: &str) {
    type Pick = fn(&crate::schema::Attribute) -> bool;
    let groups: [(&str, Pick); 3] = [
        ("Required", |a| a.required),
        ("Optional", |a| a.optional),
        ("Read-Only", |a| a.computed && !a.optional),
    ];
    for (title, pick) in groups.iter() {
        let attrs: Vec<_> = block.attributes.iter().filter(|a| pick(a)).collect();
        let blocks: Vec<_> = if *title == "Optional" {
            block.blocks.iter().collect()
        } else {
            Vec::new()
        };
        if attrs.is_empty() && blocks.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        for a in attrs {
            let sensitive = if a.sensitive { ", Sensitive" } else { "" };
            let _ = writeln!(
                out,
                "- `{}` ({}{sensitive}) {}",
                a.name,
                type_name(&a.ty),
                a.description
            );
        }
        for b in &blocks {
            let nesting = match b.nesting {
                Nesting::Single | Nesting::Group => "Block",
                Nesting::List => "Block List",
                Nesting::Set => "Block Set",
                Nesting::Map => "Block Map",
            };
            let max = if b.max_items > 0 {
                format!(", Max: {}", b.max_items)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "- `{}` ({nesting}{max}) {} (see [below for nested schema](#nestedblock--{anchor}{}))",
                b.type_name, b.block.description, b.type_name
            );
        }
        out.push('\n');
    }
    for b in &block.blocks {
        let _ = writeln!(
            out,
            "<a id=\"nestedblock--{anchor}{}\"></a>\n### Nested Schema for `{}`\n",
            b.type_name, b.type_name
        );
        render_block(out, &b.block, &format!("{anchor}{}--", b.type_name));
    }
}

fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "Boolean".into(),
        Type::Number => "Number".into(),
        Type::String => "String".into(),
        Type::List(t) => format!("List of {}", type_name(t)),
        Type::Set(t) => format!("Set of {}", type_name(t)),
        Type::Map(t) => format!("Map of {}", type_name(t)),
        Type::Object { .. } => "Object".into(),
        Type::Tuple(_) => "Tuple".into(),
        _ => "Dynamic".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let provider = Provider::new();
        let write = std::env::var_os("GALLEY_WRITE_DOCS").is_some();
        let mut stale = Vec::new();
        for (rel, content) in render_all(&provider, root) {
            let path = root.join(&rel);
            if write {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &content).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                stale.push(rel);
            }
        }
        assert!(
            stale.is_empty(),
            "docs are out of date: {stale:?}. Regenerate with \
             `GALLEY_WRITE_DOCS=1 cargo test -p terraform-provider-galley docs_are_current`"
        );
    }
}
