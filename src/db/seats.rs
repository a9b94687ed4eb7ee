//! Licence batches and seats. The seat invariant (allocated ≤ quantity) is enforced by the
//! database's CHECK and by conditional updates, so it holds under any concurrency; which batch a
//! seat comes from is decided by `domain::allocation`.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::{
    Actor, Backend, DbError, DbResult, ID_LIST_CHUNK, id_list, id_rows, in_id_list, instant,
    is_unique_violation, secs,
};
use crate::domain::allocation::{self, FreeBatch};
use crate::domain::company::{NEVER, batch_expires_at};
use crate::domain::schedule;
use crate::domain::{
    BatchId, CompanyFacts, CompanyId, OrderId, OrderKind, SeatCount, SeatEventKind, UserId,
};

/// `alias` is a batch whose seats are valid at `$now`: the one spelling of "a valid batch".
pub(crate) fn valid_batch(alias: &str, now: usize) -> String {
    format!("{alias}.expires_at > ${now}")
}

/// Assigns a batch of `quantity` seats of `kind` to `company`, valid 12 months from `now`. A
/// running trial ends at once (the company becomes Premium).
pub async fn assign_batch(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    order: Option<OrderId>,
    kind: OrderKind,
    quantity: SeatCount,
    actor: Actor,
    now: Timestamp,
) -> DbResult<BatchId> {
    let batch = NewBatch {
        order,
        kind,
        nfr: false,
        quantity,
        expires_at: batch_expires_at(now),
    };
    insert_batch(tx, company, &batch, actor, now).await
}

/// Gives a partner's internal `company` its NFR seats: a batch that never expires.
pub async fn assign_nfr(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    quantity: SeatCount,
    actor: Actor,
    now: Timestamp,
) -> DbResult<BatchId> {
    let batch = NewBatch {
        order: None,
        kind: OrderKind::Premium,
        nfr: true,
        quantity,
        expires_at: NEVER,
    };
    insert_batch(tx, company, &batch, actor, now).await
}

struct NewBatch {
    order: Option<OrderId>,
    kind: OrderKind,
    nfr: bool,
    quantity: SeatCount,
    expires_at: Timestamp,
}

/// Stores `batch` on `company` with its ledger event, and moves the company's facts on.
async fn insert_batch(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    batch: &NewBatch,
    actor: Actor,
    now: Timestamp,
) -> DbResult<BatchId> {
    let (trial_ends_at, licensed_until, managed_until): (i64, Option<i64>, Option<i64>) =
        sqlx::query_as(
            "SELECT trial_ends_at, licensed_until, managed_until FROM companies WHERE id = $1",
        )
        .bind(company.0)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(DbError::NotFound)?;
    let after = CompanyFacts {
        trial_ends_at: instant(trial_ends_at),
        licensed_until: licensed_until.map(instant),
        managed_until: managed_until.map(instant),
    }
    .after_assignment(now, batch.expires_at, batch.kind);
    // The trial is over once licences are assigned: it owes no trial emails any more.
    sqlx::query(
        "UPDATE companies SET trial_ends_at = $1, licensed_until = $2, managed_until = $3, \
         trial_due_at = NULL WHERE id = $4",
    )
    .bind(secs(after.trial_ends_at))
    .bind(after.licensed_until.map(secs))
    .bind(after.managed_until.map(secs))
    .bind(company.0)
    .execute(&mut **tx)
    .await?;
    // The batch's `partner_id` and `internal` are its company's, copied by a trigger (migration
    // 0023): AFTER the insert on SQLite, so RETURNING would read them NULL there.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO licence_batches (company_id, order_id, kind, nfr, quantity, assigned_at, \
         expires_at, due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(company.0)
    .bind(batch.order.map(|o| o.0))
    .bind(batch.kind.as_str())
    .bind(i64::from(batch.nfr))
    .bind(i64::from(batch.quantity.get()))
    .bind(secs(now))
    .bind(secs(batch.expires_at))
    .bind(schedule::first_due(batch.expires_at).map(secs))
    .fetch_one(&mut **tx)
    .await?;
    let id = BatchId(id);
    let event = SeatEventKind::BatchAssigned {
        quantity: batch.quantity.get(),
        expires_at: batch.expires_at,
    };
    record(tx, company, id, event, actor, now).await?;
    Ok(id)
}

