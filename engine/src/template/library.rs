//! Library templates in flows: `{{library "running-late"}}` in any field a step renders is
//! replaced by the text of the tenant's library template of that name, before the field
//! compiles, as a module's copy is (see [`super::copy`]). It is the newest approved version,
//! or the approved version pinned with `version=2`; `part="subject"` takes an email
//! template's subject instead of its body. A draft is used by nothing: a name with no
//! approved version, a pinned draft or a missing name is the field's error.
//!
//! Resolution happens when the flow compiles; the runtime compiles a flow again when an
//! approval changes what a name resolves to (see [`resolved`]).

use std::borrow::Cow;
use std::collections::BTreeMap;

/// The most library templates one flow may name (each is read from the store when it compiles).
pub const MAX_NAMES: usize = 50;

/// Which text of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Body,
    Subject,
}

/// One `{{library …}}` use.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LibraryRef {
    pub name: String,
    /// `version=N`: this approved version, whatever is approved later.
    pub version: Option<u32>,
    pub part: Part,
}

/// One version of a library template, as flows see it.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryText {
    pub version: u32,
    pub approved: bool,
    pub body: String,
    pub subject: Option<String>,
}

/// The versions of the templates a flow names, oldest first, by name.
pub type Library = BTreeMap<String, Vec<LibraryText>>;

const OPEN: &str = "library";

/// Reads the inside of `{{library …}}` (what follows the keyword); `Err` says what is wrong.
fn parse(args: &str) -> Result<LibraryRef, String> {
    let usage = "write {{library \"name\"}}, with version=N to pin an approved version and \
                 part=\"subject\" for an email's subject";
    let args = args.trim();
    let rest = args.strip_prefix('"').ok_or(usage)?;
    let (name, mut rest) = rest.split_once('"').ok_or(usage)?;
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        return Err(format!(
            "\"{name}\" is not a template name (lowercase letters, digits, - and _)"
        ));
    }
    let mut found = LibraryRef {
        name: name.to_owned(),
        version: None,
        part: Part::Body,
    };
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(found);
        }
        let (token, tail) = rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len()));
        rest = tail;
        match token.split_once('=') {
            Some(("version", v)) if found.version.is_none() => {
                found.version = Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| format!("version={v} is not a version number"))?,
                );
            }
            Some(("part", "\"subject\"")) => found.part = Part::Subject,
            Some(("part", "\"body\"")) => found.part = Part::Body,
            _ => return Err(format!("`{token}`: {usage}")),
        }
    }
}

/// Each `{{library …}}` of `source`: its byte range and what it says.
fn uses(source: &str) -> Vec<(usize, usize, Result<LibraryRef, String>)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = source[from..].find("{{").map(|i| from + i) {
        let inner = &source[open + 2..];
        from = open + 2;
        let Some(args) = inner.trim_start().strip_prefix(OPEN) else {
            continue;
        };
        if !args.starts_with(char::is_whitespace) {
            continue; // `{{library_x}}` is another name.
        }
        let Some(close) = args.find("}}") else {
            found.push((
                open,
                source.len(),
                Err("{{library …}} is not closed".into()),
            ));
            break;
        };
        let end = source.len() - args.len() + close + 2;
        found.push((open, end, parse(&args[..close])));
        from = end;
    }
    found
}

/// The well-formed uses in `source`, for loading what a flow names.
pub fn references(source: &str) -> Vec<LibraryRef> {
    uses(source)
        .into_iter()
        .filter_map(|(_, _, r)| r.ok())
        .collect()
}

/// The version `r` resolves to in `library`: the pinned one if approved, else the newest
/// approved one.
fn resolve<'l>(library: &'l Library, r: &LibraryRef) -> Result<&'l LibraryText, String> {
    let versions = library.get(&r.name).ok_or_else(|| {
        format!(
            "no template \"{}\" in the library: write it first (POST /v1/templates)",
            r.name
        )
    })?;
    match r.version {
        Some(pinned) => versions
            .iter()
            .find(|t| t.version == pinned && t.approved)
            .ok_or_else(|| {
                let state = if versions.iter().any(|t| t.version == pinned) {
                    "is a draft: an admin approves it first"
                } else {
                    "does not exist"
                };
                format!("version {pinned} of template \"{}\" {state}", r.name)
            }),
        None => versions.iter().rev().find(|t| t.approved).ok_or_else(|| {
            format!(
                "template \"{}\" has no approved version: an admin approves one first \
                 (POST /v1/templates/{}/versions/{{version}}/approve)",
                r.name, r.name
            )
        }),
    }
}

