//! Contacts in bulk through the real binary, on both backends: a CSV import with malformed
//! and repeated rows (counts, the row report as JSON and CSV, re-uploading the same file
//! changing nothing, all-or-nothing refusing a file with one bad row), segments over the
//! imported contacts (live count, members, `?segment=` and `?tag=`), another tenant seeing
//! none of it, and an import that survives a SIGKILL of its server mid-file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::client::{Answer, Client};
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::{Value, json};

const CSV: &str = "text/csv";

/// A file of `rows` customers; every 50th row (from the 8th) has a bad phone and email, and
/// the last row repeats the first's phone.
fn customers(rows: usize) -> String {
    let mut file = String::from("First Name,Last Name,Mobile,E-mail,Tags,Visits\n");
    for i in 0..rows {
        if i % 50 == 7 {
            file.push_str(&format!("Bad,Row,555-01{i},bad at mail,x,1\n"));
        } else {
            file.push_str(&format!(
                "Ana{i},Diaz,(512) 55{:05},ana{i}@example.com,vip;spring,{}\n",
                i,
                i % 10
            ));
        }
    }
    file.push_str("Dup,Row,(512) 5500000,dup@example.com,,1\n");
    file
}

fn bad_rows(rows: usize) -> usize {
    (0..rows).filter(|i| i % 50 == 7).count()
}

async fn upload(api: &Client, key: &str, query: &str, file: &str) -> Answer {
    api.send(
        Method::POST,
        &format!("/v1/imports{query}"),
        key,
        CSV,
        file.to_owned(),
    )
    .await
}

/// Polls the import until it is completed or failed.
async fn finished(api: &Client, key: &str, id: &str) -> Value {
    let path = format!("/v1/imports/{id}");
    api.get_within(&path, key, Duration::from_secs(60), |i| {
        matches!(i["status"].as_str(), Some("completed" | "failed"))
    })
    .await
}

