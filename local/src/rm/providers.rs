//! Custom Terraform providers (`customTerraformProvider`), as Resource Manager handles them:
//! the rules of the stack API ([`create_settings`], [`update_stack`]) and, before a job's
//! `terraform init`, installing the named bucket's binaries for the engine's platform
//! ([`install`]).
//!
//! The bucket is one of this engine's own Object Storage buckets, in the layout of
//! `galley_oci::provider_bucket` (`linux_amd64/terraform-provider-<TYPE>_v<X.Y.Z>[_<SUFFIX>]`).
//! Each binary for the engine's platform is copied into a filesystem mirror of the job
//! (`<data>/jobs/<job>/custom-providers/`) under `registry.terraform.io/hashicorp/<TYPE>`, the
//! address Resource Manager's own preinstalled providers have (the evidence is in
//! `examples/rm-custom-provider/README.md`), and the job's CLI configuration gets a
//! `provider_installation` block: the mirror for those addresses, the registry for the rest.
//!
//! Failures have Resource Manager's shape: `CUSTOM_TERRAFORM_PROVIDER_BUCKET_NOT_FOUND` when
//! the bucket does not exist in the engine's namespace and region, and also when it holds no
//! binary for the engine's platform (the SDK has no code of its own for that; for the job the
//! bucket of its platform is missing). The message names the bucket and the object expected.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use galley_oci::endpoints::canonical_region_name;
use galley_oci::provider_bucket::{Platform, ProviderObject, object_name_pattern};
use serde_json::Value;

use super::model::{Stack, UpdateStackDetails};
use crate::api::{ApiError, ApiResult};
use crate::app::AppState;
use crate::config::Config;

/// `failureDetails.code` of a job whose bucket is missing (or holds nothing for its platform).
pub const BUCKET_NOT_FOUND: &str = "CUSTOM_TERRAFORM_PROVIDER_BUCKET_NOT_FOUND";

/// What the job log says before the providers are installed (Resource Manager's own words).
pub const GETTING_PROVIDERS: &str =
    "Getting providers from hashicorp registry and/or custom terraform providers";

/// The bucket a stack names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketRef {
    pub region: String,
    pub namespace: String,
    pub bucket_name: String,
}

impl BucketRef {
    /// The bucket of a `customTerraformProvider` value: `None` for none (absent, null, or the
    /// empty value that removes it), an error naming the missing field for a partial one.
    pub fn from_value(value: Option<&Value>) -> Result<Option<BucketRef>, &'static str> {
        let Some(Value::Object(fields)) = value else {
            return Ok(None);
        };
        let field = |name| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        match (field("region"), field("namespace"), field("bucketName")) {
            (None, None, None) => Ok(None),
            (Some(r), Some(n), Some(b)) => Ok(Some(BucketRef {
                region: r.to_owned(),
                namespace: n.to_owned(),
                bucket_name: b.to_owned(),
            })),
            (None, _, _) => Err("customTerraformProvider.region"),
            (_, None, _) => Err("customTerraformProvider.namespace"),
            (_, _, None) => Err("customTerraformProvider.bucketName"),
        }
    }

    /// The stack's bucket, if it names one.
    pub fn of(stack: &Stack) -> Option<BucketRef> {
        Self::from_value(stack.custom_terraform_provider.as_ref())
            .ok()
            .flatten()
    }
}

impl std::fmt::Display for BucketRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (namespace {}, region {})",
            self.bucket_name, self.namespace, self.region
        )
    }
}

/// `customTerraformProvider` and `isThirdPartyProviderExperienceEnabled` of a new stack. New
/// stacks may use custom providers; with `older_stacks` they are like stacks made before that
/// existed, and the field is ignored as such a service ignored it.
pub fn create_settings(config: &Config, custom: Option<Value>) -> ApiResult<(Option<Value>, bool)> {
    BucketRef::from_value(custom.as_ref()).map_err(ApiError::missing)?;
    if config.older_stacks {
        return Ok((None, false));
    }
    Ok((custom, true))
}

/// Applies the two fields of an UpdateStack to `stack`. The flag cannot be turned off once on,
/// and a bucket may only be set on a stack whose flag an earlier update turned on.
pub fn update_stack(stack: &mut Stack, d: &UpdateStackDetails) -> ApiResult<()> {
    let enabled_before = stack.is_third_party_provider_experience_enabled;
    match d.is_third_party_provider_experience_enabled {
        Some(false) if enabled_before => {
            return Err(ApiError::invalid(
                "isThirdPartyProviderExperienceEnabled cannot be reverted once it is true",
            ));
        }
        Some(flag) => stack.is_third_party_provider_experience_enabled |= flag,
        None => {}
    }
    if let Some(value) = &d.custom_terraform_provider {
        let bucket = BucketRef::from_value(Some(value)).map_err(ApiError::missing)?;
        if bucket.is_some() && !enabled_before {
            return Err(ApiError::invalid(format!(
                "stack {} sources third-party providers the older way, so it cannot use \
                 customTerraformProvider yet: update it with isThirdPartyProviderExperienceEnabled \
                 = true first, then set customTerraformProvider",
                stack.id
            )));
        }
        stack.custom_terraform_provider = Some(value.clone());
    }
    Ok(())
}

