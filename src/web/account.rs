//! Signing in and out, setting a password from a link, and the pages every visitor can reach.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use serde::Deserialize;

use super::layout::{Layout, PageResult, render};
use super::session::{Area, CsrfToken, SESSION_COOKIE, SignedIn, cookie, set_cookie};
use super::{AppState, PageError};
use crate::db::sessions::{self, SESSION_LIFETIME};
use crate::db::{passwords, users};
use crate::domain::Email;
use crate::domain::access::{self, SignInDecision, SignInRefusal};
use crate::format::date;
use crate::password;

pub(super) async fn home(who: Option<SignedIn>) -> Redirect {
    match who {
        Some(who) => Redirect::to(Area::of(who.landing).home()),
        None => Redirect::to("/sign-in"),
    }
}

pub(super) async fn health(State(state): State<Arc<AppState>>) -> Response {
    match sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(state.db.pool())
        .await
    {
        Ok(_) => Json(serde_json::json!({ "status": "ok", "database": "ok" })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
            )
                .into_response()
        }
    }
}

pub(super) async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}

pub(super) async fn not_found() -> PageError {
    PageError::NotFound
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    notice: Option<&'static str>,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct SignInQuery {
    password: Option<String>,
}

pub(super) async fn sign_in_page(
    who: Option<SignedIn>,
    csrf: CsrfToken,
    Query(query): Query<SignInQuery>,
) -> PageResult {
    if let Some(who) = who {
        return Ok(Redirect::to(Area::of(who.landing).home()).into_response());
    }
    render(SignInPage {
        layout: Layout::anonymous("Sign in", &csrf),
        notice: query
            .password
            .is_some()
            .then_some("Your password is set. Sign in with it now."),
        email: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    email: String,
    password: String,
}

pub(super) async fn sign_in(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    Form(form): Form<SignInForm>,
) -> PageResult {
    let refuse = |message: String| -> PageResult {
        let page = SignInPage {
            layout: Layout::anonymous("Sign in", &csrf),
            notice: None,
            email: form.email.trim().to_owned(),
            error: Some(message),
        };
        Ok((StatusCode::UNAUTHORIZED, render(page)?).into_response())
    };
    let user = match Email::parse(&form.email) {
        Ok(email) => users::access_by_email(&state.db, &email).await?,
        Err(_) => None,
    };
    let now = state.clock.now();
    let locked = |until: jiff::Timestamp| {
        format!(
            "This account is locked after three wrong passwords. Try again after {} UTC, or reset your password.",
            until.strftime("%H:%M")
        )
    };
    let Some(user) = user else {
        // Hash anyway, so an unknown email takes as long as a known one.
        password::verify_blocking(form.password.clone(), None).await;
        return refuse("The email or password is incorrect.".into());
    };
    let attempt = match users::reserve_sign_in(&state.db, user.id, now).await? {
        users::Attempt::Locked(until) => return refuse(locked(until)),
        users::Attempt::Allowed(attempt) => attempt,
    };
    if !password::verify_blocking(form.password.clone(), user.password_hash.clone()).await {
        if let Some(until) = users::failed_sign_in(&state.db, user.id, attempt, now).await? {
            return refuse(locked(until));
        }
        return refuse("The email or password is incorrect.".into());
    }
    users::clear_failures(&state.db, user.id).await?;
    let company = user.company.as_ref();
    match access::sign_in(&user.facts, company.map(|c| &c.facts), now) {
        SignInDecision::Refused(refusal) => {
            let tz = company.map_or("UTC", |c| c.time_zone.as_str());
            refuse(match refusal {
                SignInRefusal::LicenceExpired { on } => format!(
                    "Your licence expired on {}. Ask your company manager to renew it.",
                    date(on, tz)
                ),
                SignInRefusal::AwaitingLicence => {
                    "You do not have a licence yet. Ask your company manager to allocate one.".into()
                }
                SignInRefusal::Deactivated => {
                    "This account has been deactivated. Ask your company manager if you need access."
                        .into()
                }
            })
        }
        SignInDecision::Allowed { landing, .. } => {
            let token = sessions::create(&state.db, user.id, now).await?;
            let mut response = Redirect::to(Area::of(landing).home()).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(
                    SESSION_COOKIE,
                    &token,
                    "Lax",
                    SESSION_LIFETIME.as_secs(),
                    state.config.secure_cookies,
                ),
            );
            Ok(response)
        }
    }
}

pub(super) async fn sign_out(State(state): State<Arc<AppState>>, headers: HeaderMap) -> PageResult {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        sessions::revoke(&state.db, token).await?;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "Lax", 0, state.config.secure_cookies),
    );
    Ok(response)
}

/// The shortest password accepted.
const MIN_PASSWORD: usize = 10;

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    layout: Layout,
    token: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    token: String,
}

/// The form behind a welcome or reset link.
pub(super) async fn set_password_page(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    Query(query): Query<TokenQuery>,
) -> PageResult {
    let error = passwords::check(&state.db, &query.token, state.clock.now())
        .await?
        .err()
        .map(|e| e.to_string());
    render(SetPasswordPage {
        layout: Layout::anonymous("Set your password", &csrf),
        token: query.token,
        error,
    })
}

#[derive(Deserialize)]
pub(super) struct SetPasswordForm {
    token: String,
    password: String,
    confirm: String,
}

pub(super) async fn set_password(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    Form(form): Form<SetPasswordForm>,
) -> PageResult {
    let refuse = |error: String| -> PageResult {
        let page = SetPasswordPage {
            layout: Layout::anonymous("Set your password", &csrf),
            token: form.token.clone(),
            error: Some(error),
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
    };
    if form.password.chars().count() < MIN_PASSWORD {
        return refuse(format!("Password: use at least {MIN_PASSWORD} characters."));
    }
    if form.password != form.confirm {
        return refuse("Confirm password: the two passwords differ.".into());
    }
    let hash = password::hash_blocking(form.password.clone()).await;
    match passwords::redeem(&state.db, &form.token, &hash, state.clock.now()).await? {
        Ok(_) => Ok(Redirect::to("/sign-in?password=set").into_response()),
        Err(e) => refuse(e.to_string()),
    }
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPasswordPage {
    layout: Layout,
    sent: bool,
}

pub(super) async fn forgot_password_page(csrf: CsrfToken) -> PageResult {
    render(ForgotPasswordPage {
        layout: Layout::anonymous("Reset your password", &csrf),
        sent: false,
    })
}

#[derive(Deserialize)]
pub(super) struct ForgotPasswordForm {
    #[serde(default)]
    email: String,
}

/// Forgot password: the same answer whether or not the account exists.
pub(super) async fn forgot_password(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    Form(form): Form<ForgotPasswordForm>,
) -> PageResult {
    if let Ok(email) = Email::parse(&form.email) {
        passwords::request_reset(
            &state.db,
            &email,
            &state.config.public_url,
            state.clock.now(),
        )
        .await?;
    }
    render(ForgotPasswordPage {
        layout: Layout::anonymous("Reset your password", &csrf),
        sent: true,
    })
}
