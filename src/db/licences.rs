//! The company's Licenses section: seats Available, Allocated, Expiring (within 30 days) and the
//! learners whose licence expired, each read page by page; and renewal by CSV file.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use sqlx::{Any, Row, Transaction};

use super::{Actor, Db, DbError, DbResult, Page, Scope, companies, instant, seats, secs};
use super::{uploads, users};
use crate::domain::access::{LicenceStatus, Role, licence_status};
use crate::domain::{BatchId, CompanyId, UserId};
use crate::imports::renewal::{self, KnownLearner, ReviewedRow, RowOutcome};
use crate::imports::{CsvError, NoSuchColumn, csv_table};

/// Seats expiring within this window count as Expiring.
pub const EXPIRING_WITHIN: SignedDuration = SignedDuration::from_hours(24 * 30);

/// How many values one `IN (...)` list carries.
const CHUNK: usize = 250;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LicenceCounts {
    pub available: i64,
    pub allocated: i64,
    pub expiring: i64,
    pub expired: i64,
}

/// A company user without an active licence (learners only), as the Expired Licenses tab lists
/// them. During a running trial nobody is listed: everyone has trial access.
const WITHOUT_LICENCE: &str = "u.company_id = $1 AND u.is_learner = 1 AND u.deactivated_at IS NULL \
    AND NOT EXISTS (SELECT 1 FROM seats s JOIN licence_batches b ON b.id = s.batch_id \
      WHERE s.user_id = u.id AND s.ended_at IS NULL AND b.expires_at > $2)";

pub async fn counts(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<LicenceCounts> {
    let facts = companies::facts(db, scope, company).await?;
    let seats = seats::counts(db, scope, company, now).await?;
    let expiring: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(allocated), 0) FROM licence_batches \
         WHERE company_id = $1 AND expires_at > $2 AND expires_at <= $3",
    )
    .bind(company.0)
    .bind(secs(now))
    .bind(secs(now + EXPIRING_WITHIN))
    .fetch_one(db.pool())
    .await?;
    let expired = if facts.on_trial(now) {
        0
    } else {
        sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM users u WHERE {WITHOUT_LICENCE}"
        ))
        .bind(company.0)
        .bind(secs(now))
        .fetch_one(db.pool())
        .await?
    };
    Ok(LicenceCounts {
        available: seats.free(),
        allocated: seats.allocated,
        expiring,
        expired,
    })
}

