//! What the Activity page says about each change. The entry is written in the transaction of the
//! change, as a stable action code and a line of text naming what happened.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use crate::db::{Actor, DbResult, activity};
use crate::domain::{ApiKeyId, CompanyId, OrderId, OrderKind, PartnerId, SeatCount, UserId};

/// One change worth an Activity line.
pub(crate) enum Entry<'a> {
    CompanyCreatedOnTrial {
        name: &'a str,
        days: u16,
    },
    CompanyCreatedLicensed {
        name: &'a str,
        kind: OrderKind,
        quantity: SeatCount,
    },
    CompanyEdited {
        name: &'a str,
    },
    OrderRequested {
        order: OrderId,
        kind: OrderKind,
        quantity: SeatCount,
    },
    OrderAssigned {
        order: OrderId,
        kind: OrderKind,
        quantity: SeatCount,
    },
    OrderRejected {
        order: OrderId,
        reason: &'a str,
    },
    OrderChanged {
        order: OrderId,
        from: SeatCount,
        to: SeatCount,
    },
    OrderCancelled {
        order: OrderId,
    },
    LicencesAllocated {
        learners: usize,
    },
    LicencesRenewed {
        learners: usize,
    },
    LicenceReleased {
        email: &'a str,
    },
    UserAdded {
        email: &'a str,
    },
    UsersImported {
        users: usize,
    },
    UserDeactivated {
        email: &'a str,
    },
    UserDeleted {
        email: &'a str,
    },
    TimeZoneChanged {
        from: &'a str,
        to: &'a str,
    },
}

fn learners(n: usize) -> String {
    if n == 1 {
        "1 learner".to_owned()
    } else {
        format!("{n} learners")
    }
}

impl Entry<'_> {
    fn action(&self) -> &'static str {
        match self {
            Entry::CompanyCreatedOnTrial { .. } | Entry::CompanyCreatedLicensed { .. } => {
                "company_created"
            }
            Entry::CompanyEdited { .. } => "company_edited",
            Entry::OrderRequested { .. } => "order_requested",
            Entry::OrderAssigned { .. } => "order_assigned",
            Entry::OrderRejected { .. } => "order_rejected",
            Entry::OrderChanged { .. } => "order_changed",
            Entry::OrderCancelled { .. } => "order_cancelled",
            Entry::LicencesAllocated { .. } => "licences_allocated",
            Entry::LicencesRenewed { .. } => "licences_renewed",
            Entry::LicenceReleased { .. } => "licence_released",
            Entry::UserAdded { .. } => "user_added",
            Entry::UsersImported { .. } => "users_imported",
            Entry::UserDeactivated { .. } => "user_deactivated",
            Entry::UserDeleted { .. } => "user_deleted",
            Entry::TimeZoneChanged { .. } => "time_zone_changed",
        }
    }

    fn detail(&self) -> String {
        match *self {
            Entry::CompanyCreatedOnTrial { name, days } => {
                format!("Created {name} on a {days}-day free trial")
            }
            Entry::CompanyCreatedLicensed {
                name,
                kind,
                quantity,
            } => format!(
                "Created {name} with {} {} licences",
                quantity.get(),
                kind.label()
            ),
            Entry::CompanyEdited { name } => format!("Edited company {name}"),
            Entry::OrderRequested {
                order,
                kind,
                quantity,
            } => format!(
                "Requested {} {} licences (order {order})",
                quantity.get(),
                kind.label()
            ),
            Entry::OrderAssigned {
                order,
                kind,
                quantity,
            } => format!(
                "Assigned order {order}: {} {} licences",
                quantity.get(),
                kind.label()
            ),
            Entry::OrderRejected { order, reason } => format!("Rejected order {order}: {reason}"),
            Entry::OrderChanged { order, from, to } => format!(
                "Changed order {order} from {} to {} licences",
                from.get(),
                to.get()
            ),
            Entry::OrderCancelled { order } => format!("Cancelled order {order}"),
            Entry::LicencesAllocated { learners: n } => {
                format!("Allocated licences to {}", learners(n))
            }
            Entry::LicencesRenewed { learners: n } => {
                format!("Renewed the licences of {}", learners(n))
            }
            Entry::LicenceReleased { email } => format!("Released the licence of {email}"),
            Entry::UserAdded { email } => format!("Added {email}"),
            Entry::UsersImported { users } => format!("Imported {users} users"),
            Entry::UserDeactivated { email } => format!("Deactivated {email}"),
            Entry::UserDeleted { email } => format!("Deleted {email}"),
            Entry::TimeZoneChanged { from, to } => {
                format!("Changed the partner's time zone from {from} to {to}")
            }
        }
    }
}

