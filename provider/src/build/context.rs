//! The build context on this machine: the directory scanned with the packaging ignore rules,
//! checked to hold the Dockerfile, digested (at plan time, so a changed file shows in the plan)
//! and packaged as a tar.gz whose digest must still be the planned one, when one was planned.

use std::path::Path;

use crate::packaging::{self, Package, PackagingError, Tree};

/// Why the build context cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The directory could not be scanned.
    #[error(transparent)]
    Unreadable(PackagingError),
    #[error("{dir} has no {dockerfile} (after .galleyignore)")]
    NoDockerfile { dir: String, dockerfile: String },
    /// A file could not be read for the digest.
    #[error(transparent)]
    Digest(PackagingError),
    #[error(transparent)]
    Package(PackagingError),
    #[error("the files of {dir} changed since their digest was planned")]
    Changed { dir: String },
}

/// The Dockerfile's path as the context holds it: `./Dockerfile` is `Dockerfile`.
pub fn dockerfile_in_context(dockerfile: &str) -> &str {
    dockerfile.trim_start_matches("./")
}

/// The files of `dir` (after ignore rules), which must include `dockerfile`.
pub fn scan(dir: &str, dockerfile: &str) -> Result<Tree, ContextError> {
    let tree = Tree::scan(Path::new(dir)).map_err(ContextError::Unreadable)?;
    let dockerfile = dockerfile_in_context(dockerfile);
    if !tree.contains(dockerfile) {
        return Err(ContextError::NoDockerfile {
            dir: dir.to_owned(),
            dockerfile: dockerfile.to_owned(),
        });
    }
    Ok(tree)
}

/// The digest of the context's files (see `crate::packaging`), as planned.
pub fn digest(dir: &str, dockerfile: &str) -> Result<String, ContextError> {
    scan(dir, dockerfile)?
        .digest()
        .map_err(ContextError::Digest)
}

/// The context as a tar.gz, refused when the plan knew its digest (`planned`) and the files no
/// longer have it. Without a planned digest (the directory was not known at plan time) the
/// package is what the files are now.
pub fn package(
    dir: &str,
    dockerfile: &str,
    planned: Option<&str>,
) -> Result<Package, ContextError> {
    let tree = scan(dir, dockerfile)?;
    let package = packaging::targz::build(&tree).map_err(ContextError::Package)?;
    if planned.is_some_and(|p| p != package.digest) {
        return Err(ContextError::Changed {
            dir: dir.to_owned(),
        });
    }
    Ok(package)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packaging::testdir;

    #[test]
    fn the_context_must_hold_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("docker/Dockerfile", "FROM scratch\n")]);
        let d = dir.path().display().to_string();
        assert!(scan(&d, "./docker/Dockerfile").is_ok());
        let Err(ContextError::NoDockerfile { dockerfile, .. }) = scan(&d, "Dockerfile") else {
            panic!("a context without Dockerfile must be refused");
        };
        assert_eq!(dockerfile, "Dockerfile");
        assert!(matches!(
            scan(&format!("{d}/absent"), "Dockerfile"),
            Err(ContextError::Unreadable(_))
        ));
    }

    #[test]
    fn packaging_refuses_a_context_that_changed_since_the_plan() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("Dockerfile", "FROM scratch\n")]);
        let d = dir.path().display().to_string();
        let planned = digest(&d, "Dockerfile").unwrap();
        let package = package(&d, "Dockerfile", Some(&planned)).unwrap();
        assert_eq!(package.digest, planned);
        testdir::write(dir.path(), &[("app.py", "print(1)\n")]);
        assert!(matches!(
            super::package(&d, "Dockerfile", Some(&planned)),
            Err(ContextError::Changed { .. })
        ));
    }

    #[test]
    fn without_a_planned_digest_the_context_is_packaged_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("Dockerfile", "FROM scratch\n")]);
        let d = dir.path().display().to_string();
        let package = package(&d, "Dockerfile", None).unwrap();
        assert_eq!(package.digest, digest(&d, "Dockerfile").unwrap());
    }
}
