//! Modules and packs through the real binary, on both backends: a clinic installs the dental
//! pack with its booking link (located errors without it; the same install twice changes
//! nothing); a lead gets the pack's copy with the tenant's values; the tenant edits its copy;
//! an operator ships a newer module version, whose upgrade keeps the tenant's edits, brings the
//! module's new copy where the tenant left it alone, and is refused with the conflict shown
//! where both changed a text, until resolved; uninstalling cancels the module's runs on
//! request and starts no more. Another tenant sees none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::client::{Answer, Client};
use reqwest::Method;
use serde_json::{Value, json};

const BOOKING: &str = "https://brightsmile.example/book";

async fn patch(api: &Client, path: &str, key: &str, body: &Value) -> Answer {
    let body = body.to_string();
    api.send(Method::PATCH, path, key, "application/json", body)
        .await
}

/// Posts a lead and answers the text of the first SMS its run sent.
async fn first_reply(api: &Client, key: &str, n: u32) -> String {
    let lead = json!({"type": "lead.created", "contact": {"id": format!("lead{n}"),
        "phone": format!("+1512555{:04}", 100 + n), "first_name": "Ana"}, "data": {"message": "hello"}});
    let posted = api.post("/v1/events", key, &lead).await;
    assert_eq!(posted.status, StatusCode::ACCEPTED, "{}", posted.body);
    let run = posted.body["started"][0].as_str().unwrap().to_owned();
    api.run_until(key, &run, |r| r["run"]["status"] == "waiting")
        .await;
    let messages = api.get(&format!("/v1/runs/{run}/messages"), key).await;
    messages.body["data"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The operator's folder with a newer speed-to-lead: new follow-up copy.
fn newer_module(dir: &std::path::Path) -> std::path::PathBuf {
    let builtin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../modules/speed-to-lead/module.yaml"
    ))
    .unwrap();
    let start = builtin.find("  follow_up:").expect("a follow_up template");
    let end = start + builtin[start..].find('\n').unwrap();
    let newer = format!(
        "{}  follow_up: \"New in 1.1: {{{{contact.first_name}}}}, book here {{{{config.booking_link}}}}\"{}",
        &builtin[..start],
        &builtin[end..]
    )
    .replacen("version: 1.0.0", "version: 1.1.0", 1);
    let folder = dir.join("operator-modules");
    std::fs::create_dir_all(folder.join("modules/speed-to-lead")).unwrap();
    std::fs::write(folder.join("modules/speed-to-lead/module.yaml"), newer).unwrap();
    folder
}

