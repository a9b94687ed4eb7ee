//! Requesting licences: Request License on the landing page, Licenses → Orders → Request
//! Licenses, and Upgrade to Premium → Got It (on a trial, or after it ended); the waiting request
//! with Change quantity and Cancel request. The landing page itself lives here too.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::db::orders::{self, OrderRow};
use crate::domain::access::Landing;
use crate::domain::{
    Action, CompanyStatus, InvalidValue, OrderId, OrderKind, OrderState, SeatCount,
};
use crate::format::date;
use crate::ops::orders::{self as order_ops, LicenceRequest};
use crate::ops::{Conflict, Error, Fields};
use crate::web::areas::{Area, LandingArea, OrderingArea};
use crate::web::error::form_errors;
use crate::web::layout::{Layout, PageResult, render};
use crate::web::requests::{self, RequestPlace, Sent, waiting_page};
use crate::web::{AppState, BOTH, GET, POST, PageError, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/company/upgrade", GET, get(upgrade))
        .add("/company/orders/new", GET, get(order_form))
        .add(
            "/company/orders",
            BOTH,
            get(order_form).post(request_licences),
        )
        .add("/company/orders/{id}/quantity", POST, post(change_quantity))
        .add("/company/orders/{id}/cancel", POST, post(cancel))
        .add("/landing", GET, get(landing))
}

/// An order as listed, with its date in the company's time zone.
pub(super) struct OrderLine {
    pub(super) order: OrderRow,
    pub(super) requested_on: String,
}

pub(super) fn order_lines(orders: Vec<OrderRow>, time_zone: &str) -> Vec<OrderLine> {
    orders
        .into_iter()
        .map(|order| OrderLine {
            requested_on: date(order.requested_at, time_zone),
            order,
        })
        .collect()
}

#[derive(Deserialize)]
struct RequestedQuery {
    requested: Option<i64>,
}

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    layout: Layout,
    company: String,
    /// "free trial" or "licences": what ended.
    what_ended: &'static str,
    ended_on: String,
    pending: Vec<OrderLine>,
    requested: Option<OrderId>,
    notice: Option<String>,
}

/// What the landing page or the Licenses section says after a waiting request changed.
pub(super) fn changed_notice(id: OrderId) -> String {
    format!("Order {id} changed: your account manager has been told.")
}

/// What the landing page or the Licenses section says after a waiting request was cancelled.
pub(super) fn cancelled_notice(id: OrderId) -> String {
    format!("Order {id} cancelled: your account manager has been told.")
}

/// Where a manager of a company without an active trial or batch lands.
async fn landing(
    State(state): State<Arc<AppState>>,
    area: LandingArea,
    Query(query): Query<RequestedQuery>,
) -> PageResult {
    let Landing::LandingPage { ended_on } = area.landing else {
        return Err(PageError::Op(Error::NotFound));
    };
    let company = &area.company;
    let waiting = Some(OrderState::Requested);
    let pending = orders::for_company(&state.ops.db, company, waiting, None, 20).await?;
    render(LandingPage {
        layout: area.layout("Your access has ended", "/landing"),
        company: company.name.clone(),
        what_ended: if company.facts.licensed_until.is_some() {
            "licences"
        } else {
            "free trial"
        },
        ended_on: format!(
            "{} ({})",
            date(ended_on, &company.time_zone),
            company.time_zone
        ),
        pending: order_lines(pending.items, &company.time_zone),
        requested: query.requested.map(OrderId),
        notice: area.flash.clone(),
    })
}

/// Where this caller's requests post and lead back to.
fn place(area: &OrderingArea) -> RequestPlace {
    RequestPlace {
        orders: "/company/orders",
        back: if area.area() == Area::Landing {
            "/landing"
        } else {
            "/company/licenses"
        },
        // A partner's internal company: its own licences, asked of the partner above.
        own: area.company.internal,
    }
}

fn heading(area: &OrderingArea, upgrade: bool) -> (&'static str, bool) {
    match area.area() {
        Area::Landing if !upgrade => ("Request License", false),
        _ if upgrade => ("Upgrade to Premium", true),
        _ => ("Request Licenses", false),
    }
}

/// Refuses a manager of a Managed company: their partner asks for licences.
fn require_run(state: &AppState, area: &OrderingArea) -> Result<(), PageError> {
    let now = state.ops.now();
    Ok(area
        .caller
        .require(Action::RunCompany, Some(&area.company), now)?)
}

#[derive(Deserialize, Default)]
struct OrderForm {
    #[serde(default)]
    upgrade: bool,
    #[serde(default)]
    request_key: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    kind: String,
}

/// The request form; while a request waits, that request instead (change or cancel it).
async fn order_form(
    State(state): State<Arc<AppState>>,
    area: OrderingArea,
    Query(query): Query<OrderForm>,
) -> PageResult {
    require_run(&state, &area)?;
    let company = &area.company;
    if let Some(waiting) = orders::waiting(state.ops.db.pool(), company.id()).await? {
        return waiting_page(&area, place(&area), waiting, &company.time_zone, None);
    }
    order_form_page(&area, heading(&area, query.upgrade), None, None)
}