async fn imports_and_segments(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let declared = json!({"custom_fields": {"visits": "number"}});
    let patched = api
        .send(
            Method::PATCH,
            "/v1/settings",
            &key,
            "application/json",
            declared.to_string(),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    // The contacts API holds the declared field to its type, reading text as an import does.
    let typed = json!({"phone": "+15125550999", "fields": {"visits": "1,250", "note": 3}});
    let made = api.post("/v1/contacts", &key, &typed).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["fields"], json!({"visits": 1250, "note": 3}));
    let id = made.body["id"].as_str().unwrap().to_owned();
    let wrong = json!({"fields": {"visits": "many"}});
    let refused = api.patch(&format!("/v1/contacts/{id}"), &key, &wrong).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.code(), "invalid_contact", "{}", refused.body);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fields.visits")
    );
    let removed = api.delete(&format!("/v1/contacts/{id}"), &key).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);

    let rows = 500;
    let file = customers(rows);
    let preview = upload(&api, &key, "/preview", &file).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(
        preview.body["mapping"][2],
        json!({"column": "Mobile", "target": "phone"})
    );
    assert_eq!(preview.body["mapping"][5]["target"], "fields.visits");
    assert_eq!(preview.body["rows"][0]["contact"]["phone"], "+15125500000");
    assert_eq!(
        api.get("/v1/imports", &key).await.body["data"],
        json!([]),
        "a preview stores nothing"
    );

    let accepted = upload(&api, &key, "?tags=spring-list", &file).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let done = finished(&api, &key, &id).await;
    let bad = bad_rows(rows) as u64;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["counts"],
        json!({"read": rows as u64 + 1, "created": rows as u64 - bad, "updated": 0, "skipped": 1, "failed": bad})
    );

    // The report: two bad cells per bad row, and the repeated row, by line.
    let report = api
        .get(&format!("/v1/imports/{id}/report?limit=200"), &key)
        .await
        .body;
    let lines = report["data"].as_array().unwrap();
    assert_eq!(lines.len() as u64, 2 * bad + 1, "{report}");
    assert_eq!(lines[0]["line"], 9);
    assert_eq!(lines[0]["column"], "E-mail");
    assert_eq!(lines[0]["result"], "failed");
    assert_eq!(lines[1]["column"], "Mobile");
    let last = lines.last().unwrap();
    assert_eq!(last["result"], "skipped");
    assert_eq!(last["reason"], "repeats the contact of line 2");
    let first_page = api
        .get(&format!("/v1/imports/{id}/report?limit=3"), &key)
        .await
        .body;
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let second = api
        .get(
            &format!("/v1/imports/{id}/report?limit=3&cursor={cursor}"),
            &key,
        )
        .await
        .body;
    assert_eq!(second["data"][0], lines[3], "pages join without a gap");
    let csv = api
        .http
        .get(format!("{base}/v1/imports/{id}/report.csv"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("line,column,value,reason,result\n9,E-mail,bad at mail,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count() as u64, 2 * bad + 2);

    // The same file with the same options is the same import: nothing changes.
    let again = upload(&api, &key, "?tags=spring-list", &file).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(
        api.get("/v1/imports", &key).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // All or nothing: one bad row and nothing is written.
    let strict = "First Name,Mobile\nZed,(512) 555-7001\nYan,555-01\n";
    let refused = upload(&api, &key, "?mode=all_or_nothing&tags=strict", strict).await;
    assert_eq!(refused.status, StatusCode::ACCEPTED, "{}", refused.body);
    let refused = finished(&api, &key, refused.body["id"].as_str().unwrap()).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["counts"]["failed"], 1);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("nothing was imported"),
        "{refused}"
    );
    let strict_members = api.get("/v1/contacts?tag=strict", &key).await.body;
    assert_eq!(strict_members["data"], json!([]), "{strict_members}");

    // A segment over what was imported.
    let loyal = json!({"filter": {"tags_all": ["vip"], "reachable_by": "sms",
        "fields": [{"field": "visits", "op": "gte", "value": 8}]}});
    let saved = api
        .send(
            Method::PUT,
            "/v1/segments/loyal",
            &key,
            "application/json",
            loyal.to_string(),
        )
        .await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);
    // Rows 8 and 9 of every ten, less the bad ones (i % 50 == 7 is never 8 or 9).
    let expected = (0..rows).filter(|i| i % 10 >= 8).count() as u64;
    assert_eq!(saved.body["count"], expected, "{}", saved.body);
    let mut members = 0;
    let mut cursor = String::new();
    loop {
        let page = api
            .get(
                &format!("/v1/contacts?segment=loyal&limit=40{cursor}"),
                &key,
            )
            .await
            .body;
        for c in page["data"].as_array().unwrap() {
            assert!(c["fields"]["visits"].as_i64().unwrap() >= 8, "{c}");
            members += 1;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(members, expected);
    let undeclared = json!({"filter": {"fields": [{"field": "plan", "op": "eq", "value": "x"}]}});
    let refused = api
        .send(
            Method::PUT,
            "/v1/segments/plans",
            &key,
            "application/json",
            undeclared.to_string(),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.code(), "invalid_segment");

    // Erasing a person deletes the report rows that repeat their phone.
    let first = api
        .get("/v1/contacts?phone=%2B15125500000", &key)
        .await
        .body;
    let ana = first["data"][0]["id"].as_str().unwrap().to_owned();
    let erased = api
        .send(
            Method::POST,
            &format!("/v1/contacts/{ana}/erase"),
            &key,
            "application/json",
            String::new(),
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert_eq!(erased.body["import_report_rows"], 1, "{}", erased.body);
    let after = api
        .get(&format!("/v1/imports/{id}/report?limit=200"), &key)
        .await
        .body;
    assert_eq!(
        after["data"].as_array().unwrap().len() as u64,
        2 * bad,
        "{after}"
    );

    // Another tenant sees none of it.
    let other = api.tenant("other").await;
    assert_eq!(
        api.get(&format!("/v1/imports/{id}"), &other).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&format!("/v1/imports/{id}/report"), &other)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/v1/segments/loyal", &other).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/v1/contacts?tag=vip", &other).await.body["data"],
        json!([])
    );

    // A segment as a schedule's audience: it must exist, and cannot go while the flow uses it.
    let winback = "id: winback\npurpose: transactional\ntrigger:\n  schedule: '0 10 * * 2'\n  segment: lapsed\nsteps:\n  - notify: {text: 'win back {{contact.first_name}}'}\n";
    let invalid = api
        .yaml(Method::POST, "/v1/flows/validate", &key, winback)
        .await;
    assert_eq!(
        invalid.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        invalid.body
    );
    let refused = api.yaml(Method::POST, "/v1/flows", &key, winback).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    let problem = &refused.body["error"]["details"]["diagnostics"][0];
    assert_eq!(
        (problem["line"].as_u64(), problem["path"].as_str()),
        (Some(5), Some("trigger.segment")),
        "{}",
        refused.body
    );
    let lapsed = json!({"filter": {"inactive_for_days": 30}});
    let saved = api
        .send(
            Method::PUT,
            "/v1/segments/lapsed",
            &key,
            "application/json",
            lapsed.to_string(),
        )
        .await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);
    let published = api.yaml(Method::POST, "/v1/flows", &key, winback).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    let in_use = api.delete("/v1/segments/lapsed", &key).await;
    assert_eq!(
        (in_use.status, in_use.code()),
        (StatusCode::CONFLICT, "conflict"),
        "{}",
        in_use.body
    );
    assert!(
        in_use.body.to_string().contains("flow winback"),
        "{}",
        in_use.body
    );
    let disabled = api
        .post("/v1/flows/winback/disable", &key, &json!({}))
        .await;
    assert!(disabled.status.is_success(), "{}", disabled.body);
    let deleted = api.delete("/v1/segments/lapsed", &key).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
}

