//! Helpers flow authors call in expressions: text (`lower`, `contains_any`, `is_blank`), lists
//! (`sorted`, `reversed`, copies a `for_each` can walk in order) and
//! time (`minutes`, `hours`, `days`, arithmetic and comparison of RFC 3339 strings, the
//! local hour, weekday and wording of a time: `hour_of_day`, `day_of_week`, `at_hour`,
//! `format_time`).
//!
//! Timestamps are RFC 3339 strings, as they arrive in event data. `t - hours(24)` is exact
//! elapsed time; `t - days(1)` is the same wall-clock time one calendar day earlier in the
//! run's time zone (the contact's, else the tenant's), which is what a reminder "the day
//! before at the same time" means across a daylight-saving change.

use std::cell::RefCell;

use jiff::fmt::strtime;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan, Zoned};
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Position};

/// A length of time in an expression, made by `seconds`, `minutes`, `hours` or `days`.
#[derive(Debug, Clone, Copy)]
pub struct TimeSpan(pub Span);

thread_local! {
    static ZONE: RefCell<TimeZone> = const { RefCell::new(TimeZone::UTC) };
}

/// Runs `f` with `zone` as the zone that calendar arithmetic (`days`) uses.
pub fn with_zone<T>(zone: &TimeZone, f: impl FnOnce() -> T) -> T {
    let previous = ZONE.with(|z| z.replace(zone.clone()));
    let out = f();
    ZONE.with(|z| *z.borrow_mut() = previous);
    out
}

/// Formats a timestamp the way expressions see timestamps: UTC, seconds precision.
pub fn format_time(t: Timestamp) -> String {
    t.round(jiff::Unit::Second)
        .unwrap_or(t)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

type Res<T> = Result<T, Box<EvalAltResult>>;

/// The longest `format_time` pattern: a message's date wording, not a document. jiff pads a
/// field to at most 20 characters, so the output stays within a small multiple of this.
pub const MAX_TIME_PATTERN: usize = 100;

fn error(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(message), Position::NONE).into()
}

/// Parses an RFC 3339 timestamp (an offset or `Z` is required).
pub fn parse_time(text: &str) -> Res<Timestamp> {
    text.parse::<Timestamp>().map_err(|_| {
        error(format!(
            "\"{text}\" is not a timestamp (write RFC 3339, e.g. 2026-03-09T15:00:00-05:00)"
        ))
    })
}

fn shift(text: &str, span: TimeSpan, sign: i64) -> Res<ImmutableString> {
    let t = parse_time(text)?;
    let span = if sign < 0 { span.0.negate() } else { span.0 };
    let shifted = if span.get_days() != 0 {
        ZONE.with(|z| {
            t.to_zoned(z.borrow().clone())
                .checked_add(span)
                .map(|z| z.timestamp())
        })
    } else {
        t.checked_add(span)
    };
    shifted
        .map(|t| format_time(t).into())
        .map_err(|e| error(format!("time out of range: {e}")))
}

/// `t` in the run's zone (the contact's, else the tenant's).
fn in_run_zone(t: Timestamp) -> Zoned {
    ZONE.with(|z| t.to_zoned(z.borrow().clone()))
}

/// `t` written by a strftime `pattern` (`%A, %B %-d at %-I:%M %p`), in English.
fn format_local(t: &Zoned, pattern: &str) -> Res<String> {
    if pattern.len() > MAX_TIME_PATTERN {
        return Err(error(format!(
            "a time pattern is at most {MAX_TIME_PATTERN} characters"
        )));
    }
    strtime::format(pattern, t)
        .map_err(|e| error(format!("\"{pattern}\" is not a time pattern: {e}")))
}

/// `hour`:00 on `t`'s local day (a time skipped by a daylight-saving change moves forward).
fn at_hour(t: &Zoned, hour: i64) -> Res<ImmutableString> {
    let hour = i8::try_from(hour)
        .ok()
        .filter(|h| (0..=23).contains(h))
        .ok_or_else(|| error(format!("{hour} is not an hour of the day (0 to 23)")))?;
    t.date()
        .at(hour, 0, 0, 0)
        .to_zoned(t.time_zone().clone())
        .map(|z| format_time(z.timestamp()).into())
        .map_err(|e| error(format!("time out of range: {e}")))
}

fn span_of(n: i64, make: fn(i64) -> Span) -> Res<TimeSpan> {
    if !(-100_000..=100_000).contains(&n) {
        return Err(error(format!("{n} is out of range for a duration")));
    }
    Ok(TimeSpan(make(n)))
}

fn contains_any(text: &str, words: &Array) -> bool {
    let text = text.to_lowercase();
    words
        .iter()
        .filter_map(|w| w.clone().into_immutable_string().ok())
        .any(|w| text.contains(&w.to_lowercase()))
}

