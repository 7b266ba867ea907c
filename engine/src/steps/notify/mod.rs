//! `notify`: an alert to the business (owner, team or Slack), not to the contact.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::ports::Request;
use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};
use crate::template::limits;
pub use stepwise_core::NotifyAudience as Audience;

/// Alert the business. Quiet hours and contact opt-outs do not apply.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "NotifyConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who gets it: owner (default), team or slack.
    #[serde(default)]
    pub channel: Audience,
    /// The alert text (template).
    #[schemars(length(min = 1))]
    pub text: String,
}

pub struct Notify;

impl StepKind for Notify {
    const KEY: &'static str = "notify";
    const SUMMARY: &'static str = "Alert the business owner or team.";
    const OUTPUTS: &'static [&'static str] = &["status", "channel", "sandbox"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        cx.template_limited("text", &config.text, limits::NOTIFY_TEXT);
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let text = cx.render("text")?;
        Ok(StepOutcome::Call(Box::new(ActionDraft {
            request: Request::Notify(stepwise_core::Notify {
                audience: config.channel,
                text,
            }),
            message: None,
            idempotent: false,
            sender_pool: None,
        })))
    }
}
