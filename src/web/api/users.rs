//! `/api/v1/companies/{id}/users`: a company's users with their licence status, Add User,
//! Deactivate and Delete, through the same operations as the console's Users section.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::companies::id_in_path;
use super::input::{ApiJson, ApiQuery};
use super::pages::{self, PageQuery, page_type};
use super::problem::{ApiError, ApiResult, FieldProblem, Problem};
use crate::db::people::UserLine;
use crate::domain::api_keys::Permission;
use crate::domain::{CompanyId, Department, Email, LicenceStatus, PersonName, UserId};
use crate::imports::users::{self as user_rows, FileRefusal, RawUser, RefusedRow};
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

page_type!(
    /// One page of users, by id.
    UserPage of User
);

/// The 404 of every company-and-user route (users and licences).
pub(super) const NOT_FOUND: &str = "No such company or user, or not one this key may see";

/// List a company's users.
#[utoipa::path(
    get,
    operation_id = "listUsers",
    path = "/api/v1/companies/{id}/users",
    tag = "users",
    params(("id" = i64, Path, description = "The company's id"), PageQuery),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<UserPage>> {
    let caller = who.require(Permission::Read)?;
    let id = CompanyId(id_in_path(&id)?);
    let (after, limit) = pages::ask(query.limit, query.after.as_deref())?;
    let company = authorise(&state.ops, caller, id).await?;
    let page = user_ops::list(&state.ops, caller, &company, after.map(UserId), limit).await?;
    Ok(Json(pages::answer(page, |u| u.0, User::from).into()))
}

/// One user of a company.
#[utoipa::path(
    get,
    operation_id = "getUser",
    path = "/api/v1/companies/{id}/users/{user_id}",
    tag = "users",
    params(
        ("id" = i64, Path, description = "The company's id"),
        ("user_id" = i64, Path, description = "The user's id"),
    ),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path((company, user)): Path<(String, String)>,
) -> ApiResult<Json<User>> {
    let caller = who.require(Permission::Read)?;
    let company = CompanyId(id_in_path(&company)?);
    let user = UserId(id_in_path(&user)?);
    let company = authorise(&state.ops, caller, company).await?;
    Ok(Json(
        user_ops::get(&state.ops, caller, &company, user)
            .await?
            .into(),
    ))
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
        [(
            header::LOCATION,
            format!("/api/v1/companies/{id}/users/{}", added.user),
        )],
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

/// The most people one import names.
const MAX_IMPORT: usize = 1000;

/// A person to import, as a row of Import Users.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportedPerson {
    /// Any text: a person whose email is not one is reported, not refused.
    #[schema(example = "new.learner@echo.example")]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    department: String,
}

/// People to import as learners.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// 1 to 1,000 people, in order.
    #[schema(min_items = 1, max_items = 1000)]
    users: Vec<ImportedPerson>,
}

/// Why a person was not imported.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ImportRefusal {
    NotAnEmail,
    /// The same address as an earlier person of the list (`duplicate_of`).
    Duplicate,
    /// The address already belongs to an account (where is not said).
    EmailInUse,
}

/// Why a person was not imported, with the earlier person a duplicate repeats.
#[derive(Clone, Copy, Debug)]
enum ImportProblem {
    NotAnEmail,
    Duplicate { first: u64 },
    EmailInUse,
}

impl From<ImportProblem> for ImportRefusal {
    fn from(p: ImportProblem) -> Self {
        match p {
            ImportProblem::NotAnEmail => ImportRefusal::NotAnEmail,
            ImportProblem::Duplicate { .. } => ImportRefusal::Duplicate,
            ImportProblem::EmailInUse => ImportRefusal::EmailInUse,
        }
    }
}

