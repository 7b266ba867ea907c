//! Sealing provider credentials at rest: AES-256-GCM with a random 96-bit nonce per value.
//! The sealed form is hex of `nonce || ciphertext || tag`. Each value is bound to where it is
//! stored (`tenant/name`, as associated data), so a sealed value copied to another tenant's
//! row does not open.

use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret key must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("a stored credential does not open with this secret key (or was altered)")]
    DoesNotOpen,
}

/// Seals and opens credentials with one key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box for the key written as 64 hex characters.
    pub fn from_hex(key: &str) -> Result<Self, SecretError> {
        let bytes = hex::decode(key.trim()).map_err(|_| SecretError::BadKey)?;
        let key = Key::<Aes256Gcm>::try_from(bytes.as_slice()).map_err(|_| SecretError::BadKey)?;
        Ok(Self {
            cipher: Aes256Gcm::new(&key),
        })
    }

    /// A new random key, as 64 hex characters.
    pub fn generate_key() -> String {
        hex::encode(Key::<Aes256Gcm>::generate())
    }

    /// Seals `plaintext` for the row `context` (e.g. `tenant/name`).
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = Nonce::generate();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption fails only for inputs over 64 GiB.
        let sealed = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        hex::encode(out)
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SecretError> {
        let bytes = hex::decode(sealed).map_err(|_| SecretError::DoesNotOpen)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::DoesNotOpen);
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| SecretError::DoesNotOpen)?;
        let payload = Payload {
            msg: body,
            aad: context.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(&nonce, payload)
            .map_err(|_| SecretError::DoesNotOpen)?;
        String::from_utf8(plain).map_err(|_| SecretError::DoesNotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SecretBox {
        SecretBox::from_hex(&SecretBox::generate_key()).expect("a generated key is valid")
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_place() {
        let a = sample();
        let sealed = a.seal("twilio-token-1234", "acme/twilio_auth_token");
        assert!(!sealed.contains("twilio"));
        assert_eq!(
            a.open(&sealed, "acme/twilio_auth_token").as_deref(),
            Ok("twilio-token-1234")
        );
        assert_eq!(
            a.open(&sealed, "other/twilio_auth_token"),
            Err(SecretError::DoesNotOpen)
        );
        assert_eq!(
            sample().open(&sealed, "acme/twilio_auth_token"),
            Err(SecretError::DoesNotOpen)
        );
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).expect("hex");
        assert_eq!(
            a.open(&tampered, "acme/twilio_auth_token"),
            Err(SecretError::DoesNotOpen)
        );
    }

    #[test]
    fn sealing_twice_gives_different_text() {
        let a = sample();
        assert_ne!(a.seal("x", "t/n"), a.seal("x", "t/n"));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(SecretBox::from_hex("abc").err(), Some(SecretError::BadKey));
        assert_eq!(
            SecretBox::from_hex(&"zz".repeat(32)).err(),
            Some(SecretError::BadKey)
        );
    }
}
