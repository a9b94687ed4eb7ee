//! `/api/v1/companies`: the Company section as JSON (list with status and name filters, one
//! company), Create Company and Edit Company, through the same operations as the console.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::input::{ApiJson, ApiQuery};
use super::pages::{self, page_type};
use super::problem::{ApiError, ApiResult};
use crate::db::companies::{CompanyCursor, CompanyFilter, CompanyRow, StatusFilter};
use crate::domain::api_keys::Permission;
use crate::domain::{
    CompanyId, CompanyStatus, Country, NameSearch, OrderKind, OrgName, SeatCount, TimeZoneName,
    UserId,
};
use crate::ops::companies::{self as company_ops, CompanyDraft, Start};
use crate::ops::{Error, Fields};
use crate::web::AppState;

/// A company's status (DESIGN §2).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    FreeTrial,
    Premium,
    Expired,
}

/// A customer company, as the Company section shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Company {
    id: i64,
    name: String,
    /// The partner the company belongs to.
    partner: String,
    time_zone: String,
    status: Status,
    /// While on a free trial: when it ends.
    #[schema(required = true, format = DateTime)]
    trial_ends_at: Option<String>,
    /// While Premium: when the last active batch expires.
    #[schema(required = true, format = DateTime)]
    licensed_until: Option<String>,
    /// While Expired: since when.
    #[schema(required = true, format = DateTime)]
    expired_since: Option<String>,
    /// Run by its partner (an active Managed batch).
    managed: bool,
    seats_used: i64,
    seats_total: i64,
    learners: i64,
    #[schema(required = true)]
    account_manager: Option<String>,
}

impl From<CompanyRow> for Company {
    fn from(row: CompanyRow) -> Self {
        let (status, trial, licensed, expired) = match row.status {
            CompanyStatus::FreeTrial { ends_at } => (Status::FreeTrial, Some(ends_at), None, None),
            CompanyStatus::Premium { until } => (Status::Premium, None, Some(until), None),
            CompanyStatus::Expired { since } => (Status::Expired, None, None, Some(since)),
        };
        let text = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string());
        Company {
            id: row.id.0,
            name: row.name,
            partner: row.partner_name,
            time_zone: row.time_zone,
            status,
            trial_ends_at: text(trial),
            licensed_until: text(licensed),
            expired_since: text(expired),
            managed: row.managed,
            seats_used: row.seats_used,
            seats_total: row.seats_total,
            learners: row.learners,
            account_manager: row.account_manager,
        }
    }
}

page_type!(
    /// One page of companies, in name order.
    CompanyPage of Company
);

/// Which companies to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompanyQuery {
    /// Only companies in this status.
    status: Option<Status>,
    /// Only companies whose name contains this text (any case). Blank keeps every company; a
    /// text holding a control character, which no name holds, is refused (422).
    #[param(max_length = 200)]
    name: Option<String>,
    /// How many companies per page (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next` of the previous page.
    #[param(max_length = 600)]
    after: Option<String>,
}

/// List the companies this key may see.
#[utoipa::path(
    get,
    operation_id = "listCompanies",
    path = "/api/v1/companies",
    tag = "companies",
    params(CompanyQuery),
    responses((status = 200, description = "One page of companies", body = CompanyPage))
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    ApiQuery(query): ApiQuery<CompanyQuery>,
) -> ApiResult<Json<CompanyPage>> {
    let caller = who.require(Permission::Read)?;
    let (after, limit) = pages::ask(query.limit, query.after.as_deref())?;
    let after = after.map(|(name, id): (String, i64)| CompanyCursor {
        name,
        id: CompanyId(id),
    });
    let filter = CompanyFilter {
        status: query.status.map(|s| match s {
            Status::FreeTrial => StatusFilter::FreeTrial,
            Status::Premium => StatusFilter::Premium,
            Status::Expired => StatusFilter::Expired,
        }),
        name: search(query.name.as_deref())?,
    };
    let page = company_ops::list(&state.ops, caller, &filter, after.as_ref(), limit).await?;
    let key = |c: CompanyCursor| (c.name, c.id.0);
    Ok(Json(pages::answer(page, key, Company::from).into()))
}

/// The `name` a list searches for, refused when it holds what no name can.
fn search(raw: Option<&str>) -> ApiResult<Option<NameSearch>> {
    let search = raw.map(NameSearch::parse_filter).transpose();
    let search = search.map_err(|problem| ApiError::Op(Error::invalid("name", problem)))?;
    Ok(search.flatten())
}

/// A company's id from its path: anything else names no company.
pub(super) fn id_in_path(raw: &str) -> ApiResult<i64> {
    raw.parse()
        .ok()
        .filter(|&id: &i64| id > 0)
        .ok_or(ApiError::Op(Error::NotFound))
}

