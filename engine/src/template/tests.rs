//! Template tests: rendering, includes (loops, depth, forms) and length limits.

use serde_json::json;

use super::*;

fn templates() -> Templates {
    let partials = BTreeMap::from([(
        "greeting".to_owned(),
        "Hi {{contact.first_name}}!".to_owned(),
    )]);
    Templates::new(&partials).unwrap()
}

#[test]
fn renders_without_html_escaping_and_with_partials() {
    let mut t = templates();
    t.add("sms", "{{> greeting}} Q&A <b>{{tenant.name}}</b>")
        .unwrap();
    let out = t
        .render(
            "sms",
            &json!({"contact": {"first_name": "Ana"}, "tenant": {"name": "Smile & Co"}}),
        )
        .unwrap();
    assert_eq!(out, "Hi Ana! Q&A <b>Smile & Co</b>");
}

#[test]
fn a_missing_variable_is_an_error_naming_it() {
    let mut t = templates();
    t.add("sms", "Hello {{contact.last_name}}").unwrap();
    let err = t.render("sms", &json!({"contact": {}})).unwrap_err();
    assert!(
        err.message.contains("{{contact.last_name}}"),
        "{}",
        err.message
    );
}

#[test]
fn syntax_errors_have_positions() {
    let err = Templates::check("Hi\n{{contact.first_name").unwrap_err();
    assert!(err.position.is_some());
    assert!(err.message.contains("matching }}"));
}

#[test]
fn an_unknown_snippet_is_refused_when_added() {
    let mut t = templates();
    let err = t.add("sms", "{{> nope}}").unwrap_err();
    assert!(err.message.contains("{{> nope}}"), "{}", err.message);
    // Without the tenant's snippets, only the include's form is checked, and a template
    // with one does not render.
    let mut open = Templates::without_snippets();
    open.add("sms", "{{> nope}}").unwrap();
    assert!(open.render("sms", &json!({})).is_err());
}

fn snippets(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn snippets_that_include_each_other_are_refused_before_any_render() {
    let (name, err) =
        Templates::new(&snippets(&[("p", "{{> q}}"), ("q", "a{{> p}}")])).unwrap_err();
    assert_eq!(name, "p");
    assert_eq!(
        err.message,
        "snippets include each other in a loop: p → q → p"
    );
    let (_, err) = Templates::new(&snippets(&[("self", "{{> self}}")])).unwrap_err();
    assert!(err.message.contains("self → self"), "{}", err.message);
    // Inside a block too: the include is there whether or not the block renders.
    let (_, err) = Templates::new(&snippets(&[("p", "{{#if x}}{{> p}}{{/if}}")])).unwrap_err();
    assert!(err.message.contains("loop"), "{}", err.message);
}

#[test]
fn inline_partials_partial_blocks_and_dynamic_names_are_refused() {
    let mut t = templates();
    for source in [
        "{{#*inline \"r\"}}{{> r}}{{/inline}}{{> r}}",
        "{{#> greeting}}x{{/greeting}}",
        "{{> (lookup contact \"x\")}}",
        "{{> @partial-block}}",
    ] {
        assert!(t.add("sms", source).is_err(), "{source}");
        assert!(Templates::check(source).is_err(), "{source}");
    }
    // A flow's own templates are not snippets.
    t.add("0/body", "hi").unwrap();
    let err = t.add("1/body", "{{> 0/body}}").unwrap_err();
    assert!(err.message.contains("does not have"), "{}", err.message);
}

#[test]
fn snippet_chains_are_bounded_in_depth() {
    let chain = |n: usize| {
        let mut map = BTreeMap::new();
        for i in 0..n {
            let next = if i + 1 < n {
                format!("{{{{> s{}}}}}", i + 1)
            } else {
                "end".into()
            };
            map.insert(format!("s{i}"), next);
        }
        map
    };
    assert!(Templates::new(&chain(MAX_SNIPPET_DEPTH)).is_ok());
    let (_, err) = Templates::new(&chain(MAX_SNIPPET_DEPTH + 1)).unwrap_err();
    assert!(err.message.contains("deep"), "{}", err.message);
}

#[test]
fn a_render_stops_at_its_limit_and_a_text_that_cannot_fit_is_refused_when_added() {
    // Each level doubles the text: 2^8 x 1,000 characters at the top.
    let mut map = BTreeMap::new();
    map.insert("s0".to_owned(), "x".repeat(1_000));
    for i in 1..8 {
        map.insert(
            format!("s{i}"),
            format!("{{{{> s{0}}}}}{{{{> s{0}}}}}", i - 1),
        );
    }
    let mut t = Templates::new(&map).unwrap();
    let err = t
        .add_limited("sms", "{{> s7}}", limits::SMS_BODY)
        .unwrap_err();
    assert!(
        err.message.contains("at least 128000 characters"),
        "{}",
        err.message
    );
    // Inside a block it may not render, so it is accepted and stopped at render.
    t.add_limited(
        "sms",
        "{{#if contact.first_name}}{{> s7}}{{/if}}",
        limits::SMS_BODY,
    )
    .unwrap();
    let err = t
        .render("sms", &json!({"contact": {"first_name": "Ana"}}))
        .unwrap_err();
    assert_eq!(
        err.message,
        "the rendered text is longer than 1600 characters, the limit for an SMS body"
    );
    // A value can pass the limit too.
    t.add_limited("short", "{{contact.first_name}}", limits::SMS_BODY)
        .unwrap();
    let long = "é".repeat(1_601);
    assert!(
        t.render("short", &json!({"contact": {"first_name": long}}))
            .is_err()
    );
    let fits = "é".repeat(1_600);
    assert_eq!(
        t.render("short", &json!({"contact": {"first_name": fits}}))
            .unwrap(),
        fits
    );
}

#[test]
fn only_known_helpers_are_called_and_a_literal_tracked_url_is_checked() {
    let mut t = templates();
    for (source, expected) in [
        (
            "{{trak config.link}}",
            "`trak` is not a helper (did you mean `track`?)",
        ),
        (
            "{{#iff x}}y{{/iff}}",
            "`iff` is not a helper (did you mean `if`?)",
        ),
        ("{{log \"hi\"}}", "`log` is not a helper"),
        (
            "{{#if (eqq a b)}}y{{/if}}",
            "`eqq` is not a helper (did you mean `eq`?)",
        ),
        ("{{track \"book now\"}}", "track needs an http(s) URL"),
    ] {
        let error = t.add("bad", source).unwrap_err().message;
        assert!(error.starts_with(expected), "{source}: {error}");
        assert!(Templates::check(source).is_err(), "{source}");
    }
    for fine in [
        "{{#if (eq contact.first_name \"Ana\")}}Hi{{/if}}",
        "{{#each contact.tags}}{{this}}{{/each}}",
        "{{track \"https://x.example/a\"}} {{track config.link}}",
        "{{contact.first_name}}",
    ] {
        t.add("fine", fine)
            .unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
}
