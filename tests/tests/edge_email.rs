//! Email through the real binary to a local SMTP server: a marketing flow cannot be published
//! without the business's postal address (CAN-SPAM); once it is, the email carries the
//! one-click unsubscribe headers (RFC 8058) and a footer with the link and the address; the
//! link's page has one button; a POST to it with `List-Unsubscribe=One-Click` and no cookies
//! suppresses the address at once, answers 200 without a redirect, and the next marketing email
//! to it is suppressed with the reason. An altered link changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use common::fake_smtp::FakeSmtp;
use reqwest::Method;
use serde_json::json;

const NEWSLETTER: &str = "id: newsletter
purpose: marketing
trigger: {event: newsletter.signup}
steps:
  - id: welcome
    send_email: {subject: 'Spring offers', body: 'Hi {{contact.first_name}}, 20% off cleanings this month.'}
";

/// A time zone where it is midday now, so marketing quiet hours never hold the test's email.
fn midday_zone() -> String {
    let hour = i64::from(
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .hour(),
    );
    // Etc/GMT+N is N hours behind UTC.
    let behind = (hour - 12).clamp(-14, 12);
    match behind {
        0 => "Etc/GMT".into(),
        n if n > 0 => format!("Etc/GMT+{n}"),
        n => format!("Etc/GMT{n}"),
    }
}

async fn email_with_one_click_unsubscribe(backend: &Backend, dir: &std::path::Path) {
    let smtp = FakeSmtp::start().await;
    let relay = format!("smtp={}", smtp.url);
    let env = [
        ("STEPWISE_PUBLIC_URL", "https://stepwise.test"),
        ("STEPWISE_PROVIDER_URLS", relay.as_str()),
    ];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let email = json!({"providers": {"email": {"provider": "smtp", "host": "smtp.brightsmile.example",
                       "from": "Bright Smile <hello@brightsmile.example>"}}});
    let patched = api
        .send(
            Method::PATCH,
            "/v1/settings",
            &key,
            "application/json",
            email.to_string(),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);

    let refused = api.yaml(Method::POST, "/v1/flows", &key, NEWSLETTER).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.to_string().contains("CAN-SPAM"),
        "{}",
        refused.body
    );
    let postal = json!({"postal_address": "12 Main St, Austin, TX 78701"});
    api.send(
        Method::PATCH,
        "/v1/settings",
        &key,
        "application/json",
        postal.to_string(),
    )
    .await;
    let published = api.yaml(Method::POST, "/v1/flows", &key, NEWSLETTER).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);

    let zone = midday_zone();
    let signup = |n: u32| {
        json!({"type": "newsletter.signup", "external_id": format!("s{n}"),
        "contact": {"email": "Ana@Example.com", "first_name": "Ana", "timezone": zone}})
    };
    let accepted = api.post("/v1/events", &key, &signup(1)).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let message = smtp
        .until_messages(1, Duration::from_secs(20))
        .await
        .remove(0);
    assert!(
        message.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{message}"
    );
    assert!(
        message.contains("12 Main St, Austin, TX 78701"),
        "{message}"
    );
    let start = message
        .find("<https://stepwise.test/unsubscribe/")
        .expect("the List-Unsubscribe URL")
        + "<https://stepwise.test".len();
    let path: String = message[start..].chars().take_while(|c| *c != '>').collect();

    // The page, then the one-click POST a mail client makes; an altered token is refused.
    let http = common::http();
    let page = http.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<button"), "one button");
    let altered = format!("{path}x");
    let bad = http
        .post(format!("{base}{altered}"))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        api.count("/v1/suppressions", &key).await,
        0,
        "an altered link changed nothing"
    );
    let one_click = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), StatusCode::OK, "200, no redirect");
    let listed = api.get("/v1/suppressions?channel=email", &key).await.body;
    assert_eq!(listed["data"][0]["address"], "ana@example.com", "{listed}");

    // The next marketing email to her is suppressed with the reason.
    let again = api.post("/v1/events", &key, &signup(2)).await;
    let run_id = again.body["started"][0].as_str().unwrap().to_owned();
    let run = api
        .run_until(&key, &run_id, |r| r["run"]["status"] == "completed")
        .await;
    let kinds: Vec<&str> = run["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"suppressed"), "{run}");
    assert_eq!(
        smtp.messages().len(),
        1,
        "nothing sent after the unsubscribe"
    );
}

common::place::on_both_backends!(
    email_with_one_click_unsubscribe,
    "email",
    email_with_one_click_unsubscribe_on_sqlite,
    email_with_one_click_unsubscribe_on_postgres
);
