//! Expression sandbox and helper tests.

use serde_json::json;

use super::*;

fn bindings() -> Bindings {
    let mut b = Bindings::empty();
    b.set("event", json!({"type": "lead.created", "data": {"message": "Need a cleaning ASAP", "start_at": "2026-03-08T10:00:00-05:00"}}));
    b.set("contact", json!({"first_name": "Ana", "tags": ["vip"]}));
    b.set("config", json!({"hot_keywords": ["urgent", "asap"]}));
    b.set_zone(jiff::tz::TimeZone::get("America/Chicago").unwrap());
    b
}

#[test]
fn evaluates_conditions_with_helpers() {
    let mut b = bindings();
    let hot = Expr::compile(
        "contains_any(lower(event.data.message), config.hot_keywords)",
        &[],
    )
    .unwrap();
    assert!(hot.eval_bool(&mut b).unwrap());
    let blank = Expr::compile(
        "is_blank(contact.last_name) && !is_blank(contact.first_name)",
        &[],
    )
    .unwrap();
    assert!(blank.eval_bool(&mut b).unwrap());
}

#[test]
fn numbers_and_flags_are_never_blank() {
    let mut b = bindings();
    b.set("amount", json!(12550));
    b.set("price", json!(0.5));
    b.set("paid", json!(false));
    b.set("nothing", json!(null));
    let expr = Expr::compile(
        "!is_blank(amount) && !is_blank(price) && !is_blank(paid) && is_blank(nothing)",
        &["amount", "price", "paid", "nothing"],
    )
    .unwrap();
    assert!(expr.eval_bool(&mut b).unwrap());
}

#[test]
fn trim_gives_the_trimmed_text() {
    let mut b = bindings();
    b.set("reply", json!("  C \n"));
    let confirm = Expr::compile("lower(trim(reply)) == \"c\"", &["reply"]).unwrap();
    assert!(confirm.eval_bool(&mut b).unwrap());
    let method = Expr::compile("reply.trim() == \"C\"", &["reply"]).unwrap();
    assert!(method.eval_bool(&mut b).unwrap());
    let missing = Expr::compile("trim(contact.nickname) == \"\"", &[]).unwrap();
    assert!(missing.eval_bool(&mut b).unwrap());
}

#[test]
fn sorted_and_reversed_give_ordered_copies() {
    let mut b = bindings();
    b.set(
        "config",
        json!({"hours": [2, 72, 24], "words": ["b", "c", "a"], "mixed": [1, "a"]}),
    );
    let eval = |source: &str, b: &mut crate::expr::Bindings| {
        Expr::compile(source, &[]).unwrap().eval_json(b)
    };
    assert_eq!(
        eval("reversed(sorted(config.hours))", &mut b).unwrap(),
        json!([72, 24, 2])
    );
    assert_eq!(
        eval("sorted(config.words)", &mut b).unwrap(),
        json!(["a", "b", "c"])
    );
    assert_eq!(
        eval("config.hours", &mut b).unwrap(),
        json!([2, 72, 24]),
        "a copy"
    );
    let mixed = eval("sorted(config.mixed)", &mut b).unwrap_err();
    assert!(
        mixed
            .message
            .contains("a list of numbers or a list of texts"),
        "{}",
        mixed.message
    );
}

#[test]
fn hours_are_exact_and_days_follow_the_calendar_across_dst() {
    let mut b = bindings();
    // 2026-03-08 is the spring-forward day in Chicago: 10:00 CDT is 15:00Z.
    let exact = Expr::compile("event.data.start_at - hours(24)", &[]).unwrap();
    assert_eq!(
        exact.eval_json(&mut b).unwrap(),
        json!("2026-03-07T15:00:00Z")
    );
    let calendar = Expr::compile("event.data.start_at - days(1)", &[]).unwrap();
    // 10:00 CST the day before is 16:00Z.
    assert_eq!(
        calendar.eval_json(&mut b).unwrap(),
        json!("2026-03-07T16:00:00Z")
    );
    let plus = Expr::compile("event.data.start_at + minutes(90)", &[]).unwrap();
    assert_eq!(
        plus.eval_json(&mut b).unwrap(),
        json!("2026-03-08T16:30:00Z")
    );
}

