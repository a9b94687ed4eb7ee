//! The scheduler's storage side: which trials and batches are due, and processing one of them
//! (state change and emails in one transaction). Each row carries the instant it is next due,
//! so finding what is due is an index range read of exactly the due rows.

use jiff::Timestamp;

use super::outbox;
use super::{Actor, Backend, Db, DbResult, instant, seats, secs};
use crate::domain::schedule::{Notice, expiry_step};
use crate::domain::{BatchId, CompanyId, SeatEventKind};
use crate::email::messages;
use crate::format::date;

/// How many affected learners a batch-expired email names; the rest are counted.
const NAMED_LEARNERS: i64 = 20;

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

fn lock(db: &Db) -> &'static str {
    // SQLite's write transaction already excludes other writers; PostgreSQL locks the row so a
    // second scheduler waits, then sees it is no longer due.
    match db.backend() {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

/// Handles one due trial: queues the reminder or the expiry email to the company's managers and
/// moves the company's due instant on. Returns the notice sent, if any.
pub async fn process_trial(
    db: &Db,
    company: CompanyId,
    public_url: &str,
    now: Timestamp,
) -> DbResult<Option<Notice>> {
    let mut tx = db.begin_write().await?;
    let row: Option<(String, String, i64)> = sqlx::query_as(&format!(
        "SELECT name, time_zone, trial_ends_at FROM companies WHERE id = $1 AND trial_due_at <= $2{}",
        lock(db)
    ))
    .bind(company.0)
    .bind(secs(now))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((name, time_zone, ends_at)) = row else {
        return Ok(None);
    };
    let ends = instant(ends_at);
    let step = expiry_step(ends, now);
    if let Some(notice) = step.notice {
        let on = date(ends, &time_zone);
        let (kind, email) = match notice {
            Notice::EndsSoon => (
                "trial_ending",
                messages::trial_ending(&name, &on, &format!("{public_url}/company/licenses")),
            ),
            Notice::Ended => (
                "trial_expired",
                messages::trial_expired(&name, &on, &format!("{public_url}/landing")),
            ),
        };
        let event = format!("{kind}:company:{company}:{ends_at}");
        outbox::queue_to_managers(&mut tx, company, kind, &event, email.render(), now).await?;
    }
    sqlx::query("UPDATE companies SET trial_due_at = $1 WHERE id = $2")
        .bind(step.next_due.map(secs))
        .bind(company.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(step.notice)
}

/// Handles one due batch: the reminder, or the expiry itself (its seats end, its learners become
/// Expired, a ledger event and the email naming them).
pub async fn process_batch(
    db: &Db,
    batch: BatchId,
    public_url: &str,
    now: Timestamp,
) -> DbResult<Option<Notice>> {
    let mut tx = db.begin_write().await?;
    let row: Option<(i64, i64, i64, String, String)> = sqlx::query_as(&format!(
        "SELECT b.company_id, b.quantity, b.expires_at, c.name, c.time_zone \
         FROM licence_batches b JOIN companies c ON c.id = b.company_id \
         WHERE b.id = $1 AND b.due_at <= $2{}",
        lock(db)
    ))
    .bind(batch.0)
    .bind(secs(now))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((company, quantity, expires_at, name, time_zone)) = row else {
        return Ok(None);
    };
    let company = CompanyId(company);
    let seats_count = u32::try_from(quantity).unwrap_or(u32::MAX);
    let expires = instant(expires_at);
    let step = expiry_step(expires, now);
    let on = date(expires, &time_zone);
    let order_url = format!("{public_url}/company/licenses");
    match step.notice {
        Some(Notice::EndsSoon) => {
            let email = messages::batch_expiring(&name, seats_count, &on, &order_url);
            let event = format!("batch_expiring:batch:{batch}:{expires_at}");
            outbox::queue_to_managers(
                &mut tx,
                company,
                "batch_expiring",
                &event,
                email.render(),
                now,
            )
            .await?;
        }
        Some(Notice::Ended) => {
            sqlx::query(
                "UPDATE seats SET ended_at = $1, end_reason = 'batch_expired' \
                 WHERE batch_id = $2 AND ended_at IS NULL",
            )
            .bind(expires_at)
            .bind(batch.0)
            .execute(&mut *tx)
            .await?;
            seats::record(
                &mut tx,
                company,
                batch,
                SeatEventKind::BatchExpired,
                Actor::SYSTEM,
                expires,
            )
            .await?;
            let learners: Vec<String> = sqlx::query_scalar(
                "SELECT TRIM(u.first_name || ' ' || u.last_name) || ' <' || u.email || '>' \
                 FROM seats s JOIN users u ON u.id = s.user_id \
                 WHERE s.batch_id = $1 AND s.end_reason = 'batch_expired' \
                 ORDER BY u.last_name, u.first_name, u.id LIMIT $2",
            )
            .bind(batch.0)
            .bind(NAMED_LEARNERS)
            .fetch_all(&mut *tx)
            .await?;
            let affected: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM seats WHERE batch_id = $1 AND end_reason = 'batch_expired' \
                 AND user_id IS NOT NULL",
            )
            .bind(batch.0)
            .fetch_one(&mut *tx)
            .await?;
            let more = u64::try_from(affected)
                .unwrap_or(0)
                .saturating_sub(learners.len() as u64);
            let email =
                messages::batch_expired(&name, seats_count, &on, &learners, more, &order_url);
            let event = format!("batch_expired:batch:{batch}:{expires_at}");
            outbox::queue_to_managers(
                &mut tx,
                company,
                "batch_expired",
                &event,
                email.render(),
                now,
            )
            .await?;
        }
        None => {}
    }
    sqlx::query("UPDATE licence_batches SET due_at = $1 WHERE id = $2")
        .bind(step.next_due.map(secs))
        .bind(batch.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(step.notice)
}
