//! The webhook events operations write, one function per event type, each called inside the
//! transaction of the change it reports (like the emails of `notify`): the event, its payload
//! as that transaction sees things, and one delivery per subscribed endpoint — the operator's,
//! and those of the company's partner and every partner above it. With no endpoint subscribed
//! nothing is written and nothing more is read.

use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::{Any, Transaction};

use crate::db::DbResult;
use crate::db::webhooks::{
    self as store, BatchFact, CompanyFact, NewEvent, OrderFact, SeatFact, UserFact,
};
use crate::domain::webhooks::EventType;
use crate::domain::{BatchId, CompanyId, EndpointId, OrderId, UserId};
use crate::webhooks::{body, webhook_id};

type Tx = Transaction<'static, Any>;

/// How many seats one `seats.allocated` event lists; a bigger allocation is several events.
const SEATS_PER_EVENT: usize = 500;

/// The key of an event that happens once by construction (its change commits once).
fn once(event: EventType) -> String {
    format!("{event}:{}", &crate::db::sessions::new_token()[..32])
}

async fn write(
    tx: &mut Tx,
    event: EventType,
    key: &str,
    company: CompanyId,
    endpoints: &[EndpointId],
    data: Value,
    now: Timestamp,
) -> DbResult<()> {
    let body = body(event, now, data);
    let targets: Vec<(EndpointId, String)> =
        endpoints.iter().map(|&e| (e, webhook_id(key, e))).collect();
    let new = NewEvent {
        key,
        event,
        company,
        body: &body,
    };
    store::queue(tx, &new, &targets, now).await?;
    Ok(())
}

fn company_json(c: &CompanyFact) -> Value {
    json!({"id": c.id, "name": c.name, "partner_id": c.partner})
}

fn order_json(o: &OrderFact) -> Value {
    json!({
        "id": o.id,
        "kind": o.kind.as_str(),
        "quantity": o.quantity,
        "state": o.state.as_str(),
        "requested_at": o.requested_at.to_string(),
        "requested_by": o.requested_by,
        "decided_at": o.decided_at.map(|t| t.to_string()),
        "reject_reason": o.reject_reason,
    })
}

fn batch_json(b: &BatchFact) -> Value {
    json!({
        "id": b.id,
        "order_id": b.order,
        "kind": b.kind.as_str(),
        "quantity": b.quantity,
        "allocated": b.allocated,
        "assigned_at": b.assigned_at.to_string(),
        "expires_at": b.expires_at.to_string(),
    })
}

fn user_json(u: &UserFact) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "department": u.department,
        "manager": u.manager,
        "learner": u.learner,
        "deactivated_at": u.deactivated_at.map(|t| t.to_string()),
    })
}

fn seat_json(s: &SeatFact) -> Value {
    json!({
        "user_id": s.user,
        "email": s.email,
        "batch_id": s.batch,
        "expires_at": s.expires_at.to_string(),
    })
}

/// `company.trial_ending` or `company.trial_expired`, once per trial end (the pass may run
/// twice).
async fn trial(tx: &mut Tx, event: EventType, company: CompanyId, now: Timestamp) -> DbResult<()> {
    let endpoints = store::subscribers(tx, company, event).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let c = store::company_fact(tx, company).await?;
    let key = format!("{event}:company:{company}:{}", c.trial_ends_at.as_second());
    let mut data = company_json(&c);
    data["trial_ends_at"] = json!(c.trial_ends_at.to_string());
    let data = json!({ "company": data });
    write(tx, event, &key, company, &endpoints, data, now).await
}

pub(crate) async fn trial_ending(tx: &mut Tx, company: CompanyId, now: Timestamp) -> DbResult<()> {
    trial(tx, EventType::CompanyTrialEnding, company, now).await
}

pub(crate) async fn trial_expired(tx: &mut Tx, company: CompanyId, now: Timestamp) -> DbResult<()> {
    trial(tx, EventType::CompanyTrialExpired, company, now).await
}

/// An order event: the order as it now stands, its company, and an assignment's batch.
async fn order(
    tx: &mut Tx,
    event: EventType,
    id: OrderId,
    company: CompanyId,
    batch: Option<BatchId>,
    now: Timestamp,
) -> DbResult<()> {
    let endpoints = store::subscribers(tx, company, event).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let order = store::order_fact(tx, id).await?;
    let c = store::company_fact(tx, company).await?;
    let mut data = json!({"order": order_json(&order), "company": company_json(&c)});
    if let Some(batch) = batch {
        data["batch"] = batch_json(&store::batch_fact(tx, batch).await?);
    }
    write(tx, event, &once(event), company, &endpoints, data, now).await
}

