//! The one place errors become responses. Internals are logged and hidden behind a plain 500.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Not signed in, or signed in somewhere else: go there.
    #[error("redirect to {0}")]
    Redirect(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for PageError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => PageError::NotFound,
            DbError::NoFreeSeats(e) => PageError::Conflict(e.to_string()),
            DbError::Conflict(message) => PageError::Conflict(message),
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            PageError::Redirect(to) => return Redirect::to(to).into_response(),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or you do not have access to it.",
            ),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m.as_str()),
            PageError::Conflict(m) => (StatusCode::CONFLICT, "That did not work", m.as_str()),
            PageError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side. Please try again.",
                )
            }
        };
        let body = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| message.to_owned());
        (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
    }
}
