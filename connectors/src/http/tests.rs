//! The http connector against a server on 127.0.0.1: headers, body, and status classes.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::json;
use stepwise_engine::model::Purpose;
use stepwise_engine::ports::{ActionRequest, CallCx, Connector, ConnectorError};

use super::Http;

type Seen = Arc<Mutex<Vec<(String, String)>>>;

async fn sink() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = Router::new()
        .route(
            "/ok",
            post(move |headers: HeaderMap, body: String| {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                record.lock().unwrap().push((key, body));
                async { (StatusCode::OK, "{\"id\":\"x1\"}") }
            }),
        )
        .route(
            "/busy",
            post(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "7")],
                    "later",
                )
            }),
        )
        .route(
            "/bad",
            post(|| async { (StatusCode::UNPROCESSABLE_ENTITY, "no") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn request(url: String) -> ActionRequest {
    ActionRequest {
        connector: "http",
        action: "request".into(),
        payload: json!({ "method": "POST", "url": url, "headers": {"X-Test": "1"}, "body": {"n": 1}, "timeout_seconds": 5 }),
        message: None,
        purpose: Purpose::Transactional,
        idempotency_key: "run:step:1".into(),
        idempotent: true,
    }
}

fn cx() -> CallCx {
    CallCx {
        tenant_id: "t".into(),
        run_id: "r".into(),
        step_id: "s".into(),
    }
}

#[tokio::test]
async fn sends_the_body_with_the_idempotency_key_and_returns_the_response() {
    let (base, seen) = sink().await;
    let result = Http::new()
        .call(&request(format!("{base}/ok")), &cx())
        .await
        .unwrap();
    assert_eq!(result.output, json!({"status": 200, "body": {"id": "x1"}}));
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [("run:step:1".to_owned(), "{\"n\":1}".to_owned())]
    );
}

#[tokio::test]
async fn server_errors_retry_and_client_errors_do_not() {
    let (base, _) = sink().await;
    let busy = Http::new()
        .call(&request(format!("{base}/busy")), &cx())
        .await
        .unwrap_err();
    assert!(
        matches!(busy, ConnectorError::Retryable { retry_after: Some(d), .. } if d.as_secs() == 7),
        "{busy:?}"
    );
    let bad = Http::new()
        .call(&request(format!("{base}/bad")), &cx())
        .await
        .unwrap_err();
    assert!(
        matches!(bad, ConnectorError::Permanent { ref code, .. } if code == "422"),
        "{bad:?}"
    );
    let down = Http::new()
        .call(&request("http://127.0.0.1:9/nothing".into()), &cx())
        .await
        .unwrap_err();
    assert!(matches!(down, ConnectorError::Retryable { .. }), "{down:?}");
}
