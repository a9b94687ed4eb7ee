//! Partners and their tree.

use sqlx::{Any, Transaction};

use super::{Db, DbError, DbResult, secs};
use crate::domain::{OrgName, PartnerId, TrialDays, UserId};

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
    name: &OrgName,
    trial_days: TrialDays,
    now: jiff::Timestamp,
) -> DbResult<PartnerId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO partners (parent_id, name, trial_days, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(parent.map(|p| p.0))
    .bind(name.as_str())
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
        trial_days: TrialDays::new(trial_days)
            .map_err(|_| DbError::Corrupt(format!("partners.trial_days holds {trial_days}")))?,
    })
}

/// A direct sub-partner, as the Sub-partners page lists it.
#[derive(Clone, Debug)]
pub struct SubPartnerRow {
    pub id: PartnerId,
    pub name: String,
    pub trial_days: i64,
    pub companies: i64,
}

/// The direct sub-partners of `parent` in name order, one page after `after` (a name and id).
pub async fn children(
    db: &Db,
    parent: PartnerId,
    after: Option<(&str, PartnerId)>,
    limit: u32,
) -> DbResult<super::Page<SubPartnerRow, (String, PartnerId)>> {
    let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT p.id, p.name, p.trial_days, (SELECT COUNT(*) FROM companies c WHERE c.partner_id = p.id) \
         FROM partners p WHERE p.parent_id = $1 AND (p.name > $2 OR (p.name = $2 AND p.id > $3)) \
         ORDER BY p.name, p.id LIMIT $4",
    )
    .bind(parent.0)
    .bind(after.map_or("", |a| a.0))
    .bind(after.map_or(0, |a| a.1.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .into_iter()
        .map(|(id, name, trial_days, companies)| SubPartnerRow {
            id: PartnerId(id),
            name,
            trial_days,
            companies,
        })
        .collect();
    Ok(super::Page::from_rows(items, limit, |p| {
        (p.name.clone(), p.id)
    }))
}

/// The active users of `partner`, for choosing an account manager.
pub async fn users(db: &Db, partner: PartnerId) -> DbResult<Vec<(UserId, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, TRIM(first_name || ' ' || last_name) || ' <' || email || '>' FROM users \
         WHERE partner_id = $1 AND deactivated_at IS NULL ORDER BY last_name, first_name, id LIMIT 500",
    )
    .bind(partner.0)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| (UserId(id), name))
        .collect())
}
