//! Every route that takes a body refuses a bad one and changes nothing, on the real binary,
//! on SQLite and on PostgreSQL + Redis: for each operation of `/openapi.json` with a request
//! body, a malformed JSON body (400), a JSON value of the wrong type and an object with an
//! unknown field (422), a body of another content type (415) and one over the size limit
//! (413). The paths name the tenant's real objects, so a body that got through would show in
//! the before/after snapshot. (`api_bad_input.rs` checks each route's own mistakes.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::{Client, oversized, oversized_as};
use common::fixture::{Tenant, operations};
use common::{Backend, OPERATOR_KEY, start_server};
use reqwest::Method;
use serde_json::json;

async fn bad_bodies_are_refused(backend: &Backend, dir: &std::path::Path) {
    let (mut server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let tenant = Tenant::create(&api, "bodies").await;
    let before = tenant.snapshot(&api).await;

    let mut checked = 0;
    for (method, path, op) in operations(&api).await {
        // A webhook's body is the provider's own format, checked by its signature first; an
        // unsubscribe link's is a mail client's form, and its token is what counts.
        if op["requestBody"].is_null()
            || path.starts_with("/hooks/")
            || path.starts_with("/unsubscribe/")
        {
            continue;
        }
        let key = if path.starts_with("/v1/tenants") {
            OPERATOR_KEY
        } else {
            tenant.admin.as_str()
        };
        let path = tenant.concrete(&path);
        let json = "application/json";
        // A file upload takes CSV: JSON is the wrong type, and a file naming no one is 422.
        let csv = !op["requestBody"]["content"]["text/csv"].is_null();
        let cases = if csv {
            [
                (json, "{,", StatusCode::UNSUPPORTED_MEDIA_TYPE),
                (json, "[1, 2]", StatusCode::UNSUPPORTED_MEDIA_TYPE),
                (
                    "application/xml",
                    "<a/>",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ),
                ("text/csv", "a,b", StatusCode::UNPROCESSABLE_ENTITY),
            ]
        } else {
            [
                (json, "{,", StatusCode::BAD_REQUEST),
                (json, "[1, 2]", StatusCode::UNPROCESSABLE_ENTITY),
                (
                    json,
                    "{\"no_such_field\": 1}",
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
                ("text/csv", "a,b", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ]
        };
        for (content_type, body, status) in cases {
            let m: Method = method.parse().unwrap();
            let answer = api.send(m, &path, key, content_type, body).await;
            assert_eq!(
                answer.status, status,
                "{method} {path} with {body}: {}",
                answer.body
            );
            assert!(
                !answer.code().is_empty(),
                "{method} {path}: {}",
                answer.body
            );
        }
        let (status, answer) = if csv {
            oversized_as(&base, &method, &path, key, "text/csv", 65 << 20).await
        } else {
            oversized(&base, &method, &path, key).await
        };
        assert_eq!(status, 413, "{method} {path}: {answer}");
        assert!(answer.contains("\"body_too_large\""), "{answer}");
        checked += 1;
    }
    assert!(checked >= 15, "{checked} operations with a body");

    // A batch holds at most 1,000 events; none of a larger one is stored.
    let event = json!({"type": "lead.created", "contact_id": tenant.contact});
    let batch = json!({ "events": vec![event; 1001] });
    let answer = api.post("/v1/events/batch", &tenant.admin, &batch).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        "{}",
        answer.body
    );
    assert_eq!(tenant.snapshot(&api).await, before, "nothing changed");

    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

common::place::on_both_backends!(
    bad_bodies_are_refused,
    "bodies",
    bad_bodies_are_refused_on_sqlite,
    bad_bodies_are_refused_on_postgres
);
