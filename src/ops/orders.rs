//! Licence orders: request and change a waiting request (a company, or its partner in manage
//! mode), assign and reject (whoever sells to the company: its partner's admins, or for a
//! partner's own licences the partner above it or the operator), cancel (the company or its
//! partner). An order is decided once.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::audit::{self, Entry};
use super::{Caller, Conflict, Error, FieldError, OpResult, Ops, authorise, events, notify};
use crate::db::orders::{self, Decision, NewOrder, OpenOrder, Seller};
use crate::db::scope::AuthorisedCompany;
use crate::db::{DbError, DbResult, Scope, seats, users};
use crate::domain::{
    Action, BatchId, InvalidValue, OrderId, OrderKind, OrderState, RejectReason, RequestKey, Role,
    SeatCount,
};
use crate::email::messages::OrderRequest;

/// What a request asks for.
#[derive(Clone, Debug)]
pub struct LicenceRequest<'a> {
    pub kind: OrderKind,
    pub quantity: SeatCount,
    /// The form's (or API call's) one-time key: the same request sent twice makes one order.
    pub request_key: &'a str,
}

/// A stored request: the order, and whether this call created it (false: a repeat).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requested {
    pub order: OrderId,
    pub created: bool,
}

/// The company's orders, newest first, one page before `before`; `only` keeps one state.
pub async fn for_company(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    only: Option<OrderState>,
    before: Option<orders::OrderCursor>,
    limit: u32,
) -> OpResult<crate::db::Page<orders::OrderRow, orders::OrderCursor>> {
    caller.require(Action::View, Some(company), ops.now())?;
    Ok(orders::for_company(&ops.db, company, only, before, limit).await?)
}

/// The orders the caller's partner sells (customers beneath it and its sub-partners' own
/// licences), newest first, in any state unless `filter` says otherwise, one page before `before`.
pub async fn sold(
    ops: &Ops,
    caller: &Caller,
    filter: &orders::OrderFilter,
    before: Option<orders::OrderCursor>,
    limit: u32,
) -> OpResult<crate::db::Page<orders::OrderRow, orders::OrderCursor>> {
    let partner = caller.partner_for(Action::View, ops.now())?;
    let seller = Seller::Partner(partner);
    let tab = orders::OrdersTab::Sold;
    Ok(orders::for_seller(&ops.db, seller, tab, filter, before, limit).await?)
}

/// Request License / Upgrade to Premium: a `requested` order, and the alert to the company's
/// account manager in the same transaction. A company has at most one waiting request: asking
/// again while one waits is `Conflict::RequestWaiting` (the same form sent twice is a repeat).
/// A partner's own licences (its internal company) are Premium.
#[tracing::instrument(skip_all, fields(company = %company.id()))]
pub async fn request(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    request: &LicenceRequest<'_>,
) -> OpResult<Requested> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    if let Err(problem) = RequestKey::parse(request.request_key) {
        return Err(Error::Invalid(vec![FieldError {
            field: "request_key",
            problem,
        }]));
    }
    if company.internal && request.kind != OrderKind::Premium {
        return Err(Error::Invalid(vec![FieldError {
            field: "kind",
            problem: InvalidValue::NotOneOf {
                got: request.kind.as_str().to_owned(),
                allowed: "premium",
            },
        }]));
    }
    let mut tx = ops.db.begin_write().await?;
    orders::lock_company(&mut tx, ops.db.backend(), company.id()).await?;
    if let Some(waiting) = orders::waiting(&mut *tx, company.id()).await? {
        let repeat = orders::by_request_key(&mut tx, company.id(), request.request_key).await;
        return match repeat {
            Ok(order) => Ok(Requested {
                order,
                created: false,
            }),
            Err(DbError::NotFound) => Err(Error::Conflict(Conflict::RequestWaiting(waiting.id))),
            Err(e) => Err(e.into()),
        };
    }
    let new = NewOrder {
        company: company.id(),
        kind: request.kind,
        quantity: request.quantity,
        requested_by: caller.user_id(),
        request_key: request.request_key,
    };
    let Some(order) = orders::insert(&mut tx, &new, now).await? else {
        let order = orders::by_request_key(&mut tx, company.id(), request.request_key).await?;
        tx.commit().await?;
        return Ok(Requested {
            order,
            created: false,
        });
    };
    let requested_by = who(&mut tx, caller).await?;
    let alert = OrderRequest {
        company: &company.name,
        quantity: request.quantity.get(),
        kind: request.kind.label(),
        requested_by: &requested_by,
        order_url: "",
    };
    notify::order_requested(&mut tx, &ops.links, &alert, order, company.id(), now).await?;
    events::order_requested(&mut tx, order, company.id(), now).await?;
    let entry = Entry::OrderRequested {
        order,
        kind: request.kind,
        quantity: request.quantity,
    };
    audit::record(&mut tx, company.id(), entry, caller.actor, now).await?;
    tx.commit().await?;
    Ok(Requested {
        order,
        created: true,
    })
}

