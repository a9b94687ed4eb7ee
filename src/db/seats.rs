//! Licence batches and seats. The seat invariant (allocated ≤ quantity) is enforced by the
//! database's CHECK and by conditional updates, so it holds under any concurrency; which batch a
//! seat comes from is decided by `domain::allocation`.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::{
    Actor, Backend, Db, DbError, DbResult, Scope, activity, instant, is_unique_violation, secs,
};
use crate::domain::allocation::{self, FreeBatch};
use crate::domain::company::batch_expires_at;
use crate::domain::schedule;
use crate::domain::{
    BatchId, CompanyFacts, CompanyId, OrderId, OrderKind, SeatCount, SeatEventKind, UserId,
};

/// Assigns a batch of `quantity` seats to `company`, valid 12 months from `now`. A running trial
/// ends at once (the company becomes Premium).
pub async fn assign_batch(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    order: Option<OrderId>,
    kind: OrderKind,
    quantity: SeatCount,
    actor: Actor,
    now: Timestamp,
) -> DbResult<BatchId> {
    let expires_at = batch_expires_at(now);
    let (trial_ends_at, licensed_until): (i64, Option<i64>) =
        sqlx::query_as("SELECT trial_ends_at, licensed_until FROM companies WHERE id = $1")
            .bind(company.0)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(DbError::NotFound)?;
    let after = CompanyFacts {
        trial_ends_at: instant(trial_ends_at),
        licensed_until: licensed_until.map(instant),
    }
    .after_assignment(now, expires_at);
    // The trial is over once licences are assigned: it owes no trial emails any more.
    sqlx::query(
        "UPDATE companies SET trial_ends_at = $1, licensed_until = $2, trial_due_at = NULL \
         WHERE id = $3",
    )
    .bind(secs(after.trial_ends_at))
    .bind(after.licensed_until.map(secs))
    .bind(company.0)
    .execute(&mut **tx)
    .await?;
    let batch: i64 = sqlx::query_scalar(
        "INSERT INTO licence_batches (company_id, order_id, kind, quantity, assigned_at, expires_at, \
         due_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(company.0)
    .bind(order.map(|o| o.0))
    .bind(kind.as_str())
    .bind(i64::from(quantity.get()))
    .bind(secs(now))
    .bind(secs(expires_at))
    .bind(secs(schedule::first_due(expires_at)))
    .fetch_one(&mut **tx)
    .await?;
    let batch = BatchId(batch);
    record(
        tx,
        company,
        batch,
        SeatEventKind::BatchAssigned {
            quantity: quantity.get(),
            expires_at,
        },
        actor,
        now,
    )
    .await?;
    Ok(batch)
}

/// How many times a PostgreSQL allocation retries after losing a race for the same batch row.
pub(crate) const ALLOCATION_ATTEMPTS: usize = 32;

/// Allocates one seat to each of `users`, all or nothing, first-expiring-first. Refuses with
/// `DbError::NoFreeSeats` (naming both numbers) when there are not enough free seats.
pub async fn allocate(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    users: &[UserId],
    actor: Actor,
    now: Timestamp,
) -> DbResult<()> {
    super::companies::facts(db, scope, company).await?;
    for _ in 0..ALLOCATION_ATTEMPTS {
        let mut tx = db.begin_write().await?;
        match allocate_in(&mut tx, db.backend(), company, users, actor, now).await {
            Ok(true) => return Ok(tx.commit().await?),
            // Another transaction took the seats this one planned on; plan again on fresh counts.
            Ok(false) => tx.rollback().await?,
            Err(e) => return Err(e),
        }
    }
    Err(DbError::Conflict(
        "too many people are allocating seats at once; try again".into(),
    ))
}

/// How many users one statement handles, well within both databases' bind limits.
const CHUNK: usize = 250;

/// `$first, $first+1, ...`: a list of `n` placeholders for `IN (...)`.
fn list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One attempt, set-based in chunks: `Ok(false)` when a batch row changed under the plan
/// (PostgreSQL only; the caller plans again).
pub(crate) async fn allocate_in(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    company: CompanyId,
    users: &[UserId],
    actor: Actor,
    now: Timestamp,
) -> DbResult<bool> {
    let mut distinct = users.to_vec();
    distinct.sort();
    distinct.dedup();
    for chunk in distinct.chunks(CHUNK) {
        // PostgreSQL: lock the users, so a deactivation waits for this allocation and then
        // releases the seat it made. `+company_id`: probe the id list, not the company's whole
        // index (see licences.rs).
        let lock = if backend == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let eligible = format!(
            "SELECT id FROM users WHERE +company_id = $1 AND deactivated_at IS NULL AND id IN ({}){lock}",
            list(2, chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, i64>(&eligible).bind(company.0);
        for user in chunk {
            query = query.bind(user.0);
        }
        if query.fetch_all(&mut **tx).await?.len() != chunk.len() {
            return Err(DbError::NotFound);
        }
        // A seat whose batch has expired no longer counts as the user's seat.
        let expired = format!(
            "UPDATE seats SET end_reason = 'batch_expired', ended_at = \
               (SELECT b.expires_at FROM licence_batches b WHERE b.id = seats.batch_id) \
             WHERE ended_at IS NULL AND user_id IN ({}) \
               AND (SELECT b.expires_at FROM licence_batches b WHERE b.id = seats.batch_id) <= $1",
            list(2, chunk.len())
        );
        let mut query = sqlx::query(&expired).bind(secs(now));
        for user in chunk {
            query = query.bind(user.0);
        }
        query.execute(&mut **tx).await?;
        let active = format!(
            "SELECT user_id FROM seats WHERE ended_at IS NULL AND user_id IN ({}) LIMIT 1",
            list(1, chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, i64>(&active);
        for user in chunk {
            query = query.bind(user.0);
        }
        if let Some(user) = query.fetch_optional(&mut **tx).await? {
            return Err(DbError::Conflict(format!(
                "user {user} already has an active licence"
            )));
        }
    }
    let batches = free_batches(tx, company, now).await?;
    let wanted = u32::try_from(distinct.len()).unwrap_or(u32::MAX);
    let plan = allocation::plan(&batches, wanted, now)?;
    let mut remaining = distinct.as_slice();
    for (batch, take) in plan.0 {
        let updated = sqlx::query(
            "UPDATE licence_batches SET allocated = allocated + $1 \
             WHERE id = $2 AND allocated + $1 <= quantity AND expires_at > $3",
        )
        .bind(i64::from(take))
        .bind(batch.0)
        .bind(secs(now))
        .execute(&mut **tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        let (these, rest) = remaining.split_at(take as usize);
        remaining = rest;
        for chunk in these.chunks(CHUNK) {
            // Set-based from the id list: few bind parameters per statement, since the cost of
            // binding grows faster than their number.
            let ids = list(4, chunk.len());
            let seats_sql = format!(
                "INSERT INTO seats (batch_id, company_id, user_id, allocated_at) \
                 SELECT $1, $2, u.id, $3 FROM users u WHERE u.id IN ({ids}) RETURNING id"
            );
            let mut query = sqlx::query_scalar::<_, i64>(&seats_sql)
                .bind(batch.0)
                .bind(company.0)
                .bind(secs(now));
            for user in chunk {
                query = query.bind(user.0);
            }
            let seat_ids = query.fetch_all(&mut **tx).await.map_err(|e| {
                if is_unique_violation(&e) {
                    DbError::Conflict("a learner already has an active licence".into())
                } else {
                    DbError::from(e)
                }
            })?;
            let events_sql = format!(
                "INSERT INTO seat_events (at, kind, company_id, batch_id, user_id, actor_user_id, \
                 on_behalf_of_company_id) SELECT s.allocated_at, 'seat_allocated', s.company_id, \
                 s.batch_id, s.user_id, $1, $2 FROM seats s WHERE s.id IN ({}) ORDER BY s.id",
                list(3, seat_ids.len())
            );
            let mut query = sqlx::query(&events_sql)
                .bind(actor.user.map(|u| u.0))
                .bind(actor.on_behalf_of.map(|c| c.0));
            for seat in &seat_ids {
                query = query.bind(*seat);
            }
            query.execute(&mut **tx).await?;
        }
    }
    let learners = if distinct.len() == 1 {
        "1 learner".to_owned()
    } else {
        format!("{} learners", distinct.len())
    };
    activity::record(
        tx,
        company,
        "licences_allocated",
        &format!("Allocated licences to {learners}"),
        actor,
        now,
    )
    .await?;
    Ok(true)
}

/// The company's batches that are valid at `now` and have free seats.
async fn free_batches(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<Vec<FreeBatch>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT id, expires_at, quantity - allocated FROM licence_batches \
         WHERE company_id = $1 AND expires_at > $2 AND allocated < quantity",
    )
    .bind(company.0)
    .bind(secs(now))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, expires_at, free)| FreeBatch {
            id: BatchId(id),
            expires_at: instant(expires_at),
            free: u32::try_from(free).unwrap_or(0),
        })
        .collect())
}

/// Returns a user's seat to its batch, with the batch's remaining validity.
/// Returns `false` when the user held no seat.
pub async fn release(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    user: UserId,
    actor: Actor,
    now: Timestamp,
) -> DbResult<bool> {
    super::companies::facts(db, scope, company).await?;
    let mut tx = db.begin_write().await?;
    let released = release_in(&mut tx, company, user, actor, now).await?;
    tx.commit().await?;
    Ok(released)
}

/// The release itself, inside a caller's transaction (e.g. deactivating the user).
pub async fn release_in(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    user: UserId,
    actor: Actor,
    now: Timestamp,
) -> DbResult<bool> {
    let seat: Option<i64> = sqlx::query_scalar(
        "UPDATE seats SET ended_at = $1, end_reason = 'released' \
         WHERE user_id = $2 AND company_id = $3 AND ended_at IS NULL RETURNING batch_id",
    )
    .bind(secs(now))
    .bind(user.0)
    .bind(company.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(batch) = seat else {
        return Ok(false);
    };
    sqlx::query("UPDATE licence_batches SET allocated = allocated - 1 WHERE id = $1")
        .bind(batch)
        .execute(&mut **tx)
        .await?;
    record(
        tx,
        company,
        BatchId(batch),
        SeatEventKind::SeatReleased { user },
        actor,
        now,
    )
    .await?;
    Ok(true)
}

/// Appends one event to the seat ledger.
pub(crate) async fn record(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    batch: BatchId,
    kind: SeatEventKind,
    actor: Actor,
    now: Timestamp,
) -> DbResult<()> {
    let (user, quantity, expires_at) = match kind {
        SeatEventKind::BatchAssigned {
            quantity,
            expires_at,
        } => (None, Some(i64::from(quantity)), Some(secs(expires_at))),
        SeatEventKind::SeatAllocated { user } | SeatEventKind::SeatReleased { user } => {
            (Some(user.0), None, None)
        }
        SeatEventKind::BatchExpired => (None, None, None),
    };
    sqlx::query(
        "INSERT INTO seat_events (at, kind, company_id, batch_id, user_id, quantity, expires_at, \
         actor_user_id, on_behalf_of_company_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(secs(now))
    .bind(kind.as_str())
    .bind(company.0)
    .bind(batch.0)
    .bind(user)
    .bind(quantity)
    .bind(expires_at)
    .bind(actor.user.map(|u| u.0))
    .bind(actor.on_behalf_of.map(|c| c.0))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Seat counts of one company at `now`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeatCounts {
    pub total: i64,
    pub allocated: i64,
}

pub async fn counts(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<SeatCounts> {
    super::companies::facts(db, scope, company).await?;
    totals(db.pool(), company, now).await
}

/// The seats of the company's valid batches: the one place that says how many are free.
pub(crate) async fn totals<'e, E>(
    executor: E,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<SeatCounts>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let (total, allocated): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(quantity), 0), COALESCE(SUM(allocated), 0) FROM licence_batches \
         WHERE company_id = $1 AND expires_at > $2",
    )
    .bind(company.0)
    .bind(secs(now))
    .fetch_one(executor)
    .await?;
    Ok(SeatCounts { total, allocated })
}

impl SeatCounts {
    pub fn free(&self) -> i64 {
        self.total - self.allocated
    }
}
