//! Allocating seats to learners and releasing them. Seats come first-expiring-first; a request
//! for more seats than are free allocates nothing and says both numbers.

use super::audit::{self, Entry};
use super::events::{self, Release};
use super::{Caller, Error, FieldError, OpResult, Ops};
use crate::db::licences::{BatchCursor, BatchRow};
use crate::db::scope::AuthorisedCompany;
use crate::db::{Page, licences, people, seats, write_retrying};
use crate::domain::{Action, InvalidValue, UserId};

/// The company's batches of seats, first-expiring-first, one page after `after`.
pub async fn batches(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    after: Option<BatchCursor>,
    limit: u32,
) -> OpResult<Page<BatchRow, BatchCursor>> {
    caller.require(Action::View, Some(company), ops.now())?;
    Ok(licences::batches(&ops.db, company, after, limit).await?)
}

/// Whom Allocate Licenses is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Learners {
    /// The ticked learners.
    These(Vec<UserId>),
    /// Select All: every learner without an active licence, not just the visible page.
    AllWithoutLicence,
}

/// Allocate Licenses: one seat to each learner, all or nothing, in one transaction with its
/// ledger events and Activity entry. Returns how many learners got a seat.
#[tracing::instrument(skip_all, fields(company = %company.id()))]
pub async fn allocate(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    learners: Learners,
) -> OpResult<usize> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let users = match learners {
        Learners::These(users) => users,
        Learners::AllWithoutLicence => licences::expired_ids(&ops.db, company, now).await?,
    };
    if users.is_empty() {
        return Err(Error::Invalid(vec![FieldError {
            field: "learners",
            problem: InvalidValue::Required,
        }]));
    }
    let backend = ops.db.backend();
    write_retrying!(ops.db, |tx| {
        if seats::allocate_in(
            &mut tx,
            backend,
            company.id(),
            &users,
            seats::Vetted::No,
            caller.actor,
            now,
        )
        .await?
        .is_none()
        {
            return Ok(None);
        }
        let entry = Entry::LicencesAllocated {
            learners: distinct(&users),
        };
        audit::record(&mut tx, company.id(), entry, caller.actor, now).await?;
        events::seats_allocated(&mut tx, company.id(), &users, now).await?;
        Ok(Some(()))
    })
    .await?;
    let allocated = distinct(&users);
    ops.metrics.seats_allocated(allocated as u64);
    Ok(allocated)
}

fn distinct(users: &[UserId]) -> usize {
    let mut ids = users.to_vec();
    ids.sort();
    ids.dedup();
    ids.len()
}

/// Returns a learner's seat to its batch (with the batch's remaining validity). Returns whether
/// they held one.
#[tracing::instrument(skip_all, fields(company = %company.id(), user = %user))]
pub async fn release(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    user: UserId,
) -> OpResult<bool> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let mut tx = ops.db.begin_write().await?;
    let member = people::member(&mut tx, ops.db.for_update(), company.id(), user).await?;
    let released = seats::release_in(&mut tx, company.id(), user, caller.actor, now).await?;
    if let Some(batch) = released {
        let entry = Entry::LicenceReleased {
            email: &member.email,
        };
        audit::record(&mut tx, company.id(), entry, caller.actor, now).await?;
        events::seat_released(&mut tx, company.id(), user, batch, Release::Released, now).await?;
    }
    tx.commit().await?;
    if released.is_some() {
        ops.metrics.seats_ended(Release::Released.into(), 1);
    }
    Ok(released.is_some())
}
