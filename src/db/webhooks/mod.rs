//! Webhook endpoints and their outbox: events written in the transaction of the change, one
//! delivery per event and subscribed endpoint, leased by the worker like emails, and every
//! attempt kept as the endpoint's delivery log. Endpoints are always read through their owner:
//! another owner's endpoint or delivery is not found.

use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Db, DbError, DbResult, instant, secs};
use crate::domain::webhooks::EventTypes;
use crate::domain::{EndpointId, PartnerId, UserId};

mod facts;
mod log;
mod outbox;

pub use facts::*;
pub use log::*;
pub use outbox::*;

/// Who an endpoint belongs to, and whose events it may receive: a partner (its companies and
/// every sub-partner's) or the operator (every company).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Operator,
    Partner(PartnerId),
}

impl Owner {
    /// An SQL condition limiting endpoints (alias `e`) to this owner, reading `$n`.
    pub(super) fn condition(self, n: usize) -> (String, i64) {
        match self {
            Owner::Operator => (
                format!("e.partner_id IS NULL AND CAST(${n} AS BIGINT) = 0"),
                0,
            ),
            Owner::Partner(p) => (format!("e.partner_id = ${n}"), p.0),
        }
    }

    pub(super) fn from_column(partner: Option<i64>) -> Self {
        partner.map_or(Owner::Operator, |p| Owner::Partner(PartnerId(p)))
    }
}

/// An endpoint as its owner sees it (never its secret).
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: EndpointId,
    pub owner: Owner,
    pub url: String,
    pub event_types: EventTypes,
    pub enabled: bool,
    /// Disabled by seatledger after three days of failures (rather than by its owner).
    pub disabled_for_failing: bool,
    pub disabled_at: Option<Timestamp>,
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
}

const ENDPOINT_COLUMNS: &str = "e.id, e.partner_id, e.url, e.event_types, e.enabled, \
    e.disabled_reason, e.disabled_at, e.failing_since, e.created_at";

fn endpoint(r: &AnyRow) -> DbResult<Endpoint> {
    let types: String = r.try_get("event_types")?;
    Ok(Endpoint {
        id: EndpointId(r.try_get("id")?),
        owner: Owner::from_column(r.try_get("partner_id")?),
        url: r.try_get("url")?,
        event_types: EventTypes::from_stored(&types).map_err(|_| {
            DbError::Corrupt(format!("webhook_endpoints.event_types holds {types:?}"))
        })?,
        enabled: r.try_get::<i64, _>("enabled")? == 1,
        disabled_for_failing: r
            .try_get::<Option<String>, _>("disabled_reason")?
            .is_some_and(|r| r == "failing"),
        disabled_at: r.try_get::<Option<i64>, _>("disabled_at")?.map(instant),
        failing_since: r.try_get::<Option<i64>, _>("failing_since")?.map(instant),
        created_at: instant(r.try_get("created_at")?),
    })
}

/// A new endpoint; its secret arrives sealed.
pub struct NewEndpoint<'a> {
    pub owner: Owner,
    pub url: &'a str,
    pub event_types: &'a EventTypes,
    pub sealed_secret: &'a str,
    pub created_by: Option<UserId>,
}

/// How many endpoints the owner has, in the transaction that may register one more.
pub async fn count(tx: &mut Transaction<'static, Any>, owner: Owner) -> DbResult<i64> {
    let (condition, value) = owner.condition(1);
    Ok(sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM webhook_endpoints e WHERE {condition}"
    ))
    .bind(value)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn create(
    tx: &mut Transaction<'static, Any>,
    new: &NewEndpoint<'_>,
    now: Timestamp,
) -> DbResult<EndpointId> {
    let partner = match new.owner {
        Owner::Operator => None,
        Owner::Partner(p) => Some(p.0),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO webhook_endpoints (partner_id, url, event_types, secret, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(partner)
    .bind(new.url)
    .bind(new.event_types.to_stored())
    .bind(new.sealed_secret)
    .bind(new.created_by.map(|u| u.0))
    .bind(secs(now))
    .fetch_one(&mut **tx)
    .await?;
    Ok(EndpointId(id))
}

/// The owner's endpoints, oldest first, at most `limit`.
pub async fn list(
    db: &Db,
    owner: Owner,
    after: Option<EndpointId>,
    limit: u32,
) -> DbResult<Vec<Endpoint>> {
    let (condition, value) = owner.condition(1);
    let rows = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE {condition} AND e.id > $3 \
         ORDER BY e.id LIMIT $2"
    ))
    .bind(value)
    .bind(i64::from(limit))
    .bind(after.map_or(0, |e| e.0))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(endpoint).collect()
}

pub async fn get(db: &Db, owner: Owner, id: EndpointId) -> DbResult<Endpoint> {
    let (condition, value) = owner.condition(2);
    let row = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.id = $1 AND {condition}"
    ))
    .bind(id.0)
    .bind(value)
    .fetch_optional(db.pool())
    .await?
    .ok_or(DbError::NotFound)?;
    endpoint(&row)
}

/// Enables (forgetting past failures) or disables the owner's endpoint.
pub async fn set_enabled(
    db: &Db,
    owner: Owner,
    id: EndpointId,
    enabled: bool,
    now: Timestamp,
) -> DbResult<()> {
    let (condition, value) = owner.condition(2);
    let set = if enabled {
        "enabled = 1, disabled_at = NULL, disabled_reason = NULL, failing_since = NULL"
    } else {
        "enabled = 0, disabled_at = $3, disabled_reason = 'owner'"
    };
    let sql = format!(
        "UPDATE webhook_endpoints SET {set} WHERE id = $1 \
         AND id IN (SELECT e.id FROM webhook_endpoints e WHERE {condition})"
    );
    let mut query = sqlx::query(&sql).bind(id.0).bind(value);
    if !enabled {
        query = query.bind(secs(now));
    }
    found(query.execute(db.pool()).await?.rows_affected())
}

pub(super) fn found(rows: u64) -> DbResult<()> {
    if rows == 0 {
        Err(DbError::NotFound)
    } else {
        Ok(())
    }
}

/// Deletes the owner's endpoint with its deliveries and their log.
pub async fn delete(db: &Db, owner: Owner, id: EndpointId) -> DbResult<()> {
    let (condition, value) = owner.condition(2);
    let done = sqlx::query(&format!(
        "DELETE FROM webhook_endpoints WHERE id = $1 \
         AND id IN (SELECT e.id FROM webhook_endpoints e WHERE {condition})"
    ))
    .bind(id.0)
    .bind(value)
    .execute(db.pool())
    .await?;
    found(done.rows_affected())
}

/// Replaces the owner's endpoint's secret; the one it replaces keeps signing until
/// `previous_until`.
pub async fn rotate_secret(
    db: &Db,
    owner: Owner,
    id: EndpointId,
    sealed_secret: &str,
    previous_until: Timestamp,
) -> DbResult<()> {
    let (condition, value) = owner.condition(4);
    let done = sqlx::query(&format!(
        "UPDATE webhook_endpoints SET previous_secret = secret, secret = $2, previous_until = $3 \
         WHERE id = $1 AND id IN (SELECT e.id FROM webhook_endpoints e WHERE {condition})"
    ))
    .bind(id.0)
    .bind(sealed_secret)
    .bind(secs(previous_until))
    .bind(value)
    .execute(db.pool())
    .await?;
    found(done.rows_affected())
}
