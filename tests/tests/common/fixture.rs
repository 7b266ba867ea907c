//! A tenant with one of each object (a flow, a contact, a sleeping run that sent a message, a
//! key, a credential), for tests that check a request changed nothing: [`snapshot`] is
//! everything the tenant and the operator can see, compared before and after.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::OPERATOR_KEY;
use super::client::Client;

const WATCHED: &str = "id: watched
purpose: transactional
trigger: {event: lead.created}
steps:
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name}}'}
  - id: later
    wait: {for: 1h}
";

/// The tenant's keys and objects.
pub struct Tenant {
    pub id: String,
    pub admin: String,
    pub editor: String,
    pub viewer: String,
    pub contact: String,
    pub run: String,
    /// The viewer key's id.
    pub key_id: String,
}

impl Tenant {
    /// Creates tenant `id` with its objects, settled: its run sleeps.
    pub async fn create(api: &Client, id: &str) -> Self {
        let admin = api.tenant(id).await;
        let (viewer, key_id) = api.key(&admin, "viewer").await;
        let (editor, _) = api.key(&admin, "editor").await;
        let flow = api.yaml(Method::POST, "/v1/flows", &admin, WATCHED).await;
        assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.body);
        let lead = json!({"type": "lead.created",
            "contact": {"id": "ana", "phone": "+15125550111", "first_name": "Ana"}});
        let accepted = api.post("/v1/events", &admin, &lead).await;
        let run = accepted.body["started"][0].as_str().unwrap().to_owned();
        api.run_until(&admin, &run, |r| r["run"]["status"] == "sleeping")
            .await;
        let credential = json!({"value": "a-secret-token-1234"}).to_string();
        let path = "/v1/settings/credentials/twilio_auth_token";
        let stored = api
            .send(Method::PUT, path, &admin, "application/json", credential)
            .await;
        assert!(stored.status.is_success(), "{}", stored.body);
        Self {
            id: id.to_owned(),
            admin,
            editor,
            viewer,
            contact: "ana".into(),
            run,
            key_id,
        }
    }

    /// `path` (as `/openapi.json` writes it) with its parameters naming this tenant's objects.
    pub fn concrete(&self, path: &str) -> String {
        let id = if path.starts_with("/v1/flows/") {
            "watched"
        } else if path.starts_with("/v1/contacts/") {
            &self.contact
        } else if path.starts_with("/v1/runs/") {
            &self.run
        } else if path.starts_with("/v1/keys/") {
            &self.key_id
        } else {
            &self.id
        };
        path.replace("{id}", id)
            .replace("{name}", "twilio_auth_token")
            .replace("{version}", "1")
    }

    /// Everything the tenant and the operator can see.
    pub async fn snapshot(&self, api: &Client) -> Vec<Value> {
        let mut all = vec![api.get("/v1/tenants", OPERATOR_KEY).await.body];
        let paths = [
            "/v1/flows/watched".to_owned(),
            "/v1/flows/watched/versions".to_owned(),
            format!("/v1/contacts/{}", self.contact),
            format!("/v1/runs/{}", self.run),
            "/v1/keys".to_owned(),
            "/v1/settings".to_owned(),
            "/v1/flows?archived=true".to_owned(),
            "/v1/contacts".to_owned(),
            "/v1/runs".to_owned(),
            "/v1/messages".to_owned(),
            "/v1/suppressions".to_owned(),
            "/v1/imports".to_owned(),
            "/v1/segments".to_owned(),
            "/v1/campaigns".to_owned(),
            "/v1/members".to_owned(),
            "/v1/audit?limit=200".to_owned(),
        ];
        all.extend(seen(api, &self.admin, &paths).await);
        all
    }
}

/// What `key` sees at each of `paths` (each must answer 200), to compare before and after;
/// keys' `last_used_at`, which every request moves, is left out.
pub async fn seen(api: &Client, key: &str, paths: &[String]) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in paths {
        let answer = api.get(path, key).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        let mut body = answer.body;
        if let Some(keys) = body["data"].as_array_mut() {
            for key in keys {
                key.as_object_mut().map(|k| k.remove("last_used_at"));
            }
        }
        seen.push(body);
    }
    seen
}

/// The operations `/openapi.json` lists, as `(method, path, operation)`.
pub async fn operations(api: &Client) -> Vec<(String, String, Value)> {
    let spec = api.get("/openapi.json", "").await.body;
    let mut all = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            all.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    all
}
