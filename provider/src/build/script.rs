//! The bash script `galley_build` sends to the build instance through the Instance Agent: fetch
//! the build context through a pre-authenticated URL, log in to the registry, build, push.
//!
//! What it must never do: carry a secret. The script text is stored with the command and shown
//! to anyone who may read commands, and its output comes back in the command's record. So the
//! registry token travels as an Object Storage object behind a short-lived read-write
//! pre-authenticated URL: the script downloads it into a private temporary file, overwrites the
//! object at once (the URL then yields nothing of value even before the provider deletes it),
//! and hands it to `docker login --password-stdin`. No `set -x`, no token in an argument.
//!
//! The script stays under 4 KB (what inline commands are meant for); [`render`] refuses more.
//! Its second line is a JSON header with the build's non-secret settings, which import reads
//! back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Largest script sent inline.
pub const MAX_SCRIPT_BYTES: usize = 4096;

/// What starts the header line.
pub const HEADER_PREFIX: &str = "# galley-build ";

/// The build's non-secret settings, recorded in the script's header line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub image: String,
    pub bucket: String,
    pub namespace: String,
    pub object: String,
    pub dockerfile: String,
    pub source_sha256: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub build_args: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_username: Option<String>,
}

/// Everything the script needs.
#[derive(Clone, Debug)]
pub struct BuildScript {
    pub header: Header,
    /// Pre-authenticated GET URL of the build context (tar.gz).
    pub context_url: String,
    /// Pre-authenticated read-write URL of the registry token object, when logging in.
    pub token_url: Option<String>,
}

/// Why no script could be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScriptError {
    #[error(
        "failed to write the build script: it would be {0} bytes, over the 4096 an inline command takes (shorten build_args)"
    )]
    TooLarge(usize),
    #[error(
        "failed to write the build script: build argument name {0:?} is not a valid identifier"
    )]
    BadBuildArg(String),
}

