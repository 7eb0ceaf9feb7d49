//! The stack: what a session wants of it ([`StackSpec`]), what it is ([`StackView`]), the
//! change between two specs ([`StackUpdate`]), and the calls that create, read, update and
//! delete it. The digest of the uploaded configuration is kept in a tag ([`SOURCE_TAG`]),
//! since the zip cannot be read back cheaply.

use std::collections::BTreeMap;

use galley_oci::resource_manager::{
    CreateConfigSourceDetails, CreateStackDetails, CustomTerraformProvider, ResourceManagerClient,
    Stack, StackLifecycleState, UpdateConfigSourceDetails, UpdateStackDetails,
};

use super::error::{Call, SessionError};
use super::jobs::Jobs;
use super::source::normalize_working_directory;
use super::state;
use crate::packaging::Package;

/// The stack tag holding the digest of the uploaded configuration, so refresh notices a
/// configuration replaced out of band.
pub const SOURCE_TAG: &str = "galley-source-sha256";

/// A bucket of Terraform providers the stack's jobs may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomProvider {
    pub region: String,
    pub namespace: String,
    pub bucket_name: String,
}

impl CustomProvider {
    fn from_remote(c: &CustomTerraformProvider) -> Option<Self> {
        Some(Self {
            region: c.region.clone()?,
            namespace: c.namespace.clone()?,
            bucket_name: c.bucket_name.clone()?,
        })
    }

    pub(super) fn to_remote(&self) -> CustomTerraformProvider {
        CustomTerraformProvider {
            region: Some(self.region.clone()),
            namespace: Some(self.namespace.clone()),
            bucket_name: Some(self.bucket_name.clone()),
        }
    }
}

/// What a session wants its stack to be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackSpec {
    pub compartment_id: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// As configured, injected ones included (see [`sent_variables`]).
    pub variables: BTreeMap<String, String>,
    /// The stack's free-form tags besides [`SOURCE_TAG`]; `None`: not managed (tags set
    /// elsewhere are kept).
    pub freeform_tags: Option<BTreeMap<String, String>>,
    pub terraform_version: Option<String>,
    pub custom_provider: Option<CustomProvider>,
    /// Normalized (see `source::normalize_working_directory`).
    pub working_directory: Option<String>,
    /// The digest of the configuration to upload.
    pub source_sha256: Option<String>,
}

