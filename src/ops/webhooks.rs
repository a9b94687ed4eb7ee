//! Webhook endpoints: a partner's admins (for the companies beneath the partner) and the operator
//! (for every company) register endpoints, choose their event types, see their `whsec_` secret
//! once, disable, enable, delete and rotate them, read each endpoint's delivery log and send a
//! delivery again. An endpoint belongs to its owner alone: another owner's id is not found.
//!
//! Also here: recording the worker's attempts, which disables an endpoint that has failed for
//! three days and emails its owner, in one transaction.

use jiff::Timestamp;

use super::{Caller, Conflict, Error, FieldError, OpResult, Ops, Setting, notify};
use crate::db::Page;
use crate::db::locks::{self, Guarded};
use crate::db::webhooks::{
    self as store, AttemptRecord, AttemptRow, DeliveryRow, Endpoint, Leased, NewEndpoint, Owner,
};
use crate::domain::webhooks::{
    EventTypes, ROTATION_OVERLAP, WebhookUrl, after_attempt, disable_after_failure,
};
use crate::domain::{Action, DeliveryId, EndpointId, InvalidValue, Role};
use crate::webhooks::client::{Outcome, TargetRefused, check_target};
use crate::webhooks::{Secret, SecretKey};

/// How many endpoints one owner may have: enough for a few systems each, and a list that fits
/// one page.
pub const MAX_ENDPOINTS: u32 = 20;
/// How many attempts a delivery's page lists (the newest).
pub const ATTEMPTS_SHOWN: u32 = 50;

/// Whose endpoints `caller` manages: the operator's, or (for its admins) the partner's.
pub fn owner(caller: &Caller, now: Timestamp) -> OpResult<Owner> {
    match caller.role {
        Role::Operator => {
            caller.require(Action::AdministerInstance, None, now)?;
            Ok(Owner::Operator)
        }
        Role::Partner { .. } => Ok(Owner::Partner(
            caller.partner_for(Action::AdministerPartner, now)?,
        )),
        Role::Company { .. } => Err(Error::NotFound),
    }
}

fn secret_key(ops: &Ops) -> OpResult<&SecretKey> {
    ops.webhooks
        .key
        .as_deref()
        .ok_or(Error::NotConfigured(Setting::SecretKey))
}

/// An endpoint to register.
#[derive(Clone, Debug)]
pub struct NewWebhookEndpoint {
    pub url: WebhookUrl,
    pub event_types: EventTypes,
}

/// A registered endpoint and its signing secret, shown this once.
#[derive(Clone, Debug)]
pub struct Registered {
    pub endpoint: EndpointId,
    pub secret: String,
}

/// Refuses a target that does not resolve, or resolves to a private address (unless allowed).
async fn check(ops: &Ops, url: &WebhookUrl) -> OpResult<()> {
    let problem = match check_target(url, ops.webhooks.allow_private).await {
        Ok(()) => return Ok(()),
        Err(TargetRefused::UnknownHost(host)) => InvalidValue::UnknownHost(host),
        Err(TargetRefused::Private {
            host,
            address,
            kind,
        }) => InvalidValue::PrivateAddress {
            host,
            address: address.to_string(),
            kind,
        },
    };
    Err(Error::Invalid(vec![FieldError {
        field: "url",
        problem,
    }]))
}

