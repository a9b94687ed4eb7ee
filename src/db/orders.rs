//! Licence orders.

use jiff::Timestamp;
use sqlx::{Any, Row, Transaction};

use super::outbox::{self, NewEmail};
use super::{Actor, Backend, Db, DbError, DbResult, Page, Scope, activity, instant, seats, secs};
use crate::domain::{BatchId, CompanyId, OrderId, OrderKind, OrderState, PartnerId, SeatCount};
use crate::email::messages::{self, OrderRequest};

/// A request for licences, as a company manager (or a partner in manage mode) submits it.
pub struct LicenceRequest<'a> {
    pub company: CompanyId,
    pub kind: OrderKind,
    pub quantity: SeatCount,
    /// The person asking: a company manager, or a partner user in manage mode.
    pub actor: Actor,
    /// The form's one-time key: submitting the same form twice creates one order.
    pub request_key: &'a str,
}

/// Creates a `requested` order and queues the alert to the company's account manager (or, when
/// it has none, to every admin of the owning partner) in the same transaction. Returns the order
/// and whether it was created now (false: this form was already submitted).
pub async fn request(
    db: &Db,
    scope: &Scope,
    request: &LicenceRequest<'_>,
    public_url: &str,
    now: Timestamp,
) -> DbResult<(OrderId, bool)> {
    super::companies::facts(db, scope, request.company).await?;
    let mut tx = db.begin_write().await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO orders (company_id, partner_id, kind, quantity, state, requested_by, \
         requested_at, request_key) \
         SELECT c.id, c.partner_id, $1, $2, 'requested', $3, $4, $5 FROM companies c WHERE c.id = $6 \
         ON CONFLICT (request_key) DO NOTHING RETURNING id",
    )
    .bind(request.kind.as_str())
    .bind(i64::from(request.quantity.get()))
    .bind(request.actor.user.map(|u| u.0))
    .bind(secs(now))
    .bind(request.request_key)
    .bind(request.company.0)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order) = inserted else {
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM orders WHERE request_key = $1 AND company_id = $2")
                .bind(request.request_key)
                .bind(request.company.0)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        return existing
            .map(|id| (OrderId(id), false))
            .ok_or(DbError::NotFound);
    };
    alert_account_manager(&mut tx, OrderId(order), request, public_url, now).await?;
    activity::record(
        &mut tx,
        request.company,
        "order_requested",
        &format!(
            "Requested {} {} licences (order {order})",
            request.quantity.get(),
            request.kind.label()
        ),
        request.actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((OrderId(order), true))
}