/// A job that cannot start, in Resource Manager's failure shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallFailure {
    pub code: &'static str,
    pub message: String,
}

impl InstallFailure {
    fn internal(message: String) -> Self {
        Self {
            code: "INTERNAL_SERVICE_ERROR",
            message,
        }
    }
}

/// The providers a job installed from its stack's bucket.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The job's CLI configuration (`TF_CLI_CONFIG_FILE`), which finds them.
    pub cli_config: PathBuf,
    /// Every binary installed, with the address it is served under.
    pub providers: Vec<ProviderObject>,
    /// Objects of the bucket that are not provider binaries of the engine's platform.
    pub skipped: usize,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl Installed {
    /// One line per provider, then the time it took (the figure the README quotes).
    pub fn log_lines(&self, bucket: &BucketRef) -> Vec<String> {
        let mut lines: Vec<String> = self
            .providers
            .iter()
            .map(|p| {
                format!(
                    "Installed custom provider {} as {} {} from bucket {bucket}.",
                    p.object_name(),
                    p.source_address(),
                    p.version
                )
            })
            .collect();
        let mut last = format!(
            "Installed {} custom provider binaries ({} bytes) in {} ms",
            self.providers.len(),
            self.bytes,
            self.elapsed.as_millis()
        );
        if self.skipped > 0 {
            let _ = write!(
                last,
                "; objects of the bucket left out (other platforms, or not provider binaries): {}",
                self.skipped
            );
        }
        last.push('.');
        lines.push(last);
        lines
    }
}

/// Installs the binaries of `bucket` for the engine's platform into `<job_dir>/custom-providers`
/// and writes the job's CLI configuration there.
pub async fn install(
    state: &AppState,
    bucket: &BucketRef,
    job_dir: &Path,
) -> Result<Installed, InstallFailure> {
    let state = state.clone();
    let bucket = bucket.clone();
    let job_dir = job_dir.to_owned();
    // File copies of tens of megabytes: off the async workers.
    tokio::task::spawn_blocking(move || install_blocking(&state, &bucket, &job_dir))
        .await
        .unwrap_or_else(|e| Err(InstallFailure::internal(format!("the install failed: {e}"))))
}

fn install_blocking(
    state: &AppState,
    bucket: &BucketRef,
    job_dir: &Path,
) -> Result<Installed, InstallFailure> {
    let started = Instant::now();
    let config = state.config();
    let Some(platform) = Platform::current() else {
        return Err(InstallFailure::internal(
            "galley-local runs on a platform Resource Manager has no provider folder for \
             (linux_amd64, linux_arm64)"
                .to_owned(),
        ));
    };
    let not_found = |why: &str| InstallFailure {
        code: BUCKET_NOT_FOUND,
        message: format!(
            "custom Terraform provider bucket {bucket} was not found: {why}. Create the bucket \
             and upload the providers ({}, for example with galley-upload-providers), or fix the \
             stack's customTerraformProvider",
            object_name_pattern(platform)
        ),
    };
    let os = state.os();
    if canonical_region_name(&bucket.region) != canonical_region_name(&config.region) {
        return Err(not_found(&format!(
            "this engine serves Object Storage of region {} only",
            config.region
        )));
    }
    if bucket.namespace != os.namespace() {
        return Err(not_found(&format!(
            "this engine's Object Storage namespace is {}",
            os.namespace()
        )));
    }
    let objects = match os.list_objects(&bucket.namespace, &bucket.bucket_name) {
        Ok(objects) => objects,
        // A name no bucket may have (400) is as absent as one nobody created (404).
        Err(e) if matches!(e.status.as_u16(), 400 | 404) => {
            return Err(not_found("no such bucket"));
        }
        Err(e) => {
            return Err(InstallFailure::internal(format!(
                "failed to list bucket {bucket}: {}",
                e.message
            )));
        }
    };
    let parsed: Vec<ProviderObject> = objects
        .iter()
        .filter_map(|o| ProviderObject::parse(&o.name))
        .collect();
    let mine: Vec<&ProviderObject> = parsed.iter().filter(|p| p.platform == platform).collect();
    if mine.is_empty() {
        return Err(no_binary(bucket, platform, &parsed, objects.len()));
    }

    let base = job_cli_config_base(config)?;
    let root = job_dir.join("custom-providers");
    let mirror = root.join("mirror");
    let _ = std::fs::remove_dir_all(&root);
    let mut bytes = 0;
    let mut addresses = Vec::new();
    for object in &mine {
        let content = os
            .get_bytes(
                &bucket.namespace,
                &bucket.bucket_name,
                &object.object_name(),
            )
            .map_err(|e| {
                InstallFailure::internal(format!(
                    "failed to read {} of bucket {bucket}: {}",
                    object.object_name(),
                    e.message
                ))
            })?;
        bytes += content.len() as u64;
        let dir = mirror
            .join(object.source_address())
            .join(&object.version)
            .join(platform.as_str());
        let file = dir.join(object.file_name());
        write_executable(&dir, &file, &content).map_err(|e| {
            InstallFailure::internal(format!("failed to install {}: {e}", file.display()))
        })?;
        if !addresses.contains(&object.source_address()) {
            addresses.push(object.source_address());
        }
    }
    let cli_config = root.join("terraform.rc");
    std::fs::write(&cli_config, cli_config_text(&base, &mirror, &addresses)).map_err(|e| {
        InstallFailure::internal(format!("failed to write {}: {e}", cli_config.display()))
    })?;
    Ok(Installed {
        cli_config,
        skipped: objects.len() - mine.len(),
        providers: mine.into_iter().cloned().collect(),
        bytes,
        elapsed: started.elapsed(),
    })
}

