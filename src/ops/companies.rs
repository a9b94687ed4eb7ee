//! Customer companies: Create Company (on a trial, or with licences at once), Edit Company, and
//! manage mode, in which a partner user works in one company's own dashboard.

use super::audit::{self, Entry};
use super::{Caller, Error, FieldError, OpResult, Ops, authorise};
use crate::db::Page;
use crate::db::companies::{
    self, CompanyCursor, CompanyEdit, CompanyFilter, CompanyRow, NewCompany,
};
use crate::db::scope::AuthorisedCompany;
use crate::db::{partners, seats, sessions};
use crate::domain::{
    Action, CompanyId, Country, InvalidValue, OrderKind, OrgName, PartnerId, SeatCount,
    TimeZoneName, UserId,
};

/// A company as Create and Edit Company take it.
#[derive(Clone, Debug)]
pub struct CompanyDraft {
    pub name: OrgName,
    pub country: Country,
    pub time_zone: TimeZoneName,
    pub account_manager: Option<UserId>,
}

/// How a new company starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// On the partner's free trial.
    Trial,
    /// With licences assigned at once.
    Licensed {
        kind: OrderKind,
        quantity: SeatCount,
    },
}

/// Refuses an account manager who is not an active user of `partner`.
async fn check_account_manager(
    ops: &Ops,
    partner: PartnerId,
    draft: &CompanyDraft,
) -> OpResult<()> {
    let Some(chosen) = draft.account_manager else {
        return Ok(());
    };
    let users = partners::users(&ops.db, partner).await?;
    if users.iter().any(|(id, _)| *id == chosen) {
        Ok(())
    } else {
        Err(Error::Invalid(vec![FieldError {
            field: "account_manager",
            problem: InvalidValue::UnknownChoice,
        }]))
    }
}

/// The customer companies the caller may see, matching `filter`, one page in name order.
pub async fn list(
    ops: &Ops,
    caller: &Caller,
    filter: &CompanyFilter,
    after: Option<&CompanyCursor>,
    limit: u32,
) -> OpResult<Page<CompanyRow, CompanyCursor>> {
    let now = ops.now();
    caller.require(Action::View, None, now)?;
    Ok(companies::list(&ops.db, &caller.scope(), filter, after, limit, now).await?)
}

/// One company the caller may see, as the Company section shows it.
pub async fn get(ops: &Ops, caller: &Caller, id: CompanyId) -> OpResult<CompanyRow> {
    let company = authorise(ops, caller, id).await?;
    Ok(companies::row(&ops.db, &company, ops.now()).await?)
}

/// Create Company, beneath the caller's partner.
#[tracing::instrument(skip_all)]
pub async fn create(
    ops: &Ops,
    caller: &Caller,
    draft: &CompanyDraft,
    start: Start,
) -> OpResult<CompanyId> {
    let now = ops.now();
    let partner = caller.partner_for(Action::AdministerCompanies, now)?;
    check_account_manager(ops, partner, draft).await?;
    let settings = partners::get_within(&ops.db, partner, partner).await?;
    let mut tx = ops.db.begin_write().await?;
    let new = NewCompany {
        partner,
        name: &draft.name,
        country: &draft.country,
        time_zone: &draft.time_zone,
        account_manager: draft.account_manager,
        trial_days: settings.trial_days,
    };
    let id = companies::create(&mut tx, &new, now).await?;
    let name = draft.name.as_str();
    let entry = match start {
        Start::Trial => Entry::CompanyCreatedOnTrial {
            name,
            days: settings.trial_days.get(),
        },
        Start::Licensed { kind, quantity } => {
            seats::assign_batch(&mut tx, id, None, kind, quantity, caller.actor, now).await?;
            Entry::CompanyCreatedLicensed {
                name,
                kind,
                quantity,
            }
        }
    };
    audit::record(&mut tx, id, entry, caller.actor, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Edit Company.
#[tracing::instrument(skip_all, fields(company = %company.id()))]
pub async fn edit(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    draft: &CompanyDraft,
) -> OpResult<()> {
    let now = ops.now();
    caller.require(Action::AdministerCompanies, Some(company), now)?;
    check_account_manager(ops, company.partner, draft).await?;
    let mut tx = ops.db.begin_write().await?;
    let edit = CompanyEdit {
        name: &draft.name,
        country: &draft.country,
        time_zone: &draft.time_zone,
        account_manager: draft.account_manager,
    };
    companies::update(&mut tx, company, &edit).await?;
    let entry = Entry::CompanyEdited {
        name: draft.name.as_str(),
    };
    audit::record(&mut tx, company.id(), entry, caller.actor, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Actions → Manage Company: the session behind `session_token` works in company `id` until it
/// exits manage mode.
#[tracing::instrument(skip_all, fields(company = %id))]
pub async fn enter_manage_mode(
    ops: &Ops,
    caller: &Caller,
    session_token: &str,
    id: CompanyId,
) -> OpResult<AuthorisedCompany> {
    let now = ops.now();
    caller.partner_for(Action::RunCompany, now)?;
    let company = authorise(ops, &caller.outside_manage_mode(), id).await?;
    sessions::set_managing(&ops.db, session_token, Some(company.id())).await?;
    Ok(company)
}

/// Exit Manage Mode.
pub async fn exit_manage_mode(ops: &Ops, session_token: &str) -> OpResult<()> {
    Ok(sessions::set_managing(&ops.db, session_token, None).await?)
}
