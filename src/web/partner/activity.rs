//! Activity: every change beneath the partner, who made it and for which company.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::Deserialize;

use super::{PAGE, query_string};
use crate::db::activity::{ActivityFilter, ActivityRow};
use crate::domain::{CompanyId, UserId};
use crate::web::areas::PartnerArea;
use crate::web::layout::{Layout, PageResult, render};
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
    next: Option<String>,
}

#[derive(Deserialize)]
struct ActivityQuery {
    company: Option<i64>,
    actor: Option<i64>,
    before: Option<i64>,
}

impl ActivityQuery {
    fn next(&self, before: i64) -> String {
        let company = self.company.map(|c| c.to_string()).unwrap_or_default();
        let actor = self.actor.map(|a| a.to_string()).unwrap_or_default();
        let before = before.to_string();
        let pairs = [
            ("company", &company),
            ("actor", &actor),
            ("before", &before),
        ];
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        format!("/partner/activity?{}", query_string(&pairs))
    }
}

async fn list(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Query(query): Query<ActivityQuery>,
) -> PageResult {
    let filter = ActivityFilter {
        company: query.company.map(CompanyId),
        actor: query.actor.map(UserId),
    };
    let caller = area.caller.outside_manage_mode();
    let page = crate::ops::activity::list(&state.ops, &caller, filter, query.before, PAGE).await?;
    // Partner pages show instants in the partner's own time zone.
    let time_zone = crate::db::partners::time_zone(&state.ops.db, area.partner).await?;
    render(ActivityPage {
        layout: area.layout("Activity", "/partner/activity"),
        entries: page
            .items
            .into_iter()
            .map(|a| {
                let at = crate::format::date_time(a.at, &time_zone);
                (a, at)
            })
            .collect(),
        filtered: query.company.is_some() || query.actor.is_some(),
        next: page.next.map(|before| query.next(before)),
    })
}
