//! API keys: the operator (instance keys), a partner's admins (partner keys, acting on every
//! company beneath the partner) and company managers (company keys) create, list and revoke
//! their own keys; the key is shown once. `authenticate` turns a presented key into the `Caller`
//! the API's operations take, re-checked on every request.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use super::audit::{self, KeyEntry};
use super::{Caller, Conflict, Error, FieldError, OpResult, Ops, Refusal};
use crate::db::api_keys::{self as store, ApiKey, KeyOwner, NewKey};
use crate::db::locks::{self, Guarded};
use crate::db::scope::{self, Scope};
use crate::db::sessions::token_hash;
use crate::db::{Actor, partners};
use crate::domain::api_keys::{Permissions, check_expiry, usable};
use crate::domain::{Action, ApiKeyId, KeyName, Role, UserId};

/// How many unrevoked keys one owner may hold: plenty for its systems, and a list that fits a
/// page.
pub const MAX_KEYS: u32 = 50;
/// How many keys the console lists (newest first, revoked ones included).
pub const LISTED: u32 = 100;
/// The last-used time is kept to the minute, so the hottest path rarely writes.
const LAST_USED_GRANULARITY: i64 = 60;

/// How long an instance trusts what it last read of a key, so the API's every request does not
/// read it again. A key revoked on this instance stops working at once; one revoked on another
/// instance, or from the command line, within this. Its expiry is exact either way.
pub const KEY_RECHECK: SignedDuration = SignedDuration::from_secs(1);

/// The most keys one instance remembers; past it, it starts again from none.
const REMEMBERED_KEYS: usize = 10_000;

/// The keys this instance read lately, by the hash of the presented key (never the key itself),
/// with when each was read.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, (ApiKey, Timestamp)>>,
}

impl KeyCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (ApiKey, Timestamp)>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key presented with `hash`, if it was read within `KEY_RECHECK` of `now`.
    fn fresh(&self, hash: &str, now: Timestamp) -> Option<ApiKey> {
        let keys = self.lock();
        let (key, read_at) = keys.get(hash)?;
        let age = now.duration_since(*read_at);
        (age >= SignedDuration::ZERO && age < KEY_RECHECK).then(|| key.clone())
    }

    fn remember(&self, hash: String, key: ApiKey, now: Timestamp) {
        let mut keys = self.lock();
        if keys.len() >= REMEMBERED_KEYS {
            keys.clear();
        }
        keys.insert(hash, (key, now));
    }

    /// Forgets every key: one was revoked here.
    fn forget(&self) {
        self.lock().clear();
    }
}

/// Whose keys `caller` manages. A partner user in manage mode manages none: company keys are
/// the company managers' own.
pub fn owner(caller: &Caller, now: Timestamp) -> OpResult<KeyOwner> {
    match caller.role {
        Role::Operator => {
            caller.require(Action::AdministerInstance, None, now)?;
            Ok(KeyOwner::Operator)
        }
        Role::Partner { .. } if caller.actor.on_behalf_of.is_some() => {
            Err(Error::Forbidden(Refusal::Role(Action::CompanyKeys)))
        }
        Role::Partner { .. } => Ok(KeyOwner::Partner(
            caller.partner_for(Action::AdministerPartner, now)?,
        )),
        Role::Company { company, .. } => {
            caller.require(Action::CompanyKeys, None, now)?;
            Ok(KeyOwner::Company(company))
        }
    }
}

/// The owner whose keys `caller` may create or revoke. A key acts without a person, so a
/// Managed company's managers may only look at theirs (DESIGN §10).
pub async fn changing_owner(ops: &Ops, caller: &Caller) -> OpResult<KeyOwner> {
    let now = ops.now();
    let owner = owner(caller, now)?;
    if let KeyOwner::Company(id) = owner {
        let company = super::authorise(ops, caller, id).await?;
        caller.require(Action::CompanyKeys, Some(&company), now)?;
    }
    Ok(owner)
}

/// A key to create.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub name: KeyName,
    pub permissions: Permissions,
    pub expires_at: Option<Timestamp>,
}

/// A created key, shown this once.
#[derive(Clone, Debug)]
pub struct Created {
    pub id: ApiKeyId,
    pub key: String,
}

/// Create API Key, in the console.
#[tracing::instrument(skip_all)]
pub async fn create(ops: &Ops, caller: &Caller, new: &NewApiKey) -> OpResult<Created> {
    let owner = changing_owner(ops, caller).await?;
    create_for(ops, owner, new, caller.user_id()).await
}

