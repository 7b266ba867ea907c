//! Email through the real binary to a local SMTP server: a marketing flow cannot be published
//! without the business's postal address (CAN-SPAM); once it is, the email carries the
//! one-click unsubscribe headers (RFC 8058) and a footer with the link and the address; the
//! link's page has one button; a POST to it with `List-Unsubscribe=One-Click` and no cookies
//! suppresses the address at once, answers 200 without a redirect, and the next marketing email
//! to it is suppressed with the reason. An altered link changes nothing. A bounce report that
//! comes back later (RFC 3464, piped to `/hooks/{token}/bounce`) marks the email undelivered
//! and suppresses the address, and flows hear `email.bounced` once; a report about an email
//! the tenant did not send to that recipient, or posted to another tenant's hook, changes
//! nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::Backend;
use common::audience::zone_at;
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

/// A server whose tenant sends email through the fake SMTP server, with the newsletter flow
/// published (refused first without the postal address).
async fn newsletter_tenant(
    backend: &Backend,
    dir: &std::path::Path,
) -> (FakeSmtp, common::Process, Client, String) {
    let smtp = FakeSmtp::start().await;
    let relay = format!("smtp={}", smtp.url);
    let env = [
        ("STEPWISE_PUBLIC_URL", "https://stepwise.test"),
        ("STEPWISE_PROVIDER_URLS", relay.as_str()),
    ];
    let (server, base) = common::start_server_with(dir, backend, "all", &env);
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
    (smtp, server, api, key)
}

/// A newsletter signup of Ana's, numbered.
fn signup(n: u32) -> serde_json::Value {
    json!({"type": "newsletter.signup", "external_id": format!("s{n}"),
           "contact": {"email": "Ana@Example.com", "first_name": "Ana", "timezone": zone_at(12)}})
}

/// The next run's timeline kinds, once it completed.
async fn completed_kinds(api: &Client, key: &str, accepted: &serde_json::Value) -> Vec<String> {
    let run_id = accepted["started"][0].as_str().unwrap().to_owned();
    let run = api
        .run_until(key, &run_id, |r| r["run"]["status"] == "completed")
        .await;
    run["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect()
}

async fn email_with_one_click_unsubscribe(backend: &Backend, dir: &std::path::Path) {
    let (smtp, _server, api, key) = newsletter_tenant(backend, dir).await;
    let base = api.base.clone();
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
    let kinds = completed_kinds(&api, &key, &again.body).await;
    assert!(kinds.iter().any(|k| k == "suppressed"), "{kinds:?}");
    assert_eq!(
        smtp.messages().len(),
        1,
        "nothing sent after the unsubscribe"
    );
}

/// A bounce report as Postfix writes one, for `recipient`, about the email `message_id`.
fn bounce_report(recipient: &str, message_id: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mail.brightsmile.example (Mail Delivery System)\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mail.brightsmile.example\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         To: {recipient}\r\nSubject: Spring offers\r\nMessage-ID: {message_id}\r\n\r\n\
         --B--\r\n"
    )
}

async fn a_bounce_report_suppresses_the_address(backend: &Backend, dir: &std::path::Path) {
    let (smtp, _server, api, key) = newsletter_tenant(backend, dir).await;
    let token = api.get("/v1/settings", &key).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let stranger = api.tenant("stranger").await;
    let stranger_token = api.get("/v1/settings", &stranger).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = api.post("/v1/events", &key, &signup(1)).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let sent = smtp
        .until_messages(1, Duration::from_secs(20))
        .await
        .remove(0);
    let message_id: String = sent
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("the email's Message-ID")
        .trim()
        .to_owned();
    let stored = api
        .get_until("/v1/messages?channel=email", &key, |m| {
            m["data"][0]["provider_id"] == message_id.as_str()
        })
        .await;
    assert_eq!(stored["data"][0]["status"], "sent", "{stored}");

    let post = |token: String, report: String| {
        let http = common::http();
        let url = format!("{}/hooks/{token}/bounce", api.base);
        async move {
            http.post(url)
                .header("content-type", "message/rfc822")
                .body(report)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // About another recipient, an email never sent, or to another tenant's hook: nothing.
    for (token, report) in [
        (token.clone(), bounce_report("bo@example.com", &message_id)),
        (
            token.clone(),
            bounce_report("ana@example.com", "<forged@brightsmile.example>"),
        ),
        (
            stranger_token,
            bounce_report("ana@example.com", &message_id),
        ),
    ] {
        assert_eq!(post(token, report).await, StatusCode::NO_CONTENT);
    }
    assert_eq!(api.count("/v1/suppressions", &key).await, 0);
    let unchanged = api.get("/v1/messages?channel=email", &key).await.body;
    assert_eq!(unchanged["data"][0]["status"], "sent", "{unchanged}");

    let report = bounce_report("ana@example.com", &message_id);
    assert_eq!(
        post(token.clone(), report.clone()).await,
        StatusCode::NO_CONTENT
    );
    let bounced = api.get("/v1/messages?channel=email", &key).await.body;
    assert_eq!(bounced["data"][0]["status"], "undelivered", "{bounced}");
    assert_eq!(bounced["data"][0]["error_code"], "5.1.1", "{bounced}");
    let listed = api.get("/v1/suppressions?channel=email", &key).await.body;
    assert_eq!(listed["data"][0]["address"], "ana@example.com", "{listed}");
    assert_eq!(listed["data"][0]["reason"], "bounce 5.1.1", "{listed}");
    // The same report again (a pipe that retried) adds nothing.
    assert_eq!(post(token, report).await, StatusCode::NO_CONTENT);
    assert_eq!(api.count("/v1/suppressions", &key).await, 1);
    // Flows hear it once, as an event of the contact the email went to.
    let run = accepted.body["started"][0].as_str().unwrap();
    let contact = api.get(&format!("/v1/runs/{run}"), &key).await.body["run"]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bounced = api.contact_events(&key, &contact, "email.bounced").await;
    assert_eq!(bounced.len(), 1, "{bounced:?}");
    assert_eq!(
        bounced[0],
        json!({"address": "ana@example.com", "status": "5.1.1",
               "message_id": message_id, "suppressed": true})
    );

    let again = api.post("/v1/events", &key, &signup(2)).await;
    let kinds = completed_kinds(&api, &key, &again.body).await;
    assert!(kinds.iter().any(|k| k == "suppressed"), "{kinds:?}");
    assert_eq!(smtp.messages().len(), 1, "nothing sent after the bounce");
}

common::place::on_both_backends!(
    a_bounce_report_suppresses_the_address,
    "email",
    a_bounce_report_suppresses_the_address_on_sqlite,
    a_bounce_report_suppresses_the_address_on_postgres
);

common::place::on_both_backends!(
    email_with_one_click_unsubscribe,
    "email",
    email_with_one_click_unsubscribe_on_sqlite,
    email_with_one_click_unsubscribe_on_postgres
);
