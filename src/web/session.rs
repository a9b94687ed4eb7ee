//! Cookies and CSRF protection.
//!
//! CSRF: every form carries a token bound to the visitor's session. It is an HMAC, under the
//! instance's form key (kept in the database so every server agrees), of the session cookie, or
//! before sign-in of a random visitor cookie. Signing in starts a new session, so the token
//! changes with it; a token from another session, or a cookie and field chosen together by an
//! attacker, does not verify. Every state-changing request outside the API must carry it (as the
//! `csrf` form field, or `?csrf=` for uploads); the API authenticates with bearer keys instead.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ring::hmac;

use super::{AppState, PageError};
use crate::db::sessions;

pub const SESSION_COOKIE: &str = "seatledger_session";
pub const VISITOR_COOKIE: &str = "seatledger_visitor";

/// The cookie names of an instance: under https they take the `__Host-` prefix, which a browser
/// only accepts from the host itself, Secure, for the whole site (no sibling domain can set it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieNames {
    pub session: &'static str,
    pub visitor: &'static str,
}

impl CookieNames {
    pub fn new(secure: bool) -> Self {
        if secure {
            Self {
                session: "__Host-seatledger_session",
                visitor: "__Host-seatledger_visitor",
            }
        } else {
            Self {
                session: SESSION_COOKIE,
                visitor: VISITOR_COOKIE,
            }
        }
    }
}

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

/// What a form token is bound to.
enum Binding<'a> {
    Session(&'a str),
    Visitor(&'a str),
}

/// The form token for `binding`: an HMAC under the instance's form key.
fn form_token(key: &hmac::Key, binding: &Binding) -> String {
    let message = match binding {
        Binding::Session(token) => format!("session:{token}"),
        Binding::Visitor(token) => format!("visitor:{token}"),
    };
    let tag = hmac::sign(key, message.as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
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

/// Middleware: gives every request its form token and refuses unsafe requests without it.
pub async fn csrf_protection(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let names = state.config.cookies;
    let key = match state.form_key().await {
        Ok(key) => key,
        Err(e) => return PageError::from(e).into_response(),
    };
    let session = cookie(request.headers(), names.session).map(str::to_owned);
    let visitor = cookie(request.headers(), names.visitor)
        .filter(|t| is_token(t))
        .map(str::to_owned);
    let new_visitor = (session.is_none() && visitor.is_none()).then(sessions::new_token);
    let binding = match (&session, &visitor, &new_visitor) {
        (Some(s), _, _) => Binding::Session(s),
        (None, Some(v), _) | (None, None, Some(v)) => Binding::Visitor(v),
        (None, None, None) => unreachable!("a visitor token is made when no cookie binds"),
    };
    let token = form_token(key, &binding);
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
        // A new visitor has no cookie the token could have been made for.
        let valid = new_visitor.is_none() && submitted.is_some_and(|s| same_token(&token, &s));
        if !valid {
            tracing::warn!(
                security_event = "csrf_refused",
                path = %parts.uri.path(),
                "form refused: CSRF token missing or not this session's"
            );
            return PageError::CsrfRefused.into_response();
        }
        Request::from_parts(parts, body)
    } else {
        request
    };
    request.extensions_mut().insert(CsrfToken(token));
    let mut response = next.run(request).await;
    if let Some(visitor) = new_visitor {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(
                names.visitor,
                &visitor,
                "Strict",
                60 * 60 * 24 * 30,
                state.config.secure_cookies,
            ),
        );
    }
    response
}
