//! The one error model of the operations. Each kind is typed; each edge maps them once (an HTML
//! page in the console, a problem+json body in the API). Internal errors keep their source for
//! the log and are never shown.

use crate::db::DbError;
use crate::db::passwords::LinkError;
use crate::domain::{Action, InvalidValue, NotEnoughSeats, OrderId, OrderState, UserId};
use crate::imports::CsvError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist, or the caller may not see it (indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    #[error("not allowed: {0:?}")]
    Forbidden(Refusal),
    /// Input that does not parse, field by field.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    NoFreeSeats(NotEnoughSeats),
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("set-password link refused: {0}")]
    Link(LinkError),
    #[error("sign-in refused: {0:?}")]
    SignIn(super::accounts::SignInFailure),
    /// An uploaded file the imports cannot read, with what is wrong and where.
    #[error("unreadable file: {0}")]
    File(CsvError),
    /// Too much is happening at once; the same request may succeed in a moment.
    #[error("busy")]
    Busy,
    /// Every permit for heavy work (big files) is taken: try again after `retry_after`.
    #[error("overloaded: retry after {retry_after:?}")]
    Overloaded { retry_after: std::time::Duration },
    /// Every password-hashing slot stayed taken: the server is overloaded for a moment.
    #[error(transparent)]
    HashingBusy(#[from] crate::password::HashingBusy),
    /// Too many requests of this kind from this client or for this account.
    #[error("rate limited for {retry_after}")]
    RateLimited { retry_after: jiff::SignedDuration },
    /// The instance lacks a setting this needs; only the operator can give it.
    #[error("not configured: {0:?}")]
    NotConfigured(Setting),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why the caller may not do this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Their role may not take this action (DESIGN §10).
    Role(Action),
    /// The company is Managed: its partner runs it through manage mode.
    ManagedCompany,
    /// A manager may not deactivate or delete themselves.
    Yourself,
    /// The company would be left without an active manager.
    LastManager,
}

/// A setting of the instance an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `SEATLEDGER_SECRET_KEY`, which seals webhook signing secrets.
    SecretKey,
}

/// Why a change cannot be made in the current state of things.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// The email address already belongs to an account (where is not said).
    EmailInUse,
    /// The user already holds an active seat.
    SeatHeld(UserId),
    /// The order was already assigned, rejected or cancelled.
    OrderDecided(OrderState),
    /// The user is deactivated.
    Deactivated(UserId),
    /// The company already has a waiting request (this one): change or cancel it instead.
    RequestWaiting(OrderId),
    /// The instance already has its operator, with another email address.
    OperatorExists,
    /// The user set a password already: there is no invitation to send again.
    InvitationAccepted,
    /// The owner already has as many webhook endpoints as allowed.
    EndpointLimit(u32),
    /// The owner already holds as many unrevoked API keys as allowed.
    KeyLimit(u32),
    /// The company already keeps this many bytes of uploads (its quota) for up to a day.
    UploadQuota { limit: u64 },
}

/// One field that did not parse, named as the edge's input names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub problem: InvalidValue,
}

impl Error {
    /// One field's value refused: what an edge that reads a single field answers.
    pub fn invalid(field: &'static str, problem: InvalidValue) -> Self {
        Error::Invalid(vec![FieldError { field, problem }])
    }
}

/// Collects every field's problem while an edge parses its input, so all are reported at once.
#[derive(Debug, Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    /// The value of `field`, or `None` with its problem noted.
    pub fn take<T>(&mut self, field: &'static str, parsed: Result<T, InvalidValue>) -> Option<T> {
        parsed
            .map_err(|problem| self.errors.push(FieldError { field, problem }))
            .ok()
    }

    /// Notes a problem found by a check across fields.
    pub fn refuse(&mut self, field: &'static str, problem: InvalidValue) {
        self.errors.push(FieldError { field, problem });
    }

    /// The parsed values when every field parsed: `values` assembles them from the fields'
    /// `Option`s (e.g. `|| Some((name?, email?))`).
    pub fn finish<T>(self, values: impl FnOnce() -> Option<T>) -> Result<T, Error> {
        if !self.errors.is_empty() {
            return Err(Error::Invalid(self.errors));
        }
        values().ok_or(Error::Invalid(Vec::new()))
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Error::NotFound,
            DbError::EmailTaken => Error::Conflict(Conflict::EmailInUse),
            DbError::SeatHeld(user) => Error::Conflict(Conflict::SeatHeld(user)),
            DbError::OrderDecided(state) => Error::Conflict(Conflict::OrderDecided(state)),
            DbError::NoFreeSeats(e) => Error::NoFreeSeats(e),
            DbError::LinkRefused(e) => Error::Link(e),
            DbError::Busy => Error::Busy,
            DbError::OperatorExists => Error::Conflict(Conflict::OperatorExists),
            other => Error::Internal(Box::new(other)),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        DbError::from(e).into()
    }
}
