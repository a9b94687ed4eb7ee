//! The outbox: emails queued in the transaction of the change that caused them, leased and
//! delivered by the worker, retried with backoff, and kept for the operator's Mailbox page.

use jiff::{SignedDuration, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Backend, Binds, Db, DbError, DbResult, Page, TextRows, instant, secs};
use crate::domain::schedule::retry_at;
use crate::domain::{CompanyId, UserId};
use crate::email::{RenderedEmail, message_id, without_link_tokens};

/// How long a worker owns the emails it leased; a worker that dies frees them after this. It
/// outlasts a whole round of sends at the transport's timeout (`jobs::delivery`).
pub const LEASE: SignedDuration = SignedDuration::from_secs(600);

/// One email to queue. The key names the event and the recipient, so the same event queues the
/// same email once however often it is processed.
pub struct NewEmail<'a> {
    pub idempotency_key: String,
    pub kind: &'a str,
    pub company: Option<CompanyId>,
    pub recipient: &'a str,
    pub email: RenderedEmail,
}

/// Queues `email` unless an email with its key was already queued; true when it was queued now.
pub async fn queue(
    tx: &mut Transaction<'static, Any>,
    email: &NewEmail<'_>,
    now: Timestamp,
) -> DbResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO outbox (idempotency_key, message_id, kind, company_id, recipient, subject, \
         body_text, body_html, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&email.idempotency_key)
    .bind(message_id(&email.idempotency_key))
    .bind(email.kind)
    .bind(email.company.map(|c| c.0))
    .bind(email.recipient)
    .bind(&email.email.subject)
    .bind(&email.email.text)
    .bind(&email.email.html)
    .bind(secs(now))
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// `queue` for each of `emails` with one statement.
pub async fn queue_many(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    emails: &[NewEmail<'_>],
    now: Timestamp,
) -> DbResult<()> {
    if emails.is_empty() {
        return Ok(());
    }
    let mut rows = TextRows::new(&[
        "idempotency_key",
        "message_id",
        "kind",
        "company_id",
        "recipient",
        "subject",
        "body_text",
        "body_html",
    ]);
    for email in emails {
        rows.push(vec![
            Some(email.idempotency_key.clone()),
            Some(message_id(&email.idempotency_key)),
            Some(email.kind.to_owned()),
            email.company.map(|c| c.0.to_string()),
            Some(email.recipient.to_owned()),
            Some(email.email.subject.clone()),
            Some(email.email.text.clone()),
            Some(email.email.html.clone()),
        ]);
    }
    let mut binds = Binds::default();
    let source = rows.source(backend, &mut binds);
    let now = binds.int(secs(now));
    // `WHERE` before `ON CONFLICT` keeps SQLite from reading the ON as a join's.
    let sql = format!(
        "INSERT INTO outbox (idempotency_key, message_id, kind, company_id, recipient, subject, \
         body_text, body_html, created_at, next_attempt_at) \
         SELECT r.idempotency_key, r.message_id, r.kind, CAST(r.company_id AS BIGINT), \
         r.recipient, r.subject, r.body_text, r.body_html, {now}, {now} FROM {source} \
         WHERE r.n > 0 ORDER BY r.n ON CONFLICT (idempotency_key) DO NOTHING"
    );
    binds
        .apply_rows(sqlx::query(&sql))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// An email as stored.
#[derive(Clone, Debug)]
pub struct OutboxEmail {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub created_at: Timestamp,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
    /// Until when the worker that read this row owns it; outcomes are recorded only under it.
    pub leased_until: Option<Timestamp>,
}

const COLUMNS: &str = "id, message_id, kind, recipient, subject, body_text, body_html, created_at, \
    status, attempts, next_attempt_at, last_error, delivered_at, leased_until";

fn from_row(r: &AnyRow) -> Result<OutboxEmail, sqlx::Error> {
    Ok(OutboxEmail {
        id: r.try_get("id")?,
        message_id: r.try_get("message_id")?,
        kind: r.try_get("kind")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        text: r.try_get("body_text")?,
        html: r.try_get("body_html")?,
        created_at: instant(r.try_get("created_at")?),
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: instant(r.try_get("next_attempt_at")?),
        last_error: r.try_get("last_error")?,
        delivered_at: r.try_get::<Option<i64>, _>("delivered_at")?.map(instant),
        leased_until: r.try_get::<Option<i64>, _>("leased_until")?.map(instant),
    })
}

/// Leases up to `limit` pending emails whose attempt is due, counting the attempt. The rows are
/// chosen once, in a materialised CTE: as an `IN (subquery)` PostgreSQL may run the locking
/// subquery again and lease far more than `limit`. Two workers
/// never lease the same email: the lease is a conditional update.
pub async fn lease_due(db: &Db, now: Timestamp, limit: u32) -> DbResult<Vec<OutboxEmail>> {
    let skip_locked = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut tx = db.begin_write().await?;
    let rows = sqlx::query(&format!(
        "WITH due AS MATERIALIZED (SELECT id FROM outbox WHERE status = 'pending' \
           AND next_attempt_at <= $2 AND (leased_until IS NULL OR leased_until <= $2) \
           ORDER BY next_attempt_at, id LIMIT $3{skip_locked}) \
         UPDATE outbox SET leased_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM due) AND status = 'pending' AND (leased_until IS NULL OR leased_until <= $2) \
         RETURNING {COLUMNS}"
    ))
    .bind(secs(now + LEASE))
    .bind(secs(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut emails = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    emails.sort_by_key(|e| e.id);
    Ok(emails)
}

/// Records a delivery: `status` is `sent` (SMTP accepted it) or `kept` (local mailbox). Only
/// the worker still holding the lease records it. A sent email keeps no working link: its
/// recipient holds the only copy. A kept one is the delivery itself (the operator reads it),
/// so it keeps its link.
pub async fn delivered(db: &Db, email: &OutboxEmail, status: &str, now: Timestamp) -> DbResult<()> {
    let sent = status == "sent";
    let text = sent.then(|| without_link_tokens(&email.text));
    let html = sent.then(|| without_link_tokens(&email.html));
    sqlx::query(
        "UPDATE outbox SET status = $1, delivered_at = $2, leased_until = NULL, last_error = NULL, \
         body_text = COALESCE($5, body_text), body_html = COALESCE($6, body_html) \
         WHERE id = $3 AND status = 'pending' AND leased_until = $4",
    )
    .bind(status)
    .bind(secs(now))
    .bind(email.id)
    .bind(email.leased_until.map(secs))
    .bind(text)
    .bind(html)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Gives back leased emails that were not attempted (the worker is stopping): due again at
/// once for any worker, their attempt uncounted. Only the lease holder can.
pub async fn hand_back(db: &Db, emails: &[OutboxEmail]) -> DbResult<()> {
    for email in emails {
        sqlx::query(
            "UPDATE outbox SET leased_until = NULL, attempts = attempts - 1 \
             WHERE id = $1 AND status = 'pending' AND leased_until = $2",
        )
        .bind(email.id)
        .bind(email.leased_until.map(secs))
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

/// Records a failed attempt: tried again later, or marked failed after the last attempt.
pub async fn attempt_failed(
    db: &Db,
    email: &OutboxEmail,
    error: &str,
    now: Timestamp,
) -> DbResult<()> {
    let attempts = u32::try_from(email.attempts).unwrap_or(u32::MAX);
    let (status, next) = match retry_at(attempts, now) {
        Some(next) => ("pending", next),
        None => ("failed", now),
    };
    // Given up on: its link can no longer reach its recipient, so nobody else may use it.
    let failed = status == "failed";
    let text = failed.then(|| without_link_tokens(&email.text));
    let html = failed.then(|| without_link_tokens(&email.html));
    sqlx::query(
        "UPDATE outbox SET status = $1, next_attempt_at = $2, leased_until = NULL, last_error = $3, \
         body_text = COALESCE($6, body_text), body_html = COALESCE($7, body_html) \
         WHERE id = $4 AND status = 'pending' AND leased_until = $5",
    )
    .bind(status)
    .bind(secs(next))
    .bind(error)
    .bind(email.id)
    .bind(email.leased_until.map(secs))
    .bind(text)
    .bind(html)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// What waits to be delivered: how many, and since when the oldest (for `/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub waiting: i64,
    pub oldest: Option<Timestamp>,
}

/// Emails not yet delivered nor given up on; read through the `outbox_pending` index.
pub async fn backlog(db: &Db) -> DbResult<Backlog> {
    backlog_of(db, "outbox").await
}

/// The backlog of an outbox table with `status` and `created_at` columns.
pub(crate) async fn backlog_of(db: &Db, table: &str) -> DbResult<Backlog> {
    let (waiting, oldest): (i64, Option<i64>) = sqlx::query_as(&format!(
        "SELECT COUNT(*), MIN(created_at) FROM {table} WHERE status = 'pending'"
    ))
    .fetch_one(db.pool())
    .await?;
    Ok(Backlog {
        waiting,
        oldest: oldest.map(instant),
    })
}

/// The Mailbox page: every email, newest first, one page after `before` (an outbox id).
pub async fn list(db: &Db, before: Option<i64>, limit: u32) -> DbResult<Page<OutboxEmail, i64>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE id < $1 ORDER BY id DESC LIMIT $2"
    ))
    .bind(before.unwrap_or(i64::MAX))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(items, limit, |e| e.id))
}

pub async fn get(db: &Db, id: i64) -> DbResult<OutboxEmail> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM outbox WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(DbError::NotFound)?;
    Ok(from_row(&row)?)
}

/// The active managers of `company` (user, email), who get the company's automated emails.
pub async fn managers(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
) -> DbResult<Vec<(UserId, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, email FROM users WHERE company_id = $1 AND is_manager = 1 \
         AND deactivated_at IS NULL ORDER BY id",
    )
    .bind(company.0)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(id, e)| (UserId(id), e)).collect())
}