/// `text` evaluated with `b`, or its error's words.
fn eval(text: &str, b: &mut Bindings) -> Result<serde_json::Value, String> {
    Expr::compile(text, &[])
        .unwrap()
        .eval_json(b)
        .map_err(|e| e.to_string())
}

#[test]
fn the_hour_and_weekday_are_read_in_the_run_zone_or_a_named_one() {
    let mut b = bindings();
    // 2026-03-09T01:30:00Z is Sunday 20:30 in Chicago (CDT) and Monday 10:30 in Tokyo.
    let t = "\"2026-03-09T01:30:00Z\"";
    assert_eq!(eval(&format!("hour_of_day({t})"), &mut b), Ok(json!(20)));
    assert_eq!(eval(&format!("day_of_week({t})"), &mut b), Ok(json!(7)));
    let tokyo = "\"Asia/Tokyo\"";
    assert_eq!(
        eval(&format!("hour_of_day({t}, {tokyo})"), &mut b),
        Ok(json!(10))
    );
    assert_eq!(
        eval(&format!("day_of_week({t}, {tokyo})"), &mut b),
        Ok(json!(1))
    );
    let wrong = eval(&format!("day_of_week({t}, \"Mars/Base\")"), &mut b).unwrap_err();
    assert!(
        wrong.contains("\"Mars/Base\" is not a time zone"),
        "{wrong}"
    );
}

#[test]
fn a_time_is_worded_and_a_send_hour_placed_in_the_run_zone_or_a_named_one() {
    let mut b = bindings();
    // Sunday 20:30 in Chicago (CDT, the day DST began), Monday 10:30 in Tokyo.
    let t = "\"2026-03-09T01:30:00Z\"";
    let pattern = "\"%A, %B %-d at %-I:%M %p\"";
    assert_eq!(
        eval(&format!("format_time({t}, {pattern})"), &mut b),
        Ok(json!("Sunday, March 8 at 8:30 PM"))
    );
    assert_eq!(
        eval(
            &format!("format_time({t}, {pattern}, \"Asia/Tokyo\")"),
            &mut b
        ),
        Ok(json!("Monday, March 9 at 10:30 AM"))
    );
    // 10:00 on the run's local day: CDT (-5) after the change, CST (-6) the day before.
    assert_eq!(
        eval(&format!("at_hour({t}, 10)"), &mut b),
        Ok(json!("2026-03-08T15:00:00Z"))
    );
    assert_eq!(
        eval("at_hour(\"2026-03-08T06:00:00Z\", 1)", &mut b),
        Ok(json!("2026-03-08T07:00:00Z"))
    );
    // 02:00 does not exist in Chicago that day: it moves forward to 03:00 CDT.
    assert_eq!(
        eval("at_hour(\"2026-03-08T12:00:00Z\", 2)", &mut b),
        Ok(json!("2026-03-08T08:00:00Z"))
    );
    assert_eq!(
        eval(&format!("at_hour({t}, 9, \"Asia/Tokyo\")"), &mut b),
        Ok(json!("2026-03-09T00:00:00Z"))
    );

    let hour = eval(&format!("at_hour({t}, 24)"), &mut b).unwrap_err();
    assert!(hour.contains("24 is not an hour of the day"), "{hour}");
    let bad = eval(&format!("format_time({t}, \"at %\")"), &mut b).unwrap_err();
    assert!(bad.contains("is not a time pattern"), "{bad}");
    let long = format!("format_time({t}, \"{}\")", "%A".repeat(60));
    let long = eval(&long, &mut b).unwrap_err();
    assert!(long.contains("at most 100 characters"), "{long}");
}

