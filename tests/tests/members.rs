//! Team members through the real binary, on both backends: members are added with their
//! roles and keys; a member's key can do what the role allows and no more; a new role applies
//! to the member's keys at once; only an owner (or a key of the tenant) manages owners and
//! admins; the last owner stays; removing a member revokes their keys; the audit log names the
//! member; another tenant sees none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::audience::send_json;
use common::client::Client;
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::{Value, json};

const FLOW: &str = "id: hello\npurpose: transactional\ntrigger: {event: lead.created}\nsteps:\n  - notify: {text: hi}\n";

async fn add(api: &Client, key: &str, name: &str, email: &str, role: &str) -> (StatusCode, Value) {
    let body = json!({"name": name, "email": email, "role": role});
    let answer = api.post("/v1/members", key, &body).await;
    (answer.status, answer.body)
}

async fn key_of(api: &Client, admin: &str, member: &str) -> String {
    let made = api
        .post(&format!("/v1/members/{member}/keys"), admin, &json!({}))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["member_id"], member, "{}", made.body);
    made.body["key"].as_str().unwrap().to_owned()
}

async fn team(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let tenant_key = api.tenant("clinic").await;

    let (status, owner) = add(&api, &tenant_key, "Maria", "maria@clinic.example", "owner").await;
    assert_eq!(status, StatusCode::CREATED, "{owner}");
    let owner_id = owner["id"].as_str().unwrap().to_owned();
    let (status, admin) = add(&api, &tenant_key, "Ana", "ana@clinic.example", "admin").await;
    assert_eq!(status, StatusCode::CREATED, "{admin}");
    let admin_id = admin["id"].as_str().unwrap().to_owned();
    let (status, agent) = add(&api, &tenant_key, "Sam", "sam@clinic.example", "agent").await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let agent_id = agent["id"].as_str().unwrap().to_owned();
    let (status, repeated) = add(&api, &tenant_key, "Sam 2", "SAM@clinic.example", "viewer").await;
    assert_eq!(
        (status, repeated["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (status, bad) = add(&api, &tenant_key, "X", "not an email", "viewer").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");

    let owner_key = key_of(&api, &tenant_key, &owner_id).await;
    let admin_key = key_of(&api, &owner_key, &admin_id).await;
    let agent_key = key_of(&api, &admin_key, &agent_id).await;

    // An agent reads, and writes nothing.
    assert_eq!(api.get("/v1/runs", &agent_key).await.status, StatusCode::OK);
    let publish = api.yaml(Method::POST, "/v1/flows", &agent_key, FLOW).await;
    assert_eq!(publish.status, StatusCode::FORBIDDEN, "{}", publish.body);
    // An admin member manages agents and viewers, not owners and admins.
    let (status, _) = add(&api, &admin_key, "Lee", "lee@clinic.example", "viewer").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, refused) = add(&api, &admin_key, "Kim", "kim@clinic.example", "owner").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let promote = json!({"role": "admin"});
    let path = format!("/v1/members/{agent_id}");
    let refused = send_json(&api, Method::PATCH, &path, &admin_key, &promote).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let made = api
        .post(
            &format!("/v1/members/{owner_id}/keys"),
            &admin_key,
            &json!({}),
        )
        .await;
    assert_eq!(made.status, StatusCode::FORBIDDEN, "{}", made.body);

    // The owner promotes the agent: their key is an admin's at once.
    let promoted = send_json(&api, Method::PATCH, &path, &owner_key, &promote).await;
    assert_eq!(promoted.body["role"], "admin", "{}", promoted.body);
    let publish = api.yaml(Method::POST, "/v1/flows", &agent_key, FLOW).await;
    assert_eq!(publish.status, StatusCode::CREATED, "{}", publish.body);

    // The last owner stays.
    let demote = json!({"role": "admin"});
    let owner_path = format!("/v1/members/{owner_id}");
    let kept = send_json(&api, Method::PATCH, &owner_path, &owner_key, &demote).await;
    assert_eq!(kept.status, StatusCode::CONFLICT, "{}", kept.body);
    let kept = api.delete(&owner_path, &tenant_key).await;
    assert_eq!(kept.status, StatusCode::CONFLICT, "{}", kept.body);

    // The audit log names the member who acted.
    let audit = api.get("/v1/audit?limit=50", &tenant_key).await.body;
    let published = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "flow.publish")
        .unwrap();
    assert_eq!(published["actor"], agent_id.as_str(), "{published}");

    // Removing a member revokes their keys.
    let removed = api.delete(&path, &owner_key).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_eq!(
        api.get("/v1/runs", &agent_key).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.get(&path, &owner_key).await.status,
        StatusCode::NOT_FOUND
    );
    let keys = api.get("/v1/keys", &tenant_key).await.body;
    let theirs: Vec<&Value> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["member_id"] == agent_id.as_str())
        .collect();
    assert!(
        theirs.len() == 1 && !theirs[0]["revoked_at"].is_null(),
        "{keys}"
    );

    // Another tenant sees none of it.
    let other = api.tenant("salon").await;
    assert_eq!(
        api.get(&owner_path, &other).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.get("/v1/members", &other).await.body["data"], json!([]));
    let made = api
        .post(&format!("/v1/members/{owner_id}/keys"), &other, &json!({}))
        .await;
    assert_eq!(made.status, StatusCode::NOT_FOUND, "{}", made.body);
    let listed = api.get("/v1/members", &tenant_key).await.body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3, "{listed}");
}

common::place::on_both_backends!(
    team,
    "members",
    a_team_works_on_sqlite,
    a_team_works_on_postgres
);
