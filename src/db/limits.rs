//! Rate-limit counters and per-address sign-in locks, shared by every server on the database.
//! The rules (how many, how long) are the domain's (`domain::access`); this counts and stores.

use jiff::Timestamp;

use super::sessions::token_hash;
use super::{Db, DbResult, instant, secs};
use crate::domain::UserId;
use crate::domain::access::{MAX_FAILED_SIGN_INS, RateLimit, lock_after_failure};

/// Counts `n` requests under `key` in `limit`'s current window; true when the limit allows
/// them. Keys are stored hashed: the table holds no email or client address.
pub async fn hit(db: &Db, key: &str, n: i64, limit: RateLimit, now: Timestamp) -> DbResult<bool> {
    let window = secs(limit.window_at(now));
    let hits: i64 = sqlx::query_scalar(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, $3) \
         ON CONFLICT (bucket) DO UPDATE SET \
           hits = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.hits + $3 ELSE $3 END, \
           window_start = $2 \
         RETURNING hits",
    )
    .bind(token_hash(key))
    .bind(window)
    .bind(n)
    .fetch_one(db.pool())
    .await?;
    Ok(limit.allows(hits))
}

/// Forgets counters whose window started before `before` (they no longer limit anything).
pub async fn forget_before(db: &Db, before: Timestamp) -> DbResult<u64> {
    let gone = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
        .bind(secs(before))
        .execute(db.pool())
        .await?;
    Ok(gone.rows_affected())
}

/// A sign-in attempt for one account from one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The password may be checked; this is the n-th attempt in a row not yet cleared.
    Allowed(i64),
    /// The account is locked for this address until then.
    Locked(Timestamp),
}

/// Counts an attempt for `user` from `address`, or says the account is locked for it (locking
/// it when concurrent attempts went past the allowance). Counting before the password is checked
/// means simultaneous guesses cannot exceed it.
pub async fn reserve_sign_in(
    db: &Db,
    user: UserId,
    address: &str,
    now: Timestamp,
) -> DbResult<Attempt> {
    let mut tx = db.begin_write().await?;
    let counted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO sign_in_locks (user_id, address, failures) VALUES ($1, $2, 1) \
         ON CONFLICT (user_id, address) DO UPDATE SET failures = sign_in_locks.failures + 1 \
         WHERE sign_in_locks.locked_until IS NULL OR sign_in_locks.locked_until <= $3 \
         RETURNING failures",
    )
    .bind(user.0)
    .bind(address)
    .bind(secs(now))
    .fetch_optional(&mut *tx)
    .await?;
    let attempt = match counted {
        None => {
            let until: Option<i64> = sqlx::query_scalar(
                "SELECT locked_until FROM sign_in_locks WHERE user_id = $1 AND address = $2",
            )
            .bind(user.0)
            .bind(address)
            .fetch_one(&mut *tx)
            .await?;
            Attempt::Locked(until.map_or(now, instant))
        }
        Some(n) if n > MAX_FAILED_SIGN_INS => {
            let until = lock_after_failure(n, now).unwrap_or(now);
            lock(&mut tx, user, address, until).await?;
            Attempt::Locked(until)
        }
        Some(n) => Attempt::Allowed(n),
    };
    tx.commit().await?;
    Ok(attempt)
}

async fn lock(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: UserId,
    address: &str,
    until: Timestamp,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE sign_in_locks SET failures = 0, locked_until = $1 \
         WHERE user_id = $2 AND address = $3",
    )
    .bind(secs(until))
    .bind(user.0)
    .bind(address)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The password of the `attempt`-th attempt was wrong: locks the account for `address` when the
/// domain says this one locks, inside `tx` (with the email and Activity entry that tell of it).
pub async fn failed_sign_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: UserId,
    address: &str,
    attempt: i64,
    now: Timestamp,
) -> DbResult<Option<Timestamp>> {
    let Some(until) = lock_after_failure(attempt, now) else {
        return Ok(None);
    };
    lock(tx, user, address, until).await?;
    Ok(Some(until))
}

/// A correct password clears the count of wrong ones from `address`.
pub async fn clear_failures(db: &Db, user: UserId, address: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sign_in_locks WHERE user_id = $1 AND address = $2")
        .bind(user.0)
        .bind(address)
        .execute(db.pool())
        .await?;
    Ok(())
}
