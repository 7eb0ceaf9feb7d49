//! Which files of a packaged directory stay out: the built-in exclusions and the patterns of a
//! `.galleyignore` at the directory's root, in `.gitignore` syntax.
//!
//! Supported syntax: blank lines and `#` comments, `\#` and `\!` escapes, `!` to re-include,
//! a trailing `/` for directories only, patterns with a `/` anchored at the root (a leading `/`
//! is dropped), patterns without one matching a name at any depth, `*`, `?`, `[a-z]`, `[!x]`
//! and `**` segments. The last matching pattern wins; what is inside an excluded directory
//! stays excluded, as with git.

/// Always excluded, whatever `.galleyignore` says: Terraform's working data and state files
/// (which hold secrets), git metadata, and the ignore file itself.
pub const BUILT_IN: &[&str] = &[".git/", ".terraform/", "*.tfstate*", ".galleyignore"];

/// The name of the ignore file read at the root of a packaged directory.
pub const IGNORE_FILE: &str = ".galleyignore";

#[derive(Debug, Clone)]
struct Rule {
    /// Pattern segments, split at `/`.
    segments: Vec<String>,
    /// Matched against the whole relative path; otherwise against the last name only.
    anchored: bool,
    dir_only: bool,
    negated: bool,
}

impl Rule {
    fn parse(line: &str) -> Option<Rule> {
        let line = line.trim_end_matches(['\r', '\n']);
        // Trailing spaces are ignored unless escaped.
        let line = if line.ends_with("\\ ") {
            line
        } else {
            line.trim_end()
        };
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (negated, body) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line.strip_prefix('\\').unwrap_or(line)),
        };
        let (dir_only, body) = match body.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        if body.is_empty() {
            return None;
        }
        let anchored = body.contains('/');
        let body = body.strip_prefix('/').unwrap_or(body);
        Some(Rule {
            segments: body.split('/').map(str::to_owned).collect(),
            anchored,
            dir_only,
            negated,
        })
    }

    fn matches(&self, path: &[&str], is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        if self.anchored {
            segments_match(&self.segments, path)
        } else {
            match path.last() {
                Some(name) => glob(self.segments[0].as_bytes(), name.as_bytes()),
                None => false,
            }
        }
    }
}

/// Matches pattern segments against path segments; a `**` segment takes any number of them.
fn segments_match(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| segments_match(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((name, tail)) => {
                glob(first.as_bytes(), name.as_bytes()) && segments_match(rest, tail)
            }
            None => false,
        },
    }
}

