//! `stepwise contacts import` through the real binary: a 50,000-row file (3.4 MB) is
//! previewed and imported over one client, every good row lands and every bad one is in the
//! report. (The preview once sent the whole file, which the server answers after reading its
//! head: the connection was left half-written and the import's upload broke on it.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::fmt::Write as _;

use common::client::Client;
use common::place::Place;
use common::start_server;

const ROWS: usize = 50_000;
/// Every fiftieth row has neither a usable phone nor email.
const BAD_EVERY: usize = 50;

fn customers() -> String {
    let area = [512, 737, 210, 214, 469, 972, 713];
    let mut file = String::from("First Name,Last Name,Mobile,E-mail,Tags\n");
    for i in 0..ROWS {
        if i % BAD_EVERY == 7 {
            file.push_str("Bad,Row,not-a-phone,nope,vip\n");
            continue;
        }
        let code = area[i / 10_000];
        let n = i % 10_000;
        writeln!(file, "Ana{i},Diaz,+1{code}555{n:04},ana{i}@example.com,vip").unwrap();
    }
    file
}

#[tokio::test]
async fn a_large_file_is_previewed_and_imported_from_the_command_line() {
    let place = Place::sqlite("cli_import");
    let dir = &place.dir;
    let (server, base) = start_server(dir, &place.backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let file = dir.join("customers.csv");
    std::fs::write(&file, customers()).unwrap();
    let report = dir.join("report.csv");

    let (report_arg, file_arg) = (report.to_str().unwrap(), file.to_str().unwrap());
    let (ok, said) = common::run_binary(
        dir,
        &[
            "contacts", "import", "--url", &base, "--key", &key, "--report", report_arg, file_arg,
        ],
    );
    assert!(ok, "{said}");
    let bad = ROWS / BAD_EVERY;
    assert!(
        said.contains(&format!("{ROWS} rows read, {} created", ROWS - bad)),
        "{said}"
    );
    assert_eq!(api.count("/v1/contacts", &key).await, ROWS - bad);
    let reported = std::fs::read_to_string(&report).unwrap();
    let lines: std::collections::BTreeSet<&str> = reported
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(lines.len(), bad, "each bad row reported: {reported:.300}");
    drop(server);
    place.finish().await;
}

/// A client that posts the whole file to the preview (as a script might) keeps a usable
/// connection: the server reads the rest of the body after the head it needed, so the next
/// request on the same pooled connection does not meet a broken pipe.
#[tokio::test]
async fn a_whole_file_posted_to_the_preview_leaves_the_connection_usable() {
    let place = Place::sqlite("preview_whole");
    let (server, base) = start_server(&place.dir, &place.backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let file = customers();
    for round in 0..3 {
        let preview = api
            .send(
                reqwest::Method::POST,
                "/v1/imports/preview",
                &key,
                "text/csv",
                file.clone(),
            )
            .await;
        assert_eq!(preview.status, 200, "round {round}: {}", preview.body);
        assert_eq!(preview.body["rows"].as_array().map(Vec::len), Some(10));
    }
    let import = api
        .send(reqwest::Method::POST, "/v1/imports", &key, "text/csv", file)
        .await;
    assert_eq!(import.status, 202, "{}", import.body);
    drop(server);
    place.finish().await;
}