pub(crate) async fn order_requested(
    tx: &mut Tx,
    id: OrderId,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<()> {
    order(tx, EventType::OrderRequested, id, company, None, now).await
}

pub(crate) async fn order_assigned(
    tx: &mut Tx,
    id: OrderId,
    company: CompanyId,
    batch: BatchId,
    now: Timestamp,
) -> DbResult<()> {
    order(tx, EventType::OrderAssigned, id, company, Some(batch), now).await
}

pub(crate) async fn order_rejected(
    tx: &mut Tx,
    id: OrderId,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<()> {
    order(tx, EventType::OrderRejected, id, company, None, now).await
}

pub(crate) async fn order_cancelled(
    tx: &mut Tx,
    id: OrderId,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<()> {
    order(tx, EventType::OrderCancelled, id, company, None, now).await
}

/// `batch.expiring` or `batch.expired` (with how many learners lost their seat), once per
/// batch end.
async fn batch(
    tx: &mut Tx,
    event: EventType,
    id: BatchId,
    company: CompanyId,
    learners_affected: Option<u64>,
    now: Timestamp,
) -> DbResult<()> {
    let endpoints = store::subscribers(tx, company, event).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let b = store::batch_fact(tx, id).await?;
    let c = store::company_fact(tx, company).await?;
    let key = format!("{event}:batch:{id}:{}", b.expires_at.as_second());
    let mut data = json!({"batch": batch_json(&b), "company": company_json(&c)});
    if let Some(n) = learners_affected {
        data["learners_affected"] = json!(n);
    }
    write(tx, event, &key, company, &endpoints, data, now).await
}

pub(crate) async fn batch_expiring(
    tx: &mut Tx,
    id: BatchId,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<()> {
    batch(tx, EventType::BatchExpiring, id, company, None, now).await
}

pub(crate) async fn batch_expired(
    tx: &mut Tx,
    id: BatchId,
    company: CompanyId,
    learners_affected: u64,
    now: Timestamp,
) -> DbResult<()> {
    let event = EventType::BatchExpired;
    batch(tx, event, id, company, Some(learners_affected), now).await
}

/// `seats.allocated`: the seats `users` now hold, up to 500 to an event.
pub(crate) async fn seats_allocated(
    tx: &mut Tx,
    company: CompanyId,
    users: &[UserId],
    now: Timestamp,
) -> DbResult<()> {
    let event = EventType::SeatsAllocated;
    let endpoints = store::subscribers(tx, company, event).await?;
    if endpoints.is_empty() || users.is_empty() {
        return Ok(());
    }
    let c = company_json(&store::company_fact(tx, company).await?);
    let mut users = users.to_vec();
    users.sort();
    users.dedup();
    for chunk in users.chunks(SEATS_PER_EVENT) {
        let seats: Vec<Value> = store::open_seats(tx, chunk)
            .await?
            .iter()
            .map(seat_json)
            .collect();
        let data = json!({"company": c, "seats": seats});
        write(tx, event, &once(event), company, &endpoints, data, now).await?;
    }
    Ok(())
}

/// Why a seat was released, as `seats.released` says it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Release {
    Released,
    UserDeactivated,
    UserDeleted,
}

impl From<Release> for crate::metrics::SeatsEnded {
    fn from(release: Release) -> Self {
        match release {
            Release::Released => Self::Released,
            Release::UserDeactivated => Self::UserDeactivated,
            Release::UserDeleted => Self::UserDeleted,
        }
    }
}

/// `seats.released`: the seat `user` held in `batch` returned to it. Called before a deleted
/// user's row goes.
pub(crate) async fn seat_released(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    batch: BatchId,
    why: Release,
    now: Timestamp,
) -> DbResult<()> {
    let event = EventType::SeatsReleased;
    let endpoints = store::subscribers(tx, company, event).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let c = store::company_fact(tx, company).await?;
    let b = store::batch_fact(tx, batch).await?;
    let email = store::user_facts(tx, &[user])
        .await?
        .pop()
        .map(|u| u.email)
        .unwrap_or_default();
    let seat = SeatFact {
        user,
        email,
        batch,
        expires_at: b.expires_at,
    };
    let reason = match why {
        Release::Released => "released",
        Release::UserDeactivated => "user_deactivated",
        Release::UserDeleted => "user_deleted",
    };
    let data = json!({"company": company_json(&c), "reason": reason, "seats": [seat_json(&seat)]});
    write(tx, event, &once(event), company, &endpoints, data, now).await
}

/// `user.created`, one event per new user of `company`.
pub(crate) async fn users_created(
    tx: &mut Tx,
    company: CompanyId,
    users: &[UserId],
    now: Timestamp,
) -> DbResult<()> {
    let event = EventType::UserCreated;
    let endpoints = store::subscribers(tx, company, event).await?;
    if endpoints.is_empty() || users.is_empty() {
        return Ok(());
    }
    let c = company_json(&store::company_fact(tx, company).await?);
    for user in store::user_facts(tx, users).await? {
        let data = json!({"user": user_json(&user), "company": c});
        write(tx, event, &once(event), company, &endpoints, data, now).await?;
    }
    Ok(())
}

/// `user.deactivated`.
pub(crate) async fn user_deactivated(
    tx: &mut Tx,
    company: CompanyId,
    user: UserId,
    now: Timestamp,
) -> DbResult<()> {
    let event = EventType::UserDeactivated;
    let endpoints = store::subscribers(tx, company, event).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let c = store::company_fact(tx, company).await?;
    for user in store::user_facts(tx, &[user]).await? {
        let data = json!({"user": user_json(&user), "company": company_json(&c)});
        write(tx, event, &once(event), company, &endpoints, data, now).await?;
    }
    Ok(())
}
