//! Tenants and API keys, shared by `stepwise tenant create` and the API: how keys are made
//! (random, shown once), how they are stored (SHA-256 digest) and how a tenant is checked
//! and created with its first admin key.

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use stepwise_engine::model::Tenant;
use stepwise_engine::ports::{AccessStore, ApiKey, AuditEntry, Role, StoreError};

/// Every key starts with this, so that a leaked key is recognisable (secret scanners).
pub const KEY_PREFIX: &str = "swk_";

/// Characters of a key kept to tell it apart in lists.
const SHOWN: usize = 12;

/// The digest a key is stored and looked up by.
pub fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new key as answered once: its listing plus `key`, the key itself.
pub fn key_answer(key: &ApiKey, secret: String) -> serde_json::Value {
    let mut answer = serde_json::to_value(key).unwrap_or(serde_json::Value::Null);
    answer["key"] = serde_json::Value::String(secret);
    answer
}

/// A new key for `tenant_id`: the key itself (to show once) and its stored form.
pub fn new_key(tenant_id: &str, name: &str, role: Role) -> (String, ApiKey) {
    // Two v4 UUIDs: 244 random bits from the operating system.
    let secret = format!(
        "{KEY_PREFIX}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let key = ApiKey {
        id: format!("key_{}", uuid::Uuid::now_v7().simple()),
        tenant_id: tenant_id.to_owned(),
        name: name.to_owned(),
        role,
        prefix: secret[..SHOWN].to_owned(),
        created_at: Timestamp::now(),
        last_used_at: None,
        revoked_at: None,
        member_id: None,
    };
    (secret, key)
}

/// Why a tenant cannot be created as given.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the settings a tenant carries: time zone, country, ids.
pub fn check_tenant(tenant: &Tenant) -> Result<(), String> {
    if jiff::tz::TimeZone::get(&tenant.timezone).is_err() {
        return Err(format!(
            "timezone: \"{}\" is not an IANA time zone (e.g. America/Chicago)",
            tenant.timezone
        ));
    }
    if tenant.country.parse::<phonenumber::country::Id>().is_err() {
        return Err(format!(
            "country: \"{}\" is not an ISO 3166 country code (e.g. US)",
            tenant.country
        ));
    }
    if tenant.name.trim().is_empty() || tenant.name.len() > 200 {
        return Err("name: give the business's name (1 to 200 characters)".into());
    }
    // Both are sent to contacts: a help reply is one SMS, an address one footer line.
    for (field, value, most) in [
        ("help_text", &tenant.help_text, 320),
        ("postal_address", &tenant.postal_address, 300),
    ] {
        if let Some(text) = value
            && (text.trim().is_empty() || text.chars().count() > most)
        {
            return Err(format!("{field}: 1 to {most} characters"));
        }
    }
    if tenant.holidays.len() > stepwise_engine::model::MAX_HOLIDAYS {
        return Err(format!(
            "holidays: at most {} days",
            stepwise_engine::model::MAX_HOLIDAYS
        ));
    }
    stepwise_engine::audience::fields::check_declarations(&tenant.custom_fields)?;
    stepwise_engine::audience::pools::check_pools(&tenant.sender_pools)?;
    tenant.takeover.check()?;
    check_snippets(&tenant.snippets)
}

/// The most snippets a tenant may keep, and the most characters each may have.
pub const MAX_SNIPPETS: usize = 200;
pub const MAX_SNIPPET_CHARS: usize = 4_000;

/// Snippets are named like identifiers, bounded in number and size, and checked as a whole
/// (syntax, includes that exist, no loops, bounded depth) before they are stored.
fn check_snippets(snippets: &std::collections::BTreeMap<String, String>) -> Result<(), String> {
    if snippets.len() > MAX_SNIPPETS {
        return Err(format!("snippets: at most {MAX_SNIPPETS}"));
    }
    for (name, source) in snippets {
        let named = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !named {
            return Err("snippets: a snippet's name is 1 to 64 letters, digits, '_' or '-'".into());
        }
        if source.chars().count() > MAX_SNIPPET_CHARS {
            return Err(format!(
                "snippets.{name}: at most {MAX_SNIPPET_CHARS} characters"
            ));
        }
    }
    stepwise_engine::template::check_snippets(snippets)
        .map_err(|(name, e)| format!("snippets.{name}: {}", e.message))
}