/// Change the quantity of the company's waiting request; whoever was alerted of it is told.
#[tracing::instrument(skip_all, fields(company = %company.id(), order = %id))]
pub async fn change_quantity(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    id: OrderId,
    quantity: SeatCount,
) -> OpResult<()> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let mut tx = ops.db.begin_write().await?;
    let scope = Scope::Company(company.id());
    let order = orders::lock(&mut tx, ops.db.backend(), &scope, id).await?;
    orders::change_quantity(&mut tx, &order, quantity).await?;
    if order.quantity != quantity {
        let changed_by = who(&mut tx, caller).await?;
        notify::order_changed(
            &mut tx,
            &ops.links,
            &order,
            quantity.get(),
            &changed_by,
            now,
        )
        .await?;
        let entry = Entry::OrderChanged {
            order: id,
            from: order.quantity,
            to: quantity,
        };
        audit::record(&mut tx, company.id(), entry, caller.actor, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Who decides orders for this caller: the operator, or a partner's admins.
fn seller(caller: &Caller, now: Timestamp) -> OpResult<Seller> {
    match caller.role {
        Role::Operator => {
            caller.require(Action::AdministerInstance, None, now)?;
            Ok(Seller::Operator)
        }
        _ => Ok(Seller::Partner(
            caller.partner_for(Action::AdministerCompanies, now)?,
        )),
    }
}

/// How emails name the caller.
async fn who(tx: &mut Transaction<'static, Any>, caller: &Caller) -> DbResult<String> {
    match caller.user_id() {
        Some(user) => users::label(tx, user).await,
        None => Ok("seatledger".to_owned()),
    }
}

/// Locks order `id` if `seller` decides it, and moves it out of `requested`.
async fn decide(
    ops: &Ops,
    tx: &mut Transaction<'static, Any>,
    seller: Seller,
    id: OrderId,
    decision: Decision<'_>,
    now: Timestamp,
) -> OpResult<OpenOrder> {
    let order = orders::lock_for_seller(tx, ops.db.backend(), seller, id).await?;
    orders::decide(tx, &order, &decision, now).await?;
    Ok(order)
}

/// ⋯ → Assign: the order's batch (valid 12 months from now), the end of a running trial, and the
/// "licences ready" email to the company's managers. Two Assigns at once make one batch. A
/// partner's admins assign what they sell (`domain::order::decides`); the operator assigns
/// distributors' own licences.
#[tracing::instrument(skip_all, fields(order = %id))]
pub async fn assign(ops: &Ops, caller: &Caller, id: OrderId) -> OpResult<BatchId> {
    let now = ops.now();
    let seller = seller(caller, now)?;
    let mut tx = ops.db.begin_write().await?;
    let decision = Decision {
        to: OrderState::Assigned,
        by: caller.user_id(),
        reason: None,
    };
    let order = decide(ops, &mut tx, seller, id, decision, now).await?;
    let batch = seats::assign_batch(
        &mut tx,
        order.company,
        Some(id),
        order.kind,
        order.quantity,
        caller.actor,
        now,
    )
    .await?;
    notify::order_assigned(&mut tx, &ops.links, &order, now).await?;
    events::order_assigned(&mut tx, id, order.company, batch, now).await?;
    let entry = Entry::OrderAssigned {
        order: id,
        kind: order.kind,
        quantity: order.quantity,
    };
    audit::record(&mut tx, order.company, entry, caller.actor, now).await?;
    tx.commit().await?;
    Ok(batch)
}

/// ⋯ → Reject, with a reason emailed to the requester.
#[tracing::instrument(skip_all, fields(order = %id))]
pub async fn reject(
    ops: &Ops,
    caller: &Caller,
    id: OrderId,
    reason: &RejectReason,
) -> OpResult<()> {
    let now = ops.now();
    let seller = seller(caller, now)?;
    let mut tx = ops.db.begin_write().await?;
    let decision = Decision {
        to: OrderState::Rejected,
        by: caller.user_id(),
        reason: Some(reason.as_str()),
    };
    let order = decide(ops, &mut tx, seller, id, decision, now).await?;
    notify::order_rejected(&mut tx, &ops.links, &order, reason.as_str(), now).await?;
    events::order_rejected(&mut tx, id, order.company, now).await?;
    let entry = Entry::OrderRejected {
        order: id,
        reason: reason.as_str(),
    };
    audit::record(&mut tx, order.company, entry, caller.actor, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Cancel a waiting request: the company that asked, or its partner. Whoever was alerted of the
/// request is told.
#[tracing::instrument(skip_all, fields(order = %id))]
pub async fn cancel(ops: &Ops, caller: &Caller, id: OrderId) -> OpResult<()> {
    let now = ops.now();
    let mut tx = ops.db.begin_write().await?;
    let order = orders::lock(&mut tx, ops.db.backend(), &caller.scope(), id).await?;
    let company = authorise(ops, caller, order.company).await?;
    caller.require(Action::RunCompany, Some(&company), now)?;
    let decision = Decision {
        to: OrderState::Cancelled,
        by: caller.user_id(),
        reason: None,
    };
    orders::decide(&mut tx, &order, &decision, now).await?;
    let cancelled_by = who(&mut tx, caller).await?;
    notify::order_cancelled(&mut tx, &ops.links, &order, &cancelled_by, now).await?;
    events::order_cancelled(&mut tx, id, order.company, now).await?;
    audit::record(
        &mut tx,
        order.company,
        Entry::OrderCancelled { order: id },
        caller.actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
