//! Reports as Postfix and Exchange write them: failed recipients are read with the original's
//! `Message-ID`; delays, successes, out-of-office answers and reports without the original's
//! id give nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;

use super::*;

const ID: &str = "<0193f0c2a1b27d3e8f00112233445566@brightsmile.example>";

/// A Postfix report (its layout, field for field) for one recipient.
fn postfix(action: &str, status: &str, returned: &str) -> String {
    format!(
        "Return-Path: <>\r\n\
         From: MAILER-DAEMON@mail.brightsmile.example (Mail Delivery System)\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         To: hello@brightsmile.example\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"3F1A2.1764583205/mail.brightsmile.example\"\r\n\
         Message-Id: <20261201100005.3F1A2@mail.brightsmile.example>\r\n\
         \r\n\
         This is a MIME-encapsulated message.\r\n\
         \r\n\
         --3F1A2.1764583205/mail.brightsmile.example\r\n\
         Content-Description: Notification\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         I'm sorry to have to inform you that your message could not\r\n\
         be delivered to one or more recipients.\r\n\
         \r\n\
         --3F1A2.1764583205/mail.brightsmile.example\r\n\
         Content-Description: Delivery report\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mail.brightsmile.example\r\n\
         X-Postfix-Queue-ID: 3F1A2\r\n\
         Arrival-Date: Tue,  1 Dec 2026 10:00:03 +0000 (UTC)\r\n\
         \r\n\
         Final-Recipient: rfc822; ana@example.com\r\n\
         Original-Recipient: rfc822;Ana@Example.com\r\n\
         Action: {action}\r\n\
         Status: {status}\r\n\
         Remote-MTA: dns; mx.example.com\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <ana@example.com>: Recipient address rejected:\r\n\
         \x20   User unknown\r\n\
         \r\n\
         --3F1A2.1764583205/mail.brightsmile.example\r\n\
         {returned}\
         --3F1A2.1764583205/mail.brightsmile.example--\r\n"
    )
}

fn headers_part(id: &str) -> String {
    format!(
        "Content-Description: Undelivered Message Headers\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         From: Bright Smile <hello@brightsmile.example>\r\n\
         To: Ana@Example.com\r\n\
         Subject: Spring offers\r\n\
         Message-ID: {id}\r\n\
         \r\n"
    )
}

fn message_part(id: &str) -> String {
    format!(
        "Content-Description: Undelivered Message\r\n\
         Content-Type: message/rfc822\r\n\
         \r\n\
         From: Bright Smile <hello@brightsmile.example>\r\n\
         To: Ana@Example.com\r\n\
         Subject: Spring offers\r\n\
         Message-ID: {id}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hi Ana, 20% off cleanings this month.\r\n\
         \r\n"
    )
}

fn receive(method: &str, body: &str) -> Result<HookVerdict, HookError> {
    let headers = BTreeMap::from([("content-type".to_owned(), "message/rfc822".to_owned())]);
    let request = HookRequest {
        method,
        url: "https://stepwise.test/hooks/t/bounce",
        headers: &headers,
        body: body.as_bytes(),
        now: 0,
    };
    BounceHooks.receive(&request, None, None)
}

#[test]
fn a_failed_recipient_is_read_with_the_original_message_id() {
    for returned in [headers_part(ID), message_part(ID)] {
        let found = bounces(postfix("failed", "5.1.1", &returned).as_bytes());
        assert_eq!(
            found,
            vec![Bounce {
                provider_id: ID.into(),
                recipient: "ana@example.com".into(),
                status: "5.1.1".into(),
            }],
            "{returned}"
        );
        assert!(found[0].address_is_dead());
    }
}

