//! Single-use links to set a password: in welcome emails (valid 7 days) and resets. The link
//! carries a random token; the database keeps only its hash.

use jiff::{SignedDuration, Timestamp};
use sqlx::{Any, Transaction};

use super::sessions::{new_token, token_hash};
use super::{Db, DbResult, secs};
use crate::domain::UserId;

/// How long a password-reset link works.
pub const RESET_LIFETIME: SignedDuration = SignedDuration::from_hours(1);

/// How long a welcome link works.
pub const WELCOME_LIFETIME: SignedDuration = SignedDuration::from_hours(24 * 7);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("This link is not valid. Ask for a new one.")]
    Unknown,
    #[error("This link has already been used. Sign in, or ask for a new link.")]
    Used,
    #[error("This link has expired. Ask for a new one.")]
    Expired,
}

/// Issues a link token for `user`; returns the token for the URL.
pub async fn issue(
    tx: &mut Transaction<'static, Any>,
    user: UserId,
    purpose: &str,
    lifetime: SignedDuration,
    now: Timestamp,
) -> DbResult<String> {
    let token = new_token();
    sqlx::query(
        "INSERT INTO password_tokens (token_hash, user_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(&token))
    .bind(user.0)
    .bind(purpose)
    .bind(secs(now))
    .bind(secs(now + lifetime))
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// Checks a token without using it (to show the form).
pub async fn check(db: &Db, token: &str, now: Timestamp) -> DbResult<Result<UserId, LinkError>> {
    let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, expires_at, used_at FROM password_tokens WHERE token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        None => Err(LinkError::Unknown),
        Some((_, _, Some(_))) => Err(LinkError::Used),
        Some((_, expires_at, None)) if expires_at <= secs(now) => Err(LinkError::Expired),
        Some((user, _, None)) => Ok(UserId(user)),
    })
}

/// Uses the token once to set the user's password hash.
pub async fn redeem(
    db: &Db,
    token: &str,
    password_hash: &str,
    now: Timestamp,
) -> DbResult<Result<UserId, LinkError>> {
    let mut tx = db.begin_write().await?;
    let used: Option<i64> = sqlx::query_scalar(
        "UPDATE password_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(secs(now))
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user) = used else {
        drop(tx);
        return Ok(check(db, token, now).await?.and(Err(LinkError::Unknown)));
    };
    sqlx::query("UPDATE users SET password_hash = $1, failed_sign_ins = 0, locked_until = NULL WHERE id = $2")
        .bind(password_hash)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    // A new password ends every session and every other link: a stolen one stops working.
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE password_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(secs(now))
        .bind(user)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(UserId(user)))
}

/// Forgot password: emails a reset link to the active user with `email`, at most once per 30
/// minutes. Says nothing about whether the account exists (the page answers the same).
pub async fn request_reset(
    db: &Db,
    email: &crate::domain::Email,
    public_url: &str,
    now: Timestamp,
) -> DbResult<bool> {
    let mut tx = db.begin_write().await?;
    let user: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1 AND deactivated_at IS NULL")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some(user) = user else {
        return Ok(false);
    };
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(created_at) FROM password_tokens WHERE user_id = $1 AND purpose = 'reset'",
    )
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    if !crate::domain::access::may_send_reset(last.map(super::instant), now) {
        return Ok(false);
    }
    let token = issue(&mut tx, UserId(user), "reset", RESET_LIFETIME, now).await?;
    let message =
        crate::email::messages::password_reset(&format!("{public_url}/set-password?token={token}"))
            .render();
    super::outbox::queue(
        &mut tx,
        &super::outbox::NewEmail {
            idempotency_key: format!("reset:user:{user}:{}", secs(now)),
            kind: "password_reset",
            company: None,
            recipient: email.as_str(),
            email: message,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
