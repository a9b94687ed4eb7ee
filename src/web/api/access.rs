//! `POST /api/v1/access-checks`: may this user use the product now (DESIGN §9).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::input::ApiJson;
use super::problem::{ApiError, ApiResult};
use crate::domain::Email;
use crate::domain::access::AccessCode;
use crate::domain::api_keys::Permission;
use crate::ops::access_checks;
use crate::web::AppState;

/// Whom to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessCheckRequest {
    /// The email address the user signs in to the product with.
    #[schema(example = "learner1@echo.example")]
    email: String,
}

/// Why the user may or may not use the product.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    Active,
    Trial,
    Expired,
    Deactivated,
    AwaitingLicence,
    Unknown,
}

impl From<AccessCode> for Code {
    fn from(code: AccessCode) -> Self {
        match code {
            AccessCode::Active => Code::Active,
            AccessCode::Trial => Code::Trial,
            AccessCode::Expired => Code::Expired,
            AccessCode::Deactivated => Code::Deactivated,
            AccessCode::AwaitingLicence => Code::AwaitingLicence,
            AccessCode::Unknown => Code::Unknown,
        }
    }
}

/// A company, named.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CompanyRef {
    pub id: i64,
    pub name: String,
}

/// The answer: an unknown or expired user is not an error but `allowed: false` with its code.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessCheck {
    allowed: bool,
    code: Code,
    /// When the access ends (RFC 3339, UTC) while it is allowed.
    #[schema(required = true, format = DateTime)]
    until: Option<String>,
    /// The user's company, when the user is known.
    #[schema(required = true)]
    company: Option<CompanyRef>,
}

/// Check whether a user may sign in to the product now, and until when.
///
/// The product calls this at every learner login. A partner key sees only the users of the
/// companies beneath its partner, a company key only its company's: anyone else is `unknown`.
#[utoipa::path(
    post,
    operation_id = "checkAccess",
    path = "/api/v1/access-checks",
    tag = "access",
    request_body = AccessCheckRequest,
    responses(
        (status = 200, description = "The answer, whether or not the user may sign in", body = AccessCheck),
    )
)]
pub async fn check(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    ApiJson(request): ApiJson<AccessCheckRequest>,
) -> ApiResult<Json<AccessCheck>> {
    let caller = who.require(Permission::AccessCheck)?;
    let email = Email::parse(&request.email)
        .map_err(|problem| ApiError::Op(crate::ops::Error::invalid("email", problem)))?;
    let answer = access_checks::check(&state.ops, caller, &email).await?;
    Ok(Json(AccessCheck {
        allowed: answer.access.allowed,
        code: answer.access.code.into(),
        until: answer.access.until.map(|t| t.to_string()),
        company: answer
            .company
            .map(|(id, name)| CompanyRef { id: id.0, name }),
    }))
}