#[test]
fn a_policy_refusal_fails_the_message_but_leaves_the_address() {
    let found = bounces(postfix("failed", "5.7.1", &headers_part(ID)).as_bytes());
    assert_eq!(found.len(), 1);
    assert!(!found[0].address_is_dead(), "5.7.1 is about the message");
    let full = bounces(postfix("failed", "5.2.2", &headers_part(ID)).as_bytes());
    assert!(!full[0].address_is_dead(), "a full mailbox empties");
    let disabled = bounces(postfix("failed", "5.2.1", &headers_part(ID)).as_bytes());
    assert!(disabled[0].address_is_dead());
}

#[test]
fn delays_successes_and_reports_without_the_original_give_nothing() {
    assert!(bounces(postfix("delayed", "4.4.1", &headers_part(ID)).as_bytes()).is_empty());
    assert!(bounces(postfix("delivered", "2.0.0", &headers_part(ID)).as_bytes()).is_empty());
    assert!(
        bounces(postfix("failed", "4.4.7", &headers_part(ID)).as_bytes()).is_empty(),
        "a failed action needs a permanent status"
    );
    let no_original = postfix(
        "failed",
        "5.1.1",
        "Content-Type: text/plain\r\n\r\nlost\r\n",
    );
    assert!(bounces(no_original.as_bytes()).is_empty());
}

#[test]
fn an_out_of_office_answer_is_acknowledged_and_ignored() {
    let answer = "From: ana@example.com\r\nTo: hello@brightsmile.example\r\n\
                  Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\n\
                  I am away until Monday.\r\n";
    let verdict = receive("POST", answer).unwrap();
    assert!(verdict.facts.is_empty());
    assert_eq!(verdict.reply, HookReply::Empty);
}

#[test]
fn a_report_is_one_fact_per_failed_recipient_and_other_requests_are_refused() {
    let verdict = receive("POST", &postfix("failed", "5.1.1", &headers_part(ID))).unwrap();
    assert!(matches!(&verdict.facts[..], [InboundFact::Bounce(b)] if b.provider_id == ID));
    assert!(matches!(
        receive("GET", "x"),
        Err(HookError::Unsupported(_))
    ));
    assert!(matches!(
        receive("POST", " \r\n"),
        Err(HookError::Malformed(_))
    ));
}

#[test]
fn a_report_naming_thousands_of_recipients_is_read_for_a_bounded_few() {
    let block = "Final-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n";
    let many = postfix("failed", "5.1.1", &headers_part(ID)).replacen(
        "Final-Recipient",
        &format!("{}Final-Recipient", block.repeat(5_000)),
        1,
    );
    assert_eq!(bounces(many.as_bytes()).len(), MAX_RECIPIENTS);
}

/// An Exim bounce, as exim/src/deliver.c writes it, for `failed` (recipient blocks).
fn exim(failed: &str, original_id: &str) -> String {
    format!(
        "Return-path: <>\r\n\
         From: Mail Delivery System <Mailer-Daemon@mail.brightsmile.example>\r\n\
         To: hello@brightsmile.example\r\n\
         Subject: Mail delivery failed: returning message to sender\r\n\
         X-Failed-Recipients: ana@example.com\r\n\
         Auto-Submitted: auto-replied\r\n\
         Message-Id: <E1vQ2bX-0001Ab-7c@mail.brightsmile.example>\r\n\
         \r\n\
         This message was created automatically by mail delivery software.\r\n\
         \r\n\
         A message that you sent could not be delivered to one or more of its\r\n\
         recipients. This is a permanent error. The following address(es) failed:\r\n\
         \r\n\
         {failed}\
         \r\n\
         ------ This is a copy of the message, including all the headers. ------\r\n\
         \r\n\
         Return-path: <hello@brightsmile.example>\r\n\
         From: Bright Smile <hello@brightsmile.example>\r\n\
         To: Ana@Example.com\r\n\
         Subject: Spring offers\r\n\
         Message-ID: {original_id}\r\n\
         \r\n\
         Hi Ana, 20% off cleanings this month.\r\n"
    )
}

