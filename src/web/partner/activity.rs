//! Activity: every change beneath the partner, who made it and for which company, newest first
//! (or oldest first), a page at a time.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::Deserialize;

use super::PAGE;
use crate::db::activity::{ActivityFilter, ActivityRow, ActivitySort};
use crate::domain::{CompanyId, UserId};
use crate::ops::activity as activity_ops;
use crate::web::areas::PartnerArea;
use crate::web::layout::{Layout, PageResult, render};
use crate::web::pager::{Heading, PageParams, Pager};
use crate::web::{AppState, GET, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes.add("/partner/activity", GET, get(list))
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    layout: Layout,
    entries: Vec<(ActivityRow, String)>,
    filtered: bool,
    headings: Vec<Heading>,
    pager: Pager,
}

#[derive(Deserialize)]
struct ActivityQuery {
    #[serde(default)]
    company: String,
    #[serde(default)]
    actor: String,
    #[serde(flatten)]
    page: PageParams,
}

const HEADINGS: [(Option<ActivitySort>, &str, bool); 5] = [
    (Some(ActivitySort::When), "When", false),
    (None, "Who", false),
    (None, "On behalf of", false),
    (None, "Company", false),
    (None, "What", false),
];

async fn list(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Query(query): Query<ActivityQuery>,
) -> PageResult {
    let filter = ActivityFilter {
        company: query.company.trim().parse().ok().map(CompanyId),
        actor: query.actor.trim().parse().ok().map(UserId),
    };
    let filters = vec![
        ("company", query.company.clone()),
        ("actor", query.actor.clone()),
    ];
    let listing = query
        .page
        .listing("/partner/activity", (ActivitySort::When, true), filters);
    let seek = (listing.descending, &listing.seek);
    let page = activity_ops::list(&state.ops, &area.caller, filter, seek, PAGE).await?;
    let total = activity_ops::count(&state.ops, &area.caller, filter).await?;
    let db = &state.ops.db;
    // Partner pages show instants in the partner's own time zone.
    let time_zone = crate::db::partners::time_zone(db, area.partner).await?;
    render(ActivityPage {
        layout: area.layout("Activity", "/partner/activity"),
        headings: listing.headings(&HEADINGS),
        pager: listing.pager(&page, PAGE, total),
        entries: page
            .rows
            .into_iter()
            .map(|a| {
                let at = crate::format::date_time(a.at, &time_zone);
                (a, at)
            })
            .collect(),
        filtered: filter.company.is_some() || filter.actor.is_some(),
    })
}