async fn modules_install_and_upgrade(backend: &Backend, dir: &std::path::Path) {
    let (server, base) = common::start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let (viewer, _) = api.key(&key, "viewer").await;

    // The catalog.
    let modules = api.get("/v1/modules", &viewer).await;
    assert_eq!(modules.status, StatusCode::OK, "{}", modules.body);
    let ids: Vec<&str> = modules.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"speed-to-lead"), "{ids:?}");
    let module = api.get("/v1/modules/speed-to-lead", &viewer).await;
    assert_eq!(
        module.body["config"]["required"],
        json!(["booking_link"]),
        "{}",
        module.body
    );
    assert!(module.body["templates"]["first_reply"].is_string());
    let pack = api.get("/v1/packs/dental", &viewer).await;
    assert_eq!(pack.status, StatusCode::OK, "{}", pack.body);

    // Installing needs an editor, and the booking link; every problem is located.
    let install = "/v1/packs/dental/install";
    let refused = api.post(install, &viewer, &json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let missing = api.post(install, &key, &json!({})).await;
    assert_eq!(
        missing.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        missing.body
    );
    assert_eq!(missing.code(), "invalid_config");
    let bad = json!({"config": {"booking_link": BOOKING},
        "modules": {"speed-to-lead": {"templates": {"frist_reply": "Hi"}, "config": {"hot_keywords": "pain"}}}});
    let wrong = api.post(install, &key, &bad).await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.body
    );
    let pointers: Vec<&str> = wrong.body["error"]["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/modules/speed-to-lead/templates/frist_reply"),
        "{pointers:?}"
    );
    assert!(
        pointers
            .iter()
            .any(|p| p.starts_with("/modules/speed-to-lead/config")),
        "{pointers:?}"
    );
    assert_eq!(
        api.get("/v1/installations", &key).await.body["data"],
        json!([]),
        "a refused install changes nothing"
    );

    let body = json!({"config": {"booking_link": BOOKING}});
    let installed = api.post(install, &key, &body).await;
    assert_eq!(installed.status, StatusCode::CREATED, "{}", installed.body);
    let again = api.post(install, &key, &body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["data"][0]["changed"], false);
    let listed = api.get("/v1/installations", &key).await;
    let installation = &listed.body["data"][0];
    assert_eq!(installation["module"], "speed-to-lead", "{}", listed.body);
    assert_eq!(installation["version"], "1.0.0");
    assert_eq!(installation["pack"], "dental");
    assert_eq!(installation["flow_version"], 1);

    // The pack's copy, with the tenant's name and booking link.
    let text = first_reply(&api, &key, 1).await;
    assert_eq!(
        text,
        format!("Hi Ana, thanks for contacting Business clinic! Book your visit: {BOOKING}")
    );

    // The tenant edits its copy: a new flow version, and the next lead hears it.
    let edit = json!({"templates": {"first_reply": "Welcome {{contact.first_name}}! {{config.booking_link}}",
        "follow_up": "My own nudge, {{contact.first_name}}"}});
    let changed = patch(&api, "/v1/installations/speed-to-lead", &key, &edit).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["installation"]["flow_version"], 2);
    assert_eq!(
        first_reply(&api, &key, 2).await,
        format!("Welcome Ana! {BOOKING}")
    );
    let typo = json!({"templates": {"first_reply": "Hi {{contact.frist_name}}"}});
    let refused = patch(&api, "/v1/installations/speed-to-lead", &key, &typo).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );

    // Another tenant sees none of it.
    let other = api.tenant("plumber").await;
    assert_eq!(
        api.get("/v1/installations", &other).await.body["data"],
        json!([])
    );
    let hidden = api.get("/v1/installations/speed-to-lead", &other).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    // A hand-written flow is never taken over by an install.
    let own =
        "id: speed-to-lead\ntrigger: {event: lead.created}\nsteps:\n  - send_sms: {body: hi}\n";
    api.yaml(Method::POST, "/v1/flows", &other, own).await;
    let taken = api
        .post("/v1/modules/speed-to-lead/install", &other, &body)
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);

    // The operator ships 1.1.0, with new follow-up copy.
    drop(server);
    let folder = newer_module(dir);
    let folder = folder.to_str().unwrap();
    let (_server, base) =
        common::start_server_with(dir, backend, "all", &[("STEPWISE_MODULES_DIR", folder)]);
    let api = Client::new(&base);
    let shown = api.get("/v1/installations/speed-to-lead", &key).await;
    assert_eq!(shown.body["upgrade_to"], "1.1.0", "{}", shown.body);
    let upgrade = "/v1/installations/speed-to-lead/upgrade";
    let plan = api.post(upgrade, &key, &json!({"dry_run": true})).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
    assert_eq!(
        plan.body["conflicts"][0]["template"], "follow_up",
        "{}",
        plan.body
    );
    assert_eq!(
        plan.body["conflicts"][0]["mine"],
        "My own nudge, {{contact.first_name}}"
    );
    let blocked = api.post(upgrade, &key, &json!({})).await;
    assert_eq!(blocked.status, StatusCode::CONFLICT, "{}", blocked.body);
    assert_eq!(
        blocked.body["error"]["details"]["plan"]["conflicts"][0]["template"],
        "follow_up"
    );
    let still = api.get("/v1/installations/speed-to-lead", &key).await;
    assert_eq!(
        still.body["version"], "1.0.0",
        "a refused upgrade changes nothing"
    );

    let resolved = json!({"resolve": {"follow_up": "theirs"}});
    let done = api.post(upgrade, &key, &resolved).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["flow_version"], 3);
    let flow = api.get("/v1/flows/speed-to-lead", &key).await;
    let copy = &flow.body["templates"];
    assert_eq!(
        copy["first_reply"], "Welcome {{contact.first_name}}! {{config.booking_link}}",
        "the tenant's edit is kept"
    );
    assert!(
        copy["follow_up"]
            .as_str()
            .unwrap()
            .starts_with("New in 1.1"),
        "the module's new copy arrived: {copy}"
    );
    assert_eq!(flow.body["origin"]["version"], "1.1.0");

    // Uninstall, cancelling the running runs: nothing starts any more.
    let removed = api
        .send(
            Method::DELETE,
            "/v1/installations/speed-to-lead?cancel_runs=true",
            &key,
            "application/json",
            "",
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(removed.body["cancelled"], 2, "{}", removed.body);
    let lead = json!({"type": "lead.created", "contact": {"id": "late", "phone": "+15125559999"}});
    let posted = api.post("/v1/events", &key, &lead).await;
    assert_eq!(posted.body["started"], json!([]), "{}", posted.body);
    let listed = api.get("/v1/installations", &key).await;
    assert_eq!(listed.body["data"][0]["enabled"], false);
}

common::place::on_both_backends!(
    modules_install_and_upgrade,
    "modules",
    modules_install_and_upgrade_on_sqlite,
    modules_install_and_upgrade_on_postgres
);
