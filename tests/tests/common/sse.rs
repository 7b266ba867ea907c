//! The inbox's live stream as a client reads it: `GET /v1/conversations/stream`, event by
//! event, for tests that wait on the stream itself rather than on a clock.

use axum::http::StatusCode;
use serde_json::Value;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub id: String,
    pub event: String,
    pub data: Value,
}

/// An open stream, read event by event.
pub struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    pub async fn open(base: &str, key: &str, last_event_id: Option<&str>) -> reqwest::Response {
        // One client for every stream: building one reads the system's certificates.
        static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
        let mut request = HTTP
            .get_or_init(reqwest::Client::new)
            .get(format!("{base}/v1/conversations/stream"))
            .bearer_auth(key);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        request.send().await.unwrap()
    }

    pub async fn new(base: &str, key: &str, last_event_id: Option<&str>) -> Self {
        let response = Self::open(base, key, last_event_id).await;
        assert_eq!(response.status(), StatusCode::OK);
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped), within 30 s.
    pub async fn next(&mut self) -> Sent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}:")))
                        .map(|v| v.trim_start().to_owned())
                };
                let Some(data) = field("data") else { continue };
                return Sent {
                    id: field("id").unwrap(),
                    event: field("event").unwrap(),
                    data: serde_json::from_str(&data).unwrap(),
                };
            }
            let chunk =
                tokio::time::timeout(std::time::Duration::from_secs(30), self.response.chunk())
                    .await
                    .expect("no event within 30 s")
                    .unwrap()
                    .expect("the stream ended");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}
