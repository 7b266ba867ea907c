//! A fake Twilio on 127.0.0.1 for end-to-end tests: it takes `POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json`, validates each request against Twilio's own
//! OpenAPI document (the create-message excerpt in `tests/fixtures/twilio/`), and answers 201
//! with a Message resource, or what the test scripted (429, 500, a hang). It also signs webhooks
//! the way Twilio does, for posting inbound messages and status callbacks to the server.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Map, Value, json};

/// What the fake answers a send with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    Created,
    Status(u16),
    /// Reads the request, then never answers.
    Hang,
}

/// One send the fake received.
#[derive(Debug, Clone)]
pub struct Send {
    pub account: String,
    pub authorization: String,
    pub form: Vec<(String, String)>,
    /// The sid it answered with, if it accepted the message.
    pub sid: Option<String>,
}

impl Send {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    sends: Vec<Send>,
    script: VecDeque<Answer>,
    violations: Vec<String>,
}

/// The fake's handle.
#[derive(Debug, Clone)]
pub struct FakeTwilio {
    pub base: String,
    state: Arc<Mutex<State>>,
    changed: tokio::sync::watch::Sender<usize>,
}

fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/twilio/create-message.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("the Twilio spec excerpt"))
        .expect("JSON")
}

/// The form as the JSON the spec's schema describes: array properties collect every value.
fn as_json(form: &[(String, String)], schema: &Value) -> Value {
    let mut object = Map::new();
    for (key, value) in form {
        let is_array = schema["properties"][key]["type"] == "array";
        if is_array {
            let entry = object.entry(key.clone()).or_insert_with(|| json!([]));
            if let Some(list) = entry.as_array_mut() {
                list.push(Value::String(value.clone()));
            }
        } else {
            object.insert(key.clone(), Value::String(value.clone()));
        }
    }
    Value::Object(object)
}

fn check(account: &str, form: &[(String, String)], headers: &HeaderMap) -> Vec<String> {
    let spec = spec();
    let mut problems = Vec::new();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type != "application/x-www-form-urlencoded" {
        problems.push(format!("content-type {content_type:?}"));
    }
    let param = spec["parameters"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "AccountSid"))
        .cloned()
        .unwrap_or_default();
    if let Ok(validator) = jsonschema::validator_for(&param["schema"])
        && !validator.is_valid(&json!(account))
    {
        problems.push(format!("AccountSid {account:?} does not match the spec"));
    }
    let schema = &spec["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    // The schema refers into the document's components: validate from a root that has them.
    let root = json!({
        "$ref": "#/requestBody/content/application~1x-www-form-urlencoded/schema",
        "requestBody": spec["requestBody"],
        "components": spec["components"],
    });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("the spec's schema compiles");
    for error in validator.iter_errors(&as_json(form, schema)) {
        problems.push(format!("{} at {}", error, error.instance_path()));
    }
    for (key, _) in form {
        if schema["properties"].get(key).is_none() {
            problems.push(format!(
                "{key} is not a parameter of Twilio's create-message"
            ));
        }
    }
    if !headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("Basic "))
    {
        problems.push("no HTTP Basic authorization".into());
    }
    problems
}

