//! Partners: a partner's admins create sub-partners, and the operator creates distributors
//! (`ops::operator`), each with its first admin, who is emailed a set-password link. Every
//! partner gets its internal company with its NFR seats as it is created (`db::partners`).

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::audit::{self, Entry};
use super::notify::{self, Welcome};
use super::{Caller, OpResult, Ops};
use crate::db::users::{self, NewUser};
use crate::db::{DbResult, partners};
use crate::domain::{Action, Email, OrgName, PartnerId, PersonName, Role, TimeZoneName, TrialDays};

/// A partner to create, with its first admin.
#[derive(Clone, Debug)]
pub struct NewPartner {
    pub name: OrgName,
    pub trial_days: TrialDays,
    pub admin_first_name: PersonName,
    pub admin_last_name: PersonName,
    pub admin_email: Email,
}

/// Creates a sub-partner beneath the caller's partner, and its admin.
#[tracing::instrument(skip_all)]
pub async fn create_sub_partner(
    ops: &Ops,
    caller: &Caller,
    new: &NewPartner,
) -> OpResult<PartnerId> {
    let now = ops.now();
    let parent = caller.partner_for(Action::AdministerPartner, now)?;
    let mut tx = ops.db.begin_write().await?;
    let partner = create_with_admin(&mut tx, ops, Some(parent), new, now).await?;
    tx.commit().await?;
    Ok(partner)
}

/// Sets the time zone the caller's partner's pages show dates in (its admins only), with an
/// Activity entry naming the zone it replaced.
#[tracing::instrument(skip_all, fields(zone = zone.as_str()))]
pub async fn set_time_zone(ops: &Ops, caller: &Caller, zone: &TimeZoneName) -> OpResult<()> {
    let now = ops.now();
    let partner = caller.partner_for(Action::AdministerPartner, now)?;
    let mut tx = ops.db.begin_write().await?;
    let before = partners::set_time_zone(&mut tx, ops.db.backend(), partner, zone).await?;
    if before != zone.as_str() {
        let entry = Entry::TimeZoneChanged {
            from: &before,
            to: zone.as_str(),
        };
        audit::record_for_partner(&mut tx, partner, entry, caller.actor, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The partner beneath `parent` (a distributor when `None`), its admin, and the admin's welcome
/// email, inside the caller's transaction.
pub(super) async fn create_with_admin(
    tx: &mut Transaction<'static, Any>,
    ops: &Ops,
    parent: Option<PartnerId>,
    new: &NewPartner,
    now: Timestamp,
) -> DbResult<PartnerId> {
    let partner = partners::create(tx, parent, &new.name, new.trial_days, now).await?;
    let admin = NewUser {
        email: &new.admin_email,
        first_name: &new.admin_first_name,
        last_name: &new.admin_last_name,
        department: None,
        password_hash: None,
        role: Role::Partner {
            partner,
            admin: true,
        },
    };
    let user = users::create(tx, &admin, now).await?;
    let welcome = Welcome {
        user,
        email: &new.admin_email,
        greeting: new.admin_first_name.as_str(),
        organisation: new.name.as_str(),
        company: None,
    };
    notify::welcome(tx, &ops.links, &welcome, now).await?;
    Ok(partner)
}
