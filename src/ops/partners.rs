//! Sub-partners: a partner's admins create them, each with its first admin, who is emailed a
//! set-password link.

use super::notify::{self, Welcome};
use super::{Caller, OpResult, Ops};
use crate::db::partners;
use crate::db::users::{self, NewUser};
use crate::domain::{Action, Email, OrgName, PartnerId, PersonName, Role, TrialDays};

/// A sub-partner to create, with its first admin.
#[derive(Clone, Debug)]
pub struct NewSubPartner {
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
    new: &NewSubPartner,
) -> OpResult<PartnerId> {
    let now = ops.now();
    let parent = caller.partner_for(Action::AdministerPartner, now)?;
    let mut tx = ops.db.begin_write().await?;
    let partner = partners::create(&mut tx, Some(parent), &new.name, new.trial_days, now).await?;
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
    let user = users::create(&mut tx, &admin, now).await?;
    let welcome = Welcome {
        user,
        email: &new.admin_email,
        greeting: new.admin_first_name.as_str(),
        organisation: new.name.as_str(),
        company: None,
    };
    notify::welcome(&mut tx, &ops.links, &welcome, now).await?;
    tx.commit().await?;
    Ok(partner)
}
