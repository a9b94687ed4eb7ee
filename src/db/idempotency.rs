//! The API's Idempotency-Key records: the first request with a key claims it, the response it
//! got is stored, and the same key with the same request within a day gets that response again.
//! Claiming is one conditional insert, so of two concurrent requests exactly one goes ahead.

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

use super::{Db, DbResult, secs};
use crate::domain::ApiKeyId;

/// How long a stored response is replayed.
pub const KEPT_FOR: SignedDuration = SignedDuration::from_hours(24);

/// What a request carrying an Idempotency-Key does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: run it, then `complete` (or `abandon`).
    Claimed,
    /// The same request was answered already: send this again, with the `Location` of what it
    /// created.
    Replay {
        status: u16,
        body: String,
        location: Option<String>,
    },
    /// The same key is being answered for another request right now.
    InProgress,
    /// The key was used with another request.
    Mismatch,
}

/// Claims `idempotency_key` of API key `key` for the request hashed as `request_hash`.
pub async fn claim(
    db: &Db,
    key: ApiKeyId,
    idempotency_key: &str,
    request_hash: &str,
    now: Timestamp,
) -> DbResult<Claim> {
    let expired = secs(now - KEPT_FOR);
    // Past its day a key is free again; the index on created_at keeps this sweep to what is due.
    sqlx::query("DELETE FROM api_idempotency WHERE created_at <= $1")
        .bind(expired)
        .execute(db.pool())
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO api_idempotency (api_key_id, idempotency_key, request_hash, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (api_key_id, idempotency_key) DO NOTHING \
         RETURNING api_key_id",
    )
    .bind(key.0)
    .bind(idempotency_key)
    .bind(request_hash)
    .bind(secs(now))
    .fetch_optional(db.pool())
    .await?;
    if inserted.is_some() {
        return Ok(Claim::Claimed);
    }
    let row = sqlx::query(
        "SELECT request_hash, status, body, location FROM api_idempotency \
         WHERE api_key_id = $1 AND idempotency_key = $2",
    )
    .bind(key.0)
    .bind(idempotency_key)
    .fetch_optional(db.pool())
    .await?;
    // Abandoned between the insert and this read: the caller may simply try again.
    let Some(row) = row else {
        return Ok(Claim::InProgress);
    };
    let stored: String = row.try_get("request_hash")?;
    if stored != request_hash {
        return Ok(Claim::Mismatch);
    }
    let status: Option<i64> = row.try_get("status")?;
    let body: Option<String> = row.try_get("body")?;
    Ok(match (status, body) {
        (Some(status), Some(body)) => Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
            location: row.try_get("location")?,
        },
        _ => Claim::InProgress,
    })
}

/// Stores the response of a claimed request, to be replayed.
pub async fn complete(
    db: &Db,
    key: ApiKeyId,
    idempotency_key: &str,
    status: u16,
    body: &str,
    location: Option<&str>,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE api_idempotency SET status = $1, body = $2, location = $5 \
         WHERE api_key_id = $3 AND idempotency_key = $4",
    )
    .bind(i64::from(status))
    .bind(body)
    .bind(key.0)
    .bind(idempotency_key)
    .bind(location)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Frees a claimed key whose request failed on our side, so a retry runs it again.
pub async fn abandon(db: &Db, key: ApiKeyId, idempotency_key: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM api_idempotency WHERE api_key_id = $1 AND idempotency_key = $2")
        .bind(key.0)
        .bind(idempotency_key)
        .execute(db.pool())
        .await?;
    Ok(())
}
