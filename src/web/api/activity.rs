//! `/api/v1/activity`: the Activity log the key's owner may read (a partner's: every company
//! beneath it; a company's: its own), newest first, with the console's filters.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::input::ApiQuery;
use super::pages::{self, page_type};
use super::problem::ApiResult;
use crate::db::Page;
use crate::db::activity::{self, ActivityFilter, ActivityRow};
use crate::domain::api_keys::Permission;
use crate::domain::{CompanyId, UserId};
use crate::ops::activity as activity_ops;
use crate::web::AppState;

/// One change: who made it, when, and for which company.
#[derive(Debug, Serialize, ToSchema)]
pub struct Entry {
    id: i64,
    #[schema(format = DateTime)]
    at: String,
    /// The company it is about; null for an account's security event outside one.
    #[schema(required = true)]
    company: Option<String>,
    /// Who made it (`Name <email>`), or `seatledger` for the system itself.
    actor: String,
    /// The company a partner user acted for in manage mode.
    #[schema(required = true)]
    on_behalf_of: Option<String>,
    /// A stable code such as `licences_allocated` or `order_assigned`.
    action: String,
    /// What happened, in words.
    detail: String,
}

impl From<ActivityRow> for Entry {
    fn from(a: ActivityRow) -> Self {
        Entry {
            id: a.id,
            at: a.at.to_string(),
            company: a.company,
            actor: a.actor,
            on_behalf_of: a.on_behalf_of,
            action: a.action,
            detail: a.detail,
        }
    }
}

page_type!(
    /// One page of Activity, newest first.
    ActivityPage of Entry
);

/// Which entries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Only entries about this company.
    company_id: Option<i64>,
    /// Only changes made by this user.
    actor_id: Option<i64>,
    /// How many entries per page (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next` of the previous page.
    #[param(max_length = 600)]
    after: Option<String>,
}

/// List the Activity log this key may read.
#[utoipa::path(
    get,
    operation_id = "listActivity",
    path = "/api/v1/activity",
    tag = "activity",
    params(ActivityQuery),
    responses((status = 200, description = "One page of Activity", body = ActivityPage))
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<ActivityPage>> {
    let caller = who.require(Permission::Read)?;
    let (before, limit) = pages::ask(query.limit, query.after.as_deref())?;
    let filter = ActivityFilter {
        company: query.company_id.map(CompanyId),
        actor: query.actor_id.map(UserId),
    };
    let seek = activity::before_entry(before);
    let page = activity_ops::list(&state.ops, caller, filter, (true, &seek), limit).await?;
    let page = Page {
        next: page.next.map(|entry| entry.id),
        items: page.rows,
    };
    Ok(Json(pages::answer(page, |id| id, Entry::from).into()))
}
