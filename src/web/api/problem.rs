//! The API's one error shape: RFC 9457 `application/problem+json`, with a stable `type` URI per
//! cause, a title, a detail, and for validation the fields that are wrong. Internal errors are
//! logged with their cause and answered with a bare 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::NotEnoughSeats;
use crate::domain::api_keys::Permission;
use crate::ops::{Conflict, Error, FieldError, Setting};
use crate::web::error::{conflict, link, refusal};

/// A problem (RFC 9457).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI naming the cause, e.g. `urn:seatledger:problem:not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For invalid input: each field that is wrong.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldProblem>,
    /// For a refused allocation: how many seats were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub requested: Option<u32>,
    /// For a refused allocation: how many seats are free.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub free: Option<u32>,
}

/// One field of the request that is wrong.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    /// Where in the request: a JSON path such as `users[2].email`, or a query parameter.
    pub field: String,
    /// A stable name for what is wrong, e.g. `not-an-email`, `unknown-field`, `wrong-type`.
    pub code: String,
    pub detail: String,
}

/// Everything the API answers with an error.
#[derive(Debug)]
pub enum ApiError {
    /// No key, or not a usable one.
    Unauthenticated,
    /// The key lacks the permission this call needs.
    MissingPermission(Permission),
    /// Past the key's rate: try again after this many seconds.
    RateLimited {
        retry_after: u64,
    },
    /// The body is longer than `limit` bytes.
    TooLarge {
        limit: usize,
    },
    /// The body is not JSON (by its content type).
    UnsupportedMediaType,
    /// The body or query does not fit the operation's schema.
    Malformed(Vec<FieldProblem>),
    /// No such route.
    NoRoute,
    MethodNotAllowed,
    /// The Idempotency-Key was used before with another request.
    IdempotencyMismatch,
    /// A request with the same Idempotency-Key is still being answered.
    IdempotencyInProgress,
    /// Too few free seats: nothing was `undone` ("allocated", "renewed"), as the console says.
    NotEnoughSeats {
        short: NotEnoughSeats,
        undone: &'static str,
    },
    Op(Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Op(e)
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        ApiError::Op(e.into())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The stable URI of a cause.
pub fn problem_type(cause: &str) -> String {
    format!("urn:seatledger:problem:{cause}")
}

fn conflict_cause(c: Conflict) -> &'static str {
    match c {
        Conflict::EmailInUse => "email-in-use",
        Conflict::SeatHeld(_) => "seat-held",
        Conflict::OrderDecided(_) => "order-decided",
        Conflict::Deactivated(_) => "user-deactivated",
        Conflict::RequestWaiting(_) => "request-waiting",
        Conflict::OperatorExists => "operator-exists",
        Conflict::InvitationAccepted => "invitation-accepted",
        Conflict::EndpointLimit(_) => "endpoint-limit",
        Conflict::KeyLimit(_) => "key-limit",
        Conflict::UploadQuota { .. } => "upload-quota",
    }
}

pub(super) fn field_problems(errors: &[FieldError]) -> Vec<FieldProblem> {
    errors
        .iter()
        .map(|e| FieldProblem {
            field: e.field.to_owned(),
            code: e.problem.code().to_owned(),
            detail: e.problem.to_string(),
        })
        .collect()
}

impl Problem {
    fn new(status: StatusCode, cause: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: problem_type(cause),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            requested: None,
            free: None,
        }
    }
}

