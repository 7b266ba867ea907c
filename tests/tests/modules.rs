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

/// The built-in speed-to-lead module's file.
fn builtin_module() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../modules/speed-to-lead/module.yaml"
    ))
    .unwrap()
}

/// The built-in speed-to-lead's version.
fn builtin_version() -> String {
    let file = builtin_module();
    let line = file.lines().find(|l| l.starts_with("version: ")).unwrap();
    line["version: ".len()..].trim().to_owned()
}

/// The version the operator ships in [`newer_module`].
const NEWER: &str = "9.0.0";

/// The operator's folder with a newer speed-to-lead: new copy for both its texts.
fn newer_module(dir: &std::path::Path) -> std::path::PathBuf {
    let builtin = builtin_module();
    let mut newer = builtin.replacen(
        &format!("version: {}", builtin_version()),
        &format!("version: {NEWER}"),
        1,
    );
    for name in ["first_reply", "follow_up"] {
        // The template's line and its folded continuation lines (indented further).
        let start = newer.find(&format!("\n  {name}:")).expect("the template") + 1;
        let mut end = start + newer[start..].find('\n').unwrap();
        while newer[end + 1..].starts_with("    ") {
            end += 1 + newer[end + 1..].find('\n').unwrap();
        }
        let line = format!(
            "  {name}: \"New in {NEWER}: {{{{contact.first_name}}}}, {{{{config.booking_link}}}}\""
        );
        newer.replace_range(start..end, &line);
    }
    let folder = dir.join("operator-modules");
    std::fs::create_dir_all(folder.join("modules/speed-to-lead")).unwrap();
    std::fs::write(folder.join("modules/speed-to-lead/module.yaml"), newer).unwrap();
    folder
}

