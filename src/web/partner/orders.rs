//! Licences → Orders: Requested Orders, Assigned Orders and My Orders with Add Filter, and the
//! row's ⋯ menu: Assign, Reject.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Deserialize;

use super::{PAGE, query_string};
use crate::db::orders::{self, OrderCursor, OrderFilter, OrderRow, OrdersTab};
use crate::domain::{OrderId, RejectReason};
use crate::format::date;
use crate::ops::Fields;
use crate::ops::orders as order_ops;
use crate::web::areas::PartnerArea;
use crate::web::error::form_errors;
use crate::web::layout::{Layout, PageResult, render, render_with};
use crate::web::{AppState, BOTH, GET, POST, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/partner/licences", GET, get(list))
        .add("/partner/orders/{id}/assign", POST, post(assign))
        .add(
            "/partner/orders/{id}/reject",
            BOTH,
            get(reject_form).post(reject),
        )
}

#[derive(Template)]
#[template(path = "partner_orders.html")]
struct OrdersPage {
    layout: Layout,
    tab: &'static str,
    orders: Vec<OrderLine>,
    filter: OrdersQuery,
    filtered: bool,
    notice: Option<String>,
    next: Option<String>,
}

struct OrderLine {
    order: OrderRow,
    requested_on: String,
    decided_on: String,
}

#[derive(Deserialize, Default, Clone)]
struct OrdersQuery {
    #[serde(default)]
    tab: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before_at: Option<i64>,
    before_id: Option<i64>,
    assigned: Option<i64>,
    rejected: Option<i64>,
}

/// A YYYY-MM-DD date as the instant its day starts (UTC); `next_day` gives the end of the day.
fn day_start(raw: &str, next_day: bool) -> Option<Timestamp> {
    let day: jiff::civil::Date = raw.trim().parse().ok()?;
    let day = if next_day { day.tomorrow().ok()? } else { day };
    day.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

impl OrdersQuery {
    fn tab(&self) -> (&'static str, OrdersTab) {
        match self.tab.as_str() {
            "assigned" => ("assigned", OrdersTab::Assigned),
            "mine" => ("mine", OrdersTab::Mine),
            _ => ("requested", OrdersTab::Requested),
        }
    }

    fn filter(&self) -> OrderFilter {
        OrderFilter {
            company: Some(self.company.clone()).filter(|c| !c.trim().is_empty()),
            kind: self.kind.parse().ok(),
            from: day_start(&self.from, false),
            until: day_start(&self.to, true),
        }
    }

    /// The link to the page after `cursor`, keeping the tab and the filters.
    fn next(&self, tab: &str, cursor: OrderCursor) -> String {
        let (at, id) = (cursor.requested_at.to_string(), cursor.id.to_string());
        let pairs = [
            ("tab", tab),
            ("company", &self.company),
            ("kind", &self.kind),
            ("from", &self.from),
            ("to", &self.to),
            ("before_at", &at),
            ("before_id", &id),
        ];
        format!("/partner/licences?{}", query_string(&pairs))
    }

    fn notice(&self) -> Option<String> {
        match (self.assigned, self.rejected) {
            (Some(id), _) => Some(format!(
                "Order {id} assigned: the licences are ready and the company's managers have been emailed."
            )),
            (_, Some(id)) => Some(format!(
                "Order {id} rejected: the requester has been emailed the reason."
            )),
            _ => None,
        }
    }
}

/// Licences → Orders: Requested Orders, Assigned Orders and My Orders, with Add Filter.
async fn list(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Query(query): Query<OrdersQuery>,
) -> PageResult {
    let (tab, which) = query.tab();
    let filter = query.filter();
    let before = query
        .before_at
        .zip(query.before_id)
        .map(|(at, id)| OrderCursor {
            requested_at: at,
            id: OrderId(id),
        });
    let page =
        orders::for_partner(&state.ops.db, area.partner, which, &filter, before, PAGE).await?;
    let orders = page
        .items
        .into_iter()
        .map(|order| OrderLine {
            requested_on: date(order.requested_at, "UTC"),
            decided_on: order.decided_at.map(|d| date(d, "UTC")).unwrap_or_default(),
            order,
        })
        .collect();
    render(OrdersPage {
        layout: area.layout("Licences", "/partner/licences"),
        tab,
        orders,
        filtered: filter.company.is_some()
            || filter.kind.is_some()
            || filter.from.is_some()
            || filter.until.is_some(),
        notice: query.notice(),
        next: page.next.map(|c| query.next(tab, c)),
        filter: query,
    })
}

/// ⋯ → Assign: the batch is created and the company's managers are emailed.
async fn assign(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
) -> PageResult {
    order_ops::assign(&state.ops, &area.caller, OrderId(id)).await?;
    Ok(Redirect::to(&format!("/partner/licences?tab=requested&assigned={id}")).into_response())
}

#[derive(Template)]
#[template(path = "reject_form.html")]
struct RejectPage {
    layout: Layout,
    order: OrderId,
    reason: String,
    error: Option<String>,
}

async fn reject_form(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
) -> PageResult {
    orders::exists_beneath(&state.ops.db, area.partner, OrderId(id)).await?;
    render(RejectPage {
        layout: area.layout("Reject order", "/partner/licences"),
        order: OrderId(id),
        reason: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
struct RejectForm {
    #[serde(default)]
    reason: String,
}

/// ⋯ → Reject, with a reason emailed to the requester.
async fn reject(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
    Form(form): Form<RejectForm>,
) -> PageResult {
    let outcome = async {
        let mut fields = Fields::default();
        let reason = fields.take("reason", RejectReason::parse(&form.reason));
        let reason = fields.finish(|| reason)?;
        order_ops::reject(&state.ops, &area.caller, OrderId(id), &reason).await
    };
    let errors = match outcome.await {
        Ok(()) => {
            let to = format!("/partner/licences?tab=requested&rejected={id}");
            return Ok(Redirect::to(&to).into_response());
        }
        Err(e) => form_errors(e, &[("reason", "Reason")])?,
    };
    orders::exists_beneath(&state.ops.db, area.partner, OrderId(id)).await?;
    let page = RejectPage {
        layout: area.layout("Reject order", "/partner/licences"),
        order: OrderId(id),
        reason: form.reason.clone(),
        error: Some(errors.join(" ")),
    };
    render_with(StatusCode::UNPROCESSABLE_ENTITY, page)
}
