//! A fake Stripe on 127.0.0.1 for end-to-end tests: customers (list by email, create), invoices
//! (create, finalize, void) and invoice items, with Stripe's Bearer authentication, its
//! idempotency (the same key replays the first answer with `Idempotent-Replayed: true`; the
//! same key with other parameters is refused) and its error shape. Parameters are checked
//! against Stripe's API reference (names, required ones, lengths); a request that breaks one
//! is answered 400 and kept as a violation the test reads. It signs webhooks as Stripe does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Books {
    customers: Vec<Value>,
    invoices: BTreeMap<String, Value>,
    /// Idempotency key → (parameters, status, answer).
    saved: BTreeMap<String, (String, u16, Value)>,
    violations: Vec<String>,
    posts: usize,
}

#[derive(Clone)]
struct Fake {
    key: String,
    books: Arc<Mutex<Books>>,
}

/// The fake's handle.
#[derive(Clone)]
pub struct FakeStripe {
    pub base: String,
    books: Arc<Mutex<Books>>,
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    let body =
        json!({"error": {"type": "invalid_request_error", "code": code, "message": message}});
    (status, body)
}

fn params(body: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// What one POST does to the books; the caller saves it under the idempotency key.
fn apply(books: &mut Books, path: &str, p: &BTreeMap<String, String>) -> (StatusCode, Value) {
    let problems: Vec<String> = match path {
        "/v1/customers" => [("name", 256), ("phone", 20), ("email", 512)]
            .iter()
            .filter(|(k, max)| p.get(*k).is_some_and(|v| v.chars().count() > *max))
            .map(|(k, max)| format!("{k} is over {max} characters"))
            .collect(),
        "/v1/invoices" => {
            let mut v = Vec::new();
            if p.get("collection_method").map(String::as_str) == Some("send_invoice")
                && !p.contains_key("days_until_due")
            {
                v.push("send_invoice needs days_until_due".into());
            }
            if let Some(b) = p.get("pending_invoice_items_behavior")
                && !["include", "exclude", "include_and_require"].contains(&b.as_str())
            {
                v.push(format!("pending_invoice_items_behavior {b}"));
            }
            v
        }
        "/v1/invoiceitems" => {
            let mut v = Vec::new();
            if !p.contains_key("customer") {
                v.push("customer is required".into());
            }
            if p.get("amount").is_none_or(|a| a.parse::<i64>().is_err()) {
                v.push("amount is an integer".into());
            }
            if p.get("description")
                .is_some_and(|d| d.chars().count() > 500)
            {
                v.push("description is over 500 characters".into());
            }
            v
        }
        _ => Vec::new(),
    };
    if !problems.is_empty() {
        books.violations.extend(problems.iter().cloned());
        return error(
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            &problems.join("; "),
        );
    }
    let customer_exists = |books: &Books, id: &str| books.customers.iter().any(|c| c["id"] == id);
    match path {
        "/v1/customers" => {
            let id = format!("cus_{}", books.customers.len() + 1);
            let customer = json!({"id": id, "object": "customer", "email": p.get("email"),
                "name": p.get("name"), "phone": p.get("phone"),
                "metadata": {"stepwise_contact_id": p.get("metadata[stepwise_contact_id]")}});
            books.customers.push(customer.clone());
            (StatusCode::OK, customer)
        }
        "/v1/invoices" => {
            let customer = p.get("customer").cloned().unwrap_or_default();
            if !customer_exists(books, &customer) {
                return error(
                    StatusCode::NOT_FOUND,
                    "resource_missing",
                    "No such customer",
                );
            }
            let id = format!("in_{}", books.invoices.len() + 1);
            let invoice = json!({"id": id, "object": "invoice", "status": "draft",
                "customer": customer, "currency": p.get("currency"), "total": 0,
                "amount_due": 0, "amount_paid": 0, "amount_remaining": 0,
                "metadata": {"stepwise_contact_id": p.get("metadata[stepwise_contact_id]"),
                             "stepwise_run_id": p.get("metadata[stepwise_run_id]")}});
            books.invoices.insert(id, invoice.clone());
            (StatusCode::OK, invoice)
        }
        "/v1/invoiceitems" => {
            let id = p.get("invoice").cloned().unwrap_or_default();
            let amount: i64 = p.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
            let Some(invoice) = books.invoices.get_mut(&id) else {
                return error(StatusCode::NOT_FOUND, "resource_missing", "No such invoice");
            };
            if invoice["status"] != "draft" {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invoice_not_editable",
                    "not a draft",
                );
            }
            let total = invoice["total"].as_i64().unwrap_or(0) + amount;
            for field in ["total", "amount_due", "amount_remaining"] {
                invoice[field] = json!(total);
            }
            (
                StatusCode::OK,
                json!({"id": "ii_1", "object": "invoiceitem", "amount": amount}),
            )
        }
        _ => {
            let mut parts = path.trim_start_matches("/v1/invoices/").split('/');
            let (id, action) = (parts.next().unwrap_or_default(), parts.next());
            let customers = books.customers.clone();
            let Some(invoice) = books.invoices.get_mut(id) else {
                return error(StatusCode::NOT_FOUND, "resource_missing", "No such invoice");
            };
            match action {
                Some("finalize") => {
                    invoice["status"] = json!("open");
                    invoice["hosted_invoice_url"] =
                        json!(format!("https://invoice.stripe.test/i/{id}"));
                    let customer = customers.iter().find(|c| c["id"] == invoice["customer"]);
                    for field in ["email", "name", "phone"] {
                        invoice[format!("customer_{field}")] =
                            customer.map_or(Value::Null, |c| c[field].clone());
                    }
                }
                Some("void") => invoice["status"] = json!("void"),
                _ => return error(StatusCode::NOT_FOUND, "resource_missing", "No such path"),
            }
            (StatusCode::OK, invoice.clone())
        }
    }
}