impl FakeTwilio {
    pub async fn start() -> FakeTwilio {
        let state: Arc<Mutex<State>> = Arc::default();
        let (changed, _) = tokio::sync::watch::channel(0);
        let (shared, notify) = (state.clone(), changed.clone());
        let app = axum::Router::new().route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(move |Path(account): Path<String>, headers: HeaderMap, body: Bytes| {
                let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
                let problems = check(&account, &form, &headers);
                let mut state = shared.lock().unwrap();
                state.violations.extend(problems);
                let answer = state.script.pop_front().unwrap_or(Answer::Created);
                let sid = (answer == Answer::Created).then(|| format!("SM{:032x}", state.sends.len() + 1));
                let to = form.iter().find(|(k, _)| k == "To").map(|(_, v)| v.clone()).unwrap_or_default();
                state.sends.push(Send {
                    account,
                    authorization: headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
                    form,
                    sid: sid.clone(),
                });
                let count = state.sends.len();
                drop(state);
                notify.send_replace(count);
                async move {
                    match answer {
                        Answer::Created => (
                            StatusCode::CREATED,
                            json!({"sid": sid, "status": "queued", "num_segments": "1", "to": to, "direction": "outbound-api"}).to_string(),
                        ),
                        Answer::Status(429) => (
                            StatusCode::TOO_MANY_REQUESTS,
                            json!({"code": 20429, "message": "Too Many Requests", "status": 429}).to_string(),
                        ),
                        Answer::Status(status) => (
                            StatusCode::from_u16(status).unwrap(),
                            json!({"code": 20500, "message": "Internal Server Error", "status": status}).to_string(),
                        ),
                        Answer::Hang => {
                            std::future::pending::<()>().await;
                            (StatusCode::GATEWAY_TIMEOUT, String::new())
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeTwilio {
            base,
            state,
            changed,
        }
    }

    /// Answers the next sends with these, in order, then `Created` again.
    pub fn then(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.lock().unwrap().script.extend(answers);
    }

    pub fn sends(&self) -> Vec<Send> {
        self.state.lock().unwrap().sends.clone()
    }

    /// Requests that broke Twilio's spec, described.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    /// Waits until the fake has received `count` sends (or `limit` passes).
    pub async fn until_sends(&self, count: usize, limit: std::time::Duration) -> Vec<Send> {
        let mut seen = self.changed.subscribe();
        let reached = tokio::time::timeout(limit, seen.wait_for(|n| *n >= count)).await;
        assert!(
            reached.is_ok(),
            "the fake Twilio got {} sends, not {count}",
            self.sends().len()
        );
        self.sends()
    }
}

/// `X-Twilio-Signature` for a form post to `url` (Twilio's scheme: HMAC-SHA1 over the URL and
/// the sorted parameters, base64).
pub fn sign(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let mut sorted: Vec<&(&str, &str)> = params.iter().collect();
    sorted.sort();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts a webhook to the server at `base` as Twilio would: `params` form-encoded, signed with
/// `auth_token` over the public URL of `path` (`public` + `path`). Answers the status and body.
pub async fn post_signed(
    base: &str,
    public: &str,
    path: &str,
    params: &[(&str, &str)],
    auth_token: &str,
) -> (StatusCode, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let answer = super::http()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            sign(auth_token, &format!("{public}{path}"), params),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    (status, answer.text().await.unwrap_or_default())
}

/// A fake Twilio and a server (`serve --role all`) that sends to it, with `public` as its
/// public URL (what Twilio's webhooks are signed over). Answers the fake, the server's
/// process and its base URL.
pub async fn serve_with_twilio(
    dir: &std::path::Path,
    backend: &super::Backend,
    public: &str,
) -> (FakeTwilio, super::Process, String) {
    let twilio = FakeTwilio::start().await;
    let urls = format!("twilio={}", twilio.base);
    let env = [
        ("STEPWISE_PUBLIC_URL", public),
        ("STEPWISE_PROVIDER_URLS", urls.as_str()),
    ];
    let (server, base) = super::start_server_with(dir, backend, "all", &env);
    (twilio, server, base)
}

/// Makes Twilio (the fake the server's `STEPWISE_PROVIDER_URLS` names) tenant `acme`'s SMS
/// provider, through the API with the admin key [`super::setup`] made.
async fn send_acme_texts_by_twilio(client: &reqwest::Client, base: &str) {
    let settings = json!({"providers": {"sms": {"provider": "twilio",
        "account_sid": "AC0123456789abcdef0123456789abcdef", "from": "+15125550100"}}});
    let patch = format!("{base}/v1/settings");
    super::call(client, reqwest::Method::PATCH, patch, settings.to_string())
        .await
        .unwrap();
    let token = json!({"value": "crash-token"}).to_string();
    let put = format!("{base}/v1/settings/credentials/twilio_auth_token");
    super::call(client, reqwest::Method::PUT, put, token)
        .await
        .unwrap();
}

/// A server running `flow` for tenant `acme`, whose texts go to a fake Twilio, while
/// `runs` leads are posted and the server is killed with SIGKILL each time the fake has
/// taken the next of `marks` sends, and started again. Answers the fake, the server running
/// at the end and its base URL, once every lead is posted.
#[allow(dead_code)] // not every test binary crashes its server
pub async fn leads_through_kills(
    (dir, backend): (&std::path::Path, &super::Backend),
    flow: &str,
    runs: usize,
    marks: impl IntoIterator<Item = usize>,
) -> (FakeTwilio, super::Process, String) {
    let twilio = FakeTwilio::start().await;
    let urls = format!("twilio={}", twilio.base);
    let env = [("STEPWISE_PROVIDER_URLS", urls.as_str())];
    let (mut server, base) = super::start_server_with(dir, backend, "all", &env);
    let client = super::http();
    super::setup(&client, &base, flow.to_owned()).await;
    send_acme_texts_by_twilio(&client, &base).await;
    let (base_tx, base_rx) = tokio::sync::watch::channel(base);
    let poster = super::post_leads_through_kills(client, base_rx, runs);
    for sends in marks {
        twilio
            .until_sends(sends, std::time::Duration::from_secs(120))
            .await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        let (next, url) = super::start_server_with(dir, backend, "all", &env);
        server = next;
        base_tx.send_replace(url);
    }
    poster.await.unwrap();
    let base = base_tx.borrow().clone();
    (twilio, server, base)
}