fn order_form_page(
    area: &OrderingArea,
    heading: (&'static str, bool),
    form: Option<&OrderForm>,
    error: Option<String>,
) -> PageResult {
    let sent = form.map(|f| Sent {
        request_key: &f.request_key,
        quantity: &f.quantity,
        kind: &f.kind,
    });
    requests::order_form(area, place(area), heading, sent, error)
}

const ORDER_LABELS: &[(&str, &str)] = &[
    ("quantity", "Number of licences"),
    ("kind", "Type"),
    ("request_key", "Form"),
];

/// Save on the Request License form: one `requested` order per form, however often it is sent.
/// A request already waiting is shown instead.
async fn request_licences(
    State(state): State<Arc<AppState>>,
    area: OrderingArea,
    Form(form): Form<OrderForm>,
) -> PageResult {
    // Rights before the form: a manager of a Managed company hears why, not what to fix.
    let now = state.ops.now();
    area.caller
        .require(Action::RunCompany, Some(&area.company), now)?;
    let outcome = async {
        let mut fields = Fields::default();
        let quantity = fields.take("quantity", SeatCount::parse(&form.quantity));
        let kind = fields.take("kind", form.kind.parse::<OrderKind>());
        if form.request_key.is_empty() {
            fields.refuse("request_key", InvalidValue::Required);
        }
        let (quantity, kind) = fields.finish(|| Some((quantity?, kind?)))?;
        let key = &form.request_key;
        let request = LicenceRequest {
            kind,
            quantity,
            request_key: key,
        };
        order_ops::request(&state.ops, &area.caller, &area.company, &request).await
    };
    let errors = match outcome.await {
        Ok(requested) => {
            let to = format!("{}?requested={}", place(&area).back, requested.order);
            return Ok(Redirect::to(&to).into_response());
        }
        Err(Error::Conflict(Conflict::RequestWaiting(_))) => {
            return Ok(Redirect::to("/company/orders/new").into_response());
        }
        Err(e) => form_errors(e, ORDER_LABELS)?,
    };
    let heading = heading(&area, form.upgrade);
    order_form_page(&area, heading, Some(&form), Some(errors.join(" ")))
}

#[derive(Deserialize)]
struct QuantityForm {
    #[serde(default)]
    quantity: String,
}

/// Change quantity on the waiting request.
async fn change_quantity(
    State(state): State<Arc<AppState>>,
    area: OrderingArea,
    Path(id): Path<i64>,
    Form(form): Form<QuantityForm>,
) -> PageResult {
    let (company, id) = (&area.company, OrderId(id));
    area.caller
        .require(Action::RunCompany, Some(company), state.ops.now())?;
    let outcome = async {
        let mut fields = Fields::default();
        let quantity = fields.take("quantity", SeatCount::parse(&form.quantity));
        let quantity = fields.finish(|| quantity)?;
        order_ops::change_quantity(&state.ops, &area.caller, company, id, quantity).await
    };
    let error = match outcome.await {
        Ok(()) => {
            let back = place(&area).back;
            return area
                .redirect_with_notice(&state, back, &changed_notice(id))
                .await;
        }
        Err(e) => form_errors(e, ORDER_LABELS)?.join(" "),
    };
    let waiting = orders::waiting(state.ops.db.pool(), company.id()).await?;
    let waiting = waiting.filter(|o| o.id == id).ok_or(Error::NotFound)?;
    let refused = Some((form.quantity.as_str(), error));
    waiting_page(&area, place(&area), waiting, &company.time_zone, refused)
}

/// Cancel request on the waiting request: the account manager is told.
async fn cancel(
    State(state): State<Arc<AppState>>,
    area: OrderingArea,
    Path(id): Path<i64>,
) -> PageResult {
    let id = OrderId(id);
    order_ops::cancel(&state.ops, &area.caller, id).await?;
    let back = place(&area).back;
    area.redirect_with_notice(&state, back, &cancelled_notice(id))
        .await
}

#[derive(Template)]
#[template(path = "upgrade.html")]
struct UpgradePage {
    layout: Layout,
    company: String,
    on_trial: bool,
    date: String,
    back: &'static str,
}

/// Upgrade to Premium: what happens when licences are assigned, then Got It. On a trial, and
/// after a trial or licences ended.
async fn upgrade(State(state): State<Arc<AppState>>, area: OrderingArea) -> PageResult {
    require_run(&state, &area)?;
    let company = &area.company;
    let status = company.facts.status(state.ops.now());
    let at = match status {
        CompanyStatus::FreeTrial { ends_at } => ends_at,
        CompanyStatus::Expired { since } => since,
        CompanyStatus::Premium { .. } => {
            return Err(PageError::Redirect("/company/licenses".into()));
        }
    };
    let back = place(&area).back;
    render(UpgradePage {
        layout: area.layout("Upgrade to Premium", back),
        company: company.name.clone(),
        on_trial: matches!(status, CompanyStatus::FreeTrial { .. }),
        date: date(at, &company.time_zone),
        back,
    })
}
