//! Licences → Overview: every customer company beneath the partner with its seats, sortable by
//! any column, filtered by status and account manager, a page at a time, with a totals row, the
//! seats expiring per month as a chart, and the same rows as a CSV download.

use std::sync::Arc;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use jiff::Timestamp;
use serde::Deserialize;

use super::PAGE;
use crate::db::keyset::Seek;
use crate::db::overview::{
    self, OverviewFilter, OverviewQuery, OverviewRow, OverviewSort, OverviewStatus, OverviewTotals,
};
use crate::db::{Scope, partners};
use crate::domain::UserId;
use crate::format::{count, date};
use crate::imports::export::CsvReport;
use crate::web::areas::PartnerArea;
use crate::web::layout::{Badge, Layout, PageResult, render};
use crate::web::pager::{Heading, Listing, PageParams, Pager};
use crate::web::{AppState, GET, PageError, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/partner/licences/overview", GET, get(page))
        .add("/partner/licences/overview.csv", GET, get(export))
}

/// The overview's query string: filter, sort and where the page starts.
#[derive(Deserialize, Default, Clone)]
pub(super) struct OverviewParams {
    #[serde(default)]
    status: String,
    #[serde(default)]
    manager: String,
    #[serde(flatten)]
    page: PageParams,
}

const PATH: &str = "/partner/licences/overview";

impl OverviewParams {
    fn listing(&self) -> Listing<OverviewSort> {
        let filters = vec![
            ("status", self.status.clone()),
            ("manager", self.manager.clone()),
        ];
        self.page
            .listing(PATH, (OverviewSort::default(), false), filters)
    }

    fn query(&self, listing: &Listing<OverviewSort>) -> OverviewQuery {
        OverviewQuery {
            filter: OverviewFilter {
                status: OverviewStatus::parse(&self.status),
                account_manager: self.manager.trim().parse().ok().map(UserId),
            },
            sort: listing.sort,
            descending: listing.descending,
        }
    }
}

/// An option of a filter's select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

struct Line {
    row: OverviewRow,
    badge: Badge,
    next_expiry: String,
}

#[derive(Template)]
#[template(path = "partner_overview.html")]
struct OverviewPage {
    layout: Layout,
    headings: Vec<Heading>,
    lines: Vec<Line>,
    totals: OverviewTotals,
    totals_next_expiry: String,
    pager: Pager,
    status: String,
    manager: String,
    statuses: Vec<Choice>,
    managers: Vec<Choice>,
    csv: String,
    time_zone: String,
    chart: crate::web::charts::ExpiryChart,
}

const HEADINGS: [(Option<OverviewSort>, &str, bool); 9] = [
    (Some(OverviewSort::Name), "Company", false),
    (Some(OverviewSort::Status), "Status", false),
    (Some(OverviewSort::Total), "Seats total", true),
    (Some(OverviewSort::Allocated), "Allocated", true),
    (Some(OverviewSort::Available), "Available", true),
    (
        Some(OverviewSort::Expiring),
        "Expiring within 30 days",
        true,
    ),
    (
        Some(OverviewSort::ExpiredLearners),
        "Expired learners",
        true,
    ),
    (Some(OverviewSort::NextExpiry), "Next expiry", false),
    (Some(OverviewSort::AccountManager), "Account manager", false),
];

/// Licences → Overview.
async fn page(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Query(params): Query<OverviewParams>,
) -> PageResult {
    let listing = params.listing();
    let query = params.query(&listing);
    let (scope, now) = (area.caller.scope(), state.ops.now());
    let db = &state.ops.db;
    let page = overview::page(db, &scope, &query, &listing.seek, PAGE, now).await?;
    let totals = overview::totals(db, &scope, &query.filter, now).await?;
    let time_zone = partners::time_zone(db, area.partner).await?;
    let pager = listing.pager(&page, PAGE, totals.companies);
    let lines = page
        .rows
        .into_iter()
        .map(|row| Line {
            badge: Badge::of(row.status, now, &time_zone),
            next_expiry: row
                .next_expiry
                .map(|at| date(at, &time_zone))
                .unwrap_or_else(|| "—".into()),
            row,
        })
        .collect();
    let chart = crate::web::charts::expiry_chart(db, &scope, now, &time_zone).await?;
    render(OverviewPage {
        layout: area.layout("Licences", "/partner/licences"),
        headings: listing.headings(&HEADINGS),
        lines,
        totals_next_expiry: totals
            .next_expiry
            .map(|at| date(at, &time_zone))
            .unwrap_or_else(|| "—".into()),
        pager,
        totals,
        status: params.status.clone(),
        manager: params.manager.clone(),
        statuses: OverviewStatus::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_owned(),
                label: s.label().to_owned(),
                selected: params.status == s.as_str(),
            })
            .collect(),
        managers: partners::users(db, area.partner)
            .await?
            .into_iter()
            .map(|(id, name)| Choice {
                selected: params.manager.trim() == id.to_string(),
                value: id.to_string(),
                label: name,
            })
            .collect(),
        csv: listing.link_to(
            "/partner/licences/overview.csv",
            query.sort,
            query.descending,
            &[],
        ),
        time_zone,
        chart,
    })
}

