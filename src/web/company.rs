//! The company's own dashboard (for its managers, and for partner users in manage mode), the
//! landing page of a company without access, and the learner's page.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::layout::{Layout, PageResult, render};
use super::session::{Area, CsrfToken, SignedIn};
use super::{AppState, PageError};
use crate::db::orders::{self, LicenceRequest, OrderRow};
use crate::db::seats;
use crate::db::sessions;
use crate::db::users::CompanyOfUser;
use crate::domain::access::{self, Landing};
use crate::domain::{CompanyStatus, OrderId, OrderKind, OrderState, SeatCount};
use crate::format::date;

#[derive(Template)]
#[template(path = "company_home.html")]
struct CompanyHomePage {
    layout: Layout,
    company: String,
    status: &'static str,
    until: String,
    seats_allocated: i64,
    seats_total: i64,
}

pub(super) async fn company_home(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.company()?;
    let now = state.clock.now();
    let counts = seats::counts(&state.db, &who.scope(), company.id, now).await?;
    let status = company.facts.status(now);
    let until = match status {
        CompanyStatus::FreeTrial { ends_at } => format!(
            "Your free trial ends on {}.",
            date(ends_at, &company.time_zone)
        ),
        CompanyStatus::Premium { until } => format!(
            "Your licences are valid until {}.",
            date(until, &company.time_zone)
        ),
        CompanyStatus::Expired { since } => {
            format!("Your access ended on {}.", date(since, &company.time_zone))
        }
    };
    render(CompanyHomePage {
        layout: Layout::signed_in(&company.name, &csrf, &who, "/company"),
        company: company.name.clone(),
        status: status.label(),
        until,
        seats_allocated: counts.allocated,
        seats_total: counts.total,
    })
}

#[derive(Template)]
#[template(path = "learner_home.html")]
struct LearnerHomePage {
    layout: Layout,
    company: String,
    until: String,
}

pub(super) async fn learner_home(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
) -> PageResult {
    who.enter(Area::Learner)?;
    let company = who.company()?;
    let until = match access::licence_status(&who.user.facts, &company.facts, state.clock.now()) {
        access::LicenceStatus::Active { until, .. } => date(until, &company.time_zone),
        _ => return Err(PageError::Redirect("/sign-in".into())),
    };
    render(LearnerHomePage {
        layout: Layout::signed_in("My licence", &csrf, &who, "/learner"),
        company: company.name.clone(),
        until,
    })
}

/// The company of a signed-in company user who may order licences: a manager with the dashboard
/// or on the landing page.
fn ordering_company(who: &SignedIn) -> Result<&CompanyOfUser, PageError> {
    let area = Area::of(who.landing);
    if area != Area::Company && area != Area::Landing {
        return Err(PageError::Redirect(area.home().to_owned()));
    }
    who.company()
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
pub(super) struct RequestedQuery {
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
pub(super) async fn landing(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<RequestedQuery>,
) -> PageResult {
    who.enter(Area::Landing)?;
    let Landing::LandingPage { ended_on } = who.landing else {
        return Err(PageError::NotFound);
    };
    let company = who.company()?;
    let pending = orders::for_company(
        &state.db,
        &who.scope(),
        company.id,
        Some(OrderState::Requested),
        None,
        20,
    )
    .await?;
    render(LandingPage {
        layout: Layout::signed_in("Your access has ended", &csrf, &who, "/landing"),
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

/// What the Request License form holds: empty, or as sent when it was refused.
struct Draft {
    upgrade: bool,
    request_key: String,
    quantity: String,
    kind: OrderKind,
    error: Option<String>,
}

impl OrderFormPage {
    fn new(who: &SignedIn, csrf: &CsrfToken, draft: Draft) -> Self {
        let (heading, back) = match Area::of(who.landing) {
            Area::Landing => ("Request License", "/landing"),
            _ if draft.upgrade => ("Upgrade to Premium", "/company/licenses"),
            _ => ("Request Licenses", "/company/licenses"),
        };
        Self {
            layout: Layout::signed_in(heading, csrf, who, back),
            upgrade: draft.upgrade,
            heading,
            back,
            request_key: draft.request_key,
            quantity: draft.quantity,
            kind: draft.kind,
            error: draft.error,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct OrderFormQuery {
    #[serde(default)]
    upgrade: bool,
}

pub(super) async fn order_form(
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<OrderFormQuery>,
) -> PageResult {
    ordering_company(&who)?;
    render(OrderFormPage::new(
        &who,
        &csrf,
        Draft {
            upgrade: query.upgrade,
            request_key: sessions::new_token(),
            quantity: String::new(),
            kind: OrderKind::Premium,
            error: None,
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct OrderForm {
    #[serde(default)]
    upgrade: bool,
    request_key: String,
    quantity: String,
    kind: String,
}

/// Save on the Request License form: one `requested` order per form, however often it is sent.
pub(super) async fn request_licences(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Form(form): Form<OrderForm>,
) -> PageResult {
    let company = ordering_company(&who)?;
    let kind = form.kind.parse::<OrderKind>();
    let quantity = SeatCount::parse(&form.quantity);
    let (quantity, kind) = match (quantity, &kind) {
        (Ok(quantity), Ok(kind)) if !form.request_key.is_empty() => (quantity, *kind),
        (quantity, _) => {
            let error = match (quantity, &kind) {
                (Err(e), _) => format!("Number of licences: {e}."),
                (_, Err(e)) => format!("Type: {e}."),
                _ => "This form is incomplete. Reload the page and try again.".to_owned(),
            };
            let page = OrderFormPage::new(
                &who,
                &csrf,
                Draft {
                    upgrade: form.upgrade,
                    request_key: if form.request_key.is_empty() {
                        sessions::new_token()
                    } else {
                        form.request_key.clone()
                    },
                    quantity: form.quantity.clone(),
                    kind: kind.clone().unwrap_or(OrderKind::Premium),
                    error: Some(error),
                },
            );
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
        }
    };
    let (order, _) = orders::request(
        &state.db,
        &who.scope(),
        &LicenceRequest {
            company: company.id,
            kind,
            quantity,
            actor: who.actor(),
            request_key: &form.request_key,
        },
        &state.config.public_url,
        state.clock.now(),
    )
    .await?;
    let back = match Area::of(who.landing) {
        Area::Landing => "/landing",
        _ => "/company/licenses",
    };
    Ok(Redirect::to(&format!("{back}?requested={order}")).into_response())
}

#[derive(Template)]
#[template(path = "upgrade.html")]
struct UpgradePage {
    layout: Layout,
    company: String,
    trial_ends: String,
}

/// Upgrade to Premium: what happens when licences are assigned, then Got It.
pub(super) async fn upgrade(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.company()?;
    let CompanyStatus::FreeTrial { ends_at } = company.facts.status(state.clock.now()) else {
        return Err(PageError::Redirect("/company/licenses".into()));
    };
    render(UpgradePage {
        layout: Layout::signed_in("Upgrade to Premium", &csrf, &who, "/company/licenses"),
        company: company.name.clone(),
        trial_ends: date(ends_at, &company.time_zone),
    })
}