/// What happened to one person of the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRow {
    /// Their position in `users` (from 0).
    index: u64,
    email: String,
    /// The new user; null when refused.
    #[schema(required = true)]
    user_id: Option<i64>,
    /// Why they were refused; null when created.
    #[schema(required = true)]
    problem: Option<ImportRefusal>,
    /// For a duplicate: the index of the first person with the address.
    #[schema(required = true)]
    duplicate_of: Option<u64>,
    /// The refusal in words; null when created.
    #[schema(required = true)]
    detail: Option<String>,
}

/// What Import Users did: good people are created whatever the bad ones.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    created: usize,
    refused: usize,
    /// How many new learners got a free seat (the first ones, while seats lasted).
    seated: usize,
    /// Every person of the list, in order.
    rows: Vec<ImportRow>,
}

/// A person refused by `problem`, as the report says it.
fn refused(index: u64, email: &str, problem: ImportProblem) -> ImportRow {
    let (duplicate_of, detail) = match problem {
        ImportProblem::NotAnEmail => (None, "not an email".to_owned()),
        ImportProblem::Duplicate { first } => (Some(first), format!("duplicate of users[{first}]")),
        ImportProblem::EmailInUse => (None, "address already in use".to_owned()),
    };
    ImportRow {
        index,
        email: email.to_owned(),
        user_id: None,
        problem: Some(problem.into()),
        duplicate_of,
        detail: Some(detail),
    }
}

/// A person the list itself refuses (their `line` is their index).
fn refused_in_list(row: &RefusedRow, people: &[ImportedPerson]) -> ImportRow {
    let email = people
        .get(row.line as usize)
        .map_or("", |p| p.email.as_str());
    let problem = match row.refusal {
        FileRefusal::NotAnEmail => ImportProblem::NotAnEmail,
        FileRefusal::DuplicateOf(first) => ImportProblem::Duplicate { first },
    };
    refused(row.line, email, problem)
}

/// Import users: each person becomes a learner unless their row is refused (not an email, a
/// duplicate of an earlier person, an address already in use), with the same rules as the
/// console's Import Users; every person gets a line of the report. New learners get free seats
/// while they last.
#[utoipa::path(
    post,
    operation_id = "importUsers",
    path = "/api/v1/companies/{id}/users/import",
    tag = "users",
    params(("id" = i64, Path, description = "The company's id")),
    request_body = ImportBody,
    responses(
        (status = 200, description = "The report, row by row", body = ImportReport),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ImportBody>,
) -> ApiResult<Json<ImportReport>> {
    let caller = who.require(Permission::Write)?;
    let id = CompanyId(id_in_path(&id)?);
    let count = body.users.len();
    if count == 0 || count > MAX_IMPORT {
        return Err(ApiError::Malformed(vec![FieldProblem {
            field: "users".into(),
            code: "out-of-range".into(),
            detail: format!("name between 1 and {MAX_IMPORT} people, not {count}"),
        }]));
    }
    let company = authorise(&state.ops, caller, id).await?;
    let raw = body.users.iter().zip(0..).map(|(p, index)| RawUser {
        line: index,
        email: &p.email,
        first_name: &p.first_name,
        last_name: &p.last_name,
        department: &p.department,
    });
    let checked = user_rows::check(raw);
    let outcome = user_ops::import(&state.ops, caller, &company, &checked.good).await?;
    let in_list = checked
        .refused
        .iter()
        .map(|r| refused_in_list(r, &body.users));
    // Storage refuses only addresses already in use.
    let in_use = outcome
        .rejected
        .iter()
        .map(|r| refused(r.line, &r.value, ImportProblem::EmailInUse));
    let mut rows: Vec<ImportRow> = in_list.chain(in_use).collect();
    let refused = rows.len();
    rows.extend(outcome.created.iter().map(|&(index, user)| ImportRow {
        index,
        email: body.users[index as usize].email.clone(),
        user_id: Some(user.0),
        problem: None,
        duplicate_of: None,
        detail: None,
    }));
    rows.sort_by_key(|r| r.index);
    Ok(Json(ImportReport {
        created: outcome.created.len(),
        refused,
        seated: outcome.seated,
        rows,
    }))
}
