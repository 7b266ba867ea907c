//! A fake Slack incoming webhook on 127.0.0.1: it keeps the `text` of every post, and a test
//! waits for the alert it expects (a watch channel, no polling).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use serde_json::Value;
use tokio::sync::watch;

/// The webhook URL a tenant stores (`slack_webhook_url`); the server is pointed at the fake
/// with `STEPWISE_PROVIDER_URLS=slack=<base>`, which keeps this path.
pub const WEBHOOK: &str = "https://hooks.slack.com/services/T0001/B0001/fakeslack";

#[derive(Clone)]
pub struct FakeSlack {
    pub base: String,
    texts: Arc<Mutex<Vec<String>>>,
    posted: watch::Receiver<usize>,
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let texts: Arc<Mutex<Vec<String>>> = Arc::default();
        let (count, posted) = watch::channel(0);
        let kept = texts.clone();
        let app = axum::Router::new().route(
            "/services/{*path}",
            post(move |Json(body): Json<Value>| {
                let mut all = kept.lock().unwrap();
                all.push(body["text"].as_str().unwrap_or_default().to_owned());
                count.send_replace(all.len());
                async { "ok" }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSlack {
            base,
            texts,
            posted,
        }
    }

    /// The first alert containing `part`, waiting for it up to 30 s.
    pub async fn alert_containing(&self, part: &str) -> String {
        let mut posted = self.posted.clone();
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Some(t) = self.texts.lock().unwrap().iter().find(|t| t.contains(part)) {
                    return t.clone();
                }
                posted.changed().await.unwrap();
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!(
                "no alert containing {part:?}: {:?}",
                self.texts.lock().unwrap()
            )
        })
    }
}
