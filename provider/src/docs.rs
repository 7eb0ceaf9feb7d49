//! Registry-layout documentation (`docs/index.md`, `docs/resources/<type>.md`,
//! `docs/data-sources/<type>.md`, `docs/list-resources/<type>.md`) rendered from the schema
//! descriptions and the example files (`examples/resources/<type>/resource.tf`, `import.sh` and
//! `import-by-identity.tf`, `examples/data-sources/<type>/data-source.tf`,
//! `examples/list-resources/<type>/list.tfquery.hcl`), so the docs cannot drift from the code.
//! Write-only attributes are marked as such; a resource with an identity gets an "Import by
//! identity" section (its example generated from the identity schema when the example file is
//! absent).
//!
//! The test `docs_are_current` fails when the checked-in `docs/` differ from what this renders
//! (a page for a type the provider no longer serves included);
//! `GALLEY_WRITE_DOCS=1 cargo test -p terraform-provider-galley docs_are_current` rewrites them.

use std::fmt::Write as _;
use std::path::Path;

use crate::cty::Type;
use crate::identity::{ForImport, IdentitySchema};
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
        let mut page = render_page(
            name,
            "Resource",
            &reg.schema.block,
            read(repo_root, &format!("examples/resources/{name}/resource.tf")),
            read(repo_root, &format!("examples/resources/{name}/import.sh")),
        );
        if let Some(identity) = &reg.identity {
            let example = read(
                repo_root,
                &format!("examples/resources/{name}/import-by-identity.tf"),
            );
            render_identity(&mut page, name, &identity.schema, example);
        }
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
    for (name, reg) in provider.list_resources() {
        let page = render_list_page(
            name,
            &reg.schema.block,
            read(
                repo_root,
                &format!("examples/list-resources/{name}/list.tfquery.hcl"),
            ),
        );
        files.push((format!("{LIST_RESOURCES_DIR}/{name}.md"), page));
    }
    files
}

/// The folders holding one page per type; a page there that nothing renders is stale.
pub const RESOURCES_DIR: &str = "docs/resources";
pub const DATA_SOURCES_DIR: &str = "docs/data-sources";
pub const LIST_RESOURCES_DIR: &str = "docs/list-resources";

/// The front matter and title every page starts with.
fn page_head(page: &mut String, name: &str, kind: &str, description: &str) {
    let _ = writeln!(
        page,
        "---\npage_title: \"{name} {kind} - galley\"\nsubcategory: \"\"\ndescription: |-\n  {}\n---\n",
        first_sentence(description)
    );
    let _ = writeln!(page, "# {name} ({kind})\n\n{description}\n");
}

/// One resource or data source page: `kind` is "Resource" or "Data Source".
fn render_page(
    name: &str,
    kind: &str,
    block: &Block,
    example: Option<String>,
    import: Option<String>,
) -> String {
    let mut page = String::new();
    page_head(&mut page, name, kind, &block.description);
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

/// The "Import by identity" section: an `import` block example (the example file, else one
/// generated from the identity schema) and the identity's attributes.
fn render_identity(
    page: &mut String,
    name: &str,
    identity: &IdentitySchema,
    example: Option<String>,
) {
    let example = example.unwrap_or_else(|| {
        let mut e = format!("import {{\n  to = {name}.example\n  identity = {{\n");
        let width = identity
            .required_for_import()
            .map(str::len)
            .max()
            .unwrap_or(0);
        for a in identity
            .attributes
            .iter()
            .filter(|a| a.for_import == ForImport::Required)
        {
            let _ = writeln!(e, "    {:width$} = {}", a.name, placeholder(&a.ty));
        }
        e.push_str("  }\n}\n");
        e
    });
    let _ = writeln!(
        page,
        "\n## Import by identity\n\nWith Terraform 1.12 or later, an `import` block can name the \
         object by its identity instead of an id:\n\n```terraform\n{example}```\n\n\
         ### Identity Schema\n"
    );
    for (title, pick) in [
        ("Required", ForImport::Required),
        ("Optional", ForImport::Optional),
    ] {
        let attrs: Vec<_> = identity
            .attributes
            .iter()
            .filter(|a| a.for_import == pick)
            .collect();
        if attrs.is_empty() {
            continue;
        }
        let _ = writeln!(page, "#### {title}\n");
        for a in attrs {
            let _ = writeln!(
                page,
                "- `{}` ({}) {}",
                a.name,
                type_name(&a.ty),
                a.description
            );
        }
        page.push('\n');
    }
    // One trailing newline, like the other pages.
    while page.ends_with("\n\n") {
        page.pop();
    }
}

/// A value of `ty` to show in a generated example.
fn placeholder(ty: &Type) -> &'static str {
    match ty {
        Type::Bool => "false",
        Type::Number => "0",
        Type::List(_) => "[\"...\"]",
        _ => "\"...\"",
    }
}