async fn alert_account_manager(
    tx: &mut Transaction<'static, Any>,
    order: OrderId,
    request: &LicenceRequest<'_>,
    public_url: &str,
    now: Timestamp,
) -> DbResult<()> {
    let (company, requested_by): (String, String) = sqlx::query_as(
        "SELECT c.name, TRIM(u.first_name || ' ' || u.last_name) || ' <' || u.email || '>' \
         FROM companies c, users u WHERE c.id = $1 AND u.id = $2",
    )
    .bind(request.company.0)
    .bind(request.actor.user.map_or(0, |u| u.0))
    .fetch_one(&mut **tx)
    .await?;
    let recipients: Vec<(i64, String)> = sqlx::query_as(
        "SELECT u.id, u.email FROM companies c JOIN users u ON u.id = c.account_manager_id \
         WHERE c.id = $1 AND u.deactivated_at IS NULL \
         UNION \
         SELECT u.id, u.email FROM companies c JOIN users u ON u.partner_id = c.partner_id \
         WHERE c.id = $1 AND u.partner_admin = 1 AND u.deactivated_at IS NULL \
           AND NOT EXISTS (SELECT 1 FROM users m WHERE m.id = c.account_manager_id \
                           AND m.deactivated_at IS NULL)",
    )
    .bind(request.company.0)
    .fetch_all(&mut **tx)
    .await?;
    let email = messages::order_requested(&OrderRequest {
        company: &company,
        quantity: request.quantity.get(),
        kind: request.kind.label(),
        requested_by: &requested_by,
        order_url: &format!("{public_url}/partner/licences?order={order}"),
    })
    .render();
    for (user, address) in recipients {
        outbox::queue(
            tx,
            &NewEmail {
                idempotency_key: format!("order_requested:order:{order}:user:{user}"),
                kind: "order_requested",
                company: Some(request.company),
                recipient: &address,
                email: email.clone(),
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// An order as the company sees it.
#[derive(Clone, Debug)]
pub struct OrderRow {
    pub id: OrderId,
    pub kind: OrderKind,
    pub quantity: i64,
    pub state: OrderState,
    pub requested_at: Timestamp,
    pub requested_by: Option<String>,
}

/// Where a page of a company's orders starts: before this (requested_at, id), newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCursor {
    pub requested_at: i64,
    pub id: OrderId,
}

/// The company's orders, newest first; `only` limits them to one state.
pub async fn for_company(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    only: Option<OrderState>,
    before: Option<OrderCursor>,
    limit: u32,
) -> DbResult<Page<OrderRow, OrderCursor>> {
    super::companies::facts(db, scope, company).await?;
    let rows = sqlx::query(
        "SELECT o.id, o.kind, o.quantity, o.state, o.requested_at, \
           (SELECT TRIM(u.first_name || ' ' || u.last_name) FROM users u WHERE u.id = o.requested_by) \
             AS requested_by \
         FROM orders o WHERE o.company_id = $1 AND ($2 = '' OR o.state = $2) \
           AND (o.requested_at < $3 OR (o.requested_at = $3 AND o.id < $4)) \
         ORDER BY o.requested_at DESC, o.id DESC LIMIT $5",
    )
    .bind(company.0)
    .bind(only.map_or("", OrderState::as_str))
    .bind(before.map_or(i64::MAX, |c| c.requested_at))
    .bind(before.map_or(i64::MAX, |c| c.id.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let state: String = r.try_get("state")?;
            let decode = |e: crate::domain::InvalidValue| sqlx::Error::Decode(e.into());
            Ok(OrderRow {
                id: OrderId(r.try_get("id")?),
                kind: kind.parse().map_err(decode)?,
                quantity: r.try_get("quantity")?,
                state: state.parse().map_err(decode)?,
                requested_at: instant(r.try_get("requested_at")?),
                requested_by: r.try_get("requested_by")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Page::from_rows(items, limit, |o| OrderCursor {
        requested_at: secs(o.requested_at),
        id: o.id,
    }))
}

/// An order as the partner's Orders tab lists it.
#[derive(Clone, Debug)]
pub struct PartnerOrderRow {
    pub id: OrderId,
    pub company: String,
    pub kind: OrderKind,
    pub quantity: i64,
    pub state: OrderState,
    pub requested_at: Timestamp,
    pub requested_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    pub reject_reason: Option<String>,
}

/// The three lists of the Orders tab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrdersTab {
    /// Waiting for this partner (or a sub-partner) to assign or reject.
    Requested,
    /// Assigned beneath this partner.
    Assigned,
    /// Requested by this partner's own users (in manage mode).
    Mine,
}

/// Add Filter: company name, type, requested between two instants.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub company: Option<String>,
    pub kind: Option<OrderKind>,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// Orders beneath `partner` in `tab`, newest first, one page before `before`.
pub async fn for_partner(
    db: &Db,
    partner: PartnerId,
    tab: OrdersTab,
    filter: &OrderFilter,
    before: Option<OrderCursor>,
    limit: u32,
) -> DbResult<Page<PartnerOrderRow, OrderCursor>> {
    let tab_condition = match tab {
        OrdersTab::Requested => "o.state = 'requested'",
        OrdersTab::Assigned => "o.state = 'assigned'",
        OrdersTab::Mine => "o.requested_by IN (SELECT u.id FROM users u WHERE u.partner_id = $1)",
    };
    let name = filter
        .company
        .as_deref()
        .map(|n| format!("%{}%", like_escape(&n.trim().to_lowercase())));
    let rows = sqlx::query(&format!(
        "SELECT o.id, c.name AS company, o.kind, o.quantity, o.state, o.requested_at, o.decided_at, \
           o.reject_reason, \
           (SELECT TRIM(u.first_name || ' ' || u.last_name) FROM users u WHERE u.id = o.requested_by) \
             AS requested_by, \
           (SELECT TRIM(u.first_name || ' ' || u.last_name) FROM users u WHERE u.id = o.decided_by) \
             AS decided_by \
         FROM orders o JOIN companies c ON c.id = o.company_id \
         WHERE o.partner_id IN (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = $1) \
           AND {tab_condition} \
           AND ($2 = '' OR LOWER(c.name) LIKE $2 ESCAPE '\\') AND ($3 = '' OR o.kind = $3) \
           AND o.requested_at >= $4 AND o.requested_at < $5 \
           AND (o.requested_at < $6 OR (o.requested_at = $6 AND o.id < $7)) \
         ORDER BY o.requested_at DESC, o.id DESC LIMIT $8"
    ))
    .bind(partner.0)
    .bind(name.unwrap_or_default())
    .bind(filter.kind.map_or("", OrderKind::as_str))
    .bind(filter.from.map_or(i64::MIN, secs))
    .bind(filter.until.map_or(i64::MAX, secs))
    .bind(before.map_or(i64::MAX, |c| c.requested_at))
    .bind(before.map_or(i64::MAX, |c| c.id.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let state: String = r.try_get("state")?;
            let decode = |e: crate::domain::InvalidValue| sqlx::Error::Decode(e.into());
            Ok(PartnerOrderRow {
                id: OrderId(r.try_get("id")?),
                company: r.try_get("company")?,
                kind: kind.parse().map_err(decode)?,
                quantity: r.try_get("quantity")?,
                state: state.parse().map_err(decode)?,
                requested_at: instant(r.try_get("requested_at")?),
                requested_by: r.try_get("requested_by")?,
                decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(instant),
                decided_by: r.try_get("decided_by")?,
                reject_reason: r.try_get("reject_reason")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Page::from_rows(items, limit, |o| OrderCursor {
        requested_at: secs(o.requested_at),
        id: o.id,
    }))
}

/// `text` with LIKE's wildcards escaped (`\` is the escape character).
pub(crate) fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// What a partner user decides about an order.
struct Decision<'a> {
    to: OrderState,
    actor: Actor,
    reason: Option<&'a str>,
    now: Timestamp,
}

/// A requested order beneath `partner`, locked for deciding.
struct OpenOrder {
    company: CompanyId,
    company_name: String,
    kind: OrderKind,
    quantity: SeatCount,
    requested_by: Option<i64>,
}

/// Reads order `id` beneath `partner` and moves it from requested to `to`, or says who decided
/// it first. Two partner users deciding at once: the second gets `Conflict`.
async fn decide(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    partner: PartnerId,
    id: OrderId,
    decision: Decision<'_>,
) -> DbResult<OpenOrder> {
    let Decision {
        to,
        actor,
        reason,
        now,
    } = decision;
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE OF o"
    } else {
        ""
    };
    let row = sqlx::query(&format!(
        "SELECT o.company_id, c.name, o.kind, o.quantity, o.state, o.requested_by \
         FROM orders o JOIN companies c ON c.id = o.company_id \
         WHERE o.id = $1 AND o.partner_id IN \
           (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = $2){lock}"
    ))
    .bind(id.0)
    .bind(partner.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::NotFound)?;
    let state: String = row.try_get("state")?;
    let kind: String = row.try_get("kind")?;
    let current: OrderState = state
        .parse()
        .map_err(|e: crate::domain::InvalidValue| DbError::Conflict(e.0))?;
    current
        .decide(to)
        .map_err(|e| DbError::Conflict(format!("Order {id} cannot be changed: {e}.")))?;
    let updated = sqlx::query(
        "UPDATE orders SET state = $1, decided_by = $2, decided_at = $3, reject_reason = $4 \
         WHERE id = $5 AND state = 'requested'",
    )
    .bind(to.as_str())
    .bind(actor.user.map(|u| u.0))
    .bind(secs(now))
    .bind(reason)
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(DbError::Conflict(format!(
            "Order {id} was already decided."
        )));
    }
    let quantity: i64 = row.try_get("quantity")?;
    Ok(OpenOrder {
        company: CompanyId(row.try_get("company_id")?),
        company_name: row.try_get("name")?,
        kind: kind
            .parse()
            .map_err(|e: crate::domain::InvalidValue| DbError::Conflict(e.0))?,
        quantity: SeatCount::new(quantity).map_err(|e| DbError::Conflict(e.0))?,
        requested_by: row.try_get("requested_by")?,
    })
}

/// Assigns a requested order: creates its batch (valid 12 months from now), ends a running trial,
/// and emails the company's managers that the licences are ready to allocate.
pub async fn assign(
    db: &Db,
    partner: PartnerId,
    id: OrderId,
    actor: Actor,
    public_url: &str,
    now: Timestamp,
) -> DbResult<BatchId> {
    let mut tx = db.begin_write().await?;
    let order = decide(
        &mut tx,
        db.backend(),
        partner,
        id,
        Decision {
            to: OrderState::Assigned,
            actor,
            reason: None,
            now,
        },
    )
    .await?;
    let batch = seats::assign_batch(
        &mut tx,
        order.company,
        Some(id),
        order.kind,
        order.quantity,
        actor,
        now,
    )
    .await?;
    let email = messages::order_assigned(
        &order.company_name,
        order.quantity.get(),
        order.kind.label(),
        &format!("{public_url}/company/licenses"),
    )
    .render();
    outbox::queue_to_managers(
        &mut tx,
        order.company,
        "order_assigned",
        &format!("order_assigned:order:{id}"),
        email,
        now,
    )
    .await?;
    activity::record(
        &mut tx,
        order.company,
        "order_assigned",
        &format!(
            "Assigned order {id}: {} {} licences",
            order.quantity.get(),
            order.kind.label()
        ),
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(batch)
}

/// Rejects a requested order with a reason, emailed to whoever requested it.
pub async fn reject(
    db: &Db,
    partner: PartnerId,
    id: OrderId,
    reason: &str,
    actor: Actor,
    public_url: &str,
    now: Timestamp,
) -> DbResult<()> {
    let mut tx = db.begin_write().await?;
    let order = decide(
        &mut tx,
        db.backend(),
        partner,
        id,
        Decision {
            to: OrderState::Rejected,
            actor,
            reason: Some(reason),
            now,
        },
    )
    .await?;
    if let Some(requester) = order.requested_by {
        let address: Option<String> =
            sqlx::query_scalar("SELECT email FROM users WHERE id = $1 AND deactivated_at IS NULL")
                .bind(requester)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(address) = address {
            let email = messages::order_rejected(
                &order.company_name,
                order.quantity.get(),
                order.kind.label(),
                reason,
                &format!("{public_url}/company/licenses"),
            )
            .render();
            outbox::queue(
                &mut tx,
                &NewEmail {
                    idempotency_key: format!("order_rejected:order:{id}:user:{requester}"),
                    kind: "order_rejected",
                    company: Some(order.company),
                    recipient: &address,
                    email,
                },
                now,
            )
            .await?;
        }
    }
    activity::record(
        &mut tx,
        order.company,
        "order_rejected",
        &format!("Rejected order {id}: {reason}"),
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Not found unless order `id` is beneath `partner`.
pub async fn exists_beneath(db: &Db, partner: PartnerId, id: OrderId) -> DbResult<()> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT o.id FROM orders o WHERE o.id = $1 AND o.partner_id IN \
         (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = $2)",
    )
    .bind(id.0)
    .bind(partner.0)
    .fetch_optional(db.pool())
    .await?;
    found.map(|_| ()).ok_or(DbError::NotFound)
}
