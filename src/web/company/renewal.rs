//! Import Licence Renewal: upload a CSV file, choose its email column, preview how many learners
//! it renews and every row it does not (with the whole report as CSV), then Renew Licences.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde::Deserialize;

use super::uploads::{self, UPLOAD_LIMIT};
use crate::domain::UploadId;
use crate::imports::export::CsvReport;
use crate::imports::renewal::RowOutcome;
use crate::ops::renewal::{self, RenewalReview};
use crate::ops::{Error, OpResult};
use crate::web::areas::CompanyArea;
use crate::web::layout::{Layout, PageResult, csv_download, render_with};
use crate::web::{AppState, BOTH, GET, Routes};

/// How many not-renewed rows the preview shows; the report has them all.
const PREVIEW_ROWS: usize = 50;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add(
            "/company/licenses/renewal",
            BOTH,
            get(upload_form)
                .post(upload)
                .layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .add(
            "/company/licenses/renewal/{id}",
            BOTH,
            get(preview).post(apply),
        )
        .add(
            "/company/licenses/renewal/{id}/report.csv",
            GET,
            get(report),
        )
}

async fn upload_form(area: CompanyArea) -> PageResult {
    uploads::form(&area, &uploads::RENEWAL, None)
}

async fn upload(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    multipart: Multipart,
) -> PageResult {
    uploads::upload(&state, &area, multipart, &uploads::RENEWAL).await
}

#[derive(Template)]
#[template(path = "renewal_preview.html")]
struct PreviewPage {
    layout: Layout,
    id: UploadId,
    review: RenewalReview,
    renewable: usize,
    not_renewed: Vec<(u64, String, String)>,
    not_renewed_count: usize,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ColumnQuery {
    column: Option<String>,
}

/// The column the preview reads: `None` for the likely one; a value that is not a column
/// number is refused like a column the file does not have.
fn column(raw: Option<&str>) -> OpResult<Option<usize>> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| {
            Error::Invalid(vec![crate::ops::FieldError {
                field: "column",
                problem: crate::domain::InvalidValue::NotANumber(raw.chars().take(40).collect()),
            }])
        }),
    }
}

fn preview_page(
    area: &CompanyArea,
    id: UploadId,
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
        layout: area.layout("Import Licence Renewal", "/company/licenses"),
        id,
        renewable: review.renewed().len(),
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
    render_with(status, page)
}

/// The preview: how many learners will be renewed, and every row that will not, with why.
async fn preview(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Path(id): Path<i64>,
    Query(query): Query<ColumnQuery>,
) -> PageResult {
    let id = UploadId(id);
    let column = column(query.column.as_deref())?;
    let review = renewal::preview(&state.ops, &area.caller, &area.company, id, column).await?;
    preview_page(&area, id, review, None)
}

/// The whole report as CSV: every row's line, value and outcome.
async fn report(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Path(id): Path<i64>,
    Query(query): Query<ColumnQuery>,
) -> PageResult {
    let column = column(query.column.as_deref())?;
    let review = renewal::preview(
        &state.ops,
        &area.caller,
        &area.company,
        UploadId(id),
        column,
    )
    .await?;
    let mut report = CsvReport::new();
    report.record(["line", review.headers[review.column].as_str(), "outcome"]);
    for row in &review.rows {
        let outcome = match &row.outcome {
            RowOutcome::Renew(_) => "will be renewed".to_owned(),
            other => other.reason().unwrap_or_default(),
        };
        let line = row.line.to_string();
        report.record([line.as_str(), row.value.as_str(), outcome.as_str()]);
    }
    let name = format!("renewal-report-{id}.csv");
    Ok(csv_download(&name, report.into_bytes()))
}

#[derive(Deserialize)]
struct ApplyForm {
    column: String,
}

/// Renew Licences: all renewable learners in one transaction, or none with the reason.
async fn apply(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Path(id): Path<i64>,
    Form(form): Form<ApplyForm>,
) -> PageResult {
    let id = UploadId(id);
    let column = column(Some(&form.column))?.unwrap_or_default();
    let (ops, caller, company) = (&state.ops, &area.caller, &area.company);
    let error = match renewal::apply(ops, caller, company, id, column).await {
        Ok(review) => {
            let to = format!(
                "/company/licenses?tab=allocated&renewed={}",
                review.renewed().len()
            );
            return Ok(Redirect::to(&to).into_response());
        }
        Err(Error::NoFreeSeats(e)) => format!("Nothing was renewed: {e}."),
        Err(Error::Busy) => {
            "Nothing was renewed: too many people are allocating seats at once; try again.".into()
        }
        Err(e) => return Err(e.into()),
    };
    let review = renewal::preview(ops, caller, company, id, Some(column)).await?;
    preview_page(&area, id, review, Some(error))
}
