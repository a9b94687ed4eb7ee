//! Partners and their tree.

use sqlx::{Any, Transaction};

use super::{Db, DbError, DbResult, secs};
use crate::domain::{PartnerId, TrialDays};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partner {
    pub id: PartnerId,
    pub parent_id: Option<PartnerId>,
    pub name: String,
    pub trial_days: TrialDays,
}

/// Creates a partner under `parent` (a distributor when `None`) and records its place in the tree.
pub async fn create(
    tx: &mut Transaction<'static, Any>,
    parent: Option<PartnerId>,
    name: &str,
    trial_days: TrialDays,
    now: jiff::Timestamp,
) -> DbResult<PartnerId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO partners (parent_id, name, trial_days, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(parent.map(|p| p.0))
    .bind(name)
    .bind(i64::from(trial_days.get()))
    .bind(secs(now))
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO partner_ancestors (ancestor_id, descendant_id, depth) \
         SELECT ancestor_id, $1, depth + 1 FROM partner_ancestors WHERE descendant_id = $2 \
         UNION ALL SELECT $1, $1, 0",
    )
    .bind(id)
    .bind(parent.map_or(-1, |p| p.0))
    .execute(&mut **tx)
    .await?;
    Ok(PartnerId(id))
}

/// The partner `id` if `viewer` is that partner or one of its ancestors.
pub async fn get_within(db: &Db, viewer: PartnerId, id: PartnerId) -> DbResult<Partner> {
    let row: Option<(i64, Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT p.id, p.parent_id, p.name, p.trial_days FROM partners p \
         JOIN partner_ancestors a ON a.descendant_id = p.id AND a.ancestor_id = $1 WHERE p.id = $2",
    )
    .bind(viewer.0)
    .bind(id.0)
    .fetch_optional(db.pool())
    .await?;
    let (id, parent_id, name, trial_days) = row.ok_or(DbError::NotFound)?;
    Ok(Partner {
        id: PartnerId(id),
        parent_id: parent_id.map(PartnerId),
        name,
        trial_days: TrialDays::new(trial_days).unwrap_or(TrialDays::DEFAULT),
    })
}
