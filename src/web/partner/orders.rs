//! Licences → Orders: Requested Orders, Assigned Orders and My Orders with Add Filter, and the
//! row's ⋯ menu: Assign, Reject, Cancel. The reject form serves the operator's orders too.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Deserialize;

use super::PAGE;
use crate::db::keyset::Total;
use crate::db::orders::{self, OrderFilter, OrderRow, OrderSort, OrdersTab, Seller};
use crate::domain::{Action, NameSearch, OrderId, RejectReason};
use crate::format::date;
use crate::ops::orders as order_ops;
use crate::ops::{Error, Fields, OpResult};
use crate::web::areas::{PartnerArea, SignedIn};
use crate::web::error::form_errors;
use crate::web::layout::{Layout, PageResult, render, render_with};
use crate::web::pager::{Heading, Listing, PageParams, Pager};
use crate::web::{AppState, BOTH, GET, POST, PageError, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/partner/licences", GET, get(list))
        .add("/partner/orders/{id}/assign", POST, post(assign))
        .add(
            "/partner/orders/{id}/reject",
            BOTH,
            get(reject_form).post(reject),
        )
        .add("/partner/orders/{id}/cancel", POST, post(cancel))
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
    headings: Vec<Heading>,
    pager: Pager,
    time_zone: String,
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
    /// One order, opened from its email.
    #[serde(default)]
    order: String,
    #[serde(flatten)]
    page: PageParams,
}

const HEADINGS: [(Option<OrderSort>, &str, bool); 8] = [
    (None, "Order", false),
    (None, "Company", false),
    (Some(OrderSort::Quantity), "Licences", true),
    (None, "Type", false),
    (Some(OrderSort::Requested), "Requested", false),
    (None, "By", false),
    (None, "Status", false),
    (None, "", false),
];

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

    /// The one order asked for, if any (a value that is not an order number is read as absent).
    fn order(&self) -> Option<OrderId> {
        self.order.trim().parse().ok().map(OrderId)
    }

    /// The filters as asked for; a company search holding what no name can is refused.
    fn filter(&self) -> OpResult<OrderFilter> {
        let company = NameSearch::parse_filter(&self.company)
            .map_err(|problem| Error::invalid("company", problem))?;
        Ok(OrderFilter {
            order: self.order(),
            company,
            kind: self.kind.parse().ok(),
            from: day_start(&self.from, false),
            until: day_start(&self.to, true),
            ..OrderFilter::default()
        })
    }

    /// The list as asked for: newest first unless a column is chosen; every link keeps the tab
    /// and the filters.
    fn listing(&self, tab: &'static str) -> Listing<OrderSort> {
        let filters = vec![
            ("tab", tab.to_owned()),
            ("company", self.company.clone()),
            ("kind", self.kind.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("order", self.order.clone()),
        ];
        self.page
            .listing("/partner/licences", (OrderSort::Requested, true), filters)
    }

    /// Opened from an order's email, the page says which order it shows.
    fn notice(&self) -> Option<String> {
        self.order()
            .map(|id| format!("Order {id}, as the email said. Clear to see every order."))
    }
}

/// Licences → Orders: Requested Orders, Assigned Orders and My Orders, with Add Filter.
async fn list(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Query(query): Query<OrdersQuery>,
) -> PageResult {
    let (tab, which) = query.tab();
    let filter = query.filter()?;
    let listing = query.listing(tab);
    let seller = Seller::Partner(area.partner);
    let (db, sort) = (&state.ops.db, (listing.sort, listing.descending));
    let page = orders::seller_page(db, seller, which, &filter, sort, &listing.seek, PAGE).await?;
    // A page with none before or after it is the whole list: its rows are the count.
    let total = if page.previous.is_none() && page.next.is_none() {
        Total::Exactly(page.rows.len() as i64)
    } else {
        orders::seller_count(db, seller, which, &filter).await?
    };
    let pager = listing.pager(&page, PAGE, total);
    let time_zone = crate::db::partners::time_zone(&state.ops.db, area.partner).await?;
    let orders = page
        .rows
        .into_iter()
        .map(|order| OrderLine {
            requested_on: date(order.requested_at, &time_zone),
            decided_on: order
                .decided_at
                .map(|d| date(d, &time_zone))
                .unwrap_or_default(),
            order,
        })
        .collect();
    render(OrdersPage {
        layout: area.layout("Licences", "/partner/licences"),
        tab,
        orders,
        filtered: filter.order.is_some()
            || filter.company.is_some()
            || filter.kind.is_some()
            || filter.from.is_some()
            || filter.until.is_some(),
        notice: query.notice().or_else(|| area.flash.clone()),
        headings: listing.headings(&HEADINGS),
        pager,
        filter: query,
        time_zone,
    })
}

