//! Operator console → Requested Orders: distributors ask the operator for their own licences
//! (My Orders → Add Licenses); the operator assigns or rejects them here.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::db::orders::{self, OrderFilter, OrderRow, OrdersTab, Seller};
use crate::domain::OrderId;
use crate::format::date;
use crate::ops::orders as order_ops;
use crate::web::areas::OperatorArea;
use crate::web::layout::{Layout, PageResult, render};
use crate::web::partner::orders::{RejectForm, reject_order, reject_page};
use crate::web::{AppState, BOTH, GET, POST, Routes};

/// Orders per page.
const PAGE: u32 = 50;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/operator/orders", GET, get(list))
        .add("/operator/orders/{id}/assign", POST, post(assign))
        .add(
            "/operator/orders/{id}/reject",
            BOTH,
            get(reject_form).post(reject),
        )
}

#[derive(Template)]
#[template(path = "operator_orders.html")]
struct OrdersPage {
    layout: Layout,
    tab: &'static str,
    orders: Vec<(OrderRow, String)>,
    notice: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
struct OrdersQuery {
    #[serde(default)]
    tab: String,
    before_at: Option<i64>,
    before_id: Option<i64>,
    /// One order, opened from its email.
    order: Option<i64>,
}

/// Requested Orders (and Assigned Orders): distributors' own licences, newest first.
async fn list(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Query(query): Query<OrdersQuery>,
) -> PageResult {
    let (tab, which) = match query.tab.as_str() {
        "assigned" => ("assigned", OrdersTab::Assigned),
        _ => ("requested", OrdersTab::Requested),
    };
    let before = query
        .before_at
        .zip(query.before_id)
        .map(|(at, id)| orders::OrderCursor {
            requested_at: at,
            id: OrderId(id),
        });
    let filter = OrderFilter {
        order: query.order.map(OrderId),
        ..OrderFilter::default()
    };
    let page = orders::for_seller(
        &state.ops.db,
        Seller::Operator,
        which,
        &filter,
        before,
        PAGE,
    )
    .await?;
    let next = page.next.map(|c| {
        format!(
            "/operator/orders?tab={tab}&before_at={}&before_id={}",
            c.requested_at, c.id
        )
    });
    let notice = query
        .order
        .map(|id| format!("Order {id}, as the email said."))
        .or_else(|| area.flash.clone());
    let orders = page.items.into_iter().map(|o| {
        let on = date(o.requested_at, "UTC");
        (o, on)
    });
    render(OrdersPage {
        layout: area.layout("Requested Orders", "/operator/orders"),
        tab,
        orders: orders.collect(),
        notice,
        next,
    })
}

/// ⋯ → Assign: the licences land on the distributor's internal company.
async fn assign(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Path(id): Path<i64>,
) -> PageResult {
    order_ops::assign(&state.ops, &area.caller, OrderId(id)).await?;
    let notice = format!("Order {id} assigned: the licences are on the distributor's own company.");
    area.redirect_with_notice(&state, "/operator/orders", &notice)
        .await
}

async fn reject_form(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Path(id): Path<i64>,
) -> PageResult {
    reject_page(&state, &area, Seller::Operator, OrderId(id), None).await
}

async fn reject(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Path(id): Path<i64>,
    Form(form): Form<RejectForm>,
) -> PageResult {
    let Some(error) = reject_order(&state, &area, OrderId(id), &form).await? else {
        let notice = format!("Order {id} rejected: the requester has been emailed the reason.");
        return area
            .redirect_with_notice(&state, "/operator/orders", &notice)
            .await;
    };
    reject_page(
        &state,
        &area,
        Seller::Operator,
        OrderId(id),
        Some((&form, error)),
    )
    .await
}
