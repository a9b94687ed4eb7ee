//! Requesting licences: Request License on the landing page, Licenses → Orders → Request
//! Licenses, and Upgrade to Premium → Got It on a trial. The landing page itself lives here too.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde::Deserialize;

use crate::db::orders::{self, OrderRow};
use crate::db::sessions;
use crate::domain::access::Landing;
use crate::domain::{CompanyStatus, InvalidValue, OrderId, OrderKind, OrderState, SeatCount};
use crate::format::date;
use crate::ops::orders::{self as order_ops, LicenceRequest};
use crate::ops::{Error, Fields};
use crate::web::areas::{Area, CompanyArea, LandingArea, OrderingArea};
use crate::web::error::form_errors;
use crate::web::layout::{Layout, PageResult, render, render_with};
use crate::web::{AppState, BOTH, GET, PageError, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/company/upgrade", GET, get(upgrade))
        .add("/company/orders/new", GET, get(order_form))
        .add(
            "/company/orders",
            BOTH,
            get(order_form).post(request_licences),
        )
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
    ended_on: String,
    pending: Vec<OrderLine>,
    requested: Option<OrderId>,
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
        ended_on: date(ended_on, &company.time_zone),
        pending: order_lines(pending.items, &company.time_zone),
        requested: query.requested.map(OrderId),
    })
}

#[derive(Template)]
#[template(path = "order_form.html")]
struct OrderFormPage {
    layout: Layout,
    upgrade: bool,
    heading: &'static str,
    back: &'static str,
    request_key: String,
    quantity: String,
    kind: OrderKind,
    error: Option<String>,
}

impl OrderFormPage {
    /// The form, empty (`form` None) or as sent with its error.
    fn new(area: &OrderingArea, form: Option<&OrderForm>, error: Option<String>) -> Self {
        let upgrade = form.is_some_and(|f| f.upgrade);
        let (heading, back) = match area.area() {
            Area::Landing => ("Request License", "/landing"),
            _ if upgrade => ("Upgrade to Premium", "/company/licenses"),
            _ => ("Request Licenses", "/company/licenses"),
        };
        let request_key = form
            .map(|f| f.request_key.clone())
            .filter(|k| !k.is_empty())
            .unwrap_or_else(sessions::new_token);
        Self {
            layout: area.layout(heading, back),
            upgrade,
            heading,
            back,
            request_key,
            quantity: form.map(|f| f.quantity.clone()).unwrap_or_default(),
            kind: form
                .and_then(|f| f.kind.parse().ok())
                .unwrap_or(OrderKind::Premium),
            error,
        }
    }
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

async fn order_form(area: OrderingArea, Query(query): Query<OrderForm>) -> PageResult {
    let form = OrderForm {
        upgrade: query.upgrade,
        ..OrderForm::default()
    };
    render(OrderFormPage::new(&area, Some(&form), None))
}

const ORDER_LABELS: &[(&str, &str)] = &[
    ("quantity", "Number of licences"),
    ("kind", "Type"),
    ("request_key", "Form"),
];

/// Save on the Request License form: one `requested` order per form, however often it is sent.
async fn request_licences(
    State(state): State<Arc<AppState>>,
    area: OrderingArea,
    Form(form): Form<OrderForm>,
) -> PageResult {
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
            let back = if area.area() == Area::Landing {
                "/landing"
            } else {
                "/company/licenses"
            };
            let to = format!("{back}?requested={}", requested.order);
            return Ok(Redirect::to(&to).into_response());
        }
        Err(e) => form_errors(e, ORDER_LABELS)?,
    };
    let page = OrderFormPage::new(&area, Some(&form), Some(errors.join(" ")));
    render_with(StatusCode::UNPROCESSABLE_ENTITY, page)
}

#[derive(Template)]
#[template(path = "upgrade.html")]
struct UpgradePage {
    layout: Layout,
    company: String,
    trial_ends: String,
}

/// Upgrade to Premium: what happens when licences are assigned, then Got It.
async fn upgrade(State(state): State<Arc<AppState>>, area: CompanyArea) -> PageResult {
    let company = &area.company;
    let CompanyStatus::FreeTrial { ends_at } = company.facts.status(state.ops.now()) else {
        return Err(PageError::Redirect("/company/licenses".into()));
    };
    render(UpgradePage {
        layout: area.layout("Upgrade to Premium", "/company/licenses"),
        company: company.name.clone(),
        trial_ends: date(ends_at, &company.time_zone),
    })
}
