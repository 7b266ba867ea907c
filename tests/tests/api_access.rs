//! Who may call what, on the real binary. The role table of docs/api.md is the contract: it
//! names exactly the operations of `/openapi.json`, and for every route a key below its
//! minimum is refused (403; 401 for a tenant key on an operator route, the operator key on a
//! tenant route and no key at all) and changes nothing, while a key of the minimum role gets
//! past the check. Also: the keys a newcomer starts with, from `stepwise tenant create` and
//! from the operator key file the embedded default writes on its first start.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use common::client::Client;
use common::fixture::{Tenant, operations};
use common::place::Place;
use common::{OPERATOR_KEY, start_server};
use reqwest::Method;
use serde_json::json;

/// Who may call a route, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Minimum {
    None,
    Viewer,
    Agent,
    Editor,
    Admin,
    Operator,
}

/// The keys a probe is sent with.
#[derive(Debug, Clone, Copy)]
enum Key {
    Missing,
    Viewer,
    Editor,
    Admin,
    Operator,
}

impl Key {
    /// What this key should get on a route needing `minimum`.
    fn refused_with(self, minimum: Minimum) -> Option<StatusCode> {
        let tenant_role = match self {
            Key::Missing => return (minimum != Minimum::None).then_some(StatusCode::UNAUTHORIZED),
            Key::Operator => {
                return matches!(
                    minimum,
                    Minimum::Viewer | Minimum::Agent | Minimum::Editor | Minimum::Admin
                )
                .then_some(StatusCode::UNAUTHORIZED);
            }
            Key::Viewer => Minimum::Viewer,
            Key::Editor => Minimum::Editor,
            Key::Admin => Minimum::Admin,
        };
        match minimum {
            Minimum::Operator => Some(StatusCode::UNAUTHORIZED),
            m if m > tenant_role => Some(StatusCode::FORBIDDEN),
            _ => None,
        }
    }
}

/// `(method, path)` → minimum, from the "Roles" table of docs/api.md.
fn documented_roles() -> Vec<(String, String, Minimum)> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).unwrap();
    let section = doc.split("\n## Roles\n").nth(1).expect("a Roles section");
    let table = section.split("\n## ").next().unwrap_or_default();
    let mut routes = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let minimum = match cells[2] {
            "none" => Minimum::None,
            "viewer" => Minimum::Viewer,
            "agent" => Minimum::Agent,
            "editor" => Minimum::Editor,
            "admin" => Minimum::Admin,
            "operator key" => Minimum::Operator,
            other => panic!("unknown minimum {other:?} in {row}"),
        };
        for route in cells[1].split('`').skip(1).step_by(2) {
            let (method, path) = route.split_once(' ').unwrap();
            routes.push((method.to_owned(), path.to_owned(), minimum));
        }
    }
    routes
}

