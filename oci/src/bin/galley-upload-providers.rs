//! `galley-upload-providers`: uploads a directory in Resource Manager's custom-provider bucket
//! layout (`dist/rm-bucket/`, written by `deploy/package-provider.sh`) to an Object Storage
//! bucket, and prints what it put where.
//!
//! It lives in galley-oci because it is nothing but OCI set-up and Object Storage calls: it
//! authenticates exactly as the provider and the sidecar do (`galley_oci::setup`, so every auth
//! method they support, from the same `OCI_*` variables and config file), and it needs none of
//! the provider's Terraform machinery. See `--help`.

use std::path::PathBuf;
use std::process::ExitCode;

use galley_oci::auth;
use galley_oci::provider_bucket::upload::{self, Action};
use galley_oci::setup::{self, SetupInputs};

const USAGE: &str = "\
Usage: galley-upload-providers --bucket NAME [options]

Uploads the provider binaries of DIR (Resource Manager's custom-provider bucket layout:
linux_amd64/terraform-provider-<TYPE>_v<X.Y.Z>, linux_arm64/...) to an Object Storage bucket,
skipping objects that already hold the same bytes (MD5), and prints what it put where.

Options:
  --bucket NAME               the bucket a stack names in customTerraformProvider (required)
  --dir DIR                   the layout to upload (default: dist/rm-bucket)
  --namespace NS              Object Storage namespace (default: the tenancy's, asked with GetNamespace)
  --compartment-id OCID       create the bucket in this compartment when it does not exist
  --auth METHOD               ApiKey, InstancePrincipal, ResourcePrincipal or SecurityToken (default: OCI_AUTH, else ApiKey)
  --config-file-profile NAME  profile of the OCI config file (default: OCI_CONFIG_FILE_PROFILE, else DEFAULT)
  --region REGION             region name or short code (default: OCI_REGION, else the profile's)
  -h, --help                  this text

Other settings come from the environment, as for the Galley provider: OCI_CONFIG_FILE,
OCI_TENANCY_OCID, OCI_USER_OCID, OCI_FINGERPRINT, OCI_PRIVATE_KEY_PATH, OCI_PRIVATE_KEY,
the OCI_RESOURCE_PRINCIPAL_* variables, and GALLEY_OBJECT_STORAGE_ENDPOINT to reach another
Object Storage endpoint.
";

#[derive(Debug, Default)]
struct Args {
    bucket: Option<String>,
    dir: Option<PathBuf>,
    namespace: Option<String>,
    compartment_id: Option<String>,
    auth: Option<String>,
    profile: Option<String>,
    region: Option<String>,
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut args = Args::default();
    while let Some(flag) = argv.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (flag.clone(), None),
        };
        if matches!(name.as_str(), "-h" | "--help") {
            return Ok(Parsed::Help);
        }
        let slot = match name.as_str() {
            "--bucket" => &mut args.bucket,
            "--namespace" => &mut args.namespace,
            "--compartment-id" => &mut args.compartment_id,
            "--auth" => &mut args.auth,
            "--config-file-profile" => &mut args.profile,
            "--region" => &mut args.region,
            "--dir" => {
                let value = inline
                    .or_else(|| argv.next())
                    .ok_or("--dir needs a value")?;
                args.dir = Some(PathBuf::from(value));
                continue;
            }
            other => return Err(format!("unknown argument {other:?}")),
        };
        let value = inline
            .or_else(|| argv.next())
            .ok_or_else(|| format!("{name} needs a value"))?;
        if value.trim().is_empty() {
            return Err(format!("{name} must not be empty"));
        }
        *slot = Some(value);
    }
    Ok(Parsed::Run(args))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("galley-upload-providers: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("galley-upload-providers: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("galley-upload-providers: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let Some(bucket) = args.bucket else {
        return Err(
            "--bucket is required: the bucket a stack names in customTerraformProvider".into(),
        );
    };
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("dist/rm-bucket"));
    // Checked before any call: a wrong directory is the likeliest mistake.
    let binaries = upload::scan(&dir).map_err(|e| e.to_string())?;

    let mut inputs = SetupInputs::from_env(auth::process_env);
    inputs.auth = args.auth.or(inputs.auth);
    inputs.config_file_profile = args.profile.or(inputs.config_file_profile);
    inputs.region = args.region.or(inputs.region);
    let user_agent = format!("galley-upload-providers/{}", env!("CARGO_PKG_VERSION"));
    let clients = setup::build_clients(&inputs, &auth::process_env, &user_agent)
        .await
        .map_err(|e| e.to_string())?;
    let os = &clients.object_storage;
    let namespace = match args.namespace {
        Some(ns) => ns,
        None => {
            os.get_namespace(None)
                .await
                .map_err(|e| {
                    format!("failed to read the Object Storage namespace: {e}; pass --namespace")
                })?
                .value
        }
    };
    let place = format!(
        "bucket {bucket} (namespace {namespace}, region {region})",
        region = clients.region
    );
    if upload::ensure_bucket(os, &namespace, &bucket, args.compartment_id.as_deref())
        .await
        .map_err(|e| e.to_string())?
    {
        println!("created {place}");
    }
    let placed = upload::upload(os, &namespace, &bucket, &binaries, |p| {
        let verb = match p.action {
            Action::Uploaded => "uploaded",
            Action::Unchanged => "unchanged",
        };
        println!(
            "{verb} {} ({} bytes, MD5 {}) in {place}",
            p.object_name, p.size, p.md5
        );
    })
    .await
    .map_err(|e| e.to_string())?;
    let uploaded = placed
        .iter()
        .filter(|p| p.action == Action::Uploaded)
        .count();
    println!(
        "{} provider binaries in {place}: {uploaded} uploaded, {} unchanged. A stack uses them with \
         customTerraformProvider {{region = \"{region}\", namespace = \"{namespace}\", bucketName = \"{bucket}\"}}",
        placed.len(),
        placed.len() - uploaded,
        region = clients.region,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use galley_oci::setup::env;

    use super::*;

    fn args(list: &[&str]) -> Result<Parsed, String> {
        parse(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_take_values_separately_or_inline() {
        let Ok(Parsed::Run(a)) = args(&["--bucket", "b", "--dir=x/y", "--region", "iad"]) else {
            panic!("parse failed")
        };
        assert_eq!(a.bucket.as_deref(), Some("b"));
        assert_eq!(a.dir, Some(PathBuf::from("x/y")));
        assert_eq!(a.region.as_deref(), Some("iad"));
        assert!(matches!(args(&["-h"]), Ok(Parsed::Help)));
        assert_eq!(
            args(&["--bucket"]).err().as_deref(),
            Some("--bucket needs a value")
        );
        assert!(args(&["--nope"]).err().unwrap().contains("--nope"));
        assert!(args(&["--bucket", " "]).is_err());
    }

    /// The help names the variables OCI set-up really reads.
    #[test]
    fn the_usage_names_the_settings_of_oci_set_up() {
        for name in [
            env::AUTH,
            env::CONFIG_FILE,
            env::CONFIG_FILE_PROFILE,
            env::REGION,
            env::TENANCY_OCID,
            env::PRIVATE_KEY_PATH,
            env::OBJECT_STORAGE_ENDPOINT,
        ] {
            assert!(USAGE.contains(name), "{name}");
        }
    }
}
