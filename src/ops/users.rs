//! The company's users: Add User, Import Users, Deactivate and Delete. Every new user gets a
//! welcome email with a set-password link; new learners get a free seat while seats last (never
//! expired users: a person renews them).

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::audit::{self, Entry};
use super::events::{self, Release};
use super::notify::{self, Welcome};
use super::{Caller, Conflict, Error, OpResult, Ops, Refusal};
use crate::db::locks::{self, Guarded};
use crate::db::people::{self, Member};
use crate::db::scope::AuthorisedCompany;
use crate::db::users::{self, NewLearner, NewUser};
use crate::db::{Actor, Backend, DbResult, seats, write_retrying};
use crate::domain::access::ADDRESS_IN_USE_PER_CALLER;
use crate::domain::allocation::{SeatOccasion, allocates_automatically};
use crate::domain::{Action, Department, Email, PersonName, Role, UserId};
use crate::imports::users::{RejectedRow, UserRow};

/// A person to add to a company.
#[derive(Clone, Debug)]
pub struct NewPerson {
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub department: Option<Department>,
    pub manager: bool,
    pub learner: bool,
}

/// The Users section: the company's users by id, one page after `after`.
pub async fn list(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    after: Option<UserId>,
    limit: u32,
) -> OpResult<crate::db::Page<crate::db::people::UserLine, UserId>> {
    let now = ops.now();
    caller.require(Action::View, Some(company), now)?;
    Ok(people::list(&ops.db, company, after, limit, now).await?)
}

/// One user of the company, as the Users section lists them.
pub async fn get(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    user: UserId,
) -> OpResult<crate::db::people::UserLine> {
    let now = ops.now();
    caller.require(Action::View, Some(company), now)?;
    Ok(people::one(&ops.db, company, user, now).await?)
}

/// What Add User did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Added {
    pub user: UserId,
    /// Whether the new learner got a free seat.
    pub seated: bool,
}

/// Creates the user and queues their welcome email, inside `tx`.
async fn create(
    tx: &mut Transaction<'static, Any>,
    ops: &Ops,
    company: &AuthorisedCompany,
    person: &NewPerson,
    now: Timestamp,
) -> DbResult<UserId> {
    let new = NewUser {
        email: &person.email,
        first_name: &person.first_name,
        last_name: &person.last_name,
        department: person.department.as_ref(),
        password_hash: None,
        role: Role::Company {
            company: company.id(),
            manager: person.manager,
            learner: person.learner,
        },
    };
    let user = users::create(tx, &new, now).await?;
    let welcome = Welcome {
        user,
        email: &person.email,
        greeting: person.first_name.as_str(),
        organisation: &company.name,
        company: Some(company.id()),
    };
    notify::welcome(tx, &ops.links, &welcome, now).await?;
    Ok(user)
}

/// Seats the first of `learners` while free seats last; `Ok(None)` when a batch changed under
/// the plan (for `write_retrying`). On a trial nobody is seated: everyone has trial access.
async fn seat_new_learners(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    company: &AuthorisedCompany,
    learners: &[UserId],
    actor: Actor,
    now: Timestamp,
) -> DbResult<Option<usize>> {
    if learners.is_empty()
        || !allocates_automatically(SeatOccasion::NewUser)
        || company.facts.on_trial(now)
    {
        return Ok(Some(0));
    }
    let free = seats::totals(&mut **tx, company.id(), now).await?.free();
    let take = learners.len().min(usize::try_from(free).unwrap_or(0));
    if take == 0 {
        return Ok(Some(0));
    }
    let seated = &learners[..take];
    if seats::allocate_in(
        tx,
        backend,
        company.id(),
        seated,
        seats::Vetted::No,
        actor,
        now,
    )
    .await?
    .is_none()
    {
        return Ok(None);
    }
    let entry = Entry::LicencesAllocated { learners: take };
    audit::record(tx, company.id(), entry, actor, now).await?;
    events::seats_allocated(tx, company.id(), seated, now).await?;
    Ok(Some(take))
}

