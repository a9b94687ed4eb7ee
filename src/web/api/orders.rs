//! Orders: a company's orders and every order a partner sells (newest first, with filters),
//! Request Licenses, and Assign, Reject (with a reason) and Cancel, through the same operations
//! as the console's Orders tabs.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::companies::{Kind, id_in_path};
use super::input::{ApiJson, ApiQuery};
use super::pages::{self, page_type};
use super::problem::{ApiError, ApiResult, FieldProblem, Problem};
use crate::db::orders::{OrderCursor, OrderFilter, OrderRow};
use crate::domain::api_keys::Permission;
use crate::domain::{CompanyId, OrderId, OrderKind, OrderState, RejectReason, SeatCount};
use crate::ops::orders::{self as order_ops, LicenceRequest};
use crate::ops::{Fields, authorise};
use crate::web::AppState;

/// Where an order stands.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Requested,
    Assigned,
    Rejected,
    Cancelled,
}

impl From<OrderState> for OrderStatus {
    fn from(s: OrderState) -> Self {
        match s {
            OrderState::Requested => OrderStatus::Requested,
            OrderState::Assigned => OrderStatus::Assigned,
            OrderState::Rejected => OrderStatus::Rejected,
            OrderState::Cancelled => OrderStatus::Cancelled,
        }
    }
}

impl From<OrderStatus> for OrderState {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Requested => OrderState::Requested,
            OrderStatus::Assigned => OrderState::Assigned,
            OrderStatus::Rejected => OrderState::Rejected,
            OrderStatus::Cancelled => OrderState::Cancelled,
        }
    }
}

/// A licence order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    id: i64,
    company_id: i64,
    company: String,
    kind: Kind,
    quantity: i64,
    state: OrderStatus,
    #[schema(format = DateTime)]
    requested_at: String,
    #[schema(required = true)]
    requested_by: Option<String>,
    #[schema(required = true, format = DateTime)]
    decided_at: Option<String>,
    #[schema(required = true)]
    decided_by: Option<String>,
    #[schema(required = true)]
    reject_reason: Option<String>,
}

impl From<OrderRow> for Order {
    fn from(o: OrderRow) -> Self {
        Order {
            id: o.id.0,
            company_id: o.company.0,
            company: o.company_name,
            kind: match o.kind {
                OrderKind::Premium => Kind::Premium,
                OrderKind::Managed => Kind::Managed,
            },
            quantity: o.quantity,
            state: o.state.into(),
            requested_at: o.requested_at.to_string(),
            requested_by: o.requested_by.filter(|n| !n.is_empty()),
            decided_at: o.decided_at.map(|t| t.to_string()),
            decided_by: o.decided_by.filter(|n| !n.is_empty()),
            reject_reason: o.reject_reason,
        }
    }
}

page_type!(
    /// One page of orders, newest first.
    OrderPage of Order
);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Only orders in this state.
    state: Option<OrderStatus>,
    /// How many orders per page (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next` of the previous page.
    #[param(max_length = 600)]
    after: Option<String>,
}

const NOT_FOUND: &str = "No such company or order, or not one this key may see";

/// An order list's index key in a cursor: (requested at, id), newest first.
fn order_key(c: OrderCursor) -> (i64, i64) {
    (c.requested_at, c.id.0)
}

fn order_cursor((requested_at, id): (i64, i64)) -> OrderCursor {
    OrderCursor {
        requested_at,
        id: OrderId(id),
    }
}

/// List a company's orders.
#[utoipa::path(
    get,
    operation_id = "listOrders",
    path = "/api/v1/companies/{id}/orders",
    tag = "orders",
    params(("id" = i64, Path, description = "The company's id"), OrderQuery),
    responses(
        (status = 200, description = "One page of orders", body = OrderPage),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<OrderQuery>,
) -> ApiResult<Json<OrderPage>> {
    let caller = who.require(Permission::Read)?;
    let id = CompanyId(id_in_path(&id)?);
    let (before, limit) = pages::ask(query.limit, query.after.as_deref())?;
    let company = authorise(&state.ops, caller, id).await?;
    let only = query.state.map(OrderState::from);
    let before = before.map(order_cursor);
    let page = order_ops::for_company(&state.ops, caller, &company, only, before, limit).await?;
    Ok(Json(pages::answer(page, order_key, Order::from).into()))
}

/// Which of the partner's orders to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SoldQuery {
    /// Only orders in this state.
    state: Option<OrderStatus>,
    /// Only this company's orders.
    company_id: Option<i64>,
    /// Only orders requested at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    requested_from: Option<String>,
    /// Only orders requested before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    requested_before: Option<String>,
    /// How many orders per page (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next` of the previous page.
    #[param(max_length = 600)]
    after: Option<String>,
}

