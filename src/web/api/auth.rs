//! Who calls the API: the key in `Authorization: Bearer KEY`, re-checked on every request, and
//! held to its rate (a token bucket per key, on the injected clock).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use jiff::Timestamp;

use super::problem::ApiError;
use crate::db::api_keys::KeyOwner;
use crate::domain::ApiKeyId;
use crate::domain::api_keys::Permission;
use crate::ops::Caller;
use crate::ops::api_keys::{KeyCaller, authenticate};
use crate::web::AppState;

/// How many requests a key may make: `per_second` sustained, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` sustained, with bursts of twice that.
    pub fn per_second(per_second: u32) -> Self {
        let per_second = per_second.max(1);
        Self {
            per_second,
            burst: per_second.saturating_mul(2),
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::per_second(50)
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

/// Each key's bucket. Kept in this instance's memory: behind a load balancer each instance
/// holds a key to the rate, which bounds the load each instance takes.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<ApiKeyId, Bucket>>,
}

impl RateLimiter {
    /// Takes one request from `key`'s bucket, or says how many seconds until one is there.
    pub fn take(&self, key: ApiKeyId, limit: RateLimit, now: Timestamp) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: f64::from(limit.burst),
            at: now,
        });
        let elapsed = (now.as_nanosecond() - bucket.at.as_nanosecond()).max(0) as f64 / 1e9;
        bucket.tokens =
            (bucket.tokens + elapsed * f64::from(limit.per_second)).min(f64::from(limit.burst));
        bucket.at = bucket.at.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / f64::from(limit.per_second);
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

/// The caller of an API request: a usable key within its rate.
pub struct ApiCaller(pub KeyCaller);

impl ApiCaller {
    /// Refuses (403) unless the key carries `permission`.
    pub fn require(&self, permission: Permission) -> Result<&Caller, ApiError> {
        if self.0.key.permissions.has(permission) {
            Ok(&self.0.caller)
        } else {
            let key = &self.0.key;
            tracing::info!(security_event = "api_permission_refused", key = %key.id, prefix = %key.prefix, ?permission, "API key without the permission");
            Err(ApiError::MissingPermission(permission))
        }
    }

    pub fn owner(&self) -> KeyOwner {
        self.0.key.owner
    }

    pub fn id(&self) -> ApiKeyId {
        self.0.key.id
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<Arc<AppState>> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(found) = parts.extensions.get::<Arc<KeyCaller>>() {
            return Ok(ApiCaller(KeyCaller::clone(found)));
        }
        let presented = bearer(parts).ok_or(ApiError::Unauthenticated)?;
        let found = authenticate(&state.ops, presented)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        state
            .api_limiter
            .take(found.key.id, state.config.api_rate, state.ops.now())
            .map_err(|retry_after| {
                tracing::info!(security_event = "api_rate_limited", key = %found.key.id, prefix = %found.key.prefix, "API key over its rate");
                ApiError::RateLimited { retry_after }
            })?;
        parts.extensions.insert(Arc::new(found.clone()));
        Ok(ApiCaller(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_its_rate() {
        let limiter = RateLimiter::default();
        let limit = RateLimit {
            per_second: 2,
            burst: 3,
        };
        let t: Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
        let key = ApiKeyId(1);
        for _ in 0..3 {
            assert_eq!(limiter.take(key, limit, t), Ok(()));
        }
        assert_eq!(limiter.take(key, limit, t), Err(1));
        assert_eq!(
            limiter.take(ApiKeyId(2), limit, t),
            Ok(()),
            "keys are apart"
        );
        let later = t + jiff::SignedDuration::from_millis(500);
        assert_eq!(limiter.take(key, limit, later), Ok(()));
        assert_eq!(limiter.take(key, limit, later), Err(1));
    }
}