/// `stepwise module ARGS` against `base` with `key`: whether it succeeded, and what it said.
fn cli(base: &str, key: &str, args: &[&str]) -> (bool, String) {
    let mut all = vec!["module"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--url", base, "--key", key]);
    common::run_binary(&std::env::temp_dir(), &all)
}

/// Speed to lead open around the clock, so that what a lead hears does not depend on the
/// hour the test runs (after hours it gets the after-hours reply).
fn always_open() -> Value {
    json!({"open_days": [1, 2, 3, 4, 5, 6, 7], "open_hour": 0, "close_hour": 24})
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

    let body = json!({"config": {"booking_link": BOOKING, "reschedule_link": BOOKING,
        "review_link": "https://g.page/r/brightsmile/review"},
        "modules": {"speed-to-lead": {"config": always_open()}}});
    let installed = api.post(install, &key, &body).await;
    assert_eq!(installed.status, StatusCode::CREATED, "{}", installed.body);
    let again = api.post(install, &key, &body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let modules: Vec<&str> = again.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["installation"]["module"].as_str().unwrap())
        .collect();
    assert_eq!(
        modules,
        [
            "speed-to-lead",
            "show-up-saver",
            "reactivation",
            "loyalty-nps",
            "smart-proposals"
        ]
    );
    assert!(
        again.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["changed"] == false),
        "{}",
        again.body
    );
    let listed = api.get("/v1/installations/speed-to-lead", &key).await;
    let installation = &listed.body;
    assert_eq!(installation["module"], "speed-to-lead", "{}", listed.body);
    assert_eq!(installation["version"], builtin_version().as_str());
    assert_eq!(installation["pack"], "dental");
    assert_eq!(installation["flow_version"], 1);

    // The pack's copy, with the tenant's name and booking link.
    let copy = pack.body["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == "speed-to-lead")
        .map(|m| m["templates"]["first_reply"].as_str().unwrap().to_owned())
        .unwrap();
    // (Its text around the link is fixed; the greeting has an `{{#if}}`.)
    let (_, after_link) = copy.split_once("{{track config.booking_link}}").unwrap();
    let text = first_reply(&api, &key, 1).await;
    assert!(
        text.starts_with("Hi Ana, thanks for contacting Business clinic!"),
        "{text}"
    );
    assert!(text.ends_with(&format!("{BOOKING}{after_link}")), "{text}");

    // The onboarding checklist follows what the clinic did.
    let checklist = |body: &Value| -> Vec<(String, bool)> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["check"].as_str().unwrap().to_owned(), i["done"] == true))
            .collect()
    };
    let done = |list: &[(String, bool)], check: &str| {
        list.iter()
            .find(|(c, _)| c == check)
            .map(|(_, d)| *d)
            .unwrap()
    };
    let list = checklist(&api.get("/v1/onboarding?pack=dental", &viewer).await.body);
    assert!(done(&list, "modules") && done(&list, "contacts") && done(&list, "test_run"));
    assert!(
        !done(&list, "sms_provider") && !done(&list, "help_text"),
        "{list:?}"
    );
    let help = json!({"help_text": "Bright Smile: call 512-555-0100. Reply STOP to opt out."});
    assert_eq!(
        patch(&api, "/v1/settings", &key, &help).await.status,
        StatusCode::OK
    );
    let list = checklist(&api.get("/v1/onboarding?pack=dental", &viewer).await.body);
    assert!(done(&list, "help_text"), "{list:?}");

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
    let just_the_link = json!({"config": {"booking_link": BOOKING}});
    let taken = api
        .post("/v1/modules/speed-to-lead/install", &other, &just_the_link)
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);

    // A salon installs the module alone and edits its follow-up.
    let salon = api.tenant("salon").await;
    let alone = api
        .post("/v1/modules/speed-to-lead/install", &salon, &just_the_link)
        .await;
    assert_eq!(alone.status, StatusCode::CREATED, "{}", alone.body);
    let mine = json!({"templates": {"follow_up": "My own nudge, {{contact.first_name}}"}});
    let edited = patch(&api, "/v1/installations/speed-to-lead", &salon, &mine).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);

    // The operator ships a newer version, with new copy for both texts.
    drop(server);
    let folder = newer_module(dir);
    let folder = folder.to_str().unwrap();
    let (_server, base) =
        common::start_server_with(dir, backend, "all", &[("STEPWISE_MODULES_DIR", folder)]);
    let api = Client::new(&base);
    let shown = api.get("/v1/installations/speed-to-lead", &salon).await;
    assert_eq!(shown.body["upgrade_to"], NEWER, "{}", shown.body);
    let upgrade = "/v1/installations/speed-to-lead/upgrade";
    // Both changed the follow-up: a conflict; the first reply the salon left alone arrives.
    let plan = api.post(upgrade, &salon, &json!({"dry_run": true})).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
    let conflicts = &plan.body["conflicts"];
    assert_eq!(conflicts.as_array().unwrap().len(), 1, "{}", plan.body);
    assert_eq!(conflicts[0]["template"], "follow_up");
    assert_eq!(conflicts[0]["mine"], "My own nudge, {{contact.first_name}}");
    assert!(
        conflicts[0]["theirs"]
            .as_str()
            .unwrap()
            .starts_with(&format!("New in {NEWER}"))
    );
    assert!(
        plan.body["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["template"] == "first_reply"),
        "{}",
        plan.body
    );
    // The command line shows the same plan, and refuses the blocked upgrade.
    let (ok, said) = cli(&base, &salon, &["installed"]);
    assert!(
        ok && said.contains(&format!("(upgrade to {NEWER})")),
        "{said}"
    );
    let (ok, said) = cli(&base, &salon, &["upgrade", "speed-to-lead", "--dry-run"]);
    assert!(ok, "{said}");
    assert!(said.contains("  changes  first_reply"), "{said}");
    assert!(said.contains("  conflict follow_up"), "{said}");
    assert!(said.contains("dry run: nothing changed"), "{said}");
    let (ok, said) = cli(&base, &salon, &["upgrade", "speed-to-lead"]);
    assert!(
        !ok && said.contains("blocked: resolve each conflict"),
        "{said}"
    );
    let blocked = api.post(upgrade, &salon, &json!({})).await;
    assert_eq!(blocked.status, StatusCode::CONFLICT, "{}", blocked.body);
    assert_eq!(
        blocked.body["error"]["details"]["plan"]["conflicts"][0]["template"],
        "follow_up"
    );
    let still = api.get("/v1/installations/speed-to-lead", &salon).await;
    assert_eq!(
        still.body["version"],
        builtin_version().as_str(),
        "a refused upgrade changes nothing"
    );

    let resolved = json!({"resolve": {"follow_up": "mine"}});
    let done = api.post(upgrade, &salon, &resolved).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["flow_version"], 3);
    let flow = api.get("/v1/flows/speed-to-lead", &salon).await;
    let copy = &flow.body["templates"];
    assert_eq!(
        copy["follow_up"], "My own nudge, {{contact.first_name}}",
        "the salon's edit is kept"
    );
    assert!(
        copy["first_reply"]
            .as_str()
            .unwrap()
            .starts_with(&format!("New in {NEWER}")),
        "the module's new copy arrived: {copy}"
    );
    assert_eq!(flow.body["origin"]["version"], NEWER);

    // The clinic's copy is the dental pack's and its own: nothing conflicts, all is kept.
    let done = api.post(upgrade, &key, &json!({})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["conflicts"], json!([]));
    let flow = api.get("/v1/flows/speed-to-lead", &key).await;
    assert_eq!(
        flow.body["templates"]["first_reply"],
        "Welcome {{contact.first_name}}! {{config.booking_link}}"
    );
    assert_eq!(flow.body["origin"]["version"], NEWER);

    // The module's KPIs: lead 1 books; 1 of the 2 runs booked within 7 days, both answered.
    let booked = json!({"type": "appointment.booked", "contact": {"id": "lead1"}});
    let posted = api.post("/v1/events", &key, &booked).await;
    assert_eq!(posted.status, StatusCode::ACCEPTED, "{}", posted.body);
    let metrics = api.get("/v1/metrics?module=speed-to-lead", &viewer).await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.body);
    let kpis = metrics.body["data"][0]["kpis"].as_array().unwrap().clone();
    let named = |name: &str| kpis.iter().find(|k| k["name"] == name).cloned().unwrap();
    let booking = named("booking_rate");
    assert_eq!(
        (
            &booking["numerator"],
            &booking["denominator"],
            &booking["value"]
        ),
        (&json!(1), &json!(2), &json!(50.0)),
        "{booking}"
    );
    let first = named("time_to_first_response");
    assert_eq!(first["denominator"], 2, "{first}");
    assert!(first["p90"].as_f64().unwrap() < 60.0, "{first}");
    let bad = api
        .get(
            "/v1/metrics?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
            &viewer,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // Uninstall, cancelling the running runs: nothing starts any more.
    // (Through the command line, which calls DELETE /v1/installations/speed-to-lead.)
    let (ok, said) = cli(
        &base,
        &key,
        &["uninstall", "speed-to-lead", "--cancel-runs"],
    );
    assert!(ok, "{said}");
    assert_eq!(
        said.trim(),
        "uninstalled speed-to-lead; runs cancelled: 1",
        "lead 2's run; lead 1's ended on its booking"
    );
    let lead = json!({"type": "lead.created", "contact": {"id": "late", "phone": "+15125559999"}});
    let posted = api.post("/v1/events", &key, &lead).await;
    assert_eq!(posted.body["started"], json!([]), "{}", posted.body);
    let listed = api.get("/v1/installations/speed-to-lead", &key).await;
    assert_eq!(listed.body["enabled"], false);
}

common::place::on_both_backends!(
    modules_install_and_upgrade,
    "modules",
    modules_install_and_upgrade_on_sqlite,
    modules_install_and_upgrade_on_postgres
);
