//! SMTP against a fake server on 127.0.0.1 speaking the protocol: what a message carries
//! (the one-click unsubscribe headers and footer for marketing), and how each kind of answer
//! is classified.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::json;
use stepwise_core::{CallCx, ConnectorError, EmailSend, Notify, NotifyAudience, Request, Response};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::Smtp;
use crate::links::LinkSigner;
use crate::provider::{Env, Provider};
use crate::testing::{MapVault, env};

/// What the fake answers at one stage: a reply line, or silence.
#[derive(Debug, Clone)]
enum Say {
    Line(&'static str),
    Hang,
}

#[derive(Debug, Default)]
struct Script {
    rcpt: VecDeque<Say>,
    end_of_data: VecDeque<Say>,
    messages: Vec<String>,
}

/// A fake SMTP server; answers 250 unless scripted.
async fn fake_smtp() -> (String, Arc<Mutex<Script>>) {
    let script: Arc<Mutex<Script>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let shared = script.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let script = shared.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 fake ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = &mut data {
                        if line == "." {
                            let said = script.lock().unwrap().end_of_data.pop_front();
                            script.lock().unwrap().messages.push(std::mem::take(body));
                            data = None;
                            match said.unwrap_or(Say::Line("250 2.0.0 queued")) {
                                Say::Line(l) => {
                                    let _ = write.write_all(format!("{l}\r\n").as_bytes()).await;
                                }
                                Say::Hang => std::future::pending::<()>().await,
                            }
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply = match verb.as_str() {
                        "EHLO" | "HELO" => Say::Line("250 fake"),
                        "RCPT" => script
                            .lock()
                            .unwrap()
                            .rcpt
                            .pop_front()
                            .unwrap_or(Say::Line("250 2.1.5 ok")),
                        "DATA" => {
                            data = Some(String::new());
                            Say::Line("354 go ahead")
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => Say::Line("250 ok"),
                    };
                    match reply {
                        Say::Line(l) => {
                            let _ = write.write_all(format!("{l}\r\n").as_bytes()).await;
                        }
                        Say::Hang => std::future::pending::<()>().await,
                    }
                }
            });
        }
    });
    (url, script)
}

fn email(marketing: bool) -> Request {
    Request::Email(EmailSend {
        to: "Ana@Example.com".into(),
        from: None,
        reply_to: Some("desk@brightsmile.example".into()),
        subject: "Your cleaning".into(),
        body: "See you Tuesday.".into(),
        html: None,
        marketing,
        postal_address: Some("12 Main St, Austin, TX 78701".into()),
    })
}

fn options() -> serde_json::Map<String, serde_json::Value> {
    json!({"host": "smtp.brightsmile.example", "from": "Bright Smile <hello@brightsmile.example>"})
        .as_object()
        .cloned()
        .unwrap()
}

fn smtp_at(relay: &str) -> Smtp {
    let mut env = (*env("smtp", relay, MapVault::default())).clone();
    env.links = Some(LinkSigner::from_secret("test-secret"));
    Smtp::new(Arc::new(env))
}

#[tokio::test]
async fn sends_marketing_email_with_one_click_unsubscribe_and_the_postal_address() {
    let (relay, script) = fake_smtp().await;
    let smtp = smtp_at(&relay);
    let cx = CallCx::bare("t1", "r", "s");
    let Response::Sent(sent) = smtp.call(&email(false), &options(), &cx).await.unwrap() else {
        panic!("not a send")
    };
    assert!(
        sent.message_id.ends_with("@brightsmile.example>"),
        "{}",
        sent.message_id
    );
    let plain = script.lock().unwrap().messages[0].clone();
    assert!(
        plain.contains("From: \"Bright Smile\" <hello@brightsmile.example>"),
        "{plain}"
    );
    assert!(
        plain.contains("Reply-To: desk@brightsmile.example"),
        "{plain}"
    );
    assert!(
        !plain.contains("List-Unsubscribe"),
        "transactional email has no unsubscribe header"
    );

    smtp.call(&email(true), &options(), &cx).await.unwrap();
    let marketing = script.lock().unwrap().messages[1].clone();
    assert!(
        marketing.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{marketing}"
    );
    let start = marketing
        .find("List-Unsubscribe: <https://stepwise.test/unsubscribe/")
        .expect("the header");
    let token: String = marketing[start + 53..]
        .chars()
        .take_while(|c| *c != '>')
        .collect();
    let target = LinkSigner::from_secret("test-secret")
        .open(&token)
        .expect("a genuine token");
    assert_eq!(
        (target.tenant_id.as_str(), target.address.as_str()),
        ("t1", "ana@example.com")
    );
    assert!(
        marketing.contains("12 Main St, Austin, TX 78701"),
        "the postal address is in the footer"
    );
}

