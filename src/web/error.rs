//! The one place the console turns errors into pages, and writes their words. Internal errors are
//! logged with their cause (inside the request's span) and shown as a plain 500.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::db::DbError;
use crate::db::passwords::LinkError;
use crate::domain::Action;
use crate::ops::{Conflict, Error, FieldError, Refusal, Setting};

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Not signed in, or signed in somewhere else: go there.
    #[error("redirect to {0}")]
    Redirect(String),
    #[error(transparent)]
    Op(#[from] Error),
    #[error("the form's CSRF token is missing or wrong")]
    CsrfRefused,
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error("misconfigured: {0}")]
    Misconfigured(&'static str),
}

impl From<DbError> for PageError {
    fn from(e: DbError) -> Self {
        PageError::Op(e.into())
    }
}

/// Why the caller may not do this, as a sentence.
pub fn refusal(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::Role(Action::AdministerCompanies) => {
            "Only your partner's admins can create or edit companies and assign or reject orders."
        }
        Refusal::Role(Action::AdministerPartner) => {
            "Only your partner's admins can create sub-partners, API keys and webhook endpoints."
        }
        Refusal::Role(_) => "Your role does not allow this.",
        Refusal::ManagedCompany => {
            "Your partner manages this company's programme: ask them to make this change."
        }
        Refusal::Yourself => "You cannot deactivate or delete your own account.",
        Refusal::LastManager => {
            "This is the company's last active manager: add another manager first."
        }
    }
}

/// A conflict, as a sentence.
pub fn conflict(conflict: Conflict) -> String {
    match conflict {
        Conflict::EmailInUse => "this email address is already in use".into(),
        Conflict::SeatHeld(_) => "a learner already has an active licence".into(),
        Conflict::OrderDecided(state) => format!("this order is already {}", state.as_str()),
        Conflict::Deactivated(_) => "this user is deactivated".into(),
        Conflict::RequestWaiting(order) => format!(
            "a request is already waiting (order {order}): change its quantity or cancel it instead"
        ),
        Conflict::OperatorExists => "this instance already has its operator".into(),
        Conflict::InvitationAccepted => {
            "this user has already set a password; they can reset it from the sign-in page".into()
        }
        Conflict::EndpointLimit(max) => {
            format!("you already have {max} webhook endpoints; delete one first")
        }
        Conflict::KeyLimit(max) => {
            format!("you already have {max} API keys; revoke one first")
        }
        Conflict::UploadQuota { limit } => format!(
            "your company already keeps {} MB of uploaded files, the most it may; each is \
             deleted once applied or after 24 hours",
            limit / (1024 * 1024)
        ),
    }
}

/// A set-password link's problem, as a sentence.
pub fn link(error: LinkError) -> &'static str {
    match error {
        LinkError::Unknown => "This link is not valid. Ask for a new one.",
        LinkError::Used => "This link has already been used. Sign in, or ask for a new link.",
        LinkError::Expired => "This link has expired. Ask for a new one.",
    }
}

/// The label of `field` in a form's labels (field name, label); the name itself if none.
fn label<'a>(labels: &[(&str, &'a str)], field: &'a str) -> &'a str {
    labels
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(field, |(_, label)| label)
}

/// The labels of the fields a page reads from its address rather than from a form: a refused
/// value there answers a page of its own, which names the field as the page labels it.
const PAGE_FIELD_LABELS: &[(&str, &str)] = &[
    ("column", "Column"),
    ("learners", "Learners"),
    ("q", "Search by name"),
    ("company", "Company"),
];

/// "Label: problem." for each field, with the form's labels.
pub fn field_messages(errors: &[FieldError], labels: &[(&str, &str)]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{}: {}.", label(labels, e.field), e.problem))
        .collect()
}

