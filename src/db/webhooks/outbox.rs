//! The webhook outbox: events and their deliveries written in the transaction of the change,
//! leased by the worker, and each attempt's outcome.

use jiff::Timestamp;
use sqlx::{Any, Row, Transaction};

use super::Owner;
use crate::db::{Backend, Db, DbError, DbResult, instant, placeholders, secs};
use crate::domain::webhooks::{DeliveryStatus, EventType, EventTypes};
use crate::domain::{CompanyId, DeliveryId, EndpointId, UserId};

/// How long a worker owns the deliveries it leased: well beyond a round of attempts at the
/// client's timeout (`jobs::webhooks`).
pub const LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// Deliveries not yet delivered nor given up on (for `/metrics`).
pub async fn backlog(db: &Db) -> DbResult<crate::db::outbox::Backlog> {
    crate::db::outbox::backlog_of(db, "webhook_deliveries").await
}

/// The enabled endpoints subscribed to `event` that may hear about `company`: the operator's,
/// and those of the company's partner and of every partner above it.
pub async fn subscribers(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    event: EventType,
) -> DbResult<Vec<EndpointId>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT e.id, e.event_types FROM webhook_endpoints e WHERE e.enabled = 1 \
         AND (e.partner_id IS NULL OR e.partner_id IN (SELECT a.ancestor_id FROM partner_ancestors a \
           JOIN companies c ON a.descendant_id = c.partner_id WHERE c.id = $1)) ORDER BY e.id",
    )
    .bind(company.0)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, types)| EventTypes::from_stored(types).is_ok_and(|t| t.contains(event)))
        .map(|(id, _)| EndpointId(id))
        .collect())
}

/// One event to write.
pub struct NewEvent<'a> {
    pub key: &'a str,
    pub event: EventType,
    pub company: CompanyId,
    pub body: &'a str,
}

/// Writes `event` and a delivery of it to each of `endpoints` (each with its webhook id),
/// unless an event with its key was written before.
pub async fn queue(
    tx: &mut Transaction<'static, Any>,
    event: &NewEvent<'_>,
    endpoints: &[(EndpointId, String)],
    now: Timestamp,
) -> DbResult<bool> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO webhook_events (event_key, event_type, company_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_key) DO NOTHING RETURNING id",
    )
    .bind(event.key)
    .bind(event.event.as_str())
    .bind(event.company.0)
    .bind(event.body)
    .bind(secs(now))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else {
        return Ok(false);
    };
    for (endpoint, webhook_id) in endpoints {
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, endpoint_id, next_attempt_at, \
             created_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(webhook_id)
        .bind(id)
        .bind(endpoint.0)
        .bind(secs(now))
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}

/// A delivery leased by a worker, with what sending it needs.
#[derive(Clone, Debug)]
pub struct Leased {
    pub id: DeliveryId,
    pub webhook_id: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    pub leased_until: Timestamp,
    pub endpoint: EndpointId,
    pub url: String,
    pub sealed_secret: String,
    /// The secret before the last rotation, while it still signs.
    pub sealed_previous: Option<String>,
    pub body: String,
}

/// Leases up to `limit` pending deliveries due at `now` to enabled endpoints, counting the
/// attempt. Two workers never lease the same delivery: the lease is a conditional update.
pub async fn lease_due(db: &Db, now: Timestamp, limit: u32) -> DbResult<Vec<Leased>> {
    let skip_locked = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let due = "status = 'pending' AND next_attempt_at <= $2 \
        AND (leased_until IS NULL OR leased_until <= $2)";
    let mut tx = db.begin_write().await?;
    let leased: Vec<i64> = sqlx::query_scalar(&format!(
        "WITH leasing AS MATERIALIZED (SELECT id FROM webhook_deliveries WHERE {due} \
           AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = 1) \
           ORDER BY next_attempt_at, id LIMIT $3{skip_locked}) \
         UPDATE webhook_deliveries SET leased_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM leasing) AND {due} RETURNING id"
    ))
    .bind(secs(now + LEASE))
    .bind(secs(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    if leased.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.id, d.webhook_id, d.attempts, d.leased_until, e.id AS endpoint_id, e.url, \
         e.secret, CASE WHEN e.previous_until > $1 THEN e.previous_secret END AS previous, v.body \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         JOIN webhook_events v ON v.id = d.event_id WHERE d.id IN ({}) ORDER BY d.id",
        placeholders(2, leased.len())
    );
    let mut query = sqlx::query(&sql).bind(secs(now));
    for id in &leased {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(Leased {
                id: DeliveryId(r.try_get("id")?),
                webhook_id: r.try_get("webhook_id")?,
                attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                leased_until: instant(r.try_get("leased_until")?),
                endpoint: EndpointId(r.try_get("endpoint_id")?),
                url: r.try_get("url")?,
                sealed_secret: r.try_get("secret")?,
                sealed_previous: r.try_get("previous")?,
                body: r.try_get("body")?,
            })
        })
        .collect()
}

