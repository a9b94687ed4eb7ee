//! Cookies, CSRF protection, and the signed-in caller.
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
use crate::db::users::{self, CompanyOfUser, Membership, UserAccess};
use crate::db::{Actor, DbError, Scope, companies, sessions};
use crate::domain::PartnerId;
use crate::domain::access::{self, Landing, SignInDecision};

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
            .ok_or_else(|| PageError::Internal("CSRF middleware is not installed".into()))
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
            return PageError::Forbidden(
                "This form has expired or was sent from another site. Reload the page and try again."
                    .into(),
            )
            .into_response();
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

/// The areas of the console; each signed-in user may use exactly one, decided by `Landing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Operator,
    Partner,
    Company,
    Landing,
    Learner,
}

impl Area {
    pub fn of(landing: Landing) -> Self {
        match landing {
            Landing::OperatorConsole => Area::Operator,
            Landing::AdminDashboard => Area::Partner,
            Landing::CompanyDashboard => Area::Company,
            Landing::LandingPage { .. } => Area::Landing,
            Landing::LearnerHome => Area::Learner,
        }
    }

    pub fn home(self) -> &'static str {
        match self {
            Area::Operator => "/operator",
            Area::Partner => "/partner",
            Area::Company => "/company",
            Area::Landing => "/landing",
            Area::Learner => "/learner",
        }
    }
}

/// The caller of a request, with a live session, re-checked against the access rules now.
pub struct SignedIn {
    pub user: UserAccess,
    pub landing: Landing,
    /// The company this caller works in: their own, or the one a partner user manages.
    pub company: Option<CompanyOfUser>,
    /// True while a partner user is in manage mode.
    pub managing: bool,
    /// The session cookie's token.
    pub token: String,
}

impl SignedIn {
    /// Admits the caller to `area`, or sends them to the area they may use.
    pub fn enter(&self, area: Area) -> Result<(), PageError> {
        let home = Area::of(self.landing);
        if home == area {
            Ok(())
        } else {
            Err(PageError::Redirect(home.home().to_owned()))
        }
    }

    /// What this caller may see: in manage mode, only the managed company.
    pub fn scope(&self) -> Scope {
        match (&self.company, self.user.membership) {
            (Some(company), _) if self.managing => Scope::Company(company.id),
            (_, Membership::Operator) => Scope::Operator,
            (_, Membership::Partner { partner, .. }) => Scope::Partner(partner),
            (_, Membership::Company { company, .. }) => Scope::Company(company),
        }
    }

    /// The company of a company-area page.
    pub fn company(&self) -> Result<&CompanyOfUser, PageError> {
        self.company.as_ref().ok_or(PageError::NotFound)
    }

    /// The partner of a partner user.
    pub fn partner(&self) -> Result<PartnerId, PageError> {
        match self.user.membership {
            Membership::Partner { partner, .. } => Ok(partner),
            _ => Err(PageError::NotFound),
        }
    }

    /// Who changes are recorded as done by (and, in manage mode, for which company).
    pub fn actor(&self) -> Actor {
        Actor {
            user: Some(self.user.id),
            on_behalf_of: self
                .company
                .as_ref()
                .filter(|_| self.managing)
                .map(|c| c.id),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let to_sign_in = || PageError::Redirect("/sign-in".into());
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(to_sign_in)?;
        let now = state.clock.now();
        let session = sessions::find(&state.db, token, now)
            .await?
            .ok_or_else(to_sign_in)?;
        let user = users::access_by_id(&state.db, session.user)
            .await?
            .ok_or_else(to_sign_in)?;
        let company = user.company.as_ref().map(|c| &c.facts);
        let landing = match access::sign_in(&user.facts, company, now) {
            SignInDecision::Allowed { landing, .. } => landing,
            // Access ended since sign-in (licence expired, user deactivated): the session ends too.
            SignInDecision::Refused(_) => {
                sessions::revoke(&state.db, token).await?;
                return Err(to_sign_in());
            }
        };
        if let (Some(managed), Membership::Partner { partner, .. }) =
            (session.managing, user.membership)
        {
            match companies::details(&state.db, &Scope::Partner(partner), managed).await {
                Ok(details) => {
                    return Ok(SignedIn {
                        company: Some(CompanyOfUser {
                            id: details.id,
                            name: details.name,
                            time_zone: details.time_zone,
                            facts: details.facts,
                        }),
                        user,
                        landing: Landing::CompanyDashboard,
                        managing: true,
                        token: token.to_owned(),
                    });
                }
                Err(DbError::NotFound) => sessions::set_managing(&state.db, token, None).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(SignedIn {
            company: user.company.clone(),
            user,
            landing,
            managing: false,
            token: token.to_owned(),
        })
    }
}

impl axum::extract::OptionalFromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = PageError;

    /// `None` when nobody (or nobody with access) is signed in; other failures stay errors.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <SignedIn as FromRequestParts<Arc<AppState>>>::from_request_parts(parts, state).await
        {
            Ok(who) => Ok(Some(who)),
            Err(PageError::Redirect(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
