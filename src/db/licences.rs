//! The company's Licenses section: seats Available, Allocated, Expiring (within 30 days) and the
//! learners without an active licence, each read page by page; and the learners a renewal file
//! names.

use std::collections::HashMap;

use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::scope::AuthorisedCompany;
use super::seats::{self, valid_batch};
use super::users::{self, FACTS_COLUMNS};
use super::{CHUNK, Db, DbResult, Page, instant, placeholders, secs};
use crate::domain::access::{LicenceStatus, licence_status};
use crate::domain::company::EXPIRING_WITHIN;
use crate::domain::{BatchId, OrderId, OrderKind, UserFacts, UserId};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LicenceCounts {
    pub available: i64,
    pub allocated: i64,
    pub expiring: i64,
    pub expired: i64,
}

/// Learners of company `company` (an SQL expression) without an active licence at `$now`: the
/// SQL mirror of `licence_status` being anything but Active outside a trial (a property test on
/// both databases holds the two to the same answer). During a running trial nobody is listed, so
/// callers ask only of companies not on trial.
pub(crate) fn without_licence(company: &str, now: usize) -> String {
    format!(
        "u.company_id = {company} AND u.is_learner = 1 AND u.deactivated_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM seats s JOIN licence_batches b ON b.id = s.batch_id \
           WHERE s.user_id = u.id AND s.ended_at IS NULL AND b.expires_at > ${now})"
    )
}

/// The SQL of every Licenses tab, by name, with how many parameters each takes (`$1` the
/// company, `$2` now, then the tab's own): what a test asks the database to plan.
pub fn tab_queries() -> Vec<(&'static str, String, usize)> {
    vec![
        ("seat totals", seats::totals_sql(), 2),
        ("expiring count", expiring_sql(), 3),
        ("expired count", expired_count_sql(), 2),
        ("Available", available_sql(), 2),
        ("Allocated and Expiring", allocated_sql(), 5),
        ("Expired Licenses", expired_sql(), 4),
        ("Batches", batches_sql().to_owned(), 4),
    ]
}

/// Every batch of the company, first-expiring-first (the order seats are drawn in), after
/// `($2, $3)`: read by `licence_batches_company_expiry`.
fn batches_sql() -> &'static str {
    "SELECT b.id, b.order_id, b.kind, b.nfr, b.quantity, b.allocated, b.assigned_at, \
       b.expires_at FROM licence_batches b \
     WHERE b.company_id = $1 AND (b.expires_at > $2 OR (b.expires_at = $2 AND b.id > $3)) \
     ORDER BY b.expires_at, b.id LIMIT $4"
}

