//! The audit trail partners read on their Activity page: one entry per action on seats, orders
//! and companies, with the person who did it and the company they acted for. Append-only.

use jiff::Timestamp;
use sqlx::{Any, FromRow, Row, Transaction};

use super::keyset::{self, Binds, Cursor, KeysetPage, Planned, Seek, Sort, SortKey, Walk};
use super::scope::{Subtree, beneath as beneath_partner, keyset_arms};
use super::{Actor, Db, DbResult, instant, secs};
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

/// Whose security event an entry is: a user's own account, or an API key. Each belongs to a
/// company or straight to a partner; the operator and instance keys belong to neither.
#[derive(Clone, Copy, Debug)]
pub enum SecurityOwner {
    User(UserId),
    Key(ApiKeyId),
}

/// Appends a security event about `owner` to its partner's Activity: under its company when it
/// has one, else under its partner. An owner of no partner's (the operator, an instance key) is
/// only logged.
pub async fn record_security(
    tx: &mut Transaction<'static, Any>,
    owner: SecurityOwner,
    action: &str,
    detail: &str,
    actor: Option<UserId>,
    now: Timestamp,
) -> DbResult<()> {
    // Both tables carry the owner's `company_id` or `partner_id`.
    let (table, id) = match owner {
        SecurityOwner::User(user) => ("users", user.0),
        SecurityOwner::Key(key) => ("api_keys", key.0),
    };
    sqlx::query(&format!(
        "INSERT INTO activity (at, partner_id, company_id, actor_user_id, on_behalf_of_company_id, \
         action, detail) SELECT $1, COALESCE(c.partner_id, o.partner_id), o.company_id, $2, NULL, \
         $3, $4 FROM {table} o LEFT JOIN companies c ON c.id = o.company_id \
         WHERE o.id = $5 AND COALESCE(c.partner_id, o.partner_id) IS NOT NULL"
    ))
    .bind(secs(now))
    .bind(actor.map(|u| u.0))
    .bind(action)
    .bind(detail)
    .bind(id)
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

/// Whose entries a list reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityOf {
    /// Every company beneath the partner (and the partner's own security events).
    Partner(PartnerId),
    /// One company's.
    Company(CompanyId),
}

/// The condition of the entries `filter` keeps beyond whose they are, binding its values.
fn filter_condition(filter: ActivityFilter, binds: &mut Binds) -> String {
    let mut condition = "1 = 1".to_owned();
    if let Some(company) = filter.company {
        condition += &format!(" AND a.company_id = {}", binds.int(company.0));
    }
    if let Some(actor) = filter.actor {
        condition += &format!(" AND a.actor_user_id = {}", binds.int(actor.0));
    }
    condition
}

/// Whose entries `of` reads, one condition per arm. A partner's, unfiltered, walks each partner
/// of `subtree` by `activity_partner` (`Subtree`), a page deep; a filter walks its own index
/// (the company's or the actor's entries) and keeps those beneath the partner; a company's reads
/// `activity_company`.
fn arms(
    of: ActivityOf,
    subtree: Option<&Subtree>,
    filter: ActivityFilter,
    binds: &mut Binds,
) -> Vec<String> {
    let unfiltered = filter.company.is_none() && filter.actor.is_none();
    match (of, subtree) {
        (ActivityOf::Partner(_), Some(subtree)) if unfiltered => {
            subtree.arms("a.partner_id", binds)
        }
        (ActivityOf::Partner(partner), _) => {
            vec![beneath_partner("a.partner_id", binds.int_at(partner.0))]
        }
        (ActivityOf::Company(company), _) => {
            vec![format!("a.company_id = {}", binds.int(company.0))]
        }
    }
}

/// The query of one page of `of`'s entries, by when they were written.
pub fn page_query(
    (of, subtree): (ActivityOf, Option<&Subtree>),
    filter: ActivityFilter,
    descending: bool,
    seek: &Seek,
    limit: u32,
) -> Planned {
    let mut binds = Binds::default();
    let arms = arms(of, subtree, filter, &mut binds);
    let condition = filter_condition(filter, &mut binds);
    // The id is the sort key itself: the cursor's tie-break compares it with itself.
    let walk = Walk {
        key: "a.id",
        id: "a.id",
        descending,
    };
    let select = "SELECT a.id, a.id AS sort_key, a.at, a.action, a.detail, c.name AS company, \
           COALESCE((SELECT TRIM(u.first_name || ' ' || u.last_name) || ' <' || u.email || '>' \
             FROM users u WHERE u.id = a.actor_user_id), 'seatledger') AS actor, \
           (SELECT o.name FROM companies o WHERE o.id = a.on_behalf_of_company_id) AS on_behalf_of \
         FROM activity a LEFT JOIN companies c ON c.id = a.company_id";
    let sql = keyset_arms(select, &arms, &condition, &walk, (seek, limit), &mut binds);
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

/// The partners a list of `of` walks one by one: a partner's subtree.
async fn subtree(db: &Db, of: ActivityOf) -> DbResult<Option<Subtree>> {
    Ok(match of {
        ActivityOf::Partner(partner) => Some(Subtree::of(db, partner).await?),
        ActivityOf::Company(_) => None,
    })
}

/// One page of `of`'s entries that `filter` keeps, newest first unless `descending` is false.
pub async fn page(
    db: &Db,
    of: ActivityOf,
    filter: ActivityFilter,
    descending: bool,
    seek: &Seek,
    limit: u32,
) -> DbResult<KeysetPage<ActivityRow>> {
    let subtree = subtree(db, of).await?;
    let query = page_query((of, subtree.as_ref()), filter, descending, seek, limit);
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

/// How many of `of`'s entries `filter` keeps: the N of "1–50 of N".
pub async fn count(db: &Db, of: ActivityOf, filter: ActivityFilter) -> DbResult<i64> {
    let mut binds = Binds::default();
    let whose = arms(of, None, filter, &mut binds).join(" OR ");
    let condition = filter_condition(filter, &mut binds);
    let (n,): (i64,) = binds
        .apply(sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM activity a WHERE ({whose}) AND {condition}"
        )))
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// The query of the API's list: `of`'s entries newest first, one page before `before`.
pub async fn list_query(
    db: &Db,
    of: ActivityOf,
    filter: ActivityFilter,
    before: Option<i64>,
    limit: u32,
) -> DbResult<Planned> {
    let subtree = subtree(db, of).await?;
    Ok(page_query(
        (of, subtree.as_ref()),
        filter,
        true,
        &before_entry(before),
        limit,
    ))
}

/// Where a page newest first starts: after `before`, the oldest entry of the page before.
pub fn before_entry(before: Option<i64>) -> Seek {
    before.map_or(Seek::First, |id| {
        Seek::After(Cursor {
            key: SortKey::Number(id),
            id,
        })
    })
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
