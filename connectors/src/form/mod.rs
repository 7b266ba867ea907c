//! Web forms at `/hooks/{token}/form`: a website's lead form posts here (urlencoded, as a plain
//! HTML form does, or JSON from a script) and each submission becomes `lead.created` for the
//! contact it names. Forms are not signed; what stands between the internet and the flows is
//! the token, the honeypot (a hidden field people leave empty and bots fill: such posts are
//! answered as if accepted and dropped), the tenant's listed origins for browsers' CORS, and
//! the API's rate limit. A form without a phone or email field is refused.
//!
//! Tenant settings: `sources.form: {allowed_origins: ["https://brightsmile.example"],
//! thank_you_url: "https://brightsmile.example/thanks", honeypot: "_gotcha"}` (all optional).

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use stepwise_core::{
    HookError, HookReply, HookRequest, HookVerdict, InboundFact, ProviderSetting, Secret,
    WebhookSource,
};

/// A tenant's form settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Origins whose pages may post with `fetch` (CORS), e.g. `https://brightsmile.example`.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Where a browser's plain form post is sent after it is accepted (303).
    #[serde(default)]
    pub thank_you_url: Option<String>,
    /// The hidden field bots fill (default `_gotcha`).
    #[serde(default = "default_honeypot")]
    pub honeypot: String,
}

fn default_honeypot() -> String {
    "_gotcha".into()
}

impl Options {
    fn of(setting: Option<&ProviderSetting>) -> Result<Options, String> {
        match setting {
            Some(s) => crate::provider::options(&s.options),
            None => Ok(Options {
                honeypot: default_honeypot(),
                ..Options::default()
            }),
        }
    }
}

/// The source of `/hooks/{token}/form`.
#[derive(Debug, Clone, Copy)]
pub struct FormHooks;

/// Which contact field a form field fills, by the names forms commonly use.
fn contact_field(name: &str) -> Option<&'static str> {
    Some(
        match name.to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
            "phone" | "phone_number" | "phonenumber" | "tel" | "mobile" | "cell" => "phone",
            "email" | "e_mail" | "email_address" => "email",
            "first_name" | "firstname" | "fname" | "given_name" => "first_name",
            "last_name" | "lastname" | "lname" | "family_name" | "surname" => "last_name",
            "name" | "full_name" | "fullname" | "your_name" => "name",
            _ => return None,
        },
    )
}

fn fields_of(request: &HookRequest<'_>) -> Result<(Map<String, Value>, bool), HookError> {
    let content_type = request.header("content-type").unwrap_or_default();
    if content_type.starts_with("application/json") {
        let body: Value = serde_json::from_slice(request.body)
            .map_err(|e| HookError::Malformed(e.to_string()))?;
        let object = body.as_object().cloned().ok_or_else(|| {
            HookError::Malformed("send a JSON object of the form's fields".into())
        })?;
        return Ok((object, false));
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let fields = form_urlencoded::parse(request.body)
            .into_owned()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Ok((fields, true));
    }
    Err(HookError::Unsupported(format!(
        "a form posts application/x-www-form-urlencoded or application/json, not \"{content_type}\""
    )))
}