/// Add Endpoint.
#[tracing::instrument(skip_all)]
pub async fn create(ops: &Ops, caller: &Caller, new: &NewWebhookEndpoint) -> OpResult<Registered> {
    let now = ops.now();
    let owner = owner(caller, now)?;
    let key = secret_key(ops)?;
    check(ops, &new.url).await?;
    let mut tx = ops.db.begin_write().await?;
    // Counted under the owner's lock, so endpoints registered at once stop at the limit together.
    locks::lock(&mut tx, ops.db.backend(), Guarded::WebhookEndpoints(owner)).await?;
    if store::count(&mut tx, owner).await? >= i64::from(MAX_ENDPOINTS) {
        return Err(Error::Conflict(Conflict::EndpointLimit(MAX_ENDPOINTS)));
    }
    let secret = Secret::generate();
    let sealed = key.seal(&secret);
    let endpoint = store::create(
        &mut tx,
        &NewEndpoint {
            owner,
            url: new.url.as_str(),
            event_types: &new.event_types,
            sealed_secret: &sealed,
            created_by: caller.user_id(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%endpoint, ?owner, "webhook endpoint registered");
    Ok(Registered {
        endpoint,
        secret: secret.reveal(),
    })
}

/// The caller's endpoints, oldest first, one page after `after`.
pub async fn list(
    ops: &Ops,
    caller: &Caller,
    after: Option<EndpointId>,
    limit: u32,
) -> OpResult<Page<Endpoint, EndpointId>> {
    let owner = owner(caller, ops.now())?;
    let endpoints = store::list(&ops.db, owner, after, limit.saturating_add(1)).await?;
    Ok(Page::from_rows(endpoints, limit, |e| e.id))
}

pub async fn get(ops: &Ops, caller: &Caller, id: EndpointId) -> OpResult<Endpoint> {
    let owner = owner(caller, ops.now())?;
    Ok(store::get(&ops.db, owner, id).await?)
}

/// Enable (its failures forgotten; pending deliveries go out again) or Disable.
#[tracing::instrument(skip_all, fields(endpoint = %id, enabled))]
pub async fn set_enabled(
    ops: &Ops,
    caller: &Caller,
    id: EndpointId,
    enabled: bool,
) -> OpResult<()> {
    let now = ops.now();
    let owner = owner(caller, now)?;
    Ok(store::set_enabled(&ops.db, owner, id, enabled, now).await?)
}

/// Delete, with its deliveries and their log.
#[tracing::instrument(skip_all, fields(endpoint = %id))]
pub async fn delete(ops: &Ops, caller: &Caller, id: EndpointId) -> OpResult<()> {
    let owner = owner(caller, ops.now())?;
    store::delete(&ops.db, owner, id).await?;
    tracing::info!(endpoint = %id, "webhook endpoint deleted");
    Ok(())
}

/// Rotate Secret: a new secret, shown this once; the old one keeps signing beside it for 24
/// hours so the receiver can switch without refusing a webhook.
#[tracing::instrument(skip_all, fields(endpoint = %id))]
pub async fn rotate_secret(ops: &Ops, caller: &Caller, id: EndpointId) -> OpResult<String> {
    let now = ops.now();
    let owner = owner(caller, now)?;
    // Another owner's endpoint is not found, whatever else is missing.
    store::get(&ops.db, owner, id).await?;
    let key = secret_key(ops)?;
    let secret = Secret::generate();
    let until = now.saturating_add(ROTATION_OVERLAP).unwrap_or(now);
    store::rotate_secret(&ops.db, owner, id, &key.seal(&secret), until).await?;
    tracing::info!(endpoint = %id, "webhook secret rotated");
    Ok(secret.reveal())
}

/// The delivery log of endpoint `id`: its deliveries, newest first, one page before `before`.
pub async fn deliveries(
    ops: &Ops,
    caller: &Caller,
    id: EndpointId,
    before: Option<DeliveryId>,
    limit: u32,
) -> OpResult<Page<DeliveryRow, DeliveryId>> {
    let owner = owner(caller, ops.now())?;
    // Another owner's endpoint is not found, rather than an empty log.
    store::get(&ops.db, owner, id).await?;
    Ok(store::deliveries(&ops.db, owner, id, before, limit.min(100)).await?)
}

/// One delivery: what it sends and its newest attempts.
#[derive(Clone, Debug)]
pub struct DeliveryDetail {
    pub delivery: DeliveryRow,
    pub body: String,
    pub attempts: Vec<AttemptRow>,
}

pub async fn delivery(ops: &Ops, caller: &Caller, id: DeliveryId) -> OpResult<DeliveryDetail> {
    let owner = owner(caller, ops.now())?;
    let (delivery, body) = store::delivery_of(&ops.db, owner, id).await?;
    let attempts = store::attempts(&ops.db, id, ATTEMPTS_SHOWN).await?;
    Ok(DeliveryDetail {
        delivery,
        body,
        attempts,
    })
}

/// Redeliver: the same event with the same `webhook-id`, due now, with a fresh round of retries.
/// Returns the endpoint it goes to.
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub async fn redeliver(ops: &Ops, caller: &Caller, id: DeliveryId) -> OpResult<EndpointId> {
    let now = ops.now();
    let owner = owner(caller, now)?;
    let (delivery, _) = store::delivery_of(&ops.db, owner, id).await?;
    store::redeliver(&ops.db, owner, id, now).await?;
    Ok(delivery.endpoint)
}

/// Records the worker's attempt of `leased` at `now` (nothing if its lease ran out). A failure
/// that leaves the endpoint failing for three days disables it and emails its owner, once.
pub async fn record_attempt(
    ops: &Ops,
    leased: &Leased,
    outcome: &Outcome,
    now: Timestamp,
) -> OpResult<()> {
    let (record, last_error) = match outcome {
        Outcome::Delivered { status } => (
            AttemptRecord {
                delivered: true,
                response_code: Some(*status),
                error: None,
            },
            "",
        ),
        Outcome::Failed { status, error } => (
            AttemptRecord {
                delivered: false,
                response_code: *status,
                error: Some(error.as_str()),
            },
            error.as_str(),
        ),
    };
    let (status, next) = after_attempt(record.delivered, leased.attempts, now);
    let mut tx = ops.db.begin_write().await?;
    let Some(failing_since) =
        store::record_attempt(&mut tx, leased, &record, status, next, now).await?
    else {
        tx.rollback().await?;
        return Ok(());
    };
    if let Some(since) = failing_since.filter(|since| disable_after_failure(*since, now)) {
        if store::disable_failing(&mut tx, leased.endpoint, now).await? {
            let endpoint = leased.endpoint;
            tracing::warn!(%endpoint, %since, "webhook endpoint disabled after failing");
            let disabled = notify::DisabledEndpoint {
                endpoint: leased.endpoint,
                failing_since: since,
                last_error,
            };
            notify::webhook_endpoint_disabled(&mut tx, &ops.links, &disabled, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
