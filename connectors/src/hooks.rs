//! What every signed webhook source checks before its signature: the provider posts, and the
//! tenant stored the credential that signs its requests.

use stepwise_core::{HookError, HookRequest, Secret};

/// The signing secret of a POST from `provider`, or why the request is refused: another
/// method (405), or no `credential` stored for the tenant (404).
pub fn signed_post<'s>(
    request: &HookRequest<'_>,
    secret: Option<&'s Secret>,
    provider: &str,
    credential: &str,
) -> Result<&'s Secret, HookError> {
    if request.method != "POST" {
        return Err(HookError::Unsupported(format!(
            "{provider}'s webhooks are POST"
        )));
    }
    secret.ok_or_else(|| {
        HookError::NotConfigured(format!(
            "{provider} is not set up for this tenant (no {credential} credential)"
        ))
    })
}
