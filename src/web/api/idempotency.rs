//! `Idempotency-Key` on every POST: the same key and the same request within 24 hours get the
//! stored response again, with its status; the same key with another request is refused (422);
//! while the first is being answered, a second gets 409 and changes nothing.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use blake2::{Blake2s256, Digest};

use super::auth::ApiCaller;
use super::input::{BODY_LIMIT, bounded_body};
use super::problem::{ApiError, FieldProblem, PROBLEM_JSON};
use crate::db::idempotency::{self, Claim};
use crate::web::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response that is a stored one, sent again.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest Idempotency-Key accepted.
pub const MAX_KEY_LEN: usize = 255;

fn bad_key(detail: &str) -> Response {
    ApiError::Malformed(vec![FieldProblem {
        field: "Idempotency-Key".into(),
        code: "invalid-idempotency-key".into(),
        detail: detail.into(),
    }])
    .into_response()
}

/// The middleware around the API's routes.
pub(crate) async fn idempotent(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !request.headers().contains_key(&IDEMPOTENCY_KEY) {
        return next.run(request).await;
    }
    let Some(key) = request
        .headers()
        .get(&IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
    else {
        return bad_key("1 to 255 visible ASCII characters");
    };
    let (mut parts, body) = request.into_parts();
    // The caller first: an unknown key claims nothing.
    let who = match ApiCaller::from_request_parts(&mut parts, &state).await {
        Ok(who) => who,
        Err(e) => return e.into_response(),
    };
    let bytes = match bounded_body(body).await {
        Ok(bytes) => bytes,
        Err(e) => return e.into_response(),
    };
    let mut hash = Blake2s256::new();
    hash.update(parts.uri.to_string().as_bytes());
    hash.update([0]);
    hash.update(&bytes);
    let hash = crate::db::sessions::hex(&hash.finalize());
    let db = &state.ops.db;
    let claim = idempotency::claim(db, who.id(), &key, &hash, state.ops.now()).await;
    match claim {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claim::Mismatch) => ApiError::IdempotencyMismatch.into_response(),
        Ok(Claim::InProgress) => ApiError::IdempotencyInProgress.into_response(),
        Ok(Claim::Replay {
            status,
            body,
            location,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let media = if status.is_success() {
                "application/json"
            } else {
                PROBLEM_JSON
            };
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
            if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                headers.insert(header::LOCATION, location);
            }
            response
        }
        Ok(Claim::Claimed) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let (head, body) = response.into_parts();
            let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT * 4).await else {
                let _ = idempotency::abandon(db, who.id(), &key).await;
                return ApiError::Op(crate::ops::Error::Busy).into_response();
            };
            let stored = if head.status.is_server_error() {
                idempotency::abandon(db, who.id(), &key).await
            } else {
                let text = String::from_utf8_lossy(&body);
                let location = head
                    .headers
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok());
                let status = head.status.as_u16();
                idempotency::complete(db, who.id(), &key, status, &text, location).await
            };
            if let Err(e) = stored {
                tracing::error!(error = %e, "the idempotency record could not be kept");
            }
            Response::from_parts(head, Body::from(body))
        }
    }
}