/// A batch of seats, valid or not.
#[derive(Clone, Debug)]
pub struct BatchRow {
    pub id: BatchId,
    /// The order it was assigned from (none for NFR seats and licences given at creation).
    pub order: Option<OrderId>,
    pub kind: OrderKind,
    pub nfr: bool,
    pub quantity: i64,
    pub allocated: i64,
    pub assigned_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Where a page of batches starts: after this (expires_at, id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchCursor {
    pub expires_at: i64,
    pub id: BatchId,
}

#[derive(FromRow)]
struct BatchRecord {
    id: i64,
    order_id: Option<i64>,
    kind: String,
    nfr: i64,
    quantity: i64,
    allocated: i64,
    assigned_at: i64,
    expires_at: i64,
}

/// The company's batches, first-expiring-first, one page after `after`.
pub async fn batches(
    db: &Db,
    company: &AuthorisedCompany,
    after: Option<BatchCursor>,
    limit: u32,
) -> DbResult<Page<BatchRow, BatchCursor>> {
    let records: Vec<BatchRecord> = sqlx::query_as(batches_sql())
        .bind(company.id().0)
        .bind(after.map_or(i64::MIN, |c| c.expires_at))
        .bind(after.map_or(0, |c| c.id.0))
        .bind(i64::from(limit) + 1)
        .fetch_all(db.pool())
        .await?;
    let items = records
        .into_iter()
        .map(|r| {
            Ok(BatchRow {
                id: BatchId(r.id),
                order: r.order_id.map(OrderId),
                kind: super::parse_stored("licence_batches.kind", &r.kind)?,
                nfr: r.nfr != 0,
                quantity: r.quantity,
                allocated: r.allocated,
                assigned_at: instant(r.assigned_at),
                expires_at: instant(r.expires_at),
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, limit, |b| BatchCursor {
        expires_at: secs(b.expires_at),
        id: b.id,
    }))
}

fn expiring_sql() -> String {
    format!(
        "SELECT COALESCE(SUM(b.allocated), 0) FROM licence_batches b \
         WHERE b.company_id = $1 AND {} AND b.expires_at <= $3",
        valid_batch("b", 2)
    )
}

fn expired_count_sql() -> String {
    format!(
        "SELECT COUNT(*) FROM users u WHERE {}",
        without_licence("$1", 2)
    )
}

fn available_sql() -> String {
    format!(
        "SELECT b.id, b.kind, b.nfr, b.quantity - b.allocated AS free, b.quantity, b.assigned_at, \
           b.expires_at FROM licence_batches b \
         WHERE b.company_id = $1 AND {} AND b.allocated < b.quantity \
         ORDER BY b.expires_at, b.id LIMIT {AVAILABLE_LIMIT}",
        valid_batch("b", 2)
    )
}

/// Open seats of the company by seat id: read by `seats_company_open` (company, id), so a page
/// reads its own company's seats only.
fn allocated_sql() -> String {
    format!(
        "SELECT s.id, s.user_id, TRIM(u.first_name || ' ' || u.last_name) AS name, u.email, \
           s.allocated_at, b.expires_at \
         FROM seats s JOIN licence_batches b ON b.id = s.batch_id JOIN users u ON u.id = s.user_id \
         WHERE s.company_id = $1 AND s.ended_at IS NULL AND {} AND b.expires_at <= $3 \
           AND s.id > $4 ORDER BY s.id LIMIT $5",
        valid_batch("b", 2)
    )
}

fn expired_sql() -> String {
    format!(
        "SELECT u.id, TRIM(u.first_name || ' ' || u.last_name) AS name, u.email, u.department, \
           {FACTS_COLUMNS} FROM users u WHERE {} AND u.id > $3 \
         ORDER BY u.id LIMIT $4",
        without_licence("$1", 2)
    )
}

pub async fn counts(
    db: &Db,
    company: &AuthorisedCompany,
    now: Timestamp,
) -> DbResult<LicenceCounts> {
    let seats = seats::totals(db.pool(), company.id(), now).await?;
    let expiring: i64 = sqlx::query_scalar(&expiring_sql())
        .bind(company.id().0)
        .bind(secs(now))
        .bind(secs(now + EXPIRING_WITHIN))
        .fetch_one(db.pool())
        .await?;
    let expired = if company.facts.on_trial(now) {
        0
    } else {
        sqlx::query_scalar(&expired_count_sql())
            .bind(company.id().0)
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
    pub kind: OrderKind,
    /// NFR seats of a partner's internal company: they never expire.
    pub nfr: bool,
    pub free: i64,
    pub quantity: i64,
    pub assigned_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(FromRow)]
struct AvailableRecord {
    id: i64,
    kind: String,
    nfr: i64,
    free: i64,
    quantity: i64,
    assigned_at: i64,
    expires_at: i64,
}

/// How many batches the Available tab lists; a company holds few valid batches at once.
pub const AVAILABLE_LIMIT: u32 = 200;

/// The company's valid batches with free seats, soonest-expiring first.
pub async fn available(
    db: &Db,
    company: &AuthorisedCompany,
    now: Timestamp,
) -> DbResult<Vec<AvailableBatch>> {
    let records: Vec<AvailableRecord> = sqlx::query_as(&available_sql())
        .bind(company.id().0)
        .bind(secs(now))
        .fetch_all(db.pool())
        .await?;
    records
        .into_iter()
        .map(|r| {
            Ok(AvailableBatch {
                id: BatchId(r.id),
                kind: super::parse_stored("licence_batches.kind", &r.kind)?,
                nfr: r.nfr != 0,
                free: r.free,
                quantity: r.quantity,
                assigned_at: instant(r.assigned_at),
                expires_at: instant(r.expires_at),
            })
        })
        .collect()
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

#[derive(FromRow)]
struct AllocatedRecord {
    id: i64,
    user_id: i64,
    name: String,
    email: String,
    allocated_at: i64,
    expires_at: i64,
}

/// Open seats of valid batches, by seat; with `expiring_only`, those ending within 30 days.
pub async fn allocated(
    db: &Db,
    company: &AuthorisedCompany,
    expiring_only: bool,
    after: Option<i64>,
    limit: u32,
    now: Timestamp,
) -> DbResult<Page<AllocatedSeat, i64>> {
    let records: Vec<AllocatedRecord> = sqlx::query_as(&allocated_sql())
        .bind(company.id().0)
        .bind(secs(now))
        .bind(if expiring_only {
            secs(now + EXPIRING_WITHIN)
        } else {
            i64::MAX
        })
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit) + 1)
        .fetch_all(db.pool())
        .await?;
    let items = records
        .into_iter()
        .map(|r| AllocatedSeat {
            seat: r.id,
            user: UserId(r.user_id),
            name: r.name,
            email: r.email,
            allocated_at: instant(r.allocated_at),
            expires_at: instant(r.expires_at),
        })
        .collect();
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
    company: &AuthorisedCompany,
    after: Option<UserId>,
    limit: u32,
    now: Timestamp,
) -> DbResult<Page<ExpiredLearner, UserId>> {
    if company.facts.on_trial(now) {
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    }
    let rows = sqlx::query(&expired_sql())
        .bind(company.id().0)
        .bind(secs(now))
        .bind(after.map_or(0, |u| u.0))
        .bind(i64::from(limit) + 1)
        .fetch_all(db.pool())
        .await?;
    let items = rows
        .iter()
        .map(|r| {
            let user = users::company_user_facts(r)?;
            Ok(ExpiredLearner {
                user: UserId(r.try_get("id")?),
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                department: r.try_get("department")?,
                licence: licence_status(&user, &company.facts, now),
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, limit, |l| l.user))
}

/// Every learner of the Expired Licenses tab (Select All means all of them, not one page).
pub async fn expired_ids(
    db: &Db,
    company: &AuthorisedCompany,
    now: Timestamp,
) -> DbResult<Vec<UserId>> {
    if company.facts.on_trial(now) {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT u.id FROM users u WHERE {} ORDER BY u.id",
        without_licence("$1", 2)
    ))
    .bind(company.id().0)
    .bind(secs(now))
    .fetch_all(db.pool())
    .await?;
    Ok(ids.into_iter().map(UserId).collect())
}

/// A learner of the company named in a renewal file, with the facts the access rules need.
#[derive(Clone, Debug)]
pub struct NamedLearner {
    pub user: UserId,
    pub facts: UserFacts,
}

/// The company's learners among `emails` (lower-cased), keyed by email. Reads on `conn`: a
/// pooled connection for a preview, the write transaction when a renewal applies.
pub async fn learners_by_email(
    conn: &mut sqlx::AnyConnection,
    company: &AuthorisedCompany,
    emails: &[&str],
) -> DbResult<HashMap<String, NamedLearner>> {
    let mut found = HashMap::new();
    for chunk in emails.chunks(CHUNK) {
        // `+u.company_id`: probe the email list, not the company's whole index.
        let sql = format!(
            "SELECT u.id, u.email, {FACTS_COLUMNS} FROM users u \
             WHERE +u.company_id = $1 AND u.is_learner = 1 AND u.email IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(company.id().0);
        for email in chunk {
            query = query.bind(*email);
        }
        for row in query.fetch_all(&mut *conn).await? {
            found.insert(row.try_get::<String, _>("email")?, named_learner(&row)?);
        }
    }
    Ok(found)
}

fn named_learner(row: &AnyRow) -> DbResult<NamedLearner> {
    Ok(NamedLearner {
        user: UserId(row.try_get("id")?),
        facts: users::company_user_facts(row)?,
    })
}

/// When the company's soonest-ending valid licences end (NFR seats never do).
pub async fn next_expiry(
    db: &Db,
    company: &AuthorisedCompany,
    now: Timestamp,
) -> DbResult<Option<Timestamp>> {
    let at: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT MIN(b.expires_at) FROM licence_batches b \
         WHERE b.company_id = $1 AND {} AND b.nfr = 0",
        valid_batch("b", 2)
    ))
    .bind(company.id().0)
    .bind(secs(now))
    .fetch_one(db.pool())
    .await?;
    Ok(at.map(instant))
}

/// Seats a company held and used at one instant, as its seat ledger tells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeatsAt {
    pub held: i64,
    pub used: i64,
}

/// The most (batch, sample) rows `seat_history` reads: a company holds few batches.
const HISTORY_ROWS: u32 = 20_000;

/// The company's seats held and used at each instant of `at` (in order), replayed from its seat
/// events: a batch is held from its assignment until it expires, and its seats are in use
/// between their allocation and their release (or the batch's expiry). One pass over the
/// company's events, summed by batch and by the sample each falls before.
pub async fn seat_history(
    db: &Db,
    company: &AuthorisedCompany,
    at: &[Timestamp],
) -> DbResult<Vec<SeatsAt>> {
    let Some(&last) = at.last() else {
        return Ok(Vec::new());
    };
    let buckets: String = (0..at.len())
        .map(|i| format!("WHEN e.at <= ${} THEN {i} ", i + 3))
        .collect();
    let sql = format!(
        "SELECT e.batch_id, CAST(CASE {buckets}END AS BIGINT) AS bucket, \
           CAST(SUM(CASE e.kind WHEN 'seat_allocated' THEN 1 WHEN 'seat_released' THEN -1 ELSE 0 END) AS BIGINT) AS delta, \
           CAST(MAX(CASE WHEN e.kind = 'batch_assigned' THEN e.quantity END) AS BIGINT) AS quantity, \
           MAX(CASE WHEN e.kind = 'batch_assigned' THEN e.expires_at END) AS expires_at \
         FROM seat_events e WHERE e.company_id = $1 AND e.at <= $2 \
         GROUP BY e.batch_id, CASE {buckets}END ORDER BY e.batch_id LIMIT {HISTORY_ROWS}"
    );
    let mut query = sqlx::query_as(&sql).bind(company.id().0).bind(secs(last));
    for &t in at {
        query = query.bind(secs(t));
    }
    let records: Vec<HistoryRecord> = query.fetch_all(db.pool()).await?;
    let rows = records
        .into_iter()
        .map(|r| HistoryRow {
            batch: r.batch_id,
            bucket: usize::try_from(r.bucket).unwrap_or(0),
            delta: r.delta,
            assigned: r.quantity.zip(r.expires_at.map(instant)),
        })
        .collect::<Vec<_>>();
    Ok(replay_history(&rows, at))
}

#[derive(FromRow)]
struct HistoryRecord {
    batch_id: i64,
    bucket: i64,
    delta: i64,
    quantity: Option<i64>,
    expires_at: Option<i64>,
}

/// A batch's seat events summed within one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HistoryRow {
    batch: i64,
    bucket: usize,
    delta: i64,
    /// Its quantity and expiry, on the row holding its assignment.
    assigned: Option<(i64, Timestamp)>,
}

/// Seats held and used at each `at[i]` from rows whose bucket is the first sample at or after
/// their events.
fn replay_history(rows: &[HistoryRow], at: &[Timestamp]) -> Vec<SeatsAt> {
    let mut batches: HashMap<i64, (usize, i64, Timestamp)> = HashMap::new();
    for row in rows {
        if let Some((quantity, expires)) = row.assigned {
            batches.insert(row.batch, (row.bucket, quantity, expires));
        }
    }
    at.iter()
        .enumerate()
        .map(|(i, &t)| {
            let mut seats = SeatsAt::default();
            for (batch, &(assigned, quantity, expires)) in &batches {
                if assigned > i || expires <= t {
                    continue;
                }
                seats.held += quantity;
                seats.used += rows
                    .iter()
                    .filter(|r| r.batch == *batch && r.bucket <= i)
                    .map(|r| r.delta)
                    .sum::<i64>();
            }
            seats
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_held_from_its_assignment_and_its_seats_used_until_it_expires() {
        let t = |s: &str| -> Timestamp { s.parse().unwrap() };
        let at = [
            t("2026-01-01T00:00:00Z"),
            t("2026-02-01T00:00:00Z"),
            t("2026-03-01T00:00:00Z"),
            t("2026-04-01T00:00:00Z"),
        ];
        let expires = t("2026-03-15T00:00:00Z");
        let rows = [
            // Assigned in January with 10 seats, 4 allocated at once.
            HistoryRow {
                batch: 1,
                bucket: 1,
                delta: 4,
                assigned: Some((10, expires)),
            },
            // One released in February.
            HistoryRow {
                batch: 1,
                bucket: 2,
                delta: -1,
                assigned: None,
            },
        ];
        let seats = replay_history(&rows, &at);
        assert_eq!(seats[0], SeatsAt { held: 0, used: 0 });
        assert_eq!(seats[1], SeatsAt { held: 10, used: 4 });
        assert_eq!(seats[2], SeatsAt { held: 10, used: 3 });
        assert_eq!(seats[3], SeatsAt { held: 0, used: 0 }, "expired in March");
    }
}
