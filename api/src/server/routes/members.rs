//! A business's team: `GET /v1/members` (viewer) lists its people; `POST /v1/members`,
//! `PATCH` and `DELETE /v1/members/{id}` (admin) add, change and remove one, and
//! `POST /v1/members/{id}/keys` (admin) makes a key of theirs, whose role follows the
//! member's. Owners and admins are added, changed and removed by an owner (or a key of the
//! tenant itself); the last owner stays. Removing a member revokes their keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use stepwise_engine::error::EngineError;
use stepwise_engine::ports::{ApiKey, MAX_MEMBERS, Member, MemberRole};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::{digest, key_answer, new_key};
use crate::server::auth::Caller;
use crate::server::extract::{ApiJson, ApiPath};
use crate::server::page::Page;
use crate::server::{Admin, ApiError, AppState, Code};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, change, remove))
        .routes(routes!(create_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMember {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[schema(min_length = 3, max_length = 254)]
    email: String,
    role: MemberRole,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MemberPatch {
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    #[schema(min_length = 3, max_length = 254)]
    email: Option<String>,
    role: Option<MemberRole>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMemberKey {
    /// What the key is for, e.g. `laptop` (default: the member's name).
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(Code::InvalidBody, message)
}

/// A name of 1 to 100 characters and a plausible email, written as stored (trimmed, the
/// email lowercase).
fn checked(name: &str, email: &str) -> Result<(String, String), ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("name: 1 to 100 characters"));
    }
    let email = email.trim().to_lowercase();
    let plausible = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
        && !email.contains(char::is_whitespace);
    if !plausible {
        return Err(invalid(format!(
            "email: \"{email}\" is not an email address"
        )));
    }
    Ok((name.to_owned(), email))
}

/// Whether the caller may manage owners and admins: a key of an owner, or a key of the
/// tenant itself (made before it had members).
async fn is_owner(state: &AppState, caller: &Caller) -> Result<bool, ApiError> {
    match &caller.key.member_id {
        None => Ok(true),
        Some(id) => Ok(state.members.member(caller.tenant(), id).await?.role == MemberRole::Owner),
    }
}

/// Refuses a change to an owner or admin (`roles`: the member's role before and after) from
/// a caller who is not an owner.
async fn may_manage(
    state: &AppState,
    caller: &Caller,
    roles: &[MemberRole],
) -> Result<(), ApiError> {
    if roles.iter().any(|r| *r >= MemberRole::Admin) && !is_owner(state, caller).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            Code::Forbidden,
            "only an owner adds, changes or removes owners and admins",
        ));
    }
    Ok(())
}

/// Refuses to leave the team without an owner.
async fn keeps_an_owner(state: &AppState, tenant: &str, leaving: &str) -> Result<(), ApiError> {
    let members = state.members.members(tenant).await?;
    let others = members
        .iter()
        .filter(|m| m.role == MemberRole::Owner && m.id != leaving)
        .count();
    if others == 0 {
        return Err(EngineError::WrongState(
            "this is the team's last owner: make another member owner first".into(),
        )
        .into());
    }
    Ok(())
}

