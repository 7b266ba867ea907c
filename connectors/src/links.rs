//! Signed links in messages. A one-click unsubscribe URL names the tenant, the channel and the
//! address, and carries an HMAC-SHA256 of them under a key derived from the server's secret
//! key: it cannot be made for another address (no enumeration), and the server can check it
//! without storing anything. Tokens are `base64url(tenant \n channel \n address)` `.`
//! `base64url(mac)`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks link tokens.
#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(..)")
    }
}

/// What a link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub tenant_id: String,
    pub channel: String,
    pub address: String,
}

impl LinkSigner {
    /// A signer whose key is derived from the server's secret key (its own purpose, so the
    /// secret key itself never signs anything public).
    pub fn from_secret(secret_key: &str) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"stepwise/unsubscribe-links/v1\n");
        digest.update(secret_key.trim().as_bytes());
        Self {
            key: digest.finalize().into(),
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    pub fn token(&self, target: &LinkTarget) -> String {
        let payload = URL_SAFE_NO_PAD.encode(format!(
            "{}\n{}\n{}",
            target.tenant_id, target.channel, target.address
        ));
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// What a genuine token names; `None` for anything else.
    pub fn open(&self, token: &str) -> Option<LinkTarget> {
        let (payload, signature) = token.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let mut parts = text.splitn(3, '\n');
        Some(LinkTarget {
            tenant_id: parts.next()?.to_owned(),
            channel: parts.next()?.to_owned(),
            address: parts.next()?.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_unchanged_and_only_under_its_key() {
        let signer = LinkSigner::from_secret("00ff");
        let target = LinkTarget {
            tenant_id: "clinic".into(),
            channel: "email".into(),
            address: "ana@example.com".into(),
        };
        let token = signer.token(&target);
        assert_eq!(signer.open(&token), Some(target.clone()));
        assert_eq!(
            LinkSigner::from_secret("00fe").open(&token),
            None,
            "another server's key"
        );
        let (payload, sig) = token.split_once('.').unwrap_or_default();
        let other = URL_SAFE_NO_PAD.encode("clinic\nemail\nbob@example.com");
        assert_eq!(
            signer.open(&format!("{other}.{sig}")),
            None,
            "another address"
        );
        assert_eq!(signer.open(payload), None);
        assert_eq!(signer.open(""), None);
    }
}
