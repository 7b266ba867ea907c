//! Helpers for the audience and campaign tests: importing a CSV and waiting for it, polling a
//! campaign, and a time zone where it is a given hour now.

use std::time::Duration;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::Value;

use super::client::{Answer, Client};

/// A POSIX zone where it is now `hour` o'clock (give or take the minutes).
pub fn zone_at(hour: i32) -> String {
    let utc_hour = i32::from(
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .hour(),
    );
    let mut offset = hour - utc_hour;
    if offset > 14 {
        offset -= 24;
    }
    if offset < -12 {
        offset += 24;
    }
    match offset {
        0 => "Etc/GMT".to_owned(),
        n if n > 0 => format!("Etc/GMT-{n}"),
        n => format!("Etc/GMT+{}", -n),
    }
}

pub async fn send_json(
    api: &Client,
    method: Method,
    path: &str,
    key: &str,
    body: &Value,
) -> Answer {
    api.send(method, path, key, "application/json", body.to_string())
        .await
}

/// Imports `file` (CSV) with `query` and waits until it is imported.
pub async fn import(api: &Client, key: &str, query: &str, file: String) {
    let path = format!("/v1/imports{query}");
    let accepted = api.send(Method::POST, &path, key, "text/csv", file).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap();
    api.get_within(
        &format!("/v1/imports/{id}"),
        key,
        Duration::from_secs(10),
        |i| i["status"] == "completed",
    )
    .await;
}

/// Polls the campaign until `done` holds (within 2 minutes: a restarted server takes over a
/// campaign only once its lease lapses, and CI runs many servers at once).
pub async fn campaign_until(
    api: &Client,
    key: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/v1/campaigns/{id}");
    api.get_within(&path, key, Duration::from_secs(120), done)
        .await
}