/// The variables sent to Resource Manager: all but those it sets itself on every job.
pub fn sent_variables(vars: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    vars.iter()
        .filter(|(k, _)| !galley_contract::rm::is_injected(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What the stack is, normalized the way a [`StackSpec`] is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackView {
    pub id: String,
    pub compartment_id: String,
    pub display_name: Option<String>,
    /// `None` for an empty description too.
    pub description: Option<String>,
    pub variables: BTreeMap<String, String>,
    /// Free-form tags, [`SOURCE_TAG`] left out.
    pub freeform_tags: BTreeMap<String, String>,
    pub terraform_version: Option<String>,
    pub custom_provider: Option<CustomProvider>,
    pub working_directory: Option<String>,
    /// The [`SOURCE_TAG`] tag.
    pub source_sha256: Option<String>,
    pub lifecycle_state: StackLifecycleState,
}

impl From<&Stack> for StackView {
    fn from(stack: &Stack) -> Self {
        StackView {
            id: stack.id.clone(),
            compartment_id: stack.compartment_id.clone(),
            display_name: stack.display_name.clone(),
            description: stack.description.clone().filter(|d| !d.is_empty()),
            variables: stack.variables.clone().unwrap_or_default(),
            freeform_tags: stack
                .freeform_tags
                .iter()
                .flatten()
                .filter(|(k, _)| k.as_str() != SOURCE_TAG)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            terraform_version: stack.terraform_version.clone(),
            custom_provider: stack
                .custom_terraform_provider
                .as_ref()
                .and_then(CustomProvider::from_remote),
            working_directory: stack
                .config_source
                .as_ref()
                .and_then(|c| normalize_working_directory(c.working_directory.as_deref())),
            source_sha256: stack
                .freeform_tags
                .as_ref()
                .and_then(|t| t.get(SOURCE_TAG))
                .cloned(),
            lifecycle_state: stack.lifecycle_state.clone(),
        }
    }
}

fn is_deleted(stack: &Stack) -> bool {
    matches!(
        stack.lifecycle_state,
        StackLifecycleState::Deleted | StackLifecycleState::Deleting
    )
}

/// `base` (the configured tags, or the stack's current ones when tags are not managed) with
/// [`SOURCE_TAG`] set to `digest`.
fn source_tags(base: Option<&BTreeMap<String, String>>, digest: &str) -> BTreeMap<String, String> {
    let mut tags = base.cloned().unwrap_or_default();
    tags.insert(SOURCE_TAG.to_owned(), digest.to_owned());
    tags
}

/// Creates the stack from `spec` with `package` as its configuration. Not cancellable: an
/// interrupted create could leave a stack nobody knows about.
pub async fn create(
    rm: &ResourceManagerClient,
    spec: &StackSpec,
    package: Package,
) -> Result<Stack, SessionError> {
    let details = CreateStackDetails {
        display_name: spec.display_name.clone(),
        description: spec.description.clone(),
        custom_terraform_provider: spec.custom_provider.as_ref().map(CustomProvider::to_remote),
        variables: Some(sent_variables(&spec.variables)),
        terraform_version: spec.terraform_version.clone(),
        freeform_tags: Some(source_tags(spec.freeform_tags.as_ref(), &package.digest)),
        ..CreateStackDetails::new(
            spec.compartment_id.clone(),
            CreateConfigSourceDetails::zip(&package.bytes, spec.working_directory.clone()),
        )
    };
    // The zip is in `details` (base64) now: do not hold it twice during the upload.
    drop(package);
    tracing::info!(compartment = %spec.compartment_id, "creating the Resource Manager stack");
    let stack = rm
        .create_stack(&details)
        .await
        .map_err(SessionError::oci(Call::CreateStack))?
        .value;
    tracing::info!(stack = %stack.id, "created the stack");
    Ok(stack)
}

/// The stack, unless it is not found or deleted ([`SessionError::is_gone`]).
pub async fn read(rm: &ResourceManagerClient, stack_id: &str) -> Result<Stack, SessionError> {
    match rm.get_stack(stack_id).await {
        Ok(reply) if is_deleted(&reply.value) => Err(SessionError::StackDeleted {
            stack_id: stack_id.to_owned(),
        }),
        Ok(reply) => Ok(reply.value),
        Err(e) if e.is_not_found() => Err(SessionError::StackNotFound {
            stack_id: stack_id.to_owned(),
            source: e,
        }),
        Err(e) => Err(SessionError::Oci {
            call: Call::ReadStack,
            source: e,
        }),
    }
}

/// The changes an update makes to the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct StackUpdate {
    details: UpdateStackDetails,
    /// The configured tags, when they changed (managed tags only).
    freeform_tags: Option<BTreeMap<String, String>>,
    /// The digest the stack's [`SOURCE_TAG`] keeps when the configuration is not uploaded again.
    source_sha256: Option<String>,
    /// The configuration (or the folder of its root module) changed: upload it again.
    pub new_source: bool,
    working_directory: Option<String>,
}

impl StackUpdate {
    /// What changes from `prior` to `planned`; `None` when the stack stays as it is.
    pub fn between(prior: &StackSpec, planned: &StackSpec) -> Option<StackUpdate> {
        let mut details = UpdateStackDetails::default();
        if sent_variables(&prior.variables) != sent_variables(&planned.variables) {
            details.variables = Some(sent_variables(&planned.variables));
        }
        if prior.terraform_version != planned.terraform_version {
            details.terraform_version = planned.terraform_version.clone();
        }
        if prior.custom_provider != planned.custom_provider {
            // Resource Manager has no way to remove it but an empty value.
            details.custom_terraform_provider = Some(
                planned
                    .custom_provider
                    .as_ref()
                    .map(CustomProvider::to_remote)
                    .unwrap_or_default(),
            );
        }
        if prior.display_name != planned.display_name {
            details.display_name = planned.display_name.clone();
        }
        if prior.description != planned.description {
            details.description = Some(planned.description.clone().unwrap_or_default());
        }
        let freeform_tags = planned
            .freeform_tags
            .clone()
            .filter(|tags| prior.freeform_tags.as_ref() != Some(tags));
        let new_source = prior.source_sha256 != planned.source_sha256
            || prior.working_directory != planned.working_directory;
        (new_source || freeform_tags.is_some() || details != UpdateStackDetails::default()).then(
            || StackUpdate {
                details,
                freeform_tags,
                source_sha256: prior.source_sha256.clone(),
                new_source,
                working_directory: planned.working_directory.clone(),
            },
        )
    }
}

/// Applies `update`; `package` is the new configuration when [`StackUpdate::new_source`].
pub async fn update(
    rm: &ResourceManagerClient,
    stack_id: &str,
    update: StackUpdate,
    package: Option<Package>,
) -> Result<Stack, SessionError> {
    let mut details = update.details;
    let digest = package
        .as_ref()
        .map(|p| p.digest.clone())
        .or(update.source_sha256);
    match (&update.freeform_tags, &digest) {
        (Some(tags), Some(digest)) => details.freeform_tags = Some(source_tags(Some(tags), digest)),
        (Some(tags), None) => details.freeform_tags = Some(tags.clone()),
        (None, _) => {}
    }
    if let Some(package) = package {
        if details.freeform_tags.is_none() {
            // Tags are replaced as a whole: keep the ones set elsewhere.
            let current = rm
                .get_stack(stack_id)
                .await
                .map_err(SessionError::oci(Call::ReadStack))?
                .value;
            details.freeform_tags =
                Some(source_tags(current.freeform_tags.as_ref(), &package.digest));
        }
        details.config_source = Some(UpdateConfigSourceDetails::zip(
            &package.bytes,
            update.working_directory,
        ));
    }
    super::custom_provider::enable_before_update(rm, stack_id, &details).await?;
    tracing::info!(stack = %stack_id, "updating the stack");
    Ok(rm
        .update_stack(stack_id, &details, None)
        .await
        .map_err(SessionError::oci(Call::UpdateStack))?
        .value)
}

/// Deletes the stack, after a DESTROY job when `destroy_first` and its state holds resources
/// (a stack that never deployed anything, say after its first plan failed, needs none, and
/// the job would fail when its configuration is what is broken). A stack already gone is
/// deleted.
pub async fn delete(
    jobs: &Jobs<'_>,
    stack_id: &str,
    destroy_first: bool,
) -> Result<(), SessionError> {
    let rm = jobs.rm;
    match read(rm, stack_id).await {
        Err(e) if e.is_gone() => return Ok(()),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let deployed = state::has_deployed_resources(rm, stack_id)
        .await
        .map_err(SessionError::oci(Call::ReadState))?;
    if destroy_first && deployed {
        jobs.destroy(stack_id).await?;
    }
    tracing::info!(stack = %stack_id, "deleting the stack");
    match rm.delete_stack(stack_id, None).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(SessionError::Oci {
            call: Call::DeleteStack,
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> StackSpec {
        StackSpec {
            compartment_id: "ocid1.compartment.oc1..c".into(),
            variables: BTreeMap::from([("greeting".into(), "hi".into())]),
            source_sha256: Some("aaa".into()),
            ..StackSpec::default()
        }
    }

    #[test]
    fn an_update_sends_only_what_changed_and_the_source_when_it_changed() {
        assert_eq!(StackUpdate::between(&spec(), &spec()), None);
        let mut injected = spec();
        injected.variables.insert("region".into(), "x".into());
        assert_eq!(
            StackUpdate::between(&spec(), &injected),
            None,
            "a variable Resource Manager sets itself is never sent"
        );

        let mut planned = spec();
        planned.variables.insert("greeting".into(), "hello".into());
        planned.description = None;
        let mut prior = spec();
        prior.description = Some("old".into());
        let u = StackUpdate::between(&prior, &planned).unwrap();
        assert!(!u.new_source);
        assert_eq!(u.details.variables, Some(planned.variables.clone()));
        assert_eq!(u.details.description.as_deref(), Some(""), "cleared");
        assert_eq!(u.details.display_name, None);

        let mut moved = spec();
        moved.working_directory = Some("stack".into());
        assert!(StackUpdate::between(&spec(), &moved).unwrap().new_source);
        let mut removed = spec();
        removed.custom_provider = Some(CustomProvider {
            region: "r".into(),
            namespace: "n".into(),
            bucket_name: "b".into(),
        });
        let u = StackUpdate::between(&removed, &spec()).unwrap();
        assert_eq!(
            u.details.custom_terraform_provider,
            Some(CustomTerraformProvider::default()),
            "removed with an empty value"
        );
    }

    #[test]
    fn configured_tags_are_sent_with_the_source_tag_and_unmanaged_ones_are_left_alone() {
        let tagged = |tags: &[(&str, &str)]| StackSpec {
            freeform_tags: Some(
                tags.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..spec()
        };
        assert_eq!(
            StackUpdate::between(&tagged(&[("a", "1")]), &tagged(&[("a", "1")])),
            None
        );
        assert_eq!(
            StackUpdate::between(&spec(), &spec()),
            None,
            "unmanaged tags never change"
        );
        let u = StackUpdate::between(&spec(), &tagged(&[("galley-session", "s-1")])).unwrap();
        assert!(!u.new_source);
        assert_eq!(
            u.freeform_tags,
            Some(BTreeMap::from([("galley-session".into(), "s-1".into())]))
        );
        assert_eq!(u.source_sha256.as_deref(), Some("aaa"), "kept beside them");
        let u = StackUpdate::between(&tagged(&[("a", "1")]), &tagged(&[])).unwrap();
        assert_eq!(u.freeform_tags, Some(BTreeMap::new()), "all removed");
    }

    #[test]
    fn a_view_normalizes_what_the_stack_says() {
        let stack = Stack {
            id: "ocid1.ormstack.oc1..s".into(),
            description: Some(String::new()),
            config_source: Some(galley_oci::resource_manager::ConfigSource {
                working_directory: Some("./stack/".into()),
                ..Default::default()
            }),
            freeform_tags: Some(BTreeMap::from([
                (SOURCE_TAG.into(), "aaa".into()),
                ("galley-session".into(), "s-1".into()),
            ])),
            custom_terraform_provider: Some(CustomTerraformProvider {
                region: Some("r".into()),
                ..Default::default()
            }),
            ..Stack::default()
        };
        let view = StackView::from(&stack);
        assert_eq!(view.description, None);
        assert_eq!(view.working_directory.as_deref(), Some("stack"));
        assert_eq!(view.source_sha256.as_deref(), Some("aaa"));
        assert_eq!(
            view.freeform_tags,
            BTreeMap::from([("galley-session".into(), "s-1".into())]),
            "the source tag is the provider's own"
        );
        assert_eq!(view.custom_provider, None, "an incomplete bucket is none");
        assert!(view.variables.is_empty());
    }
}
