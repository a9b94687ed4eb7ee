//! Customer companies.

use jiff::Timestamp;
use sqlx::{Any, Row, Transaction};

use super::{Db, DbError, DbResult, Page, Scope, instant, secs};
use crate::domain::schedule;
use crate::domain::{CompanyFacts, CompanyId, CompanyStatus, PartnerId, TrialDays, UserId};

#[derive(Clone, Debug)]
pub struct NewCompany<'a> {
    pub partner: PartnerId,
    pub name: &'a str,
    pub country: &'a str,
    pub time_zone: &'a str,
    pub account_manager: Option<UserId>,
    pub trial_days: TrialDays,
}

/// Creates a company on a free trial that starts now.
pub async fn create(
    tx: &mut Transaction<'static, Any>,
    company: &NewCompany<'_>,
    now: Timestamp,
) -> DbResult<CompanyId> {
    let trial_ends_at = company.trial_days.trial_end(now);
    let id = sqlx::query_scalar(
        "INSERT INTO companies (partner_id, name, country, time_zone, account_manager_id, \
         trial_ends_at, trial_due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(company.partner.0)
    .bind(company.name)
    .bind(company.country)
    .bind(company.time_zone)
    .bind(company.account_manager.map(|u| u.0))
    .bind(secs(trial_ends_at))
    .bind(secs(schedule::first_due(trial_ends_at)))
    .bind(secs(now))
    .fetch_one(&mut **tx)
    .await?;
    Ok(CompanyId(id))
}

/// The lifecycle facts of a company the caller may see.
pub async fn facts(db: &Db, scope: &Scope, id: CompanyId) -> DbResult<CompanyFacts> {
    let (condition, value) = scope.companies_condition(2);
    let row: Option<(i64, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT c.trial_ends_at, c.licensed_until FROM companies c WHERE c.id = $1 AND {condition}"
    ))
    .bind(id.0)
    .bind(value)
    .fetch_optional(db.pool())
    .await?;
    let (trial_ends_at, licensed_until) = row.ok_or(DbError::NotFound)?;
    Ok(CompanyFacts {
        trial_ends_at: instant(trial_ends_at),
        licensed_until: licensed_until.map(instant),
    })
}

/// A row of the partner's Company section.
#[derive(Clone, Debug)]
pub struct CompanyRow {
    pub id: CompanyId,
    pub name: String,
    pub partner_name: String,
    pub time_zone: String,
    pub status: CompanyStatus,
    pub seats_used: i64,
    pub seats_total: i64,
    pub learners: i64,
    pub account_manager: Option<String>,
}

/// Where a page of companies starts: after this (name, id) in name order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanyCursor {
    pub name: String,
    pub id: CompanyId,
}

/// Which companies the Company section shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompanyFilter {
    /// Only companies in this status ("Free Trial", "Premium" or "Expired").
    pub status: Option<StatusFilter>,
    /// Only companies whose name contains this text (any case).
    pub name: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    FreeTrial,
    Premium,
    Expired,
}

impl StatusFilter {
    /// The SQL condition matching `CompanyFacts::status`: reading `$2` as now.
    fn condition(self) -> &'static str {
        match self {
            StatusFilter::FreeTrial => {
                "c.trial_ends_at > $2 AND (c.licensed_until IS NULL OR c.licensed_until <= $2)"
            }
            StatusFilter::Premium => "c.licensed_until > $2",
            StatusFilter::Expired => {
                "c.trial_ends_at <= $2 AND (c.licensed_until IS NULL OR c.licensed_until <= $2)"
            }
        }
    }
}

