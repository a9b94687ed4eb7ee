//! Transaction-long advisory locks on PostgreSQL, for rules that count rows before adding or
//! removing one ("at most 50 keys", "never the last manager", "at most 100 MiB of uploads"):
//! under READ COMMITTED two writers would each count before the other commits. Each writer of
//! such a rule takes its lock first, before any row lock, so the writers of one owner go one at
//! a time and each counts what the one before it left. SQLite's write transaction already
//! excludes every other writer.

use sqlx::{Any, Transaction};

use super::api_keys::KeyOwner;
use super::webhooks::Owner;
use super::{Backend, DbResult};
use crate::domain::CompanyId;

/// What a lock guards: the counted rows of one owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guarded {
    /// Deactivating and deleting a company's users (its active managers are counted).
    Removals(CompanyId),
    /// Creating an owner's API keys (its unrevoked keys are counted).
    ApiKeys(KeyOwner),
    /// Registering an owner's webhook endpoints (they are counted).
    WebhookEndpoints(Owner),
    /// Keeping a company's uploads (their bytes are summed against its quota).
    Uploads(CompanyId),
}

impl Guarded {
    /// The lock's two keys: a space of this crate's own per kind of owner (apart from the
    /// migrations' one-key lock), and the owner's id. Ids past the second key's INTEGER range
    /// share a lock with another owner's, which only makes their writers wait for each other.
    fn keys(self) -> (i32, i64) {
        let (space, id) = match self {
            Guarded::Removals(company) => (1, company.0),
            Guarded::ApiKeys(KeyOwner::Operator) => (2, 0),
            Guarded::ApiKeys(KeyOwner::Partner(partner)) => (3, partner.0),
            Guarded::ApiKeys(KeyOwner::Company(company)) => (4, company.0),
            Guarded::WebhookEndpoints(Owner::Operator) => (5, 0),
            Guarded::WebhookEndpoints(Owner::Partner(partner)) => (6, partner.0),
            Guarded::Uploads(company) => (7, company.0),
        };
        (0x5EA7_0000 + space, id)
    }
}

/// Takes `guarded`'s lock until the transaction ends (PostgreSQL; nothing on SQLite).
pub async fn lock(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    guarded: Guarded,
) -> DbResult<()> {
    if backend == Backend::Postgres {
        let (space, id) = guarded.keys();
        sqlx::query("SELECT pg_advisory_xact_lock($1, CAST($2 % 2147483648 AS INTEGER))")
            .bind(space)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