/// What each reference resolves to now (`None`: nothing usable): when this changes, a flow
/// naming these compiles again.
pub fn resolved(library: &Library, refs: &[LibraryRef]) -> Vec<Option<u32>> {
    refs.iter()
        .map(|r| resolve(library, r).ok().map(|t| t.version))
        .collect()
}

/// The texts the uses in `source` resolve to (those that resolve), to check what they name.
pub fn texts(source: &str, library: Option<&Library>) -> Vec<String> {
    let Some(library) = library else {
        return Vec::new();
    };
    references(source)
        .iter()
        .filter_map(|r| {
            let text = resolve(library, r).ok()?;
            match r.part {
                Part::Body => Some(text.body.clone()),
                Part::Subject => text.subject.clone(),
            }
        })
        .collect()
}

/// `source` with each `{{library …}}` replaced by its text; the first problem otherwise.
/// Without a library (a flow checked away from its tenant), any use is an error.
pub fn splice<'s>(source: &'s str, library: Option<&Library>) -> Result<Cow<'s, str>, String> {
    let found = uses(source);
    if found.is_empty() {
        return Ok(Cow::Borrowed(source));
    }
    let Some(library) = library else {
        return Err(
            "{{library …}} names the tenant's template library, which is read when the flow is \
             checked for a tenant (POST /v1/flows or /v1/flows/validate)"
                .into(),
        );
    };
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    for (start, end, use_) in found {
        let r = use_?;
        let text = resolve(library, &r)?;
        let part = match r.part {
            Part::Body => text.body.as_str(),
            Part::Subject => text.subject.as_deref().ok_or_else(|| {
                format!(
                    "template \"{}\" version {} has no subject (an SMS template)",
                    r.name, text.version
                )
            })?,
        };
        out.push_str(&source[at..start]);
        out.push_str(part);
        at = end;
    }
    out.push_str(&source[at..]);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library() -> Library {
        let text = |version, approved, body: &str| LibraryText {
            version,
            approved,
            body: body.into(),
            subject: (version == 1).then(|| "Welcome, {{contact.first_name}}".into()),
        };
        Library::from([(
            "welcome".to_owned(),
            vec![
                text(1, true, "Hi {{contact.first_name}}"),
                text(2, true, "Hello {{contact.first_name}}"),
                text(3, false, "Draft {{contact.first_name}}"),
            ],
        )])
    }

    #[test]
    fn the_newest_approved_version_or_the_pinned_one_replaces_the_use() {
        let lib = library();
        let spliced = splice("{{library \"welcome\"}}!", Some(&lib)).unwrap();
        assert_eq!(spliced, "Hello {{contact.first_name}}!", "v3 is a draft");
        let pinned = splice(
            "{{ library \"welcome\" version=1 }} / {{library \"welcome\" part=\"subject\" version=1}}",
            Some(&lib),
        );
        assert_eq!(
            pinned.unwrap(),
            "Hi {{contact.first_name}} / Welcome, {{contact.first_name}}"
        );
        assert_eq!(
            splice("{{contact.first_name}} {{library_x}}", Some(&lib)).unwrap(),
            "{{contact.first_name}} {{library_x}}",
            "other names are left alone"
        );
    }

    #[test]
    fn drafts_missing_names_and_bad_uses_are_errors() {
        let lib = library();
        let error = |s: &str| splice(s, Some(&lib)).unwrap_err();
        assert!(error("{{library \"welcome\" version=3}}").contains("is a draft"));
        assert!(error("{{library \"welcome\" version=9}}").contains("does not exist"));
        assert!(error("{{library \"nope\"}}").contains("no template \"nope\""));
        assert!(error("{{library welcome}}").contains("write {{library \"name\"}}"));
        assert!(error("{{library \"welcome\" version=0}}").contains("not a version number"));
        assert!(error("{{library \"welcome\" part=\"subject\"}}").contains("has no subject"));
        assert!(error("{{library \"welcome\"").contains("not closed"));
        assert!(error("{{library \"We Come\"}}").contains("not a template name"));
        assert!(splice("{{library \"welcome\"}}", None).is_err());
    }

    #[test]
    fn resolution_follows_approvals() {
        let mut lib = library();
        let refs = references("{{library \"welcome\"}} {{library \"welcome\" version=1}}");
        assert_eq!(resolved(&lib, &refs), [Some(2), Some(1)]);
        lib.get_mut("welcome").unwrap()[2].approved = true;
        assert_eq!(resolved(&lib, &refs), [Some(3), Some(1)], "the pin holds");
    }
}
