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
use super::layout::{Badge, Layout, PageResult, render};
use super::{AppState, GET, PageError, Routes};
use crate::db::seats;
use crate::domain::CompanyStatus;
use crate::domain::access::{self, LicenceStatus};
use crate::domain::company::NEVER;
use crate::format::{count, date, plural};

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
    badge: Badge,
    managed: bool,
    internal: bool,
    /// Trial days left, or the licences held and when the next ones end.
    standing: String,
    /// "12 seats used, 8 free", or nothing on a trial (which has no seats to count).
    seats: Option<String>,
    waiting: Option<WaitingLine>,
    activity: Vec<(String, String, String)>,
    time_zone: String,
    chart: crate::web::charts::SeatChart,
}

struct WaitingLine {
    order: crate::domain::OrderId,
    quantity: String,
    kind: &'static str,
    requested_on: String,
}

/// How many entries the Overview's latest activity shows.
const LATEST_ACTIVITY: u32 = 5;

/// Whole days from `now` until `ends_at`, counting a part day as one.
fn days_left(now: jiff::Timestamp, ends_at: jiff::Timestamp) -> i64 {
    let secs = ends_at.as_second() - now.as_second();
    (secs + 86_399).div_euclid(86_400).max(0)
}

async fn home(State(state): State<Arc<AppState>>, area: CompanyArea) -> PageResult {
    let now = state.ops.now();
    let db = &state.ops.db;
    let company = &area.company;
    let counts = seats::totals(db.pool(), company.id(), now).await?;
    let status = company.facts.status(now);
    let tz = company.time_zone.as_str();
    let managing = area.managing();
    // In manage mode the partner reads about its customer, not as if it were the customer.
    let (your, you_hold) = if managing {
        ("Its", "It holds")
    } else {
        ("Your", "You hold")
    };
    let next_expiry = crate::db::licences::next_expiry(db, company, now).await?;
    let standing = match status {
        CompanyStatus::FreeTrial { ends_at } => format!(
            "Free trial: {} left, ending on {} ({tz}).",
            plural(days_left(now, ends_at), "day", "days"),
            date(ends_at, tz)
        ),
        CompanyStatus::Premium { until } if until == NEVER => {
            format!(
                "{you_hold} {}, which never expire.",
                plural(counts.total, "NFR seat", "NFR seats")
            )
        }
        CompanyStatus::Premium { until } => format!(
            "{you_hold} {}; the next end on {} ({tz}), the last on {}.",
            plural(counts.total, "licence", "licences"),
            date(next_expiry.unwrap_or(until), tz),
            date(until, tz)
        ),
        CompanyStatus::Expired { since } => {
            format!("{your} access ended on {} ({tz}).", date(since, tz))
        }
    };
    let seats = (!company.facts.on_trial(now)).then(|| {
        format!(
            "{} used, {} free.",
            plural(counts.allocated, "seat", "seats"),
            count(counts.free())
        )
    });
    let waiting = crate::db::orders::waiting(db.pool(), company.id())
        .await?
        .map(|o| WaitingLine {
            order: o.id,
            quantity: plural(o.quantity, "licence", "licences"),
            kind: o.kind.label(),
            requested_on: date(o.requested_at, tz),
        });
    let activity = crate::db::activity::latest_for(db, company, LATEST_ACTIVITY)
        .await?
        .into_iter()
        .map(|a| (date(a.at, tz), a.actor, a.detail))
        .collect();
    render(CompanyHomePage {
        layout: area.layout(&company.name, "/company"),
        company: company.name.clone(),
        badge: Badge::of(status, now, tz),
        managed: company.facts.managed(now),
        internal: company.internal,
        standing,
        seats,
        waiting,
        activity,
        time_zone: tz.to_owned(),
        chart: crate::web::charts::seat_chart(db, company, now).await?,
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
