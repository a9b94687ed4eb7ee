//! The operations: every verb of the product, once, for both edges (the console and the API).
//!
//! An operation takes an authorised `Caller` (and, for company data, the `AuthorisedCompany`
//! proof), checks the caller's rights (`domain::rights`), owns the transaction of its change —
//! the seat events, the activity entry and the outbox rows go in with it — and returns a typed
//! outcome or a typed `Error`. It writes no sentence a person reads: the edges do.

pub mod access_checks;
pub mod accounts;
pub mod activity;
pub mod api_keys;
pub mod companies;
pub mod expiry;
pub mod limits;
pub mod notify;
pub mod operator;
pub mod orders;
pub mod partners;
pub mod renewal;
pub mod seats;
pub mod uploads;
pub mod users;
pub mod webhooks;

mod audit;
mod error;
mod events;

use jiff::Timestamp;

use crate::clock::SharedClock;
use crate::db::scope::{self, AuthorisedCompany};
use crate::db::users::UserAccess;
use crate::db::webhooks::Owner;
use crate::db::{Actor, Db, Scope};
use crate::domain::{Action, CompanyId, EndpointId, OrderId, PartnerId, Role, UserId, permits};

pub use error::{Conflict, Error, FieldError, Fields, Refusal, Setting};

pub type OpResult<T> = Result<T, Error>;

/// What every operation works with: the database, the clock, where links point, and how
/// webhooks are configured.
#[derive(Clone)]
pub struct Ops {
    pub db: Db,
    pub clock: SharedClock,
    pub links: Links,
    pub webhooks: crate::webhooks::Settings,
    /// The limit on password hashes at once, shared by every request of this server.
    pub hashing: crate::password::Hashing,
    /// What this instance counts for `/metrics`; the operations count the seats they change.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Permits for reading and reviewing uploaded files.
    pub heavy: limits::WorkLimit,
    /// The API keys this instance read lately (see `api_keys::KEY_RECHECK`).
    pub keys: std::sync::Arc<api_keys::KeyCache>,
}

impl Ops {
    /// The operations without webhooks configured (`with_webhooks` configures them).
    pub fn new(db: Db, clock: SharedClock, public_url: &str) -> Self {
        Self {
            db,
            clock,
            links: Links::new(public_url),
            webhooks: crate::webhooks::Settings::default(),
            hashing: crate::password::Hashing::for_this_machine(),
            metrics: std::sync::Arc::new(crate::metrics::Metrics::new()),
            heavy: limits::WorkLimit::for_this_machine(),
            keys: Default::default(),
        }
    }

    /// The same operations with other limits on heavy work.
    pub fn with_work_limit(self, heavy: limits::WorkLimit) -> Self {
        Self { heavy, ..self }
    }

    pub fn with_hashing(self, hashing: crate::password::Hashing) -> Self {
        Self { hashing, ..self }
    }

    pub fn with_webhooks(self, webhooks: crate::webhooks::Settings) -> Self {
        Self { webhooks, ..self }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// The console's addresses, as links in emails point at them.
#[derive(Clone, Debug)]
pub struct Links {
    base: String,
}

impl Links {
    pub fn new(public_url: &str) -> Self {
        Self {
            base: public_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn set_password(&self, token: &str) -> String {
        format!("{}/set-password?token={token}", self.base)
    }

    pub fn forgot_password(&self) -> String {
        format!("{}/forgot-password", self.base)
    }

    pub fn company_licences(&self) -> String {
        format!("{}/company/licenses", self.base)
    }

    pub fn landing(&self) -> String {
        format!("{}/landing", self.base)
    }

    pub fn partner_order(&self, order: OrderId) -> String {
        format!("{}/partner/licences?order={order}", self.base)
    }

    /// A partner's own licences: Licences → Orders → My Orders.
    pub fn partner_own_orders(&self) -> String {
        format!("{}/partner/licences?tab=mine", self.base)
    }

    pub fn operator_order(&self, order: OrderId) -> String {
        format!("{}/operator/orders?order={order}", self.base)
    }

    /// The first-run link that creates the operator.
    pub fn setup(&self, token: &str) -> String {
        format!("{}/setup?token={token}", self.base)
    }

    /// A webhook endpoint's page in its owner's console.
    pub fn webhook_endpoint(&self, owner: Owner, endpoint: EndpointId) -> String {
        let area = match owner {
            Owner::Operator => "operator",
            Owner::Partner(_) => "partner",
        };
        format!("{}/{area}/webhooks/{endpoint}", self.base)
    }
}

/// Who is acting: their role, and what changes are recorded as done by (in manage mode, a
/// partner user acting for one company).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    pub actor: Actor,
}

impl Caller {
    /// A signed-in user; `managing` is the company a partner user is in manage mode for.
    pub fn user(user: &UserAccess, managing: Option<CompanyId>) -> Self {
        let managing = managing.filter(|_| matches!(user.role, Role::Partner { .. }));
        Self {
            role: user.role,
            actor: Actor {
                user: Some(user.id),
                on_behalf_of: managing,
            },
        }
    }

    /// The same caller outside manage mode: a partner user choosing a company to manage.
    pub fn outside_manage_mode(&self) -> Caller {
        Caller {
            role: self.role,
            actor: Actor {
                on_behalf_of: None,
                ..self.actor
            },
        }
    }

    /// The person acting, if a person is.
    pub fn user_id(&self) -> Option<UserId> {
        self.actor.user
    }

    /// What this caller may see: in manage mode, only the managed company.
    pub fn scope(&self) -> Scope {
        match (self.actor.on_behalf_of, self.role) {
            (Some(company), _) => Scope::Company(company),
            (None, Role::Operator) => Scope::Operator,
            (None, Role::Partner { partner, .. }) => Scope::Partner(partner),
            (None, Role::Company { company, .. }) => Scope::Company(company),
        }
    }

    /// The partner a partner user belongs to.
    pub fn partner(&self) -> Option<PartnerId> {
        match self.role {
            Role::Partner { partner, .. } => Some(partner),
            _ => None,
        }
    }

    /// Refuses unless the roles table lets this caller take `action` (on `company`, whose being
    /// Managed matters to its own managers).
    pub fn require(
        &self,
        action: Action,
        company: Option<&AuthorisedCompany>,
        now: Timestamp,
    ) -> OpResult<()> {
        let managed = company.is_some_and(|c| c.facts.managed(now));
        if permits(self.role, action, managed) {
            Ok(())
        } else if managed && permits(self.role, action, false) {
            Err(Error::Forbidden(Refusal::ManagedCompany))
        } else {
            Err(Error::Forbidden(Refusal::Role(action)))
        }
    }

    /// The partner of a caller who may take `action` as a partner user.
    pub fn partner_for(&self, action: Action, now: Timestamp) -> OpResult<PartnerId> {
        let partner = self.partner().ok_or(Error::NotFound)?;
        self.require(action, None, now)?;
        Ok(partner)
    }
}

/// Company `id` if the caller may see it: the proof later calls take. Another tenant's company
/// is not found.
pub async fn authorise(ops: &Ops, caller: &Caller, id: CompanyId) -> OpResult<AuthorisedCompany> {
    caller.require(Action::View, None, ops.now())?;
    Ok(scope::authorise(&ops.db, &caller.scope(), id).await?)
}
