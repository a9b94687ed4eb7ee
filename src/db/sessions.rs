//! Server-side sessions. The cookie holds a random token; the database holds only its hash, so a
//! leaked database does not leak sessions. Deleting the row revokes the session.

use blake2::{Blake2s256, Digest};
use jiff::Timestamp;

use super::{Db, DbResult, instant, secs};
use crate::domain::access::SESSION_LIFETIME;
use crate::domain::{CompanyId, UserId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: UserId,
    pub expires_at: Timestamp,
    /// The company a partner user is managing (manage mode), if any.
    pub managing: Option<CompanyId>,
    /// A notice left for the next page (flash).
    pub flash: Option<String>,
}

/// A new random token, hex-encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex(&bytes)
}

/// Lower-case hex of `bytes`, written into one string (this runs on every API request).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

pub(crate) fn token_hash(token: &str) -> String {
    hex(&Blake2s256::digest(token.as_bytes()))
}

/// Starts a session for `user` and returns the token for the cookie.
pub async fn create(db: &Db, user: UserId, now: Timestamp) -> DbResult<String> {
    let token = new_token();
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(&token))
        .bind(user.0)
        .bind(secs(now))
        .bind(secs(now + SESSION_LIFETIME))
        .execute(db.pool())
        .await?;
    Ok(token)
}

/// The live session behind `token`, if any.
pub async fn find(db: &Db, token: &str, now: Timestamp) -> DbResult<Option<Session>> {
    let row: Option<(i64, i64, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT user_id, expires_at, managing_company_id, flash FROM sessions \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(secs(now))
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(user, expires_at, managing, flash)| Session {
        user: UserId(user),
        expires_at: instant(expires_at),
        managing: managing.map(CompanyId),
        flash,
    }))
}

/// Leaves `notice` for the next page of the session behind `token` (`None` clears it once it
/// was shown).
pub async fn set_flash(db: &Db, token: &str, notice: Option<&str>) -> DbResult<()> {
    sqlx::query("UPDATE sessions SET flash = $1 WHERE token_hash = $2")
        .bind(notice)
        .bind(token_hash(token))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Ends the session behind `token` (sign-out).
pub async fn revoke(db: &Db, token: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash(token))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Ends every session of `user` (e.g. when they are deactivated).
pub async fn revoke_all(db: &Db, user: UserId) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.0)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Enters (`Some`) or leaves (`None`) manage mode for the session behind `token`.
pub async fn set_managing(db: &Db, token: &str, company: Option<CompanyId>) -> DbResult<()> {
    sqlx::query("UPDATE sessions SET managing_company_id = $1 WHERE token_hash = $2")
        .bind(company.map(|c| c.0))
        .bind(token_hash(token))
        .execute(db.pool())
        .await?;
    Ok(())
}
