//! `seatledger check`: replays the seat ledger and verifies every invariant against the stored
//! state. Rows are streamed in index order and folded one batch (or one user) at a time, so memory
//! stays bounded by the largest batch, not by the database.

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, DbResult, instant, secs};
use crate::progress::{Progress, Silent};

/// What `check` reports progress in.
const REPLAYED: &str = "check: seat events replayed";
use crate::domain::company::NEVER;
use crate::domain::{BatchId, BatchReplay, SeatEvent, SeatEventKind, UserId, UserReplay};

/// How many problems are listed one by one; the rest are only counted.
const LISTED_PROBLEMS: usize = 1000;

#[derive(Debug, Default)]
pub struct CheckReport {
    /// Partners whose internal company and NFR seats were checked.
    pub partners: u64,
    pub batches: u64,
    pub users: u64,
    pub events: u64,
    pub problems: Vec<String>,
    pub unlisted_problems: u64,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, text: String) {
        if self.problems.len() < LISTED_PROBLEMS {
            self.problems.push(text);
        } else {
            self.unlisted_problems += 1;
        }
    }
}

pub async fn run(db: &Db) -> DbResult<CheckReport> {
    run_with(db, &mut Silent).await
}

/// As `run`, telling `progress` how many seat events have been replayed.
pub async fn run_with(db: &Db, progress: &mut dyn Progress) -> DbResult<CheckReport> {
    let mut report = CheckReport::default();
    // Every event is replayed by its batch, and those of a learner by the learner too.
    let events: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) + COUNT(user_id) AS BIGINT) FROM seat_events")
            .fetch_one(db.pool())
            .await?;
    let total = u64::try_from(events).unwrap_or(0);
    check_batches(db, &mut report, progress, total).await?;
    check_users(db, &mut report, progress, total).await?;
    progress.step(REPLAYED, total, total);
    check_nfr(db, &mut report).await?;
    check_overview_counts(db, &mut report).await?;
    Ok(report)
}

/// A query of the ids of the rows breaking a rule, and the problem each of them is.
type Breaking = (&'static str, fn(i64) -> String);

/// What the overview sums instead of reading each company (migration 0023): each customer
/// company's count of active learners, and each batch's copy of its company's partner and
/// internal mark.
async fn check_overview_counts(db: &Db, report: &mut CheckReport) -> DbResult<()> {
    // Streamed, like every read of `check`: a broken database may list a row per company.
    let mut miscounted = sqlx::query_as::<_, (i64, Option<i64>, i64)>(
        "SELECT t.id, t.learners, t.active FROM (SELECT c.id, c.partner_id, cl.learners, \
           cl.partner_id AS counted_partner, \
           (SELECT COUNT(*) FROM users u WHERE u.company_id = c.id AND u.is_learner = 1 \
             AND u.deactivated_at IS NULL) AS active \
           FROM companies c LEFT JOIN company_learners cl ON cl.company_id = c.id \
           WHERE c.internal = 0) t \
         WHERE t.learners IS NULL OR t.counted_partner <> t.partner_id OR t.learners <> t.active \
         ORDER BY t.id",
    )
    .fetch(db.pool());
    while let Some((company, counted, active)) = miscounted.try_next().await? {
        match counted {
            Some(counted) => report.problem(format!(
                "company {company} counts {counted} active learners but has {active}"
            )),
            None => report.problem(format!(
                "company {company} has no count of its active learners, or one under another partner"
            )),
        }
    }
    drop(miscounted);
    // The overview counts a company's learners without a licence as its active learners less
    // its valid seats: that holds while every open seat is an active learner's of its company.
    // Its totals also take the seats of valid batches to be none of a company on a trial:
    // assigning a batch ends the trial and extends the licences to the batch's expiry.
    let listed: [Breaking; 4] = [
        (
            "SELECT cl.company_id FROM company_learners cl JOIN companies c ON c.id = cl.company_id \
             WHERE c.internal = 1 ORDER BY cl.company_id",
            |company| format!("company {company} is a partner's own but counted as a customer"),
        ),
        (
            // A seat whose user was deleted without giving it back holds no one (the key to the
            // user is ON DELETE SET NULL) but still counts as allocated.
            "SELECT s.id FROM seats s LEFT JOIN users u ON u.id = s.user_id \
             WHERE s.ended_at IS NULL AND (u.id IS NULL OR u.deactivated_at IS NOT NULL \
               OR u.is_learner = 0 OR u.company_id <> s.company_id) \
             ORDER BY s.id",
            |seat| format!("seat {seat} is open but not held by an active learner of its company"),
        ),
        (
            "SELECT b.id FROM licence_batches b JOIN companies c ON c.id = b.company_id \
             WHERE b.partner_id IS NULL OR b.partner_id <> c.partner_id \
               OR b.internal <> c.internal \
             ORDER BY b.id",
            |batch| {
                format!("batch {batch} names another partner or internal mark than its company's")
            },
        ),
        (
            "SELECT b.id FROM licence_batches b JOIN companies c ON c.id = b.company_id \
             WHERE b.nfr = 0 AND (c.trial_ends_at > b.assigned_at OR c.licensed_until IS NULL \
               OR c.licensed_until < b.expires_at) \
             ORDER BY b.id",
            |batch| format!("batch {batch} outlasts its company's licences or its trial"),
        ),
    ];
    for (sql, problem) in listed {
        let mut found = sqlx::query_scalar::<_, i64>(sql).fetch(db.pool());
        while let Some(id) = found.try_next().await? {
            report.problem(problem(id));
        }
    }
    Ok(())
}

/// Every partner has one internal company holding its NFR seats; NFR seats never expire, are
/// never due for the scheduler, and sit on no customer company.
async fn check_nfr(db: &Db, report: &mut CheckReport) -> DbResult<()> {
    report.partners = u64::try_from(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM partners")
            .fetch_one(db.pool())
            .await?,
    )
    .unwrap_or(0);
    let partners: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT p.id, p.nfr_seats, \
           (SELECT COUNT(*) FROM companies c WHERE c.partner_id = p.id AND c.internal = 1), \
           (SELECT COALESCE(SUM(b.quantity), 0) FROM licence_batches b \
             JOIN companies c ON c.id = b.company_id \
             WHERE c.partner_id = p.id AND c.internal = 1 AND b.nfr = 1) \
         FROM partners p ORDER BY p.id",
    )
    .fetch_all(db.pool())
    .await?;
    for (partner, owed, internal, held) in partners {
        if internal != 1 {
            report.problem(format!(
                "partner {partner} has {internal} internal companies, not 1"
            ));
        } else if held != owed {
            report.problem(format!(
                "partner {partner} holds {held} NFR seats, not its {owed}"
            ));
        }
    }
    let wrong: Vec<i64> = sqlx::query_scalar(
        "SELECT b.id FROM licence_batches b JOIN companies c ON c.id = b.company_id \
         WHERE b.nfr = 1 AND (c.internal = 0 OR b.expires_at <> $1 OR b.due_at IS NOT NULL) \
         ORDER BY b.id",
    )
    .bind(secs(NEVER))
    .fetch_all(db.pool())
    .await?;
    for batch in wrong {
        report.problem(format!(
            "batch {batch} holds NFR seats but expires, is scheduled, or sits on a customer"
        ));
    }
    Ok(())
}

