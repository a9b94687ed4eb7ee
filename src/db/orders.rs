//! Licence orders: requests, the lists that show them, and moving one out of `requested`.

use jiff::Timestamp;
use sqlx::{Any, FromRow, Transaction};

use super::companies::like_escape;
use super::keyset::{
    self, Binds, COUNTED_UP_TO, Cursor, KeysetPage, Planned, Seek, Sort, SortKey, Total, Walk,
};
use super::scope::{AuthorisedCompany, Subtree, keyset_arms};
use super::{Backend, Db, DbError, DbResult, Page, Scope, instant, parse_stored, secs};
use crate::domain::{
    CompanyId, NameSearch, OrderId, OrderKind, OrderState, PartnerId, SeatCount, UserId,
};

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

/// An order as lists show it.
#[derive(Clone, Debug)]
pub struct OrderRow {
    pub id: OrderId,
    pub company: CompanyId,
    pub company_name: String,
    /// The partner's own licences (its internal company), not a customer's.
    pub internal: bool,
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
    internal: i64,
    kind: String,
    quantity: i64,
    state: String,
    requested_at: i64,
    requested_by: Option<String>,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    reject_reason: Option<String>,
}

const ORDER_COLUMNS: &str = "o.id, o.company_id, c.name AS company_name, c.internal, o.kind, o.quantity, \
    o.state, o.requested_at, o.decided_at, o.reject_reason, \
    (SELECT TRIM(u.first_name || ' ' || u.last_name) FROM users u WHERE u.id = o.requested_by) \
      AS requested_by, \
    (SELECT TRIM(u.first_name || ' ' || u.last_name) FROM users u WHERE u.id = o.decided_by) \
      AS decided_by";

fn order_page(records: Vec<OrderRecord>, limit: u32) -> DbResult<Page<OrderRow, OrderCursor>> {
    Ok(Page::from_rows(order_rows(records)?, limit, |o| {
        OrderCursor {
            requested_at: secs(o.requested_at),
            id: o.id,
        }
    }))
}

