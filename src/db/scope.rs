//! What a caller may see. Derived once from the session at the web edge and passed to every
//! query for company data; a company outside the scope is reported as not found.

use crate::domain::{CompanyId, PartnerId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The operator sees every company.
    Operator,
    /// A partner sees its own companies and every sub-partner's, never anyone else's.
    Partner(PartnerId),
    /// A company user (or a partner in manage mode) sees one company.
    Company(CompanyId),
}

impl Scope {
    /// An SQL condition limiting companies (alias `c`) to this scope, reading bind parameter
    /// `$n`, and the value to bind there.
    pub(crate) fn companies_condition(&self, n: usize) -> (String, i64) {
        match *self {
            Scope::Operator => (format!("CAST(${n} AS BIGINT) = 0"), 0),
            Scope::Partner(partner) => (
                format!(
                    "c.partner_id IN (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = ${n})"
                ),
                partner.0,
            ),
            Scope::Company(company) => (format!("c.id = ${n}"), company.0),
        }
    }
}