fn answer(status: u16, body: Value, replayed: bool) -> Response {
    let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn authorized(fake: &Fake, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", fake.key))
}

async fn handle_post(
    State(fake): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&fake, &headers) {
        let (s, b) = error(
            StatusCode::UNAUTHORIZED,
            "api_key_invalid",
            "Invalid API Key",
        );
        return answer(s.as_u16(), b, false);
    }
    let path = uri.path().to_owned();
    let p = params(&body);
    let mut books = fake.books.lock().unwrap();
    books.posts += 1;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fingerprint = format!("{path}?{}", String::from_utf8_lossy(&body));
    if let Some(key) = &key
        && let Some((saved, status, body)) = books.saved.get(key).cloned()
    {
        if saved != fingerprint {
            books
                .violations
                .push(format!("key {key} reused with other parameters"));
            let (s, b) = error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            );
            return answer(s.as_u16(), b, false);
        }
        return answer(status, body, true);
    }
    let (status, answer_body) = apply(&mut books, &path, &p);
    if let Some(key) = key {
        books
            .saved
            .insert(key, (fingerprint, status.as_u16(), answer_body.clone()));
    }
    answer(status.as_u16(), answer_body, false)
}

async fn list_customers(
    State(fake): State<Fake>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if !authorized(&fake, &headers) {
        let (s, b) = error(
            StatusCode::UNAUTHORIZED,
            "api_key_invalid",
            "Invalid API Key",
        );
        return answer(s.as_u16(), b, false);
    }
    let query = params(query.unwrap_or_default().as_bytes());
    let books = fake.books.lock().unwrap();
    let found: Vec<Value> = books
        .customers
        .iter()
        .filter(|c| query.get("email").is_some_and(|e| c["email"] == e.as_str()))
        .take(1)
        .cloned()
        .collect();
    answer(
        200,
        json!({"object": "list", "data": found, "has_more": false}),
        false,
    )
}

impl FakeStripe {
    /// A fake account whose secret key is `key`.
    pub async fn start(key: &str) -> FakeStripe {
        let books: Arc<Mutex<Books>> = Arc::default();
        let state = Fake {
            key: key.to_owned(),
            books: books.clone(),
        };
        let app = axum::Router::new()
            .route("/v1/customers", get(list_customers).post(handle_post))
            .route("/v1/{*path}", post(handle_post))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeStripe { base, books }
    }

    pub fn invoices(&self) -> Vec<Value> {
        self.books
            .lock()
            .unwrap()
            .invoices
            .values()
            .cloned()
            .collect()
    }

    pub fn customers(&self) -> Vec<Value> {
        self.books.lock().unwrap().customers.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.books.lock().unwrap().violations.clone()
    }

    /// Marks an invoice paid and answers the `invoice.paid` event Stripe would send.
    /// The customer pays `amount` cents of the invoice (Stripe's partial payments): the
    /// `invoice.updated` event Stripe would send, with the amounts before in
    /// `previous_attributes`.
    pub fn pay_part(&self, invoice_id: &str, amount: i64, event_id: &str) -> String {
        let mut books = self.books.lock().unwrap();
        let invoice = books.invoices.get_mut(invoice_id).expect("the invoice");
        let paid = invoice["amount_paid"].as_i64().unwrap_or(0);
        let remaining = invoice["amount_remaining"].as_i64().unwrap();
        let before = json!({"amount_paid": paid, "amount_remaining": remaining});
        invoice["amount_paid"] = json!(paid + amount);
        invoice["amount_remaining"] = json!(remaining - amount);
        json!({"id": event_id, "object": "event", "type": "invoice.updated",
            "api_version": "2025-03-31.basil",
            "data": {"object": invoice, "previous_attributes": before}})
        .to_string()
    }

    /// The customer pays the rest: the `invoice.paid` event Stripe sends.
    pub fn pay(&self, invoice_id: &str, event_id: &str) -> String {
        let mut books = self.books.lock().unwrap();
        let invoice = books.invoices.get_mut(invoice_id).expect("the invoice");
        *invoice = paid(invoice);
        paid_event(invoice, event_id)
    }

    /// The `invoice.paid` event Stripe would send, the books unchanged (a payload for forged
    /// and replayed deliveries).
    pub fn paid_event(&self, invoice_id: &str, event_id: &str) -> String {
        let books = self.books.lock().unwrap();
        paid_event(&paid(&books.invoices[invoice_id]), event_id)
    }
}

/// The invoice paid in full.
fn paid(invoice: &Value) -> Value {
    let mut invoice = invoice.clone();
    invoice["status"] = json!("paid");
    invoice["amount_paid"] = invoice["total"].clone();
    invoice["amount_remaining"] = json!(0);
    invoice
}

fn paid_event(invoice: &Value, event_id: &str) -> String {
    json!({"id": event_id, "object": "event", "type": "invoice.paid",
        "api_version": "2025-03-31.basil", "data": {"object": invoice}})
    .to_string()
}

/// `Stripe-Signature` for `body` signed at `t` with the endpoint's secret.
pub fn sign(secret: &str, t: i64, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}