fn order_rows(records: Vec<OrderRecord>) -> DbResult<Vec<OrderRow>> {
    records
        .into_iter()
        .map(|r| {
            Ok(OrderRow {
                id: OrderId(r.id),
                company: CompanyId(r.company_id),
                company_name: r.company_name,
                internal: r.internal != 0,
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
        .collect()
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

/// The company's waiting request, if it has one (a company has at most one).
pub async fn waiting<'e, E>(executor: E, company: CompanyId) -> DbResult<Option<OrderRow>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let records = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN companies c ON c.id = o.company_id \
         WHERE o.company_id = $1 AND o.state = 'requested' \
         ORDER BY o.requested_at DESC, o.id DESC LIMIT 1"
    ))
    .bind(company.0)
    .fetch_all(executor)
    .await?;
    Ok(order_page(records, 1)?.items.pop())
}

/// Locks `company` (PostgreSQL; SQLite's write transaction already excludes other writers) so
/// that two requests at once are decided in turn: a company has at most one waiting request.
pub async fn lock_company(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    company: CompanyId,
) -> DbResult<()> {
    sqlx::query(&format!(
        "SELECT id FROM companies WHERE id = $1{}",
        backend.for_update()
    ))
    .bind(company.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::NotFound)?;
    Ok(())
}

/// Changes the quantity of a waiting request; a decided one is `OrderDecided`.
pub async fn change_quantity(
    tx: &mut Transaction<'static, Any>,
    order: &OpenOrder,
    quantity: SeatCount,
) -> DbResult<()> {
    if order.state != OrderState::Requested {
        return Err(DbError::OrderDecided(order.state));
    }
    sqlx::query("UPDATE orders SET quantity = $1 WHERE id = $2 AND state = 'requested'")
        .bind(i64::from(quantity.get()))
        .bind(order.id.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Who assigns and rejects orders: a partner, for what it sells beneath it, or the operator, for
/// distributors' own licences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seller {
    Partner(PartnerId),
    Operator,
}

impl Seller {
    /// `domain::order::decides` as SQL over orders `o` of companies `c`, reading `$n`: a partner
    /// sells to every customer beneath it and to every partner strictly beneath it; the operator
    /// to distributors. A test on both databases holds the two to the same answer.
    pub(crate) fn condition(self, n: usize) -> (String, i64) {
        match self {
            // The subquery names no column of `o` or `c`, so the planner reads each partner's
            // orders by index rather than testing every order of the instance.
            Seller::Partner(partner) => (
                // Uncorrelated, so the database reads each partner's orders by index; a
                // partner's own internal company (depth 0) buys from the partner above.
                format!(
                    "o.partner_id IN (SELECT descendant_id FROM partner_ancestors \
                     WHERE ancestor_id = ${n}) AND (c.internal = 0 OR o.partner_id <> ${n})"
                ),
                partner.0,
            ),
            Seller::Operator => (
                format!(
                    "c.internal = 1 AND CAST(${n} AS BIGINT) = 0 AND o.partner_id IN \
                     (SELECT id FROM partners WHERE parent_id IS NULL)"
                ),
                0,
            ),
        }
    }
}

/// How many requests wait for `seller` to assign or reject: what Requested Orders lists.
pub async fn waiting_count(db: &Db, seller: Seller) -> DbResult<i64> {
    let query = waiting_count_query(seller);
    let (n,): (i64,) = query
        .binds
        .apply(sqlx::query_as(&query.sql))
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// The query `waiting_count` runs. A partner's is `Seller::condition` counted in its orders
/// index alone, reading no company: every request to a partner of the subtree, less the
/// partner's own internal company's (it buys from the partner above). An order's partner is its
/// company's, copied when it is requested, so the only internal company whose orders name the
/// partner is the partner's own; its orders are read by company (`+` keeps the planner off the
/// partner's index, which would read every request of the partner to find them).
pub fn waiting_count_query(seller: Seller) -> Planned {
    let mut binds = Binds::default();
    let sql = match seller {
        Seller::Partner(partner) => {
            let root = binds.int_at(partner.0);
            format!(
                "SELECT (SELECT COUNT(*) FROM orders o WHERE {} AND o.state = 'requested') \
                   - (SELECT COUNT(*) FROM orders o WHERE o.company_id = (SELECT id \
                       FROM companies WHERE partner_id = ${root} AND internal = 1) \
                       AND +o.partner_id = ${root} AND o.state = 'requested')",
                super::scope::beneath("o.partner_id", root)
            )
        }
        Seller::Operator => {
            let (condition, value) = seller.condition(1);
            binds.int(value);
            format!(
                "SELECT COUNT(*) FROM orders o JOIN companies c ON c.id = o.company_id \
                 WHERE {condition} AND o.state = 'requested'"
            )
        }
    };
    Planned { sql, binds }
}

/// The three lists of the partner's Orders tab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrdersTab {
    /// Waiting for this partner (or a sub-partner) to assign or reject.
    Requested,
    /// Assigned beneath this partner.
    Assigned,
    /// The partner's own licences: orders of its internal company, asked of the partner above.
    Mine,
    /// Every order the seller decides, in any state: the API's list.
    Sold,
}

/// Add Filter: company name, type, requested between two instants; the API also filters by
/// state and by company id.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    /// One order, in whatever state (the link of an order email).
    pub order: Option<OrderId>,
    /// Only orders of companies whose name contains this text (any case).
    pub company: Option<NameSearch>,
    pub company_id: Option<CompanyId>,
    pub state: Option<OrderState>,
    pub kind: Option<OrderKind>,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// The columns the Orders tabs sort by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OrderSort {
    #[default]
    Requested,
    Quantity,
}

impl Sort for OrderSort {
    const ALL: &'static [Self] = &[OrderSort::Requested, OrderSort::Quantity];

    fn as_str(self) -> &'static str {
        match self {
            OrderSort::Requested => "requested",
            OrderSort::Quantity => "licences",
        }
    }

    /// Served by `orders_partner_state` / `orders_partner_state_quantity` (partner, state, key,
    /// id), and for My Orders `orders_company` / `orders_company_quantity`.
    fn key(self) -> (&'static str, bool) {
        match self {
            OrderSort::Requested => ("o.requested_at", false),
            OrderSort::Quantity => ("o.quantity", false),
        }
    }
}

/// The condition of `seller`'s `tab` kept by `filter` beyond whose orders they are, binding its
/// values.
fn seller_condition(
    tab: OrdersTab,
    filter: &OrderFilter,
    sort: OrderSort,
    binds: &mut Binds,
) -> String {
    let state = match tab {
        _ if filter.order.is_some() => "1 = 1",
        OrdersTab::Requested => "o.state = 'requested'",
        OrdersTab::Assigned => "o.state = 'assigned'",
        OrdersTab::Mine | OrdersTab::Sold => "1 = 1",
    };
    let mut condition = state.to_owned();
    if let Some(name) = &filter.company {
        let pattern = binds.text(format!("%{}%", like_escape(&name.as_str().to_lowercase())));
        condition += &format!(" AND LOWER(c.name) LIKE {pattern} ESCAPE '\\'");
    }
    if let Some(kind) = filter.kind {
        condition += &format!(" AND o.kind = {}", binds.text(kind.as_str().to_owned()));
    }
    // Sorted by another column, the dates only filter the sort's walk: `+` keeps the planner
    // from reading the date range instead and sorting the tenant's orders.
    let requested = match sort {
        OrderSort::Requested => "o.requested_at",
        OrderSort::Quantity => "+o.requested_at",
    };
    if let Some(from) = filter.from {
        condition += &format!(" AND {requested} >= {}", binds.int(secs(from)));
    }
    if let Some(until) = filter.until {
        condition += &format!(" AND {requested} < {}", binds.int(secs(until)));
    }
    // Plain equalities where a filter is given, so the planner can read them from an index.
    if let Some(state) = filter.state {
        condition += &format!(" AND o.state = {}", binds.text(state.as_str().to_owned()));
    }
    if let Some(company) = filter.company_id {
        condition += &format!(" AND o.company_id = {}", binds.int(company.0));
    }
    if let Some(order) = filter.order {
        condition += &format!(" AND o.id = {}", binds.int(order.0));
    }
    condition
}

/// Whose orders `seller`'s `tab` holds, one condition per arm: a partner's list walks each
/// partner of `subtree` by its orders index, a page deep (`Subtree`); without a subtree, one
/// condition reads the whole tree (`Seller::condition`).
fn seller_arms(
    seller: Seller,
    subtree: Option<&Subtree>,
    tab: OrdersTab,
    binds: &mut Binds,
) -> Vec<String> {
    match (tab, seller, subtree) {
        // A partner's own licences are its internal company's orders.
        (OrdersTab::Mine, Seller::Partner(partner), _) => vec![format!(
            "o.company_id = (SELECT id FROM companies WHERE partner_id = {} AND internal = 1)",
            binds.int(partner.0)
        )],
        // The operator buys from no one.
        (OrdersTab::Mine, Seller::Operator, _) => vec!["1 = 0".to_owned()],
        // `Seller::condition`, arm by arm: the partner's own internal company buys from above.
        (_, Seller::Partner(partner), Some(subtree)) => {
            let root = binds.int(partner.0);
            subtree
                .arms("o.partner_id", binds)
                .into_iter()
                .map(|arm| format!("{arm} AND (o.partner_id <> {root} OR c.internal = 0)"))
                .collect()
        }
        _ => {
            let (condition, value) = seller.condition(binds.next());
            binds.int(value);
            vec![condition]
        }
    }
}

/// The query of one page of `seller`'s `tab`.
pub fn seller_query(
    (seller, subtree): (Seller, Option<&Subtree>),
    tab: OrdersTab,
    filter: &OrderFilter,
    (sort, descending): (OrderSort, bool),
    seek: &Seek,
    limit: u32,
) -> Planned {
    let mut binds = Binds::default();
    let arms = seller_arms(seller, subtree, tab, &mut binds);
    let condition = seller_condition(tab, filter, sort, &mut binds);
    let (key, _) = sort.key();
    let walk = Walk {
        key,
        id: "o.id",
        descending,
    };
    let select = format!(
        "SELECT {ORDER_COLUMNS}, {key} AS sort_key FROM orders o \
         JOIN companies c ON c.id = o.company_id"
    );
    let sql = keyset_arms(&select, &arms, &condition, &walk, (seek, limit), &mut binds);
    Planned { sql, binds }
}

/// The partners `seller`'s lists walk one by one: a partner's subtree.
async fn seller_subtree(db: &Db, seller: Seller) -> DbResult<Option<Subtree>> {
    Ok(match seller {
        Seller::Partner(partner) => Some(Subtree::of(db, partner).await?),
        Seller::Operator => None,
    })
}

/// One page of `seller`'s `tab`, sorted by `sort`.
pub async fn seller_page(
    db: &Db,
    seller: Seller,
    tab: OrdersTab,
    filter: &OrderFilter,
    sort: (OrderSort, bool),
    seek: &Seek,
    limit: u32,
) -> DbResult<KeysetPage<OrderRow>> {
    let subtree = seller_subtree(db, seller).await?;
    let query = seller_query((seller, subtree.as_ref()), tab, filter, sort, seek, limit);
    let records: Vec<OrderRecord> = query
        .binds
        .apply(sqlx::query_as(&query.sql))
        .fetch_all(db.pool())
        .await?;
    let page = keyset::page(seek, records, limit, |r| Cursor {
        key: SortKey::Number(match sort.0 {
            OrderSort::Requested => r.requested_at,
            OrderSort::Quantity => r.quantity,
        }),
        id: r.id,
    });
    Ok(KeysetPage {
        rows: order_rows(page.rows)?,
        previous: page.previous,
        next: page.next,
    })
}

/// How many orders `seller`'s `tab` holds that `filter` keeps, up to `COUNTED_UP_TO`: the N of
/// "1–50 of N". It reads at most that many and one more, however many the tab holds.
pub async fn seller_count(
    db: &Db,
    seller: Seller,
    tab: OrdersTab,
    filter: &OrderFilter,
) -> DbResult<Total> {
    let read = |most: i64| {
        let query = seller_count_query(seller, tab, filter, most);
        async move {
            let counts: (i64, i64) = query
                .binds
                .apply(sqlx::query_as(&query.sql))
                .fetch_one(db.pool())
                .await?;
            DbResult::Ok(counts)
        }
    };
    let most = COUNTED_UP_TO + 1;
    let (mut read_all, mut bought_above) = read(most).await?;
    if read_all >= most && bought_above > 0 {
        // The partner's own orders were among those read: read as many more.
        (read_all, bought_above) = read(most + bought_above).await?;
    }
    Ok(Total::bounded(read_all - bought_above, COUNTED_UP_TO))
}

/// The query `seller_count` runs: the orders of the partners of the tab that `filter` keeps, at
/// most `most` of them, and how many of those the partner's own internal company bought from
/// above, which the tab leaves out. A partner's tab is counted without reading each order's
/// company (`waiting_count` says why that holds), unless the filter names the company.
pub fn seller_count_query(
    seller: Seller,
    tab: OrdersTab,
    filter: &OrderFilter,
    most: i64,
) -> Planned {
    let mut binds = Binds::default();
    let by_company_name = filter.company.is_some();
    let (whose, bought_above) = match (tab, seller) {
        (
            OrdersTab::Requested | OrdersTab::Assigned | OrdersTab::Sold,
            Seller::Partner(partner),
        ) if !by_company_name => {
            let root = binds.int_at(partner.0);
            (
                super::scope::beneath("o.partner_id", root),
                Some(format!(
                    "o.company_id = (SELECT id FROM companies WHERE partner_id = ${root} \
                     AND internal = 1) AND +o.partner_id = ${root}"
                )),
            )
        }
        _ => (
            seller_arms(seller, None, tab, &mut binds).join(" OR "),
            None,
        ),
    };
    let condition = seller_condition(tab, filter, OrderSort::Requested, &mut binds);
    let most = binds.int(most);
    let orders = if by_company_name || bought_above.is_none() {
        "orders o JOIN companies c ON c.id = o.company_id"
    } else {
        "orders o"
    };
    let bought_above = bought_above.map_or("0".to_owned(), |own| {
        format!("(SELECT COUNT(*) FROM orders o WHERE {own} AND {condition})")
    });
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM {orders} WHERE ({whose}) AND {condition} \
           LIMIT {most}) counted), {bought_above}"
    );
    Planned { sql, binds }
}

