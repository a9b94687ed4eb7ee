//! The company's Licenses section: seats Available, Allocated, Expiring (within 30 days) and the
//! learners without an active licence, each read page by page; and the learners a renewal file
//! names.

use std::collections::HashMap;

use jiff::Timestamp;
use sqlx::{FromRow, Row};

use super::keyset::{self, Binds, Cursor, KeysetPage, Planned, Seek, Sort, SortKey, Walk};
use super::scope::AuthorisedCompany;
use super::seats::{self, valid_batch};
use super::users::{self, FACTS_COLUMNS};
use super::{
    Backend, Db, DbError, DbResult, Page, email_list, in_email_list, instant, json_rows, secs,
};
use crate::domain::access::{LicenceStatus, licence_status};
use crate::domain::company::EXPIRING_WITHIN;
use crate::domain::{BatchId, Email, OrderId, OrderKind, UserFacts, UserId};

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
        ("Allocated and Expiring", allocated_sql(), 4),
        ("Expired Licenses", expired_sql(), 3),
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
/// reads its own company's seats only. `$1` the company, `$2` now, `$3` the latest expiry shown.
fn allocated_walk(descending: bool, seek: &Seek, limit: u32, binds: &mut Binds) -> String {
    let walk = Walk {
        key: "s.id",
        id: "s.id",
        descending,
    };
    let (keyset, order) = walk.sql(seek, limit, binds);
    format!(
        "SELECT s.id, s.user_id, TRIM(u.first_name || ' ' || u.last_name) AS name, u.email, \
           s.allocated_at, b.expires_at \
         FROM seats s JOIN licence_batches b ON b.id = s.batch_id JOIN users u ON u.id = s.user_id \
         WHERE s.company_id = $1 AND s.ended_at IS NULL AND {} AND b.expires_at <= $3 \
           AND {keyset} {order}",
        valid_batch("b", 2)
    )
}

fn allocated_sql() -> String {
    let mut binds = Binds::default();
    for _ in 0..3 {
        binds.int(0);
    }
    allocated_walk(false, &Seek::First, 50, &mut binds)
}

/// Learners without an active licence, by id or by last name. `$1` the company, `$2` now.
fn expired_walk(sort: (LearnerSort, bool), seek: &Seek, limit: u32, binds: &mut Binds) -> String {
    let walk = Walk {
        key: sort.0.key().0,
        id: "u.id",
        descending: sort.1,
    };
    let (keyset, order) = walk.sql(seek, limit, binds);
    format!(
        "SELECT u.id, TRIM(u.first_name || ' ' || u.last_name) AS name, u.last_name, u.email, \
           u.department, {FACTS_COLUMNS} FROM users u WHERE {} AND {keyset} {order}",
        without_licence("$1", 2)
    )
}

fn expired_sql() -> String {
    let mut binds = Binds::default();
    binds.int(0);
    binds.int(0);
    expired_walk((LearnerSort::Added, false), &Seek::First, 50, &mut binds)
}

/// The columns the Expired Licenses tab sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LearnerSort {
    #[default]
    Added,
    Name,
}

impl Sort for LearnerSort {
    const ALL: &'static [Self] = &[LearnerSort::Added, LearnerSort::Name];

    fn as_str(self) -> &'static str {
        match self {
            LearnerSort::Added => "added",
            LearnerSort::Name => "name",
        }
    }

    /// Served by `users_company_active_learners` (company, id) and `users_company_last_name`.
    fn key(self) -> (&'static str, bool) {
        match self {
            LearnerSort::Added => ("u.id", false),
            LearnerSort::Name => ("u.last_name", true),
        }
    }
}

/// The column the Allocated and Expiring tabs sort by: when the seat was allocated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeatSort {
    #[default]
    Allocated,
}

impl Sort for SeatSort {
    const ALL: &'static [Self] = &[SeatSort::Allocated];

    fn as_str(self) -> &'static str {
        "allocated"
    }

    /// Seats are numbered as they are allocated: `seats_company_open` (company, id).
    fn key(self) -> (&'static str, bool) {
        ("s.id", false)
    }
}

