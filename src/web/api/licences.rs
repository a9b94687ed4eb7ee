//! A company's licences: its batches (first-expiring-first), Allocate Licenses for a list of
//! learners (all or nothing, refused with both numbers when seats are short), releasing a
//! learner's seat, and renewals by a list of emails (dry run or apply), through the same
//! operations as the console's Licenses section and Import Licence Renewal.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::companies::{Kind, id_in_path};
use super::input::{ApiJson, ApiQuery};
use super::pages::{self, PageQuery, page_type};
use super::problem::{ApiError, ApiResult, FieldProblem, Problem};
use super::users::NOT_FOUND;
use crate::db::licences::{BatchCursor, BatchRow};
use crate::domain::api_keys::Permission;
use crate::domain::{BatchId, CompanyId, OrderKind, UserId};
use crate::imports::renewal::RowOutcome;
use crate::ops::renewal::{self, RenewalReview, Renewing};
use crate::ops::seats::{self as seat_ops, Learners};
use crate::ops::{Error, authorise};
use crate::web::AppState;

/// A batch of seats (DESIGN §2): valid 12 months from its assignment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Batch {
    id: i64,
    /// The order it was assigned from; null for NFR seats and licences given at creation.
    #[schema(required = true)]
    order_id: Option<i64>,
    kind: Kind,
    /// A partner's not-for-resale seats, which never expire.
    nfr: bool,
    quantity: i64,
    allocated: i64,
    /// Seats that may still be allocated: none once the batch has expired.
    free: i64,
    expired: bool,
    #[schema(format = DateTime)]
    assigned_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

impl Batch {
    fn at(b: BatchRow, now: jiff::Timestamp) -> Self {
        let expired = b.expires_at <= now;
        Batch {
            id: b.id.0,
            order_id: b.order.map(|o| o.0),
            kind: match b.kind {
                OrderKind::Premium => Kind::Premium,
                OrderKind::Managed => Kind::Managed,
            },
            nfr: b.nfr,
            quantity: b.quantity,
            allocated: b.allocated,
            free: if expired { 0 } else { b.quantity - b.allocated },
            expired,
            assigned_at: b.assigned_at.to_string(),
            expires_at: b.expires_at.to_string(),
        }
    }
}

page_type!(
    /// One page of batches, first-expiring-first.
    BatchPage of Batch
);

/// List a company's batches of seats, valid or expired.
#[utoipa::path(
    get,
    operation_id = "listBatches",
    path = "/api/v1/companies/{id}/batches",
    tag = "licences",
    params(("id" = i64, Path, description = "The company's id"), PageQuery),
    responses(
        (status = 200, description = "One page of batches", body = BatchPage),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn batches(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<BatchPage>> {
    let caller = who.require(Permission::Read)?;
    let id = CompanyId(id_in_path(&id)?);
    let (after, limit) = pages::ask(query.limit, query.after.as_deref())?;
    let after = after.map(|(expires_at, id): (i64, i64)| BatchCursor {
        expires_at,
        id: BatchId(id),
    });
    let company = authorise(&state.ops, caller, id).await?;
    let page = seat_ops::batches(&state.ops, caller, &company, after, limit).await?;
    let now = state.ops.now();
    let key = |c: BatchCursor| (c.expires_at, c.id.0);
    Ok(Json(pages::answer(page, key, |b| Batch::at(b, now)).into()))
}

/// The most learners one allocation names.
const MAX_LEARNERS: usize = 10_000;

/// The learners to give a seat.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationBody {
    /// Learners of the company without an active licence (1 to 10,000; a repeat counts once).
    #[schema(min_items = 1, max_items = 10000)]
    user_ids: Vec<i64>,
}

/// What Allocate Licenses did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Allocated {
    /// How many learners got a seat.
    allocated: usize,
}

/// Allocate licences: one seat to each learner, first-expiring-first, all or nothing. More
/// learners than free seats allocates nothing (409 with `requested` and `free`).
#[utoipa::path(
    post,
    operation_id = "allocateLicences",
    path = "/api/v1/companies/{id}/allocations",
    tag = "licences",
    params(("id" = i64, Path, description = "The company's id")),
    request_body = AllocationBody,
    responses(
        (status = 200, description = "Every learner has a seat", body = Allocated),
        (status = 404, description = "No such company, or a learner not of it", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn allocate(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AllocationBody>,
) -> ApiResult<Json<Allocated>> {
    let caller = who.require(Permission::Write)?;
    let id = CompanyId(id_in_path(&id)?);
    let count = body.user_ids.len();
    if count == 0 || count > MAX_LEARNERS {
        return Err(ApiError::Malformed(vec![FieldProblem {
            field: "user_ids".into(),
            code: "out-of-range".into(),
            detail: format!("name between 1 and {MAX_LEARNERS} learners, not {count}"),
        }]));
    }
    let company = authorise(&state.ops, caller, id).await?;
    let learners = Learners::These(body.user_ids.into_iter().map(UserId).collect());
    let allocated = seat_ops::allocate(&state.ops, caller, &company, learners).await?;
    Ok(Json(Allocated { allocated }))
}

/// What releasing did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Released {
    /// Whether the learner held a seat (false: nothing changed).
    released: bool,
}

/// Release a learner's seat: it returns to its batch with the batch's remaining validity.
#[utoipa::path(
    post,
    operation_id = "releaseLicence",
    path = "/api/v1/companies/{id}/users/{user_id}/release",
    tag = "licences",
    params(
        ("id" = i64, Path, description = "The company's id"),
        ("user_id" = i64, Path, description = "The user's id"),
    ),
    responses(
        (status = 200, description = "The seat is free", body = Released),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn release(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path((company, user)): Path<(String, String)>,
) -> ApiResult<Json<Released>> {
    let caller = who.require(Permission::Write)?;
    let company = CompanyId(id_in_path(&company)?);
    let user = UserId(id_in_path(&user)?);
    let company = authorise(&state.ops, caller, company).await?;
    let released = seat_ops::release(&state.ops, caller, &company, user).await?;
    Ok(Json(Released { released }))
}

/// Learners to renew, as a renewal file's email column.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewalBody {
    /// 1 to 10,000 emails, in order; each is reported.
    #[schema(min_items = 1, max_items = 10000)]
    emails: Vec<String>,
    /// Only say what would happen: the console's preview. Default false.
    #[serde(default)]
    dry_run: bool,
}

/// What the renewal does with one email.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RenewalOutcome {
    Renew,
    NotAnEmail,
    /// The same address as an earlier email of the list (`duplicate_of`).
    Duplicate,
    UnknownEmail,
    AlreadyActive,
    Deactivated,
}