/// The companies in `scope` matching `filter`, in name order, one page after `after`.
pub async fn list(
    db: &Db,
    scope: &Scope,
    filter: &CompanyFilter,
    after: Option<&CompanyCursor>,
    limit: u32,
    now: Timestamp,
) -> DbResult<Page<CompanyRow, CompanyCursor>> {
    let (condition, value) = scope.companies_condition(1);
    let status = filter.status.map_or("1 = 1", StatusFilter::condition);
    let name = filter
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| format!("%{}%", super::orders::like_escape(&n.to_lowercase())));
    let rows = sqlx::query(&format!(
        "SELECT c.id, c.name, p.name AS partner_name, c.time_zone, c.trial_ends_at, c.licensed_until, \
           (SELECT COALESCE(SUM(b.allocated), 0) FROM licence_batches b \
             WHERE b.company_id = c.id AND b.expires_at > $2) AS seats_used, \
           (SELECT COALESCE(SUM(b.quantity), 0) FROM licence_batches b \
             WHERE b.company_id = c.id AND b.expires_at > $2) AS seats_total, \
           (SELECT COUNT(*) FROM users u WHERE u.company_id = c.id AND u.is_learner = 1 \
             AND u.deactivated_at IS NULL) AS learners, \
           (SELECT TRIM(m.first_name || ' ' || m.last_name) FROM users m \
             WHERE m.id = c.account_manager_id) AS account_manager \
         FROM companies c JOIN partners p ON p.id = c.partner_id \
         WHERE {condition} AND {status} AND ($6 = '' OR LOWER(c.name) LIKE $6 ESCAPE '\\') \
           AND (c.name > $3 OR (c.name = $3 AND c.id > $4)) \
         ORDER BY c.name, c.id LIMIT $5"
    ))
    .bind(value)
    .bind(secs(now))
    .bind(after.map_or("", |a| a.name.as_str()))
    .bind(after.map_or(0, |a| a.id.0))
    .bind(i64::from(limit) + 1)
    .bind(name.unwrap_or_default())
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            let facts = CompanyFacts {
                trial_ends_at: instant(r.try_get("trial_ends_at")?),
                licensed_until: r.try_get::<Option<i64>, _>("licensed_until")?.map(instant),
            };
            Ok(CompanyRow {
                id: CompanyId(r.try_get("id")?),
                name: r.try_get("name")?,
                partner_name: r.try_get("partner_name")?,
                time_zone: r.try_get("time_zone")?,
                status: facts.status(now),
                seats_used: r.try_get("seats_used")?,
                seats_total: r.try_get("seats_total")?,
                learners: r.try_get("learners")?,
                account_manager: r.try_get("account_manager")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Page::from_rows(items, limit, |c| CompanyCursor {
        name: c.name.clone(),
        id: c.id,
    }))
}

/// A company as its Edit Company form shows it.
#[derive(Clone, Debug)]
pub struct CompanyDetails {
    pub id: CompanyId,
    pub partner: PartnerId,
    pub name: String,
    pub country: String,
    pub time_zone: String,
    pub account_manager: Option<UserId>,
    pub facts: CompanyFacts,
}

/// The company `id` if the caller may see it.
pub async fn details(db: &Db, scope: &Scope, id: CompanyId) -> DbResult<CompanyDetails> {
    let (condition, value) = scope.companies_condition(2);
    let row = sqlx::query(&format!(
        "SELECT c.id, c.partner_id, c.name, c.country, c.time_zone, c.account_manager_id, \
         c.trial_ends_at, c.licensed_until FROM companies c WHERE c.id = $1 AND {condition}"
    ))
    .bind(id.0)
    .bind(value)
    .fetch_optional(db.pool())
    .await?
    .ok_or(DbError::NotFound)?;
    Ok(CompanyDetails {
        id: CompanyId(row.try_get("id")?),
        partner: PartnerId(row.try_get("partner_id")?),
        name: row.try_get("name")?,
        country: row.try_get("country")?,
        time_zone: row.try_get("time_zone")?,
        account_manager: row
            .try_get::<Option<i64>, _>("account_manager_id")?
            .map(UserId),
        facts: CompanyFacts {
            trial_ends_at: instant(row.try_get("trial_ends_at")?),
            licensed_until: row
                .try_get::<Option<i64>, _>("licensed_until")?
                .map(instant),
        },
    })
}

/// What Edit Company changes.
#[derive(Clone, Debug)]
pub struct CompanyEdit<'a> {
    pub name: &'a str,
    pub country: &'a str,
    pub time_zone: &'a str,
    pub account_manager: Option<UserId>,
}

/// Saves Edit Company for a company the caller may see.
pub async fn update(
    db: &Db,
    scope: &Scope,
    id: CompanyId,
    edit: &CompanyEdit<'_>,
    actor: super::Actor,
    now: Timestamp,
) -> DbResult<()> {
    details(db, scope, id).await?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE companies SET name = $1, country = $2, time_zone = $3, account_manager_id = $4 \
         WHERE id = $5",
    )
    .bind(edit.name)
    .bind(edit.country)
    .bind(edit.time_zone)
    .bind(edit.account_manager.map(|u| u.0))
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    super::activity::record(
        &mut tx,
        id,
        "company_edited",
        &format!("Edited company {}", edit.name),
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Creates a company for a partner: on the partner's trial, or with licences assigned at once.
pub async fn create_with_start(
    db: &Db,
    company: &NewCompany<'_>,
    licences: Option<(crate::domain::OrderKind, crate::domain::SeatCount)>,
    actor: super::Actor,
    now: Timestamp,
) -> DbResult<CompanyId> {
    let mut tx = db.begin_write().await?;
    let id = create(&mut tx, company, now).await?;
    let detail = match licences {
        Some((kind, quantity)) => {
            super::seats::assign_batch(&mut tx, id, None, kind, quantity, actor, now).await?;
            format!(
                "Created {} with {} {} licences",
                company.name,
                quantity.get(),
                kind.label()
            )
        }
        None => format!(
            "Created {} on a {}-day free trial",
            company.name,
            company.trial_days.get()
        ),
    };
    super::activity::record(&mut tx, id, "company_created", &detail, actor, now).await?;
    tx.commit().await?;
    Ok(id)
}