impl ApiError {
    fn problem(self) -> Problem {
        use StatusCode as S;
        match self {
            ApiError::Unauthenticated => Problem::new(
                S::UNAUTHORIZED,
                "unauthenticated",
                "Unauthenticated",
                "Send a usable API key as `Authorization: Bearer KEY`.",
            ),
            ApiError::MissingPermission(p) => Problem::new(
                S::FORBIDDEN,
                "missing-permission",
                "Missing permission",
                format!("This API key lacks the `{}` permission.", p.as_str()),
            ),
            ApiError::RateLimited { retry_after } => Problem::new(
                S::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!("This API key is past its rate; try again in {retry_after} s."),
            ),
            ApiError::TooLarge { limit } => Problem::new(
                S::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Request body too large",
                format!("The request body may hold at most {limit} bytes."),
            ),
            ApiError::UnsupportedMediaType => Problem::new(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "Send the body as `Content-Type: application/json`.",
            ),
            ApiError::Malformed(errors) => {
                let detail = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.detail))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut p = Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "invalid-request",
                    "Invalid request",
                    detail,
                );
                p.errors = errors;
                p
            }
            ApiError::NoRoute => Problem::new(
                S::NOT_FOUND,
                "no-such-route",
                "Not found",
                "There is no such API route; see /api/v1/openapi.json.",
            ),
            ApiError::MethodNotAllowed => Problem::new(
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "This route does not answer this method; see /api/v1/openapi.json.",
            ),
            ApiError::IdempotencyMismatch => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "This Idempotency-Key was sent before with another request; use a new key.",
            ),
            ApiError::IdempotencyInProgress => Problem::new(
                S::CONFLICT,
                "idempotency-key-in-progress",
                "Request in progress",
                "A request with this Idempotency-Key is still being answered; retry shortly.",
            ),
            ApiError::NotEnoughSeats { short, undone } => {
                let mut p = Problem::new(
                    S::CONFLICT,
                    "not-enough-seats",
                    "Not enough seats",
                    format!("Nothing was {undone}: {short}."),
                );
                p.requested = Some(short.requested);
                p.free = Some(short.free);
                p
            }
            ApiError::Op(e) => op_problem(e),
        }
    }
}

fn op_problem(e: Error) -> Problem {
    use StatusCode as S;
    match e {
        Error::NotFound => Problem::new(
            S::NOT_FOUND,
            "not-found",
            "Not found",
            "There is nothing here, or this key may not see it.",
        ),
        Error::Forbidden(r) => Problem::new(S::FORBIDDEN, "forbidden", "Not allowed", refusal(r)),
        Error::Invalid(errors) => ApiError::Malformed(field_problems(&errors)).problem(),
        Error::NoFreeSeats(short) => ApiError::NotEnoughSeats {
            short,
            undone: "allocated",
        }
        .problem(),
        Error::Conflict(c) => Problem::new(
            S::CONFLICT,
            conflict_cause(c),
            "Conflict",
            format!("That could not be done: {}.", conflict(c)),
        ),
        Error::File(e) => Problem::new(
            S::UNPROCESSABLE_ENTITY,
            "unreadable-file",
            "Unreadable file",
            e.to_string(),
        ),
        Error::Link(e) => Problem::new(S::GONE, "link-refused", "Link refused", link(e)),
        Error::SignIn(_) => Problem::new(
            S::UNAUTHORIZED,
            "unauthenticated",
            "Unauthenticated",
            "Sign-in was refused.",
        ),
        Error::Busy => Problem::new(
            S::SERVICE_UNAVAILABLE,
            "busy",
            "Busy",
            "Too many changes to the same thing at once; try again in a moment.",
        ),
        Error::HashingBusy(_) => Problem::new(
            S::SERVICE_UNAVAILABLE,
            "busy",
            "Busy",
            "The server is overloaded for a moment; try again shortly.",
        ),
        Error::RateLimited { retry_after } => Problem::new(
            S::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("Try again in {} s.", retry_after.as_secs().max(1)),
        ),
        Error::Overloaded { retry_after } => Problem::new(
            S::SERVICE_UNAVAILABLE,
            "overloaded",
            "Busy",
            format!(
                "The server is busy with other large work; try again in {} s.",
                retry_after.as_secs().max(1)
            ),
        ),
        Error::NotConfigured(Setting::SecretKey) => Problem::new(
            S::SERVICE_UNAVAILABLE,
            "not-configured",
            "Not configured",
            "The operator has not given this instance a secret key (SEATLEDGER_SECRET_KEY).",
        ),
        internal @ Error::Internal(_) => {
            crate::web::error::log_internal(&internal);
            Problem::new(
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "Something went wrong on our side; the request id is in the x-request-id header.",
            )
        }
    }
}

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = match &self {
            ApiError::RateLimited { retry_after } => Some(*retry_after),
            ApiError::Op(Error::Busy) | ApiError::IdempotencyInProgress => Some(1),
            ApiError::Op(Error::Overloaded { retry_after }) => Some(retry_after.as_secs().max(1)),
            ApiError::Op(Error::HashingBusy(_)) => Some(1),
            ApiError::Op(Error::RateLimited { retry_after }) => {
                Some(retry_after.as_secs().max(1).unsigned_abs())
            }
            ApiError::Unauthenticated => None,
            _ => None,
        };
        let unauthenticated = matches!(self, ApiError::Unauthenticated);
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = retry {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if unauthenticated {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
