//! Tracked links: `{{track "https://…"}}` (or `{{track config.booking_link}}`) in any template
//! renders a short link served by Stepwise (`<public URL>/l/<code>`), one per run and URL, that
//! records a `link.clicked` event for the contact and redirects to the URL. The code is a hash
//! of the tenant, the run and the URL, so a retried step renders the same link.
//!
//! The links a render makes are collected on the rendering thread ([`tracking`]) and stored by
//! the runtime before the message carrying them is sent. Without a public URL (the simulator,
//! a server without `STEPWISE_PUBLIC_URL`) the URL is rendered as written and nothing is
//! tracked.

use std::cell::RefCell;

use base64::Engine as _;
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use sha2::{Digest, Sha256};

/// The longest URL `track` takes.
pub const MAX_URL: usize = 2_048;

/// The most distinct tracked links one text may make (each is a row stored before the send).
pub const MAX_LINKS_PER_TEXT: usize = 20;

/// A link a render made: its code and the URL it redirects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedLink {
    pub code: String,
    pub url: String,
}

/// Where a run's links point and what they are made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkScope {
    /// `https://stepwise.example.com/l/`.
    pub base: String,
    pub tenant_id: String,
    pub run_id: String,
}

struct Collecting {
    scope: LinkScope,
    /// The text renders as HTML, whose values arrive escaped: `track` unescapes its URL.
    html: bool,
    links: Vec<TrackedLink>,
}

/// Puts back what was armed before a render, even when the render panics, so no scope is
/// left on the thread for a later render.
struct Restore(Option<Option<Collecting>>);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            COLLECTING.with(|c| c.replace(previous));
        }
    }
}

thread_local! {
    static COLLECTING: RefCell<Option<Collecting>> = const { RefCell::new(None) };
}

/// Runs `render` with `scope` armed on this thread; answers its result and the links it made.
/// With no scope, `track` renders URLs as written. `html`: the render's values are HTML-escaped.
pub fn tracking<T>(
    scope: Option<&LinkScope>,
    html: bool,
    render: impl FnOnce() -> T,
) -> (T, Vec<TrackedLink>) {
    let armed = scope.map(|scope| Collecting {
        scope: scope.clone(),
        html,
        links: Vec::new(),
    });
    let mut restore = Restore(Some(COLLECTING.with(|c| c.replace(armed))));
    let result = render();
    let collected = COLLECTING.with(|c| c.replace(restore.0.take().flatten()));
    (result, collected.map(|c| c.links).unwrap_or_default())
}

/// Undoes handlebars' HTML escaping (`&`, `<`, `>`, `"`, `'`, `` ` ``, `=`).
fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&amp;", "&")
}

/// The code of `url`'s link in a run: 12 URL-safe characters (72 bits of SHA-256).
pub fn code_for(tenant_id: &str, run_id: &str, url: &str) -> String {
    let digest = Sha256::digest(format!("{tenant_id}\n{run_id}\n{url}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..9])
}

/// The URL `track` takes from `text`, as the parser writes it (spaces and line breaks a form
/// left around it are gone): http(s), with a host, at most [`MAX_URL`] long.
pub fn trackable(text: &str) -> Result<String, String> {
    if text.len() > MAX_URL {
        return Err(format!("a tracked URL may be at most {MAX_URL} characters"));
    }
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u.into()),
        _ => Err(format!(
            "track needs an http(s) URL, not \"{}\"",
            text.trim()
        )),
    }
}

