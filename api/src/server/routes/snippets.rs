//! Snippet templates published: a `snippet` template's newest approved version becomes the
//! business's snippet of its name (`settings.snippets`, `{{> name}}` in any text), checked
//! with the other snippets as a settings change is.

use axum::http::StatusCode;
use serde_json::json;
use stepwise_engine::model::Tenant;
use stepwise_engine::ports::usable;

use crate::server::{ApiError, AppState, Caller, Code};

/// The settings with `text` as the snippet `name`, if they still check out.
pub(super) fn with_snippet(mut tenant: Tenant, name: &str, text: &str) -> Result<Tenant, String> {
    tenant.snippets.insert(name.to_owned(), text.to_owned());
    crate::access::check_tenant(&tenant)?;
    Ok(tenant)
}

/// Makes the snippet template's newest approved version the business's snippet of its name
/// (again, when approving an approved version: a publication a crash cut short is made).
pub(super) async fn publish(state: &AppState, caller: &Caller, name: &str) -> Result<(), ApiError> {
    let versions = state
        .templates
        .template_versions(caller.tenant(), name)
        .await?;
    let Some(newest) = usable(&versions, None) else {
        return Ok(());
    };
    let audit = caller.audit_entry(
        "snippet.publish",
        &format!("snippet:{name}"),
        json!({"template": name, "version": newest.version}),
    );
    let text = newest.body.clone();
    state
        .engine
        .update_tenant(
            caller.tenant(),
            &|current| with_snippet(current, name, &text).ok(),
            &audit,
        )
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                Code::Conflict,
                "the snippets changed meanwhile and this one no longer fits them: approve again",
            )
        })?;
    Ok(())
}