/// Creates a key for `owner`, which must exist: the console's and the command line's way.
pub async fn create_for(
    ops: &Ops,
    owner: KeyOwner,
    new: &NewApiKey,
    by: Option<UserId>,
) -> OpResult<Created> {
    let now = ops.now();
    if let Some(expires) = new.expires_at {
        check_expiry(expires, now).map_err(|problem| {
            Error::Invalid(vec![FieldError {
                field: "expires",
                problem,
            }])
        })?;
    }
    match owner {
        KeyOwner::Operator => {}
        KeyOwner::Partner(p) => {
            partners::get_within(&ops.db, p, p).await?;
        }
        KeyOwner::Company(c) => {
            scope::authorise(&ops.db, &Scope::Operator, c).await?;
        }
    }
    let mut tx = ops.db.begin_write().await?;
    // Counted under the owner's lock, so keys created at once stop at the limit together.
    locks::lock(&mut tx, ops.db.backend(), Guarded::ApiKeys(owner)).await?;
    if store::count_unrevoked(&mut tx, owner).await? >= i64::from(MAX_KEYS) {
        return Err(Error::Conflict(Conflict::KeyLimit(MAX_KEYS)));
    }
    let new_key = NewKey {
        owner,
        name: &new.name,
        permissions: new.permissions,
        expires_at: new.expires_at,
        created_by: by,
    };
    let (id, prefix, key) = store::create(&mut tx, &new_key, now).await?;
    let entry = KeyEntry::Created {
        name: new.name.as_str(),
        prefix: &prefix,
    };
    audit::record_key(&mut tx, id, entry, by, now).await?;
    tx.commit().await?;
    tracing::info!(security_event = "api_key_created", key = %id, ?owner, permissions = %new.permissions, "API key created");
    Ok(Created { id, key })
}

/// The caller's keys, newest first.
pub async fn list(ops: &Ops, caller: &Caller) -> OpResult<Vec<ApiKey>> {
    let owner = owner(caller, ops.now())?;
    Ok(store::list(&ops.db, owner, LISTED).await?)
}

/// Revoke: the key stops working at once. Another owner's key is not found.
#[tracing::instrument(skip_all, fields(key = %id))]
pub async fn revoke(ops: &Ops, caller: &Caller, id: ApiKeyId) -> OpResult<ApiKey> {
    let now = ops.now();
    let owner = changing_owner(ops, caller).await?;
    revoke_key(ops, owner, id, caller.user_id(), now).await
}

/// Revokes `owner`'s key `id` and, the first time, says so in Activity.
async fn revoke_key(
    ops: &Ops,
    owner: KeyOwner,
    id: ApiKeyId,
    by: Option<UserId>,
    now: Timestamp,
) -> OpResult<ApiKey> {
    let mut tx = ops.db.begin_write().await?;
    let (key, revoked) = store::revoke(&mut tx, owner, id, by, now).await?;
    if revoked {
        let entry = KeyEntry::Revoked {
            name: key.name.as_str(),
            prefix: &key.prefix,
        };
        audit::record_key(&mut tx, id, entry, by, now).await?;
        tracing::info!(security_event = "api_key_revoked", key = %id, prefix = %key.prefix, "API key revoked");
    }
    tx.commit().await?;
    ops.keys.forget();
    Ok(key)
}

/// Revokes the key with `prefix`, whoever owns it: the operator's command line.
pub async fn revoke_by_prefix(ops: &Ops, prefix: &str) -> OpResult<ApiKey> {
    let key = store::by_prefix(&ops.db, prefix.trim()).await?;
    revoke_key(ops, key.owner, key.id, None, ops.now()).await
}

/// A request's key, found and still usable, and the caller it acts as.
#[derive(Clone, Debug)]
pub struct KeyCaller {
    pub key: ApiKey,
    pub caller: Caller,
}

/// The caller a presented key acts as, or `None` when it is not a usable key (unknown, revoked
/// or expired: the API does not say which). Changes are recorded as done by the person who
/// created the key.
pub async fn authenticate(ops: &Ops, presented: &str) -> OpResult<Option<KeyCaller>> {
    let now = ops.now();
    let hash = token_hash(presented);
    let key = match ops.keys.fresh(&hash, now) {
        Some(key) => key,
        None => {
            let Some(key) = store::presented(&ops.db, presented, &hash).await? else {
                tracing::info!(
                    security_event = "api_key_refused",
                    "API request with an unknown key"
                );
                return Ok(None);
            };
            ops.keys.remember(hash.clone(), key.clone(), now);
            key
        }
    };
    if !usable(key.expires_at, key.revoked_at.is_some(), now) {
        tracing::info!(security_event = "api_key_refused", key = %key.id, prefix = %key.prefix, "API request with a revoked or expired key");
        return Ok(None);
    }
    let due = key
        .last_used_at
        .is_none_or(|at| now.as_second() - at.as_second() >= LAST_USED_GRANULARITY);
    if due {
        let mut tx = ops.db.begin_write().await?;
        let touched = store::touch(&mut tx, key.id, now, LAST_USED_GRANULARITY).await?;
        if touched {
            if key.last_used_at.is_none() {
                let entry = KeyEntry::FirstUsed {
                    name: key.name.as_str(),
                    prefix: &key.prefix,
                };
                audit::record_key(&mut tx, key.id, entry, None, now).await?;
            }
            tracing::info!(security_event = "api_key_used", key = %key.id, prefix = %key.prefix, "API key in use");
        }
        tx.commit().await?;
        // Written here or by another instance within the minute: either way not due again.
        let used = ApiKey {
            last_used_at: Some(now),
            ..key.clone()
        };
        ops.keys.remember(hash, used, now);
    }
    let role = match key.owner {
        KeyOwner::Operator => Role::Operator,
        KeyOwner::Partner(partner) => Role::Partner {
            partner,
            admin: true,
        },
        KeyOwner::Company(company) => Role::Company {
            company,
            manager: true,
            learner: false,
        },
    };
    let caller = Caller {
        role,
        actor: Actor {
            user: key.created_by,
            on_behalf_of: None,
        },
    };
    Ok(Some(KeyCaller { key, caller }))
}
