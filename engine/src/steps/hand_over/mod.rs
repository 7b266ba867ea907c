//! `hand_over`: a person takes it from here. The contact's conversation on the channel needs
//! a human (`needs_human`, made if the contact has none yet), in the same commit as the
//! step: every automated message to the contact holds from then on, this run's included,
//! until a member releases the conversation (see human takeover in the inbox). Used where a
//! flow judges the contact upset or the matter urgent, e.g. after an `llm` step classifies
//! the reply.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::ports::Channel;
use crate::steps::{CheckCx, StepCx, StepError, StepKind, StepOutcome};
use crate::template::limits;

/// Why a person must take over (template), shown to staff in the inbox's live stream and the
/// run's timeline.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "HandOverConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Why, e.g. "Angry reply: {{event.data.body}}".
    #[schemars(length(min = 1))]
    pub reason: String,
    /// The conversation: `sms` (default) or `email`.
    #[serde(default)]
    pub channel: Option<Channel>,
}

pub struct HandOver;

impl StepKind for HandOver {
    const KEY: &'static str = "hand_over";
    const SUMMARY: &'static str =
        "Put the contact's conversation in needs_human: automated messages hold until released.";
    const OUTPUTS: &'static [&'static str] = &["channel", "reason"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        cx.template_limited("reason", &config.reason, limits::NOTIFY_TEXT);
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let reason = cx.render("reason")?;
        let channel = config.channel.unwrap_or(Channel::Sms);
        Ok(StepOutcome::HandOver { channel, reason })
    }
}