/// The `track` helper.
pub(super) fn track_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let given = h.param(0).and_then(|p| p.value().as_str()).ok_or_else(|| {
        RenderErrorReason::Other("track needs a URL: {{track \"https://…\"}}".into())
    })?;
    let short = COLLECTING.with(|c| {
        let mut c = c.borrow_mut();
        let Some(collecting) = c.as_mut() else {
            trackable(given).map_err(RenderErrorReason::Other)?;
            return Ok(None);
        };
        let raw = if collecting.html {
            unescape_html(given)
        } else {
            given.to_owned()
        };
        let url = trackable(&raw).map_err(RenderErrorReason::Other)?;
        let scope = &collecting.scope;
        let code = code_for(&scope.tenant_id, &scope.run_id, &url);
        let short = format!("{}{code}", scope.base);
        if !collecting.links.iter().any(|l| l.code == code) {
            if collecting.links.len() >= MAX_LINKS_PER_TEXT {
                return Err(RenderErrorReason::Other(format!(
                    "one text may track at most {MAX_LINKS_PER_TEXT} links"
                )));
            }
            collecting.links.push(TrackedLink { code, url });
        }
        Ok(Some(short))
    })?;
    out.write(short.as_deref().unwrap_or(given))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::template::Templates;

    fn scope() -> LinkScope {
        LinkScope {
            base: "https://go.example/l/".into(),
            tenant_id: "t1".into(),
            run_id: "r1".into(),
        }
    }

    #[test]
    fn a_tracked_url_becomes_a_short_link_collected_once() {
        let mut templates = Templates::without_snippets();
        templates
            .add("t", "Book: {{track config.link}} or {{track config.link}}, see {{track \"https://x.example/a\"}}")
            .unwrap();
        let data = json!({"config": {"link": "https://book.example/ana?src=sms"}});
        let (text, links) = tracking(Some(&scope()), false, || templates.render("t", &data));
        let code = code_for("t1", "r1", "https://book.example/ana?src=sms");
        assert_eq!(code.len(), 12);
        assert_eq!(
            text.unwrap(),
            format!(
                "Book: https://go.example/l/{code} or https://go.example/l/{code}, see https://go.example/l/{}",
                code_for("t1", "r1", "https://x.example/a")
            )
        );
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].url, "https://book.example/ana?src=sms");
        // The same run and URL make the same code; another run another one.
        assert_ne!(
            code,
            code_for("t1", "r2", "https://book.example/ana?src=sms")
        );
        assert_ne!(
            code,
            code_for("t2", "r1", "https://book.example/ana?src=sms")
        );
    }

    #[test]
    fn one_text_tracks_a_bounded_number_of_links() {
        let mut templates = Templates::without_snippets();
        templates
            .add("t", "{{#each config.links}}{{track this}} {{/each}}")
            .unwrap();
        let links: Vec<String> = (0..=MAX_LINKS_PER_TEXT)
            .map(|n| format!("https://x.example/{n}"))
            .collect();
        let data = json!({"config": {"links": links}});
        let (text, _) = tracking(Some(&scope()), false, || templates.render("t", &data));
        let error = text.unwrap_err().message;
        assert!(error.contains("at most 20 links"), "{error}");
        let fits = json!({"config": {"links": links[..MAX_LINKS_PER_TEXT]}});
        let (text, made) = tracking(Some(&scope()), false, || templates.render("t", &fits));
        assert!(text.is_ok());
        assert_eq!(made.len(), MAX_LINKS_PER_TEXT);
    }

    #[test]
    fn an_html_text_tracks_the_url_its_escaped_value_stands_for() {
        let raw = "https://book.example/ana?src=sms&x=1";
        let mut templates = Templates::without_snippets();
        templates
            .add("t", "<a href=\"{{track config.link}}\">Book</a>")
            .unwrap();
        let escaped = json!({"config": {"link": handlebars::html_escape(raw)}});
        let (text, links) = tracking(Some(&scope()), true, || templates.render("t", &escaped));
        let code = code_for("t1", "r1", raw);
        assert_eq!(
            text.unwrap(),
            format!("<a href=\"https://go.example/l/{code}\">Book</a>")
        );
        assert_eq!(links[0].url, raw);
    }

    #[test]
    fn the_url_is_stored_as_parsed() {
        let mut templates = Templates::without_snippets();
        templates.add("t", "{{track config.link}}").unwrap();
        let data = json!({"config": {"link": " https://x.example/a\n"}});
        let (text, links) = tracking(Some(&scope()), false, || templates.render("t", &data));
        assert!(text.is_ok());
        assert_eq!(links[0].url, "https://x.example/a");
    }

    #[test]
    fn a_panicking_render_leaves_no_scope_behind() {
        let caught = std::panic::catch_unwind(|| {
            tracking(Some(&scope()), false, || panic!("a render that panics"))
        });
        assert!(caught.is_err());
        assert!(COLLECTING.with(|c| c.borrow().is_none()));
    }

    #[test]
    fn without_a_scope_the_url_is_rendered_as_written() {
        let mut templates = Templates::without_snippets();
        templates
            .add("t", "{{track \"https://x.example/a\"}}")
            .unwrap();
        let (text, links) = tracking(None, false, || templates.render("t", &json!({})));
        assert_eq!(text.unwrap(), "https://x.example/a");
        assert!(links.is_empty());
    }

    #[test]
    fn only_http_urls_are_tracked() {
        let mut templates = Templates::without_snippets();
        templates.add("t", "{{track config.link}}").unwrap();
        for bad in ["javascript:alert(1)", "book now", "ftp://x.example/f"] {
            let (text, _) = tracking(Some(&scope()), false, || {
                templates.render("t", &json!({"config": {"link": bad}}))
            });
            let error = text.unwrap_err().message;
            assert!(error.contains("http(s) URL"), "{bad}: {error}");
        }
    }
}
