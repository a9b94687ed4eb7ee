//! Signing in and out, setting a password from a link, and the pages every visitor can reach.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::areas::SignedIn;
use super::client::ClientAddress;
use super::error::{field_messages, link};
use super::layout::{Layout, PageResult, render, render_with};
use super::session::{CsrfToken, cookie, set_cookie};
use super::{AppState, BOTH, GET, POST, PageError, Routes};
use crate::domain::access::{LOCKOUT, MAX_FAILED_SIGN_INS, SESSION_LIFETIME, SignInRefusal};
use crate::domain::{Email, InvalidValue, Password};
use crate::format::date;
use crate::ops::accounts::{self, SignInFailure};
use crate::ops::{Error, Fields};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/", GET, get(home))
        .add("/health", GET, get(health))
        .add("/static/app.css", GET, get(stylesheet))
        .add("/sign-in", BOTH, get(sign_in_page).post(sign_in))
        .add("/sign-out", POST, post(sign_out))
        .add(
            "/forgot-password",
            BOTH,
            get(forgot_password_page).post(forgot_password),
        )
        .add(
            "/set-password",
            BOTH,
            get(set_password_page).post(set_password),
        )
}

async fn home(who: Option<SignedIn>) -> Redirect {
    match who {
        Some(who) => Redirect::to(who.area().home()),
        None => Redirect::to("/sign-in"),
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    match sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(state.ops.db.pool())
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

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}

pub(super) async fn not_found() -> PageError {
    PageError::Op(Error::NotFound)
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
struct SignInQuery {
    password: Option<String>,
}

async fn sign_in_page(
    who: Option<SignedIn>,
    csrf: CsrfToken,
    Query(query): Query<SignInQuery>,
) -> PageResult {
    if let Some(who) = who {
        return Ok(Redirect::to(who.area().home()).into_response());
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
struct SignInForm {
    email: String,
    password: String,
}

/// Why a sign-in failed, as the sign-in page says it.
fn sign_in_failure(failure: SignInFailure) -> String {
    match failure {
        SignInFailure::Incorrect => format!(
            "The email or password is incorrect. After {MAX_FAILED_SIGN_INS} wrong passwords \
             sign-ins from here wait {} minutes and the account's owner is emailed; you can \
             reset your password at any time.",
            LOCKOUT.as_mins()
        ),
        SignInFailure::Refused { refusal, time_zone } => match refusal {
            SignInRefusal::LicenceExpired { on } => format!(
                "Your licence expired on {}. Ask your company manager to renew it.",
                date(on, &time_zone)
            ),
            SignInRefusal::AwaitingLicence => {
                "You do not have a licence yet. Ask your company manager to allocate one.".into()
            }
            SignInRefusal::Deactivated => {
                "This account has been deactivated. Ask your company manager if you need access."
                    .into()
            }
        },
    }
}

async fn sign_in(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    ClientAddress(address): ClientAddress,
    Form(form): Form<SignInForm>,
) -> PageResult {
    match accounts::sign_in(&state.ops, &form.email, &form.password, &address).await {
        Ok(session) => {
            let mut response =
                Redirect::to(super::areas::Area::of(session.landing).home()).into_response();
            let cookie = set_cookie(
                state.config.cookies.session,
                &session.token,
                "Lax",
                SESSION_LIFETIME.as_secs(),
                state.config.secure_cookies,
            );
            response.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(Error::SignIn(failure)) => {
            let page = SignInPage {
                layout: Layout::anonymous("Sign in", &csrf),
                notice: None,
                email: form.email.trim().chars().take(254).collect(),
                error: Some(sign_in_failure(failure)),
            };
            render_with(StatusCode::UNAUTHORIZED, page)
        }
        Err(e) => Err(e.into()),
    }
}

async fn sign_out(State(state): State<Arc<AppState>>, headers: HeaderMap) -> PageResult {
    let name = state.config.cookies.session;
    if let Some(token) = cookie(&headers, name) {
        accounts::sign_out(&state.ops, token).await?;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    let expired = set_cookie(name, "", "Lax", 0, state.config.secure_cookies);
    response.headers_mut().append(header::SET_COOKIE, expired);
    Ok(response)
}

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    layout: Layout,
    token: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: String,
}

/// The form behind a welcome or reset link.
async fn set_password_page(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    Query(query): Query<TokenQuery>,
) -> PageResult {
    let error = match accounts::check_link(&state.ops, &query.token).await {
        Ok(_) => None,
        Err(Error::Link(e)) => Some(link(e).to_owned()),
        Err(e) => return Err(e.into()),
    };
    render(SetPasswordPage {
        layout: Layout::anonymous("Set your password", &csrf),
        token: query.token,
        error,
    })
}

#[derive(Deserialize)]
struct SetPasswordForm {
    token: String,
    password: String,
    confirm: String,
}

const PASSWORD_LABELS: &[(&str, &str)] =
    &[("password", "Password"), ("confirm", "Confirm password")];

async fn set_password(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    Form(form): Form<SetPasswordForm>,
) -> PageResult {
    let mut fields = Fields::default();
    let password = fields.take("password", Password::parse(&form.password));
    if form.password != form.confirm {
        fields.refuse("confirm", InvalidValue::Mismatch);
    }
    let outcome = match fields.finish(|| password) {
        Ok(password) => accounts::set_password(&state.ops, &form.token, &password).await,
        Err(e) => Err(e),
    };
    let error = match outcome {
        Ok(_) => return Ok(Redirect::to("/sign-in?password=set").into_response()),
        Err(Error::Invalid(errors)) => field_messages(&errors, PASSWORD_LABELS).join(" "),
        Err(Error::Link(e)) => link(e).to_owned(),
        Err(e) => return Err(e.into()),
    };
    let page = SetPasswordPage {
        layout: Layout::anonymous("Set your password", &csrf),
        token: form.token.clone(),
        error: Some(error),
    };
    render_with(StatusCode::UNPROCESSABLE_ENTITY, page)
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPasswordPage {
    layout: Layout,
    sent: bool,
}

async fn forgot_password_page(csrf: CsrfToken) -> PageResult {
    render(ForgotPasswordPage {
        layout: Layout::anonymous("Reset your password", &csrf),
        sent: false,
    })
}

#[derive(Deserialize)]
struct ForgotPasswordForm {
    #[serde(default)]
    email: String,
}

/// Forgot password: the same answer whether or not the account exists.
async fn forgot_password(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    ClientAddress(address): ClientAddress,
    Form(form): Form<ForgotPasswordForm>,
) -> PageResult {
    if let Ok(email) = Email::parse(&form.email) {
        accounts::request_reset(&state.ops, &email, &address).await?;
    }
    render(ForgotPasswordPage {
        layout: Layout::anonymous("Reset your password", &csrf),
        sent: true,
    })
}
