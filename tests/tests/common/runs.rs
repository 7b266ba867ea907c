//! Runs through the raw HTTP API, for the crash, worker and shutdown tests: the acme tenant's
//! calls, a two-call flow against the sink, numbered leads, posting them while the server is
//! killed, and waiting for a run to complete.

use super::{ADMIN_KEY, OPERATOR_KEY, admin_key};

use serde_json::Value;
use tokio::sync::watch;

/// Posts leads `0..runs` (see [`lead`]) to the server `base` names, in order, while it is
/// killed and restarted: a refused post waits for the next server (a new `base`) and is sent
/// again, as a real client with an idempotent event would.
pub fn post_leads_through_kills(
    client: reqwest::Client,
    mut base: watch::Receiver<String>,
    runs: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for n in 0..runs {
            loop {
                let at = base.borrow_and_update().clone();
                match call(
                    &client,
                    reqwest::Method::POST,
                    format!("{at}/v1/events"),
                    lead(n),
                )
                .await
                {
                    Ok(_) => break,
                    // The server was killed: wait for its replacement, then send the same event again.
                    Err(_) if *base.borrow() == at => base.changed().await.unwrap(),
                    Err(_) => {}
                }
            }
        }
    })
}

/// An authenticated API call for tenant `acme`.
pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: String,
) -> reqwest::Result<Value> {
    client
        .request(method, url)
        .bearer_auth(admin_key())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

/// A flow that calls the sink twice around a wait.
pub fn two_call_flow(id: &str, sink: &str, wait: &str) -> String {
    format!(
        "id: {id}\npurpose: transactional\ntrigger: {{event: lead.created}}\nsteps:\n\
         \x20 - id: first\n    http: {{url: '{sink}/first', body: {{n: '{{{{event.data.n}}}}'}}}}\n\
         \x20 - id: pause\n    wait: {{for: {wait}}}\n\
         \x20 - id: note\n    set: {{done: 'true'}}\n\
         \x20 - id: second\n    http: {{url: '{sink}/second', body: {{n: '{{{{event.data.n}}}}'}}}}\n"
    )
}

/// The event body for lead `n`.
pub fn lead(n: usize) -> String {
    serde_json::json!({"type": "lead.created", "external_id": format!("lead-{n}"), "data": {"n": n},
                       "contact": {"id": format!("c{n}"), "phone": format!("+1512{}", 2_000_000 + n)}})
    .to_string()
}

/// Creates tenant `acme` (America/Chicago) as the operator, keeps its admin key for
/// [`call`], and publishes `flow` (YAML) through the API at `base`.
pub async fn setup(client: &reqwest::Client, base: &str, flow: String) {
    let tenant = serde_json::json!({"id": "acme", "name": "Acme", "timezone": "America/Chicago"});
    let created: Value = client
        .post(format!("{base}/v1/tenants"))
        .bearer_auth(OPERATOR_KEY)
        .json(&tenant)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    *ADMIN_KEY.lock().unwrap() = created["admin_key"]["key"].as_str().unwrap().to_owned();
    client
        .post(format!("{base}/v1/flows"))
        .bearer_auth(admin_key())
        .header("content-type", "application/yaml")
        .body(flow)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
}

/// Polls run `run_id` until it completes (or `limit` passes) and returns it.
pub async fn completed_run(
    client: &reqwest::Client,
    base: &str,
    run_id: impl std::fmt::Display,
    limit: std::time::Duration,
) -> Value {
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(100));
    tokio::time::timeout(limit, async {
        loop {
            let run = call(
                client,
                reqwest::Method::GET,
                format!("{base}/v1/runs/{run_id}"),
                String::new(),
            )
            .await
            .unwrap();
            if run["run"]["status"] == "completed" {
                return run;
            }
            poll.tick().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("run {run_id} did not complete"))
}