/// The queries of a partner's list of every order it sells, without and with a state filter,
/// newest first, reading the whole tree in one condition: what a test asks the database to plan.
pub fn sold_queries() -> Vec<Planned> {
    let seller = (Seller::Partner(PartnerId(1)), None);
    let with_state = OrderFilter {
        state: Some(OrderState::Requested),
        ..OrderFilter::default()
    };
    [OrderFilter::default(), with_state]
        .iter()
        .map(|filter| {
            let sort = (OrderSort::Requested, true);
            seller_query(seller, OrdersTab::Sold, filter, sort, &Seek::First, 50)
        })
        .collect()
}

/// The orders of `seller`'s `tab`, newest first, one page before `before`.
pub async fn for_seller(
    db: &Db,
    seller: Seller,
    tab: OrdersTab,
    filter: &OrderFilter,
    before: Option<OrderCursor>,
    limit: u32,
) -> DbResult<Page<OrderRow, OrderCursor>> {
    let seek = for_seller_seek(before);
    let page = seller_page(
        db,
        seller,
        tab,
        filter,
        (OrderSort::Requested, true),
        &seek,
        limit,
    )
    .await?;
    Ok(Page {
        next: page.next.map(|c| OrderCursor {
            requested_at: match c.key {
                SortKey::Number(n) => n,
                SortKey::Text(_) => i64::MAX,
            },
            id: OrderId(c.id),
        }),
        items: page.rows,
    })
}