impl WebhookSource for FormHooks {
    fn name(&self) -> &'static str {
        "form"
    }

    fn signing_credential(&self, _: Option<&ProviderSetting>) -> Option<String> {
        None
    }

    fn check(&self, options: &Map<String, Value>) -> Result<(), String> {
        let parsed: Options = crate::provider::options(options)?;
        for origin in &parsed.allowed_origins {
            let url = url::Url::parse(origin)
                .map_err(|_| format!("allowed_origins: \"{origin}\" is not an origin"))?;
            if url.origin().ascii_serialization() != *origin {
                return Err(format!(
                    "allowed_origins: write \"{}\" (scheme, host and port only)",
                    url.origin().ascii_serialization()
                ));
            }
        }
        if let Some(url) = &parsed.thank_you_url
            && !url.starts_with("https://")
        {
            return Err("thank_you_url must be an https URL".into());
        }
        Ok(())
    }

    fn allowed_origins(&self, setting: Option<&ProviderSetting>) -> Vec<String> {
        Options::of(setting)
            .map(|o| o.allowed_origins)
            .unwrap_or_default()
    }

    fn receive(
        &self,
        request: &HookRequest<'_>,
        setting: Option<&ProviderSetting>,
        _: Option<&Secret>,
    ) -> Result<HookVerdict, HookError> {
        if request.method != "POST" {
            return Err(HookError::Unsupported("a form posts".into()));
        }
        let options = Options::of(setting).map_err(HookError::NotConfigured)?;
        let (fields, browser) = fields_of(request)?;
        let reply = match (&options.thank_you_url, browser) {
            (Some(url), true) => HookReply::Redirect(url.clone()),
            _ => HookReply::Body {
                content_type: "application/json",
                body: json!({"ok": true}).to_string(),
            },
        };
        let bot = fields
            .get(&options.honeypot)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty());
        if bot {
            // Answered like a real submission, so the bot learns nothing.
            return Ok(HookVerdict {
                facts: Vec::new(),
                reply,
            });
        }
        let mut contact = Map::new();
        let mut data = Map::new();
        for (name, value) in fields.into_iter().filter(|(k, _)| *k != options.honeypot) {
            let text = value.as_str().map(str::trim).unwrap_or_default().to_owned();
            match contact_field(&name) {
                Some("name") if !text.is_empty() => {
                    let mut parts = text.splitn(2, ' ');
                    contact
                        .entry("first_name")
                        .or_insert_with(|| json!(parts.next().unwrap_or_default()));
                    if let Some(last) = parts.next() {
                        contact
                            .entry("last_name")
                            .or_insert_with(|| json!(last.trim()));
                    }
                }
                Some(field) if !text.is_empty() => {
                    contact.insert(field.into(), json!(text));
                }
                Some(_) => {}
                None => {
                    data.insert(name, value);
                }
            }
        }
        if !contact.contains_key("phone") && !contact.contains_key("email") {
            return Err(HookError::Malformed(
                "the form has no phone or email field".into(),
            ));
        }
        // A double-click posts the same fields twice: one lead per body and day.
        let day = request.now.div_euclid(86_400);
        let id = request
            .header("idempotency-key")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{day}:{}", hex::encode(Sha256::digest(request.body))));
        Ok(HookVerdict {
            facts: vec![InboundFact::Event {
                id,
                event_type: "lead.created".into(),
                contact,
                data: Value::Object(data),
            }],
            reply,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use stepwise_core::{
        HookError, HookReply, HookRequest, InboundFact, ProviderSetting, WebhookSource,
    };

    use super::FormHooks;

    fn post(
        content_type: &str,
        body: &str,
        setting: Option<&ProviderSetting>,
    ) -> Result<(Vec<InboundFact>, HookReply), HookError> {
        let headers = BTreeMap::from([("content-type".to_owned(), content_type.to_owned())]);
        let request = HookRequest {
            method: "POST",
            url: "https://s.test/hooks/t/form",
            headers: &headers,
            body: body.as_bytes(),
            now: 1_800_000_000,
        };
        FormHooks
            .receive(&request, setting, None)
            .map(|v| (v.facts, v.reply))
    }

    #[test]
    fn a_form_post_becomes_a_lead_and_bots_and_empty_forms_do_not() {
        let setting: ProviderSetting = serde_json::from_value(
            json!({"provider": "form", "thank_you_url": "https://b.example/thanks"}),
        )
        .unwrap();
        let (facts, reply) = post(
            "application/x-www-form-urlencoded",
            "Full+Name=Ana+D%C3%ADaz&Phone=%2B15125550177&service=cleaning&_gotcha=",
            Some(&setting),
        )
        .unwrap();
        let [
            InboundFact::Event {
                event_type,
                contact,
                data,
                ..
            },
        ] = facts.as_slice()
        else {
            panic!("{facts:?}")
        };
        assert_eq!(event_type, "lead.created");
        assert_eq!(contact["phone"], "+15125550177");
        assert_eq!(
            (
                contact["first_name"].as_str(),
                contact["last_name"].as_str()
            ),
            (Some("Ana"), Some("Díaz"))
        );
        assert_eq!(data, &json!({"service": "cleaning"}));
        assert_eq!(
            reply,
            HookReply::Redirect("https://b.example/thanks".into()),
            "a browser's post goes to the thank-you page"
        );

        let (facts, reply) = post(
            "application/json",
            r#"{"email": "bo@example.com"}"#,
            Some(&setting),
        )
        .unwrap();
        assert_eq!(facts.len(), 1);
        assert!(
            matches!(reply, HookReply::Body { .. }),
            "a script gets JSON"
        );

        let (facts, _) = post(
            "application/x-www-form-urlencoded",
            "email=bot%40spam.example&_gotcha=http%3A%2F%2Fspam",
            None,
        )
        .unwrap();
        assert!(facts.is_empty(), "the honeypot drops it silently");
        assert!(matches!(
            post("application/json", r#"{"message": "hi"}"#, None),
            Err(HookError::Malformed(_))
        ));
        assert!(matches!(
            post("text/plain", "hi", None),
            Err(HookError::Unsupported(_))
        ));
    }

    #[test]
    fn origins_and_the_thank_you_page_are_checked() {
        let check = |v: serde_json::Value| FormHooks.check(v.as_object().unwrap());
        assert!(check(json!({"allowed_origins": ["https://brightsmile.example"]})).is_ok());
        assert!(
            check(json!({"allowed_origins": ["https://brightsmile.example/contact"]})).is_err()
        );
        assert!(check(json!({"thank_you_url": "http://x.example"})).is_err());
        assert!(check(json!({"honey": "x"})).is_err());
    }
}
