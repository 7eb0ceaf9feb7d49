//! The configuration a session deploys: the directory (ignore rules applied by
//! `crate::packaging`), the folder of its root module, the digest known at plan time, and the
//! zip uploaded to Resource Manager, which must hold exactly what was planned.

use std::path::Path;

use crate::packaging::{self, Package, PackagingError, Tree};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("failed to read the configuration directory {dir}: {source}")]
    Unreadable {
        dir: String,
        #[source]
        source: PackagingError,
    },

    /// Resource Manager would fail the job with "Terraform config file is missing in zip file".
    #[error(
        "failed to find a Terraform configuration in {place}: it holds no .tf or .tf.json file"
    )]
    NoTerraformFiles {
        place: String,
        /// Whether `place` is the working directory inside the configuration directory.
        in_working_directory: bool,
    },

    #[error("failed to digest the configuration directory {dir}: {source}")]
    Digest {
        dir: String,
        #[source]
        source: PackagingError,
    },

    #[error("failed to package the configuration directory {dir}: {source}")]
    Package {
        dir: String,
        #[source]
        source: PackagingError,
    },

    #[error("failed to package {dir}: its files changed since the plan")]
    ChangedSincePlan { dir: String },
}

/// `./stack/` and `stack` name the same folder; `.` and empty mean the zip's root.
pub fn normalize_working_directory(wd: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = wd?
        .trim()
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The digest of what would be uploaded from `dir` (see `crate::packaging`), after checking
/// that its working directory `wd` (normalized) holds Terraform files.
pub fn digest(dir: &str, wd: Option<&str>) -> Result<String, SourceError> {
    scan(dir, wd)?
        .digest()
        .map_err(|source| SourceError::Digest {
            dir: dir.to_owned(),
            source,
        })
}

/// Zips `dir`; its digest must be `planned` (the files must not have changed since the plan).
pub fn package(dir: &str, wd: Option<&str>, planned: Option<&str>) -> Result<Package, SourceError> {
    let tree = scan(dir, wd)?;
    let package = packaging::zip::build(&tree).map_err(|source| SourceError::Package {
        dir: dir.to_owned(),
        source,
    })?;
    if planned != Some(package.digest.as_str()) {
        return Err(SourceError::ChangedSincePlan {
            dir: dir.to_owned(),
        });
    }
    Ok(package)
}

fn scan(dir: &str, wd: Option<&str>) -> Result<Tree, SourceError> {
    let tree = Tree::scan(Path::new(dir)).map_err(|source| SourceError::Unreadable {
        dir: dir.to_owned(),
        source,
    })?;
    if !has_terraform_files(&tree, wd) {
        return Err(SourceError::NoTerraformFiles {
            place: match wd {
                Some(wd) => format!("{dir}/{wd}"),
                None => dir.to_owned(),
            },
            in_working_directory: wd.is_some(),
        });
    }
    Ok(tree)
}

/// Whether the folder `wd` of the packaged tree has Terraform files of its own.
fn has_terraform_files(tree: &Tree, wd: Option<&str>) -> bool {
    tree.files.iter().any(|f| {
        let rest = match wd {
            Some(wd) => match f.rel.strip_prefix(wd).and_then(|r| r.strip_prefix('/')) {
                Some(rest) => rest,
                None => return false,
            },
            None => f.rel.as_str(),
        };
        !rest.contains('/') && (rest.ends_with(".tf") || rest.ends_with(".tf.json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packaging::testdir;

    #[test]
    fn working_directory_spellings_normalize_to_one() {
        for (given, expected) in [
            (Some("./stack/"), Some("stack")),
            (Some("stack"), Some("stack")),
            (Some("a//b/./"), Some("a/b")),
            (Some("."), None),
            (Some(" "), None),
            (None, None),
        ] {
            assert_eq!(
                normalize_working_directory(given).as_deref(),
                expected,
                "{given:?}"
            );
        }
    }

    #[test]
    fn only_the_root_module_s_own_folder_counts_and_the_package_must_match_the_plan() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("README.md", "x"), ("stack/main.tf", "")]);
        let d = dir.path().display().to_string();
        let Err(SourceError::NoTerraformFiles {
            place,
            in_working_directory: false,
        }) = digest(&d, None)
        else {
            panic!("the root holds no .tf file")
        };
        assert_eq!(place, d);
        let Err(SourceError::NoTerraformFiles {
            in_working_directory: true,
            ..
        }) = digest(&d, Some("other"))
        else {
            panic!("other/ holds no .tf file")
        };
        let planned = digest(&d, Some("stack")).unwrap();
        let zip = package(&d, Some("stack"), Some(&planned)).unwrap();
        assert_eq!(zip.digest, planned);
        testdir::write(dir.path(), &[("stack/main.tf", "# changed")]);
        assert!(matches!(
            package(&d, Some("stack"), Some(&planned)),
            Err(SourceError::ChangedSincePlan { .. })
        ));
        assert!(matches!(
            digest(&format!("{d}/missing"), None),
            Err(SourceError::Unreadable { .. })
        ));
    }
}