#[tokio::test]
async fn every_route_enforces_its_documented_role() {
    let place = Place::sqlite("roles");
    let (dir, backend) = (&place.dir, &place.backend);
    let (mut server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);

    let routes = documented_roles();
    let served: BTreeSet<String> = operations(&api)
        .await
        .into_iter()
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    let documented: BTreeSet<String> = routes
        .iter()
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    assert_eq!(
        documented, served,
        "docs/api.md's role table and /openapi.json"
    );

    let tenant = Tenant::create(&api, "roles").await;
    let before = tenant.snapshot(&api).await;

    // Refused: every key below the minimum, with the tenant's real objects in the path and a
    // malformed body (the role is checked first).
    let keys = [
        (Key::Missing, ""),
        (Key::Viewer, tenant.viewer.as_str()),
        (Key::Editor, tenant.editor.as_str()),
        (Key::Admin, tenant.admin.as_str()),
        (Key::Operator, OPERATOR_KEY),
    ];
    let mut probes = 0;
    for (method, path, minimum) in &routes {
        let method: Method = method.parse().unwrap();
        for (key, secret) in keys {
            let Some(expected) = key.refused_with(*minimum) else {
                continue;
            };
            let path = tenant.concrete(path);
            let answer = api
                .send(method.clone(), &path, secret, "text/plain", "not json")
                .await;
            assert_eq!(
                answer.status, expected,
                "{key:?} {method} {path}: {}",
                answer.body
            );
            let code = if expected == StatusCode::FORBIDDEN {
                "forbidden"
            } else {
                "unauthorized"
            };
            assert_eq!(answer.code(), code, "{key:?} {method} {path}");
            probes += 1;
        }
    }
    assert!(probes > 100, "{probes} refusals checked");
    assert_eq!(
        tenant.snapshot(&api).await,
        before,
        "refused requests changed nothing"
    );

    // Allowed: the minimum role gets past the check (to a 2xx, or a 404 or 422 for the made-up
    // ids and empty bodies sent here).
    let (agent, _) = api.key(&tenant.admin, "agent").await;
    for (method, path, minimum) in &routes {
        let secret = match minimum {
            Minimum::None => "",
            Minimum::Viewer => tenant.viewer.as_str(),
            Minimum::Agent => agent.as_str(),
            Minimum::Editor => tenant.editor.as_str(),
            Minimum::Admin => tenant.admin.as_str(),
            Minimum::Operator => OPERATOR_KEY,
        };
        let path = path
            .replace("{id}", "no-such-id")
            .replace("{name}", "no_such_name")
            .replace("{version}", "1");
        if path == "/v1/conversations/stream" {
            // An endless event stream: its status is all there is to read.
            let stream = reqwest::Client::new()
                .get(format!("{base}{path}"))
                .bearer_auth(secret)
                .send()
                .await
                .unwrap();
            assert_eq!(stream.status(), StatusCode::OK, "{minimum:?} GET {path}");
            continue;
        }
        let answer = api
            .send(
                method.parse().unwrap(),
                &path,
                secret,
                "application/json",
                "{}",
            )
            .await;
        assert!(
            !matches!(
                answer.status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ),
            "{minimum:?} {method} {path}: {} {}",
            answer.status,
            answer.body
        );
        assert!(
            !answer.status.is_server_error(),
            "{method} {path}: {}",
            answer.body
        );
    }

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    place.finish().await;
}

/// A newcomer's keys: the embedded default writes an operator key file (mode 0600) on its
/// first start and reuses it after; `stepwise tenant create` prints a working admin key once.
#[tokio::test]
async fn a_newcomer_gets_working_keys_from_the_first_start_and_the_cli() {
    use std::os::unix::fs::PermissionsExt;

    // Only its directory: the server is started by hand, with no key in its environment.
    let place = Place::sqlite("newcomer");
    let dir = &place.dir;
    let start = || {
        let mut child = Command::new(common::binary())
            .current_dir(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("STEPWISE_OPERATOR_KEY")
            .env_remove("STEPWISE_SECRET_KEY")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env("STEPWISE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("stepwise listening on ")
            .unwrap()
            .to_owned();
        (child, base)
    };

    let (mut server, base) = start();
    for file in ["stepwise.operator-key", "stepwise.secret-key"] {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    let operator = std::fs::read_to_string(dir.join("stepwise.operator-key")).unwrap();
    let operator = operator.trim();
    let api = Client::new(&base);
    let body = json!({"name": "Bright Smile Dental", "timezone": "America/Chicago"});
    let created = api.post("/v1/tenants", operator, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    server.kill().unwrap();
    server.wait().unwrap();

    // The CLI writes to the same database, with or without the server running.
    let output = Command::new(common::binary())
        .current_dir(dir)
        .args([
            "tenant",
            "create",
            "--name",
            "Sunny Plumbing",
            "--timezone",
            "America/Denver",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    let key = printed
        .split_whitespace()
        .find(|w| w.starts_with("swk_"))
        .unwrap_or_else(|| panic!("a key in {printed}"));
    assert_eq!(printed.matches(key).count(), 1, "shown once");

    let (mut server, base) = start();
    let api = Client::new(&base);
    let settings = api.get("/v1/settings", key).await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
    assert_eq!(settings.body["name"], "Sunny Plumbing");
    assert_eq!(settings.body["timezone"], "America/Denver");
    // The operator key file was kept, not made anew.
    let tenants = api.get("/v1/tenants", operator).await;
    assert_eq!(tenants.status, StatusCode::OK, "{}", tenants.body);
    assert_eq!(
        tenants.body["data"].as_array().unwrap().len(),
        2,
        "{}",
        tenants.body
    );
    let audit = api.get("/v1/audit", key).await;
    assert_eq!(
        audit.body["data"][0]["action"], "tenant.create",
        "{}",
        audit.body
    );
    assert_eq!(audit.body["data"][0]["actor"], "operator");
    server.kill().unwrap();
    server.wait().unwrap();
    place.finish().await;
}