#[tokio::test]
async fn an_html_body_goes_beside_the_text_with_the_footer_in_both() {
    let (relay, script) = fake_smtp().await;
    let smtp = smtp_at(&relay);
    let cx = CallCx::bare("t1", "r", "s");
    let Request::Email(mut send) = email(true) else {
        unreachable!()
    };
    send.html = Some("<html><body><h1>See you Tuesday.</h1></body></html>".into());
    smtp.call(&Request::Email(send), &options(), &cx)
        .await
        .unwrap();
    let raw = script.lock().unwrap().messages[0].clone();
    // Undo quoted-printable's soft line breaks and `=` so the parts read as written.
    let message = raw.replace("=\n", "").replace("=3D", "=");
    assert!(
        message.contains("Content-Type: multipart/alternative"),
        "{message}"
    );
    let (text, html) = (
        message
            .find("Content-Type: text/plain")
            .expect("a text part"),
        message
            .find("Content-Type: text/html")
            .expect("an html part"),
    );
    assert!(text < html, "the text part comes first: {message}");
    assert!(message.contains("<h1>See you Tuesday.</h1>"), "{message}");
    let footer = message
        .find("\">Unsubscribe</a><br>12 Main St, Austin, TX 78701</p></body>")
        .expect("the footer, before </body>");
    assert!(footer > html, "{message}");
    assert!(
        message[text..html].contains("Unsubscribe: https://stepwise.test/unsubscribe/"),
        "the text part has its footer too: {message}"
    );
}

#[tokio::test]
async fn staff_alerts_email_the_team_with_the_first_line_as_subject() {
    let (relay, script) = fake_smtp().await;
    let smtp = smtp_at(&relay);
    let cx = CallCx::bare("t1", "r", "s");
    let mut settings = options();
    settings.insert("owner".into(), json!("owner@brightsmile.example"));
    settings.insert(
        "team".into(),
        json!(["desk@brightsmile.example", "dr.lee@brightsmile.example"]),
    );
    let alert = Request::Notify(Notify {
        audience: NotifyAudience::Team,
        text: "Unhappy patient: Ben (3/10)\nCall him today: +15125550111".into(),
    });
    let answer = smtp.call(&alert, &settings, &cx).await.unwrap();
    assert!(matches!(answer, Response::Notified(ref n) if n.channel == NotifyAudience::Team));
    let messages = script.lock().unwrap().messages.clone();
    assert_eq!(messages.len(), 2);
    for (message, to) in messages
        .iter()
        .zip(["desk@brightsmile.example", "dr.lee@brightsmile.example"])
    {
        assert!(message.contains(&format!("To: {to}")), "{message}");
        assert!(
            message.contains("Subject: Unhappy patient: Ben (3/10)"),
            "{message}"
        );
        assert!(message.contains("Call him today"), "{message}");
        assert!(!message.contains("List-Unsubscribe"), "{message}");
    }
    let check = |v: serde_json::Map<String, serde_json::Value>| {
        smtp.check(stepwise_core::Capability::Notify, &v)
    };
    assert!(check(settings.clone()).is_ok());
    let mut bad = settings.clone();
    bad.insert("owner".into(), json!("not an address"));
    assert!(check(bad).unwrap_err().contains("owner"));
}

#[tokio::test]
async fn answers_are_classified_and_a_hard_bounce_is_rejected() {
    let (relay, script) = fake_smtp().await;
    let smtp = smtp_at(&relay);
    let cx = CallCx::bare("t1", "r", "s");
    let (request, settings) = (email(false), options());
    let call = || smtp.call(&request, &settings, &cx);
    script
        .lock()
        .unwrap()
        .rcpt
        .push_back(Say::Line("450 4.2.1 mailbox busy"));
    assert!(matches!(
        call().await,
        Err(ConnectorError::Retryable { .. })
    ));
    script
        .lock()
        .unwrap()
        .rcpt
        .push_back(Say::Line("550 5.1.1 no such user"));
    let bounce = call().await.unwrap_err();
    assert!(
        matches!(bounce, ConnectorError::Rejected { ref code, .. } if code == "5.1.1"),
        "{bounce:?}"
    );
    script
        .lock()
        .unwrap()
        .end_of_data
        .push_back(Say::Line("554 5.7.1 rejected as spam"));
    assert_eq!(call().await.unwrap_err().code(), Some("554"));
    script.lock().unwrap().end_of_data.push_back(Say::Hang);
    assert!(
        matches!(call().await, Err(ConnectorError::Uncertain { .. })),
        "no answer after the data"
    );

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down = format!("smtp://{}", closed.local_addr().unwrap());
    drop(closed);
    let refused = smtp_at(&down)
        .call(&email(false), &options(), &cx)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ConnectorError::Retryable { .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_tenants_server_must_be_public_and_settings_are_checked() {
    let strict = Smtp::new(Arc::new(Env {
        outbound: crate::outbound::Outbound::new(crate::outbound::Guard::default()),
        vault: Arc::new(MapVault::default()),
        public_url: None,
        base_urls: BTreeMap::new(),
        links: None,
    }));
    let local = json!({"host": "localhost", "port": 2525, "from": "a@b.example"})
        .as_object()
        .cloned()
        .unwrap();
    let err = strict
        .call(&email(false), &local, &CallCx::bare("t1", "r", "s"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("address_refused"), "{err:?}");

    let check = |v: serde_json::Value| {
        strict.check(stepwise_core::Capability::Email, v.as_object().unwrap())
    };
    assert!(check(json!({"host": "smtp.example.com", "from": "Bright <hi@example.com>"})).is_ok());
    assert!(
        check(json!({"host": "smtp://x", "from": "hi@example.com"}))
            .unwrap_err()
            .contains("host")
    );
    assert!(
        check(json!({"host": "smtp.example.com", "from": "not an address"}))
            .unwrap_err()
            .contains("from")
    );
    assert!(
        check(json!({"host": "smtp.example.com", "from": "hi@example.com", "password": "x"}))
            .is_err()
    );
}
