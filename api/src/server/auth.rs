//! Who is calling: a tenant's API key (`Authorization: Bearer swk_…`) or the platform
//! operator's key. A key is looked up by its SHA-256 digest (kept for one second, so a
//! revocation through another process applies within a second), checked against the
//! tenant's rate limit, and its `last_used_at` is written at most once a minute.

use crate::server::Code;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::Timestamp;
use serde_json::Value;
use stepwise_engine::ports::{ApiKey, AuditEntry, Role};
use stepwise_engine::runtime::Expiring;

use super::{ApiError, AppState};
use crate::access::digest;

/// Rate-limit buckets beside the tenants' (tenant ids cannot start with `!`): key lookups
/// that missed the cache, and the operator's routes.
const LOOKUP_BUCKET: &str = "!lookup";
const OPERATOR_BUCKET: &str = "!operator";

/// How often a key's `last_used_at` is written.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Key lookups, rate limits and use times of this process.
#[derive(Debug)]
pub struct Authenticator {
    /// The operator key's digest, when an operator key is configured.
    operator: Option<String>,
    keys: Expiring<ApiKey>,
    touched: Mutex<HashMap<String, Instant>>,
    limiter: DefaultKeyedRateLimiter<String>,
    /// Webhooks per tenant: apart from the API's limit, so that a flooded web form costs its
    /// tenant its hooks, never its admins' API, and never another tenant anything.
    hook_limiter: DefaultKeyedRateLimiter<String>,
}

impl Authenticator {
    /// `per_second` API requests and `hooks_per_second` webhooks per tenant, each with bursts
    /// of twice that.
    pub fn new(
        operator_key: Option<&str>,
        per_second: NonZeroU32,
        hooks_per_second: NonZeroU32,
    ) -> Self {
        Self {
            operator: operator_key.map(digest),
            keys: Expiring::default(),
            touched: Mutex::default(),
            limiter: RateLimiter::keyed(quota(per_second)),
            hook_limiter: RateLimiter::keyed(quota(hooks_per_second)),
        }
    }

    /// Forgets every cached key: a revocation through this process applies at once.
    pub fn forget_keys(&self) {
        self.keys.clear();
    }

    /// Drops rate-limit state of tenants that went quiet (called periodically).
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
        self.hook_limiter.retain_recent();
    }

    fn check_rate(&self, tenant_id: &str) -> Result<(), ApiError> {
        check(&self.limiter, tenant_id, "requests")
    }

    /// Counts one webhook for the tenant: 429 with Retry-After past its limit.
    pub fn check_hook_rate(&self, tenant_id: &str) -> Result<(), ApiError> {
        check(&self.hook_limiter, tenant_id, "webhooks")
    }

    fn due_for_touch(&self, key_id: &str) -> bool {
        let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match touched.get(key_id) {
            Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
            _ => {
                touched.insert(key_id.to_owned(), now);
                true
            }
        }
    }
}

fn quota(per_second: NonZeroU32) -> Quota {
    let burst = per_second.saturating_mul(NonZeroU32::MIN.saturating_add(1));
    Quota::per_second(per_second).allow_burst(burst)
}

fn check(
    limiter: &DefaultKeyedRateLimiter<String>,
    tenant_id: &str,
    what: &str,
) -> Result<(), ApiError> {
    limiter
        .check_key(&tenant_id.to_owned())
        .map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                Code::RateLimited,
                format!("too many {what} for this tenant; retry in {seconds} s"),
            )
            .with_retry_after(seconds)
        })
}

/// The key of the one `Authorization: Bearer <key>` header, exactly so: a second header,
/// another scheme, or whitespace anywhere but the one space is refused, never guessed at.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let refuse = || ApiError::unauthorized("send one header Authorization: Bearer <API key>");
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(refuse());
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|key| !key.is_empty() && !key.contains(|c: char| c.is_whitespace()))
        .ok_or_else(refuse)
}

/// A request authenticated with a tenant's key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: ApiKey,
}

impl Caller {
    pub fn tenant(&self) -> &str {
        &self.key.tenant_id
    }

    /// Refuses the request unless the key's role is `role` or above.
    pub fn require(&self, role: Role) -> Result<&Self, ApiError> {
        if self.key.role >= role {
            Ok(self)
        } else {
            Err(ApiError::forbidden(format!(
                "this needs a key with role {} or above; this key is {}",
                role.as_str(),
                self.key.role.as_str()
            )))
        }
    }

    /// An audit entry of the caller's action, for the store write that stores it with the
    /// action: its actor is the team member whose key it is, else the key.
    pub fn audit_entry(&self, action: &str, target: &str, details: Value) -> AuditEntry {
        AuditEntry::now(
            self.key.member_id.as_deref().unwrap_or(&self.key.id),
            Some(&self.key.prefix),
            action,
            target,
            details,
        )
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let given = bearer(&parts.headers)?;
        let digest = digest(given);
        let auth = &state.auth;
        let key = match auth.keys.get(&digest) {
            Some(key) => key,
            None => {
                // Unknown keys miss the cache every time: their database lookups share one
                // bucket, so a flood of made-up keys is answered 429, not with queries.
                auth.check_rate(LOOKUP_BUCKET)?;
                let key = state
                    .access
                    .key_by_digest(&digest)
                    .await?
                    .ok_or_else(|| ApiError::unauthorized("the API key is not valid"))?;
                auth.keys.put(&digest, key.clone());
                key
            }
        };
        if key.revoked_at.is_some() {
            return Err(ApiError::unauthorized("the API key was revoked"));
        }
        auth.check_rate(&key.tenant_id)?;
        if auth.due_for_touch(&key.id) {
            let access = state.access.clone();
            let (tenant, id) = (key.tenant_id.clone(), key.id.clone());
            tokio::spawn(async move {
                if let Err(e) = access.touch_key(&tenant, &id, Timestamp::now()).await {
                    tracing::warn!(error = %e, "last_used_at not written");
                }
            });
        }
        tracing::Span::current().record("tenant_id", key.tenant_id.as_str());
        Ok(Caller { key })
    }
}

/// A caller whose key is an editor's or an admin's. As an extractor it runs before the body
/// is read, so a viewer is refused (403) whatever it sent.
#[derive(Debug, Clone)]
pub struct Editor(pub Caller);

/// A caller whose key is an admin's.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

/// A caller whose key is an agent's or above (handles conversations).
#[derive(Debug, Clone)]
pub struct Agent(pub Caller);

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Role::Agent)?;
        Ok(Agent(caller))
    }
}

impl FromRequestParts<AppState> for Editor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Role::Editor)?;
        Ok(Editor(caller))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Role::Admin)?;
        Ok(Admin(caller))
    }
}

/// A request authenticated with the platform operator's key.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.auth.check_rate(OPERATOR_BUCKET)?;
        let given = digest(bearer(&parts.headers)?);
        match &state.auth.operator {
            Some(expected) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => {
                Ok(Operator)
            }
            Some(_) => Err(ApiError::unauthorized("this needs the operator key")),
            None => Err(ApiError::unauthorized(
                "no operator key is configured (set STEPWISE_OPERATOR_KEY)",
            )),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Keeps the rate limiter's memory bounded: drops state of quiet tenants every minute.
pub fn spawn_upkeep(auth: Arc<Authenticator>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            auth.retain_recent();
        }
    });
}
