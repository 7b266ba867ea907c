//! The timeline: run records rendered for people (one line each, local time and offset from
//! the start) or as JSON lines. The CLI simulator and the API's run history share it.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::{Value, json};

use super::record::{Happening, StepRecord};

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// Which run, when a timeline shows several (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub attempt: u32,
    #[serde(flatten)]
    pub what: Entry,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A record, or a note from the simulator itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Entry {
    Record(Happening),
    Note { kind: &'static str, text: String },
}

impl TimelineEntry {
    pub fn from_record(record: StepRecord, run: Option<usize>) -> Self {
        Self {
            at: record.at,
            run,
            step: record.step,
            attempt: record.attempt,
            what: Entry::Record(record.what),
        }
    }

    pub fn note(at: Timestamp, text: String) -> Self {
        Self {
            at,
            run: None,
            step: None,
            attempt: 0,
            what: Entry::Note { kind: "note", text },
        }
    }

    /// This entry as one JSON object with the local time and offset added.
    pub fn to_json(&self, start: Timestamp, zone: &TimeZone) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("local".into(), json!(local(self.at, zone)));
            map.insert("offset".into(), json!(offset(start, self.at)));
        }
        value
    }
}

fn local(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned(zone.clone())
        .strftime("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// `+0s`, `+15m`, `+1h30m`, `+2d3h`, from whole seconds.
pub fn offset(start: Timestamp, t: Timestamp) -> String {
    let total = t.as_second() - start.as_second();
    let (sign, mut s) = if total < 0 {
        ("-", -total)
    } else {
        ("+", total)
    };
    if s == 0 {
        return "+0s".into();
    }
    let mut out = String::from(sign);
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

fn describe(what: &Entry, zone: &TimeZone) -> String {
    let when = |t: &Timestamp| local(*t, zone);
    let Entry::Record(h) = what else {
        let Entry::Note { text, .. } = what else {
            return String::new();
        };
        return format!("note: {text}");
    };
    match h {
        Happening::Started {
            flow,
            version,
            trigger,
        } => format!("run started: flow {flow} v{version} by {trigger}"),
        Happening::Sent {
            channel,
            to,
            subject,
            text,
            segments,
            encoding,
            ..
        } => {
            let cost = match (segments, encoding) {
                (Some(n), Some(enc)) => {
                    format!(" ({n} segment{}, {enc})", if *n == 1 { "" } else { "s" })
                }
                _ => String::new(),
            };
            let subject = subject
                .as_ref()
                .map(|s| format!(" subject \"{s}\":"))
                .unwrap_or_default();
            format!("sent {channel} to {to}{cost}:{subject} \"{text}\"")
        }
        Happening::Called {
            connector,
            action,
            request,
            ..
        } => {
            let detail = request
                .get("text")
                .or_else(|| request.get("url"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if detail.is_empty() {
                format!("{connector} {action}")
            } else {
                format!("{connector} {action}: \"{detail}\"")
            }
        }
        Happening::Suppressed { channel, reason } => format!("{channel} suppressed: {reason}"),
        Happening::QuietHold { until, reason } => format!("held until {}: {reason}", when(until)),
        Happening::TakeoverHold { reason } => format!("held: {reason}"),
        Happening::Paced { until, number } => {
            format!("paced until {}: {number}'s next free slot", when(until))
        }
        Happening::HandedOver { channel, reason } => {
            format!("handed over to a person ({channel}): {reason}")
        }
        Happening::Condition { expression, result } => format!("if {expression} → {result}"),
        Happening::Computed { output } => format!("done: {output}"),
        Happening::Iteration { index, count, item } => {
            format!("item {} of {count}: {item}", index + 1)
        }
        Happening::Sleeping { until } => format!("waiting until {}", when(until)),
        Happening::WaitSkipped { until } => format!("wait skipped: {} already passed", when(until)),
        Happening::WaitingFor {
            event,
            or,
            timeout_at,
        } => {
            let events = std::iter::once(event).chain(or).map(String::as_str);
            let events = events.collect::<Vec<_>>().join(" or ");
            match timeout_at {
                Some(t) => format!("waiting for {events} until {}", when(t)),
                None => format!("waiting for {events} (no timeout)"),
            }
        }
        Happening::Woke { by } => format!("woke: {by}"),
        Happening::RetryScheduled { retry_at, error } => {
            format!("failed ({error}); retry at {}", when(retry_at))
        }
        Happening::ErrorHandled { error, policy } => format!("failed ({error}); on_error {policy}"),
        Happening::Uncertain { error } => format!("uncertain, not repeated: {error}"),
        Happening::Ended { status, reason } => format!("run {status}: {reason}"),
    }
}

/// The whole timeline as text, one line per entry.
pub fn render_text(entries: &[TimelineEntry], start: Timestamp, zone: &TimeZone) -> String {
    let width = entries
        .iter()
        .filter_map(|e| e.step.as_ref().map(String::len))
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = String::new();
    for e in entries {
        let run = e.run.map(|r| format!("run {r}  ")).unwrap_or_default();
        let step = e.step.as_deref().unwrap_or("-");
        let attempt = if e.attempt > 1 {
            format!(" (attempt {})", e.attempt)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{}  {:>7}  {run}{step:<width$}  {}{attempt}\n",
            local(e.at, zone),
            offset(start, e.at),
            describe(&e.what, zone)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_naturally() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| Timestamp::from_second(start.as_second() + s).unwrap();
        assert_eq!(offset(start, start), "+0s");
        assert_eq!(offset(start, at(900)), "+15m");
        assert_eq!(offset(start, at(5_400)), "+1h30m");
        assert_eq!(offset(start, at(2 * 86_400 + 3_600)), "+2d1h");
    }
}
