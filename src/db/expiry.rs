//! The scheduler's storage side. Each trial and batch carries the instant it is next due, so
//! finding what is due is an index range read of exactly the due rows; each is then locked,
//! processed by `ops::expiry` and moved on, in one transaction.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::seats;
use super::{Actor, Backend, Db, DbResult, instant, secs};
use crate::domain::{BatchId, CompanyId, SeatEventKind};

/// Up to `limit` companies whose trial needs a look at `now`.
pub async fn due_trials(db: &Db, now: Timestamp, limit: u32) -> DbResult<Vec<CompanyId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM companies WHERE trial_due_at <= $1 ORDER BY trial_due_at, id LIMIT $2",
    )
    .bind(secs(now))
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await?;
    Ok(ids.into_iter().map(CompanyId).collect())
}

/// Up to `limit` batches whose expiry needs a look at `now`.
pub async fn due_batches(db: &Db, now: Timestamp, limit: u32) -> DbResult<Vec<BatchId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM licence_batches WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2",
    )
    .bind(secs(now))
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await?;
    Ok(ids.into_iter().map(BatchId).collect())
}

/// A trial that is due, read under lock.
#[derive(Clone, Debug)]
pub struct DueTrial {
    pub name: String,
    pub time_zone: String,
    pub ends_at: Timestamp,
}

/// Locks company `company` if its trial is still due at `now` (a second scheduler waits, then
/// finds it no longer due).
pub async fn lock_due_trial(
    tx: &mut Transaction<'static, Any>,
    for_update: &str,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<Option<DueTrial>> {
    let row: Option<(String, String, i64)> = sqlx::query_as(&format!(
        "SELECT name, time_zone, trial_ends_at FROM companies WHERE id = $1 AND trial_due_at <= $2{for_update}"
    ))
    .bind(company.0)
    .bind(secs(now))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(name, time_zone, ends_at)| DueTrial {
        name,
        time_zone,
        ends_at: instant(ends_at),
    }))
}

pub async fn set_trial_due(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    next: Option<Timestamp>,
) -> DbResult<()> {
    sqlx::query("UPDATE companies SET trial_due_at = $1 WHERE id = $2")
        .bind(next.map(secs))
        .bind(company.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A batch that is due, read under lock.
#[derive(Clone, Debug)]
pub struct DueBatch {
    pub company: CompanyId,
    pub company_name: String,
    pub time_zone: String,
    pub quantity: u32,
    pub expires_at: Timestamp,
}

pub async fn lock_due_batch(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    batch: BatchId,
    now: Timestamp,
) -> DbResult<Option<DueBatch>> {
    // Only the batch: writers that add learners hold their company's key first and the batch
    // after it, so locking the company here too could close a circle with them.
    let row: Option<(i64, i64, i64, String, String)> = sqlx::query_as(&format!(
        "SELECT b.company_id, b.quantity, b.expires_at, c.name, c.time_zone \
         FROM licence_batches b JOIN companies c ON c.id = b.company_id \
         WHERE b.id = $1 AND b.due_at <= $2{}",
        backend.for_update_of("b")
    ))
    .bind(batch.0)
    .bind(secs(now))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(
        |(company, quantity, expires_at, company_name, time_zone)| DueBatch {
            company: CompanyId(company),
            company_name,
            time_zone,
            quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
            expires_at: instant(expires_at),
        },
    ))
}

/// The batch's expiry itself: its open seats end at its expiry, and the ledger says so.
pub async fn expire_batch(
    tx: &mut Transaction<'static, Any>,
    batch: BatchId,
    due: &DueBatch,
) -> DbResult<()> {
    seats::end_expired_in_batch(tx, batch, due.expires_at).await?;
    let event = SeatEventKind::BatchExpired;
    seats::record(tx, due.company, batch, event, Actor::SYSTEM, due.expires_at).await
}

/// Up to `limit` of the learners whose seat ended with `batch` ("Name <email>"), and how many
/// there are in all.
pub async fn expired_learners(
    tx: &mut Transaction<'static, Any>,
    batch: BatchId,
    limit: u32,
) -> DbResult<(Vec<String>, u64)> {
    let named: Vec<String> = sqlx::query_scalar(
        "SELECT TRIM(u.first_name || ' ' || u.last_name) || ' <' || u.email || '>' \
         FROM seats s JOIN users u ON u.id = s.user_id \
         WHERE s.batch_id = $1 AND s.end_reason = 'batch_expired' \
         ORDER BY u.last_name, u.first_name, u.id LIMIT $2",
    )
    .bind(batch.0)
    .bind(i64::from(limit))
    .fetch_all(&mut **tx)
    .await?;
    let all: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM seats WHERE batch_id = $1 AND end_reason = 'batch_expired' \
         AND user_id IS NOT NULL",
    )
    .bind(batch.0)
    .fetch_one(&mut **tx)
    .await?;
    Ok((named, u64::try_from(all).unwrap_or(0)))
}

pub async fn set_batch_due(
    tx: &mut Transaction<'static, Any>,
    batch: BatchId,
    next: Option<Timestamp>,
) -> DbResult<()> {
    sqlx::query("UPDATE licence_batches SET due_at = $1 WHERE id = $2")
        .bind(next.map(secs))
        .bind(batch.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
