//! A module's copy (`templates.*`: the message texts a pack and then a tenant may override) is
//! spliced into each field that names it, `{{templates.first_reply}}`, before the field
//! compiles. The copy is itself a template, so it may use everything the field could
//! (`{{contact.first_name}}`, `{{config.booking_link}}`, snippets), and every check a field
//! gets (references, size limits) applies to it where it is used.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// `source` with every `{{templates.<name>}}` (spaces allowed inside the braces) whose name
/// is in `copy` replaced by that text. Other uses of `templates.*` are left for the caller
/// to report (see [`leftover`]).
pub fn splice<'s>(source: &'s str, copy: &BTreeMap<String, String>) -> Cow<'s, str> {
    if !source.contains("templates.") {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let name = after
            .trim_start()
            .strip_prefix("templates.")
            .and_then(|tail| {
                let end = tail.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
                let (name, close) = tail.split_at(end);
                let close = close.trim_start().strip_prefix("}}")?;
                // `{{{` or a helper call is not a plain use.
                (!after.starts_with('{')).then_some((name, close))
            });
        match name.and_then(|(name, tail)| Some((copy.get(name)?, tail))) {
            Some((text, tail)) => {
                out.push_str(&rest[..open]);
                out.push_str(text);
                rest = tail;
            }
            None => {
                out.push_str(&rest[..open + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The first text of `copy` still named in `spliced`: one used other than on its own
/// (`{{#if templates.x}}`), or one text naming another. Copy is text to send, not data.
/// (Names not in `copy` are the caller's "not declared" error.)
pub fn leftover(spliced: &str, copy: &BTreeMap<String, String>) -> Option<String> {
    crate::steps::context::references(spliced, "templates.")
        .find(|name| copy.contains_key(*name))
        .map(|name| {
            format!(
                "templates.{name} may only be used on its own, as {{{{templates.{name}}}}}, and one text of the module's copy may not include another"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("hello".to_owned(), "Hi {{contact.first_name}}".to_owned()),
            ("loop".to_owned(), "again {{templates.hello}}".to_owned()),
        ])
    }

    #[test]
    fn names_become_their_text() {
        let spliced = splice("{{templates.hello}}! {{ templates.hello }}.", &copy());
        assert_eq!(
            spliced,
            "Hi {{contact.first_name}}! Hi {{contact.first_name}}."
        );
        assert_eq!(leftover(&spliced, &copy()), None);
    }

    #[test]
    fn other_uses_are_left_and_reported() {
        for source in [
            "{{#if templates.hello}}x{{/if}}",
            "{{{templates.hello}}}",
            "{{templates.loop}}",
        ] {
            let spliced = splice(source, &copy());
            assert!(
                leftover(&spliced, &copy()).is_some(),
                "{source} → {spliced}"
            );
        }
        assert_eq!(
            splice("{{templates.unknown}}", &copy()),
            "{{templates.unknown}}"
        );
        assert_eq!(splice("no copy {{x}}", &copy()), "no copy {{x}}");
    }
}
