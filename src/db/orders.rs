//! Licence orders: requests, the lists that show them, and moving one out of `requested`.

use jiff::Timestamp;
use sqlx::{Any, FromRow, Transaction};

use super::companies::like_escape;
use super::scope::{AuthorisedCompany, beneath};
use super::{Backend, Db, DbError, DbResult, Page, Scope, instant, parse_stored, secs};
use crate::domain::{CompanyId, OrderId, OrderKind, OrderState, PartnerId, SeatCount, UserId};

/// A request for licences to store.
pub struct NewOrder<'a> {
    pub company: CompanyId,
    pub kind: OrderKind,
    pub quantity: SeatCount,
    pub requested_by: Option<UserId>,
    /// The form's or API call's one-time key: sending the same request twice stores one order.
    pub request_key: &'a str,
}

/// Stores a `requested` order, or returns `None` when an order with this request key exists.
pub async fn insert(
    tx: &mut Transaction<'static, Any>,
    order: &NewOrder<'_>,
    now: Timestamp,
) -> DbResult<Option<OrderId>> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO orders (company_id, partner_id, kind, quantity, state, requested_by, \
         requested_at, request_key) \
         SELECT c.id, c.partner_id, $1, $2, 'requested', $3, $4, $5 FROM companies c WHERE c.id = $6 \
         ON CONFLICT (request_key) DO NOTHING RETURNING id",
    )
    .bind(order.kind.as_str())
    .bind(i64::from(order.quantity.get()))
    .bind(order.requested_by.map(|u| u.0))
    .bind(secs(now))
    .bind(order.request_key)
    .bind(order.company.0)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(inserted.map(OrderId))
}

/// The order of `company` stored under `request_key`.
pub async fn by_request_key(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    request_key: &str,
) -> DbResult<OrderId> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM orders WHERE request_key = $1 AND company_id = $2")
            .bind(request_key)
            .bind(company.0)
            .fetch_optional(&mut **tx)
            .await?;
    id.map(OrderId).ok_or(DbError::NotFound)
}

/// Who hears of a new request: the company's account manager, or when it has no active one,
/// every active admin of the owning partner. (user, email)
pub async fn alert_recipients(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
) -> DbResult<Vec<(UserId, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT u.id, u.email FROM companies c JOIN users u ON u.id = c.account_manager_id \
         WHERE c.id = $1 AND u.deactivated_at IS NULL \
         UNION \
         SELECT u.id, u.email FROM companies c JOIN users u ON u.partner_id = c.partner_id \
         WHERE c.id = $1 AND u.partner_admin = 1 AND u.deactivated_at IS NULL \
           AND NOT EXISTS (SELECT 1 FROM users m WHERE m.id = c.account_manager_id \
                           AND m.deactivated_at IS NULL)",
    )
    .bind(company.0)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(id, e)| (UserId(id), e)).collect())
}

/// An order as lists show it.
#[derive(Clone, Debug)]
pub struct OrderRow {
    pub id: OrderId,
    pub company: CompanyId,
    pub company_name: String,
    pub kind: OrderKind,
    pub quantity: i64,
    pub state: OrderState,
    pub requested_at: Timestamp,
    pub requested_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    pub reject_reason: Option<String>,
}

/// Where a page of orders starts: before this (requested_at, id), newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCursor {
    pub requested_at: i64,
    pub id: OrderId,
}

#[derive(FromRow)]
struct OrderRecord {
    id: i64,
    company_id: i64,
    company_name: String,
    kind: String,
    quantity: i64,
    state: String,
    requested_at: i64,
    requested_by: Option<String>,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    reject_reason: Option<String>,
}

const ORDER_COLUMNS: &str = "o.id, o.company_id, c.name AS company_name, o.kind, o.quantity, \
    o.state, o.requested_at, o.decided_at, o.reject_reason, \
    (SELECT TRIM(u.first_name || ' ' || u.last_name) FROM users u WHERE u.id = o.requested_by) \
      AS requested_by, \
    (SELECT TRIM(u.first_name || ' ' || u.last_name) FROM users u WHERE u.id = o.decided_by) \
      AS decided_by";

