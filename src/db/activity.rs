//! The audit trail partners read on their Activity page: one entry per action on seats, orders
//! and companies, with the person who did it and the company they acted for. Append-only.

use jiff::Timestamp;
use sqlx::{Any, FromRow, Row, Transaction};

use super::keyset::{self, Binds, Cursor, KeysetPage, Planned, Seek, Sort, SortKey, Walk};
use super::scope::Reach;
use super::{Actor, Db, DbResult, Page, instant, secs};
use crate::domain::{ApiKeyId, CompanyId, PartnerId, UserId};

/// Appends one entry about `company`.
pub async fn record(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    action: &str,
    detail: &str,
    actor: Actor,
    now: Timestamp,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO activity (at, partner_id, company_id, actor_user_id, on_behalf_of_company_id, \
         action, detail) SELECT $1, c.partner_id, c.id, $2, $3, $4, $5 FROM companies c WHERE c.id = $6",
    )
    .bind(secs(now))
    .bind(actor.user.map(|u| u.0))
    .bind(actor.on_behalf_of.map(|c| c.0))
    .bind(action)
    .bind(detail)
    .bind(company.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends one entry about `partner` itself (its settings), under no company.
pub async fn record_for_partner(
    tx: &mut Transaction<'static, Any>,
    partner: PartnerId,
    action: &str,
    detail: &str,
    actor: Actor,
    now: Timestamp,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO activity (at, partner_id, company_id, actor_user_id, on_behalf_of_company_id, \
         action, detail) VALUES ($1, $2, NULL, $3, NULL, $4, $5)",
    )
    .bind(secs(now))
    .bind(partner.0)
    .bind(actor.user.map(|u| u.0))
    .bind(action)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends an entry about user `user`'s own account (a security event) to the Activity of their
/// partner: a company user's under their company, a partner user's under their partner. The
/// operator belongs to no partner: their events are only logged.
pub async fn record_about_user(
    tx: &mut Transaction<'static, Any>,
    user: UserId,
    action: &str,
    detail: &str,
    actor: Option<UserId>,
    now: Timestamp,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO activity (at, partner_id, company_id, actor_user_id, on_behalf_of_company_id, \
         action, detail) SELECT $1, COALESCE(c.partner_id, u.partner_id), u.company_id, $2, NULL, $3, $4 \
         FROM users u LEFT JOIN companies c ON c.id = u.company_id \
         WHERE u.id = $5 AND COALESCE(c.partner_id, u.partner_id) IS NOT NULL",
    )
    .bind(secs(now))
    .bind(actor.map(|u| u.0))
    .bind(action)
    .bind(detail)
    .bind(user.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends an entry about API key `key` to its owner's partner's Activity: a company key's under
/// its company, a partner key's under the partner. Instance keys belong to no partner: their
/// events are only logged.
pub async fn record_about_key(
    tx: &mut Transaction<'static, Any>,
    key: ApiKeyId,
    action: &str,
    detail: &str,
    actor: Option<UserId>,
    now: Timestamp,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO activity (at, partner_id, company_id, actor_user_id, on_behalf_of_company_id, \
         action, detail) SELECT $1, COALESCE(k.partner_id, c.partner_id), k.company_id, $2, NULL, \
         $3, $4 FROM api_keys k LEFT JOIN companies c ON c.id = k.company_id \
         WHERE k.id = $5 AND COALESCE(k.partner_id, c.partner_id) IS NOT NULL",
    )
    .bind(secs(now))
    .bind(actor.map(|u| u.0))
    .bind(action)
    .bind(detail)
    .bind(key.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ActivityRow {
    pub id: i64,
    pub at: Timestamp,
    pub company: Option<String>,
    pub actor: String,
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub detail: String,
}

/// Narrows the Activity page.
#[derive(Clone, Copy, Debug, Default)]
pub struct ActivityFilter {
    pub company: Option<CompanyId>,
    pub actor: Option<UserId>,
}

/// The column Activity sorts by: when (entries are numbered as they are written).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ActivitySort {
    #[default]
    When,
}

impl Sort for ActivitySort {
    const ALL: &'static [Self] = &[ActivitySort::When];

    fn as_str(self) -> &'static str {
        "when"
    }

    /// Served by `activity_partner` (partner, id), or `activity_company` for one company.
    fn key(self) -> (&'static str, bool) {
        ("a.id", false)
    }
}

/// The condition of the entries beneath `partner` that `filter` keeps, binding its values.
fn beneath_condition(
    partner: PartnerId,
    reach: Reach,
    filter: ActivityFilter,
    binds: &mut Binds,
) -> String {
    let partner = binds.int(partner.0);
    let mut condition = match reach {
        Reach::OnePartner => format!("a.partner_id = {partner}"),
        Reach::Tree => format!(
            "a.partner_id IN (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = {partner})"
        ),
    };
    if let Some(company) = filter.company {
        condition += &format!(" AND a.company_id = {}", binds.int(company.0));
    }
    if let Some(actor) = filter.actor {
        condition += &format!(" AND a.actor_user_id = {}", binds.int(actor.0));
    }
    condition
}

/// The query of one page of Activity.
pub fn beneath_query(
    (partner, reach): (PartnerId, Reach),
    filter: ActivityFilter,
    descending: bool,
    seek: &Seek,
    limit: u32,
) -> Planned {
    let mut binds = Binds::default();
    let condition = beneath_condition(partner, reach, filter, &mut binds);
    // The id is the sort key itself: the cursor's tie-break compares it with itself.
    let walk = Walk {
        key: "a.id",
        id: "a.id",
        descending,
    };
    let (keyset, order) = walk.sql(seek, limit, &mut binds);
    let sql = format!(
        "SELECT a.id, a.at, a.action, a.detail, c.name AS company, \
           COALESCE((SELECT TRIM(u.first_name || ' ' || u.last_name) || ' <' || u.email || '>' \
             FROM users u WHERE u.id = a.actor_user_id), 'seatledger') AS actor, \
           (SELECT o.name FROM companies o WHERE o.id = a.on_behalf_of_company_id) AS on_behalf_of \
         FROM activity a LEFT JOIN companies c ON c.id = a.company_id \
         WHERE {condition} AND {keyset} {order}"
    );
    Planned { sql, binds }
}

#[derive(FromRow)]
struct ActivityRecord {
    id: i64,
    at: i64,
    action: String,
    detail: String,
    company: Option<String>,
    actor: String,
    on_behalf_of: Option<String>,
}

/// One page of the entries about companies beneath `partner` (and the partner itself), newest
/// first unless `descending` is false.
pub async fn beneath(
    db: &Db,
    partner: PartnerId,
    filter: ActivityFilter,
    descending: bool,
    seek: &Seek,
    limit: u32,
) -> DbResult<KeysetPage<ActivityRow>> {
    let reach = super::scope::reach(db, &super::Scope::Partner(partner)).await?;
    let query = beneath_query((partner, reach), filter, descending, seek, limit);
    let records: Vec<ActivityRecord> = query
        .binds
        .apply(sqlx::query_as(&query.sql))
        .fetch_all(db.pool())
        .await?;
    let page = keyset::page(seek, records, limit, |r| Cursor {
        key: SortKey::Number(r.id),
        id: r.id,
    });
    Ok(KeysetPage {
        rows: page
            .rows
            .into_iter()
            .map(|r| ActivityRow {
                id: r.id,
                at: instant(r.at),
                company: r.company,
                actor: r.actor,
                on_behalf_of: r.on_behalf_of,
                action: r.action,
                detail: r.detail,
            })
            .collect(),
        previous: page.previous,
        next: page.next,
    })
}

/// How many entries beneath `partner` `filter` keeps: the N of "1–50 of N".
pub async fn beneath_count(db: &Db, partner: PartnerId, filter: ActivityFilter) -> DbResult<i64> {
    let reach = super::scope::reach(db, &super::Scope::Partner(partner)).await?;
    let mut binds = Binds::default();
    let condition = beneath_condition(partner, reach, filter, &mut binds);
    let (n,): (i64,) = binds
        .apply(sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM activity a WHERE {condition}"
        )))
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// Whose entries a list reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityOf {
    /// Every company beneath the partner (and the partner's own security events).
    Partner(PartnerId),
    /// One company's.
    Company(CompanyId),
}

