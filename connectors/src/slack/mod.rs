//! Slack incoming webhooks for `notify`: the business's alerts (a hot lead, a detractor, a
//! stalled checklist) posted to a channel. The webhook URL is itself the secret, so it is a
//! credential (`slack_webhook_url`), never a setting, and never appears in errors or logs. It is
//! a URL the tenant controls, so it goes through the SSRF guard; the operator may point `slack`
//! elsewhere (`STEPWISE_PROVIDER_URLS=slack=http://127.0.0.1:4011` keeps the webhook's path).
//!
//! Tenant settings: `providers.notify: {provider: slack}`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use stepwise_core::{
    CallCx, Capability, ConnectorError, DeliveryStatus, Notified, Notify, Request, Response,
};

use crate::outbound;
use crate::provider::{Env, Provider, call_options, options, unsupported};

/// A tenant's Slack settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The credential holding the incoming webhook's URL.
    #[serde(default = "default_webhook_credential")]
    pub webhook_credential: String,
}

fn default_webhook_credential() -> String {
    "slack_webhook_url".into()
}

/// Slack incoming webhooks.
#[derive(Debug, Clone)]
pub struct Slack {
    env: Arc<Env>,
}

impl Slack {
    pub fn new(env: Arc<Env>) -> Self {
        Self { env }
    }

    async fn post(
        &self,
        notify: &Notify,
        options: &Options,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let secret = self
            .env
            .vault
            .open(&cx.tenant_id, &options.webhook_credential)
            .await?;
        let webhook = url::Url::parse(secret.expose()).map_err(|_| {
            ConnectorError::permanent(
                "bad_webhook_url",
                format!("the credential {} is not a URL", options.webhook_credential),
            )
        })?;
        let body = json!({ "text": notify.text });
        let request = match self.env.base_urls.get("slack") {
            Some(base) => {
                let url = format!("{}{}", base.trim_end_matches('/'), webhook.path());
                self.env.outbound.trusted().post(url)
            }
            None => {
                let (client, url) =
                    self.env
                        .outbound
                        .guarded(webhook.as_str())
                        .map_err(|e| match e {
                            // The URL is the secret: say what is wrong without it.
                            ConnectorError::Permanent { code, .. } => ConnectorError::permanent(
                                code,
                                format!(
                                    "the Slack webhook URL ({}) is not at a public address",
                                    options.webhook_credential
                                ),
                            ),
                            other => other,
                        })?;
                client.post(url)
            }
        };
        let request = request
            .timeout(self.env.outbound.request_timeout)
            .json(&body);
        let reply = self.env.outbound.send(request, "Slack").await?;
        // Slack answers errors as plain text codes: `invalid_payload`, `channel_not_found`, ….
        let text = reply.text();
        let code = Some(text.trim().chars().take(60).collect::<String>()).filter(|c| !c.is_empty());
        outbound::classify(&reply, "Slack", code, &text)?;
        Ok(Response::Notified(Notified {
            status: DeliveryStatus::Sent,
            channel: notify.audience,
            sandbox: false,
        }))
    }
}

#[async_trait]
impl Provider for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Notify]
    }

    fn check(&self, _: Capability, map: &Map<String, Value>) -> Result<(), String> {
        options::<Options>(map).map(|_| ())
    }

    async fn call(
        &self,
        request: &Request,
        map: &Map<String, Value>,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let options: Options = call_options("slack", map)?;
        match request {
            Request::Notify(notify) => self.post(notify, &options, cx).await,
            other => Err(unsupported("slack", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use stepwise_core::{CallCx, Notify, NotifyAudience, ProviderSetting, Request};

    use super::Slack;
    use crate::provider::Provider;
    use crate::testing::{Answer, Case, Fake, MapVault, conformance, env};

    const WEBHOOK: &str = "https://hooks.slack.com/services/T0001/B0001/s3cr3tW3bh00kP4th";

    fn alert(_: &str) -> Request {
        Request::Notify(Notify {
            audience: NotifyAudience::Owner,
            text: "Hot lead: Ana wants a cleaning today".into(),
        })
    }

    #[tokio::test]
    async fn slack_meets_the_connector_contract() {
        conformance(Case {
            name: "slack",
            make: |env| Arc::new(Slack::new(env)),
            request: alert,
            setting: ProviderSetting {
                provider: "slack".into(),
                options: Default::default(),
            },
            credentials: vec![("slack_webhook_url", WEBHOOK)],
            success: Answer::Reply {
                status: 200,
                headers: vec![],
                body: "ok".into(),
            },
            client_error: (
                Answer::Reply {
                    status: 404,
                    headers: vec![],
                    body: "channel_not_found".into(),
                },
                "channel_not_found",
            ),
            deduplicates: false,
        })
        .await;
    }

    #[tokio::test]
    async fn posts_the_text_to_the_webhooks_path() {
        let fake = Fake::start(Answer::Reply {
            status: 200,
            headers: vec![],
            body: "ok".into(),
        })
        .await;
        let slack = Slack::new(env(
            "slack",
            &fake.base,
            MapVault::with("t1", &[("slack_webhook_url", WEBHOOK)]),
        ));
        slack
            .call(
                &alert(""),
                &Default::default(),
                &CallCx::bare("t1", "r", "s"),
            )
            .await
            .unwrap();
        let seen = &fake.seen()[0];
        assert_eq!(seen.path, "/services/T0001/B0001/s3cr3tW3bh00kP4th");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&seen.body).unwrap(),
            json!({"text": "Hot lead: Ana wants a cleaning today"})
        );
    }
}