/// An instant of a query parameter.
fn instant(field: &str, raw: Option<&str>) -> ApiResult<Option<jiff::Timestamp>> {
    raw.map(|raw| {
        raw.parse().map_err(|_| {
            ApiError::Malformed(vec![FieldProblem {
                field: field.to_owned(),
                code: "not-an-instant".into(),
                detail: format!(
                    "\"{}\" is not an instant such as 2026-11-26T09:00:00Z",
                    raw.chars().take(60).collect::<String>()
                ),
            }])
        })
    })
    .transpose()
}

/// List every order the key's partner sells: its customers' (and sub-partners' customers')
/// and its sub-partners' own licences, newest first.
#[utoipa::path(
    get,
    operation_id = "listPartnerOrders",
    path = "/api/v1/orders",
    tag = "orders",
    params(SoldQuery),
    responses(
        (status = 200, description = "One page of orders", body = OrderPage),
        (status = 404, description = "This key's owner sells no orders (a company key)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_sold(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    ApiQuery(query): ApiQuery<SoldQuery>,
) -> ApiResult<Json<OrderPage>> {
    let caller = who.require(Permission::Read)?;
    let (before, limit) = pages::ask(query.limit, query.after.as_deref())?;
    let filter = OrderFilter {
        state: query.state.map(OrderState::from),
        company_id: query.company_id.map(CompanyId),
        from: instant("requested_from", query.requested_from.as_deref())?,
        until: instant("requested_before", query.requested_before.as_deref())?,
        ..OrderFilter::default()
    };
    let page =
        order_ops::sold(&state.ops, caller, &filter, before.map(order_cursor), limit).await?;
    Ok(Json(pages::answer(page, order_key, Order::from).into()))
}

/// Licences to ask for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    kind: Kind,
    #[schema(minimum = 1, maximum = 100000)]
    quantity: i64,
}

/// What a request made.
#[derive(Debug, Serialize, ToSchema)]
pub struct Requested {
    id: i64,
}

/// Request licences for a company: a `requested` order; its account manager is emailed. A
/// company has at most one waiting request (409 names it).
#[utoipa::path(
    post,
    operation_id = "requestOrder",
    path = "/api/v1/companies/{id}/orders",
    tag = "orders",
    params(("id" = i64, Path, description = "The company's id")),
    request_body = OrderBody,
    responses(
        (status = 201, description = "Requested", body = Requested),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn request(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OrderBody>,
) -> ApiResult<Response> {
    let caller = who.require(Permission::Write)?;
    let id = CompanyId(id_in_path(&id)?);
    let mut fields = Fields::default();
    let quantity = fields.take("quantity", SeatCount::new(body.quantity));
    let quantity = fields.finish(|| quantity)?;
    let company = authorise(&state.ops, caller, id).await?;
    // Repeats are the Idempotency-Key's to recognise; each call is its own request.
    let key = crate::db::sessions::new_token();
    let request = LicenceRequest {
        kind: body.kind.into(),
        quantity,
        request_key: &key,
    };
    let requested = order_ops::request(&state.ops, caller, &company, &request).await?;
    Ok((
        StatusCode::CREATED,
        Json(Requested {
            id: requested.order.0,
        }),
    )
        .into_response())
}

fn order_id(raw: &str) -> ApiResult<OrderId> {
    id_in_path(raw).map(OrderId)
}

/// What Assign made.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assigned {
    /// The new batch of seats, valid 12 months.
    batch_id: i64,
}

/// Assign an order the key's partner sells: the batch is created, a trial ends, the company's
/// managers are emailed.
#[utoipa::path(
    post,
    operation_id = "assignOrder",
    path = "/api/v1/orders/{id}/assign",
    tag = "orders",
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "Assigned", body = Assigned),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn assign(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Assigned>> {
    let caller = who.require(Permission::Write)?;
    let batch = order_ops::assign(&state.ops, caller, order_id(&id)?).await?;
    Ok(Json(Assigned { batch_id: batch.0 }))
}

/// Why an order is rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    #[schema(max_length = 1000)]
    reason: String,
}

/// Reject an order the key's partner sells; the reason is emailed to the requester.
#[utoipa::path(
    post,
    operation_id = "rejectOrder",
    path = "/api/v1/orders/{id}/reject",
    tag = "orders",
    params(("id" = i64, Path, description = "The order's id")),
    request_body = RejectBody,
    responses(
        (status = 204, description = "Rejected"),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reject(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectBody>,
) -> ApiResult<StatusCode> {
    let caller = who.require(Permission::Write)?;
    let id = order_id(&id)?;
    let mut fields = Fields::default();
    let reason = fields.take("reason", RejectReason::parse(&body.reason));
    let reason = fields.finish(|| reason)?;
    order_ops::reject(&state.ops, caller, id, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancel a waiting request.
#[utoipa::path(
    post,
    operation_id = "cancelOrder",
    path = "/api/v1/orders/{id}/cancel",
    tag = "orders",
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let caller = who.require(Permission::Write)?;
    order_ops::cancel(&state.ops, caller, order_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