/// ⋯ → Assign: the batch is created and the company's managers are emailed.
async fn assign(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
) -> PageResult {
    order_ops::assign(&state.ops, &area.caller, OrderId(id)).await?;
    let notice = format!(
        "Order {id} assigned: the licences are ready and the company's managers have been emailed."
    );
    area.redirect_with_notice(&state, "/partner/licences?tab=requested", &notice)
        .await
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    tab: String,
}

/// ⋯ → Cancel request on a waiting request (a customer's, or the partner's own): whoever was
/// told of it is emailed.
async fn cancel(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
    Form(form): Form<CancelForm>,
) -> PageResult {
    order_ops::cancel(&state.ops, &area.caller, OrderId(id)).await?;
    let tab = if form.tab == "mine" {
        "mine"
    } else {
        "requested"
    };
    let notice = format!("Order {id} cancelled: whoever was told of the request has been emailed.");
    area.redirect_with_notice(&state, &format!("/partner/licences?tab={tab}"), &notice)
        .await
}

#[derive(Template)]
#[template(path = "reject_form.html")]
pub(crate) struct RejectPage {
    layout: Layout,
    /// `/partner/orders` or `/operator/orders`.
    orders: &'static str,
    /// Where Cancel leads back to.
    back: &'static str,
    order: OrderId,
    reason: String,
    error: Option<String>,
}

/// The page of ⋯ → Reject for the orders `seller` decides, as sent with its error or empty.
pub(crate) async fn reject_page(
    state: &AppState,
    who: &SignedIn,
    seller: Seller,
    id: OrderId,
    form: Option<(&RejectForm, String)>,
) -> PageResult {
    orders::sold_by(&state.ops.db, seller, id).await?;
    let (orders, back) = match seller {
        Seller::Partner(_) => ("/partner/orders", "/partner/licences"),
        Seller::Operator => ("/operator/orders", "/operator/orders"),
    };
    let page = RejectPage {
        layout: who.layout("Reject order", back),
        orders,
        back,
        order: id,
        reason: form
            .as_ref()
            .map(|(f, _)| f.reason.clone())
            .unwrap_or_default(),
        error: form.map(|(_, e)| e),
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with(status, page)
}

async fn reject_form(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
) -> PageResult {
    // The form is the action: whoever may not take it does not get the form either.
    area.caller
        .partner_for(Action::AdministerCompanies, state.ops.now())?;
    let seller = Seller::Partner(area.partner);
    reject_page(&state, &area, seller, OrderId(id), None).await
}

#[derive(Deserialize)]
pub(crate) struct RejectForm {
    #[serde(default)]
    reason: String,
}

/// ⋯ → Reject with a reason emailed to the requester, as `who` (a partner's admin or the
/// operator): `Ok(None)` when it was rejected, else the form's errors.
pub(crate) async fn reject_order(
    state: &AppState,
    who: &SignedIn,
    id: OrderId,
    form: &RejectForm,
) -> Result<Option<String>, PageError> {
    let outcome = async {
        let mut fields = Fields::default();
        let reason = fields.take("reason", RejectReason::parse(&form.reason));
        let reason = fields.finish(|| reason)?;
        order_ops::reject(&state.ops, &who.caller, id, &reason).await
    };
    match outcome.await {
        Ok(()) => Ok(None),
        Err(e) => Ok(Some(form_errors(e, &[("reason", "Reason")])?.join(" "))),
    }
}

async fn reject(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
    Form(form): Form<RejectForm>,
) -> PageResult {
    let Some(error) = reject_order(&state, &area, OrderId(id), &form).await? else {
        let notice = format!("Order {id} rejected: the requester has been emailed the reason.");
        return area
            .redirect_with_notice(&state, "/partner/licences?tab=requested", &notice)
            .await;
    };
    let seller = Seller::Partner(area.partner);
    reject_page(&state, &area, seller, OrderId(id), Some((&form, error))).await
}
