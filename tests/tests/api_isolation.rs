//! Tenants kept apart, on the real binary: for every route, tenant A's admin key reaches none
//! of tenant B's objects (404, and B's objects are unchanged); a revoked key is refused (401).
//! (Each route's role is checked in `api_access.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::{Value, json};

const FLOW: &str = "id: private
purpose: transactional
trigger: {event: lead.created}
steps:
  - id: hello
    send_sms: {body: 'Hi there'}
  - id: later
    wait: {for: 1h}
";

/// Tenant B's objects: a flow, a contact, a sleeping run that sent a message, a failed run
/// (a dead letter), a key.
struct Objects {
    contact: String,
    run: String,
    failed: String,
    key_id: String,
}

async fn tenant_b(api: &Client, admin: &str) -> Objects {
    api.yaml(Method::POST, "/v1/flows", admin, FLOW).await;
    // The server's own /healthz refuses a POST (405): the call fails for good.
    let doomed = format!(
        "id: doomed\ntrigger: {{event: payment.received}}\nsteps:\n  - id: notify\n    http: {{url: '{}/healthz', body: {{n: '1'}}}}\n",
        api.base
    );
    api.yaml(Method::POST, "/v1/flows", admin, &doomed).await;
    let accepted = api
        .post(
            "/v1/events",
            admin,
            &json!({"type": "lead.created", "contact": {"id": "b-ana", "phone": "+15125550111"}}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let (_, key_id) = api.key(admin, "viewer").await;
    api.send(
        Method::PUT,
        "/v1/settings/credentials/twilio_auth_token",
        admin,
        "application/json",
        json!({"value": "b-secret-token-9876"}).to_string(),
    )
    .await;
    let suppressed = api
        .post(
            "/v1/suppressions",
            admin,
            &json!({"channel": "sms", "address": "+15125550177", "reason": "do not call"}),
        )
        .await;
    assert_eq!(
        suppressed.status,
        StatusCode::CREATED,
        "{}",
        suppressed.body
    );
    let run = accepted.body["started"][0].as_str().unwrap().to_owned();
    let paid = json!({"type": "payment.received", "contact_id": "b-ana"});
    let paid = api.post("/v1/events", admin, &paid).await;
    let failed = paid.body["started"][0].as_str().unwrap().to_owned();
    // Settled before the "before" snapshot: a worker moving them would look like A's doing.
    api.run_until(admin, &run, |r| r["run"]["status"] == "sleeping")
        .await;
    api.run_until(admin, &failed, |r| r["run"]["status"] == "failed")
        .await;
    assert_eq!(api.count("/v1/messages", admin).await, 1);
    assert_eq!(api.count("/v1/dead-letters", admin).await, 1);
    Objects {
        contact: "b-ana".into(),
        run,
        failed,
        key_id,
    }
}

/// Everything B can see about its objects, to compare before and after A's attempts.
async fn snapshot(api: &Client, b: &str, o: &Objects) -> Vec<Value> {
    let paths = [
        "/v1/flows/private".to_owned(),
        "/v1/flows/private/versions".to_owned(),
        format!("/v1/contacts/{}", o.contact),
        format!("/v1/runs/{}", o.run),
        "/v1/keys".to_owned(),
        "/v1/settings".to_owned(),
        "/v1/contacts".to_owned(),
        "/v1/runs".to_owned(),
        format!("/v1/runs/{}/messages", o.run),
        "/v1/messages".to_owned(),
        "/v1/dead-letters".to_owned(),
        "/v1/suppressions".to_owned(),
        // An action of A's recorded in B's log would show here.
        "/v1/audit?limit=200".to_owned(),
    ];
    common::fixture::seen(api, b, &paths).await
}

async fn tenants_are_isolated(backend: &Backend, dir: &std::path::Path) {
    let (mut server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let a = api.tenant("tenant-a").await;
    let b = api.tenant("tenant-b").await;
    let objects = tenant_b(&api, &b).await;
    let before = snapshot(&api, &b, &objects).await;

    let (o, flow) = (&objects, "/v1/flows/private");
    let reads = [
        flow.to_owned(),
        format!("{flow}/versions"),
        format!("{flow}/versions/1"),
        format!("/v1/contacts/{}", o.contact),
        format!("/v1/runs/{}", o.run),
        format!("/v1/runs/{}/messages", o.run),
        format!("/v1/runs/{}", o.failed),
    ];
    for path in &reads {
        let answer = api.get(path, &a).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "GET {path}: {}",
            answer.body
        );
        assert_eq!(answer.code(), "not_found");
    }
    let empty = json!({});
    let writes: Vec<(Method, String, Value)> = vec![
        (Method::POST, format!("{flow}/enable"), empty.clone()),
        (Method::POST, format!("{flow}/disable"), empty.clone()),
        (Method::POST, format!("{flow}/archive"), empty.clone()),
        (
            Method::POST,
            format!("{flow}/simulate"),
            json!({"event": {"type": "lead.created"}}),
        ),
        (
            Method::POST,
            format!("{flow}/enroll"),
            json!({"contact_ids": [o.contact]}),
        ),
        (
            Method::PATCH,
            format!("/v1/contacts/{}", o.contact),
            json!({"first_name": "Eve"}),
        ),
        (
            Method::DELETE,
            format!("/v1/contacts/{}", o.contact),
            empty.clone(),
        ),
        (
            Method::POST,
            format!("/v1/runs/{}/cancel", o.run),
            empty.clone(),
        ),
        (
            Method::POST,
            format!("/v1/runs/{}/retry", o.failed),
            empty.clone(),
        ),
        (
            Method::DELETE,
            format!("/v1/keys/{}", o.key_id),
            empty.clone(),
        ),
        (
            Method::DELETE,
            "/v1/settings/credentials/twilio_auth_token".into(),
            empty.clone(),
        ),
    ];
    for (method, path, body) in &writes {
        let answer = api
            .send(
                method.clone(),
                path,
                &a,
                "application/json",
                body.to_string(),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            answer.body
        );
    }
    let put = api.yaml(Method::PUT, flow, &a, FLOW).await;
    assert_eq!(
        put.status,
        StatusCode::NOT_FOUND,
        "PUT {flow}: {}",
        put.body
    );
    // An event naming B's contact by id does not reach it.
    let event = json!({"type": "lead.created", "contact_id": o.contact});
    let answer = api.post("/v1/events", &a, &event).await;
    assert_eq!(answer.code(), "unknown_contact", "{}", answer.body);
    // A's lists hold none of B's objects; B's are unchanged.
    for list in [
        "/v1/flows",
        "/v1/contacts",
        "/v1/runs",
        "/v1/messages",
        "/v1/dead-letters",
        "/v1/suppressions",
    ] {
        assert_eq!(api.count(list, &a).await, 0, "{list}");
    }
    // A suppresses B's suppressed number on its own list: new there, B's list unchanged.
    let own = api
        .post(
            "/v1/suppressions",
            &a,
            &json!({"channel": "sms", "address": "+15125550177"}),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    // A's audit log and key list hold only A's own entries and keys.
    let audit = api.get("/v1/audit?limit=200", &a).await.body.to_string();
    assert!(
        !audit.contains("tenant-b") && !audit.contains(&o.key_id),
        "{audit}"
    );
    let keys = api.get("/v1/keys", &a).await.body;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1, "{keys}");
    // A flow of A's own with B's flow id is A's: B's flow is untouched (checked below).
    let own = api.yaml(Method::POST, "/v1/flows", &a, FLOW).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    // A batch naming B's contact reaches nothing.
    let batch = json!({"events": [{"type": "lead.created", "contact_id": o.contact}]});
    let answer = api.post("/v1/events/batch", &a, &batch).await;
    assert_eq!(
        answer.body["results"][0]["error"]["code"], "unknown_contact",
        "{}",
        answer.body
    );
    let settings = api.get("/v1/settings", &a).await;
    assert_eq!(settings.body["credentials"], json!({}));
    assert_eq!(snapshot(&api, &b, &objects).await, before);

    // A revoked key is refused at once; an unknown one too; the operator key is no tenant key.
    let revoked = api
        .send(
            Method::DELETE,
            &format!("/v1/keys/{}", o.key_id),
            &b,
            "",
            "",
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let (doomed, doomed_id) = api.key(&b, "editor").await;
    api.send(Method::DELETE, &format!("/v1/keys/{doomed_id}"), &b, "", "")
        .await;
    for key in [doomed.as_str(), "swk_not-a-key", common::OPERATOR_KEY] {
        let answer = api.get("/v1/flows", key).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        assert_eq!(answer.code(), "unauthorized");
    }
    let no_key = api
        .http
        .get(format!("{base}/v1/flows"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    // A tenant key cannot act as the operator.
    let answer = api
        .post("/v1/tenants", &a, &json!({"name": "Mallory"}))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // The operator can mint a new admin key for a tenant that lost its own.
    let minted = api
        .post(
            "/v1/tenants/tenant-b/keys",
            common::OPERATOR_KEY,
            &json!({}),
        )
        .await;
    assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.body);
    let minted_key = minted.body["key"].as_str().unwrap();
    assert_eq!(
        api.get("/v1/audit", minted_key).await.status,
        StatusCode::OK
    );
    let nobody = api
        .post(
            "/v1/tenants/no-such-tenant/keys",
            common::OPERATOR_KEY,
            &json!({}),
        )
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    // Keys are listed by prefix only: no key or digest is ever answered.
    let keys = api.get("/v1/keys", &b).await.body.to_string();
    assert!(
        !keys.contains(&doomed) && !keys.contains("digest"),
        "{keys}"
    );

    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

common::place::on_both_backends!(
    tenants_are_isolated,
    "isolation",
    tenants_are_isolated_on_sqlite,
    tenants_are_isolated_on_postgres
);