/// The team, by name.
#[utoipa::path(get, path = "/v1/members", tag = "members",
    responses((status = 200, body = Page<Member>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<Member>>, ApiError> {
    let data = state.members.members(caller.tenant()).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// Add a member (admin; an owner or admin member only by an owner).
#[utoipa::path(post, path = "/v1/members", tag = "members", request_body = NewMember,
    responses((status = 201, body = Member),
              (status = 403, description = "An owner or admin added by a non-owner", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "`conflict`: the email is another member's", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_body` or `limit_exceeded` (200 members)", body = crate::server::openapi::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    let (name, email) = checked(&body.name, &body.email)?;
    may_manage(&state, &caller, &[body.role]).await?;
    let tenant = caller.tenant();
    if state.members.members(tenant).await?.len() >= MAX_MEMBERS {
        return Err(EngineError::LimitExceeded(format!(
            "a team has at most {MAX_MEMBERS} members"
        ))
        .into());
    }
    let member = Member {
        id: format!("mem_{}", uuid::Uuid::now_v7().simple()),
        name,
        email,
        role: body.role,
        created_at: Timestamp::now(),
    };
    let audit = caller.audit_entry(
        "member.create",
        &format!("member:{}", member.id),
        json!({"email": member.email, "role": member.role}),
    );
    state.members.create_member(tenant, &member, &audit).await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// A member.
#[utoipa::path(get, path = "/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "The member's id")),
    responses((status = 200, body = Member),
              (status = 404, description = "No such member", body = crate::server::openapi::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Member>, ApiError> {
    Ok(Json(state.members.member(caller.tenant(), &id).await?))
}

/// Change a member's name, email or role (admin; owners and admins only by an owner). A new
/// role applies to the member's keys at once.
#[utoipa::path(patch, path = "/v1/members/{id}", tag = "members", request_body = MemberPatch,
    params(("id" = String, Path, description = "The member's id")),
    responses((status = 200, body = Member),
              (status = 403, description = "An owner or admin changed by a non-owner", body = crate::server::openapi::ErrorBody),
              (status = 404, description = "No such member", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "`conflict`: the email is another member's, or the last owner would go", body = crate::server::openapi::ErrorBody)))]
async fn change(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<MemberPatch>,
) -> Result<Json<Member>, ApiError> {
    let tenant = caller.tenant();
    let mut member = state.members.member(tenant, &id).await?;
    let role = body.role.unwrap_or(member.role);
    may_manage(&state, &caller, &[member.role, role]).await?;
    if member.role == MemberRole::Owner && role != MemberRole::Owner {
        keeps_an_owner(&state, tenant, &id).await?;
    }
    let (name, email) = checked(
        body.name.as_deref().unwrap_or(&member.name),
        body.email.as_deref().unwrap_or(&member.email),
    )?;
    let audit = caller.audit_entry(
        "member.change",
        &format!("member:{id}"),
        json!({"from": member.role, "role": role}),
    );
    (member.name, member.email, member.role) = (name, email, role);
    state.members.change_member(tenant, &member, &audit).await?;
    state.auth.forget_keys();
    Ok(Json(member))
}

/// Remove a member and revoke their keys (admin; owners and admins only by an owner).
#[utoipa::path(delete, path = "/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "The member's id")),
    responses((status = 204, description = "Removed; their keys answer 401 from now on"),
              (status = 403, description = "An owner or admin removed by a non-owner", body = crate::server::openapi::ErrorBody),
              (status = 404, description = "No such member", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "`conflict`: the last owner", body = crate::server::openapi::ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant();
    let member = state.members.member(tenant, &id).await?;
    may_manage(&state, &caller, &[member.role]).await?;
    if member.role == MemberRole::Owner {
        keeps_an_owner(&state, tenant, &id).await?;
    }
    let audit = caller.audit_entry(
        "member.remove",
        &format!("member:{id}"),
        json!({"email": member.email}),
    );
    state
        .members
        .remove_member(tenant, &id, Timestamp::now(), &audit)
        .await?;
    state.auth.forget_keys();
    Ok(StatusCode::NO_CONTENT)
}

/// Make a key of the member (admin; for an owner or admin, by an owner). Its role follows
/// the member's (owner and admin: `admin`); the key is in the answer (`key`) once.
#[utoipa::path(post, path = "/v1/members/{id}/keys", tag = "members", request_body = NewMemberKey,
    params(("id" = String, Path, description = "The member's id")),
    responses((status = 201, description = "The key's listing plus `key`", body = ApiKey),
              (status = 403, description = "A key of an owner or admin made by a non-owner", body = crate::server::openapi::ErrorBody),
              (status = 404, description = "No such member", body = crate::server::openapi::ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewMemberKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = caller.tenant();
    let member = state.members.member(tenant, &id).await?;
    may_manage(&state, &caller, &[member.role]).await?;
    let name = body.name.unwrap_or_else(|| member.name.clone());
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(invalid(
            "name: say what the key is for (1 to 100 characters)",
        ));
    }
    let (secret, mut key) = new_key(tenant, name.trim(), member.role.key_role());
    key.member_id = Some(member.id.clone());
    let audit = caller.audit_entry(
        "key.create",
        &format!("key:{}", key.id),
        json!({"name": key.name, "role": key.role, "prefix": key.prefix, "member_id": member.id}),
    );
    state
        .access
        .create_key(&key, &digest(&secret), &audit)
        .await?;
    Ok((StatusCode::CREATED, Json(key_answer(&key, secret))))
}