const EXIM_UNKNOWN: &str = "  Ana@Example.com\r\n\
    \x20   host mx.example.com [10.5.1.1]\r\n\
    \x20   SMTP error from remote mail server after RCPT TO:<Ana@Example.com>:\r\n\
    \x20   550 5.1.1 <Ana@Example.com>: Recipient address rejected: User unknown\r\n";

#[test]
fn an_exim_bounce_is_read_from_its_text_and_the_returned_copy() {
    let found = bounces(exim(EXIM_UNKNOWN, ID).as_bytes());
    assert_eq!(
        found,
        vec![Bounce {
            provider_id: ID.into(),
            recipient: "ana@example.com".into(),
            status: "5.1.1".into(),
        }],
        "the address from [10.5.1.1] is not a status"
    );
    let two = format!(
        "{EXIM_UNKNOWN}  |/usr/bin/vacation\r\n    generated by ana@example.com\r\n  \
         bo@example.com\r\n    all hosts for 'example.com' have been failing for a long time\r\n"
    );
    let found = bounces(exim(&two, ID).as_bytes());
    let got: Vec<_> = found.iter().map(|b| (&*b.recipient, &*b.status)).collect();
    assert_eq!(
        got,
        [("ana@example.com", "5.1.1"), ("bo@example.com", "5.0.0")],
        "a pipe is no recipient; a block with no code is a failure that keeps the address"
    );
    assert!(!found[1].address_is_dead());
}

#[test]
fn a_qmail_bounce_is_read_from_its_paragraphs() {
    let qmail = format!(
        "From: MAILER-DAEMON@mail.brightsmile.example\r\n\
         To: hello@brightsmile.example\r\n\
         Subject: failure notice\r\n\
         \r\n\
         Hi. This is the qmail-send program at mail.brightsmile.example.\r\n\
         I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\
         This is a permanent error; I've given up. Sorry it didn't work out.\r\n\
         \r\n\
         <ana@example.com>:\r\n\
         Sorry, no mailbox here by that name. (#5.1.1)\r\n\
         \r\n\
         <bo@example.com>:\r\n\
         10.0.0.9 does not like recipient.\r\n\
         Remote host said: 552 5.2.2 Mailbox full, try again on 5.1.2027\r\n\
         \r\n\
         --- Below this line is a copy of the message.\r\n\
         \r\n\
         Return-Path: <hello@brightsmile.example>\r\n\
         Message-ID: {ID}\r\n\
         Subject: Spring offers\r\n\
         \r\n\
         Hi, 20% off.\r\n"
    );
    let found = bounces(qmail.as_bytes());
    let got: Vec<_> = found
        .iter()
        .map(|b| (&*b.provider_id, &*b.recipient, &*b.status))
        .collect();
    assert_eq!(
        got,
        [
            (ID, "ana@example.com", "5.1.1"),
            (ID, "bo@example.com", "5.2.2")
        ]
    );
}

#[test]
fn a_text_answer_naming_our_email_only_in_its_headers_is_no_bounce() {
    // An auto-answer threads on our Message-ID and may even quote Exim's words, but returns
    // no copy after the rubric: nothing is read.
    let answer = format!(
        "From: ana@example.com\r\nTo: hello@brightsmile.example\r\n\
         In-Reply-To: {ID}\r\nSubject: Re: Spring offers\r\n\r\n\
         Away until 5.1.2027. The following address(es) failed:\r\n\
         \r\n  ana@example.com\r\n    550 5.1.1 no\r\n"
    );
    assert!(bounces(answer.as_bytes()).is_empty());
    let without_id = exim(EXIM_UNKNOWN, "").replace("Message-ID: \r\n", "");
    assert!(bounces(without_id.as_bytes()).is_empty(), "no original id");
}

#[test]
fn a_text_bounce_naming_thousands_of_recipients_is_read_for_a_bounded_few() {
    let many = "  x@example.com\r\n    550 5.1.1 unknown\r\n".repeat(5_000);
    assert_eq!(bounces(exim(&many, ID).as_bytes()).len(), MAX_RECIPIENTS);
}
