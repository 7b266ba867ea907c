//! Bad input, on the real binary: each malformed request gets its documented 4xx and error
//! code, and changes nothing (all the tenant and the operator can see is equal before and
//! after). (`api_bad_bodies.rs` sends every route with a body the same bad bodies.) Also the
//! per-tenant rate limit (429 with `Retry-After`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::fixture::Tenant;
use common::place::Place;
use common::start_server_with;
use reqwest::Method;
use serde_json::json;

const BROKEN_FLOW: &str = "id: broken
trigger: {event: lead.created}
steps:
  - id: hello
    send_sms: {body: 'hi', colour: red}
  - id: nap
    wait: {for: soon}
";

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let place = Place::sqlite("bad-input");
    let (dir, backend) = (&place.dir, &place.backend);
    let (mut server, base) = start_server_with(dir, backend, "all", &[]);
    let api = Client::new(&base);
    let tenant = Tenant::create(&api, "acme").await;
    let key = tenant.admin.clone();
    let before = tenant.snapshot(&api).await;

    let json = "application/json";
    let cases: Vec<(Method, &str, &str, String, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/v1/events",
            json,
            "{\"type\": ".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            Method::POST,
            "/v1/events",
            "text/plain",
            "{}".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Method::POST,
            "/v1/events",
            "",
            "{}".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Method::POST,
            "/v1/events",
            json,
            json!({"type": "x", "contact_id": "c", "colour": 1}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/events",
            json,
            json!({"type": 5, "contact_id": "c"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/events",
            json,
            json!({"type": "x.test", "contact": {"phone": "12"}}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_contact",
        ),
        (
            Method::POST,
            "/v1/events",
            json,
            json!({"type": "x"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            Method::POST,
            "/v1/events",
            json,
            json!({"type": "Lead.Created", "contact_id": "c"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            Method::POST,
            "/v1/events/batch",
            json,
            json!({"events": [{"type": "x.test", "contact_id": "c"}, {"type": ""}]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
        (
            Method::POST,
            "/v1/contacts",
            json,
            json!({"phone": "030 901820"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_contact",
        ),
        (
            Method::POST,
            "/v1/contacts",
            json,
            json!({"email": "not an email"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_contact",
        ),
        (
            Method::POST,
            "/v1/flows",
            "application/yaml",
            BROKEN_FLOW.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_definition",
        ),
        (
            Method::POST,
            "/v1/flows",
            "application/yaml",
            "id: [unclosed".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_definition",
        ),
        (
            Method::POST,
            "/v1/flows",
            json,
            "{\"id\": ".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            Method::POST,
            "/v1/flows",
            "text/csv",
            "id,x".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Method::GET,
            "/v1/runs?cursor=zzzz",
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            Method::GET,
            "/v1/contacts?cursor=abc",
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            Method::GET,
            "/v1/runs?limit=1000",
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            Method::GET,
            "/v1/runs?limit=99999999999999",
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/runs?limit=0",
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            Method::GET,
            "/v1/runs?status=asleep",
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/runs?colour=red",
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/runs/not-a-run",
            "",
            String::new(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/flows/x/versions/nine",
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        (
            Method::PATCH,
            "/v1/settings",
            json,
            json!({"timezone": "Mars/Olympus"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_settings",
        ),
        (
            Method::PATCH,
            "/v1/settings",
            json,
            json!({"quiet_hours": {"start": "25:00"}}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_settings",
        ),
        (
            Method::POST,
            "/v1/keys",
            json,
            json!({"name": "ci", "role": "root"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Method::PUT,
            "/v1/settings/credentials/Bad-Name",
            json,
            json!({"value": "x"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
    ];
    for (method, path, content_type, body, status, code) in cases {
        let answer = api
            .send(method.clone(), path, &key, content_type, body)
            .await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        assert_eq!(answer.code(), code, "{method} {path}: {}", answer.body);
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    let (status, body) = common::client::oversized(&base, "POST", "/v1/events", &key).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"body_too_large\""), "{body}");

    // Unknown routes and methods answer in the error shape too.
    let nowhere = api.get("/v1/nowhere", &key).await;
    assert_eq!(
        (nowhere.status, nowhere.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let wrong = api.send(Method::DELETE, "/v1/runs", &key, "", "").await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );

    // A flow with several mistakes reports every one, each with line, column and path.
    let answer = api
        .yaml(Method::POST, "/v1/flows/validate", &key, BROKEN_FLOW)
        .await;
    let diagnostics = answer.body["error"]["details"]["diagnostics"]
        .as_array()
        .unwrap()
        .clone();
    assert!(diagnostics.len() >= 2, "{}", answer.body);
    for d in &diagnostics {
        assert!(
            d["line"].as_u64().unwrap() > 0 && d["column"].as_u64().unwrap() > 0,
            "{d}"
        );
        assert!(
            d["path"].as_str().is_some_and(|p| p.starts_with("steps")),
            "{d}"
        );
    }
    // An unknown tenant setting, an unknown time zone: the operator gets 422 too.
    let bad_tenant = api
        .post(
            "/v1/tenants",
            common::OPERATOR_KEY,
            &json!({"name": "X", "timezone": "Nowhere/City"}),
        )
        .await;
    assert_eq!(bad_tenant.code(), "invalid_tenant", "{}", bad_tenant.body);
    // A business without a time zone is refused, never run on UTC quiet hours.
    let zoneless = api
        .post(
            "/v1/tenants",
            common::OPERATOR_KEY,
            &json!({"name": "Chicago Dental"}),
        )
        .await;
    assert_eq!(
        zoneless.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        zoneless.body
    );
    assert!(
        zoneless.body.to_string().contains("timezone"),
        "{}",
        zoneless.body
    );
    assert_eq!(tenant.snapshot(&api).await, before, "nothing changed");

    // An opt-out is the contact's to take back, not an operator's.
    let opted = api
        .post(
            "/v1/contacts",
            &key,
            &json!({"id": "optout", "phone": "+15125550177", "sms_opt_out": true}),
        )
        .await;
    assert_eq!(opted.status, StatusCode::CREATED, "{}", opted.body);
    let cleared = api
        .send(
            Method::PATCH,
            "/v1/contacts/optout",
            &key,
            json,
            json!({"sms_opt_out": false}).to_string(),
        )
        .await;
    assert_eq!(
        (cleared.status, cleared.code()),
        (StatusCode::CONFLICT, "opt_out_locked")
    );
    let upserted = api
        .post(
            "/v1/contacts/upsert",
            &key,
            &json!({"phone": "+15125550177", "sms_opt_out": false}),
        )
        .await;
    assert_eq!(upserted.body["sms_opt_out"], true, "{}", upserted.body);
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // The rate limit: 2 requests per second per tenant with bursts of 4.
    let (mut server, base) =
        start_server_with(dir, backend, "all", &[("STEPWISE_RATE_LIMIT", "2")]);
    let api = Client::new(&base);
    let mut limited = None;
    for _ in 0..20 {
        let answer = api.get("/v1/flows", &key).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("the 20th request in a burst is limited");
    assert_eq!(limited.code(), "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let other = api.tenant("other").await;
    assert_eq!(
        api.get("/v1/flows", &other).await.status,
        StatusCode::OK,
        "other tenants are not limited"
    );
    // Made-up keys share one bucket: a flood of them is answered 429, not with lookups.
    let mut flood = Vec::new();
    for n in 0..20 {
        flood.push(
            api.get("/v1/flows", &format!("swk_made-up-{n}"))
                .await
                .status,
        );
    }
    assert!(flood.contains(&StatusCode::TOO_MANY_REQUESTS), "{flood:?}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    place.finish().await;
}