/// The queries of the Allocated and Expired Licenses tabs for every sort and seek, for asking
/// the planner.
pub fn tab_page_queries(
    company: super::super::domain::CompanyId,
    now: Timestamp,
) -> Vec<(String, Planned)> {
    let seeks = |text: bool| {
        let key = |n: i64| {
            if text {
                SortKey::Text(format!("m{n}"))
            } else {
                SortKey::Number(n)
            }
        };
        [
            Seek::First,
            Seek::After(Cursor { key: key(5), id: 5 }),
            Seek::Before(Cursor { key: key(9), id: 9 }),
        ]
    };
    let mut queries = Vec::new();
    for descending in [false, true] {
        for seek in seeks(false) {
            let mut binds = Binds::default();
            binds.int(company.0);
            binds.int(secs(now));
            binds.int(i64::MAX);
            let sql = allocated_walk(descending, &seek, 50, &mut binds);
            let name = format!("seats_company_open Allocated desc={descending} {seek:?}");
            queries.push((name, Planned { sql, binds }));
        }
        for &sort in LearnerSort::ALL {
            for seek in seeks(sort.key().1) {
                let mut binds = Binds::default();
                binds.int(company.0);
                binds.int(secs(now));
                let sql = expired_walk((sort, descending), &seek, 50, &mut binds);
                let index = match sort {
                    LearnerSort::Added => "users_company",
                    LearnerSort::Name => "users_company_last_name",
                };
                let name = format!("{index} Expired {sort:?} desc={descending} {seek:?}");
                queries.push((name, Planned { sql, binds }));
            }
        }
    }
    queries
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
    descending: bool,
    seek: &Seek,
    limit: u32,
    now: Timestamp,
) -> DbResult<KeysetPage<AllocatedSeat>> {
    let mut binds = Binds::default();
    binds.int(company.id().0);
    binds.int(secs(now));
    binds.int(if expiring_only {
        secs(now + EXPIRING_WITHIN)
    } else {
        i64::MAX
    });
    let sql = allocated_walk(descending, seek, limit, &mut binds);
    let records: Vec<AllocatedRecord> = binds
        .apply(sqlx::query_as(&sql))
        .fetch_all(db.pool())
        .await?;
    let page = keyset::page(seek, records, limit, |r| Cursor {
        key: SortKey::Number(r.id),
        id: r.id,
    });
    Ok(KeysetPage {
        rows: page
            .rows
            .into_iter()
            .map(|r| AllocatedSeat {
                seat: r.id,
                user: UserId(r.user_id),
                name: r.name,
                email: r.email,
                allocated_at: instant(r.allocated_at),
                expires_at: instant(r.expires_at),
            })
            .collect(),
        previous: page.previous,
        next: page.next,
    })
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

/// Learners whose licence expired (or who await one), sorted by `sort`.
pub async fn expired(
    db: &Db,
    company: &AuthorisedCompany,
    sort: (LearnerSort, bool),
    seek: &Seek,
    limit: u32,
    now: Timestamp,
) -> DbResult<KeysetPage<ExpiredLearner>> {
    if company.facts.on_trial(now) {
        return Ok(KeysetPage {
            rows: Vec::new(),
            previous: None,
            next: None,
        });
    }
    let mut binds = Binds::default();
    binds.int(company.id().0);
    binds.int(secs(now));
    let sql = expired_walk(sort, seek, limit, &mut binds);
    let rows = binds
        .apply_rows(sqlx::query(&sql))
        .fetch_all(db.pool())
        .await?;
    let learners = rows
        .iter()
        .map(|r| {
            let user = users::company_user_facts(r)?;
            let learner = ExpiredLearner {
                user: UserId(r.try_get("id")?),
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                department: r.try_get("department")?,
                licence: licence_status(&user, &company.facts, now),
            };
            let key = match sort.0 {
                LearnerSort::Added => SortKey::Number(learner.user.0),
                LearnerSort::Name => SortKey::Text(r.try_get("last_name")?),
            };
            Ok((learner, key))
        })
        .collect::<DbResult<Vec<_>>>()?;
    let page = keyset::page(seek, learners, limit, |(l, key)| Cursor {
        key: key.clone(),
        id: l.user.0,
    });
    Ok(KeysetPage {
        rows: page.rows.into_iter().map(|(l, _)| l).collect(),
        previous: page.previous,
        next: page.next,
    })
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

/// How `learners_by_email` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LearnerRead {
    /// Only reads: a preview.
    Look,
    /// Locks the learners it finds (PostgreSQL; SQLite's write transaction already excludes
    /// other writers) until the transaction ends, as `seats::Vetted::Locked` needs.
    Lock,
}

/// How many emails one `learners_by_email` statement takes: PostgreSQL may answer a chunk by
/// reading the company's users once, so a renewal of 100,000 is one statement, not ten reads of
/// the same table; the most a file holds (250,000) is three.
const EMAIL_LIST_CHUNK: usize = 100_000;

/// The company's learners among `emails`, keyed by email. Reads on `conn`: a pooled
/// connection for a preview, the write transaction when a renewal applies. Each statement takes
/// a whole chunk of the list as one bound value and answers with one JSON value: a value to
/// fetch rather than a row per learner.
pub async fn learners_by_email(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    company: &AuthorisedCompany,
    emails: &[&Email],
    read: LearnerRead,
) -> DbResult<HashMap<String, NamedLearner>> {
    let lock = match read {
        LearnerRead::Look => "",
        LearnerRead::Lock => backend.for_update(),
    };
    // `+u.company_id`: probe the email list, not the company's whole index.
    let learners = format!(
        "(SELECT u.id, u.email, {FACTS_COLUMNS} FROM users u \
         WHERE +u.company_id = $1 AND u.is_learner = 1 AND u.email {}{lock}) l",
        in_email_list(backend, 2)
    );
    let sql = json_rows(backend, &users::NamedFactsArray::values("l"), &learners);
    let mut found = HashMap::with_capacity(emails.len());
    for chunk in emails.chunks(EMAIL_LIST_CHUNK) {
        let json: Option<String> = sqlx::query_scalar(&sql)
            .bind(company.id().0)
            .bind(email_list(backend, chunk.iter().copied()))
            .fetch_one(&mut *conn)
            .await?;
        let Some(json) = json else { continue };
        let rows: Vec<users::NamedFactsArray> = serde_json::from_str(&json)
            .map_err(|e| DbError::Corrupt(format!("learners by email: {e}")))?;
        for row in rows {
            let (user, email, facts) = row.into_parts();
            found.insert(email, NamedLearner { user, facts });
        }
    }
    Ok(found)
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