/// The list's items in ascending order: numbers, or texts (a copy; the list is unchanged).
fn sorted(list: Array) -> Res<Array> {
    if list.iter().all(|v| v.is_int() || v.is_float()) {
        let mut numbers: Vec<Dynamic> = list;
        let key = |v: &Dynamic| {
            v.as_float()
                .unwrap_or_else(|_| v.as_int().unwrap_or(0) as f64)
        };
        numbers.sort_by(|a, b| key(a).total_cmp(&key(b)));
        Ok(numbers)
    } else if list.iter().all(Dynamic::is_string) {
        let mut texts: Vec<Dynamic> = list;
        texts.sort_by_key(|v| v.to_string());
        Ok(texts)
    } else {
        Err(error(
            "sorted takes a list of numbers or a list of texts".to_owned(),
        ))
    }
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("sorted", sorted);
    engine.register_fn("reversed", |mut list: Array| {
        list.reverse();
        list
    });
    engine.register_type_with_name::<TimeSpan>("Duration");

    engine.register_fn("lower", |s: &str| s.to_lowercase());
    engine.register_fn("lower", |_: ()| String::new());
    engine.register_fn("upper", |s: &str| s.to_uppercase());
    engine.register_fn("upper", |_: ()| String::new());
    // rhai's own `trim` trims its argument in place and gives `()`, so `lower(trim(x))`
    // was always "": here it gives the trimmed text, as every other helper does.
    engine.register_fn("trim", |s: &str| s.trim().to_owned());
    engine.register_fn("trim", |_: ()| String::new());
    engine.register_fn("contains_any", |s: &str, words: Array| {
        contains_any(s, &words)
    });
    engine.register_fn("contains_any", |_: (), _: Array| false);
    engine.register_fn("is_blank", |s: &str| s.trim().is_empty());
    engine.register_fn("is_blank", |_: ()| true);
    engine.register_fn("is_blank", |a: Array| a.is_empty());
    engine.register_fn("is_blank", |m: rhai::Map| m.is_empty());
    // A number or a flag is a value, whatever it is (event data is the sender's JSON).
    engine.register_fn("is_blank", |_: i64| false);
    engine.register_fn("is_blank", |_: f64| false);
    engine.register_fn("is_blank", |_: bool| false);

    engine.register_fn("seconds", |n: i64| span_of(n, |n| n.seconds()));
    engine.register_fn("minutes", |n: i64| span_of(n, |n| n.minutes()));
    engine.register_fn("hours", |n: i64| span_of(n, |n| n.hours()));
    engine.register_fn("days", |n: i64| span_of(n, |n| n.days()));
    engine.register_fn("-", |t: &str, d: TimeSpan| shift(t, d, -1));
    engine.register_fn("+", |t: &str, d: TimeSpan| shift(t, d, 1));
    engine.register_fn("time", |t: &str| parse_time(t).map(format_time));
    engine.register_fn("is_before", |a: &str, b: &str| {
        Ok::<_, Box<EvalAltResult>>(parse_time(a)? < parse_time(b)?)
    });
    engine.register_fn("is_after", |a: &str, b: &str| {
        Ok::<_, Box<EvalAltResult>>(parse_time(a)? > parse_time(b)?)
    });
    engine.register_fn("seconds_between", |a: &str, b: &str| {
        Ok::<_, Box<EvalAltResult>>(parse_time(b)?.as_second() - parse_time(a)?.as_second())
    });
    engine.register_fn("hour_of_day", |t: &str| {
        Ok::<_, Box<EvalAltResult>>(i64::from(in_run_zone(parse_time(t)?).hour()))
    });
    // In another zone than the run's: a business's opening hours are in its own zone
    // (`hour_of_day(now, tenant.timezone)`), whatever the contact's.
    engine.register_fn("hour_of_day", |t: &str, zone: &str| {
        Ok::<_, Box<EvalAltResult>>(i64::from(parse_time(t)?.to_zoned(zone_named(zone)?).hour()))
    });
    // ISO: 1 is Monday, 7 Sunday.
    engine.register_fn("day_of_week", |t: &str| {
        let t = in_run_zone(parse_time(t)?);
        Ok::<_, Box<EvalAltResult>>(i64::from(t.weekday().to_monday_one_offset()))
    });
    engine.register_fn("day_of_week", |t: &str, zone: &str| {
        let t = parse_time(t)?.to_zoned(zone_named(zone)?);
        Ok::<_, Box<EvalAltResult>>(i64::from(t.weekday().to_monday_one_offset()))
    });
    // A reminder's wording of its appointment ("Tuesday, March 10 at 3:30 PM"), in the
    // run's zone or a named one.
    engine.register_fn("format_time", |t: &str, pattern: &str| {
        format_local(&in_run_zone(parse_time(t)?), pattern)
    });
    engine.register_fn("format_time", |t: &str, pattern: &str, zone: &str| {
        format_local(&parse_time(t)?.to_zoned(zone_named(zone)?), pattern)
    });
    // A send time on a given day ("10:00 two days from now", in the contact's zone).
    engine.register_fn("at_hour", |t: &str, hour: i64| {
        at_hour(&in_run_zone(parse_time(t)?), hour)
    });
    engine.register_fn("at_hour", |t: &str, hour: i64, zone: &str| {
        at_hour(&parse_time(t)?.to_zoned(zone_named(zone)?), hour)
    });
}

/// The IANA zone `name` (`America/Chicago`), or an error naming it.
fn zone_named(name: &str) -> Res<TimeZone> {
    TimeZone::get(name).map_err(|_| {
        error(format!(
            "\"{name}\" is not a time zone (an IANA name, e.g. America/Chicago)"
        ))
    })
}