/// The stored counts of the batch being replayed.
struct StoredBatch {
    quantity: i64,
    allocated: i64,
    held_seats: i64,
}

async fn check_batches(
    db: &Db,
    report: &mut CheckReport,
    progress: &mut dyn Progress,
    total: u64,
) -> DbResult<()> {
    let mut rows = sqlx::query(
        "SELECT b.id, b.company_id, b.quantity, b.allocated, COALESCE(h.held, 0) AS held, \
           e.company_id AS event_company_id, e.at, e.kind, e.user_id, e.quantity AS event_quantity, e.expires_at AS event_expires_at \
         FROM licence_batches b \
         LEFT JOIN (SELECT batch_id, COUNT(*) AS held FROM seats \
           WHERE end_reason IS NULL OR end_reason <> 'released' GROUP BY batch_id) h \
           ON h.batch_id = b.id \
         LEFT JOIN seat_events e ON e.batch_id = b.id \
         ORDER BY b.id, e.id",
    )
    .fetch(db.pool());
    let mut current: Option<(BatchReplay, StoredBatch, bool)> = None;
    while let Some(row) = rows.try_next().await? {
        let id = BatchId(row.try_get("id")?);
        if current.as_ref().map(|(r, _, _)| r.batch) != Some(id) {
            if let Some(done) = current.take() {
                finish_batch(done, report);
            }
            let stored = StoredBatch {
                quantity: row.try_get("quantity")?,
                allocated: row.try_get("allocated")?,
                held_seats: row.try_get("held")?,
            };
            current = Some((BatchReplay::new(id), stored, true));
        }
        let Some((replay, _, consistent)) = current.as_mut() else {
            continue;
        };
        let Some(event) = event_from_row(&row, id)? else {
            continue;
        };
        report.events += 1;
        progress.step(REPLAYED, report.events, total);
        // The ledger keeps no foreign key to its company (migration 0020): a batch's events
        // must name the company that holds the batch.
        let company: i64 = row.try_get("company_id")?;
        let named: i64 = row.try_get("event_company_id")?;
        if named != company {
            report.problem(format!(
                "batch {id} has an event naming company {named}, not its company {company}"
            ));
        }
        if *consistent && let Err(e) = replay.apply(&event) {
            report.problem(e.to_string());
            *consistent = false;
        }
    }
    if let Some(done) = current.take() {
        finish_batch(done, report);
    }
    drop(rows);
    let orphans: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT batch_id FROM seat_events \
         WHERE batch_id NOT IN (SELECT id FROM licence_batches) ORDER BY batch_id",
    )
    .fetch_all(db.pool())
    .await?;
    for batch in orphans {
        report.problem(format!("batch {batch} has events but no longer exists"));
    }
    Ok(())
}