/// How many overview downloads run at once on this server: each reads every company of a
/// partner, so more wait for a moment (503 with Retry-After) rather than pile up.
pub(in crate::web) const EXPORTS_AT_ONCE: usize = 2;

/// Rows read per query of a download.
const EXPORT_CHUNK: u32 = 500;

/// Licences → Overview → Download CSV: every row the filter keeps, in the page's order, read a
/// chunk at a time and sent as it is read, with the totals last. Cells are spreadsheet-safe.
async fn export(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Query(params): Query<OverviewParams>,
) -> Result<axum::response::Response, PageError> {
    let permit = state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| PageError::Op(crate::ops::Error::Busy))?;
    let query = params.query(&params.listing());
    let scope = area.caller.scope();
    let now = state.ops.now();
    let db = state.ops.db.clone();
    let time_zone = partners::time_zone(&db, area.partner).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, crate::db::DbError>>(2);
    tokio::spawn(async move {
        let _permit = permit;
        let mut report = CsvReport::new();
        report.record([
            "Company",
            "Partner",
            "Status",
            "Managed",
            "Seats total",
            "Allocated",
            "Available",
            "Expiring within 30 days",
            "Expired learners",
            &format!("Next expiry ({time_zone})"),
            "Account manager",
        ]);
        if sender
            .send(Ok(Bytes::from(report.into_bytes())))
            .await
            .is_err()
        {
            return;
        }
        let mut seek = Seek::First;
        loop {
            let page = match overview::page(&db, &scope, &query, &seek, EXPORT_CHUNK, now).await {
                Ok(page) => page,
                Err(e) => {
                    let _ = sender.send(Err(e)).await;
                    return;
                }
            };
            let mut report = CsvReport::new();
            for row in &page.rows {
                csv_row(&mut report, row, &time_zone);
            }
            if sender
                .send(Ok(Bytes::from(report.into_bytes())))
                .await
                .is_err()
            {
                return;
            }
            match page.next {
                Some(cursor) => seek = Seek::After(cursor),
                None => break,
            }
        }
        let totals = match overview::totals(&db, &scope, &query.filter, now).await {
            Ok(t) => t,
            Err(e) => {
                let _ = sender.send(Err(e)).await;
                return;
            }
        };
        let mut report = CsvReport::new();
        let seats = totals.seats;
        report.record([
            &format!("Total ({})", count(totals.companies)) as &str,
            "",
            "",
            "",
            &seats.total.to_string(),
            &seats.allocated.to_string(),
            &seats.available().to_string(),
            &seats.expiring.to_string(),
            &seats.expired_learners.to_string(),
            &totals
                .next_expiry
                .map(|at| date(at, &time_zone))
                .unwrap_or_default(),
            "",
        ]);
        let _ = sender.send(Ok(Bytes::from(report.into_bytes()))).await;
    });
    let body = Body::from_stream(futures_util::stream::unfold(receiver, |mut r| async move {
        r.recv().await.map(|chunk| (chunk, r))
    }));
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"licence-overview.csv\"",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ];
    Ok((headers, body).into_response())
}

fn csv_row(report: &mut CsvReport, row: &OverviewRow, time_zone: &str) {
    let seats = row.seats;
    report.record([
        row.name.as_str(),
        &row.partner_name,
        row.status.label(),
        if row.managed { "yes" } else { "no" },
        &seats.total.to_string(),
        &seats.allocated.to_string(),
        &seats.available().to_string(),
        &seats.expiring.to_string(),
        &seats.expired_learners.to_string(),
        &row.next_expiry
            .map(|at| date(at, time_zone))
            .unwrap_or_default(),
        row.account_manager.as_deref().unwrap_or(""),
    ]);
}

/// The Admin Dashboard's counts, each a link to the list it counts.
pub(super) struct DashboardLink {
    pub label: String,
    pub href: &'static str,
    pub id: &'static str,
}

pub(super) async fn dashboard_links(
    state: &AppState,
    scope: &Scope,
    partner: crate::domain::PartnerId,
    now: Timestamp,
) -> Result<Vec<DashboardLink>, PageError> {
    let counts = overview::dashboard(&state.ops.db, scope, partner, now).await?;
    let plural = crate::format::plural;
    Ok(vec![
        DashboardLink {
            label: format!(
                "{} ending within 7 days",
                plural(counts.trials_ending, "trial", "trials")
            ),
            href: "/partner/licences/overview?status=trial_ending&sort=next_expiry",
            id: "count-trials-ending",
        },
        DashboardLink {
            label: format!(
                "{} with licences expiring within 30 days",
                plural(counts.licences_expiring, "company", "companies")
            ),
            href: "/partner/licences/overview?status=expiring&sort=next_expiry",
            id: "count-licences-expiring",
        },
        DashboardLink {
            label: format!(
                "{} waiting",
                plural(counts.requests_waiting, "request", "requests")
            ),
            href: "/partner/licences?tab=requested",
            id: "count-requests-waiting",
        },
        DashboardLink {
            label: format!(
                "{} expired",
                plural(counts.companies_expired, "company", "companies")
            ),
            href: "/partner/licences/overview?status=expired",
            id: "count-companies-expired",
        },
    ])
}
