//! API keys: created with a random secret shown once, stored as a visible prefix and a hash of the
//! whole key, always read through their owner (another owner's key is not found), and found by
//! prefix when a request presents one.

use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, FromRow, Row, Transaction};

use super::sessions::token_hash;
use super::{Db, DbError, DbResult, instant, secs};
use crate::domain::api_keys::{self, PREFIX_LEN, Permissions};
use crate::domain::{ApiKeyId, CompanyId, KeyName, PartnerId, UserId};

/// Who a key belongs to, and so what it acts on: the instance, a partner (every company beneath
/// it), or one company.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOwner {
    Operator,
    Partner(PartnerId),
    Company(CompanyId),
}

impl KeyOwner {
    /// An SQL condition limiting keys (alias `k`) to this owner, reading `$n`.
    fn condition(self, n: usize) -> (String, i64) {
        match self {
            KeyOwner::Operator => (
                format!(
                    "k.partner_id IS NULL AND k.company_id IS NULL AND CAST(${n} AS BIGINT) = 0"
                ),
                0,
            ),
            KeyOwner::Partner(p) => (format!("k.partner_id = ${n}"), p.0),
            KeyOwner::Company(c) => (format!("k.company_id = ${n}"), c.0),
        }
    }

    fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            KeyOwner::Operator => (None, None),
            KeyOwner::Partner(p) => (Some(p.0), None),
            KeyOwner::Company(c) => (None, Some(c.0)),
        }
    }

    fn from_columns(partner: Option<i64>, company: Option<i64>) -> Self {
        match (partner, company) {
            (Some(p), _) => KeyOwner::Partner(PartnerId(p)),
            (None, Some(c)) => KeyOwner::Company(CompanyId(c)),
            (None, None) => KeyOwner::Operator,
        }
    }
}

/// A key as its owner sees it: never its secret.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub owner: KeyOwner,
    pub prefix: String,
    pub name: KeyName,
    pub permissions: Permissions,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

const KEY_COLUMNS: &str = "k.id, k.prefix, k.name, k.permissions, k.partner_id, k.company_id, \
    k.expires_at, k.last_used_at, k.created_by, k.created_at, k.revoked_at";

/// The `KEY_COLUMNS` of a key.
#[derive(sqlx::FromRow)]
struct KeyRecord {
    id: i64,
    prefix: String,
    name: String,
    permissions: String,
    partner_id: Option<i64>,
    company_id: Option<i64>,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    created_by: Option<i64>,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl KeyRecord {
    /// The same columns read by SQLite's same-thread reader.
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            prefix: r.get("prefix")?,
            name: r.get("name")?,
            permissions: r.get("permissions")?,
            partner_id: r.get("partner_id")?,
            company_id: r.get("company_id")?,
            expires_at: r.get("expires_at")?,
            last_used_at: r.get("last_used_at")?,
            created_by: r.get("created_by")?,
            created_at: r.get("created_at")?,
            revoked_at: r.get("revoked_at")?,
        })
    }

    fn into_key(self) -> DbResult<ApiKey> {
        let permissions = Permissions::from_stored(&self.permissions).map_err(|_| {
            DbError::Corrupt(format!("api_keys.permissions holds {:?}", self.permissions))
        })?;
        Ok(ApiKey {
            id: ApiKeyId(self.id),
            owner: KeyOwner::from_columns(self.partner_id, self.company_id),
            prefix: self.prefix,
            name: KeyName::from_stored(self.name),
            permissions,
            expires_at: self.expires_at.map(instant),
            last_used_at: self.last_used_at.map(instant),
            created_by: self.created_by.map(UserId),
            created_at: instant(self.created_at),
            revoked_at: self.revoked_at.map(instant),
        })
    }
}

fn key(r: &AnyRow) -> DbResult<ApiKey> {
    KeyRecord::from_row(r)?.into_key()
}

/// A key to create.
#[derive(Clone, Debug)]
pub struct NewKey<'a> {
    pub owner: KeyOwner,
    pub name: &'a KeyName,
    pub permissions: Permissions,
    pub expires_at: Option<Timestamp>,
    pub created_by: Option<UserId>,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    super::sessions::hex(&buf)
}

