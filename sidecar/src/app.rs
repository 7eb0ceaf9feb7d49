//! A session's application directory: the templates shipped in the binary, the checks on app
//! file paths and sizes, and the image reference a component's `image = "app"` stands for. The
//! files themselves live in the session document (`Session::app_files`); writing them to disk
//! for a build is the build runner's, the tools are `server::app`'s.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::store::{StoreError, stack_path};

/// The value of a container's `image` setting that means "the session's last built image".
pub const APP_IMAGE: &str = "app";
/// Largest app file.
pub const MAX_APP_FILE_BYTES: usize = 256 << 10;
/// Largest application directory (all files together): it travels in the session document.
pub const MAX_APP_BYTES: usize = 1 << 20;
/// Most files an application directory holds.
pub const MAX_APP_FILES: usize = 200;

/// A template an application directory can start from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Template {
    pub name: &'static str,
    pub description: &'static str,
    /// Paths of its files.
    pub files: Vec<&'static str>,
    #[serde(skip)]
    contents: &'static [(&'static str, &'static str)],
}

macro_rules! template_files {
    ($dir:literal: $($file:literal),+ $(,)?) => {
        &[$(($file, include_str!(concat!("../templates/", $dir, "/", $file)))),+]
    };
}

/// The shipped templates, in a stable order.
pub fn templates() -> &'static [Template] {
    static TEMPLATES: std::sync::LazyLock<Vec<Template>> = std::sync::LazyLock::new(|| {
        let t = |name, description, contents: &'static [(&'static str, &'static str)]| Template {
            name,
            description,
            files: contents.iter().map(|(p, _)| *p).collect(),
            contents,
        };
        vec![
            t(
                "rest-api-python",
                "Containerised JSON REST API on the Python standard library (GET /health, GET/POST /items), port 8000, non-root, with a HEALTHCHECK.",
                template_files!("rest-api-python": "Dockerfile", "app.py", "README.md"),
            ),
            t(
                "rest-api-node",
                "Containerised JSON REST API on Node.js 22's standard library (GET /health, GET/POST /items), port 8000, non-root, with a HEALTHCHECK.",
                template_files!("rest-api-node": "Dockerfile", "server.js", "package.json", "README.md"),
            ),
        ]
    });
    &TEMPLATES
}

impl Template {
    /// Its files: (path, content).
    pub fn contents(&self) -> &'static [(&'static str, &'static str)] {
        self.contents
    }
}

/// Names of the shipped templates, comma separated.
pub fn template_names() -> String {
    templates()
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The template `name`, or the error naming the known ones.
pub fn template(name: &str) -> Result<&'static Template, String> {
    templates().iter().find(|t| t.name == name).ok_or_else(|| {
        format!(
            "unknown template {}; the templates are: {} (list_app_templates describes them)",
            crate::echo::quoted(name),
            template_names()
        )
    })
}

/// Checks an app file path (the rules of stack paths: relative, plain names, at most four
/// directories deep, no hidden names) and returns it with `/` separators.
pub fn app_path(rel: &str) -> Result<String, String> {
    stack_path(rel)
        .map(|parts| parts.join("/"))
        .map_err(|e: StoreError| e.to_string())
}

/// Adds `content` at `rel` to `files`, keeping the directory within its limits; true when it
/// changed anything.
pub fn put_file(
    files: &mut BTreeMap<String, String>,
    rel: &str,
    content: &str,
) -> Result<bool, String> {
    let path = app_path(rel)?;
    if content.len() > MAX_APP_FILE_BYTES {
        return Err(format!(
            "{path} is {} bytes; app files are limited to {MAX_APP_FILE_BYTES} bytes",
            content.len()
        ));
    }
    if files.get(&path).is_some_and(|c| c == content) {
        return Ok(false);
    }
    if !files.contains_key(&path) && files.len() >= MAX_APP_FILES {
        return Err(format!(
            "the application directory already holds {MAX_APP_FILES} files, the most it may hold"
        ));
    }
    let total: usize = files
        .iter()
        .filter(|(p, _)| **p != path)
        .map(|(_, c)| c.len())
        .sum::<usize>()
        + content.len();
    if total > MAX_APP_BYTES {
        return Err(format!(
            "with {path} the application directory would be {total} bytes; it is limited to {MAX_APP_BYTES} bytes"
        ));
    }
    files.insert(path, content.to_string());
    Ok(true)
}

/// A valid repository name component for the image (lower case letters, digits, `.`, `_`,
/// `-`, `/` between parts), as registries accept it.
pub fn check_image_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                })
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "image_name {} is not a repository name: use lower-case letters, digits, `.`, `_` and `-`, with `/` between parts, like `shop/api`",
            crate::echo::quoted(name)
        ))
    }
}

/// A valid tag (letters, digits, `_`, `.`, `-`; at most 128, not starting with `.` or `-`).
pub fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {} is not an image tag: use letters, digits, `_`, `.` and `-` (at most 128, not starting with `.` or `-`)",
            crate::echo::quoted(tag)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_a_dockerfile_and_is_within_the_limits() {
        assert!(templates().len() >= 2);
        for t in templates() {
            assert!(t.files.contains(&"Dockerfile"), "{}", t.name);
            let mut files = BTreeMap::new();
            for (p, c) in t.contents() {
                assert!(put_file(&mut files, p, c).unwrap(), "{}/{p}", t.name);
            }
            assert_eq!(files.len(), t.files.len());
        }
    }

    #[test]
    fn an_unknown_template_names_the_known_ones() {
        let err = template("rest-api-cobol").unwrap_err();
        for t in templates() {
            assert!(err.contains(t.name), "{err}");
        }
        assert!(template("rest-api-python").is_ok());
    }

    #[test]
    fn app_paths_follow_the_stack_rules_and_limits_hold() {
        let mut files = BTreeMap::new();
        for bad in ["../x", "/etc/passwd", ".env", "a/b/c/d/e", ""] {
            assert!(put_file(&mut files, bad, "x").is_err(), "{bad}");
        }
        assert!(put_file(&mut files, "src/main.py", "print(1)\n").unwrap());
        assert!(!put_file(&mut files, "src/main.py", "print(1)\n").unwrap());
        let big = "x".repeat(MAX_APP_FILE_BYTES + 1);
        let err = put_file(&mut files, "big.txt", &big).unwrap_err();
        assert!(err.contains("big.txt"), "{err}");
        let part = "x".repeat(MAX_APP_FILE_BYTES);
        // 9 bytes of main.py and three full files fit; a fourth does not.
        for i in 0..3 {
            put_file(&mut files, &format!("f{i}"), &part).unwrap();
        }
        let err = put_file(&mut files, "f3", &part).unwrap_err();
        assert!(err.contains("limited to"), "{err}");
    }

    #[test]
    fn image_names_and_tags_are_checked() {
        assert!(check_image_name("app").is_ok());
        assert!(check_image_name("shop/api-v2").is_ok());
        for bad in ["App", "", "a//b", "-a", "a b", "a:b"] {
            assert!(check_image_name(bad).is_err(), "{bad}");
        }
        assert!(check_tag("v1.0_rc-2").is_ok());
        for bad in ["", ".x", "-x", "a/b", "a:b"] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }
}