/// The email of user `user` if they are active (to write to the requester of an order).
pub async fn active_address(
    tx: &mut Transaction<'static, Any>,
    user: UserId,
) -> DbResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT email FROM users WHERE id = $1 AND deactivated_at IS NULL")
            .bind(user.0)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// Someone told of a request: a partner user, or the operator (who reads orders elsewhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub user: UserId,
    pub email: String,
    pub operator: bool,
}

/// Who hears of a request of `company`. For a customer: its account manager, or when it has no
/// active one, every active admin of the owning partner. For a partner's internal company (the
/// partner's own licences): the admins of the partner above it, or the operator above a
/// distributor — whoever sells to it (`domain::order::decides`).
pub async fn alert_recipients(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
) -> DbResult<Vec<Recipient>> {
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.email, 0 FROM companies c JOIN users u ON u.id = c.account_manager_id \
         WHERE c.id = $1 AND c.internal = 0 AND u.deactivated_at IS NULL \
         UNION \
         SELECT u.id, u.email, 0 FROM companies c JOIN users u ON u.partner_id = c.partner_id \
         WHERE c.id = $1 AND c.internal = 0 AND u.partner_admin = 1 AND u.deactivated_at IS NULL \
           AND NOT EXISTS (SELECT 1 FROM users m WHERE m.id = c.account_manager_id \
                           AND m.deactivated_at IS NULL) \
         UNION \
         SELECT u.id, u.email, 0 FROM companies c JOIN partners p ON p.id = c.partner_id \
           JOIN users u ON u.partner_id = p.parent_id \
         WHERE c.id = $1 AND c.internal = 1 AND u.partner_admin = 1 AND u.deactivated_at IS NULL \
         UNION \
         SELECT u.id, u.email, 1 FROM companies c JOIN partners p ON p.id = c.partner_id \
           JOIN users u ON u.kind = 'operator' \
         WHERE c.id = $1 AND c.internal = 1 AND p.parent_id IS NULL AND u.deactivated_at IS NULL",
    )
    .bind(company.0)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, email, operator)| Recipient {
            user: UserId(id),
            email,
            operator: operator != 0,
        })
        .collect())
}