/// A batch with free seats (Available tab).
#[derive(Clone, Debug)]
pub struct AvailableBatch {
    pub id: BatchId,
    pub kind: String,
    pub free: i64,
    pub quantity: i64,
    pub assigned_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The company's valid batches with free seats, soonest-expiring first (they are few).
pub async fn available(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<Vec<AvailableBatch>> {
    companies::facts(db, scope, company).await?;
    let rows = sqlx::query(
        "SELECT id, kind, quantity - allocated AS free, quantity, assigned_at, expires_at \
         FROM licence_batches WHERE company_id = $1 AND expires_at > $2 AND allocated < quantity \
         ORDER BY expires_at, id LIMIT 200",
    )
    .bind(company.0)
    .bind(secs(now))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AvailableBatch {
                id: BatchId(r.try_get("id")?),
                kind: r.try_get("kind")?,
                free: r.try_get("free")?,
                quantity: r.try_get("quantity")?,
                assigned_at: instant(r.try_get("assigned_at")?),
                expires_at: instant(r.try_get("expires_at")?),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(Into::into)
}

/// A learner with a seat (Allocated and Expiring tabs).
#[derive(Clone, Debug)]
pub struct AllocatedSeat {
    pub seat: i64,
    pub user: UserId,
    pub name: String,
    pub email: String,
    pub allocated_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Open seats of valid batches, by seat; with `expiring_only`, those ending within 30 days.
pub async fn allocated(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    expiring_only: bool,
    after: Option<i64>,
    limit: u32,
    now: Timestamp,
) -> DbResult<Page<AllocatedSeat, i64>> {
    companies::facts(db, scope, company).await?;
    let rows = sqlx::query(
        "SELECT s.id, s.user_id, TRIM(u.first_name || ' ' || u.last_name) AS name, u.email, \
           s.allocated_at, b.expires_at \
         FROM seats s JOIN licence_batches b ON b.id = s.batch_id JOIN users u ON u.id = s.user_id \
         WHERE s.company_id = $1 AND s.ended_at IS NULL AND b.expires_at > $2 AND b.expires_at <= $3 \
           AND s.id > $4 ORDER BY s.id LIMIT $5",
    )
    .bind(company.0)
    .bind(secs(now))
    .bind(if expiring_only { secs(now + EXPIRING_WITHIN) } else { i64::MAX })
    .bind(after.unwrap_or(0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(AllocatedSeat {
                seat: r.try_get("id")?,
                user: UserId(r.try_get("user_id")?),
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                allocated_at: instant(r.try_get("allocated_at")?),
                expires_at: instant(r.try_get("expires_at")?),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Page::from_rows(items, limit, |s| s.seat))
}

/// A learner without an active licence (Expired Licenses tab).
#[derive(Clone, Debug)]
pub struct ExpiredLearner {
    pub user: UserId,
    pub name: String,
    pub email: String,
    pub department: Option<String>,
    /// Expired (since when) or awaiting a licence, as `domain::access` decides.
    pub licence: LicenceStatus,
}

/// Learners whose licence expired (or who await one), by id, one page after `after`.
pub async fn expired(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    after: Option<UserId>,
    limit: u32,
    now: Timestamp,
) -> DbResult<Page<ExpiredLearner, UserId>> {
    let facts = companies::facts(db, scope, company).await?;
    if facts.on_trial(now) {
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    }
    let rows = sqlx::query(&format!(
        "SELECT u.id, TRIM(u.first_name || ' ' || u.last_name) AS name, u.email, u.department, \
           {} FROM users u WHERE {WITHOUT_LICENCE} AND u.id > $3 ORDER BY u.id LIMIT $4",
        users::FACTS_COLUMNS
    ))
    .bind(company.0)
    .bind(secs(now))
    .bind(after.map_or(0, |u| u.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            let (manager, learner) = users::company_role(r)?;
            let user = users::facts_from_row(r, Role::Company { manager, learner })?;
            Ok(ExpiredLearner {
                user: UserId(r.try_get("id")?),
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                department: r.try_get("department")?,
                licence: licence_status(&user, &facts, now),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Page::from_rows(items, limit, |l| l.user))
}

/// Every learner of the Expired Licenses tab (Select All means all of them, not one page).
pub async fn expired_ids(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<Vec<UserId>> {
    let facts = companies::facts(db, scope, company).await?;
    if facts.on_trial(now) {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT u.id FROM users u WHERE {WITHOUT_LICENCE} ORDER BY u.id"
    ))
    .bind(company.0)
    .bind(secs(now))
    .fetch_all(db.pool())
    .await?;
    Ok(ids.into_iter().map(UserId).collect())
}

/// The company's learners among `emails`, with whether each is active now.
async fn known_learners(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    on_trial: bool,
    emails: &[&str],
    now: Timestamp,
) -> DbResult<HashMap<String, KnownLearner>> {
    let mut known = HashMap::new();
    // `+u.company_id` keeps SQLite from walking the company's whole index instead of probing the
    // email list (unary plus is a no-op on both databases).
    for chunk in emails.chunks(CHUNK) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT u.id, u.email, u.deactivated_at, \
               (SELECT COUNT(*) FROM seats s JOIN licence_batches b ON b.id = s.batch_id \
                 WHERE s.user_id = u.id AND s.ended_at IS NULL AND b.expires_at > $2) AS active \
             FROM users u WHERE +u.company_id = $1 AND u.is_learner = 1 AND u.email IN ({})",
            list.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(company.0).bind(secs(now));
        for email in chunk {
            query = query.bind(*email);
        }
        for row in query.fetch_all(&mut **tx).await? {
            let active: i64 = row.try_get("active")?;
            known.insert(
                row.try_get::<String, _>("email")?,
                KnownLearner {
                    user: UserId(row.try_get("id")?),
                    active: active > 0 || on_trial,
                    deactivated: row.try_get::<Option<i64>, _>("deactivated_at")?.is_some(),
                },
            );
        }
    }
    Ok(known)
}

/// What a renewal file would do (preview) or did (apply).
#[derive(Clone, Debug)]
pub struct RenewalReview {
    pub file_name: String,
    pub headers: Vec<String>,
    pub column: usize,
    pub rows: Vec<ReviewedRow>,
    pub free_seats: i64,
    pub applied: bool,
}

impl RenewalReview {
    pub fn renewable(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.outcome, RowOutcome::Renew(_)))
            .count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenewalError {
    #[error("{0}")]
    File(#[from] CsvError),
    #[error(transparent)]
    NoSuchColumn(#[from] NoSuchColumn),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for RenewalError {
    fn from(e: sqlx::Error) -> Self {
        RenewalError::Db(e.into())
    }
}

/// Reviews the uploaded file `upload` with the emails in `column` (the likely one when `None`).
/// With `apply`, renews every renewable learner in one transaction, or none: nothing is
/// allocated when there are more of them than free seats.
pub async fn renewal(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    upload: i64,
    column: Option<usize>,
    apply: Option<Actor>,
    now: Timestamp,
) -> Result<RenewalReview, RenewalError> {
    let facts = companies::facts(db, scope, company).await?;
    let file = uploads::get(db, company, upload, "renewal").await?;
    let table = csv_table::parse(&file.content)?;
    let column = match column {
        Some(index) => table.column(index)?,
        None => table.likely_email_column(),
    };
    let values = renewal::values(&table, column);
    let parsed = renewal::emails(&values);
    let mut emails: Vec<&str> = parsed.iter().flatten().map(|e| e.as_str()).collect();
    emails.sort_unstable();
    emails.dedup();
    for _ in 0..seats::ALLOCATION_ATTEMPTS {
        let mut tx = db.begin_write().await?;
        let known = known_learners(&mut tx, company, facts.on_trial(now), &emails, now).await?;
        let rows = renewal::review(&values, &parsed, &known);
        let free_seats = seats::totals(&mut *tx, company, now).await?.free();
        let mut review = RenewalReview {
            file_name: file.file_name.clone(),
            headers: table.headers().to_vec(),
            column: column.index(),
            rows,
            free_seats,
            applied: false,
        };
        let Some(actor) = apply else {
            return Ok(review);
        };
        let renew: Vec<UserId> = review
            .rows
            .iter()
            .filter_map(|r| match r.outcome {
                RowOutcome::Renew(user) => Some(user),
                _ => None,
            })
            .collect();
        if !renew.is_empty()
            && !seats::allocate_in(&mut tx, db.backend(), company, &renew, actor, now).await?
        {
            tx.rollback().await?;
            continue;
        }
        uploads::mark_applied(&mut tx, upload, now).await?;
        tx.commit().await?;
        review.applied = true;
        return Ok(review);
    }
    Err(DbError::Conflict("too many people are allocating seats at once; try again".into()).into())
}
