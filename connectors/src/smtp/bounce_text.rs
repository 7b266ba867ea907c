//! Bounces written as plain text, by mail servers that send no RFC 3464 report: Exim's ("The
//! following address(es) failed:") and qmail's (its bounce message format, QSBMF: "Hi. This is
//! the qmail-send program"). Both report only permanent failures, each failed recipient in a
//! block of its own, and return the original message after a fixed rubric.
//!
//! The original's `Message-ID` is read only from the text after that rubric, never from the
//! bounce's own headers: an out-of-office answer names our email in its `In-Reply-To` and
//! must not count as a bounce. A block without an enhanced status code (`5.1.1`) counts as
//! `5.0.0`: the email failed, but nothing says the address is dead, so it is not suppressed.

use mail_parser::MessageParser;

/// Exim's words before its failed recipients.
const EXIM_FAILED: &str = "The following address(es) failed:";
/// The start of Exim's rubric before the returned message (with or without its body).
const EXIM_COPY: &str = "------ This is a copy of the message";
/// qmail's first words.
const QMAIL_START: &str = "Hi. This is the qmail-send program";
/// The start of qmail's rubric before the returned message (`…a copy of the message.` or
/// `…the top of the message.`).
const QMAIL_COPY: &str = "--- Below this line is ";
/// The status of a permanent failure whose block names no enhanced code.
const UNSPECIFIED: &str = "5.0.0";

/// `(recipients with their status, the original's Message-ID)` of an Exim or qmail bounce;
/// `None` for any other text.
pub(super) fn text_bounce(text: &str, most: usize) -> Option<(Vec<(String, String)>, String)> {
    let text = text.replace("\r\n", "\n");
    let (failures, copy) = if text.trim_start().starts_with(QMAIL_START) {
        let (report, copy) = split_at_line(&text, QMAIL_COPY)?;
        (qmail_recipients(report), copy)
    } else {
        let (_, rest) = text.split_once(EXIM_FAILED)?;
        let (report, copy) = split_at_line(rest, EXIM_COPY)?;
        (exim_recipients(report), copy)
    };
    let id = MessageParser::default()
        .parse_headers(copy.trim_start().as_bytes())?
        .message_id()
        .map(|id| format!("<{id}>"))?;
    let failures: Vec<_> = failures.into_iter().take(most).collect();
    (!failures.is_empty()).then_some((failures, id))
}

/// The text before the line starting with `rubric`, and the text after that line.
fn split_at_line<'a>(text: &'a str, rubric: &str) -> Option<(&'a str, &'a str)> {
    let at = text
        .match_indices(rubric)
        .map(|(at, _)| at)
        .find(|&at| at == 0 || text[..at].ends_with('\n'))?;
    let after = text[at..].split_once('\n').map_or("", |(_, after)| after);
    Some((&text[..at], after))
}

/// Exim: a recipient's line is indented by two spaces, its details by more.
fn exim_recipients(report: &str) -> Vec<(String, String)> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in report.lines() {
        let detail = line.starts_with("   ") || line.starts_with('\t');
        match (detail, blocks.last_mut()) {
            (true, Some((_, details))) => {
                details.push_str(line);
                details.push('\n');
            }
            (false, _) if line.starts_with("  ") => {
                blocks.push((line.trim().to_owned(), String::new()));
            }
            _ => {}
        }
    }
    blocks
        .into_iter()
        .filter_map(|(head, details)| {
            let address = address(head.split_whitespace().next()?)?;
            Some((address, status(&details)))
        })
        .collect()
}

/// qmail: each recipient's paragraph starts with `<address>:`.
fn qmail_recipients(report: &str) -> Vec<(String, String)> {
    report
        .split("\n\n")
        .filter_map(|paragraph| {
            let paragraph = paragraph.trim_start_matches('\n');
            let (head, details) = paragraph.split_once(">:")?;
            let head = head.strip_prefix('<')?;
            let address = address(head)?;
            Some((address, status(details)))
        })
        .collect()
}

/// `ana@example.com` from `<Ana@Example.com>`; `None` for what is not an address (a pipe, a
/// file).
fn address(word: &str) -> Option<String> {
    let address = word.trim_matches(['<', '>', ':']).to_lowercase();
    let (local, domain) = address.split_once('@')?;
    let plain = |part: &str| !part.is_empty() && !part.contains(char::is_whitespace);
    (plain(local) && plain(domain)).then_some(address)
}

/// The first enhanced status code of a permanent failure (`5.1.1`, RFC 3463: one to three
/// digits a part) in `details`, else [`UNSPECIFIED`]. A date (`5.1.2026`) or an address
/// (`5.1.1.4`) is not one.
fn status(details: &str) -> String {
    let bytes = details.as_bytes();
    for (at, _) in details.match_indices("5.") {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_digit() || b == b'.') {
            continue;
        }
        let rest = &details[at + 2..];
        let Some((subject, rest)) = digits(rest) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix('.') else {
            continue;
        };
        let Some((detail, rest)) = digits(rest) else {
            continue;
        };
        // (`digits` took every digit there was.) `5.1.1.4` goes on: an address, not a code.
        let goes_on = rest
            .strip_prefix('.')
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
        if !goes_on {
            return format!("5.{subject}.{detail}");
        }
    }
    UNSPECIFIED.to_owned()
}

/// One to three leading digits, and what follows them.
fn digits(text: &str) -> Option<(&str, &str)> {
    let count = text.bytes().take_while(u8::is_ascii_digit).count();
    (1..=3).contains(&count).then(|| text.split_at(count))
}
