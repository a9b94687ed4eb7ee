//! The delivery log: each endpoint's deliveries and their attempts, and Redeliver.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Owner, found};
use crate::db::{Db, DbError, DbResult, Page, instant, parse_stored, secs};
use crate::domain::webhooks::{DeliveryStatus, EventType};
use crate::domain::{DeliveryId, EndpointId};

/// A delivery as the endpoint's log lists it, with its latest attempt.
#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub id: DeliveryId,
    pub endpoint: EndpointId,
    pub webhook_id: String,
    pub event: EventType,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub last_attempt_at: Option<Timestamp>,
    pub last_response_code: Option<i64>,
    pub last_error: Option<String>,
}

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.webhook_id, v.event_type, d.status, \
    d.attempts, d.created_at, d.next_attempt_at, \
    (SELECT MAX(a.attempted_at) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS last_at, \
    (SELECT a.response_code FROM webhook_attempts a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1) AS last_code, \
    (SELECT a.error FROM webhook_attempts a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1) AS last_error";

fn delivery(r: &AnyRow) -> DbResult<DeliveryRow> {
    Ok(DeliveryRow {
        id: DeliveryId(r.try_get("id")?),
        endpoint: EndpointId(r.try_get("endpoint_id")?),
        webhook_id: r.try_get("webhook_id")?,
        event: parse_stored(
            "webhook_events.event_type",
            &r.try_get::<String, _>("event_type")?,
        )?,
        status: parse_stored(
            "webhook_deliveries.status",
            &r.try_get::<String, _>("status")?,
        )?,
        attempts: r.try_get("attempts")?,
        created_at: instant(r.try_get("created_at")?),
        next_attempt_at: instant(r.try_get("next_attempt_at")?),
        last_attempt_at: r.try_get::<Option<i64>, _>("last_at")?.map(instant),
        last_response_code: r.try_get("last_code")?,
        last_error: r.try_get("last_error")?,
    })
}

/// The deliveries of endpoint `id` of `owner`, newest first, one page before `before`.
pub async fn deliveries(
    db: &Db,
    owner: Owner,
    id: EndpointId,
    before: Option<DeliveryId>,
    limit: u32,
) -> DbResult<Page<DeliveryRow, DeliveryId>> {
    let (condition, value) = owner.condition(4);
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
         JOIN webhook_events v ON v.id = d.event_id \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.endpoint_id = $1 AND d.id < $2 AND {condition} ORDER BY d.id DESC LIMIT $3"
    ))
    .bind(id.0)
    .bind(before.map_or(i64::MAX, |d| d.0))
    .bind(i64::from(limit) + 1)
    .bind(value)
    .fetch_all(db.pool())
    .await?;
    let items = rows.iter().map(delivery).collect::<DbResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, limit, |d| d.id))
}

/// Delivery `id` of one of `owner`'s endpoints, with the body it sends.
pub async fn delivery_of(db: &Db, owner: Owner, id: DeliveryId) -> DbResult<(DeliveryRow, String)> {
    let (condition, value) = owner.condition(2);
    let row = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS}, v.body FROM webhook_deliveries d \
         JOIN webhook_events v ON v.id = d.event_id \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1 AND {condition}"
    ))
    .bind(id.0)
    .bind(value)
    .fetch_optional(db.pool())
    .await?
    .ok_or(DbError::NotFound)?;
    Ok((delivery(&row)?, row.try_get("body")?))
}

/// One attempt in the delivery log.
#[derive(Clone, Debug)]
pub struct AttemptRow {
    pub at: Timestamp,
    pub delivered: bool,
    pub response_code: Option<i64>,
    pub error: Option<String>,
}

/// The newest `limit` attempts of delivery `id` (whose owner was checked), newest first.
pub async fn attempts(db: &Db, id: DeliveryId, limit: u32) -> DbResult<Vec<AttemptRow>> {
    let rows: Vec<(i64, i64, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT attempted_at, delivered, response_code, error FROM webhook_attempts \
         WHERE delivery_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(id.0)
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, delivered, response_code, error)| AttemptRow {
            at: instant(at),
            delivered: delivered == 1,
            response_code,
            error,
        })
        .collect())
}

/// Redeliver: delivery `id` of one of `owner`'s endpoints is due again now, with a fresh round
/// of retries and the same webhook id.
pub async fn redeliver(db: &Db, owner: Owner, id: DeliveryId, now: Timestamp) -> DbResult<()> {
    let (condition, value) = owner.condition(3);
    let done = sqlx::query(&format!(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2, \
         leased_until = NULL WHERE id = $1 AND endpoint_id IN \
         (SELECT e.id FROM webhook_endpoints e WHERE {condition})"
    ))
    .bind(id.0)
    .bind(secs(now))
    .bind(value)
    .execute(db.pool())
    .await?;
    found(done.rows_affected())
}
