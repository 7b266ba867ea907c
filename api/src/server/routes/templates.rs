//! The template library. An editor writes templates (each edit a new version, a draft); an
//! admin (an owner's or admin's key) approves a version; anyone reads them and previews one
//! for a real or sample contact. A reply from the inbox names a template to send its newest
//! approved version, or pins one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use stepwise_engine::inbox::{Preview, preview};
use stepwise_engine::model::Contact;
use stepwise_engine::ports::{
    Channel, StoreError, TemplateDraft, TemplateFilter, TemplateKind, TemplateVersion, usable,
};
use stepwise_engine::template::{Templates, limits};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::snippets;
use crate::server::extract::{ApiJson, ApiPath, ApiQuery};
use crate::server::{Admin, ApiError, AppState, Caller, Code, Editor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(write, list))
        .routes(routes!(show))
        .routes(routes!(approve))
        .routes(routes!(preview_one))
}

/// The most tags a template carries, and the longest one.
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 40;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    /// Lowercase letters, digits, `-` and `_`, at most 64.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    name: String,
    kind: TemplateKind,
    channel: Channel,
    /// The text: a template with `{{contact.*}}` and the business's snippets.
    #[schema(min_length = 1, max_length = 100000)]
    body: String,
    /// An email's subject (a template).
    #[schema(max_length = 998)]
    subject: Option<String>,
    /// At most 20 tags of lowercase letters, digits, `-` and `_`.
    #[serde(default)]
    tags: Vec<String>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Checks a template's text parses and can fit its channel, with the tenant's snippets.
fn check_text(
    snippets: &std::collections::BTreeMap<String, String>,
    field: &str,
    source: &str,
    limit: limits::Limit,
) -> Result<(), ApiError> {
    let bad = |message: String| ApiError::invalid(Code::InvalidBody, format!("{field}: {message}"));
    let mut templates =
        Templates::new(snippets).map_err(|(name, e)| bad(format!("snippet {name}: {e}")))?;
    templates.add_limited(field, source, limit).map_err(|e| {
        let at = e
            .position
            .map(|(line, col)| format!(" (line {line}, column {col})"))
            .unwrap_or_default();
        bad(format!("{}{at}", e.message))
    })
}