/// Appends `entry` about `company` to the Activity log, inside the change's transaction.
pub(crate) async fn record(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    entry: Entry<'_>,
    actor: Actor,
    now: Timestamp,
) -> DbResult<()> {
    activity::record(tx, company, entry.action(), &entry.detail(), actor, now).await
}

/// Appends `entry` about `partner` itself (not one of its companies), inside the change's
/// transaction.
pub(crate) async fn record_for_partner(
    tx: &mut Transaction<'static, Any>,
    partner: PartnerId,
    entry: Entry<'_>,
    actor: Actor,
    now: Timestamp,
) -> DbResult<()> {
    activity::record_for_partner(tx, partner, entry.action(), &entry.detail(), actor, now).await
}

/// A security event about one account, for its partner's Activity.
pub(crate) enum SecurityEntry<'a> {
    /// Three wrong passwords from one address locked the account for it.
    SignInLocked { email: &'a str, address: &'a str },
    /// A reset link was emailed.
    PasswordResetSent { email: &'a str },
    /// A password was set from a welcome or reset link.
    PasswordSet { email: &'a str },
}

impl SecurityEntry<'_> {
    fn action(&self) -> &'static str {
        match self {
            SecurityEntry::SignInLocked { .. } => "sign_in_locked",
            SecurityEntry::PasswordResetSent { .. } => "password_reset_sent",
            SecurityEntry::PasswordSet { .. } => "password_set",
        }
    }

    fn detail(&self) -> String {
        match *self {
            SecurityEntry::SignInLocked { email, address } => format!(
                "Locked sign-in to {email} from {address} for 10 minutes after 3 wrong passwords"
            ),
            SecurityEntry::PasswordResetSent { email } => {
                format!("Emailed a password reset link to {email}")
            }
            SecurityEntry::PasswordSet { email } => format!("{email} set a new password"),
        }
    }
}

/// Appends a security event about `user`'s account to their partner's Activity; `actor` is the
/// user when they acted themselves, `None` when someone unknown did.
pub(crate) async fn record_security(
    tx: &mut Transaction<'static, Any>,
    user: UserId,
    entry: SecurityEntry<'_>,
    actor: Option<UserId>,
    now: Timestamp,
) -> DbResult<()> {
    let owner = activity::SecurityOwner::User(user);
    activity::record_security(tx, owner, entry.action(), &entry.detail(), actor, now).await
}

/// A security event about an API key, in its owner's Activity.
pub(crate) enum KeyEntry<'a> {
    Created {
        name: &'a str,
        prefix: &'a str,
    },
    Revoked {
        name: &'a str,
        prefix: &'a str,
    },
    /// The key's first request: from here on its last-used time says how it is used.
    FirstUsed {
        name: &'a str,
        prefix: &'a str,
    },
}

impl KeyEntry<'_> {
    fn action(&self) -> &'static str {
        match self {
            KeyEntry::Created { .. } => "api_key_created",
            KeyEntry::Revoked { .. } => "api_key_revoked",
            KeyEntry::FirstUsed { .. } => "api_key_first_used",
        }
    }

    fn detail(&self) -> String {
        match *self {
            KeyEntry::Created { name, prefix } => format!("Created API key {name} ({prefix})"),
            KeyEntry::Revoked { name, prefix } => format!("Revoked API key {name} ({prefix})"),
            KeyEntry::FirstUsed { name, prefix } => {
                format!("API key {name} ({prefix}) made its first request")
            }
        }
    }
}

/// Appends a security event about API key `key` to its owner's Activity; `actor` is who acted in
/// the console, `None` for the command line or the key itself.
pub(crate) async fn record_key(
    tx: &mut Transaction<'static, Any>,
    key: ApiKeyId,
    entry: KeyEntry<'_>,
    actor: Option<UserId>,
    now: Timestamp,
) -> DbResult<()> {
    let owner = activity::SecurityOwner::Key(key);
    activity::record_security(tx, owner, entry.action(), &entry.detail(), actor, now).await
}
