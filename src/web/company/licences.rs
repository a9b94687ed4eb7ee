//! The company's Licenses section: the Available, Allocated, Expiring, Expired Licenses and
//! Orders tabs, and Allocate Licenses (ticked learners or Select All).

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;

use axum::routing::{get, post};
use serde::Deserialize;

use super::orders::{OrderLine, order_lines};
use crate::db::licences::{
    self, AllocatedSeat, AvailableBatch, ExpiredLearner, LearnerSort, LicenceCounts, SeatSort,
};
use crate::db::seats::SeatCounts;
use crate::db::{companies, orders};
use crate::domain::{CompanyStatus, OrderId, UserId};
use crate::format::date;
use crate::ops::seats::{self as seat_ops, Learners};
use crate::ops::{Error, FieldError};
use crate::web::areas::CompanyArea;
use crate::web::layout::{Layout, PageResult, render_with};
use crate::web::pager::{Heading, PageParams, Pager};
use crate::web::{AppState, GET, POST, Routes};

const PAGE: u32 = 50;

pub(super) fn routes(routes: Routes) -> Routes {
    routes.add("/company/licenses", GET, get(licences)).add(
        "/company/licenses/allocate",
        POST,
        post(allocate),
    )
}

#[derive(Template)]
#[template(path = "company_licences.html")]
struct LicencesPage {
    layout: Layout,
    tab: &'static str,
    counts: LicenceCounts,
    on_trial: bool,
    /// Not Premium (on a trial, or ended): Upgrade to Premium is offered.
    upgradable: bool,
    /// A partner's internal company: its NFR seats, shown apart.
    nfr: Option<SeatCounts>,
    requested: Option<OrderId>,
    notice: Option<String>,
    error: Option<String>,
    available: Vec<(AvailableBatch, String, String)>,
    seats: Vec<(AllocatedSeat, String)>,
    expired: Vec<(ExpiredLearner, String)>,
    orders: Vec<OrderLine>,
    /// The Allocated, Expiring and Expired Licenses tabs sort and go page by page.
    headings: Vec<Heading>,
    pager: Option<Pager>,
}

#[derive(Deserialize, Default)]
struct LicencesQuery {
    #[serde(default)]
    tab: String,
    requested: Option<i64>,
    #[serde(flatten)]
    page: PageParams,
}

const SEAT_HEADINGS: [(Option<SeatSort>, &str, bool); 3] = [
    (Some(SeatSort::Allocated), "Learner", false),
    (None, "Email", false),
    (None, "Expires", false),
];

const LEARNER_HEADINGS: [(Option<LearnerSort>, &str, bool); 4] = [
    (Some(LearnerSort::Name), "Learner", false),
    (None, "Email", false),
    (None, "Department", false),
    (None, "Licence", false),
];

impl LicencesQuery {
    fn tab(&self) -> &'static str {
        match self.tab.as_str() {
            "available" => "available",
            "allocated" => "allocated",
            "expiring" => "expiring",
            "expired" => "expired",
            _ => "orders",
        }
    }
}

/// Fills the list of the page's tab.
async fn fill_tab(
    state: &AppState,
    area: &CompanyArea,
    page: &mut LicencesPage,
    params: &PageParams,
) -> Result<(), Error> {
    let (db, company, now) = (&state.ops.db, &area.company, state.ops.now());
    let tz = company.time_zone.as_str();
    let tab = page.tab;
    let filters = vec![("tab", tab.to_owned())];
    match tab {
        "available" => {
            let batches = licences::available(db, company, now).await?;
            page.available = batches.into_iter().map(|b| dated_batch(b, tz)).collect();
        }
        "allocated" | "expiring" => {
            let expiring = tab == "expiring";
            let listing =
                params.listing("/company/licenses", (SeatSort::Allocated, false), filters);
            let list = licences::allocated(
                db,
                company,
                expiring,
                listing.descending,
                &listing.seek,
                PAGE,
                now,
            )
            .await?;
            let total = if expiring {
                page.counts.expiring
            } else {
                page.counts.allocated
            };
            page.headings = listing.headings(&SEAT_HEADINGS);
            page.pager = Some(listing.pager(&list, PAGE, total));
            page.seats = list.rows.into_iter().map(|s| dated_seat(s, tz)).collect();
        }
        "expired" => {
            let listing = params.listing("/company/licenses", (LearnerSort::Added, false), filters);
            let sort = (listing.sort, listing.descending);
            let list = licences::expired(db, company, sort, &listing.seek, PAGE, now).await?;
            page.headings = listing.headings(&LEARNER_HEADINGS);
            page.pager = Some(listing.pager(&list, PAGE, page.counts.expired));
            page.expired = list
                .rows
                .into_iter()
                .map(|l| dated_learner(l, tz))
                .collect();
        }
        _ => {
            let list = orders::for_company(db, company, None, None, PAGE).await?;
            page.orders = order_lines(list.items, tz);
        }
    }
    Ok(())
}