/// The expiry of a seat's batch, in an `UPDATE seats`.
const SEAT_EXPIRY: &str =
    "(SELECT b.expires_at FROM licence_batches b WHERE b.id = seats.batch_id)";

/// Ends the open seats of `batch` at its expiry, once it has expired by `now` (the scheduler,
/// when the batch expires).
pub(crate) async fn end_expired_in_batch(
    tx: &mut Transaction<'static, Any>,
    batch: BatchId,
    now: Timestamp,
) -> DbResult<()> {
    let sql = format!(
        "UPDATE seats SET end_reason = 'batch_expired', ended_at = {SEAT_EXPIRY} \
         WHERE ended_at IS NULL AND batch_id = $2 AND {SEAT_EXPIRY} <= $1"
    );
    sqlx::query(&sql)
        .bind(secs(now))
        .bind(batch.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The same for the open seats of the users in `ids` (an `id_list`): an allocation does it
/// first, in case the pass has not run yet, so a lapsed seat never blocks a new one.
async fn end_expired_of_users(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    ids: &str,
    now: Timestamp,
) -> DbResult<()> {
    let sql = format!(
        "UPDATE seats SET end_reason = 'batch_expired', ended_at = {SEAT_EXPIRY} \
         WHERE ended_at IS NULL AND user_id IN {} AND {SEAT_EXPIRY} <= $1",
        in_id_list(backend, 2)
    );
    sqlx::query(&sql)
        .bind(secs(now))
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What the caller has already done about the users an allocation seats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vetted {
    /// Nothing: the allocation reads and locks them as learners of the company.
    No,
    /// This transaction read them as learners of the company who are not deactivated, locking
    /// them as it read (`licences::LearnerRead::Lock`): a renewal, whose lookup by email did
    /// both, is spared doing them again.
    Locked,
}

/// Allocates one seat to each of `users` (learners of `company`), all or nothing,
/// first-expiring-first, inside the caller's transaction. Refuses with `NoFreeSeats` (naming both
/// numbers) when there are not enough free seats; `Ok(None)` when a batch row changed under the
/// plan (PostgreSQL only), for `Db::write_retrying` to plan again.
pub(crate) async fn allocate_in(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    company: CompanyId,
    users: &[UserId],
    vetted: Vetted,
    actor: Actor,
    now: Timestamp,
) -> DbResult<Option<()>> {
    let mut distinct = users.to_vec();
    distinct.sort();
    distinct.dedup();
    for chunk in distinct.chunks(ID_LIST_CHUNK) {
        let ids = id_list(backend, chunk.iter().map(|u| u.0));
        if vetted == Vetted::No {
            // Locks the users on PostgreSQL, so a deactivation waits for this allocation and
            // then releases the seat it made. `+company_id`: probe the id list, not the
            // company's whole index (unary plus is a no-op on both databases).
            let eligible = format!(
                "SELECT COUNT(*) FROM (SELECT id FROM users WHERE +company_id = $1 \
                 AND is_learner = 1 AND deactivated_at IS NULL AND id IN {}{}) eligible",
                in_id_list(backend, 2),
                backend.for_update()
            );
            let found: i64 = sqlx::query_scalar(&eligible)
                .bind(company.0)
                .bind(&ids)
                .fetch_one(&mut **tx)
                .await?;
            if found != chunk.len() as i64 {
                return Err(DbError::NotFound);
            }
        }
        end_expired_of_users(tx, backend, &ids, now).await?;
        let held = format!(
            "SELECT user_id FROM seats WHERE ended_at IS NULL AND user_id IN {} LIMIT 1",
            in_id_list(backend, 1)
        );
        let held = sqlx::query_scalar::<_, i64>(&held)
            .bind(&ids)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(user) = held {
            return Err(DbError::SeatHeld(UserId(user)));
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
            return Ok(None);
        }
        let (these, rest) = remaining.split_at(take as usize);
        remaining = rest;
        for chunk in these.chunks(ID_LIST_CHUNK) {
            insert_seats(tx, backend, company, batch, chunk, actor, now).await?;
        }
    }
    Ok(Some(()))
}

/// Inserts the seats of `users` in `batch` and their ledger events, each in one statement
/// straight from the id list, in user order: an event holds only what the caller knows (its
/// seat's user, batch, company and instant), so neither statement reads another table.
async fn insert_seats(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    company: CompanyId,
    batch: BatchId,
    users: &[UserId],
    actor: Actor,
    now: Timestamp,
) -> DbResult<()> {
    let ids = id_list(backend, users.iter().map(|u| u.0));
    let seats = format!(
        "INSERT INTO seats (batch_id, company_id, user_id, allocated_at) \
         SELECT $1, $2, u.id, $3 FROM {} ORDER BY u.id",
        id_rows(backend, 4)
    );
    sqlx::query(&seats)
        .bind(batch.0)
        .bind(company.0)
        .bind(secs(now))
        .bind(&ids)
        .execute(&mut **tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                DbError::SeatHeld(users[0])
            } else {
                DbError::from(e)
            }
        })?;
    let events = format!(
        "INSERT INTO seat_events (at, kind, company_id, batch_id, user_id, actor_user_id, \
         on_behalf_of_company_id) SELECT $3, 'seat_allocated', $2, $1, u.id, $5, $6 \
         FROM {} ORDER BY u.id",
        id_rows(backend, 4)
    );
    sqlx::query(&events)
        .bind(batch.0)
        .bind(company.0)
        .bind(secs(now))
        .bind(ids)
        .bind(actor.user.map(|u| u.0))
        .bind(actor.on_behalf_of.map(|c| c.0))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The company's batches that are valid at `now` and have free seats.
async fn free_batches(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<Vec<FreeBatch>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT b.id, b.expires_at, b.quantity - b.allocated FROM licence_batches b \
         WHERE b.company_id = $1 AND {} AND b.allocated < b.quantity",
        valid_batch("b", 2)
    ))
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

/// Returns a user's seat to its batch, with the batch's remaining validity, inside the caller's
/// transaction. Returns the batch, or `None` when the user held no seat.
pub async fn release_in(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    user: UserId,
    actor: Actor,
    now: Timestamp,
) -> DbResult<Option<BatchId>> {
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
        return Ok(None);
    };
    sqlx::query("UPDATE licence_batches SET allocated = allocated - 1 WHERE id = $1")
        .bind(batch)
        .execute(&mut **tx)
        .await?;
    let event = SeatEventKind::SeatReleased { user };
    record(tx, company, BatchId(batch), event, actor, now).await?;
    Ok(Some(BatchId(batch)))
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

/// Seat counts of one company at an instant: the one place that says how many are free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeatCounts {
    pub total: i64,
    pub allocated: i64,
}

impl SeatCounts {
    pub fn free(&self) -> i64 {
        self.total - self.allocated
    }
}

pub(crate) fn totals_sql() -> String {
    format!(
        "SELECT COALESCE(SUM(b.quantity), 0), COALESCE(SUM(b.allocated), 0) \
         FROM licence_batches b WHERE b.company_id = $1 AND {}",
        valid_batch("b", 2)
    )
}

/// The seats of the company's valid batches.
pub async fn totals<'e, E>(executor: E, company: CompanyId, now: Timestamp) -> DbResult<SeatCounts>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let (total, allocated): (i64, i64) = sqlx::query_as(&totals_sql())
        .bind(company.0)
        .bind(secs(now))
        .fetch_one(executor)
        .await?;
    Ok(SeatCounts { total, allocated })
}
