//! Who is in a segment: the tenant's contacts read a page at a time in id order and matched
//! against the filter (with their last activity when the filter asks for it). A page of
//! members reads at most [`SCAN_BUDGET`] contacts, so one request stays bounded however
//! few match; a count reads them all, one count at a time per tenant ([`Counting`]).

use std::collections::HashMap;

use jiff::Timestamp;

use super::segment::Filter;
use super::turns::TenantTurns;
use crate::model::{Contact, Tenant};
use crate::ports::{AudienceStore, Store, StoreError};

/// Contacts read per page of the store.
const READ_PAGE: u32 = 500;
/// The most contacts one page of members reads.
pub const SCAN_BUDGET: usize = 5_000;

/// Members found, and the id to go on after (`None` when every contact was read).
#[derive(Debug)]
pub struct Members {
    pub contacts: Vec<Contact>,
    pub resume_after: Option<String>,
}

/// Up to `want` members after the contact `after`, reading at most [`SCAN_BUDGET`] contacts.
pub async fn members(
    store: &dyn Store,
    audiences: &dyn AudienceStore,
    tenant: &Tenant,
    filter: &Filter,
    after: Option<String>,
    want: usize,
) -> Result<Members, StoreError> {
    let now = Timestamp::now();
    let (mut found, mut after, mut read) = (Vec::new(), after, 0usize);
    loop {
        let page = store
            .contacts(&tenant.id, after.as_deref(), READ_PAGE)
            .await?;
        let last_page = page.len() < READ_PAGE as usize;
        let active = activity(audiences, &tenant.id, filter, &page).await?;
        for contact in page {
            read += 1;
            after = Some(contact.id.clone());
            if filter.matches(
                &contact,
                &tenant.timezone,
                active.get(&contact.id).copied(),
                now,
            ) {
                found.push(contact);
                if found.len() == want {
                    return Ok(Members {
                        contacts: found,
                        resume_after: after,
                    });
                }
            }
        }
        if last_page {
            return Ok(Members {
                contacts: found,
                resume_after: None,
            });
        }
        if read >= SCAN_BUDGET {
            return Ok(Members {
                contacts: found,
                resume_after: after,
            });
        }
    }
}

/// Segment counts one at a time per tenant: a count reads every contact of the tenant.
#[derive(Debug, Default)]
pub struct Counting {
    turns: TenantTurns,
}

impl Counting {
    /// How many of the tenant's contacts are in the segment, once the tenant's counts before
    /// it are done.
    pub async fn count(
        &self,
        store: &dyn Store,
        audiences: &dyn AudienceStore,
        tenant: &Tenant,
        filter: &Filter,
    ) -> Result<u64, StoreError> {
        let _turn = self.turns.take(&tenant.id).await;
        count(store, audiences, tenant, filter).await
    }
}

/// How many of the tenant's contacts are in the segment (reads every contact).
pub async fn count(
    store: &dyn Store,
    audiences: &dyn AudienceStore,
    tenant: &Tenant,
    filter: &Filter,
) -> Result<u64, StoreError> {
    let now = Timestamp::now();
    let (mut n, mut after) = (0u64, None::<String>);
    loop {
        let page = store
            .contacts(&tenant.id, after.as_deref(), READ_PAGE)
            .await?;
        let active = activity(audiences, &tenant.id, filter, &page).await?;
        let last_page = page.len() < READ_PAGE as usize;
        after = page.last().map(|c| c.id.clone());
        n += page
            .iter()
            .filter(|c| filter.matches(c, &tenant.timezone, active.get(&c.id).copied(), now))
            .count() as u64;
        if last_page {
            return Ok(n);
        }
    }
}

/// The last activity of the page's contacts, when the filter needs it.
pub(crate) async fn activity(
    audiences: &dyn AudienceStore,
    tenant_id: &str,
    filter: &Filter,
    page: &[Contact],
) -> Result<HashMap<String, Timestamp>, StoreError> {
    if !filter.uses_activity() || page.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<String> = page.iter().map(|c| c.id.clone()).collect();
    Ok(audiences
        .last_activity(tenant_id, &ids)
        .await?
        .into_iter()
        .collect())
}
