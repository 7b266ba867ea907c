//! The conformance kit every provider runs: a scripted fake provider on 127.0.0.1, a vault
//! with known credentials, and [`conformance`], which holds a provider to the one contract:
//! success is typed; 429, 5xx and a refused connection are retryable (honouring `Retry-After`);
//! the provider's 4xx are permanent with its code; no answer after sending is uncertain (or
//! retryable for a provider that de-duplicates); a missing credential is a permanent,
//! named error; and no secret appears in any error or log line.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Map, Value};
use stepwise_core::{CallCx, ConnectorError, ProviderSetting, Request, Secret, Vault, VaultError};

use crate::outbound::{Guard, Outbound};
use crate::provider::{Env, Provider};

/// What the fake answers.
#[derive(Debug, Clone)]
pub enum Answer {
    Reply {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Never answers (the client times out after sending).
    Hang,
}

impl Answer {
    pub fn json(status: u16, body: Value) -> Self {
        Answer::Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// A provider stand-in on 127.0.0.1 that answers from a script, then with its default.
#[derive(Debug, Clone)]
pub struct Fake {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Fake {
    pub async fn start(default: Answer) -> Fake {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Mutex<VecDeque<Answer>>> = Arc::default();
        let (record, next) = (seen.clone(), script.clone());
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let headers = headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            v.to_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                record.lock().expect("fake log").push(Seen {
                    method: method.to_string(),
                    path: uri.to_string(),
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let answer = next
                    .lock()
                    .expect("fake script")
                    .pop_front()
                    .unwrap_or_else(|| default.clone());
                async move {
                    match answer {
                        Answer::Hang => {
                            std::future::pending::<()>().await;
                            (StatusCode::OK, HeaderMap::new(), String::new())
                        }
                        Answer::Reply {
                            status,
                            headers,
                            body,
                        } => {
                            let mut map = HeaderMap::new();
                            for (name, value) in headers {
                                map.insert(name, value.parse().expect("a header value"));
                            }
                            (StatusCode::from_u16(status).expect("a status"), map, body)
                        }
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the fake serves") });
        Fake {
            base: format!("http://{addr}"),
            seen,
            script,
        }
    }

    /// Answers the next requests with these, in order.
    pub fn then(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().expect("fake script").extend(answers);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("fake log").clone()
    }
}

/// Credentials by (tenant, name).
#[derive(Debug, Default)]
pub struct MapVault(pub BTreeMap<(String, String), String>);

impl MapVault {
    pub fn with(tenant: &str, credentials: &[(&str, &str)]) -> Self {
        Self(
            credentials
                .iter()
                .map(|(n, v)| ((tenant.to_owned(), (*n).to_owned()), (*v).to_owned()))
                .collect(),
        )
    }
}

#[async_trait]
impl Vault for MapVault {
    async fn open(&self, tenant_id: &str, name: &str) -> Result<Secret, VaultError> {
        self.0
            .get(&(tenant_id.to_owned(), name.to_owned()))
            .map(|v| Secret::new(v.as_str()))
            .ok_or_else(|| VaultError::Missing { name: name.into() })
    }
}

/// An environment whose `provider` lives at `base`; tenant URLs may reach 127.0.0.0/8.
pub fn env(provider: &str, base: &str, vault: MapVault) -> Arc<Env> {
    let guard = Guard::new(vec!["127.0.0.0/8".parse().expect("a range")]);
    Arc::new(Env {
        outbound: Outbound::new(guard).with_request_timeout(Duration::from_millis(500)),
        vault: Arc::new(vault),
        public_url: Some("https://stepwise.test".into()),
        base_urls: BTreeMap::from([(provider.to_owned(), base.to_owned())]),
        links: Some(crate::links::LinkSigner::from_secret("test-secret")),
    })
}

/// One provider under test.
#[derive(Debug)]
pub struct Case {
    /// The provider's name (its base URL key).
    pub name: &'static str,
    pub make: fn(Arc<Env>) -> Arc<dyn Provider>,
    /// The request to make, given the fake's base URL (an `http` step names it).
    pub request: fn(&str) -> Request,
    pub setting: ProviderSetting,
    pub credentials: Vec<(&'static str, &'static str)>,
    /// The provider's own success answer.
    pub success: Answer,
    /// One of its client errors and the code it must surface.
    pub client_error: (Answer, &'static str),
    /// It de-duplicates repeats (an idempotency key), so no answer is retryable, not uncertain.
    pub deduplicates: bool,
}

/// Captures log lines written while `f` runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the contract against `case`.
pub async fn conformance(case: Case) {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = Fake::start(case.success.clone()).await;
    let cx = CallCx {
        provider: Some(case.setting.clone()),
        default_sender: Some("+15125550199".into()),
        hook_token: Some("hooktoken".into()),
        ..CallCx::bare("t1", "run1", "step1")
    };
    let vault = || MapVault::with("t1", &case.credentials);
    let provider = (case.make)(env(case.name, &fake.base, vault()));
    let request = (case.request)(&fake.base);
    let options: &Map<String, Value> = &case.setting.options;
    let mut errors = Vec::new();

    let ok = provider.call(&request, options, &cx).await;
    assert!(ok.is_ok(), "{}: success answer: {ok:?}", case.name);
    assert!(
        !ok.as_ref().is_ok_and(|r| r.sandbox()),
        "a real provider is not the sandbox"
    );

    fake.then([Answer::Reply {
        status: 429,
        headers: vec![("retry-after", "7".into())],
        body: "{\"code\": 20429, \"message\": \"Too Many Requests\"}".into(),
    }]);
    match provider.call(&request, options, &cx).await {
        Err(e @ ConnectorError::Retryable { retry_after, .. }) => {
            assert_eq!(
                retry_after,
                Some(Duration::from_secs(7)),
                "{}: Retry-After honoured",
                case.name
            );
            errors.push(e);
        }
        other => panic!("{}: 429 must be retryable, got {other:?}", case.name),
    }
    for status in [500, 502, 503] {
        fake.then([Answer::json(status, serde_json::json!({"message": "down"}))]);
        match provider.call(&request, options, &cx).await {
            Err(e @ ConnectorError::Retryable { .. }) => errors.push(e),
            other => panic!("{}: {status} must be retryable, got {other:?}", case.name),
        }
    }
    let (answer, code) = case.client_error.clone();
    fake.then([answer]);
    match provider.call(&request, options, &cx).await {
        Err(e) if e.code() == Some(code) => errors.push(e),
        other => panic!(
            "{}: its client error must be permanent with code {code}, got {other:?}",
            case.name
        ),
    }
    fake.then([Answer::Hang]);
    match provider.call(&request, options, &cx).await {
        Err(e @ ConnectorError::Uncertain { .. }) if !case.deduplicates => errors.push(e),
        Err(e @ ConnectorError::Retryable { .. }) if case.deduplicates => errors.push(e),
        other => panic!(
            "{}: no answer after sending must be uncertain (retryable if it de-duplicates), got {other:?}",
            case.name
        ),
    }

    // Nothing listens: the request never left.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let down = format!("http://{}", closed.local_addr().expect("an address"));
    drop(closed);
    let provider_down = (case.make)(env(case.name, &down, vault()));
    match provider_down
        .call(&(case.request)(&down), options, &cx)
        .await
    {
        Err(e @ ConnectorError::Retryable { .. }) => errors.push(e),
        other => panic!(
            "{}: a refused connection must be retryable, got {other:?}",
            case.name
        ),
    }

    if !case.credentials.is_empty() {
        let bare = (case.make)(env(case.name, &fake.base, MapVault::default()));
        match bare.call(&request, options, &cx).await {
            Err(e @ ConnectorError::Permanent { .. }) if e.code() == Some("credential_missing") => {
                errors.push(e)
            }
            other => panic!(
                "{}: a missing credential must be permanent, got {other:?}",
                case.name
            ),
        }
    }

    let logged = String::from_utf8_lossy(&logs.0.lock().expect("log buffer")).into_owned();
    for (name, secret) in &case.credentials {
        for e in &errors {
            assert!(
                !e.to_string().contains(secret) && !format!("{e:?}").contains(secret),
                "{}: {name} in an error: {e}",
                case.name
            );
        }
        assert!(
            !logged.contains(secret),
            "{}: {name} in the logs",
            case.name
        );
    }
}