fn finish_batch(
    (replay, stored, consistent): (BatchReplay, StoredBatch, bool),
    report: &mut CheckReport,
) {
    report.batches += 1;
    let batch = replay.batch;
    if stored.allocated > stored.quantity || stored.allocated < 0 {
        report.problem(format!(
            "batch {batch} has {} seats allocated of {}",
            stored.allocated, stored.quantity
        ));
    }
    if stored.allocated != stored.held_seats {
        report.problem(format!(
            "batch {batch} counts {} seats allocated but {} seats are held",
            stored.allocated, stored.held_seats
        ));
    }
    if !consistent {
        return;
    }
    if i64::from(replay.quantity) != stored.quantity {
        report.problem(format!(
            "batch {batch} has quantity {} but its events assigned {}",
            stored.quantity, replay.quantity
        ));
    }
    if i64::from(replay.allocated()) != stored.allocated {
        report.problem(format!(
            "batch {batch} counts {} seats allocated but its events give {}",
            stored.allocated,
            replay.allocated()
        ));
    }
}

async fn check_users(
    db: &Db,
    report: &mut CheckReport,
    progress: &mut dyn Progress,
    total: u64,
) -> DbResult<()> {
    let mut replayed = report.events;
    let mut rows = sqlx::query(
        "SELECT e.user_id, e.batch_id AS id, e.at, e.kind, e.quantity AS event_quantity, \
           e.expires_at AS event_expires_at, b.expires_at AS batch_expires_at \
         FROM seat_events e JOIN licence_batches b ON b.id = e.batch_id \
         WHERE e.user_id IS NOT NULL ORDER BY e.user_id, e.id",
    )
    .fetch(db.pool());
    let mut current: Option<(UserReplay, bool)> = None;
    while let Some(row) = rows.try_next().await? {
        let user = UserId(row.try_get("user_id")?);
        if current.as_ref().map(|(r, _)| r.user) != Some(user) {
            report.users += 1;
            current = Some((UserReplay::new(user), true));
        }
        let Some((replay, consistent)) = current.as_mut() else {
            continue;
        };
        let batch = BatchId(row.try_get("id")?);
        let Some(event) = event_from_row(&row, batch)? else {
            continue;
        };
        replayed += 1;
        progress.step(REPLAYED, replayed, total);
        let expires_at = instant(row.try_get("batch_expires_at")?);
        if *consistent && let Err(e) = replay.apply(&event, expires_at) {
            report.problem(e.to_string());
            *consistent = false;
        }
    }
    drop(rows);
    let doubled: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT user_id, COUNT(*) FROM seats WHERE ended_at IS NULL AND user_id IS NOT NULL \
         GROUP BY user_id HAVING COUNT(*) > 1 ORDER BY user_id",
    )
    .fetch_all(db.pool())
    .await?;
    for (user, seats) in doubled {
        report.problem(format!("user {user} holds {seats} open seats"));
    }
    Ok(())
}

/// The event on `row`, or `None` for a batch with no events (the left join's empty side).
fn event_from_row(row: &AnyRow, batch: BatchId) -> DbResult<Option<SeatEvent>> {
    let Some(kind) = row.try_get::<Option<String>, _>("kind")? else {
        return Ok(None);
    };
    let user = || -> DbResult<UserId> {
        Ok(UserId(
            row.try_get::<Option<i64>, _>("user_id")?.unwrap_or(0),
        ))
    };
    let kind = match kind.as_str() {
        "batch_assigned" => SeatEventKind::BatchAssigned {
            quantity: u32::try_from(
                row.try_get::<Option<i64>, _>("event_quantity")?
                    .unwrap_or(0),
            )
            .unwrap_or(0),
            expires_at: instant(
                row.try_get::<Option<i64>, _>("event_expires_at")?
                    .unwrap_or(0),
            ),
        },
        "seat_allocated" => SeatEventKind::SeatAllocated { user: user()? },
        "seat_released" => SeatEventKind::SeatReleased { user: user()? },
        _ => SeatEventKind::BatchExpired,
    };
    Ok(Some(SeatEvent {
        batch,
        at: instant(row.try_get("at")?),
        kind,
        actor: None,
        on_behalf_of: None,
    }))
}