/// Matches one name against one pattern segment: `*`, `?`, `[...]` and `\` escapes.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, name index it covers to).
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(1),
            Some(b'[') => match class(&pattern[p..], name[n]) {
                Some(width) => width,
                None => (name[n] == b'[').then_some(1),
            },
            Some(b'\\') if p + 1 < pattern.len() => (pattern[p + 1] == name[n]).then_some(2),
            Some(c) => (*c == name[n]).then_some(1),
            None => None,
        };
        match step {
            Some(width) => {
                p += width;
                n += 1;
            }
            None => match star {
                Some((after, covered)) => {
                    p = after;
                    n = covered + 1;
                    star = Some((after, covered + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// Matches `c` against the class at the start of `pattern` (`[...]`): `None` when there is no
/// class (an unterminated `[` is a literal), else the class's width when `c` matches.
fn class(pattern: &[u8], c: u8) -> Option<Option<usize>> {
    let end = pattern
        .iter()
        .skip(2)
        .position(|b| *b == b']')
        .map(|i| i + 2)?;
    let mut body = &pattern[1..end];
    let negated = matches!(body.first(), Some(b'!' | b'^'));
    if negated {
        body = &body[1..];
    }
    let mut found = false;
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == b'-' {
            found |= body[i] <= c && c <= body[i + 2];
            i += 3;
        } else {
            found |= body[i] == c;
            i += 1;
        }
    }
    Some((found != negated).then_some(end + 1))
}

/// The rules for one packaged directory.
#[derive(Debug, Clone)]
pub struct IgnoreRules {
    user: Vec<Rule>,
    built_in: Vec<Rule>,
}

impl Default for IgnoreRules {
    fn default() -> Self {
        Self::new("")
    }
}

impl IgnoreRules {
    /// The built-in rules plus those of `.galleyignore` text.
    pub fn new(galleyignore: &str) -> Self {
        Self {
            user: galleyignore.lines().filter_map(Rule::parse).collect(),
            built_in: BUILT_IN.iter().filter_map(|l| Rule::parse(l)).collect(),
        }
    }

    /// Whether `rel` (relative, `/`-separated) is left out. Callers walk top-down and do not
    /// descend into excluded directories.
    pub fn is_excluded(&self, rel: &str, is_dir: bool) -> bool {
        let path: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        if self.built_in.iter().any(|r| r.matches(&path, is_dir)) {
            return true;
        }
        self.user
            .iter()
            .rev()
            .find(|r| r.matches(&path, is_dir))
            .is_some_and(|r| !r.negated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_exclude_state_terraform_data_and_git_at_any_depth() {
        let r = IgnoreRules::default();
        for (path, dir) in [
            (".terraform", true),
            ("modules/net/.terraform", true),
            (".git", true),
            ("terraform.tfstate", false),
            ("terraform.tfstate.backup", false),
            ("env/terraform.tfstate.d", true),
            (".galleyignore", false),
        ] {
            assert!(r.is_excluded(path, dir), "{path}");
        }
        for (path, dir) in [
            ("main.tf", false),
            (".terraform.lock.hcl", false),
            ("modules/net/main.tf", false),
            ("tfstate.md", false),
        ] {
            assert!(!r.is_excluded(path, dir), "{path}");
        }
    }

    #[test]
    fn user_patterns_follow_gitignore_rules() {
        let r = IgnoreRules::new(
            "# comment\n\n*.log\n!keep.log\nbuild/\n/docs/*.md\nsecrets/**\n**/tmp\n\\#literal\nnot_a_dir/\n",
        );
        assert!(r.is_excluded("a.log", false));
        assert!(r.is_excluded("x/y/a.log", false));
        assert!(!r.is_excluded("keep.log", false));
        assert!(r.is_excluded("build", true));
        assert!(r.is_excluded("src/build", true));
        assert!(
            !r.is_excluded("build", false),
            "build/ matches directories only"
        );
        assert!(r.is_excluded("docs/readme.md", false));
        assert!(
            !r.is_excluded("other/docs/readme.md", false),
            "anchored at the root"
        );
        assert!(
            !r.is_excluded("docs/sub/readme.md", false),
            "* stays in one segment"
        );
        assert!(r.is_excluded("secrets/a/b.txt", false));
        assert!(r.is_excluded("tmp", true));
        assert!(r.is_excluded("a/b/tmp", true));
        assert!(r.is_excluded("#literal", false));
        assert!(!r.is_excluded("not_a_dir", false));
        assert!(!r.is_excluded("main.tf", false));
    }

    #[test]
    fn globs_handle_classes_question_marks_and_stars() {
        assert!(glob(b"file?.tf", b"file1.tf"));
        assert!(!glob(b"file?.tf", b"file10.tf"));
        assert!(glob(b"[a-c]*.txt", b"b-notes.txt"));
        assert!(!glob(b"[!a-c]*.txt", b"b-notes.txt"));
        assert!(glob(b"*.tar.gz", b"x.tar.gz"));
        assert!(glob(b"*a*b*c", b"xxaxxbxxc"));
        assert!(!glob(b"*a*b*c", b"xxaxxcxxb"));
        assert!(glob(b"[", b"["), "an unterminated class is a literal");
        assert!(glob(b"\\*", b"*"));
        assert!(!glob(b"\\*", b"x"));
    }
}
