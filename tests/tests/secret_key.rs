//! `stepwise secret-key rotate` on the real binary, on both backends: every stored credential
//! is re-sealed under the new key and no longer opens under the old one; a run with the wrong
//! current key changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::process::Command;

use common::client::Client;
use common::{Backend, SECRET_KEY, binary, start_server};
use reqwest::Method;
use serde_json::json;
use stepwise_engine::secrets::SecretBox;
use stepwise_engine::store::SqlStore;

const TOKEN: &str = "twilio-token-1234567890-abcd";

fn rotate(dir: &std::path::Path, backend: &Backend, current: &str) -> std::process::Output {
    Command::new(binary())
        .current_dir(dir)
        .args(["secret-key", "rotate", "--new-key-file", "new.secret-key"])
        .env("STEPWISE_SECRET_KEY", current)
        .env("DATABASE_URL", &backend.database_url)
        .output()
        .expect("run stepwise secret-key rotate")
}

async fn rotation(backend: &Backend, dir: &std::path::Path) {
    {
        let (_server, base) = start_server(dir, backend, "api");
        let api = Client::new(&base);
        let key = api.tenant("acme").await;
        let body = json!({ "value": TOKEN }).to_string();
        let put = api
            .send(
                Method::PUT,
                "/v1/settings/credentials/twilio_auth_token",
                &key,
                "application/json",
                body,
            )
            .await;
        assert!(put.status.is_success(), "{}", put.body);
    } // the server stops here: rotation runs with every server stopped

    let done = rotate(dir, backend, SECRET_KEY);
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(said.contains("re-sealed 1 credentials"), "{said}");
    let new_key = std::fs::read_to_string(dir.join("new.secret-key")).unwrap();

    let store = SqlStore::connect(&backend.database_url).await.unwrap();
    let stored = store.sealed_credentials().await.unwrap();
    assert_eq!(stored.len(), 1);
    let context = "acme/twilio_auth_token";
    let new = SecretBox::from_hex(&new_key).unwrap();
    let old = SecretBox::from_hex(SECRET_KEY).unwrap();
    assert_eq!(new.open(&stored[0].sealed, context).as_deref(), Ok(TOKEN));
    assert!(
        old.open(&stored[0].sealed, context).is_err(),
        "the old key no longer opens it"
    );

    // Again with the old key as the current one: it opens nothing, so nothing changes.
    let refused = rotate(dir, backend, SECRET_KEY);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("does not open with the current key; nothing was changed"),
        "{err}"
    );
    assert_eq!(store.sealed_credentials().await.unwrap(), stored);
    store.pool().close().await;
}

common::place::on_both_backends!(
    rotation,
    "rotate",
    the_secret_key_rotates_on_sqlite,
    the_secret_key_rotates_on_postgres
);
