//! A stack's custom provider bucket (`customTerraformProvider`) and the switch Resource Manager
//! puts before it: only a stack on third-party provider sourcing
//! (`isThirdPartyProviderExperienceEnabled`) may name a bucket. Stacks created today are; a
//! stack created before that existed must first be updated with the flag set (it is not
//! settable at creation, and cannot be reverted). This module owns that step, before an
//! update sets a bucket ([`enable_before_update`]) and after a create whose bucket the service
//! did not keep ([`attach_after_create`]).

use galley_oci::resource_manager::{
    CustomTerraformProvider, ResourceManagerClient, Stack, UpdateStackDetails,
};

use super::error::{Call, SessionError};
use super::stack::{StackSpec, StackView};

/// Whether an update sets a bucket (rather than leaving or removing it).
pub fn sets_bucket(details: &UpdateStackDetails) -> bool {
    details
        .custom_terraform_provider
        .as_ref()
        .is_some_and(|c| *c != CustomTerraformProvider::default())
}

/// Whether the stack may name a bucket already.
fn enabled(stack: &Stack) -> bool {
    stack.is_third_party_provider_experience_enabled == Some(true)
}

/// Sets `isThirdPartyProviderExperienceEnabled` on a stack that does not have it yet, in an
/// update of its own before the one that sets the bucket.
async fn enable(rm: &ResourceManagerClient, stack: &Stack) -> Result<(), SessionError> {
    if enabled(stack) {
        return Ok(());
    }
    tracing::info!(
        stack = %stack.id,
        "enabling third-party provider sourcing on the stack, which Resource Manager requires \
         before it names a custom provider bucket"
    );
    let details = UpdateStackDetails {
        is_third_party_provider_experience_enabled: Some(true),
        ..UpdateStackDetails::default()
    };
    rm.update_stack(&stack.id, &details, None)
        .await
        .map_err(SessionError::oci(Call::EnableCustomProviders))?;
    Ok(())
}

/// Before an update that sets a bucket: enables the stack when it is not.
pub async fn enable_before_update(
    rm: &ResourceManagerClient,
    stack_id: &str,
    details: &UpdateStackDetails,
) -> Result<(), SessionError> {
    if !sets_bucket(details) {
        return Ok(());
    }
    let stack = rm
        .get_stack(stack_id)
        .await
        .map_err(SessionError::oci(Call::ReadStack))?
        .value;
    enable(rm, &stack).await
}

/// After a create: when the stack does not hold the bucket `spec` names (the service created
/// it the older way and ignored the field), enables it and sets the bucket.
pub async fn attach_after_create(
    rm: &ResourceManagerClient,
    spec: &StackSpec,
    stack: &Stack,
) -> Result<(), SessionError> {
    let Some(wanted) = &spec.custom_provider else {
        return Ok(());
    };
    if StackView::from(stack).custom_provider.as_ref() == Some(wanted) {
        return Ok(());
    }
    enable(rm, stack).await?;
    let details = UpdateStackDetails {
        custom_terraform_provider: Some(wanted.to_remote()),
        ..UpdateStackDetails::default()
    };
    rm.update_stack(&stack.id, &details, None)
        .await
        .map_err(SessionError::oci(Call::UpdateStack))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::CustomProvider;

    #[test]
    fn only_a_non_empty_bucket_counts_as_setting_one() {
        let mut d = UpdateStackDetails::default();
        assert!(!sets_bucket(&d), "unchanged");
        d.custom_terraform_provider = Some(CustomTerraformProvider::default());
        assert!(!sets_bucket(&d), "removed");
        d.custom_terraform_provider = Some(
            CustomProvider {
                region: "r".into(),
                namespace: "n".into(),
                bucket_name: "b".into(),
            }
            .to_remote(),
        );
        assert!(sets_bucket(&d));
        assert!(!enabled(&Stack::default()), "an older stack says nothing");
    }
}