common::place::on_both_backends!(
    imports_and_segments,
    "audiences",
    imports_and_segments_on_sqlite,
    imports_and_segments_on_postgres
);

/// A server killed mid-import: the restarted one takes the import over once its lease
/// lapses and finishes it, with every good row imported once.
async fn an_import_survives_sigkill(backend: &Backend, dir: &std::path::Path) {
    let (server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("bulk").await;
    let rows = 40_000;
    let accepted = upload(&api, &key, "?tags=bulk", &customers(rows)).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let busy = upload(&api, &key, "", "Mobile\n(512) 555-0100\n").await;
    assert_eq!(
        (busy.status, busy.code()),
        (StatusCode::CONFLICT, "import_busy"),
        "{}",
        busy.body
    );
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    let killed_at = loop {
        poll.tick().await;
        let now = api.get(&format!("/v1/imports/{id}"), &key).await.body;
        let read = now["counts"]["read"].as_u64().unwrap();
        assert_ne!(
            now["status"], "completed",
            "the import ended before the kill: {now}"
        );
        if read >= 2_000 {
            break read;
        }
    };
    drop(server);
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let done = finished(&api, &key, &id).await;
    let bad = bad_rows(rows) as u64;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["counts"],
        json!({"read": rows as u64 + 1, "created": rows as u64 - bad, "updated": 0, "skipped": 1, "failed": bad}),
        "killed after {killed_at} rows"
    );
    let saved = api
        .send(
            Method::PUT,
            "/v1/segments/bulk",
            &key,
            "application/json",
            json!({"filter": {"tags_all": ["bulk"]}}).to_string(),
        )
        .await;
    assert_eq!(saved.body["count"], rows as u64 - bad, "{}", saved.body);
}

common::place::on_both_backends!(
    an_import_survives_sigkill,
    "import_kill",
    an_import_survives_sigkill_on_sqlite,
    an_import_survives_sigkill_on_postgres
);