/// Single-quotes `s` for bash.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The registry host of an image reference, as docker decides it: the first component when it
/// looks like a host (has a `.` or `:`, or is `localhost`), else Docker Hub.
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// Whether `name` can be a build argument.
pub fn valid_build_arg(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The script text.
pub fn render(b: &BuildScript) -> Result<String, ScriptError> {
    let h = &b.header;
    if let Some(bad) = h.build_args.keys().find(|k| !valid_build_arg(k)) {
        return Err(ScriptError::BadBuildArg(bad.clone()));
    }
    let header = serde_json::to_string(h).unwrap_or_default();
    let image = quote(&h.image);
    let mut s = String::with_capacity(2048);
    s.push_str("#!/usr/bin/env bash\n");
    s.push_str(&format!("{HEADER_PREFIX}{header}\n"));
    s.push_str("set -euo pipefail\numask 077\n");
    s.push_str("work=\"$(mktemp -d)\"\ntrap 'rm -rf \"$work\"' EXIT\ncd \"$work\"\n");
    s.push_str("echo 'galley-build: fetching the build context'\n");
    s.push_str(&format!(
        "curl -fsS --retry 3 -o context.tar.gz {}\n",
        quote(&b.context_url)
    ));
    s.push_str("mkdir context\ntar -xzf context.tar.gz -C context\n");
    if let (Some(url), Some(user)) = (&b.token_url, &h.registry_username) {
        let url = quote(url);
        s.push_str(&format!(
            "echo {}\n",
            quote(&format!(
                "galley-build: logging in to {}",
                registry_of(&h.image)
            ))
        ));
        s.push_str(&format!("curl -fsS --retry 3 -o token {url}\n"));
        // Burn the secret behind the URL now that it is read.
        s.push_str(&format!(
            "curl -fsS -X PUT --data-binary used {url} >/dev/null || true\n"
        ));
        s.push_str(&format!(
            "docker login --username {} --password-stdin {} < token\nrm -f token\n",
            quote(user),
            quote(registry_of(&h.image))
        ));
    }
    s.push_str(&format!(
        "echo {}\n",
        quote(&format!("galley-build: building {}", h.image))
    ));
    s.push_str(&format!(
        "docker build -f {} -t {image}",
        quote(&format!("context/{}", h.dockerfile))
    ));
    for (k, v) in &h.build_args {
        s.push_str(&format!(" --build-arg {}", quote(&format!("{k}={v}"))));
    }
    s.push_str(" context\n");
    s.push_str(&format!(
        "echo {}\ndocker push {image}\n",
        quote(&format!("galley-build: pushing {}", h.image))
    ));
    if s.len() >= MAX_SCRIPT_BYTES {
        return Err(ScriptError::TooLarge(s.len()));
    }
    Ok(s)
}

/// The header of a script [`render`] wrote, if it is one.
pub fn parse_header(script: &str) -> Option<Header> {
    script
        .lines()
        .find_map(|l| l.strip_prefix(HEADER_PREFIX))
        .and_then(|json| serde_json::from_str(json).ok())
}

/// The image digest in `docker push` output (`latest: digest: sha256:<64 hex> size: 1570`);
/// the last one when there are several.
pub fn pushed_digest(output: &str) -> Option<String> {
    output.lines().rev().find_map(|line| {
        let at = line.find("digest: sha256:")?;
        let hex: String = line[at + "digest: ".len() + "sha256:".len()..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        (hex.len() == 64).then(|| format!("sha256:{hex}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(token: bool) -> BuildScript {
        BuildScript {
            header: Header {
                image: "iad.ocir.io/ns/app:v1".into(),
                bucket: "builds".into(),
                namespace: "ns".into(),
                object: "galley-build/abc.tar.gz".into(),
                dockerfile: "docker/Dockerfile".into(),
                source_sha256: "abc".into(),
                build_args: [("VERSION".to_string(), "1.0 'beta'".to_string())].into(),
                registry_username: token.then(|| "ns/ci".to_string()),
            },
            context_url: format!(
                "https://objectstorage.example/p/{}/n/ns/b/builds/o/x",
                "t".repeat(64)
            ),
            token_url: token.then(|| {
                format!(
                    "https://objectstorage.example/p/{}/n/ns/b/builds/o/s",
                    "u".repeat(64)
                )
            }),
        }
    }

    #[test]
    fn script_is_small_quoted_and_carries_no_secret() {
        let script = render(&sample(true)).unwrap();
        assert!(script.len() < MAX_SCRIPT_BYTES);
        assert!(script.contains("--password-stdin 'iad.ocir.io' < token"));
        assert!(script.contains("--build-arg 'VERSION=1.0 '\\''beta'\\'''"));
        assert!(script.contains("-f 'context/docker/Dockerfile'"));
        assert!(!script.contains("set -x"));
        // The only token-related text is the URL and the file name.
        assert!(!script.contains("password=") && !script.contains("-p "));
        assert_eq!(parse_header(&script), Some(sample(true).header));
        let no_login = render(&sample(false)).unwrap();
        assert!(!no_login.contains("docker login"));
    }

    #[test]
    fn the_script_runs_under_bash_syntax_check() {
        let script = render(&sample(true)).unwrap();
        let out = std::process::Command::new("bash")
            .arg("-n")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn oversized_scripts_and_bad_argument_names_are_refused() {
        let mut big = sample(false);
        big.header
            .build_args
            .insert("BIG".into(), "x".repeat(MAX_SCRIPT_BYTES));
        assert!(matches!(render(&big), Err(ScriptError::TooLarge(_))));
        let mut bad = sample(false);
        bad.header.build_args.insert("1-bad".into(), "x".into());
        assert_eq!(render(&bad), Err(ScriptError::BadBuildArg("1-bad".into())));
    }

    #[test]
    fn registries_follow_dockers_rule() {
        assert_eq!(registry_of("iad.ocir.io/ns/app:v1"), "iad.ocir.io");
        assert_eq!(registry_of("localhost/app"), "localhost");
        assert_eq!(registry_of("127.0.0.1:5000/app"), "127.0.0.1:5000");
        assert_eq!(registry_of("library/nginx"), "docker.io");
        assert_eq!(registry_of("nginx"), "docker.io");
    }

    #[test]
    fn push_digests_are_found() {
        let hex = "a".repeat(64);
        let out = format!(
            "The push refers to repository [iad.ocir.io/ns/app]\n5f70: Pushed\nv1: digest: sha256:{hex} size: 1570\n"
        );
        assert_eq!(pushed_digest(&out), Some(format!("sha256:{hex}")));
        assert_eq!(pushed_digest("digest: sha256:abc"), None);
        assert_eq!(pushed_digest(""), None);
    }
}