/// The failure of a bucket with nothing for `platform`: the object expected is the same binary
/// as another platform's when the bucket has one, else the layout's pattern.
fn no_binary(
    bucket: &BucketRef,
    platform: Platform,
    found: &[ProviderObject],
    object_count: usize,
) -> InstallFailure {
    let mut expected: Vec<String> = found
        .iter()
        .map(|p| p.for_platform(platform).object_name())
        .collect();
    expected.dedup();
    let expected = if expected.is_empty() {
        object_name_pattern(platform)
    } else {
        expected.join(", ")
    };
    let holds = if found.is_empty() {
        format!("{object_count} objects, none of them a provider binary")
    } else {
        found
            .iter()
            .map(ProviderObject::object_name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    InstallFailure {
        code: BUCKET_NOT_FOUND,
        message: format!(
            "custom Terraform provider bucket {bucket} holds no provider binary for {platform}, \
             the platform of this engine's jobs: expected an object named {expected} (the bucket \
             holds {holds}). Upload it, for example with galley-upload-providers"
        ),
    }
}

fn write_executable(dir: &Path, file: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::write(file, content)?;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o755))
}

/// The CLI configuration jobs would have had (the engine's `--terraform-cli-config`, else
/// `TF_CLI_CONFIG_FILE` of its environment), which the job's own configuration extends. One
/// with a `provider_installation` block of its own cannot be extended (Terraform allows one).
fn job_cli_config_base(config: &Config) -> Result<String, InstallFailure> {
    let path = config
        .terraform_cli_config
        .clone()
        .or_else(|| std::env::var_os("TF_CLI_CONFIG_FILE").map(PathBuf::from));
    let Some(path) = path else {
        return Ok(String::new());
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let has_block = text.lines().any(|l| {
        let l = l.trim_start();
        !l.starts_with('#') && !l.starts_with("//") && l.contains("provider_installation")
    });
    if has_block {
        return Err(InstallFailure::internal(format!(
            "galley-local cannot install the stack's custom providers: its jobs' CLI \
             configuration {} has a provider_installation block of its own, and Terraform \
             accepts one; remove it to run stacks with customTerraformProvider",
            path.display()
        )));
    }
    Ok(text)
}

/// `base` plus a `provider_installation` block: the mirror for `addresses`, the registry for
/// everything else.
fn cli_config_text(base: &str, mirror: &Path, addresses: &[String]) -> String {
    let quote = |s: &str| {
        serde_json::to_string(s)
            .unwrap_or_default()
            .replace("${", "$${")
            .replace("%{", "%%{")
    };
    let list = addresses
        .iter()
        .map(|a| quote(a))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = base.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let _ = write!(
        text,
        "\n# The stack's custom Terraform providers (customTerraformProvider), installed by \
         galley-local.\nprovider_installation {{\n  filesystem_mirror {{\n    path    = {}\n    \
         include = [{list}]\n  }}\n  direct {{\n    exclude = [{list}]\n  }}\n}}\n",
        quote(&mirror.to_string_lossy())
    );
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_bucket_needs_all_three_fields_and_the_empty_value_is_none() {
        assert_eq!(BucketRef::from_value(None), Ok(None));
        assert_eq!(BucketRef::from_value(Some(&json!({}))), Ok(None));
        assert_eq!(
            BucketRef::from_value(Some(&json!({"region": "", "namespace": null}))),
            Ok(None)
        );
        assert_eq!(
            BucketRef::from_value(Some(&json!({"region": "iad", "namespace": "ns"}))),
            Err("customTerraformProvider.bucketName")
        );
        let b = BucketRef::from_value(Some(
            &json!({"region": "iad", "namespace": "ns", "bucketName": "b"}),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(b.to_string(), "b (namespace ns, region iad)");
    }

    #[test]
    fn a_bucket_without_the_platform_names_the_object_expected() {
        let b = BucketRef {
            region: "us-ashburn-1".into(),
            namespace: "ns".into(),
            bucket_name: "providers".into(),
        };
        let arm = ProviderObject::parse("linux_arm64/terraform-provider-galley_v0.1.0").unwrap();
        let f = no_binary(&b, Platform::LinuxAmd64, &[arm], 1);
        assert_eq!(f.code, BUCKET_NOT_FOUND);
        assert!(
            f.message
                .contains("bucket providers (namespace ns, region us-ashburn-1)")
                && f.message.contains(
                    "expected an object named linux_amd64/terraform-provider-galley_v0.1.0"
                )
                && f.message
                    .contains("holds linux_arm64/terraform-provider-galley_v0.1.0"),
            "{}",
            f.message
        );
        let empty = no_binary(&b, Platform::LinuxAmd64, &[], 0);
        assert!(
            empty
                .message
                .contains("linux_amd64/terraform-provider-<TYPE>_v<MAJOR.MINOR.PATCH>"),
            "{}",
            empty.message
        );
    }

    #[test]
    fn the_cli_configuration_keeps_the_base_and_routes_the_addresses() {
        let text = cli_config_text(
            "plugin_cache_may_break_dependency_lock_file = true",
            Path::new("/data/jobs/j/custom-providers/mirror"),
            &["registry.terraform.io/hashicorp/galley".into()],
        );
        assert!(text.starts_with("plugin_cache_may_break_dependency_lock_file = true\n"));
        assert!(text.contains(
            "filesystem_mirror {\n    path    = \"/data/jobs/j/custom-providers/mirror\"\n    \
             include = [\"registry.terraform.io/hashicorp/galley\"]"
        ));
        assert!(
            text.contains("direct {\n    exclude = [\"registry.terraform.io/hashicorp/galley\"]")
        );
        let odd = cli_config_text("", Path::new("/a${b}"), &[]);
        assert!(odd.contains("\"/a$${b}\""), "{odd}");
    }

    #[test]
    fn an_update_sets_a_bucket_only_on_a_stack_enabled_before() {
        let mut stack: Stack = serde_json::from_value(json!({
            "id": "ocid1.ormstack.oc1..s", "compartmentId": "c", "displayName": "s",
            "timeCreated": "t", "lifecycleState": "ACTIVE",
            "configSource": {"configSourceType": "ZIP_UPLOAD"},
            "terraformVersion": "1.5.x", "stackDriftStatus": "NOT_CHECKED"
        }))
        .unwrap();
        assert!(
            !stack.is_third_party_provider_experience_enabled,
            "older stack"
        );
        let bucket = json!({"region": "iad", "namespace": "ns", "bucketName": "b"});
        let details = |v: Value| -> UpdateStackDetails { serde_json::from_value(v).unwrap() };

        let both = details(json!({
            "isThirdPartyProviderExperienceEnabled": true,
            "customTerraformProvider": bucket
        }));
        let err = update_stack(&mut stack.clone(), &both).unwrap_err();
        assert!(
            err.message
                .contains("isThirdPartyProviderExperienceEnabled = true first")
        );

        update_stack(
            &mut stack,
            &details(json!({"isThirdPartyProviderExperienceEnabled": true})),
        )
        .unwrap();
        assert!(stack.is_third_party_provider_experience_enabled);
        update_stack(
            &mut stack,
            &details(json!({"customTerraformProvider": bucket})),
        )
        .unwrap();
        assert_eq!(BucketRef::of(&stack).unwrap().bucket_name, "b");
        let revert = details(json!({"isThirdPartyProviderExperienceEnabled": false}));
        assert!(update_stack(&mut stack, &revert).is_err());
        let partial = details(json!({"customTerraformProvider": {"region": "iad"}}));
        assert!(update_stack(&mut stack, &partial).is_err());
    }
}
