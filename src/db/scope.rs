//! What a caller may see, and the proof that a company is within it.
//!
//! A `Scope` is derived once from the caller and passed to every query for company data. Reading
//! one company's data starts with `authorise`, which turns a scope and a company id into an
//! `AuthorisedCompany`: storage functions that read or change a company take that proof, so they
//! cannot be called for a company the caller may not see, and do not re-read its facts.

use sqlx::FromRow;

use super::keyset::{Seek, Walk};
use super::{Binds, Db, DbError, DbResult, instant};
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

/// The most partners a list reads one arm each (see `Subtree`). Past it the list reads the
/// subtree in one arm and sorts it, keeping well inside SQLite's 500 arms per compound SELECT.
const MOST_ARMS: usize = 100;

/// A partner and every partner beneath it, read once per list. A list walks each partner's own
/// index in list order, a page deep, and merges the arms: it then costs a page times the partners
/// of the subtree, never the rows of the subtree or of the instance. One `IN` over the subtree
/// would read and sort every row of it, as neither database merges index walks for `IN`.
#[derive(Clone, Debug)]
pub struct Subtree {
    partners: Vec<i64>,
}

impl Subtree {
    pub async fn of(db: &Db, root: PartnerId) -> DbResult<Self> {
        let partners = sqlx::query_scalar(
            "SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = $1 \
             ORDER BY depth, descendant_id",
        )
        .bind(root.0)
        .fetch_all(db.pool())
        .await?;
        Ok(Self { partners })
    }

    /// How many partners the subtree holds.
    pub fn partners(&self) -> usize {
        self.partners.len()
    }

    /// One condition on `column` per arm: `column = $n` for each partner, or one `IN` when the
    /// subtree is too wide.
    pub(crate) fn arms(&self, column: &str, binds: &mut Binds) -> Vec<String> {
        if self.partners.len() > MOST_ARMS {
            let ids: Vec<String> = self.partners.iter().map(|id| binds.int(*id)).collect();
            return vec![format!("{column} IN ({})", ids.join(", "))];
        }
        self.partners
            .iter()
            .map(|id| format!("{column} = {}", binds.int(*id)))
            .collect()
    }
}

/// One keyset page of `select` (a SELECT of a list's columns, with `sort_key` and `id` among
/// them, up to its WHERE) over `arms`: each arm reads the rows where it, `condition` and the
/// cursor hold, walking its index from the cursor a page deep; several arms are merged in the
/// walk's order, so the merge sorts at most a page per arm.
pub(crate) fn keyset_arms(
    select: &str,
    arms: &[String],
    condition: &str,
    walk: &Walk,
    (seek, limit): (&Seek, u32),
    binds: &mut Binds,
) -> String {
    let (keyset, order) = walk.sql(seek, limit, binds);
    let fetch = format!("${}", binds.len());
    let arm = |arm: &String| format!("{select} WHERE {arm} AND {condition} AND {keyset} {order}");
    if let [only] = arms {
        return arm(only);
    }
    let arms: Vec<String> = arms
        .iter()
        .enumerate()
        .map(|(i, a)| format!("SELECT * FROM ({}) arm{i}", arm(a)))
        .collect();
    let merged = Walk {
        key: "sort_key",
        id: "id",
        ..*walk
    };
    format!(
        "SELECT * FROM ({}) page {} LIMIT {fetch}",
        arms.join(" UNION ALL "),
        merged.order_by(seek)
    )
}

impl Scope {
    /// An SQL condition limiting companies (alias `c`) to this scope, reading bind parameter
    /// `$n`, and the value to bind there.
    pub(crate) fn companies_condition(&self, n: usize) -> (String, i64) {
        self.condition("c.partner_id", "c.id", n)
    }

    /// The partners a list of companies in this scope walks one by one: a partner's subtree.
    pub(crate) async fn subtree(&self, db: &Db) -> DbResult<Option<Subtree>> {
        Ok(match self {
            Scope::Partner(partner) => Some(Subtree::of(db, *partner).await?),
            Scope::Operator | Scope::Company(_) => None,
        })
    }

    /// The arms of a list of companies (alias `c`) in this scope: one per partner of `subtree`,
    /// or, without one, the scope's condition as the only arm.
    pub(crate) fn company_arms(&self, subtree: Option<&Subtree>, binds: &mut Binds) -> Vec<String> {
        match subtree {
            Some(subtree) => subtree.arms("c.partner_id", binds),
            None => {
                let (condition, value) = self.companies_condition(binds.next());
                binds.int(value);
                vec![condition]
            }
        }
    }

    /// The same condition on rows (alias `alias`) carrying their company's `company_id` and
    /// `partner_id`: a batch, or a company's count of learners.
    pub(crate) fn company_rows_condition(&self, alias: &str, n: usize) -> (String, i64) {
        let (partner, company) = (format!("{alias}.partner_id"), format!("{alias}.company_id"));
        self.condition(&partner, &company, n)
    }

    fn condition(&self, partner_column: &str, company_column: &str, n: usize) -> (String, i64) {
        match *self {
            Scope::Operator => (format!("CAST(${n} AS BIGINT) = 0"), 0),
            Scope::Partner(partner) => (beneath(partner_column, n), partner.0),
            Scope::Company(company) => (format!("{company_column} = ${n}"), company.0),
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
