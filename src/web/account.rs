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
        .add("/static/select-all.js", GET, get(select_all_script))
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

async fn select_all_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/select-all.js"),
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
    /// Where to go after signing in (a same-site path), or empty.
    next: String,
}

#[derive(Deserialize)]
struct SignInQuery {
    password: Option<String>,
    next: Option<String>,
}

/// The longest `next` path kept: the longest link an email or page of ours makes is far shorter.
const NEXT_MAX: usize = 1024;

/// `raw` if it is a path on this site, to go to after signing in: it starts with one `/` (not
/// `//` or `/\`, which browsers read as another host), holds no backslash, space or control
/// character, and is not absurdly long. Anything else is dropped, never followed.
pub(super) fn same_site_path(raw: &str) -> Option<&str> {
    let bytes = raw.as_bytes();
    let path = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && raw.len() <= NEXT_MAX
        && !raw
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control());
    path.then_some(raw)
}

/// Where a signed-in person goes: `next` if it is a same-site path, else their area's home.
fn after_sign_in(next: Option<&str>, home: &'static str) -> String {
    next.and_then(same_site_path).unwrap_or(home).to_owned()
}

async fn sign_in_page(
    who: Option<SignedIn>,
    csrf: CsrfToken,
    Query(query): Query<SignInQuery>,
) -> PageResult {
    let next = query.next.as_deref();
    if let Some(who) = who {
        return Ok(Redirect::to(&after_sign_in(next, who.area().home())).into_response());
    }
    render(SignInPage {
        layout: Layout::anonymous("Sign in", &csrf),
        notice: query
            .password
            .is_some()
            .then_some("Your password is set. Sign in with it now."),
        email: String::new(),
        error: None,
        next: next.and_then(same_site_path).unwrap_or("").to_owned(),
    })
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
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
            let home = super::areas::Area::of(session.landing).home();
            let to = after_sign_in(Some(&form.next), home);
            let mut response = Redirect::to(&to).into_response();
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
                next: same_site_path(&form.next).unwrap_or("").to_owned(),
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

#[cfg(test)]
mod tests {
    use super::same_site_path;

    #[test]
    fn only_a_path_on_this_site_is_followed_after_sign_in() {
        for good in [
            "/partner/licences?order=12",
            "/company",
            "/partner/licences/overview?status=expired&sort=next_expiry",
        ] {
            assert_eq!(same_site_path(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/partner",
            "javascript:alert(1)",
            "partner",
            "/partner\\..\\x",
            "/ok\r\nLocation: //evil",
            "/ space",
            "\t/partner",
        ] {
            assert_eq!(same_site_path(bad), None, "{bad:?}");
        }
        assert_eq!(same_site_path(&format!("/{}", "a".repeat(2000))), None);
    }
}
