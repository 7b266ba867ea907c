//! The http provider against a server on 127.0.0.1: the conformance kit, the idempotency key,
//! stored-credential authentication, and the SSRF guard.

use std::sync::Arc;

use serde_json::json;
use stepwise_core::{
    CallCx, HttpAuth, HttpAuthScheme, HttpCall, HttpMethod, ProviderSetting, Request, Response,
};

use super::Http;
use crate::outbound::{Guard, Outbound};
use crate::provider::{Env, Provider};
use crate::testing::{Answer, Case, Fake, MapVault, conformance, env};

fn call(base: &str) -> HttpCall {
    HttpCall {
        method: HttpMethod::Post,
        url: format!("{base}/hooks/crm?x=1"),
        headers: [("X-Test".to_owned(), "1".to_owned())].into(),
        body: Some(json!({"n": 1})),
        timeout_seconds: 1,
        auth: Some(HttpAuth {
            credential: "crm_token".into(),
            scheme: HttpAuthScheme::Bearer,
        }),
    }
}

#[tokio::test]
async fn http_meets_the_connector_contract() {
    conformance(Case {
        name: "http",
        make: |env| Arc::new(Http::new(env)),
        request: |base| Request::Http(call(base)),
        setting: ProviderSetting {
            provider: "http".into(),
            options: Default::default(),
        },
        credentials: vec![("crm_token", "crm-secret-value-42")],
        success: Answer::json(200, json!({"id": "x1"})),
        client_error: (Answer::json(422, json!({"error": "no"})), "422"),
        deduplicates: true,
    })
    .await;
}

#[tokio::test]
async fn sends_the_body_the_key_and_the_credential_and_returns_the_response() {
    let fake = Fake::start(Answer::json(200, json!({"id": "x1"}))).await;
    let http = Http::new(env(
        "http",
        &fake.base,
        MapVault::with("t1", &[("crm_token", "s3cret")]),
    ));
    let mut request = call(&fake.base);
    let cx = CallCx::bare("t1", "run", "step");
    let Response::Http(answer) = http
        .call(&Request::Http(request.clone()), &Default::default(), &cx)
        .await
        .unwrap()
    else {
        panic!("not an http answer")
    };
    assert_eq!(
        (answer.status, answer.body.clone()),
        (200, json!({"id": "x1"}))
    );
    let seen = &fake.seen()[0];
    assert_eq!(seen.headers["idempotency-key"], "run:step:1");
    assert_eq!(seen.headers["authorization"], "Bearer s3cret");
    assert_eq!(seen.headers["x-test"], "1");
    assert_eq!(seen.body, "{\"n\":1}");

    request.auth = Some(HttpAuth {
        credential: "crm_token".into(),
        scheme: HttpAuthScheme::Header("X-Api-Key".into()),
    });
    http.call(&Request::Http(request), &Default::default(), &cx)
        .await
        .unwrap();
    assert_eq!(fake.seen()[1].headers["x-api-key"], "s3cret");
}

#[tokio::test]
async fn the_guard_refuses_private_addresses_unless_the_operator_allows_them() {
    let fake = Fake::start(Answer::json(200, json!({}))).await;
    let strict = Arc::new(Env {
        outbound: Outbound::new(Guard::default()),
        vault: Arc::new(MapVault::default()),
        public_url: None,
        base_urls: Default::default(),
        links: None,
    });
    let http = Http::new(strict);
    let cx = CallCx::bare("t1", "run", "step");
    let port = fake.base.rsplit(':').next().unwrap().to_owned();
    for url in [
        fake.base.clone(),
        format!("http://localhost:{port}/"),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://10.0.0.1/".into(),
        "http://[::1]/".into(),
    ] {
        let mut request = call(&url);
        request.url = url.clone();
        request.auth = None;
        let err = http
            .call(&Request::Http(request), &Default::default(), &cx)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                stepwise_core::ConnectorError::Permanent { .. }
                    | stepwise_core::ConnectorError::Retryable { .. }
            ),
            "{url}: {err:?}"
        );
        assert!(
            err.to_string().contains("not public") || err.to_string().contains("not a public"),
            "{url}: {err}"
        );
    }
    assert!(
        fake.seen().is_empty(),
        "nothing reached the private address"
    );
}
