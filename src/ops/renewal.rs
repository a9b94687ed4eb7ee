//! Import Licence Renewal: a preview of what an uploaded file (or the API's list of emails)
//! would do, and applying it — every renewable learner in one transaction, or none. The preview
//! only reads, so it never waits for (or holds up) another tenant's writes.

use std::collections::HashMap;

use jiff::Timestamp;
use tokio::sync::OwnedSemaphorePermit;

use super::audit::{self, Entry};
use super::events;
use super::uploads::UploadedTable;
use super::{Caller, Error, OpResult, Ops};
use crate::db::licences::{self, LearnerRead, NamedLearner};
use crate::db::scope::AuthorisedCompany;
use crate::db::uploads::{self, Purpose};
use crate::db::{seats, write_retrying};
use crate::domain::access::{LicenceStatus, licence_status};
use crate::domain::{Action, Email, InvalidValue, UploadId, UserId};
use crate::imports::csv_table::{Column, CsvTable};
use crate::imports::renewal::{self, KnownLearner, ReviewedRow, RowOutcome};

/// What a renewal reads: an uploaded file's email column (the likely one when `column` is
/// `None`), or a list of emails, whose rows are numbered from 0.
#[derive(Clone, Debug)]
pub enum Renewing {
    Upload { id: UploadId, column: Option<usize> },
    Emails(Vec<String>),
}

/// The most emails one list names.
pub const MAX_EMAILS: usize = 10_000;

/// The uploaded file a review read.
#[derive(Clone, Debug)]
pub struct ReviewedFile {
    pub file_name: String,
    /// How the file's bytes were read.
    pub encoding: crate::imports::csv_table::Encoding,
    pub headers: Vec<String>,
    /// The column read as the email (0-based).
    pub column: usize,
}

/// What a renewal would do (preview) or did (apply).
#[derive(Clone, Debug)]
pub struct RenewalReview {
    /// The file read, when the renewal came as one.
    pub file: Option<ReviewedFile>,
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
    encoding: crate::imports::csv_table::Encoding,
    permit: OwnedSemaphorePermit,
}

async fn file(
    ops: &Ops,
    company: &AuthorisedCompany,
    upload: UploadId,
    column: Option<usize>,
) -> OpResult<RenewalFile> {
    let UploadedTable {
        file_name,
        encoding,
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
        encoding,
        table,
        column,
        permit,
    })
}

/// The rows a renewal reads (line or index, raw value) with each one's email, parsed once,
/// held under a permit for heavy work.
struct Listed {
    file: Option<ReviewedFile>,
    values: Vec<(u64, String)>,
    parsed: Vec<Option<Email>>,
    _permit: OwnedSemaphorePermit,
}

async fn listed(ops: &Ops, company: &AuthorisedCompany, what: &Renewing) -> OpResult<Listed> {
    match what {
        Renewing::Upload { id, column } => {
            let file = file(ops, company, *id, *column).await?;
            let values = renewal::values(&file.table, file.column);
            Ok(Listed {
                parsed: renewal::emails(&values),
                values,
                file: Some(ReviewedFile {
                    file_name: file.file_name,
                    encoding: file.encoding,
                    headers: file.table.headers().to_vec(),
                    column: file.column.index(),
                }),
                _permit: file.permit,
            })
        }
        Renewing::Emails(emails) => {
            if emails.is_empty() || emails.len() > MAX_EMAILS {
                let got = i64::try_from(emails.len()).unwrap_or(i64::MAX);
                return Err(Error::Invalid(vec![super::FieldError {
                    field: "emails",
                    problem: InvalidValue::OutOfRange {
                        min: 1,
                        max: MAX_EMAILS as i64,
                        got,
                    },
                }]));
            }
            let permit = ops.heavy.enter().await?;
            let values: Vec<(u64, String)> = (0..).zip(emails.iter().cloned()).collect();
            Ok(Listed {
                file: None,
                parsed: renewal::emails(&values),
                values,
                _permit: permit,
            })
        }
    }
}

/// Decides every row of `listed` from what storage knows about its emails now.
fn review(
    listed: &Listed,
    company: &AuthorisedCompany,
    known: HashMap<String, NamedLearner>,
    free_seats: i64,
    now: Timestamp,
) -> RenewalReview {
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
        file: listed.file.clone(),
        rows: renewal::review(&listed.values, &listed.parsed, &known),
        free_seats,
    }
}

/// The distinct, valid emails of `listed`: what storage is asked about.
fn emails(listed: &Listed) -> Vec<&Email> {
    let mut emails: Vec<&Email> = listed.parsed.iter().flatten().collect();
    emails.sort_unstable();
    emails.dedup();
    emails
}

/// The preview: how many learners the file (or list) would renew, and every row it would not,
/// with why.
#[tracing::instrument(skip_all, fields(company = %company.id()))]
pub async fn preview(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    what: &Renewing,
) -> OpResult<RenewalReview> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let listed = listed(ops, company, what).await?;
    let emails = emails(&listed);
    let mut conn = ops
        .db
        .pool()
        .acquire()
        .await
        .map_err(crate::db::DbError::from)?;
    let backend = ops.db.backend();
    let known =
        licences::learners_by_email(&mut conn, backend, company, &emails, LearnerRead::Look)
            .await?;
    let free = seats::totals(&mut *conn, company.id(), now).await?.free();
    Ok(review(&listed, company, known, free, now))
}

/// Renew Licences: every renewable learner of the file (or list) in one transaction, or none
/// (refused with both numbers when seats are short). An applied file is deleted with it.
#[tracing::instrument(skip_all, fields(company = %company.id()))]
pub async fn apply(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    what: &Renewing,
) -> OpResult<RenewalReview> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let listed = listed(ops, company, what).await?;
    let emails = emails(&listed);
    let backend = ops.db.backend();
    let review = write_retrying!(ops.db, |tx| {
        // Locks the learners it finds on PostgreSQL, so a deactivation waits for this renewal
        // and then releases the seat it made; the review renews only learners it found not
        // deactivated, so the allocation need not look them up again.
        let known =
            licences::learners_by_email(&mut tx, backend, company, &emails, LearnerRead::Lock)
                .await?;
        let free = seats::totals(&mut *tx, company.id(), now).await?.free();
        let review = review(&listed, company, known, free, now);
        let renew = review.renewed();
        if !renew.is_empty() {
            let id = company.id();
            if seats::allocate_in(
                &mut tx,
                backend,
                id,
                &renew,
                seats::Vetted::Locked,
                caller.actor,
                now,
            )
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
        if let Renewing::Upload { id, .. } = what {
            uploads::delete(&mut tx, *id).await?;
        }
        Ok(Some(review))
    })
    .await?;
    ops.metrics.seats_allocated(review.renewed().len() as u64);
    Ok(review)
}
