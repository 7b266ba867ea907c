//! Flows the engine itself runs for every tenant: a staff member's reply from the inbox. A
//! reply is a run like any other (consent, quiet hours, retries, the outbox, delivery
//! reports, a SIGKILL survived), started by an `inbox.reply` event whose data carries the
//! text, already rendered. Their ids are reserved: a tenant cannot publish a flow by these
//! names.

use std::sync::{Arc, OnceLock};

use super::flows::Deployment;
use crate::definition::{self, CompiledFlow};

/// The reply that honours the business's quiet hours (held until morning).
pub const INBOX_REPLY: &str = "inbox-reply";
/// The reply a member sends during quiet hours on purpose (a transactional answer); the
/// override is in the run's event and the audit log.
pub const INBOX_REPLY_ANYTIME: &str = "inbox-reply-anytime";

/// The version every built-in flow runs as.
const VERSION: u32 = 1;

/// The reply flow's source: an SMS or an email with the event's text, from the number the
/// contact knows (`event.data.sender`, else the tenant's sender).
fn source(id: &str, quiet_hours: &str) -> String {
    format!(
        r#"id: {id}
name: A reply by hand from the inbox
purpose: transactional
quiet_hours: {quiet_hours}
retry: {{ max: 3, backoff: 30s, max_backoff: 10m }}
trigger: {{ manual: true }}
steps:
  - id: reply
    if: 'event.data.channel == "email"'
    then:
      - id: email
        send_email: {{ subject: "{{{{event.data.subject}}}}", body: "{{{{event.data.text}}}}" }}
    else:
      - id: sms
        send_sms: {{ body: "{{{{event.data.text}}}}", from: "{{{{event.data.sender}}}}" }}
"#
    )
}

fn compiled(id: &'static str) -> Arc<CompiledFlow> {
    static REPLY: OnceLock<Arc<CompiledFlow>> = OnceLock::new();
    static ANYTIME: OnceLock<Arc<CompiledFlow>> = OnceLock::new();
    let (cell, quiet_hours) = if id == INBOX_REPLY {
        (&REPLY, "inherit")
    } else {
        (&ANYTIME, "off")
    };
    cell.get_or_init(|| {
        let (flow, _) = definition::load_flow("builtin.yaml", &source(id, quiet_hours), None)
            .unwrap_or_else(|d| panic!("the built-in flow {id} does not compile: {d:?}"));
        Arc::new(flow)
    })
    .clone()
}

/// Whether `flow_id` is a built-in flow's (a tenant's flow may not take the name).
pub fn is_builtin(flow_id: &str) -> bool {
    flow_id == INBOX_REPLY || flow_id == INBOX_REPLY_ANYTIME
}

/// The built-in flow `flow_id` as the tenant runs it, if it is one.
pub fn deployment(tenant_id: &str, flow_id: &str) -> Option<Deployment> {
    let id = match flow_id {
        INBOX_REPLY => INBOX_REPLY,
        INBOX_REPLY_ANYTIME => INBOX_REPLY_ANYTIME,
        _ => return None,
    };
    Some(Deployment {
        tenant_id: tenant_id.to_owned(),
        version: VERSION,
        flow: compiled(id),
        config: serde_json::json!({}),
        templates: serde_json::json!({}),
        library: None,
        // Built-in flows include no snippets: nothing to follow.
        snippets: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_replies_compile_with_their_quiet_hours() {
        use crate::definition::QuietPolicy;
        use crate::model::Purpose;
        let held = deployment("t", INBOX_REPLY).unwrap();
        let anytime = deployment("t", INBOX_REPLY_ANYTIME).unwrap();
        assert_eq!(
            held.flow.quiet_policy(Purpose::Transactional),
            QuietPolicy::Tenant
        );
        assert_eq!(
            anytime.flow.quiet_policy(Purpose::Transactional),
            QuietPolicy::Off
        );
        assert!(deployment("t", "speed-to-lead").is_none());
    }
}
