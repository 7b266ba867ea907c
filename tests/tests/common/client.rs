//! A small client for the REST API tests: requests with a key, answers as (status, JSON).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::OPERATOR_KEY;

/// A server's base URL and an HTTP client.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

/// An answer: status, JSON body (`Null` when empty or not JSON) and headers.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: super::http(),
        }
    }

    /// Sends `body` (JSON text, YAML, or empty) as `content_type` with `key`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .body(body);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    /// Polls run `id` until `done` holds for its answer (within 30 s); answers that answer.
    pub async fn run_until(&self, key: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.get_until(&format!("/v1/runs/{id}"), key, done).await
    }

    /// Polls `GET path` until `done` holds for its answer (within 30 s); answers that answer.
    pub async fn get_until(&self, path: &str, key: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.get_within(path, key, std::time::Duration::from_secs(30), done)
            .await
    }

    /// [`Client::get_until`] with its own limit, for what takes long on a loaded CI machine
    /// (an import, a campaign a restarted server takes over once its lease lapses).
    pub async fn get_within(
        &self,
        path: &str,
        key: &str,
        limit: std::time::Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut poll = tokio::time::interval(std::time::Duration::from_millis(50));
        let last = std::sync::Mutex::new(Value::Null);
        tokio::time::timeout(limit, async {
            loop {
                let answer = self.get(path, key).await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
                if done(&answer.body) {
                    return answer.body;
                }
                *last.lock().unwrap() = answer.body;
                poll.tick().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("GET {path} did not get there: {}", last.lock().unwrap()))
    }

    pub async fn get(&self, path: &str, key: &str) -> Answer {
        self.send(Method::GET, path, key, "", "").await
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Answer {
        self.send(
            Method::POST,
            path,
            key,
            "application/json",
            body.to_string(),
        )
        .await
    }

    pub async fn patch(&self, path: &str, key: &str, body: &Value) -> Answer {
        self.send(
            Method::PATCH,
            path,
            key,
            "application/json",
            body.to_string(),
        )
        .await
    }

    /// Adds a team member with `admin`; answers its id.
    pub async fn member(&self, admin: &str, name: &str, email: &str, role: &str) -> String {
        let body = serde_json::json!({"name": name, "email": email, "role": role});
        let answer = self.post("/v1/members", admin, &body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn delete(&self, path: &str, key: &str) -> Answer {
        self.send(Method::DELETE, path, key, "", "").await
    }

    pub async fn yaml(&self, method: Method, path: &str, key: &str, yaml: &str) -> Answer {
        self.send(method, path, key, "application/yaml", yaml.to_owned())
            .await
    }

    /// Creates tenant `id` as the operator; answers its admin key.
    pub async fn tenant(&self, id: &str) -> String {
        self.tenant_in(id, &format!("Business {id}"), "America/Chicago")
            .await
    }

    /// Creates tenant `id`, named `name`, in time zone `zone` as the operator; answers its
    /// admin key.
    pub async fn tenant_in(&self, id: &str, name: &str, zone: &str) -> String {
        let body = serde_json::json!({"id": id, "name": name, "timezone": zone});
        let answer = self.post("/v1/tenants", OPERATOR_KEY, &body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["admin_key"]["key"].as_str().unwrap().to_owned()
    }

    /// The server's Prometheus metrics, as text.
    pub async fn metrics(&self) -> String {
        let answer = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        answer.text().await.unwrap()
    }

    /// Stores the tenant's credential `name` (sealed by the server); fails the test if refused.
    pub async fn put_credential(&self, key: &str, name: &str, value: &str) {
        let stored = self
            .send(
                Method::PUT,
                &format!("/v1/settings/credentials/{name}"),
                key,
                "application/json",
                serde_json::json!({ "value": value }).to_string(),
            )
            .await;
        assert!(stored.status.is_success(), "{}", stored.body);
    }

    /// The data of the contact's stored events of `event_type`, oldest first (from its
    /// export).
    pub async fn contact_events(&self, key: &str, contact: &str, event_type: &str) -> Vec<Value> {
        let exported = self
            .get(&format!("/v1/contacts/{contact}/export"), key)
            .await
            .body;
        exported["events"]
            .as_array()
            .unwrap_or_else(|| panic!("no events in {exported}"))
            .iter()
            .filter(|e| e["event"]["type"] == event_type)
            .map(|e| e["event"]["data"].clone())
            .collect()
    }

    /// A new key of `role` made with `admin`.
    pub async fn key(&self, admin: &str, role: &str) -> (String, String) {
        let body = serde_json::json!({"name": format!("{role} key"), "role": role});
        let answer = self.post("/v1/keys", admin, &body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        (
            answer.body["key"].as_str().unwrap().to_owned(),
            answer.body["id"].as_str().unwrap().to_owned(),
        )
    }

    /// How many items a list holds (every page).
    pub async fn count(&self, path: &str, key: &str) -> usize {
        let mut total = 0;
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
                None => format!("{path}{sep}limit=200"),
            };
            let answer = self.get(&url, key).await;
            assert_eq!(answer.status, StatusCode::OK, "{url}: {}", answer.body);
            total += answer.body["data"].as_array().unwrap().len();
            match answer.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return total,
            }
        }
    }

    /// The thread of the tenant's conversation with the latest message
    /// (`GET /v1/conversations/{id}`).
    pub async fn newest_thread(&self, key: &str) -> Value {
        let inbox = self.get("/v1/conversations", key).await.body;
        let id = inbox["data"][0]["id"].as_str().expect("a conversation");
        self.get(&format!("/v1/conversations/{id}"), key).await.body
    }
}

/// Sends `method path` announcing a 3 MiB JSON body, writes a little over the limit of it and
/// reads the answer (an HTTP client writing the whole body would see the connection close
/// instead).
pub async fn oversized(base: &str, method: &str, path: &str, key: &str) -> (u16, String) {
    oversized_as(base, method, path, key, "application/json", 3 << 20).await
}

/// As [`oversized`], a body of `content_type` announced `announced` bytes long.
pub async fn oversized_as(
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    content_type: &str,
    announced: usize,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {key}\r\n\
         content-type: {content_type}\r\ncontent-length: {announced}\r\nconnection: close\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server reads up to its limit (2 MiB), then answers without waiting for the rest; a
    // route that refuses on the announced length alone may answer and close before taking any
    // of it (the write then fails, and the answer is read all the same).
    let _ = stream.write_all(&vec![b' '; (2 << 20) + (64 << 10)]).await;
    // Read the head and then the body's announced length: the server may keep the
    // connection open, waiting for the rest of our body.
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let answer = loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("the server answers before the whole body arrives")
            .unwrap();
        bytes.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= length || n == 0 {
                break text;
            }
        }
        assert!(n > 0, "connection closed: {text}");
    };
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}
