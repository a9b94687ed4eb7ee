//! The company's Licenses section: the Available, Allocated, Expiring, Expired Licenses and
//! Orders tabs; Allocate Licenses (ticked learners or Select All); Import Licence Renewal.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::company::{OrderLine, order_lines};
use super::layout::{Layout, PageResult, render};
use super::session::{Area, CsrfToken, SignedIn};
use super::{AppState, PageError};
use crate::db::licences::{
    self, AllocatedSeat, AvailableBatch, ExpiredLearner, LicenceCounts, RenewalError, RenewalReview,
};
use crate::db::{DbError, orders, seats, uploads};
use crate::domain::{OrderId, UserId};
use crate::format::date;
use crate::imports::renewal::RowOutcome;
use crate::imports::{MAX_BYTES, csv_table};

const PAGE: u32 = 50;
/// How many not-renewed rows the preview shows; the report has them all.
const PREVIEW_ROWS: usize = 50;

#[derive(Template)]
#[template(path = "company_licenses.html")]
struct LicensesPage {
    layout: Layout,
    tab: &'static str,
    counts: LicenceCounts,
    on_trial: bool,
    requested: Option<OrderId>,
    notice: Option<String>,
    error: Option<String>,
    available: Vec<(AvailableBatch, String, String)>,
    seats: Vec<(AllocatedSeat, String)>,
    expired: Vec<(ExpiredLearner, String)>,
    orders: Vec<OrderLine>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct LicensesQuery {
    #[serde(default)]
    tab: String,
    requested: Option<i64>,
    allocated: Option<usize>,
    renewed: Option<usize>,
    after: Option<i64>,
}

/// Renders a tab of the Licenses section, optionally with an error (status 409).
async fn licenses_page(
    state: &AppState,
    who: &SignedIn,
    csrf: &CsrfToken,
    query: LicensesQuery,
    error: Option<String>,
) -> PageResult {
    let company = who.company()?;
    let scope = who.scope();
    let now = state.clock.now();
    let tz = company.time_zone.as_str();
    let counts = licences::counts(&state.db, &scope, company.id, now).await?;
    let tab = match query.tab.as_str() {
        "available" => "available",
        "allocated" => "allocated",
        "expiring" => "expiring",
        "expired" => "expired",
        _ => "orders",
    };
    let mut page = LicensesPage {
        layout: Layout::signed_in("Licenses", csrf, who, "/company/licenses"),
        tab,
        counts,
        on_trial: company.facts.on_trial(now),
        requested: query.requested.map(OrderId),
        notice: match (query.allocated, query.renewed) {
            (Some(n), _) => Some(format!(
                "Licences allocated to {n} learners. They can sign in now."
            )),
            (_, Some(n)) => Some(format!("Renewed the licences of {n} learners.")),
            _ => None,
        },
        error,
        available: Vec::new(),
        seats: Vec::new(),
        expired: Vec::new(),
        orders: Vec::new(),
        next: None,
    };
    let next = |after: String| Some(format!("/company/licenses?tab={tab}&after={after}"));
    match tab {
        "available" => {
            page.available = licences::available(&state.db, &scope, company.id, now)
                .await?
                .into_iter()
                .map(|b| {
                    let (assigned, expires) = (date(b.assigned_at, tz), date(b.expires_at, tz));
                    (b, assigned, expires)
                })
                .collect();
        }
        "allocated" | "expiring" => {
            let list = licences::allocated(
                &state.db,
                &scope,
                company.id,
                tab == "expiring",
                query.after,
                PAGE,
                now,
            )
            .await?;
            page.next = list.next.and_then(|s| next(s.to_string()));
            page.seats = list
                .items
                .into_iter()
                .map(|s| {
                    let expires = date(s.expires_at, tz);
                    (s, expires)
                })
                .collect();
        }
        "expired" => {
            let list = licences::expired(
                &state.db,
                &scope,
                company.id,
                query.after.map(UserId),
                PAGE,
                now,
            )
            .await?;
            page.next = list.next.and_then(|u| next(u.to_string()));
            page.expired = list
                .items
                .into_iter()
                .map(|l| {
                    let ended = crate::format::licence(l.licence, tz);
                    (l, ended)
                })
                .collect();
        }
        _ => {
            let list = orders::for_company(&state.db, &scope, company.id, None, None, PAGE).await?;
            page.orders = order_lines(list.items, tz);
        }
    }
    let status = if page.error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok((status, render(page)?).into_response())
}

pub(super) async fn licenses(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<LicensesQuery>,
) -> PageResult {
    who.enter(Area::Company)?;
    licenses_page(&state, &who, &csrf, query, None).await
}

/// Allocate Licenses: the ticked learners (`user` fields), or with `all` every expired learner
/// of the company. More learners than free seats allocates nothing and says both numbers.
pub(super) async fn allocate(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    body: Bytes,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.company()?;
    let scope = who.scope();
    let now = state.clock.now();
    let mut select_all = false;
    let mut users = Vec::new();
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "all" => select_all = value == "true",
            "user" => users.push(UserId(value.parse().map_err(|_| PageError::NotFound)?)),
            _ => {}
        }
    }
    if select_all {
        users = licences::expired_ids(&state.db, &scope, company.id, now).await?;
    }
    let expired_tab = || LicensesQuery {
        tab: "expired".into(),
        ..LicensesQuery::default()
    };
    if users.is_empty() {
        let error = "Tick the learners to allocate licences to, or Select All.".to_owned();
        return licenses_page(&state, &who, &csrf, expired_tab(), Some(error)).await;
    }
    match seats::allocate(&state.db, &scope, company.id, &users, who.actor(), now).await {
        Ok(()) => Ok(Redirect::to(&format!(
            "/company/licenses?tab=expired&allocated={}",
            users.len()
        ))
        .into_response()),
        Err(DbError::NoFreeSeats(e)) => {
            licenses_page(
                &state,
                &who,
                &csrf,
                expired_tab(),
                Some(format!("Nothing was allocated: {e}.")),
            )
            .await
        }
        Err(DbError::Conflict(m)) => {
            licenses_page(
                &state,
                &who,
                &csrf,
                expired_tab(),
                Some(format!("Nothing was allocated: {m}.")),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "renewal_upload.html")]
struct UploadPage {
    layout: Layout,
    error: Option<String>,
}

pub(super) async fn renewal_form(who: SignedIn, csrf: CsrfToken) -> PageResult {
    who.enter(Area::Company)?;
    who.company()?;
    render(UploadPage {
        layout: Layout::signed_in("Import Licence Renewal", &csrf, &who, "/company/licenses"),
        error: None,
    })
}

/// Reads the `file` part of an upload, refusing more than 20 MB without reading further.
async fn read_upload(mut multipart: Multipart) -> Result<(String, Vec<u8>), String> {
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("The upload could not be read: {e}."))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .unwrap_or("upload.csv")
            .chars()
            .take(200)
            .collect();
        let mut bytes = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| format!("The upload could not be read: {e}."))?
        {
            if bytes.len() + chunk.len() > MAX_BYTES {
                return Err(
                    "File: the file is larger than 20 MB; split it into smaller files.".into(),
                );
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
    Err("File: choose a CSV file to upload.".into())
}

/// Reads, checks and keeps an uploaded CSV file for the caller's company. The outer error is a
/// failure; the inner one says what is wrong with the file, for the upload page.
pub(super) async fn keep_upload(
    state: &AppState,
    who: &SignedIn,
    multipart: Multipart,
    purpose: &str,
) -> Result<Result<i64, String>, PageError> {
    let company = who.company()?;
    let (name, bytes) = match read_upload(multipart).await {
        Ok(upload) => upload,
        Err(error) => return Ok(Err(error)),
    };
    let text = match csv_table::decode(&bytes).and_then(|text| csv_table::parse(text).map(|_| text))
    {
        Ok(text) => text,
        Err(e) => return Ok(Err(format!("File: {e}."))),
    };
    let id = uploads::store(
        &state.db,
        company.id,
        purpose,
        &name,
        text,
        who.user.id,
        state.clock.now(),
    )
    .await?;
    Ok(Ok(id))
}

pub(super) async fn upload_renewal(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    multipart: Multipart,
) -> PageResult {
    who.enter(Area::Company)?;
    match keep_upload(&state, &who, multipart, "renewal").await? {
        Ok(id) => Ok(Redirect::to(&format!("/company/licenses/renewal/{id}")).into_response()),
        Err(error) => {
            let page = UploadPage {
                layout: Layout::signed_in(
                    "Import Licence Renewal",
                    &csrf,
                    &who,
                    "/company/licenses",
                ),
                error: Some(error),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "renewal_preview.html")]
struct PreviewPage {
    layout: Layout,
    id: i64,
    review: RenewalReview,
    renewable: usize,
    not_renewed: Vec<(u64, String, String)>,
    not_renewed_count: usize,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ColumnQuery {
    column: Option<usize>,
}

fn renewal_error(e: RenewalError) -> PageError {
    match e {
        RenewalError::Db(e) => e.into(),
        other => PageError::Conflict(other.to_string()),
    }
}

fn preview_page(
    who: &SignedIn,
    csrf: &CsrfToken,
    id: i64,
    review: RenewalReview,
    error: Option<String>,
) -> PageResult {
    let not_renewed: Vec<(u64, String, String)> = review
        .rows
        .iter()
        .filter_map(|r| {
            r.outcome
                .reason()
                .map(|reason| (r.line, r.value.clone(), reason))
        })
        .collect();
    let page = PreviewPage {
        layout: Layout::signed_in("Import Licence Renewal", csrf, who, "/company/licenses"),
        id,
        renewable: review.renewable(),
        not_renewed_count: not_renewed.len(),
        not_renewed: not_renewed.into_iter().take(PREVIEW_ROWS).collect(),
        review,
        error,
    };
    let status = if page.error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok((status, render(page)?).into_response())
}

/// What the uploaded file `id` would do now, read with the email in `column`.
async fn review(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    column: Option<usize>,
) -> Result<RenewalReview, PageError> {
    let company = who.company()?;
    licences::renewal(
        &state.db,
        &who.scope(),
        company.id,
        id,
        column,
        None,
        state.clock.now(),
    )
    .await
    .map_err(renewal_error)
}

/// The preview: how many learners will be renewed, and every row that will not, with why.
pub(super) async fn renewal_preview(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    Query(query): Query<ColumnQuery>,
) -> PageResult {
    who.enter(Area::Company)?;
    let review = review(&state, &who, id, query.column).await?;
    preview_page(&who, &csrf, id, review, None)
}

/// The whole report as CSV: every row's line, value and outcome.
pub(super) async fn renewal_report(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Query(query): Query<ColumnQuery>,
) -> PageResult {
    who.enter(Area::Company)?;
    let review = review(&state, &who, id, query.column).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = ["line", review.headers[review.column].as_str(), "outcome"];
    writer
        .write_record(header)
        .map_err(|e| PageError::Internal(e.to_string()))?;
    for row in &review.rows {
        let outcome = match &row.outcome {
            RowOutcome::Renew(_) => "will be renewed".to_owned(),
            other => other.reason().unwrap_or_default(),
        };
        writer
            .write_record([
                row.line.to_string().as_str(),
                row.value.as_str(),
                outcome.as_str(),
            ])
            .map_err(|e| PageError::Internal(e.to_string()))?;
    }
    let body = writer
        .into_inner()
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"renewal-report-{id}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub(super) struct ApplyForm {
    column: usize,
}

/// Renew Licences: all renewable learners in one transaction, or none with the reason.
pub(super) async fn apply_renewal(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<ApplyForm>,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.company()?;
    match licences::renewal(
        &state.db,
        &who.scope(),
        company.id,
        id,
        Some(form.column),
        Some(who.actor()),
        state.clock.now(),
    )
    .await
    {
        Ok(review) => Ok(Redirect::to(&format!(
            "/company/licenses?tab=allocated&renewed={}",
            review.renewable()
        ))
        .into_response()),
        Err(RenewalError::Db(DbError::NoFreeSeats(e))) => {
            let review = review(&state, &who, id, Some(form.column)).await?;
            preview_page(
                &who,
                &csrf,
                id,
                review,
                Some(format!("Nothing was renewed: {e}.")),
            )
        }
        Err(e) => Err(renewal_error(e)),
    }
}
