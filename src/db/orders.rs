//! Licence orders.

use jiff::Timestamp;
use sqlx::{Any, Row, Transaction};

use super::outbox::{self, NewEmail};
use super::{Db, DbError, DbResult, Page, Scope, instant, secs};
use crate::domain::{CompanyId, OrderId, OrderKind, OrderState, SeatCount, UserId};
use crate::email::messages::{self, OrderRequest};

/// A request for licences, as a company manager (or a partner in manage mode) submits it.
pub struct LicenceRequest<'a> {
    pub company: CompanyId,
    pub kind: OrderKind,
    pub quantity: SeatCount,
    pub requested_by: UserId,
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
    .bind(request.requested_by.0)
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
    .bind(request.requested_by.0)
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
