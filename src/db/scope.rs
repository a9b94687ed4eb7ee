//! What a caller may see, and the proof that a company is within it.
//!
//! A `Scope` is derived once from the caller and passed to every query for company data. Reading
//! one company's data starts with `authorise`, which turns a scope and a company id into an
//! `AuthorisedCompany`: storage functions that read or change a company take that proof, so they
//! cannot be called for a company the caller may not see, and do not re-read its facts.

use sqlx::FromRow;

use super::{Db, DbError, DbResult, instant};
use crate::domain::{CompanyFacts, CompanyId, PartnerId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The operator sees every company.
    Operator,
    /// A partner sees its own companies and every sub-partner's, never anyone else's.
    Partner(PartnerId),
    /// A company user (or a partner in manage mode) sees one company.
    Company(CompanyId),
}

/// `column IN (partner $param and every partner beneath it)`: the one spelling of the tree.
pub(crate) fn beneath(column: &str, param: usize) -> String {
    format!(
        "{column} IN (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = ${param})"
    )
}

/// How many partners' companies a partner's lists cover: its own only (one range of each
/// `(partner_id, sort, id)` index, read in order), or also its sub-partners' (one range each,
/// merged by the database).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    OnePartner,
    Tree,
}

/// The reach of `scope`'s lists: a partner with sub-partners reaches its tree.
pub async fn reach(db: &Db, scope: &Scope) -> DbResult<Reach> {
    let Scope::Partner(partner) = scope else {
        return Ok(Reach::Tree);
    };
    let children: Option<i64> =
        sqlx::query_scalar("SELECT id FROM partners WHERE parent_id = $1 LIMIT 1")
            .bind(partner.0)
            .fetch_optional(db.pool())
            .await?;
    Ok(if children.is_some() {
        Reach::Tree
    } else {
        Reach::OnePartner
    })
}

impl Scope {
    /// `companies_condition` for a list: a partner that reaches no sub-partner names its own
    /// companies directly, so the list walks one index range in order.
    pub(crate) fn list_condition(&self, n: usize, reach: Reach) -> (String, i64) {
        match (self, reach) {
            (Scope::Partner(partner), Reach::OnePartner) => {
                (format!("c.partner_id = ${n}"), partner.0)
            }
            _ => self.companies_condition(n),
        }
    }

    /// An SQL condition limiting companies (alias `c`) to this scope, reading bind parameter
    /// `$n`, and the value to bind there.
    pub(crate) fn companies_condition(&self, n: usize) -> (String, i64) {
        match *self {
            Scope::Operator => (format!("CAST(${n} AS BIGINT) = 0"), 0),
            Scope::Partner(partner) => (beneath("c.partner_id", n), partner.0),
            Scope::Company(company) => (format!("c.id = ${n}"), company.0),
        }
    }
}

/// A company the caller may see, with the facts every company page and rule needs. Only storage
/// can make one (`authorise`, or from the signed-in company user's own row).
#[derive(Clone, Debug)]
pub struct AuthorisedCompany {
    id: CompanyId,
    pub partner: PartnerId,
    pub name: String,
    pub country: String,
    pub time_zone: String,
    pub account_manager: Option<UserId>,
    pub facts: CompanyFacts,
    /// A partner's own internal company (its staff and NFR seats), not a customer.
    pub internal: bool,
}

impl AuthorisedCompany {
    pub fn id(&self) -> CompanyId {
        self.id
    }
}

/// The columns `CompanyRecord` reads from companies `c`.
pub(crate) const COMPANY_COLUMNS: &str = "c.id, c.partner_id, c.name, c.country, c.time_zone, \
    c.account_manager_id, c.trial_ends_at, c.licensed_until, c.managed_until, c.internal";

#[derive(FromRow)]
pub(crate) struct CompanyRecord {
    pub(super) id: i64,
    pub(super) partner_id: i64,
    pub(super) name: String,
    pub(super) country: String,
    pub(super) time_zone: String,
    pub(super) account_manager_id: Option<i64>,
    pub(super) trial_ends_at: i64,
    pub(super) licensed_until: Option<i64>,
    pub(super) managed_until: Option<i64>,
    pub(super) internal: i64,
}

impl CompanyRecord {
    /// Only for a row read under the caller's scope.
    pub(crate) fn authorised(self) -> AuthorisedCompany {
        AuthorisedCompany {
            id: CompanyId(self.id),
            partner: PartnerId(self.partner_id),
            name: self.name,
            country: self.country,
            time_zone: self.time_zone,
            account_manager: self.account_manager_id.map(UserId),
            facts: CompanyFacts {
                trial_ends_at: instant(self.trial_ends_at),
                licensed_until: self.licensed_until.map(instant),
                managed_until: self.managed_until.map(instant),
            },
            internal: self.internal != 0,
        }
    }
}

/// Company `id` if `scope` may see it; another tenant's company is not found.
pub async fn authorise(db: &Db, scope: &Scope, id: CompanyId) -> DbResult<AuthorisedCompany> {
    let (condition, value) = scope.companies_condition(2);
    let record: Option<CompanyRecord> = sqlx::query_as(&format!(
        "SELECT {COMPANY_COLUMNS} FROM companies c WHERE c.id = $1 AND {condition}"
    ))
    .bind(id.0)
    .bind(value)
    .fetch_optional(db.pool())
    .await?;
    record
        .map(CompanyRecord::authorised)
        .ok_or(DbError::NotFound)
}
