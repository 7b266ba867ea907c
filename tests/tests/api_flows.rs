//! A flow's life through the API, on the real binary: versions, enable / disable, archive,
//! the simulator, and enrolment (at once, paced, and repeated); deleting an enrolled contact.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::client::Client;
use common::place::Place;
use common::start_server;
use reqwest::Method;
use serde_json::{Value, json};

const V1: &str = "id: nurture
trigger: {manual: true}
purpose: transactional
steps:
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name}}!'}
";

const V2: &str = "id: nurture
trigger: {manual: true}
purpose: transactional
steps:
  - id: hello
    send_sms: {body: 'Hello again, {{contact.first_name}}!'}
";

async fn status_of(api: &Client, key: &str, run: &str) -> Value {
    api.get(&format!("/v1/runs/{run}"), key).await.body["run"]["status"].clone()
}

async fn until_completed(api: &Client, key: &str, run: &str) {
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    tokio::time::timeout(Duration::from_secs(30), async {
        while status_of(api, key, run).await != "completed" {
            poll.tick().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("run {run} did not complete"));
}

#[tokio::test]
async fn a_flow_lives_through_versions_enrolment_and_archive() {
    let place = Place::sqlite("api-flows");
    let (dir, backend) = (&place.dir, &place.backend);
    let (mut server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("acme").await;
    for (n, (id, name)) in [("ana", "Ana"), ("ben", "Ben"), ("cy", "Cy")]
        .iter()
        .enumerate()
    {
        let body = json!({"id": id, "first_name": name, "phone": format!("+1512555012{n}")});
        assert_eq!(
            api.post("/v1/contacts", &key, &body).await.status,
            StatusCode::CREATED
        );
    }

    // Two versions; the flow answers its newest, each version stays readable.
    assert_eq!(
        api.yaml(Method::POST, "/v1/flows", &key, V1).await.status,
        StatusCode::CREATED
    );
    let v2 = api.yaml(Method::PUT, "/v1/flows/nurture", &key, V2).await;
    assert_eq!(
        (v2.status, v2.body["version"].clone()),
        (StatusCode::OK, json!(2))
    );
    let mismatch = api.yaml(Method::PUT, "/v1/flows/other", &key, V2).await;
    assert_eq!(mismatch.status, StatusCode::NOT_FOUND, "{}", mismatch.body);
    let versions = api.get("/v1/flows/nurture/versions", &key).await.body;
    assert_eq!(versions["data"][0]["version"], 2);
    assert_eq!(versions["data"][1]["version"], 1);
    let first = api
        .get("/v1/flows/nurture/versions/1?format=yaml", &key)
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let shown = api.get("/v1/flows/nurture", &key).await.body;
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["definition"]["steps"][0]["id"], "hello");

    // The simulator runs the stored flow and sends nothing real.
    let simulated = api
        .post(
            "/v1/flows/nurture/simulate",
            &key,
            &json!({"event": {"type": "enrolled"}, "contact": {"id": "x", "first_name": "Zoe", "phone": "+15125550100"}}),
        )
        .await;
    assert_eq!(simulated.status, StatusCode::OK, "{}", simulated.body);
    let texts: Vec<&str> = simulated.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(texts, ["Hello again, Zoe!"]);
    assert_eq!(
        simulated.body["timeline"][0]["version"], 2,
        "{}",
        simulated.body
    );
    assert_eq!(
        api.count("/v1/runs", &key).await,
        0,
        "a simulation stores no run"
    );

    // Enrol at once; the same enrolment again starts nothing twice.
    let body = json!({"contact_ids": ["ana"], "enrolment_id": "spring"});
    let enrolled = api.post("/v1/flows/nurture/enroll", &key, &body).await;
    assert_eq!(enrolled.status, StatusCode::ACCEPTED, "{}", enrolled.body);
    let ana_run = enrolled.body["results"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    until_completed(&api, &key, &ana_run).await;
    let again = api.post("/v1/flows/nurture/enroll", &key, &body).await;
    assert_eq!(again.body["results"][0]["result"], "already_enrolled");
    // An unknown contact changes nothing.
    let typo = api
        .post(
            "/v1/flows/nurture/enroll",
            &key,
            &json!({"contact_ids": ["ben", "nobody"]}),
        )
        .await;
    assert_eq!(typo.code(), "unknown_contact");
    assert_eq!(api.count("/v1/runs", &key).await, 1);

    // Paced: one start a second. The second run waits in the database for its turn.
    let paced = api
        .post(
            "/v1/flows/nurture/enroll",
            &key,
            &json!({"contact_ids": ["ben", "cy"], "per_second": 1.0}),
        )
        .await;
    let results = paced.body["results"].as_array().unwrap().clone();
    let (ben, cy) = (
        results[0]["run_id"].as_str().unwrap().to_owned(),
        results[1]["run_id"].as_str().unwrap().to_owned(),
    );
    assert!(results[1]["starts_at"].is_string(), "{results:?}");
    assert_eq!(status_of(&api, &key, &cy).await, "sleeping");
    until_completed(&api, &key, &ben).await;
    until_completed(&api, &key, &cy).await;

    // Disabled: enrolment is refused; archived: out of the list, cannot be enabled again.
    let disabled = api
        .post("/v1/flows/nurture/disable", &key, &json!({}))
        .await;
    assert_eq!(disabled.body["enabled"], false);
    let refused = api
        .post(
            "/v1/flows/nurture/enroll",
            &key,
            &json!({"contact_ids": ["ana"]}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "conflict")
    );
    let archived = api
        .post("/v1/flows/nurture/archive", &key, &json!({}))
        .await;
    assert_eq!(archived.body["archived"], true);
    assert_eq!(api.count("/v1/flows", &key).await, 0);
    assert_eq!(api.count("/v1/flows?archived=true", &key).await, 1);
    let enable = api.post("/v1/flows/nurture/enable", &key, &json!({})).await;
    assert_eq!(
        (enable.status, enable.code()),
        (StatusCode::CONFLICT, "flow_archived")
    );
    let republish = api.yaml(Method::POST, "/v1/flows", &key, V1).await;
    assert_eq!(republish.code(), "flow_archived");

    // Deleting a contact cancels its active runs first, each audited, then the contact.
    let waits =
        "id: reminder\ntrigger: {manual: true}\nsteps:\n  - id: later\n    wait: {for: 1h}\n";
    api.yaml(Method::POST, "/v1/flows", &key, waits).await;
    let enrolled = api
        .post(
            "/v1/flows/reminder/enroll",
            &key,
            &json!({"contact_ids": ["ana"]}),
        )
        .await;
    let run = enrolled.body["results"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.run_until(&key, &run, |r| r["run"]["status"] == "sleeping")
        .await;
    let deleted = api
        .send(Method::DELETE, "/v1/contacts/ana", &key, "", "")
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(
        api.get("/v1/contacts/ana", &key).await.status,
        StatusCode::NOT_FOUND
    );
    let ended = api.get(&format!("/v1/runs/{run}"), &key).await.body;
    assert_eq!(ended["run"]["status"], "cancelled", "{ended}");
    assert_eq!(ended["run"]["end_reason"], "the contact was deleted");
    let audit = api.get("/v1/audit?limit=2", &key).await.body;
    let (newest, cancel) = (&audit["data"][0], &audit["data"][1]);
    assert_eq!(newest["action"], "contact.delete", "{audit}");
    assert_eq!(cancel["action"], "run.cancel", "{audit}");
    assert_eq!(cancel["target"], format!("run:{run}"));
    assert_eq!(cancel["details"]["by"], "contact.delete");

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    place.finish().await;
}

/// A flow's config is declared and its values checked at publish, given in the body beside
/// the flow: the speed-to-lead example without `booking_link` is refused and nothing is
/// stored; with it, the defaults are filled in.
#[tokio::test]
async fn config_values_are_checked_when_a_flow_is_published() {
    let place = Place::sqlite("flow-config");
    let (_server, base) = start_server(&place.dir, &place.backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let source = std::fs::read_to_string(root.join("docs/examples/speed-to-lead.yaml")).unwrap();

    let missing = api.yaml(Method::POST, "/v1/flows", &key, &source).await;
    assert_eq!(missing.code(), "invalid_config", "{}", missing.body);
    assert!(
        missing.body.to_string().contains("booking_link"),
        "{}",
        missing.body
    );
    let wrong = json!({"flow": source, "config": {"booking_link": 7, "colour": "blue"}});
    let wrong = api.post("/v1/flows", &key, &wrong).await;
    assert_eq!(wrong.code(), "invalid_config", "{}", wrong.body);
    let pointers: Vec<&str> = wrong.body["error"]["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/booking_link") && pointers.contains(&"/colour"),
        "{pointers:?}"
    );
    assert_eq!(api.count("/v1/flows", &key).await, 0, "nothing was stored");

    let given = json!({"flow": source, "config": {"booking_link": "https://book.example.com/x"}});
    let published = api.post("/v1/flows", &key, &given).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    let flow = api.get("/v1/flows/speed-to-lead", &key).await;
    assert_eq!(
        flow.body["config"],
        json!({"booking_link": "https://book.example.com/x", "hot_keywords": ["urgent", "today", "asap"]})
    );

    // Reading config.* without declaring it is a validation error.
    let undeclared = "id: undeclared\ntrigger: {event: lead.created}\nsteps:\n  - send_sms: {body: '{{config.link}}'}\n";
    let answer = api.yaml(Method::POST, "/v1/flows", &key, undeclared).await;
    assert_eq!(answer.code(), "invalid_definition", "{}", answer.body);
    assert!(
        answer
            .body
            .to_string()
            .contains("config.link is not declared"),
        "{}",
        answer.body
    );
    place.finish().await;
}

#[tokio::test]
async fn a_misspelt_event_type_or_step_output_is_named() {
    let place = Place::sqlite("flow-mistakes");
    let (_server, base) = start_server(&place.dir, &place.backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let other = api.tenant("salon").await;
    let flow = "id: greet\ntrigger: {event: lead.created}\nsteps:\n  - id: hello\n    send_sms: {body: hi}\n";
    let published = api.yaml(Method::POST, "/v1/flows", &key, flow).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);

    // A form that sends `lead.craeted` starts nothing; the run list says so, with the fix.
    for n in 0..2 {
        let event = json!({"type": "lead.craeted", "external_id": format!("form-{n}"),
                           "contact": {"phone": format!("+1512555019{n}")}});
        let answer = api.post("/v1/events", &key, &event).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    }
    let runs = api.get("/v1/runs", &key).await;
    assert_eq!(runs.body["data"], json!([]));
    let unheard = &runs.body["unheard"];
    assert_eq!(unheard.as_array().map(Vec::len), Some(1), "{unheard}");
    assert_eq!(unheard[0]["event_type"], "lead.craeted");
    assert_eq!(unheard[0]["count"], 2);
    assert_eq!(unheard[0]["did_you_mean"], "lead.created");
    let elsewhere = api.get("/v1/runs", &other).await;
    assert_eq!(
        elsewhere.body["unheard"],
        json!([]),
        "another tenant's list"
    );

    // Once a flow listens for the type, it is no longer named.
    let listens = flow
        .replace("greet", "greet_typo")
        .replace("lead.created", "lead.craeted");
    let published = api.yaml(Method::POST, "/v1/flows", &key, &listens).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    assert_eq!(api.get("/v1/runs", &key).await.body["unheard"], json!([]));

    // Reading an output the step does not give is refused at publish, with the right name.
    let misread = format!("{flow}  - notify: {{text: 'sent {{{{steps.hello.mesage_id}}}}'}}\n")
        .replace("greet", "misread");
    let answer = api.yaml(Method::POST, "/v1/flows", &key, &misread).await;
    assert_eq!(answer.code(), "invalid_definition", "{}", answer.body);
    assert!(
        answer.body.to_string().contains(
            "steps.hello.mesage_id is not an output of `hello` (did you mean `message_id`?)"
        ),
        "{}",
        answer.body
    );
    place.finish().await;
}
