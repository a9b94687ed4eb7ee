//! `/api/v1/companies/{id}/users`: a company's users with their licence status, Add User,
//! Deactivate and Delete, through the same operations as the console's Users section.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::companies::id_in_path;
use super::input::{ApiJson, ApiQuery};
use super::pages::{Cursor, limit};
use super::problem::{ApiResult, Problem};
use crate::db::people::UserLine;
use crate::domain::api_keys::Permission;
use crate::domain::{CompanyId, Department, Email, LicenceStatus, PersonName, UserId};
use crate::ops::users::{self as user_ops, NewPerson, Removal};
use crate::ops::{Fields, authorise};
use crate::web::AppState;

/// A user's licence, as the Users section shows it.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenceState {
    Active,
    Trial,
    Expired,
    AwaitingLicence,
}

/// A user of a company.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    id: i64,
    email: String,
    name: String,
    #[schema(required = true)]
    department: Option<String>,
    manager: bool,
    learner: bool,
    deactivated: bool,
    licence: LicenceState,
    /// While active: until when; once expired: since when.
    #[schema(required = true, format = DateTime)]
    licence_until: Option<String>,
}

impl From<UserLine> for User {
    fn from(u: UserLine) -> Self {
        let (licence, until) = match u.licence {
            LicenceStatus::Active { until, trial: true } => (LicenceState::Trial, Some(until)),
            LicenceStatus::Active { until, .. } => (LicenceState::Active, Some(until)),
            LicenceStatus::Expired { on } => (LicenceState::Expired, Some(on)),
            LicenceStatus::AwaitingLicence => (LicenceState::AwaitingLicence, None),
        };
        User {
            id: u.id.0,
            email: u.email,
            name: u.name,
            department: u.department.filter(|d| !d.is_empty()),
            manager: u.manager,
            learner: u.learner,
            deactivated: u.deactivated,
            licence,
            licence_until: until.map(|t| t.to_string()),
        }
    }
}

/// One page of users, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    items: Vec<User>,
    /// Pass as `after` for the next page; null on the last.
    #[schema(required = true)]
    next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// How many users per page (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next` of the previous page.
    #[param(max_length = 600)]
    after: Option<String>,
}

const NOT_FOUND: &str = "No such company or user, or not one this key may see";

/// List a company's users.
#[utoipa::path(
    get,
    operation_id = "listUsers",
    path = "/api/v1/companies/{id}/users",
    tag = "users",
    params(("id" = i64, Path, description = "The company's id"), UserQuery),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<UserQuery>,
) -> ApiResult<Json<UserPage>> {
    let caller = who.require(Permission::Read)?;
    let id = CompanyId(id_in_path(&id)?);
    let after = query
        .after
        .as_deref()
        .map(Cursor::<i64>::decode)
        .transpose()?
        .map(UserId);
    let limit = limit(query.limit)?;
    let company = authorise(&state.ops, caller, id).await?;
    let page = user_ops::list(&state.ops, caller, &company, after, limit).await?;
    Ok(Json(UserPage {
        items: page.items.into_iter().map(User::from).collect(),
        next: page.next.map(|u| Cursor::encode(&u.0)),
    }))
}

/// A user to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    #[schema(example = "new.learner@echo.example")]
    email: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    first_name: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    last_name: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    department: String,
    /// Administers the company (default false).
    #[serde(default)]
    manager: bool,
    /// Uses the product (default true).
    #[serde(default = "yes")]
    learner: bool,
}

fn yes() -> bool {
    true
}

/// What Add User did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddedUser {
    id: i64,
    /// Whether the new learner got a free seat (expired users never do).
    seated: bool,
}

/// Add a user: they get a welcome email; a new learner gets a free seat if there is one.
#[utoipa::path(
    post,
    operation_id = "createUser",
    path = "/api/v1/companies/{id}/users",
    tag = "users",
    params(("id" = i64, Path, description = "The company's id")),
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Added", body = AddedUser),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewUserBody>,
) -> ApiResult<Response> {
    let caller = who.require(Permission::Write)?;
    let id = CompanyId(id_in_path(&id)?);
    let mut fields = Fields::default();
    let email = fields.take("email", Email::parse(&body.email));
    let first_name = fields.take("first_name", PersonName::parse(&body.first_name));
    let last_name = fields.take("last_name", PersonName::parse(&body.last_name));
    let department = fields.take("department", Department::parse(&body.department));
    let person = fields.finish(|| {
        Some(NewPerson {
            email: email?,
            first_name: first_name?,
            last_name: last_name?,
            department: department.map(|d| Some(d).filter(|d| !d.as_str().is_empty()))?,
            manager: body.manager,
            learner: body.learner,
        })
    })?;
    let company = authorise(&state.ops, caller, id).await?;
    let added = user_ops::add(&state.ops, caller, &company, &person).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/companies/{id}/users"))],
        Json(AddedUser {
            id: added.user.0,
            seated: added.seated,
        }),
    )
        .into_response())
}

async fn remove(
    state: &AppState,
    who: &ApiCaller,
    (company, user): (String, String),
    removal: Removal,
) -> ApiResult<StatusCode> {
    let caller = who.require(Permission::Write)?;
    let company = CompanyId(id_in_path(&company)?);
    let user = UserId(id_in_path(&user)?);
    let company = authorise(&state.ops, caller, company).await?;
    user_ops::remove(&state.ops, caller, &company, user, removal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deactivate a user: they keep their history, cannot sign in, and their seat returns to its
/// batch.
#[utoipa::path(
    post,
    operation_id = "deactivateUser",
    path = "/api/v1/companies/{id}/users/{user_id}/deactivate",
    tag = "users",
    params(
        ("id" = i64, Path, description = "The company's id"),
        ("user_id" = i64, Path, description = "The user's id"),
    ),
    responses(
        (status = 204, description = "Deactivated"),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deactivate(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(ids): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    remove(&state, &who, ids, Removal::Deactivate).await
}

/// Delete a user: their row goes (the ledger keeps its events) and their seat returns to its
/// batch.
#[utoipa::path(
    delete,
    operation_id = "deleteUser",
    path = "/api/v1/companies/{id}/users/{user_id}",
    tag = "users",
    params(
        ("id" = i64, Path, description = "The company's id"),
        ("user_id" = i64, Path, description = "The user's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(ids): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    remove(&state, &who, ids, Removal::Delete).await
}
