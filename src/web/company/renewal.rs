//! Import Licence Renewal: upload a CSV file, choose its email column, preview how many learners
//! it renews and every row it does not (with the whole report as CSV), then Renew Licences.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;

use super::uploads::{self, UPLOAD_LIMIT};
use crate::domain::UploadId;
use crate::imports::export::CsvReport;
use crate::imports::renewal::RowOutcome;
use crate::ops::renewal::{self, RenewalReview, Renewing, ReviewedFile};
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
    file: ReviewedFile,
    review: RenewalReview,
    renewable: usize,
    not_renewed: Vec<(u64, String, String)>,
    not_renewed_count: usize,
    /// This page of the learners who will be renewed: (line, email).
    renewed: Vec<(u64, String)>,
    renewed_position: String,
    renewed_previous: Option<String>,
    renewed_next: Option<String>,
    windows_1252: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ColumnQuery {
    column: Option<String>,
    /// The first row of the page of learners who will be renewed (0-based).
    from: Option<usize>,
}

/// Learners listed per page of the preview's "will be renewed".
const RENEWED_PAGE: usize = 50;

/// The column the preview reads: `None` for the likely one; a value that is not a column
/// number is refused like a column the file does not have.
fn column(raw: Option<&str>) -> OpResult<Option<usize>> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| {
            let number = crate::domain::InvalidValue::NotANumber(raw.chars().take(40).collect());
            Error::invalid("column", number)
        }),
    }
}

fn preview_page(
    area: &CompanyArea,
    id: UploadId,
    review: RenewalReview,
    from: usize,
    error: Option<String>,
) -> PageResult {
    let file = uploaded(&review)?;
    // The file's rows are already in memory (bounded by the upload limits); a page of them shows.
    let renewing: Vec<(u64, String)> = review
        .rows
        .iter()
        .filter(|r| matches!(r.outcome, crate::imports::renewal::RowOutcome::Renew(_)))
        .map(|r| (r.line, r.value.clone()))
        .collect();
    let total = renewing.len();
    let from = if from < total { from } else { 0 };
    let link = |at: usize| {
        format!(
            "/company/licenses/renewal/{id}?column={}&from={at}#renewed",
            file.column
        )
    };
    let renewed_previous = (from > 0).then(|| link(from.saturating_sub(RENEWED_PAGE)));
    let renewed_next = (from + RENEWED_PAGE < total).then(|| link(from + RENEWED_PAGE));
    let renewed: Vec<(u64, String)> = renewing.into_iter().skip(from).take(RENEWED_PAGE).collect();
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
        file,
        renewable: review.renewed().len(),
        not_renewed_count: not_renewed.len(),
        not_renewed: not_renewed.into_iter().take(PREVIEW_ROWS).collect(),
        renewed_position: crate::format::position(from as u64 + 1, renewed.len(), total as i64),
        renewed,
        renewed_previous,
        renewed_next,
        windows_1252: file_encoding_is_1252(&review),
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

/// The file a review of an upload read (every such review has one).
fn uploaded(review: &RenewalReview) -> Result<ReviewedFile, crate::web::PageError> {
    review.file.clone().ok_or(Error::NotFound.into())
}

fn file_encoding_is_1252(review: &RenewalReview) -> bool {
    review
        .file
        .as_ref()
        .is_some_and(|f| f.encoding == crate::imports::csv_table::Encoding::Windows1252)
}

fn kept(id: UploadId, column: Option<usize>) -> Renewing {
    Renewing::Upload { id, column }
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
    let review =
        renewal::preview(&state.ops, &area.caller, &area.company, &kept(id, column)).await?;
    preview_page(&area, id, review, query.from.unwrap_or(0), None)
}

/// The whole report as CSV: every row's line, value and outcome.
async fn report(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Path(id): Path<i64>,
    Query(query): Query<ColumnQuery>,
) -> PageResult {
    let column = column(query.column.as_deref())?;
    let what = kept(UploadId(id), column);
    let review = renewal::preview(&state.ops, &area.caller, &area.company, &what).await?;
    let file = uploaded(&review)?;
    let mut report = CsvReport::new();
    report.record(["line", file.headers[file.column].as_str(), "outcome"]);
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
    let what = kept(id, Some(column));
    let error = match renewal::apply(ops, caller, company, &what).await {
        Ok(review) => {
            let notice = format!(
                "Renewed the licences of {} learners.",
                review.renewed().len()
            );
            return area
                .redirect_with_notice(&state, "/company/licenses?tab=allocated", &notice)
                .await;
        }
        Err(Error::NoFreeSeats(e)) => format!("Nothing was renewed: {e}."),
        Err(Error::Busy) => {
            "Nothing was renewed: too many people are allocating seats at once; try again.".into()
        }
        Err(e) => return Err(e.into()),
    };
    let review = renewal::preview(ops, caller, company, &what).await?;
    preview_page(&area, id, review, 0, Some(error))
}