/// The query `for_seller` runs.
pub async fn for_seller_query(
    db: &Db,
    seller: Seller,
    tab: OrdersTab,
    filter: &OrderFilter,
    before: Option<OrderCursor>,
    limit: u32,
) -> DbResult<Planned> {
    let subtree = seller_subtree(db, seller).await?;
    let sort = (OrderSort::Requested, true);
    let seek = for_seller_seek(before);
    Ok(seller_query(
        (seller, subtree.as_ref()),
        tab,
        filter,
        sort,
        &seek,
        limit,
    ))
}

/// Where `for_seller`'s page starts: after the last order of the page before, newest first.
fn for_seller_seek(before: Option<OrderCursor>) -> Seek {
    before.map_or(Seek::First, |c| {
        Seek::After(Cursor {
            key: SortKey::Number(c.requested_at),
            id: c.id.0,
        })
    })
}

/// An order read for deciding, locked on PostgreSQL until the transaction ends.
#[derive(Clone, Debug)]
pub struct OpenOrder {
    pub id: OrderId,
    pub company: CompanyId,
    pub company_name: String,
    /// A partner's own licences (its internal company).
    pub internal: bool,
    pub kind: OrderKind,
    pub quantity: SeatCount,
    pub state: OrderState,
    pub requested_by: Option<UserId>,
}