/// One attempt as the log keeps it.
pub struct AttemptRecord<'a> {
    pub delivered: bool,
    pub response_code: Option<u16>,
    pub error: Option<&'a str>,
}

/// Records an attempt of `leased` made at `now`, if the worker still holds the lease: the log
/// entry, the delivery's new status (`next` is when a pending one is tried again), and the
/// endpoint's failing streak. Returns when the endpoint has been failing since (`None` once it
/// delivered), or `None` when the lease was lost.
pub async fn record_attempt(
    tx: &mut Transaction<'static, Any>,
    leased: &Leased,
    attempt: &AttemptRecord<'_>,
    status: DeliveryStatus,
    next: Timestamp,
    now: Timestamp,
) -> DbResult<Option<Option<Timestamp>>> {
    let updated = sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, leased_until = NULL, \
         delivered_at = CASE WHEN $1 = 'delivered' THEN $3 ELSE delivered_at END \
         WHERE id = $4 AND status = 'pending' AND leased_until = $5",
    )
    .bind(status.as_str())
    .bind(secs(next))
    .bind(secs(now))
    .bind(leased.id.0)
    .bind(secs(leased.leased_until))
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, delivered, response_code, error) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(leased.id.0)
    .bind(secs(now))
    .bind(i64::from(attempt.delivered))
    .bind(attempt.response_code.map(i64::from))
    .bind(attempt.error)
    .execute(&mut **tx)
    .await?;
    let streak = if attempt.delivered {
        "NULL"
    } else {
        "COALESCE(failing_since, $2)"
    };
    let sql = format!(
        "UPDATE webhook_endpoints SET failing_since = {streak} WHERE id = $1 RETURNING failing_since"
    );
    let mut query = sqlx::query_scalar(&sql).bind(leased.endpoint.0);
    if !attempt.delivered {
        query = query.bind(secs(now));
    }
    let since: Option<Option<i64>> = query.fetch_optional(&mut **tx).await?;
    Ok(Some(since.flatten().map(instant)))
}

/// Disables an endpoint that has failed too long; true if this call disabled it.
pub async fn disable_failing(
    tx: &mut Transaction<'static, Any>,
    id: EndpointId,
    now: Timestamp,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_at = $1, disabled_reason = 'failing' \
         WHERE id = $2 AND enabled = 1",
    )
    .bind(secs(now))
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Who is told about an endpoint: the active admins of its partner, or the operator.
pub async fn owner_addresses(
    tx: &mut Transaction<'static, Any>,
    id: EndpointId,
) -> DbResult<(Owner, String, Vec<(UserId, String)>)> {
    let (partner, url): (Option<i64>, String) =
        sqlx::query_as("SELECT partner_id, url FROM webhook_endpoints WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(DbError::NotFound)?;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, email FROM users WHERE deactivated_at IS NULL AND \
         CASE WHEN CAST($1 AS BIGINT) = 0 THEN kind = 'operator' \
         ELSE partner_id = $1 AND partner_admin = 1 END ORDER BY id",
    )
    .bind(partner.unwrap_or(0))
    .fetch_all(&mut **tx)
    .await?;
    let recipients = rows.into_iter().map(|(u, e)| (UserId(u), e)).collect();
    Ok((Owner::from_column(partner), url, recipients))
}