/// Add User: the user, their welcome email, and a free seat for a new learner if one is free,
/// in one transaction.
#[tracing::instrument(skip_all, fields(company = %company.id()))]
pub async fn add(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    person: &NewPerson,
) -> OpResult<Added> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let backend = ops.db.backend();
    let added = write_retrying!(ops.db, |tx| {
        let user = create(&mut tx, ops, company, person, now).await?;
        events::users_created(&mut tx, company.id(), &[user], now).await?;
        let entry = Entry::UserAdded {
            email: person.email.as_str(),
        };
        audit::record(&mut tx, company.id(), entry, caller.actor, now).await?;
        let learners = if person.learner {
            vec![user]
        } else {
            Vec::new()
        };
        let Some(seated) =
            seat_new_learners(&mut tx, backend, company, &learners, caller.actor, now).await?
        else {
            return Ok(None);
        };
        Ok(Some(Added {
            user,
            seated: seated > 0,
        }))
    })
    .await
    .map_err(Error::from);
    match &added {
        Ok(added) => ops.metrics.seats_allocated(u64::from(added.seated)),
        Err(Error::Conflict(Conflict::EmailInUse)) => {
            addresses_in_use(ops, caller, company, &[&person.email], now).await?;
        }
        Err(_) => {}
    }
    added
}

/// Counts the caller's attempts to add addresses held outside the company (another tenant, a
/// partner, the operator) and logs them: answered only "address already in use", and refused
/// once the caller has asked about too many, so nobody maps which addresses exist.
async fn addresses_in_use(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    emails: &[&Email],
    now: Timestamp,
) -> OpResult<()> {
    let elsewhere = people::in_use_elsewhere(&ops.db, company.id(), emails).await?;
    if elsewhere == 0 {
        return Ok(());
    }
    let who = caller.user_id().map_or(0, |u| u.0);
    tracing::warn!(
        security_event = "address_in_use_elsewhere",
        caller = who,
        company = %company.id(),
        addresses = elsewhere,
        "asked to add addresses that belong to accounts outside the company"
    );
    let key = format!("address-in-use:user:{who}");
    let n = i64::try_from(elsewhere).unwrap_or(i64::MAX);
    super::accounts::rate_limit_n(ops, &key, n, ADDRESS_IN_USE_PER_CALLER, now).await
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct ImportOutcome {
    pub imported: usize,
    /// The new users, with the line (or list index) each came from, in order.
    pub created: Vec<(u64, UserId)>,
    /// How many new learners got a seat: the first ones, while free seats lasted.
    pub seated: usize,
    /// Rows whose address already belongs to an account (where is not said).
    pub rejected: Vec<RejectedRow>,
}

/// How many users one import transaction creates.
const IMPORT_CHUNK: usize = 500;

/// Import Users: every good row becomes a learner (rows whose address is in use are reported,
/// not imported); then new learners are seated while free seats last, in file order.
#[tracing::instrument(skip_all, fields(company = %company.id(), rows = rows.len()))]
pub async fn import(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    rows: &[UserRow],
) -> OpResult<ImportOutcome> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let emails: Vec<&Email> = rows.iter().map(|r| &r.email).collect();
    addresses_in_use(ops, caller, company, &emails, now).await?;
    let mut outcome = ImportOutcome::default();
    let mut created = Vec::new();
    for chunk in rows.chunks(IMPORT_CHUNK) {
        let mut tx = ops.db.begin_write().await?;
        import_chunk(
            &mut tx,
            ops,
            company,
            chunk,
            &mut created,
            &mut outcome,
            now,
        )
        .await?;
        tx.commit().await?;
    }
    outcome.imported = created.len();
    if created.is_empty() {
        return Ok(outcome);
    }
    let ids: Vec<UserId> = created.iter().map(|&(_, user)| user).collect();
    outcome.created = created;
    let created = ids;
    let backend = ops.db.backend();
    outcome.seated = write_retrying!(ops.db, |tx| {
        let entry = Entry::UsersImported {
            users: created.len(),
        };
        audit::record(&mut tx, company.id(), entry, caller.actor, now).await?;
        seat_new_learners(&mut tx, backend, company, &created, caller.actor, now).await
    })
    .await?;
    ops.metrics.seats_allocated(outcome.seated as u64);
    Ok(outcome)
}

