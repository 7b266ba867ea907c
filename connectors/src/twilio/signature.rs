//! `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed by the Auth Token, over the full URL
//! followed by every POST parameter as `name` + `value`, sorted by name and then value. A JSON
//! body is not appended: the URL carries `bodySHA256=<hex sha256 of the body>` instead. Twilio
//! signs an https URL with or without `:443`, so both are accepted. The comparison is the
//! MAC's own constant-time check.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    // HMAC takes a key of any length.
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The signature Twilio sends for a form request (tests and the fake provider use it).
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// The URL as received, and with `:443` added or removed: Twilio may sign an https URL either way.
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some(rest) = url.strip_prefix("https://") else {
        return variants;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if let Some(host) = authority.strip_suffix(":443") {
        variants.push(format!("https://{host}{tail}"));
    } else if !authority
        .rsplit(']')
        .next()
        .unwrap_or_default()
        .contains(':')
    {
        variants.push(format!("https://{authority}:443{tail}"));
    }
    variants
}

/// Checks a form request's signature.
pub fn verify_form(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    url_variants(url)
        .iter()
        .any(|u| mac(auth_token, u, params).verify_slice(&expected).is_ok())
}

/// Checks a JSON request's signature: the URL's `bodySHA256` must be the body's hash, and the
/// signature is over the URL alone.
pub fn verify_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let Some((_, claimed)) = parsed.query_pairs().find(|(k, _)| k == "bodySHA256") else {
        return false;
    };
    let actual = hex::encode(Sha256::digest(body));
    // Not secret: both are hashes of what the sender sent; the signature check is what counts.
    if !claimed.eq_ignore_ascii_case(&actual) {
        return false;
    }
    verify_form(auth_token, url, &[], signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        // A copy of ../shared/research/webhook-signature-vectors.json (computed with Twilio's SDK).
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/webhook-signature-vectors.json"
        );
        let text = std::fs::read_to_string(path).expect("the signature vectors");
        serde_json::from_str(&text).expect("JSON vectors")
    }

    fn pairs(v: &Value) -> Vec<(String, String)> {
        if let Some(list) = v["params_pairs"].as_array() {
            return list
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap_or_default().into(),
                        p[1].as_str().unwrap_or_default().into(),
                    )
                })
                .collect();
        }
        v["params"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().into()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn every_shared_twilio_vector_passes_and_every_tampered_one_fails() {
        let all = vectors();
        let form = &all["twilio_form"];
        let token = form["auth_token"].as_str().unwrap();
        let url = form["url"].as_str().unwrap();
        let params = pairs(form);
        let sig = form["expected"].as_str().unwrap();
        assert_eq!(sign(token, url, &params), sig);
        assert!(verify_form(token, url, &params, sig));

        // Signed over :443, received without it, and the other way round.
        let port = &all["twilio_form_port_443"];
        let sig443 = port["expected"].as_str().unwrap();
        assert!(verify_form(token, url, &params, sig443));
        assert!(verify_form(
            token,
            port["url"].as_str().unwrap(),
            &params,
            sig
        ));

        let repeated = &all["twilio_form_repeated_keys"];
        assert!(verify_form(
            repeated["auth_token"].as_str().unwrap(),
            repeated["url"].as_str().unwrap(),
            &pairs(repeated),
            repeated["expected"].as_str().unwrap()
        ));

        let json = &all["twilio_json_body"];
        let body = json["body"].as_str().unwrap().as_bytes();
        let signed = json["url_signed"].as_str().unwrap();
        let jsig = json["expected"].as_str().unwrap();
        assert!(verify_json(token, signed, body, jsig));

        // Tampering: another token, URL, parameter value, extra parameter, body, or signature.
        assert!(!verify_form("54321", url, &params, sig));
        assert!(!verify_form(
            token,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params,
            sig
        ));
        let mut changed = params.clone();
        changed[0].1.push('0');
        assert!(!verify_form(token, url, &changed, sig));
        let mut extra = params.clone();
        extra.push(("Extra".into(), "1".into()));
        assert!(!verify_form(token, url, &extra, sig));
        assert!(!verify_form(
            token,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            sig
        ));
        assert!(!verify_form(
            token,
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B9="
        ));
        assert!(!verify_form(token, url, &params, ""));
        assert!(!verify_form(token, url, &params, "not base64!"));
        assert!(!verify_json(
            token,
            signed,
            b"{\"property\": \"other\", \"boolean\": true}",
            jsig
        ));
        assert!(!verify_json(
            token,
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            body,
            jsig
        ));
    }
}
