//! An upgrade whose new version drops a config key the tenant set (renamed or reshaped, as
//! show-up-saver 1.2.0 made its two reminder hours one list): the upgrade is refused with the
//! key named and changes nothing, and goes through when the caller changes the values in the
//! same upgrade (a merge patch, over the API and with `stepwise module upgrade --set`). The
//! installed version's own PATCH cannot do it (it does not know the new key, and is refused
//! while an upgrade waits), so without this the tenant would be stuck.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use serde_json::json;

const BOOKING: &str = "https://brightsmile.example/book";

/// An operator's folder holding an older speed-to-lead, with a config key (`greeting_delay`)
/// the built-in version no longer declares.
fn older_module(dir: &std::path::Path) -> std::path::PathBuf {
    let builtin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../modules/speed-to-lead/module.yaml"
    ))
    .unwrap();
    let version = builtin
        .lines()
        .find(|l| l.starts_with("version: "))
        .unwrap();
    let older = builtin.replacen(version, "version: 0.1.0", 1).replacen(
        "\n  properties:\n",
        "\n  properties:\n    greeting_delay: { type: integer, minimum: 0, default: 0 }\n",
        1,
    );
    let folder = dir.join("older-modules");
    std::fs::create_dir_all(folder.join("modules/speed-to-lead")).unwrap();
    std::fs::write(folder.join("modules/speed-to-lead/module.yaml"), older).unwrap();
    folder
}

async fn a_dropped_key_is_changed_with_the_upgrade(backend: &Backend, dir: &std::path::Path) {
    let folder = older_module(dir);
    let env = [("STEPWISE_MODULES_DIR", folder.to_str().unwrap())];
    let (server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    let key = api.tenant("salon").await;
    let config = json!({"config": {"booking_link": BOOKING, "greeting_delay": 5}});
    let installed = api
        .post("/v1/modules/speed-to-lead/install", &key, &config)
        .await;
    assert_eq!(installed.status, StatusCode::CREATED, "{}", installed.body);
    drop(server);

    // The built-in version is the upgrade; it does not know greeting_delay.
    let (_server, base) = common::start_server(dir, backend, "all");
    let api = Client::new(&base);
    let shown = api.get("/v1/installations/speed-to-lead", &key).await;
    let newer = shown.body["upgrade_to"].as_str().unwrap().to_owned();
    let upgrade = "/v1/installations/speed-to-lead/upgrade";
    let refused = api.post(upgrade, &key, &json!({})).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.code(), "invalid_config");
    assert!(
        refused.body.to_string().contains("greeting_delay"),
        "{}",
        refused.body
    );
    let stuck = json!({"config": {"greeting_delay": null}});
    let patched = api
        .send(
            reqwest::Method::PATCH,
            "/v1/installations/speed-to-lead",
            &key,
            "application/json",
            stuck.to_string(),
        )
        .await;
    assert_eq!(
        patched.status,
        StatusCode::CONFLICT,
        "upgrade first: {}",
        patched.body
    );

    // A dry run with the change answers the plan and changes nothing.
    let dry = json!({"dry_run": true, "config": {"greeting_delay": null}});
    let plan = api.post(upgrade, &key, &dry).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
    assert_eq!(plan.body["to"], newer.as_str());
    let still = api.get("/v1/installations/speed-to-lead", &key).await;
    assert_eq!(still.body["version"], "0.1.0", "{}", still.body);

    // The command line makes the change with the upgrade.
    let (ok, said) = common::run_binary(
        &std::env::temp_dir(),
        &[
            "module",
            "upgrade",
            "speed-to-lead",
            "--set",
            "greeting_delay=null",
            "--set",
            "follow_up_minutes=90",
            "--url",
            &base,
            "--key",
            &key,
        ],
    );
    assert!(ok, "{said}");
    let done = api.get("/v1/installations/speed-to-lead", &key).await;
    assert_eq!(done.body["version"], newer.as_str(), "{}", done.body);
    assert_eq!(
        done.body["overrides"]["config"],
        json!({"booking_link": BOOKING, "follow_up_minutes": 90}),
        "the dropped key is gone, the tenant's other values kept: {}",
        done.body
    );
}

common::place::on_both_backends!(
    a_dropped_key_is_changed_with_the_upgrade,
    "upgrade_config",
    a_dropped_key_is_changed_with_the_upgrade_on_sqlite,
    a_dropped_key_is_changed_with_the_upgrade_on_postgres
);