/// One company.
#[utoipa::path(
    get,
    operation_id = "getCompany",
    path = "/api/v1/companies/{id}",
    tag = "companies",
    params(("id" = i64, Path, description = "The company's id")),
    responses(
        (status = 200, description = "The company", body = Company),
        (status = 404, description = "No such company, or not one this key may see", body = super::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Company>> {
    let caller = who.require(Permission::Read)?;
    let id = CompanyId(id_in_path(&id)?);
    Ok(Json(company_ops::get(&state.ops, caller, id).await?.into()))
}

/// A company as Create and Edit take it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyBody {
    #[schema(example = "Acme Ltd", max_length = 200)]
    name: String,
    #[serde(default)]
    #[schema(example = "GB", max_length = 100)]
    country: String,
    /// An IANA time zone name.
    #[schema(example = "Europe/London")]
    time_zone: String,
    /// A user of the owning partner, who hears of the company's licence requests.
    #[serde(default)]
    account_manager_id: Option<i64>,
}

/// Licences to assign at once instead of a free trial.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Licences {
    kind: Kind,
    #[schema(minimum = 1, maximum = 100000)]
    quantity: i64,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Premium,
    Managed,
}

impl From<Kind> for OrderKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Premium => OrderKind::Premium,
            Kind::Managed => OrderKind::Managed,
        }
    }
}

/// A company to create: on the partner's free trial, or with licences at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompanyBody {
    #[schema(example = "Acme Ltd", max_length = 200)]
    name: String,
    #[serde(default)]
    #[schema(example = "GB", max_length = 100)]
    country: String,
    /// An IANA time zone name.
    #[schema(example = "Europe/London")]
    time_zone: String,
    #[serde(default)]
    account_manager_id: Option<i64>,
    /// Licences to assign at once; without them the company starts on a free trial.
    #[serde(default)]
    licences: Option<Licences>,
}

fn draft(body: CompanyBody, fields: &mut Fields) -> Option<CompanyDraft> {
    let name = fields.take("name", OrgName::parse(&body.name));
    let country = fields.take("country", Country::parse(&body.country));
    let time_zone = fields.take("time_zone", TimeZoneName::parse(&body.time_zone));
    Some(CompanyDraft {
        name: name?,
        country: country?,
        time_zone: time_zone?,
        account_manager: body.account_manager_id.map(UserId),
    })
}

/// Create a company beneath the key's partner.
#[utoipa::path(
    post,
    operation_id = "createCompany",
    path = "/api/v1/companies",
    tag = "companies",
    request_body = NewCompanyBody,
    responses(
        (status = 201, description = "Created", body = Company,
            headers(("Location" = String, description = "The new company"))),
        (status = 404, description = "This key's owner cannot own companies", body = super::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    ApiJson(body): ApiJson<NewCompanyBody>,
) -> ApiResult<Response> {
    let caller = who.require(Permission::Write)?;
    let mut fields = Fields::default();
    let company = CompanyBody {
        name: body.name,
        country: body.country,
        time_zone: body.time_zone,
        account_manager_id: body.account_manager_id,
    };
    let draft = draft(company, &mut fields);
    let start = match body.licences {
        None => Some(Start::Trial),
        Some(l) => fields
            .take("licences.quantity", SeatCount::new(l.quantity))
            .map(|quantity| Start::Licensed {
                kind: l.kind.into(),
                quantity,
            }),
    };
    let (draft, start) = fields.finish(|| Some((draft?, start?)))?;
    let id = company_ops::create(&state.ops, caller, &draft, start).await?;
    let company: Company = company_ops::get(&state.ops, caller, id).await?.into();
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/companies/{id}"))],
        Json(company),
    )
        .into_response())
}

/// Edit a company: every field is replaced.
#[utoipa::path(
    put,
    operation_id = "updateCompany",
    path = "/api/v1/companies/{id}",
    tag = "companies",
    params(("id" = i64, Path, description = "The company's id")),
    request_body = CompanyBody,
    responses(
        (status = 200, description = "The company as edited", body = Company),
        (status = 404, description = "No such company, or not one this key may see", body = super::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CompanyBody>,
) -> ApiResult<Json<Company>> {
    let caller = who.require(Permission::Write)?;
    let id = CompanyId(id_in_path(&id)?);
    let mut fields = Fields::default();
    let draft = draft(body, &mut fields);
    let draft = fields.finish(|| draft)?;
    let company = crate::ops::authorise(&state.ops, caller, id).await?;
    company_ops::edit(&state.ops, caller, &company, &draft).await?;
    Ok(Json(company_ops::get(&state.ops, caller, id).await?.into()))
}
