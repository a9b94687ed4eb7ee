//! Import Licence Renewal: a preview of what an uploaded file would do, and applying it — every
//! renewable learner in one transaction, or none. The preview only reads, so it never waits for
//! (or holds up) another tenant's writes.

use std::collections::HashMap;

use jiff::Timestamp;
use tokio::sync::OwnedSemaphorePermit;

use super::audit::{self, Entry};
use super::events;
use super::uploads::UploadedTable;
use super::{Caller, Error, OpResult, Ops};
use crate::db::licences::{self, NamedLearner};
use crate::db::scope::AuthorisedCompany;
use crate::db::uploads::{self, Purpose};
use crate::db::{DbResult, seats, write_retrying};
use crate::domain::access::{LicenceStatus, licence_status};
use crate::domain::{Action, InvalidValue, UploadId, UserId};
use crate::imports::csv_table::{Column, CsvTable};
use crate::imports::renewal::{self, KnownLearner, ReviewedRow, RowOutcome};

/// What a renewal file would do (preview) or did (apply).
#[derive(Clone, Debug)]
pub struct RenewalReview {
    pub file_name: String,
    pub headers: Vec<String>,
    /// The column read as the email (0-based).
    pub column: usize,
    pub rows: Vec<ReviewedRow>,
    pub free_seats: i64,
}

impl RenewalReview {
    /// The learners the file renews.
    pub fn renewed(&self) -> Vec<UserId> {
        self.rows
            .iter()
            .filter_map(|r| match r.outcome {
                RowOutcome::Renew(user) => Some(user),
                _ => None,
            })
            .collect()
    }
}

/// The uploaded file and the email column to read: the likely one when `column` is `None`.
struct RenewalFile {
    file_name: String,
    table: CsvTable,
    column: Column,
    _permit: OwnedSemaphorePermit,
}

async fn file(
    ops: &Ops,
    company: &AuthorisedCompany,
    upload: UploadId,
    column: Option<usize>,
) -> OpResult<RenewalFile> {
    let UploadedTable {
        file_name,
        table,
        permit,
    } = super::uploads::table(ops, company, upload, Purpose::Renewal).await?;
    let column = match column {
        None => table.likely_email_column(),
        Some(index) => table.column(index).map_err(|e| {
            let problem = InvalidValue::OutOfRange {
                min: 1,
                max: i64::try_from(e.columns).unwrap_or(i64::MAX),
                got: i64::try_from(e.index).map_or(i64::MAX, |c| c.saturating_add(1)),
            };
            Error::Invalid(vec![super::FieldError {
                field: "column",
                problem,
            }])
        })?,
    };
    Ok(RenewalFile {
        file_name,
        table,
        column,
        _permit: permit,
    })
}

impl RenewalFile {
    /// Each row's line and the value of its email column.
    fn values(&self) -> Vec<(u64, String)> {
        renewal::values(&self.table, self.column)
    }
}

/// Decides every row of `file` from what storage knows about its emails now.
fn review(
    file: &RenewalFile,
    company: &AuthorisedCompany,
    known: HashMap<String, NamedLearner>,
    free_seats: i64,
    now: Timestamp,
) -> RenewalReview {
    let values = file.values();
    let parsed = renewal::emails(&values);
    let known: HashMap<String, KnownLearner> = known
        .into_iter()
        .map(|(email, learner)| {
            let status = licence_status(&learner.facts, &company.facts, now);
            let known = KnownLearner {
                user: learner.user,
                active: matches!(status, LicenceStatus::Active { .. }),
                deactivated: learner.facts.deactivated,
            };
            (email, known)
        })
        .collect();
    RenewalReview {
        file_name: file.file_name.clone(),
        headers: file.table.headers().to_vec(),
        column: file.column.index(),
        rows: renewal::review(&values, &parsed, &known),
        free_seats,
    }
}

/// The file's distinct, valid emails: what storage is asked about.
fn emails(file: &RenewalFile) -> Vec<String> {
    let values = file.values();
    let mut emails: Vec<String> = renewal::emails(&values)
        .into_iter()
        .flatten()
        .map(|e| e.as_str().to_owned())
        .collect();
    emails.sort_unstable();
    emails.dedup();
    emails
}

async fn known(
    conn: &mut sqlx::AnyConnection,
    company: &AuthorisedCompany,
    emails: &[String],
) -> DbResult<HashMap<String, NamedLearner>> {
    let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
    licences::learners_by_email(conn, company, &emails).await
}

/// The preview: how many learners the file would renew, and every row it would not, with why.
#[tracing::instrument(skip_all, fields(company = %company.id(), upload = %upload))]
pub async fn preview(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    upload: UploadId,
    column: Option<usize>,
) -> OpResult<RenewalReview> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let file = file(ops, company, upload, column).await?;
    let emails = emails(&file);
    let mut conn = ops
        .db
        .pool()
        .acquire()
        .await
        .map_err(crate::db::DbError::from)?;
    let known = known(&mut conn, company, &emails).await?;
    let free = seats::totals(&mut *conn, company.id(), now).await?.free();
    Ok(review(&file, company, known, free, now))
}

/// Renew Licences: every renewable learner of the file in one transaction, or none (refused
/// with both numbers when seats are short). The applied file is deleted with it.
#[tracing::instrument(skip_all, fields(company = %company.id(), upload = %upload))]
pub async fn apply(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    upload: UploadId,
    column: usize,
) -> OpResult<RenewalReview> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let file = file(ops, company, upload, Some(column)).await?;
    let emails = emails(&file);
    let backend = ops.db.backend();
    let review = write_retrying!(ops.db, |tx| {
        let known = known(&mut tx, company, &emails).await?;
        let free = seats::totals(&mut *tx, company.id(), now).await?.free();
        let review = review(&file, company, known, free, now);
        let renew = review.renewed();
        if !renew.is_empty() {
            let id = company.id();
            if seats::allocate_in(&mut tx, backend, id, &renew, caller.actor, now)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            let entry = Entry::LicencesRenewed {
                learners: renew.len(),
            };
            audit::record(&mut tx, id, entry, caller.actor, now).await?;
            events::seats_allocated(&mut tx, id, &renew, now).await?;
        }
        uploads::delete(&mut tx, upload).await?;
        Ok(Some(review))
    })
    .await?;
    ops.metrics.seats_allocated(review.renewed().len() as u64);
    Ok(review)
}