/// The messages a form shows again for a refused submission: each invalid field, or the field a
/// conflict concerns (an email already in use). Any other error becomes its own page.
pub fn form_errors(error: Error, labels: &[(&str, &str)]) -> Result<Vec<String>, PageError> {
    match error {
        Error::Invalid(errors) => Ok(field_messages(&errors, labels)),
        Error::Conflict(c @ Conflict::EmailInUse) => Ok(vec![format!(
            "{}: {}.",
            label(labels, "email"),
            conflict(c)
        )]),
        other => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = ErrorPage { title, message }
        .render()
        .unwrap_or_else(|_| message.to_owned());
    (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

/// Logs a failure with its cause chain, inside the request's span.
pub(super) fn log_internal(error: &dyn std::error::Error) {
    let mut causes = String::new();
    let mut source = error.source();
    while let Some(cause) = source {
        causes.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    tracing::error!(error = %error, causes = %causes, "request failed");
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message): (StatusCode, &str, String) = match self {
            PageError::Redirect(to) => return Redirect::to(&to).into_response(),
            PageError::CsrfRefused => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "This form has expired or was sent from another site. Reload the page and try again."
                    .into(),
            ),
            PageError::Op(Error::NotFound) => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or you do not have access to it.".into(),
            ),
            PageError::Op(Error::Forbidden(r)) => {
                (StatusCode::FORBIDDEN, "Not allowed", refusal(r).into())
            }
            PageError::Op(Error::Conflict(c)) => {
                let message = format!("That could not be done: {}.", conflict(c));
                (StatusCode::CONFLICT, "That did not work", message)
            }
            PageError::Op(Error::NoFreeSeats(e)) => (
                StatusCode::CONFLICT,
                "That did not work",
                format!("Nothing was allocated: {e}."),
            ),
            PageError::Op(Error::Invalid(errors)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "That did not work",
                field_messages(&errors, PAGE_FIELD_LABELS)
                    .join(" "),
            ),
            PageError::Op(Error::File(e)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "That did not work",
                format!("File: {e}."),
            ),
            PageError::Op(Error::Link(e)) => (StatusCode::GONE, "Link", link(e).into()),
            PageError::Op(Error::SignIn(_)) => {
                return PageError::Redirect("/sign-in".into()).into_response();
            }
            PageError::Op(Error::NotConfigured(Setting::SecretKey)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available",
                "Webhooks are not available yet: the operator must give this instance a secret key \
                 (SEATLEDGER_SECRET_KEY) to keep signing secrets with."
                    .into(),
            ),
            PageError::Op(Error::Busy) => {
                let mut response = page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "Too many people are changing the same thing at once. Try again in a moment.",
                );
                let retry = HeaderValue::from_static("2");
                response.headers_mut().insert(header::RETRY_AFTER, retry);
                return response;
            }
            PageError::Op(Error::Overloaded { retry_after }) => {
                let mut response = page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    &format!(
                        "The server is busy reading other large files. Try again in {} seconds.",
                        retry_after.as_secs()
                    ),
                );
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs()),
                );
                return response;
            }
            PageError::Op(Error::HashingBusy(_)) => {
                let mut response = page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "The server is checking too many passwords at once. Try again in a few seconds.",
                );
                let retry = HeaderValue::from_static("5");
                response.headers_mut().insert(header::RETRY_AFTER, retry);
                return response;
            }
            PageError::Op(Error::RateLimited { retry_after }) => {
                let minutes = (retry_after.as_secs() + 59) / 60;
                let mut response = page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    &format!(
                        "There have been too many attempts. Try again in {} minute{}.",
                        minutes.max(1),
                        if minutes > 1 { "s" } else { "" }
                    ),
                );
                let seconds = HeaderValue::from(retry_after.as_secs().max(1));
                response.headers_mut().insert(header::RETRY_AFTER, seconds);
                return response;
            }
            internal => {
                log_internal(&internal);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side. Please try again.".into(),
                )
            }
        };
        page(status, title, &message)
    }
}