/// Write a template (editor): its next version, a draft until an admin approves it.
#[utoipa::path(post, path = "/v1/templates", tag = "templates", request_body = TemplateBody,
    responses((status = 201, body = TemplateVersion),
              (status = 409, description = "`conflict`: the business keeps 500 templates, or the template 200 versions, already", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_body`: a name, tag or text that is not valid", body = crate::server::openapi::ErrorBody)))]
async fn write(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiJson(body): ApiJson<TemplateBody>,
) -> Result<(StatusCode, Json<TemplateVersion>), ApiError> {
    let invalid = |message: String| ApiError::invalid(Code::InvalidBody, message);
    if body.body.trim().is_empty() {
        return Err(invalid("body: write the text".into()));
    }
    if !valid_name(&body.name) {
        return Err(invalid(format!(
            "name: \"{}\" is not a template name (lowercase letters, digits, - and _; at most 64)",
            body.name
        )));
    }
    let tag_ok = |t: &String| valid_name(t) && t.len() <= MAX_TAG_CHARS;
    if body.tags.len() > MAX_TAGS || !body.tags.iter().all(tag_ok) {
        return Err(invalid(format!(
            "tags: at most {MAX_TAGS}, each lowercase letters, digits, - and _ (at most {MAX_TAG_CHARS})"
        )));
    }
    if body.body.chars().count() > 100_000
        || body
            .subject
            .as_ref()
            .is_some_and(|s| s.chars().count() > 998)
    {
        return Err(invalid(
            "body: at most 100000 characters; subject: at most 998".into(),
        ));
    }
    let tenant = state.engine.tenant(caller.tenant()).await?;
    let limit = match body.channel {
        Channel::Sms => limits::SMS_BODY,
        Channel::Email => limits::EMAIL_BODY,
    };
    check_text(&tenant.snippets, "body", &body.body, limit)?;
    let subject = match body.channel {
        Channel::Email => body.subject,
        Channel::Sms => None,
    };
    if let Some(subject) = &subject {
        check_text(&tenant.snippets, "subject", subject, limits::EMAIL_SUBJECT)?;
    }
    let author = caller.audit_entry(
        "template.write",
        &format!("template:{}", body.name),
        json!({}),
    );
    let draft = TemplateDraft {
        name: body.name,
        kind: body.kind,
        channel: body.channel,
        subject,
        body: body.body,
        tags: body.tags,
        author: author.actor.clone(),
    };
    let written = state
        .templates
        .add_template_version(caller.tenant(), &draft, &author)
        .await?;
    Ok((StatusCode::CREATED, Json(written)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    kind: Option<TemplateKind>,
    channel: Option<Channel>,
    tag: Option<String>,
    /// Words the name or the text contains (any case).
    q: Option<String>,
}

/// The library: the newest version of each template.
#[derive(Debug, Serialize, ToSchema)]
struct Library {
    data: Vec<TemplateVersion>,
}

/// The templates, by name, each as its newest version (at most 500).
#[utoipa::path(get, path = "/v1/templates", tag = "templates", params(ListQuery),
    responses((status = 200, body = Library)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Library>, ApiError> {
    let filter = TemplateFilter {
        kind: q.kind,
        channel: q.channel,
        tag: q.tag,
        search: q.q.filter(|q| !q.trim().is_empty()),
    };
    let data = state.templates.templates(caller.tenant(), &filter).await?;
    Ok(Json(Library { data }))
}

/// A template with every version.
#[derive(Debug, Serialize, ToSchema)]
struct Versions {
    name: String,
    /// The version a reply by name sends: the newest approved one.
    approved_version: Option<u32>,
    versions: Vec<TemplateVersion>,
}

/// A template and its versions, oldest first.
#[utoipa::path(get, path = "/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "The template's name")),
    responses((status = 200, body = Versions),
              (status = 404, description = "No such template", body = crate::server::openapi::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Versions>, ApiError> {
    let versions = state
        .templates
        .template_versions(caller.tenant(), &name)
        .await?;
    Ok(Json(Versions {
        approved_version: usable(&versions, None).map(|t| t.version),
        name,
        versions,
    }))
}

/// Approve a version (admin: an owner's or admin's key): from now on a reply by the
/// template's name sends it, unless a newer one is approved. A `snippet` template's newest
/// approved version becomes the business's snippet of its name (`{{> name}}` in any text),
/// checked with the other snippets first: one that does not fit them approves nothing.
#[utoipa::path(post, path = "/v1/templates/{name}/versions/{version}/approve", tag = "templates",
    params(("name" = String, Path, description = "The template's name"),
           ("version" = u32, Path, description = "The version")),
    responses((status = 200, body = TemplateVersion),
              (status = 404, description = "No such template or version", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_body`: a snippet that does not fit the business's snippets (a loop, too long, a missing include)", body = crate::server::openapi::ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath((name, version)): ApiPath<(String, u32)>,
) -> Result<Json<TemplateVersion>, ApiError> {
    let tenant = caller.tenant();
    let versions = state.templates.template_versions(tenant, &name).await?;
    let chosen = versions
        .iter()
        .find(|t| t.version == version)
        .ok_or_else(|| {
            ApiError::from(StoreError::NotFound {
                what: format!("version {version} of template {name}"),
            })
        })?;
    let snippet = chosen.kind == TemplateKind::Snippet;
    if snippet {
        // Would it be the snippet? Checked before anything is approved.
        let mut after = versions.clone();
        after
            .iter_mut()
            .filter(|t| t.version == version)
            .for_each(|t| t.approved = true);
        let text = usable(&after, None)
            .map(|t| t.body.clone())
            .unwrap_or_default();
        let current = state.engine.store.tenant(tenant).await?;
        snippets::with_snippet(current, &name, &text)
            .map_err(|m| ApiError::invalid(Code::InvalidBody, m))?;
    }
    let audit = caller.audit_entry(
        "template.approve",
        &format!("template:{name}"),
        json!({"version": version}),
    );
    let approved = state
        .templates
        .approve_template(tenant, &name, version, &audit.actor, &audit)
        .await?;
    if snippet {
        snippets::publish(&state, &caller, &name).await?;
    }
    state.engine.library_changed(tenant);
    Ok(Json(approved))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    /// A real contact; default a sample one (Ana Sample, with a phone and an email).
    contact_id: Option<String>,
    /// The version; default the newest (drafts included).
    #[schema(maximum = 200)]
    version: Option<u32>,
}

/// A preview: the version rendered, and for whom.
#[derive(Debug, Serialize, ToSchema)]
struct Previewed {
    version: u32,
    approved: bool,
    #[serde(flatten)]
    preview: Preview,
}

/// Render a version for a contact (viewer): the text, its SMS segments and encoding, and
/// the contact's values it names that the contact lacks.
#[utoipa::path(post, path = "/v1/templates/{name}/preview", tag = "templates",
    params(("name" = String, Path, description = "The template's name")),
    request_body = PreviewBody,
    responses((status = 200, body = Previewed),
              (status = 400, description = "`invalid_input`: the text does not render", body = crate::server::openapi::ErrorBody),
              (status = 404, description = "No such template or version", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_body`: no such contact", body = crate::server::openapi::ErrorBody)))]
async fn preview_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(raw): ApiJson<serde_json::Value>,
) -> Result<Json<Previewed>, ApiError> {
    // Read from an object only: serde would also take `[null, null]` for a struct whose
    // fields are all optional.
    let body: PreviewBody = match raw {
        serde_json::Value::Object(_) => serde_json::from_value(raw)
            .map_err(|e| ApiError::invalid(Code::InvalidBody, e.to_string()))?,
        _ => {
            return Err(ApiError::invalid(
                Code::InvalidBody,
                "the body is a JSON object: {\"contact_id\": …, \"version\": …}",
            ));
        }
    };
    let versions = state
        .templates
        .template_versions(caller.tenant(), &name)
        .await?;
    let chosen = match body.version {
        Some(v) => versions.iter().find(|t| t.version == v),
        None => versions.last(),
    }
    .ok_or_else(|| ApiError::not_found(format!("template {name} has no such version")))?;
    let contact = match &body.contact_id {
        // An unknown contact is a wrong value in the body, not a missing template.
        Some(id) => match state.engine.store.contact(caller.tenant(), id).await {
            Ok(contact) => contact,
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::invalid(
                    Code::InvalidBody,
                    format!("contact_id: no contact {id}"),
                ));
            }
            Err(e) => return Err(e.into()),
        },
        None => Contact {
            id: "sample".into(),
            first_name: Some("Ana".into()),
            last_name: Some("Sample".into()),
            phone: Some("+15125550100".into()),
            email: Some("ana@example.com".into()),
            ..Contact::default()
        },
    };
    let tenant = state.engine.tenant(caller.tenant()).await?;
    let preview = preview(
        &tenant,
        &contact,
        chosen.channel,
        &chosen.body,
        chosen.subject.as_deref(),
    )?;
    Ok(Json(Previewed {
        version: chosen.version,
        approved: chosen.approved,
        preview,
    }))
}
