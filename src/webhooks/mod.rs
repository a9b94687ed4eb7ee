//! Webhooks: what each one carries and how it is signed (Standard Webhooks), how endpoints'
//! signing secrets are kept at rest, and how a webhook leaves (`client`). Webhooks are never sent
//! inside a request: operations write events to the webhook outbox in their transaction
//! (`ops::events`) and the worker in `jobs::webhooks` delivers them.
//!
//! A signing secret must be usable again at every delivery, so it cannot be stored as a hash.
//! It is stored sealed (AES-256-GCM) under the instance's secret key, which lives outside the
//! database (`SEATLEDGER_SECRET_KEY`): a copy of the database or of its backups holds no usable
//! secret.

pub mod client;

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use blake2::{Blake2s256, Digest};
use jiff::Timestamp;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use serde::Serialize;

use crate::domain::EndpointId;
use crate::domain::webhooks::EventType;

/// How webhooks are configured for this instance.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Seals and opens endpoints' signing secrets; without it endpoints cannot be registered
    /// and nothing is delivered.
    pub key: Option<Arc<SecretKey>>,
    /// Whether endpoints may point at loopback, private or link-local addresses (tests, and
    /// instances whose receivers sit on a private network).
    pub allow_private: bool,
}

/// The body of a webhook: `{"type", "timestamp", "data"}`, as it is stored and sent, byte for
/// byte the same on every attempt.
pub fn body(event: EventType, at: Timestamp, data: serde_json::Value) -> String {
    #[derive(Serialize)]
    struct Body {
        #[serde(rename = "type")]
        kind: &'static str,
        timestamp: String,
        data: serde_json::Value,
    }
    serde_json::to_string(&Body {
        kind: event.as_str(),
        timestamp: at.to_string(),
        data,
    })
    .expect("a JSON value serialises")
}

/// The `webhook-id` of the event stored under `event_key` at `endpoint`: the same on every
/// attempt and every Redeliver, so a receiver can tell a repeat from a new event.
pub fn webhook_id(event_key: &str, endpoint: EndpointId) -> String {
    let digest = Blake2s256::digest(format!("{event_key}:endpoint:{endpoint}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// How many random bytes a signing secret holds (Standard Webhooks asks for 24 to 64).
const SECRET_BYTES: usize = 32;
const SECRET_PREFIX: &str = "whsec_";

/// An endpoint's signing secret. Shown to its owner once, as `whsec_` + base64.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Self(bytes)
    }

    /// The secret as its owner copies it into their receiver.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.0))
    }

    /// `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under this secret.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let mut context = hmac::Context::with_key(&key);
        context.update(webhook_id.as_bytes());
        context.update(format!(".{timestamp}.").as_bytes());
        context.update(body.as_bytes());
        format!("v1,{}", BASE64.encode(context.sign().as_ref()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The `webhook-signature` header: the signature under each secret in use, space-separated
/// (during a rotation, the new secret's first).
pub fn signature_header(
    secrets: &[Secret],
    webhook_id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(webhook_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The instance's secret key: 32 bytes, given as base64 (`openssl rand -base64 32`).
pub struct SecretKey(LessSafeKey);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the secret key must be 32 bytes in base64 (e.g. the output of `openssl rand -base64 32`)"
    )]
    Malformed,
}

/// A sealed secret that does not open: sealed under another key, or damaged.
#[derive(Debug, thiserror::Error)]
#[error("the stored signing secret does not open with this instance's secret key")]
pub struct SealError;

/// What the sealed text starts with, so a later scheme can be told apart.
const SEALED_PREFIX: &str = "v1:";
const AAD: &[u8] = b"seatledger webhook signing secret";

impl SecretKey {
    pub fn parse(base64: &str) -> Result<Self, KeyError> {
        let bytes = BASE64
            .decode(base64.trim())
            .map_err(|_| KeyError::Malformed)?;
        if bytes.len() != 32 {
            return Err(KeyError::Malformed);
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KeyError::Malformed)?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// `secret` sealed for storage: a fresh random nonce and the ciphertext, in base64.
    pub fn seal(&self, secret: &Secret) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let mut sealed = secret.0.clone();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut sealed,
            )
            .expect("AES-GCM seals a 32-byte secret");
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", BASE64.encode(stored))
    }

    pub fn open(&self, stored: &str) -> Result<Secret, SealError> {
        let bytes = stored
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| BASE64.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or(SealError)?;
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(AAD), &mut sealed)
            .map_err(|_| SealError)?;
        Ok(Secret(plain.to_vec()))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::parse(&BASE64.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_reads_nothing_like_the_secret() {
        let secret = Secret::generate();
        let sealed = key().seal(&secret);
        assert_eq!(key().open(&sealed).unwrap(), secret);
        assert!(!sealed.contains(&secret.reveal()[SECRET_PREFIX.len()..]));
        assert_ne!(sealed, key().seal(&secret), "a fresh nonce every time");
        let other = SecretKey::parse(&BASE64.encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(key().open("v1:AAAA").is_err());
        assert!(key().open(&sealed.replace("v1:", "v2:")).is_err());
    }

    #[test]
    fn a_secret_key_is_32_bytes_of_base64() {
        assert!(SecretKey::parse(&BASE64.encode([1u8; 31])).is_err());
        assert!(SecretKey::parse("not base64!").is_err());
        assert!(format!("{:?}", key()).ends_with("(..)"));
    }

    #[test]
    fn the_signature_matches_the_standard_webhooks_test_vector() {
        // The test vector of the Standard Webhooks reference libraries.
        let secret = Secret(BASE64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap());
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(secret.reveal().starts_with("whsec_"));
        let both = signature_header(&[secret.clone(), secret], "msg_1", 1, "{}");
        assert_eq!(both.split(' ').count(), 2);
    }

    #[test]
    fn the_body_has_type_timestamp_and_data() {
        let at: Timestamp = "2026-03-01T09:00:00Z".parse().unwrap();
        let body = body(
            EventType::OrderAssigned,
            at,
            serde_json::json!({"order": {"id": 1}}),
        );
        assert_eq!(
            body,
            r#"{"type":"order.assigned","timestamp":"2026-03-01T09:00:00Z","data":{"order":{"id":1}}}"#
        );
    }
}