/// Creates the learners of `rows` whose address is free, noting the others as rejected: the
/// users, their links and their welcome emails each with one statement.
async fn import_chunk(
    tx: &mut Transaction<'static, Any>,
    ops: &Ops,
    company: &AuthorisedCompany,
    rows: &[UserRow],
    created: &mut Vec<(u64, UserId)>,
    outcome: &mut ImportOutcome,
    now: Timestamp,
) -> DbResult<()> {
    let emails: Vec<&Email> = rows.iter().map(|r| &r.email).collect();
    let taken = people::taken_emails(tx, &emails).await?;
    let mut people = Vec::new();
    for row in rows {
        if taken.contains(row.email.as_str()) {
            outcome.rejected.push(RejectedRow {
                line: row.line,
                value: row.email.to_string(),
                reason: "address already in use".into(),
            });
            continue;
        }
        people.push((
            row.line,
            &row.email,
            PersonName::truncated(&row.first_name),
            PersonName::truncated(&row.last_name),
            row.department.as_deref().map(Department::truncated),
        ));
    }
    let learners: Vec<NewLearner> = people
        .iter()
        .map(|(_, email, first_name, last_name, department)| NewLearner {
            email,
            first_name,
            last_name,
            department: department.as_ref(),
        })
        .collect();
    let backend = ops.db.backend();
    let ids = users::create_learners(tx, backend, company.id(), &learners, now).await?;
    let welcomes: Vec<Welcome> = learners
        .iter()
        .zip(&ids)
        .map(|(learner, user)| Welcome {
            user: *user,
            email: learner.email,
            greeting: learner.first_name.as_str(),
            organisation: &company.name,
            company: Some(company.id()),
        })
        .collect();
    notify::welcomes(tx, backend, &ops.links, &welcomes, now).await?;
    events::users_created(tx, company.id(), &ids, now).await?;
    created.extend(people.iter().map(|p| p.0).zip(ids));
    Ok(())
}

/// Reads the user to deactivate or delete, refusing the caller themselves and the company's last
/// active manager.
async fn removable(
    tx: &mut Transaction<'static, Any>,
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    user: UserId,
) -> OpResult<Member> {
    if caller.user_id() == Some(user) {
        return Err(Error::Forbidden(Refusal::Yourself));
    }
    locks::lock(tx, ops.db.backend(), Guarded::Removals(company.id())).await?;
    let member = people::member(tx, ops.db.for_update(), company.id(), user).await?;
    if member.manager
        && !member.deactivated
        && people::active_managers(tx, company.id()).await? <= 1
    {
        return Err(Error::Forbidden(Refusal::LastManager));
    }
    Ok(member)
}

/// Whether a user leaves the company's list or stays on it, deactivated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Deactivate: the user keeps their row and history and cannot sign in (their sessions end).
    Deactivate,
    /// Delete: the user's row goes; the ledger keeps its events.
    Delete,
}

/// Deactivate or Delete a user: either way their seat returns to its batch with the batch's
/// remaining validity. Nobody removes themselves or the company's last active manager.
#[tracing::instrument(skip_all, fields(company = %company.id(), user = %user, ?removal))]
pub async fn remove(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    user: UserId,
    removal: Removal,
) -> OpResult<()> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let mut tx = ops.db.begin_write().await?;
    let member = removable(&mut tx, ops, caller, company, user).await?;
    let id = company.id();
    let why = match removal {
        Removal::Deactivate => Release::UserDeactivated,
        Removal::Delete => Release::UserDeleted,
    };
    // The user leaves the company's count of learners (a trigger, migration 0023) before their
    // seat returns to its batch. Adding learners does the same in that order, so on PostgreSQL
    // two writers never wait for each other's locks in a circle.
    people::deactivate(&mut tx, user, now).await?;
    let released = seats::release_in(&mut tx, id, user, caller.actor, now).await?;
    if let Some(batch) = released {
        events::seat_released(&mut tx, id, user, batch, why, now).await?;
    }
    let email = member.email.as_str();
    let entry = match removal {
        Removal::Deactivate => {
            events::user_deactivated(&mut tx, id, user, now).await?;
            Entry::UserDeactivated { email }
        }
        Removal::Delete => {
            people::delete(&mut tx, user).await?;
            Entry::UserDeleted { email }
        }
    };
    audit::record(&mut tx, company.id(), entry, caller.actor, now).await?;
    tx.commit().await?;
    if released.is_some() {
        ops.metrics.seats_ended(why.into(), 1);
    }
    Ok(())
}