fn dated_batch(b: AvailableBatch, tz: &str) -> (AvailableBatch, String, String) {
    let (assigned, expires) = (date(b.assigned_at, tz), date(b.expires_at, tz));
    (b, assigned, expires)
}

fn dated_seat(s: AllocatedSeat, tz: &str) -> (AllocatedSeat, String) {
    let expires = date(s.expires_at, tz);
    (s, expires)
}

fn dated_learner(l: ExpiredLearner, tz: &str) -> (ExpiredLearner, String) {
    let ended = crate::format::licence(l.licence, tz);
    (l, ended)
}

/// Renders a tab of the Licenses section, optionally with an error (status 409).
async fn licences_page(
    state: &AppState,
    area: &CompanyArea,
    query: LicencesQuery,
    error: Option<String>,
) -> PageResult {
    let (now, company) = (state.ops.now(), &area.company);
    let nfr = if company.internal {
        Some(
            companies::internal(&state.ops.db, company.partner, now)
                .await?
                .nfr,
        )
    } else {
        None
    };
    let mut page = LicencesPage {
        layout: area.layout("Licenses", "/company/licenses"),
        tab: query.tab(),
        counts: licences::counts(&state.ops.db, company, now).await?,
        on_trial: company.facts.on_trial(now),
        upgradable: !matches!(company.facts.status(now), CompanyStatus::Premium { .. }),
        nfr,
        requested: query.requested.map(OrderId),
        notice: area.flash.clone(),
        error,
        available: Vec::new(),
        seats: Vec::new(),
        expired: Vec::new(),
        orders: Vec::new(),
        headings: Vec::new(),
        pager: None,
    };
    fill_tab(state, area, &mut page, &query.page).await?;
    let status = if page.error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    render_with(status, page)
}

async fn licences(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Query(query): Query<LicencesQuery>,
) -> PageResult {
    licences_page(&state, &area, query, None).await
}

/// The learners of an Allocate Licenses form: the ticked `user` fields, or `all`.
fn learners(body: &[u8]) -> Result<Learners, Error> {
    let mut ticked = Vec::new();
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "all" if value == "true" => return Ok(Learners::AllWithoutLicence),
            "user" => ticked.push(UserId(value.parse().map_err(|_| Error::NotFound)?)),
            _ => {}
        }
    }
    Ok(Learners::These(ticked))
}

/// Allocate Licenses: the ticked learners, or with Select All every expired learner of the
/// company. More learners than free seats allocates nothing and says both numbers.
async fn allocate(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    body: Bytes,
) -> PageResult {
    let outcome = match learners(&body) {
        Ok(learners) => seat_ops::allocate(&state.ops, &area.caller, &area.company, learners).await,
        Err(e) => Err(e),
    };
    let error = match outcome {
        Ok(n) => {
            let notice = format!("Licences allocated to {n} learners. They can sign in now.");
            return area
                .redirect_with_notice(&state, "/company/licenses?tab=expired", &notice)
                .await;
        }
        Err(Error::Invalid(errors)) if is_nobody(&errors) => {
            "Tick the learners to allocate licences to, or Select All.".to_owned()
        }
        Err(Error::NoFreeSeats(e)) => format!("Nothing was allocated: {e}."),
        Err(Error::Busy) => {
            "Nothing was allocated: too many people are allocating seats at once; try again."
                .to_owned()
        }
        Err(e) => return Err(e.into()),
    };
    let expired_tab = LicencesQuery {
        tab: "expired".into(),
        ..LicencesQuery::default()
    };
    licences_page(&state, &area, expired_tab, Some(error)).await
}

fn is_nobody(errors: &[FieldError]) -> bool {
    errors.iter().any(|e| e.field == "learners")
}
