//! Cookies and CSRF protection.
//!
//! CSRF: every page request carries a random token in an HttpOnly, SameSite=Strict cookie; every
//! form embeds the same token, and every state-changing request outside the API must echo it (as
//! the `csrf` form field, or `?csrf=` for uploads). A cross-site page can neither read the cookie
//! nor guess the token.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AppState, PageError};
use crate::db::sessions;

pub const SESSION_COOKIE: &str = "seatledger_session";
pub const CSRF_COOKIE: &str = "seatledger_csrf";

/// Largest form body read for the CSRF check; forms are small, uploads use `?csrf=`.
const FORM_LIMIT: usize = 1024 * 1024;

/// The value of cookie `name` in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    same_site: &str,
    max_age: i64,
    secure: bool,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are hex tokens")
}

/// The CSRF token of this request, for embedding in forms.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or(PageError::Misconfigured(
                "the CSRF middleware is not installed",
            ))
    }
}

fn is_token(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn form_field(encoded: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(encoded)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Middleware: gives every request a CSRF token and refuses unsafe requests without it.
pub async fn csrf_protection(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let existing = cookie(request.headers(), CSRF_COOKIE)
        .filter(|t| is_token(t))
        .map(str::to_owned);
    let token = existing.clone().unwrap_or_else(sessions::new_token);
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let mut request = if unsafe_method && !request.uri().path().starts_with("/api/") {
        let (parts, body) = request.into_parts();
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let (bytes, body) = if is_form {
            match to_bytes(body, FORM_LIMIT).await {
                Ok(bytes) => (bytes.clone(), Body::from(bytes)),
                Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
            }
        } else {
            (Default::default(), body)
        };
        let submitted = form_field(parts.uri.query().unwrap_or("").as_bytes(), "csrf")
            .or_else(|| form_field(&bytes, "csrf"));
        let valid = matches!((&existing, &submitted), (Some(e), Some(s)) if same_token(e, s));
        if !valid {
            return PageError::CsrfRefused.into_response();
        }
        Request::from_parts(parts, body)
    } else {
        request
    };
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if existing.is_none() {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(
                CSRF_COOKIE,
                &token,
                "Strict",
                60 * 60 * 24 * 30,
                state.config.secure_cookies,
            ),
        );
    }
    response
}
