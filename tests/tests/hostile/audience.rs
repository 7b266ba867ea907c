//! The hostile tenant's attacks on audiences and campaigns: CSV files over the size and column
//! limits, an upload abandoned mid-file, a file whose bad cells would overflow the row report,
//! a second import beside a running one, segments past their limits, a campaign at the
//! highest rate over thousands of contacts, and more campaigns at once than a tenant may run. `hostile.rs` runs them while the victim tenant is
//! served.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::common::audience::{campaign_until, send_json, zone_at};
use crate::common::client::{Answer, Client, oversized_as};

/// Good and bad rows of the big file: the bad cells are more than the report keeps.
const GOOD_ROWS: usize = 3_000;
const BAD_ROWS: usize = 12_000;
const REPORT_CAP: usize = 10_000;

async fn upload(api: &Client, key: &str, file: String) -> Answer {
    api.send(Method::POST, "/v1/imports", key, "text/csv", file)
        .await
}

/// Polls the import until it has ended.
async fn finished(api: &Client, key: &str, id: &str) -> serde_json::Value {
    let path = format!("/v1/imports/{id}");
    api.get_within(&path, key, Duration::from_secs(180), |i| {
        matches!(i["status"].as_str(), Some("completed" | "failed"))
    })
    .await
}

/// Starts a 10 MiB upload, writes its first megabyte and hangs up.
async fn abandon_upload(api: &Client, key: &str) {
    let address = api.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/imports HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {key}\r\n\
         content-type: text/csv\r\ncontent-length: {}\r\n\r\nName,Mobile\n",
        10 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut rows = String::new();
    for i in 0..40_000 {
        rows.push_str(&format!("Gone{i},(512) 556-{:04}\n", i % 10_000));
    }
    stream.write_all(rows.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    drop(stream);
}

/// Files over the limits are refused; an abandoned upload does not block the next import;
/// a file with more bad cells than the report keeps is imported with the report capped;
/// a second import beside a running one is 409.
pub async fn import_limits(api: &Client, mallory: &str) {
    let (status, body) = oversized_as(
        &api.base,
        "POST",
        "/v1/imports",
        mallory,
        "text/csv",
        65 << 20,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    let wide: Vec<String> = (0..=200).map(|i| format!("c{i}")).collect();
    let refused = upload(
        api,
        mallory,
        format!("Mobile,{}\n+15125550100\n", wide.join(",")),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_import"),
        "{}",
        refused.body
    );

    // An upload the client hangs up on is discarded: the next import is taken at once.
    abandon_upload(api, mallory).await;
    let mut file = String::from("Name,Mobile,Tags\n");
    for i in 0..GOOD_ROWS + BAD_ROWS {
        if i % 5 == 0 && i / 5 < GOOD_ROWS {
            file.push_str(&format!("Guest{i},(512) 557-{:04},hostile\n", i / 5));
        } else {
            file.push_str(&format!("Bad{i},555-{i},hostile\n"));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut retry = tokio::time::interval(Duration::from_millis(100));
    let accepted = loop {
        retry.tick().await;
        let answer = upload(api, mallory, file.clone()).await;
        if answer.status != StatusCode::CONFLICT {
            break answer;
        }
        // The hang-up reaches the server when it next reads the body.
        assert!(
            Instant::now() < deadline,
            "the abandoned upload still blocks imports"
        );
    };
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();

    let second = upload(api, mallory, "Name,Mobile\nOne,(512) 558-0001\n".into()).await;
    let first = api.get(&format!("/v1/imports/{id}"), mallory).await.body;
    if first["status"] == "completed" {
        assert!(second.status.is_success(), "{}", second.body);
    } else {
        assert_eq!(
            (second.status, second.code()),
            (StatusCode::CONFLICT, "import_busy"),
            "{}",
            second.body
        );
    }

    let done = finished(api, mallory, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["created"], GOOD_ROWS, "{done}");
    assert_eq!(done["counts"]["failed"], BAD_ROWS, "{done}");
    let report = api
        .http
        .get(format!("{}/v1/imports/{id}/report.csv", api.base))
        .bearer_auth(mallory)
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    let lines = report.text().await.unwrap().lines().count();
    assert_eq!(
        lines,
        REPORT_CAP + 1,
        "the report keeps its first {REPORT_CAP} rows"
    );
}

/// Segments past their limits are refused where they are written.
pub async fn segment_limits(api: &Client, mallory: &str) {
    let conditions: Vec<String> = (0..=50).map(|i| format!("t{i}")).collect();
    let wide = json!({"filter": {"tags_any": conditions}});
    let refused = send_json(api, Method::PUT, "/v1/segments/wide", mallory, &wide).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_segment"),
        "{}",
        refused.body
    );
    let one = json!({"filter": {"tags_all": ["hostile"]}});
    for n in 0..100 {
        let saved = send_json(
            api,
            Method::PUT,
            &format!("/v1/segments/s{n}"),
            mallory,
            &one,
        )
        .await;
        assert!(saved.status.is_success(), "{}", saved.body);
    }
    let over = send_json(api, Method::PUT, "/v1/segments/s100", mallory, &one).await;
    assert_eq!(
        (over.status, over.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_segment"),
        "{}",
        over.body
    );
}

const FLOOD_FLOW: &str = "id: flood
trigger: {manual: true}
purpose: marketing
steps:
  - id: offer
    send_sms: {body: 'Everything must go. Reply STOP to opt out.'}
";

/// A campaign at the highest rate to every imported contact runs to its end (the victim is
/// probed meanwhile); a rate above the highest is refused.
pub async fn campaign_flood(api: &Client, mallory: &str) {
    // Midday for its contacts, so none is held for the morning.
    let noon = json!({"timezone": zone_at(12)});
    let patched = send_json(api, Method::PATCH, "/v1/settings", mallory, &noon).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let flow = api
        .yaml(Method::POST, "/v1/flows", mallory, FLOOD_FLOW)
        .await;
    assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.body);
    let mut body = json!({"name": "Flood", "flow_id": "flood", "audience": {"tag": "hostile"},
        "per_second": 1001});
    let refused = api.post("/v1/campaigns", mallory, &body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_campaign"),
        "{}",
        refused.body
    );
    body["per_second"] = json!(1000);
    let made = api.post("/v1/campaigns", mallory, &body).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let launched = api
        .post(&format!("/v1/campaigns/{id}/launch"), mallory, &json!({}))
        .await;
    assert_eq!(launched.status, StatusCode::OK, "{}", launched.body);
    let done = campaign_until(api, mallory, &id, |c| {
        c["campaign"]["status"] == "completed"
    })
    .await;
    assert_eq!(done["campaign"]["counts"]["enrolled"], GOOD_ROWS, "{done}");

    // At most ten campaigns scheduled or running at once: dispatchers take turns per campaign.
    let tomorrow = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let later = json!({"name": "Later", "flow_id": "flood", "audience": {"tag": "hostile"},
        "per_second": 1, "start_at": tomorrow.to_string()});
    let mut launched = Vec::new();
    for n in 0..=10 {
        let made = api.post("/v1/campaigns", mallory, &later).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let id = made.body["id"].as_str().unwrap().to_owned();
        let answer = api
            .post(&format!("/v1/campaigns/{id}/launch"), mallory, &json!({}))
            .await;
        if n < 10 {
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            launched.push(id);
        } else {
            assert_eq!(
                (answer.status, answer.code()),
                (StatusCode::CONFLICT, "conflict"),
                "{}",
                answer.body
            );
        }
    }
    for id in launched {
        let cancelled = api
            .post(&format!("/v1/campaigns/{id}/cancel"), mallory, &json!({}))
            .await;
        assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    }
}