/// One email of the list and its fate.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenewalRow {
    /// Its position in `emails` (from 0).
    index: u64,
    email: String,
    outcome: RenewalOutcome,
    /// The learner renewed.
    #[schema(required = true)]
    user_id: Option<i64>,
    /// For a duplicate: the index of the first email with the address.
    #[schema(required = true)]
    duplicate_of: Option<u64>,
    /// Why the email is not renewed, in words; null for a renewal.
    #[schema(required = true)]
    detail: Option<String>,
}

/// What a renewal does (dry run) or did: the console's preview, row by row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenewalReport {
    dry_run: bool,
    /// Learners renewed (in a dry run: who would be).
    renewed: usize,
    /// Emails not renewed, each with its reason.
    not_renewed: usize,
    /// Seats free before the renewal.
    free_seats: i64,
    rows: Vec<RenewalRow>,
}

impl RenewalReport {
    fn of(review: RenewalReview, dry_run: bool) -> Self {
        let rows: Vec<RenewalRow> = review
            .rows
            .into_iter()
            .map(|row| {
                let detail = match row.outcome {
                    RowOutcome::Duplicate { first_line } => {
                        Some(format!("duplicate of emails[{first_line}]"))
                    }
                    ref other => other.reason(),
                };
                let (outcome, user_id, duplicate_of) = match row.outcome {
                    RowOutcome::Renew(user) => (RenewalOutcome::Renew, Some(user.0), None),
                    RowOutcome::NotAnEmail => (RenewalOutcome::NotAnEmail, None, None),
                    RowOutcome::Duplicate { first_line } => {
                        (RenewalOutcome::Duplicate, None, Some(first_line))
                    }
                    RowOutcome::UnknownEmail => (RenewalOutcome::UnknownEmail, None, None),
                    RowOutcome::AlreadyActive => (RenewalOutcome::AlreadyActive, None, None),
                    RowOutcome::Deactivated => (RenewalOutcome::Deactivated, None, None),
                };
                RenewalRow {
                    index: row.line,
                    email: row.value,
                    outcome,
                    user_id,
                    duplicate_of,
                    detail,
                }
            })
            .collect();
        let renewed = rows.iter().filter(|r| r.user_id.is_some()).count();
        RenewalReport {
            dry_run,
            renewed,
            not_renewed: rows.len() - renewed,
            free_seats: review.free_seats,
            rows,
        }
    }
}

/// Renew licences: each email of a learner without an active licence gets a seat; every other
/// email is reported with why (not an email, duplicate, unknown email, already active,
/// deactivated). With `dry_run` nothing changes and the report is the console's preview;
/// otherwise every renewable learner is renewed or none (409 with `requested` and `free` when
/// seats are short).
#[utoipa::path(
    post,
    operation_id = "renewLicences",
    path = "/api/v1/companies/{id}/renewals",
    tag = "licences",
    params(("id" = i64, Path, description = "The company's id")),
    request_body = RenewalBody,
    responses(
        (status = 200, description = "The report, email by email", body = RenewalReport),
        (status = 404, description = "No such company, or not one this key may see", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn renew(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RenewalBody>,
) -> ApiResult<Json<RenewalReport>> {
    let caller = who.require(Permission::Write)?;
    let id = CompanyId(id_in_path(&id)?);
    let company = authorise(&state.ops, caller, id).await?;
    let what = Renewing::Emails(body.emails);
    let review = if body.dry_run {
        renewal::preview(&state.ops, caller, &company, &what).await?
    } else {
        renewal::apply(&state.ops, caller, &company, &what)
            .await
            .map_err(|e| match e {
                Error::NoFreeSeats(short) => ApiError::NotEnoughSeats {
                    short,
                    undone: "renewed",
                },
                other => other.into(),
            })?
    };
    Ok(Json(RenewalReport::of(review, body.dry_run)))
}
