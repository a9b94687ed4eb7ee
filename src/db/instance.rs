//! The instance itself: its settings, its one operator, and the single-use set-up links that
//! create that operator on a new instance (only their hashes are stored).

use jiff::{SignedDuration, Timestamp};
use sqlx::{Any, Transaction};

use super::passwords::{self, LinkError, LinkPurpose};
use super::sessions::{new_token, token_hash};
use super::users::{self, NewUser};
use super::{Db, DbError, DbResult, secs};
use crate::domain::{Email, PersonName, Role, TrialDays, UserId};

/// The trial length new distributors start with.
pub async fn trial_days(db: &Db) -> DbResult<TrialDays> {
    let days: i64 = sqlx::query_scalar("SELECT trial_days FROM instance_settings WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    TrialDays::new(days)
        .map_err(|_| DbError::Corrupt(format!("instance_settings.trial_days holds {days}")))
}

pub async fn set_trial_days(tx: &mut Transaction<'static, Any>, days: TrialDays) -> DbResult<()> {
    sqlx::query("UPDATE instance_settings SET trial_days = $1 WHERE id = 1")
        .bind(i64::from(days.get()))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The operator (id, email), if the instance has one.
async fn operator(
    tx: &mut Transaction<'static, Any>,
    for_update: &str,
) -> DbResult<Option<(UserId, String)>> {
    // The settings row is the instance's lock: two set-ups at once are decided in turn.
    sqlx::query(&format!(
        "SELECT id FROM instance_settings WHERE id = 1{for_update}"
    ))
    .execute(&mut **tx)
    .await?;
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, email FROM users WHERE kind = 'operator'")
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(id, email)| (UserId(id), email)))
}

/// Whether the instance has its operator yet.
pub async fn has_operator(db: &Db) -> DbResult<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE kind = 'operator'")
        .fetch_one(db.pool())
        .await?;
    Ok(n > 0)
}

/// Issues a set-up link valid for `lifetime`; returns its token for the URL.
pub async fn issue_setup_link(
    db: &Db,
    lifetime: SignedDuration,
    now: Timestamp,
) -> DbResult<String> {
    let token = new_token();
    sqlx::query(
        "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash(&token))
    .bind(secs(now))
    .bind(secs(now + lifetime))
    .execute(db.pool())
    .await?;
    Ok(token)
}

/// Whether a set-up link works now. Once the operator exists, none does.
pub async fn check_setup_link(db: &Db, token: &str, now: Timestamp) -> DbResult<()> {
    let row: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT expires_at, used_at FROM setup_tokens WHERE token_hash = $1")
            .bind(token_hash(token))
            .fetch_optional(db.pool())
            .await?;
    match row {
        None => Err(LinkError::Unknown.into()),
        Some((_, Some(_))) => Err(LinkError::Used.into()),
        Some((expires_at, None)) if expires_at <= secs(now) => Err(LinkError::Expired.into()),
        Some(_) if has_operator(db).await? => Err(LinkError::Used.into()),
        Some(_) => Ok(()),
    }
}

/// The operator a set-up link creates.
pub struct NewOperator<'a> {
    pub email: &'a Email,
    pub first_name: &'a PersonName,
    pub last_name: &'a PersonName,
    pub password_hash: &'a str,
}

/// Uses the set-up link `token` once to create the operator; every other set-up link stops
/// working with it.
pub async fn create_operator_from_link(
    db: &Db,
    token: &str,
    operator: &NewOperator<'_>,
    now: Timestamp,
) -> DbResult<UserId> {
    let mut tx = db.begin_write().await?;
    if self::operator(&mut tx, db.for_update()).await?.is_some() {
        return Err(LinkError::Used.into());
    }
    let used = sqlx::query(
        "UPDATE setup_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(secs(now))
    .bind(token_hash(token))
    .execute(&mut *tx)
    .await?;
    if used.rows_affected() == 0 {
        drop(tx);
        check_setup_link(db, token, now).await?;
        return Err(LinkError::Unknown.into());
    }
    sqlx::query("UPDATE setup_tokens SET used_at = $1 WHERE used_at IS NULL")
        .bind(secs(now))
        .execute(&mut *tx)
        .await?;
    let new = NewUser {
        email: operator.email,
        first_name: operator.first_name,
        last_name: operator.last_name,
        department: None,
        password_hash: Some(operator.password_hash),
        role: Role::Operator,
    };
    let user = users::create(&mut tx, &new, now).await?;
    tx.commit().await?;
    Ok(user)
}

/// What `operator create` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorLink {
    pub user: UserId,
    /// False when the operator with this email already existed and got a new link.
    pub created: bool,
    /// The set-password link's token.
    pub token: String,
}

/// Creates the operator with `email` (no password yet) and issues a set-password link valid for
/// `lifetime`. For the existing operator with that email it issues a new link instead, and the
/// old ones stop working; another operator is `OperatorExists`.
pub async fn create_operator_with_link(
    db: &Db,
    email: &Email,
    name: (&PersonName, &PersonName),
    lifetime: SignedDuration,
    now: Timestamp,
) -> DbResult<OperatorLink> {
    let mut tx = db.begin_write().await?;
    let (user, created) = match operator(&mut tx, db.for_update()).await? {
        Some((user, existing)) if existing == email.as_str() => {
            passwords::revoke_unused(&mut tx, user).await?;
            (user, false)
        }
        Some(_) => return Err(DbError::OperatorExists),
        None => {
            let new = NewUser {
                email,
                first_name: name.0,
                last_name: name.1,
                department: None,
                password_hash: None,
                role: Role::Operator,
            };
            (users::create(&mut tx, &new, now).await?, true)
        }
    };
    let token = passwords::issue(&mut tx, user, LinkPurpose::Welcome, lifetime, now).await?;
    tx.commit().await?;
    Ok(OperatorLink {
        user,
        created,
        token,
    })
}

/// The instance's key that signs form (CSRF) tokens, made on first use. Every server on the
/// database reads the same one: the first to ask creates it, the others keep it.
pub async fn form_key(db: &Db) -> DbResult<String> {
    sqlx::query(
        "INSERT INTO instance_keys (purpose, secret) VALUES ('forms', $1) \
         ON CONFLICT (purpose) DO NOTHING",
    )
    .bind(new_token())
    .execute(db.pool())
    .await?;
    Ok(
        sqlx::query_scalar("SELECT secret FROM instance_keys WHERE purpose = 'forms'")
            .fetch_one(db.pool())
            .await?,
    )
}