fn order_page(records: Vec<OrderRecord>, limit: u32) -> DbResult<Page<OrderRow, OrderCursor>> {
    let items = records
        .into_iter()
        .map(|r| {
            Ok(OrderRow {
                id: OrderId(r.id),
                company: CompanyId(r.company_id),
                company_name: r.company_name,
                kind: parse_stored("orders.kind", &r.kind)?,
                quantity: r.quantity,
                state: parse_stored("orders.state", &r.state)?,
                requested_at: instant(r.requested_at),
                requested_by: r.requested_by,
                decided_at: r.decided_at.map(instant),
                decided_by: r.decided_by,
                reject_reason: r.reject_reason,
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, limit, |o| OrderCursor {
        requested_at: secs(o.requested_at),
        id: o.id,
    }))
}

/// The company's orders, newest first; `only` limits them to one state.
pub async fn for_company(
    db: &Db,
    company: &AuthorisedCompany,
    only: Option<OrderState>,
    before: Option<OrderCursor>,
    limit: u32,
) -> DbResult<Page<OrderRow, OrderCursor>> {
    let records = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN companies c ON c.id = o.company_id \
         WHERE o.company_id = $1 AND ($2 = '' OR o.state = $2) \
           AND (o.requested_at < $3 OR (o.requested_at = $3 AND o.id < $4)) \
         ORDER BY o.requested_at DESC, o.id DESC LIMIT $5"
    ))
    .bind(company.id().0)
    .bind(only.map_or("", OrderState::as_str))
    .bind(before.map_or(i64::MAX, |c| c.requested_at))
    .bind(before.map_or(i64::MAX, |c| c.id.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    order_page(records, limit)
}

/// The three lists of the partner's Orders tab.
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
) -> DbResult<Page<OrderRow, OrderCursor>> {
    let tab_condition = match tab {
        OrdersTab::Requested => "o.state = 'requested'",
        OrdersTab::Assigned => "o.state = 'assigned'",
        OrdersTab::Mine => "o.requested_by IN (SELECT u.id FROM users u WHERE u.partner_id = $1)",
    };
    let name = filter
        .company
        .as_deref()
        .map(|n| format!("%{}%", like_escape(&n.trim().to_lowercase())));
    let records = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN companies c ON c.id = o.company_id \
         WHERE {} AND {tab_condition} \
           AND ($2 = '' OR LOWER(c.name) LIKE $2 ESCAPE '\\') AND ($3 = '' OR o.kind = $3) \
           AND o.requested_at >= $4 AND o.requested_at < $5 \
           AND (o.requested_at < $6 OR (o.requested_at = $6 AND o.id < $7)) \
         ORDER BY o.requested_at DESC, o.id DESC LIMIT $8",
        beneath("o.partner_id", 1)
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
    order_page(records, limit)
}

/// An order read for deciding, locked on PostgreSQL until the transaction ends.
#[derive(Clone, Debug)]
pub struct OpenOrder {
    pub id: OrderId,
    pub company: CompanyId,
    pub company_name: String,
    pub kind: OrderKind,
    pub quantity: SeatCount,
    pub state: OrderState,
    pub requested_by: Option<UserId>,
}

/// Order `id` of a company in `scope`, locked for deciding; another tenant's order is not found.
pub async fn lock(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    scope: &Scope,
    id: OrderId,
) -> DbResult<OpenOrder> {
    let (condition, value) = scope.companies_condition(2);
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE OF o",
        Backend::Sqlite => "",
    };
    let row: Option<(i64, String, String, i64, String, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT o.company_id, c.name, o.kind, o.quantity, o.state, o.requested_by \
         FROM orders o JOIN companies c ON c.id = o.company_id \
         WHERE o.id = $1 AND {condition}{lock}"
    ))
    .bind(id.0)
    .bind(value)
    .fetch_optional(&mut **tx)
    .await?;
    let (company, company_name, kind, quantity, state, requested_by) =
        row.ok_or(DbError::NotFound)?;
    Ok(OpenOrder {
        id,
        company: CompanyId(company),
        company_name,
        kind: parse_stored("orders.kind", &kind)?,
        quantity: SeatCount::new(quantity)
            .map_err(|_| DbError::Corrupt(format!("orders.quantity holds {quantity}")))?,
        state: parse_stored("orders.state", &state)?,
        requested_by: requested_by.map(UserId),
    })
}

/// What deciding an order records.
pub struct Decision<'a> {
    pub to: OrderState,
    pub by: Option<UserId>,
    pub reason: Option<&'a str>,
}

/// Moves a requested order to its decided state. A second decision of the same order (another
/// transaction got there first) is `OrderDecided`.
pub async fn decide(
    tx: &mut Transaction<'static, Any>,
    order: &OpenOrder,
    decision: &Decision<'_>,
    now: Timestamp,
) -> DbResult<()> {
    order
        .state
        .decide(decision.to)
        .map_err(|e| DbError::OrderDecided(e.current))?;
    let updated = sqlx::query(
        "UPDATE orders SET state = $1, decided_by = $2, decided_at = $3, reject_reason = $4 \
         WHERE id = $5 AND state = 'requested'",
    )
    .bind(decision.to.as_str())
    .bind(decision.by.map(|u| u.0))
    .bind(secs(now))
    .bind(decision.reason)
    .bind(order.id.0)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        let state: String = sqlx::query_scalar("SELECT state FROM orders WHERE id = $1")
            .bind(order.id.0)
            .fetch_one(&mut **tx)
            .await?;
        return Err(DbError::OrderDecided(parse_stored("orders.state", &state)?));
    }
    Ok(())
}

/// Not found unless order `id` is beneath `partner`.
pub async fn exists_beneath(db: &Db, partner: PartnerId, id: OrderId) -> DbResult<()> {
    let found: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT o.id FROM orders o WHERE o.id = $1 AND {}",
        beneath("o.partner_id", 2)
    ))
    .bind(id.0)
    .bind(partner.0)
    .fetch_optional(db.pool())
    .await?;
    found.map(|_| ()).ok_or(DbError::NotFound)
}
