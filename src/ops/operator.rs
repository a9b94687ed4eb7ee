//! The operator and the instance: the first-run set-up link that creates the operator (or
//! `seatledger operator create`), and the operator console's verbs — create a distributor with
//! its first admin, send an invitation again, set the instance's default trial length.

use super::notify::{self, Welcome};
use super::partners::{NewPartner, create_with_admin};
use super::{Caller, Conflict, Error, OpResult, Ops};
use crate::db::instance::{self, NewOperator};
use crate::db::{partners, passwords};
use crate::domain::access::SETUP_LINK_LIFETIME;
use crate::domain::{Action, Email, PartnerId, Password, PersonName, TrialDays, UserId};

/// A single-use link that creates the operator, valid an hour, while the instance has none;
/// `None` once it has one.
#[tracing::instrument(skip_all)]
pub async fn setup_link(ops: &Ops) -> OpResult<Option<String>> {
    if instance::has_operator(&ops.db).await? {
        return Ok(None);
    }
    let token = instance::issue_setup_link(&ops.db, SETUP_LINK_LIFETIME, ops.now()).await?;
    Ok(Some(ops.links.setup(&token)))
}

/// Whether a set-up link works now (to show its form).
pub async fn check_setup_link(ops: &Ops, token: &str) -> OpResult<()> {
    Ok(instance::check_setup_link(&ops.db, token, ops.now()).await?)
}

/// The operator a set-up link creates.
#[derive(Clone, Debug)]
pub struct OperatorAccount {
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub password: Password,
}

/// Uses a set-up link once to create the operator with a password. The link is checked before
/// the slow hash, so a bad link costs nothing.
#[tracing::instrument(skip_all)]
pub async fn create_operator(
    ops: &Ops,
    token: &str,
    account: &OperatorAccount,
) -> OpResult<UserId> {
    check_setup_link(ops, token).await?;
    let hash = ops
        .hashing
        .hash(account.password.expose().to_owned())
        .await?;
    let operator = NewOperator {
        email: &account.email,
        first_name: &account.first_name,
        last_name: &account.last_name,
        password_hash: &hash,
    };
    let user = instance::create_operator_from_link(&ops.db, token, &operator, ops.now()).await?;
    tracing::info!(%user, "the operator was created from the set-up link");
    Ok(user)
}

/// `seatledger operator create --email`: the operator with a set-password link valid an hour
/// (a new link for the existing operator with that email; the old ones stop working). Returns
/// the link and whether the operator was created now.
#[tracing::instrument(skip_all)]
pub async fn create_operator_with_link(
    ops: &Ops,
    email: &Email,
    name: (&PersonName, &PersonName),
) -> OpResult<(String, bool)> {
    let link =
        instance::create_operator_with_link(&ops.db, email, name, SETUP_LINK_LIFETIME, ops.now())
            .await?;
    Ok((ops.links.set_password(&link.token), link.created))
}

/// Create Distributor: a top-level partner, its internal company with its NFR seats, and its
/// first admin, who gets the welcome email.
#[tracing::instrument(skip_all)]
pub async fn create_distributor(
    ops: &Ops,
    caller: &Caller,
    new: &NewPartner,
) -> OpResult<PartnerId> {
    let now = ops.now();
    caller.require(Action::AdministerInstance, None, now)?;
    let mut tx = ops.db.begin_write().await?;
    let partner = create_with_admin(&mut tx, ops, None, new, now).await?;
    tx.commit().await?;
    Ok(partner)
}

/// Resend invitation: a new welcome email with a new set-password link to a partner user who has
/// not set a password yet; the old link stops working.
#[tracing::instrument(skip_all, fields(%user))]
pub async fn resend_invitation(ops: &Ops, caller: &Caller, user: UserId) -> OpResult<PartnerId> {
    let now = ops.now();
    caller.require(Action::AdministerInstance, None, now)?;
    let mut tx = ops.db.begin_write().await?;
    let invitee = partners::invitee(&mut tx, ops.db.for_update(), user).await?;
    if invitee.deactivated {
        return Err(Error::Conflict(Conflict::Deactivated(user)));
    }
    if invitee.accepted {
        return Err(Error::Conflict(Conflict::InvitationAccepted));
    }
    passwords::revoke_unused(&mut tx, user).await?;
    let welcome = Welcome {
        user,
        email: &invitee.email,
        greeting: &invitee.first_name,
        organisation: &invitee.partner_name,
        company: None,
    };
    notify::welcome(&mut tx, &ops.links, &welcome, now).await?;
    tx.commit().await?;
    Ok(invitee.partner)
}

/// The instance's default trial length, which new distributors start with.
pub async fn trial_days(ops: &Ops, caller: &Caller) -> OpResult<TrialDays> {
    caller.require(Action::AdministerInstance, None, ops.now())?;
    Ok(instance::trial_days(&ops.db).await?)
}

/// Sets the instance's default trial length.
#[tracing::instrument(skip_all)]
pub async fn set_trial_days(ops: &Ops, caller: &Caller, days: TrialDays) -> OpResult<()> {
    caller.require(Action::AdministerInstance, None, ops.now())?;
    let mut tx = ops.db.begin_write().await?;
    instance::set_trial_days(&mut tx, days).await?;
    tx.commit().await?;
    Ok(())
}