/// Entries of `of`, newest first, one page before `before`: read by `activity_partner` or
/// `activity_company` (each is (owner, id)).
pub async fn list(
    db: &Db,
    of: ActivityOf,
    filter: ActivityFilter,
    before: Option<i64>,
    limit: u32,
) -> DbResult<Page<ActivityRow, i64>> {
    let (whose, value) = match of {
        ActivityOf::Partner(partner) => (
            "a.partner_id IN (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = $1)",
            partner.0,
        ),
        ActivityOf::Company(company) => ("a.company_id = $1", company.0),
    };
    let rows = sqlx::query(&format!(
        "SELECT a.id, a.at, a.action, a.detail, c.name AS company, \
           COALESCE((SELECT TRIM(u.first_name || ' ' || u.last_name) || ' <' || u.email || '>' \
             FROM users u WHERE u.id = a.actor_user_id), 'seatledger') AS actor, \
           (SELECT o.name FROM companies o WHERE o.id = a.on_behalf_of_company_id) AS on_behalf_of \
         FROM activity a LEFT JOIN companies c ON c.id = a.company_id \
         WHERE {whose} \
           AND ($2 = 0 OR a.company_id = $2) AND ($3 = 0 OR a.actor_user_id = $3) AND a.id < $4 \
         ORDER BY a.id DESC LIMIT $5",
    ))
    .bind(value)
    .bind(filter.company.map_or(0, |c| c.0))
    .bind(filter.actor.map_or(0, |u| u.0))
    .bind(before.unwrap_or(i64::MAX))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(ActivityRow {
                id: r.try_get("id")?,
                at: instant(r.try_get("at")?),
                company: r.try_get("company")?,
                actor: r.try_get("actor")?,
                on_behalf_of: r.try_get("on_behalf_of")?,
                action: r.try_get("action")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Page::from_rows(items, limit, |a| a.id))
}

/// The latest `limit` entries about one company, newest first.
pub async fn latest_for(
    db: &Db,
    company: &super::scope::AuthorisedCompany,
    limit: u32,
) -> DbResult<Vec<ActivityRow>> {
    let rows = sqlx::query(
        "SELECT a.id, a.at, a.action, a.detail, NULL AS company, \
           COALESCE((SELECT TRIM(u.first_name || ' ' || u.last_name) \
             FROM users u WHERE u.id = a.actor_user_id), 'seatledger') AS actor, \
           NULL AS on_behalf_of \
         FROM activity a WHERE a.company_id = $1 ORDER BY a.id DESC LIMIT $2",
    )
    .bind(company.id().0)
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ActivityRow {
                id: r.try_get("id")?,
                at: instant(r.try_get("at")?),
                company: None,
                actor: r.try_get("actor")?,
                on_behalf_of: None,
                action: r.try_get("action")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(Into::into)
}