/// Creates a key; returns its id and the key itself, which is never readable again.
pub async fn create(
    tx: &mut Transaction<'static, Any>,
    new: &NewKey<'_>,
    now: Timestamp,
) -> DbResult<(ApiKeyId, String, String)> {
    let (partner, company) = new.owner.columns();
    // 48 random bits of prefix rarely collide; a collision draws again. The conflict clause
    // keeps the transaction usable on PostgreSQL, where a failed insert would abort it.
    for _ in 0..4 {
        let prefix = random_hex(PREFIX_LEN / 2);
        let full = api_keys::compose(&prefix, &random_hex(api_keys::SECRET_LEN / 2));
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO api_keys (prefix, key_hash, name, permissions, partner_id, company_id, \
             expires_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&prefix)
        .bind(token_hash(&full))
        .bind(new.name.as_str())
        .bind(new.permissions.to_stored())
        .bind(partner)
        .bind(company)
        .bind(new.expires_at.map(secs))
        .bind(new.created_by.map(|u| u.0))
        .bind(secs(now))
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = inserted {
            return Ok((ApiKeyId(id), prefix, full));
        }
    }
    Err(DbError::Busy)
}

/// The owner's keys, newest first, at most `limit`.
pub async fn list(db: &Db, owner: KeyOwner, limit: u32) -> DbResult<Vec<ApiKey>> {
    let (condition, value) = owner.condition(1);
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE {condition} ORDER BY k.id DESC LIMIT $2"
    ))
    .bind(value)
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(key).collect()
}

/// How many of the owner's keys are not revoked.
pub async fn count_unrevoked(tx: &mut Transaction<'static, Any>, owner: KeyOwner) -> DbResult<i64> {
    let (condition, value) = owner.condition(1);
    Ok(sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM api_keys k WHERE {condition} AND k.revoked_at IS NULL"
    ))
    .bind(value)
    .fetch_one(&mut **tx)
    .await?)
}

/// Revokes the owner's key `id` (again: nothing changes); another owner's key is not found.
/// Says whether this call revoked it.
pub async fn revoke(
    tx: &mut Transaction<'static, Any>,
    owner: KeyOwner,
    id: ApiKeyId,
    by: Option<UserId>,
    now: Timestamp,
) -> DbResult<(ApiKey, bool)> {
    let (condition, value) = owner.condition(2);
    let done = sqlx::query(&format!(
        "UPDATE api_keys SET revoked_at = $3, revoked_by = $4 \
         WHERE id IN (SELECT k.id FROM api_keys k WHERE k.id = $1 AND {condition}) \
         AND revoked_at IS NULL"
    ))
    .bind(id.0)
    .bind(value)
    .bind(secs(now))
    .bind(by.map(|u| u.0))
    .execute(&mut **tx)
    .await?;
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = $1 AND {condition}"
    ))
    .bind(id.0)
    .bind(value)
    .fetch_optional(&mut **tx)
    .await?;
    let found = row
        .as_ref()
        .map(key)
        .transpose()?
        .ok_or(DbError::NotFound)?;
    Ok((found, done.rows_affected() > 0))
}

/// The key with `prefix`, whoever owns it: for the operator's command line.
pub async fn by_prefix(db: &Db, prefix: &str) -> DbResult<ApiKey> {
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.prefix = $1"
    ))
    .bind(prefix)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(key).transpose()?.ok_or(DbError::NotFound)
}

/// The stored key a request presents, if `presented` is exactly one (compared by `given`, its
/// `token_hash`, which the caller has already computed), whether or not it is still usable: the
/// caller decides that.
pub async fn presented(db: &Db, presented: &str, given: &str) -> DbResult<Option<ApiKey>> {
    let Some(prefix) = api_keys::prefix_of(presented) else {
        return Ok(None);
    };
    let sql = format!("SELECT {KEY_COLUMNS}, k.key_hash FROM api_keys k WHERE k.prefix = $1");
    let found = match db.reader() {
        Some(reader) => reader.one(&sql, [prefix], |r| {
            Ok((KeyRecord::from_sqlite(r)?, r.get::<_, String>("key_hash")?))
        })?,
        None => match sqlx::query(&sql)
            .bind(prefix)
            .fetch_optional(db.pool())
            .await?
        {
            Some(row) => Some((KeyRecord::from_row(&row)?, row.try_get("key_hash")?)),
            None => None,
        },
    };
    let Some((record, stored)) = found else {
        return Ok(None);
    };
    // Both sides are hashes of the same length; the comparison still takes the same time
    // whatever the first difference, so timing reveals nothing of the stored hash.
    let same = stored.len() == given.len()
        && stored
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        record.into_key().map(Some)
    } else {
        Ok(None)
    }
}

/// Records that key `id` was used at `now`, unless it was within `granularity` seconds: the
/// hottest path writes at most once a minute per key. Says whether it wrote.
pub async fn touch(
    tx: &mut Transaction<'static, Any>,
    id: ApiKeyId,
    now: Timestamp,
    granularity: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
         AND (last_used_at IS NULL OR last_used_at <= $3)",
    )
    .bind(secs(now))
    .bind(id.0)
    .bind(secs(now) - granularity)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}
