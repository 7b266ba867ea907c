//! `payments`: invoices through the tenant's payments provider (the sandbox until one is
//! chosen). The provider reports payments back as events (`payment.succeeded`,
//! `payment.failed`) that flows wait for.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ports::Request;
use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};
pub use stepwise_core::PaymentsAction as Action;
use stepwise_core::{Payer, PaymentsCall};

/// Create or void an invoice. The result (`invoice_id`, `url`) becomes `steps.<id>`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "PaymentsConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// create_invoice or void_invoice.
    pub action: Action,
    /// The invoice's fields; every string is a template. `create_invoice`: `amount` (in the
    /// currency's minor unit, e.g. cents), `currency` (ISO 4217, e.g. `usd`), `description`,
    /// optional `due_days`. `void_invoice`: `invoice_id`.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

pub struct Payments;

impl StepKind for Payments {
    const KEY: &'static str = "payments";
    const SUMMARY: &'static str = "Create or void invoices.";
    const OUTPUTS: &'static [&'static str] = &["status", "action", "invoice_id", "url", "sandbox"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        let required: &[&str] = match config.action {
            Action::CreateInvoice => &["amount", "currency", "description"],
            Action::VoidInvoice => &["invoice_id"],
        };
        cx.field_templates("fields", config.action.as_str(), &config.fields, required);
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let fields = cx.render_fields("fields", &config.fields)?;
        if config.action == Action::CreateInvoice {
            check_amount(fields.get("amount"))?;
        }
        Ok(StepOutcome::Call(Box::new(ActionDraft {
            request: Request::Payments(PaymentsCall {
                action: config.action,
                fields,
                payer: payer(cx),
            }),
            message: None,
            // The provider de-duplicates by the idempotency key (Stripe's `Idempotency-Key`).
            idempotent: true,
            sender_pool: None,
        })))
    }
}

/// The run's contact, whom the provider bills.
fn payer(cx: &StepCx<'_>) -> Payer {
    let contact = cx.contact();
    let name = [contact.first_name.as_deref(), contact.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Payer {
        contact_id: contact.id.clone(),
        name: Some(name).filter(|n| !n.is_empty()),
        email: contact.email.clone(),
        phone: contact.phone.clone(),
    }
}

/// An amount is a whole number of the currency's minor unit, above zero.
fn check_amount(amount: Option<&Value>) -> Result<(), StepError> {
    let positive = match amount {
        Some(Value::Number(n)) => n.as_u64().is_some_and(|n| n > 0),
        Some(Value::String(s)) => s.trim().parse::<u64>().is_ok_and(|n| n > 0),
        _ => false,
    };
    if positive {
        Ok(())
    } else {
        Err(StepError {
            field: "fields/amount".into(),
            message: format!(
                "the amount is {}, not a whole number of cents above zero",
                amount.map_or_else(|| "missing".to_owned(), Value::to_string)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::ports::Request;
    use crate::steps::StepOutcome;
    use crate::testing::plan_step;

    #[test]
    fn an_invoice_is_created_with_its_rendered_fields() {
        let step = json!({"payments": {"action": "create_invoice", "fields": {
            "amount": "12500", "currency": "usd", "description": "Water heater for {{contact.first_name}}"}}});
        let Ok(StepOutcome::Call(draft)) = plan_step(step) else {
            panic!("not a call")
        };
        let Request::Payments(call) = draft.request else {
            panic!("not a payments call")
        };
        assert_eq!(call.fields["description"], "Water heater for Ana");
        assert_eq!(call.payer.name.as_deref(), Some("Ana"), "{:?}", call.payer);
        assert!(draft.idempotent);
    }

    #[test]
    fn an_amount_that_is_not_whole_cents_fails_the_step() {
        for amount in ["12.50", "0", "-3", "twelve"] {
            let step = json!({"payments": {"action": "create_invoice", "fields": {
                "amount": amount, "currency": "usd", "description": "x"}}});
            let error = plan_step(step).unwrap_err();
            assert!(
                error.message.contains("whole number of cents"),
                "{amount}: {error}"
            );
        }
    }
}
