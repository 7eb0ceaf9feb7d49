//! Registry-layout documentation (`docs/index.md`, `docs/resources/<type>.md`,
//! `docs/data-sources/<type>.md`) rendered from the schema descriptions and the example files
//! (`examples/resources/<type>/resource.tf` and `import.sh`,
//! `examples/data-sources/<type>/data-source.tf`), so the docs cannot drift from the code.
//!
//! The test `docs_are_current` fails when the checked-in `docs/` differ from what this renders
//! (a page for a type the provider no longer serves included);
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
        let page = render_page(
            name,
            "Resource",
            &reg.schema.block,
            read(repo_root, &format!("examples/resources/{name}/resource.tf")),
            read(repo_root, &format!("examples/resources/{name}/import.sh")),
        );
        files.push((format!("{RESOURCES_DIR}/{name}.md"), page));
    }
    for (name, reg) in provider.data_sources() {
        let page = render_page(
            name,
            "Data Source",
            &reg.schema.block,
            read(
                repo_root,
                &format!("examples/data-sources/{name}/data-source.tf"),
            ),
            None,
        );
        files.push((format!("{DATA_SOURCES_DIR}/{name}.md"), page));
    }
    files
}

/// The folders holding one page per type; a page there that nothing renders is stale.
pub const RESOURCES_DIR: &str = "docs/resources";
pub const DATA_SOURCES_DIR: &str = "docs/data-sources";

/// One resource or data source page: `kind` is "Resource" or "Data Source".
fn render_page(
    name: &str,
    kind: &str,
    block: &Block,
    example: Option<String>,
    import: Option<String>,
) -> String {
    let mut page = String::new();
    let _ = writeln!(
        page,
        "---\npage_title: \"{name} {kind} - galley\"\nsubcategory: \"\"\ndescription: |-\n  {}\n---\n",
        first_sentence(&block.description)
    );
    let _ = writeln!(page, "# {name} ({kind})\n\n{}\n", block.description);
    if let Some(example) = example {
        let _ = writeln!(page, "## Example Usage\n\n```terraform\n{example}```\n");
    }
    page.push_str("## Schema\n\n");
    render_block(&mut page, block, "");
    if let Some(import) = import {
        let _ = writeln!(
            page,
            "## Import\n\nImport is supported using the following syntax:\n\n```shell\n{import}```"
        );
    }
    page
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
        let rendered = render_all(&provider, root);
        for (rel, content) in &rendered {
            let path = root.join(rel);
            if write {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, content).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                stale.push(rel.clone());
            }
        }
        // Pages of types the provider no longer serves.
        for dir in [RESOURCES_DIR, DATA_SOURCES_DIR] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let rel = format!("{dir}/{}", entry.file_name().to_string_lossy());
                if !rendered.iter().any(|(r, _)| *r == rel) {
                    if write {
                        std::fs::remove_file(entry.path()).unwrap();
                    } else {
                        stale.push(rel);
                    }
                }
            }
        }
        assert!(
            stale.is_empty(),
            "docs are out of date: {stale:?}. Regenerate with \
             `GALLEY_WRITE_DOCS=1 cargo test -p terraform-provider-galley docs_are_current`"
        );
    }

    #[test]
    fn data_source_pages_take_their_example_and_schema() {
        use std::sync::Arc;

        use crate::data_sources::testing::{self, Echo};

        let root = tempfile::tempdir().unwrap();
        let example_dir = root
            .path()
            .join("examples/data-sources")
            .join(testing::TYPE_NAME);
        std::fs::create_dir_all(&example_dir).unwrap();
        let example = "data \"galley_test_echo\" \"x\" {\n  name = \"world\"\n}\n";
        std::fs::write(example_dir.join("data-source.tf"), example).unwrap();
        let provider = Provider::with(Vec::new(), vec![Arc::new(Echo)]);
        let files = render_all(&provider, root.path());
        let rel = format!("docs/data-sources/{}.md", testing::TYPE_NAME);
        let page = &files.iter().find(|(r, _)| *r == rel).expect("a page").1;
        assert!(page.starts_with(
            "---\npage_title: \"galley_test_echo Data Source - galley\"\nsubcategory: \"\"\n\
             description: |-\n  Echoes its configuration.\n---\n\n# galley_test_echo (Data Source)"
        ));
        assert!(page.contains(&format!("## Example Usage\n\n```terraform\n{example}```")));
        assert!(page.contains("### Required\n\n- `name` (String) Who to greet."));
        assert!(page.contains("### Read-Only\n\n- `greeting` (String) The greeting."));
        assert!(!page.contains("## Import"));
        assert!(!files.iter().any(|(r, _)| r.starts_with("docs/resources/")));
    }
}
