//! The company's own dashboard (for its managers, and for partner users in manage mode): Overview,
//! Users, Licenses with its orders and renewals; the landing page of a company without access;
//! and the learner's page.

mod import;
mod licences;
mod orders;
mod renewal;
mod uploads;
mod users;

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::routing::get;

use super::areas::{CompanyArea, LearnerArea};
use super::layout::{Layout, PageResult, render};
use super::{AppState, GET, PageError, Routes};
use crate::db::seats;
use crate::domain::CompanyStatus;
use crate::domain::access::{self, LicenceStatus};
use crate::domain::company::NEVER;
use crate::format::date;

pub(super) fn routes(routes: Routes) -> Routes {
    let routes = routes
        .add("/company", GET, get(home))
        .add("/learner", GET, get(learner_home));
    let routes = users::routes(routes);
    let routes = licences::routes(routes);
    let routes = renewal::routes(routes);
    orders::routes(routes)
}

#[derive(Template)]
#[template(path = "company_home.html")]
struct CompanyHomePage {
    layout: Layout,
    company: String,
    status: &'static str,
    managed: bool,
    internal: bool,
    until: String,
    seats_allocated: i64,
    seats_total: i64,
}

async fn home(State(state): State<Arc<AppState>>, area: CompanyArea) -> PageResult {
    let now = state.ops.now();
    let company = &area.company;
    let counts = seats::totals(state.ops.db.pool(), company.id(), now).await?;
    let status = company.facts.status(now);
    let tz = company.time_zone.as_str();
    let until = match status {
        CompanyStatus::FreeTrial { ends_at } => {
            format!("Your free trial ends on {}.", date(ends_at, tz))
        }
        CompanyStatus::Premium { until } if until == NEVER => {
            "Your NFR seats never expire.".to_owned()
        }
        CompanyStatus::Premium { until } => {
            format!("Your licences are valid until {}.", date(until, tz))
        }
        CompanyStatus::Expired { since } => format!("Your access ended on {}.", date(since, tz)),
    };
    render(CompanyHomePage {
        layout: area.layout(&company.name, "/company"),
        company: company.name.clone(),
        status: status.label(),
        managed: company.facts.managed(now),
        internal: company.internal,
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

async fn learner_home(State(state): State<Arc<AppState>>, area: LearnerArea) -> PageResult {
    let company = &area.company;
    let status = access::licence_status(&area.user.facts, &company.facts, state.ops.now());
    let LicenceStatus::Active { until, .. } = status else {
        return Err(PageError::Redirect("/sign-in".into()));
    };
    render(LearnerHomePage {
        layout: area.layout("My licence", "/learner"),
        company: company.name.clone(),
        until: date(until, &company.time_zone),
    })
}
