//! Single-use links to set a password: in welcome emails (valid 7 days) and resets. The link
//! carries a random token; the database keeps only its hash.

use jiff::{SignedDuration, Timestamp};
use sqlx::{Any, Transaction};

use super::sessions::{new_token, token_hash};
use super::{Backend, Binds, Db, DbResult, TextRows, instant, secs};
use crate::domain::{Email, UserId};

/// Why a set-password link does not work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not valid")]
    Unknown,
    #[error("the link has already been used")]
    Used,
    #[error("the link has expired")]
    Expired,
}

/// What a set-password link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    Welcome,
    Reset,
}

impl LinkPurpose {
    fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Welcome => "welcome",
            LinkPurpose::Reset => "reset",
        }
    }
}

/// Issues a link token for `user`; returns the token for the URL.
pub async fn issue(
    tx: &mut Transaction<'static, Any>,
    user: UserId,
    purpose: LinkPurpose,
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
    .bind(purpose.as_str())
    .bind(secs(now))
    .bind(secs(now + lifetime))
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// `issue` for each of `users` with one statement; the tokens, in the same order.
pub async fn issue_many(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    users: &[UserId],
    purpose: LinkPurpose,
    lifetime: SignedDuration,
    now: Timestamp,
) -> DbResult<Vec<String>> {
    let tokens: Vec<String> = users.iter().map(|_| new_token()).collect();
    if users.is_empty() {
        return Ok(tokens);
    }
    let mut rows = TextRows::new(&["token_hash", "user_id"]);
    for (user, token) in users.iter().zip(&tokens) {
        rows.push(vec![Some(token_hash(token)), Some(user.0.to_string())]);
    }
    let mut binds = Binds::default();
    let source = rows.source(backend, &mut binds);
    let sql = format!(
        "INSERT INTO password_tokens (token_hash, user_id, purpose, created_at, expires_at) \
         SELECT r.token_hash, CAST(r.user_id AS BIGINT), {}, {}, {} FROM {source} ORDER BY r.n",
        binds.text(purpose.as_str().to_owned()),
        binds.int(secs(now)),
        binds.int(secs(now + lifetime)),
    );
    binds
        .apply_rows(sqlx::query(&sql))
        .execute(&mut **tx)
        .await?;
    Ok(tokens)
}

/// Ends every link of `user` not used yet (a new invitation replaces the old one): an old link
/// is then unknown.
pub async fn revoke_unused(tx: &mut Transaction<'static, Any>, user: UserId) -> DbResult<()> {
    sqlx::query("DELETE FROM password_tokens WHERE user_id = $1 AND used_at IS NULL")
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Checks a token without using it (to show the form).
pub async fn check(db: &Db, token: &str, now: Timestamp) -> DbResult<UserId> {
    let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, expires_at, used_at FROM password_tokens WHERE token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(db.pool())
    .await?;
    match row {
        None => Err(LinkError::Unknown.into()),
        Some((_, _, Some(_))) => Err(LinkError::Used.into()),
        Some((_, expires_at, None)) if expires_at <= secs(now) => Err(LinkError::Expired.into()),
        Some((user, _, None)) => Ok(UserId(user)),
    }
}

/// Uses the token once to set the user's password hash.
pub async fn redeem(db: &Db, token: &str, password_hash: &str, now: Timestamp) -> DbResult<UserId> {
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
        check(db, token, now).await?;
        return Err(LinkError::Unknown.into());
    };
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    // A new password lifts every lock: the person proved they own the mailbox.
    sqlx::query("DELETE FROM sign_in_locks WHERE user_id = $1")
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
    Ok(UserId(user))
}

/// The active user with `email`, locked (PostgreSQL) so two reset requests are decided in turn.
pub async fn active_user_by_email(
    tx: &mut Transaction<'static, Any>,
    for_update: &str,
    email: &Email,
) -> DbResult<Option<UserId>> {
    let user: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT id FROM users WHERE email = $1 AND deactivated_at IS NULL{for_update}"
    ))
    .bind(email.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(user.map(UserId))
}

/// When the user's last reset link was issued, if ever.
pub async fn last_reset(
    tx: &mut Transaction<'static, Any>,
    user: UserId,
) -> DbResult<Option<Timestamp>> {
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(created_at) FROM password_tokens WHERE user_id = $1 AND purpose = 'reset'",
    )
    .bind(user.0)
    .fetch_one(&mut **tx)
    .await?;
    Ok(last.map(instant))
}