/// A list resource page: what `terraform query` finds, the `list` block example and the
/// schema of its `config` block.
fn render_list_page(name: &str, block: &Block, example: Option<String>) -> String {
    let mut page = String::new();
    page_head(&mut page, name, "List Resource", &block.description);
    let _ = writeln!(
        page,
        "With Terraform 1.14 or later, `terraform query` uses a `list \"{name}\"` block in a \
         `.tfquery.hcl` file to find existing [{name}](../resources/{name}.md) objects; \
         `-generate-config-out` writes a resource and an `import` block for each.\n"
    );
    if let Some(example) = example {
        let _ = writeln!(page, "## Example Usage\n\n```terraform\n{example}```\n");
    }
    page.push_str("## Schema\n\nArguments of the `config` block.\n\n");
    render_block(&mut page, block, "");
    while page.ends_with("\n\n") {
        page.pop();
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
            let write_only = if a.write_only { ", Write-only" } else { "" };
            let _ = writeln!(
                out,
                "- `{}` ({}{sensitive}{write_only}) {}{}",
                a.name,
                type_name(&a.ty),
                a.description,
                write_only_note(a)
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

/// What a reader must know about a write-only attribute: it is never stored, needs Terraform
/// 1.11, and what to set on older versions.
fn write_only_note(a: &crate::schema::Attribute) -> String {
    if !a.write_only {
        return String::new();
    }
    let older = match a.write_only_fallback {
        Some(fallback) => format!("; with older versions set `{fallback}` instead"),
        None => String::new(),
    };
    format!(
        " Write-only: the value is never stored in the plan or state, so changing only this \
         value changes nothing. Needs Terraform 1.11 or later{older}."
    )
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
        for dir in [RESOURCES_DIR, DATA_SOURCES_DIR, LIST_RESOURCES_DIR] {
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
        let provider = Provider::with(Vec::new(), vec![Arc::new(Echo)], Vec::new());
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

    #[test]
    fn write_only_identity_and_list_resource_pages() {
        use std::sync::Arc;

        use crate::list_resources::testing::{self, Widget, Widgets};

        let root = tempfile::tempdir().unwrap();
        let dir = root
            .path()
            .join("examples/list-resources")
            .join(testing::TYPE_NAME);
        std::fs::create_dir_all(&dir).unwrap();
        let query = "list \"galley_test_widget\" \"all\" {\n  provider = galley\n\n  config {\n    prefix = \"w\"\n  }\n}\n";
        std::fs::write(dir.join("list.tfquery.hcl"), query).unwrap();
        let provider = Provider::with(
            vec![Arc::new(Widget::default())],
            Vec::new(),
            vec![Arc::new(Widgets::default())],
        );
        let files = render_all(&provider, root.path());
        let page = |rel: &str| &files.iter().find(|(r, _)| r == rel).expect(rel).1;

        let resource = page("docs/resources/galley_test_widget.md");
        assert!(
            resource.contains(
                "- `secret_wo` (String, Write-only) The secret, never stored. Write-only: the \
                 value is never stored in the plan or state, so changing only this value \
                 changes nothing. Needs Terraform 1.11 or later; with older versions set \
                 `secret` instead."
            ),
            "{resource}"
        );
        assert!(resource.contains("- `pin_wo` (String, Write-only) A pin. Write-only:"));
        assert!(resource.contains("- `secret` (String, Sensitive) The secret, stored in state.\n"));
        assert!(resource.contains(
            "## Import by identity\n\nWith Terraform 1.12 or later, an `import` block can name \
             the object by its identity instead of an id:\n\n```terraform\nimport {\n  to = \
             galley_test_widget.example\n  identity = {\n    name = \"...\"\n  }\n}\n```"
        ));
        assert!(resource.contains(
            "### Identity Schema\n\n#### Required\n\n- `name` (String) The name.\n\n\
             #### Optional\n\n- `zone` (String) The zone; `z1` when unset.\n"
        ));
        assert!(resource.ends_with("unset.\n"), "{resource:?}");

        // An example file replaces the generated import block.
        let example =
            "import {\n  to       = galley_test_widget.w\n  identity = { name = \"w-0\" }\n}\n";
        let examples = root
            .path()
            .join("examples/resources")
            .join(testing::TYPE_NAME);
        std::fs::create_dir_all(&examples).unwrap();
        std::fs::write(examples.join("import-by-identity.tf"), example).unwrap();
        let files = render_all(&provider, root.path());
        let resource = &files
            .iter()
            .find(|(r, _)| r == "docs/resources/galley_test_widget.md")
            .unwrap()
            .1;
        assert!(resource.contains(&format!("```terraform\n{example}```")));

        let list = page("docs/list-resources/galley_test_widget.md");
        assert!(list.starts_with(
            "---\npage_title: \"galley_test_widget List Resource - galley\"\nsubcategory: \"\"\n\
             description: |-\n  Finds widgets by name prefix.\n---\n\n# galley_test_widget (List \
             Resource)"
        ));
        assert!(list.contains("[galley_test_widget](../resources/galley_test_widget.md)"));
        assert!(list.contains(&format!("## Example Usage\n\n```terraform\n{query}```")));
        assert!(list.contains(
            "## Schema\n\nArguments of the `config` block.\n\n### Required\n\n- `prefix` \
             (String) Name prefix.\n\n### Optional\n\n- `count` (Number) How many.\n"
        ));
        assert!(list.ends_with("How many.\n"));
    }
}