#[test]
fn compile_errors_name_the_problem_and_position() {
    let err = Expr::compile("evnt.data.score > 3", &[]).unwrap_err();
    assert!(
        err.message.contains("Undefined variable"),
        "{}",
        err.message
    );
    assert_eq!(err.position, Some((1, 1)));
    let err = Expr::compile("event.data.score >=", &[]).unwrap_err();
    assert!(err.position.is_some());
}

#[test]
fn the_sandbox_refuses_escape_hatches() {
    for source in [
        "eval(\"1\")",
        "import \"x\" as y",
        "print(1)",
        "loop { }",
        "while true { 1 }",
    ] {
        assert!(Expr::compile(source, &[]).is_err(), "{source} compiled");
    }
}

#[test]
fn a_loop_that_would_never_end_is_refused_with_a_clear_message() {
    for source in [
        "while true { 1 }",
        "loop { }",
        "for x in 0..10 { x }",
        "do { 1 } while true",
    ] {
        let err = Expr::compile(source, &[]).unwrap_err();
        assert!(
            err.message.starts_with("loops are not allowed"),
            "{source}: {}",
            err.message
        );
    }
}

#[test]
fn runaway_work_is_stopped_with_a_clear_error() {
    let mut b = bindings();
    let big = Expr::compile("\"x\".pad(100000, \"y\")", &[]).unwrap();
    assert!(big.eval(&mut b).is_err());
    let many = Expr::compile("(0..1000000).reduce(|sum, v| sum + v, 0)", &[]);
    // Closures are disabled, so this is refused at compile time, or stopped when run.
    if let Ok(expr) = many {
        let err = expr.eval(&mut b).unwrap_err();
        assert!(err.message.contains("operations"), "{}", err.message);
    }
}

#[test]
fn conditions_must_be_booleans() {
    let mut b = bindings();
    let err = Expr::compile("contact.first_name", &[])
        .unwrap()
        .eval_bool(&mut b)
        .unwrap_err();
    assert!(err.message.contains("not true or false"), "{}", err.message);
}

#[test]
fn blocking_and_clock_functions_do_not_exist() {
    for source in [
        "sleep(15)",
        "sleep(0.5)",
        "timestamp()",
        "parse_json(\"{}\")",
    ] {
        let err = Expr::compile(source, &[]).unwrap_err();
        assert!(
            err.message.contains("unknown function") || err.message.contains("takes"),
            "{source}: {}",
            err.message
        );
    }
}

#[test]
fn unknown_functions_are_compile_errors_with_a_suggestion() {
    let err = Expr::compile("contians_any(lower(event.data.message), [\"a\"])", &[]).unwrap_err();
    assert_eq!(
        err.message,
        "unknown function contians_any (did you mean contains_any?)"
    );
    assert_eq!(err.position, Some((1, 1)));
    let err = Expr::compile("event.data.message.nope()", &[]).unwrap_err();
    assert!(
        err.message.starts_with("unknown function nope"),
        "{}",
        err.message
    );
    let err = Expr::compile("lower(\"a\", \"b\")", &[]).unwrap_err();
    assert_eq!(err.message, "lower takes 1 argument(s), not 2");
    // Methods, operators and `in` resolve to functions that exist.
    for ok in [
        "contact.tags.contains(\"vip\") && \"vip\" in contact.tags",
        "event.data.message.len() > 3 + 4 * 2",
        "type_of(contact) == \"map\" && upper(contact.first_name) != \"\"",
        "event.data.keys().len() >= 0",
    ] {
        Expr::compile(ok, &[]).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn an_evaluation_past_its_time_budget_is_stopped() {
    let mut b = bindings();
    // Hundreds of operations and no loop: the clock is looked at every 256.
    let items = vec!["contact.first_name"; 600].join(", ");
    let busy = Expr::compile(&format!("[{items}].len()"), &[]).unwrap();
    assert_eq!(busy.eval_json(&mut b).unwrap(), json!(600));
    let err = busy
        .eval_within(&mut b, std::time::Duration::ZERO)
        .unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "the expression ran longer than {} ms and was stopped",
            MAX_EVAL_TIME.as_millis()
        )
    );
}