/// Order `id` of a company in `scope`, locked for changing; another tenant's order is not found.
pub async fn lock(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    scope: &Scope,
    id: OrderId,
) -> DbResult<OpenOrder> {
    let (condition, value) = scope.companies_condition(2);
    lock_where(tx, backend, &condition, value, id).await
}

/// Order `id` if `seller` decides it, locked for deciding; any other order is not found.
pub async fn lock_for_seller(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    seller: Seller,
    id: OrderId,
) -> DbResult<OpenOrder> {
    let (condition, value) = seller.condition(2);
    lock_where(tx, backend, &condition, value, id).await
}

async fn lock_where(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    condition: &str,
    value: i64,
    id: OrderId,
) -> DbResult<OpenOrder> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE OF o",
        Backend::Sqlite => "",
    };
    let row: Option<OpenRecord> = sqlx::query_as(&format!(
        "SELECT o.company_id, c.name AS company_name, c.internal, o.kind, o.quantity, o.state, \
         o.requested_by FROM orders o JOIN companies c ON c.id = o.company_id \
         WHERE o.id = $1 AND {condition}{lock}"
    ))
    .bind(id.0)
    .bind(value)
    .fetch_optional(&mut **tx)
    .await?;
    let r = row.ok_or(DbError::NotFound)?;
    Ok(OpenOrder {
        id,
        company: CompanyId(r.company_id),
        company_name: r.company_name,
        internal: r.internal != 0,
        kind: parse_stored("orders.kind", &r.kind)?,
        quantity: SeatCount::new(r.quantity)
            .map_err(|_| DbError::Corrupt(format!("orders.quantity holds {}", r.quantity)))?,
        state: parse_stored("orders.state", &r.state)?,
        requested_by: r.requested_by.map(UserId),
    })
}

#[derive(FromRow)]
struct OpenRecord {
    company_id: i64,
    company_name: String,
    internal: i64,
    kind: String,
    quantity: i64,
    state: String,
    requested_by: Option<i64>,
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

/// Not found unless `seller` decides order `id`.
pub async fn sold_by(db: &Db, seller: Seller, id: OrderId) -> DbResult<()> {
    let (condition, value) = seller.condition(2);
    let found: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT o.id FROM orders o JOIN companies c ON c.id = o.company_id \
         WHERE o.id = $1 AND {condition}"
    ))
    .bind(id.0)
    .bind(value)
    .fetch_optional(db.pool())
    .await?;
    found.map(|_| ()).ok_or(DbError::NotFound)
}