/// A tenant id: lowercase letters, digits and dashes, 2 to 63 characters.
pub fn check_tenant_id(id: &str) -> Result<(), String> {
    let ok = (2..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "id: \"{id}\" is not a tenant id (2–63 lowercase letters, digits and dashes)"
        ))
    }
}

/// An id made from the business's name, with a random suffix so that two businesses of
/// the same name do not collide: `bright-smile-dental-3f9a`.
pub fn id_from_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(40).collect();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..4];
    if slug.is_empty() {
        format!("tenant-{suffix}")
    } else {
        format!("{}-{suffix}", slug.trim_end_matches('-'))
    }
}

/// A hook token: 64 lowercase hex digits.
pub fn is_hook_token(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A new webhook token for `/hooks/{hook_token}/{source}`: two v4 UUIDs, 244 random bits.
pub fn new_hook_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Creates `tenant` (its id made from its name if empty) with an admin key; answers the
/// tenant as stored, the key to show once, and the key's listing.
pub async fn create_tenant(
    access: &dyn AccessStore,
    mut tenant: Tenant,
) -> Result<(Tenant, String, ApiKey), TenantError> {
    if tenant.id.is_empty() {
        tenant.id = id_from_name(&tenant.name);
    }
    check_tenant_id(&tenant.id).map_err(TenantError::Invalid)?;
    check_tenant(&tenant).map_err(TenantError::Invalid)?;
    tenant.hook_token = new_hook_token();
    let (secret, key) = new_key(&tenant.id, "first admin key", Role::Admin);
    let audit = AuditEntry::now(
        "operator",
        None,
        "tenant.create",
        &format!("tenant:{}", tenant.id),
        serde_json::json!({ "name": tenant.name, "admin_key": key.prefix }),
    );
    access
        .create_tenant(&tenant, &key, &digest(&secret), &audit)
        .await?;
    Ok((tenant, secret, key))
}

/// Mints a new admin key for an existing tenant (the operator's way back in when a tenant
/// lost or revoked every admin key).
pub async fn mint_admin_key(
    access: &dyn AccessStore,
    tenant_id: &str,
) -> Result<(String, ApiKey), TenantError> {
    let (secret, key) = new_key(tenant_id, "admin key minted by the operator", Role::Admin);
    let audit = AuditEntry::now(
        "operator",
        None,
        "key.create",
        &format!("key:{}", key.id),
        serde_json::json!({ "role": "admin", "prefix": key.prefix, "by": "operator" }),
    );
    access.create_key(&key, &digest(&secret), &audit).await?;
    Ok((secret, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_stored_as_digests() {
        let (a, key) = new_key("acme", "ci", Role::Editor);
        let (b, _) = new_key("acme", "ci", Role::Editor);
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == 4 + 64);
        assert!(a.starts_with(&key.prefix));
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
        assert!(!digest(&a).contains(&a[4..]));
    }

    #[test]
    fn ids_come_from_names() {
        let id = id_from_name("Bright Smile Dental!");
        assert!(id.starts_with("bright-smile-dental-"), "{id}");
        assert_eq!(check_tenant_id(&id), Ok(()));
        assert!(check_tenant_id("Acme").is_err());
        assert!(check_tenant_id("-acme").is_err());
        assert!(check_tenant_id("a").is_err());
    }

    #[test]
    fn texts_sent_to_contacts_are_bounded() {
        let mut tenant = Tenant {
            help_text: Some("Bright Smile: reply STOP to stop.".into()),
            postal_address: Some("12 Main St, Austin, TX 78701".into()),
            ..Tenant::default()
        };
        assert_eq!(check_tenant(&tenant), Ok(()));
        tenant.help_text = Some("x".repeat(321));
        assert!(check_tenant(&tenant).unwrap_err().starts_with("help_text"));
        tenant.help_text = None;
        tenant.postal_address = Some("  ".into());
        assert!(
            check_tenant(&tenant)
                .unwrap_err()
                .starts_with("postal_address")
        );
        assert!(id_from_name("!!!").starts_with("tenant-"));
    }
}
