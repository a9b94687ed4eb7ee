//! An endpoint's page with its delivery log, one delivery's page, and Redeliver.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::{EndpointLine, OwnerArea, when};
use crate::db::webhooks::DeliveryRow;
use crate::domain::webhooks::DeliveryStatus;
use crate::domain::{DeliveryId, EndpointId};
use crate::ops::webhooks as webhook_ops;
use crate::web::AppState;
use crate::web::layout::{Layout, PageResult, render};

/// Deliveries per page of an endpoint's log.
const LOG_PAGE: u32 = 50;

struct DeliveryLine {
    id: DeliveryId,
    event: &'static str,
    webhook_id: String,
    created: String,
    status: &'static str,
    failed: bool,
    attempts: i64,
    last: String,
    next: String,
}

impl From<&DeliveryRow> for DeliveryLine {
    fn from(d: &DeliveryRow) -> Self {
        let last = match d.last_attempt_at {
            None => String::new(),
            // An error says the status it got, if any; a success is its status.
            Some(at) => match (&d.last_error, d.last_response_code) {
                (Some(error), _) => format!("{} · {error}", when(at)),
                (None, Some(code)) => format!("{} · {code}", when(at)),
                (None, None) => when(at),
            },
        };
        Self {
            id: d.id,
            event: d.event.as_str(),
            webhook_id: d.webhook_id.clone(),
            created: when(d.created_at),
            status: d.status.label(),
            failed: d.status == DeliveryStatus::Failed,
            attempts: d.attempts,
            last,
            next: match d.status {
                DeliveryStatus::Pending => when(d.next_attempt_at),
                _ => String::new(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "webhook_endpoint.html")]
struct EndpointPage {
    layout: Layout,
    base: &'static str,
    endpoint: EndpointLine,
    enabled: bool,
    created: String,
    notice: Option<String>,
    deliveries: Vec<DeliveryLine>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct EndpointQuery {
    before: Option<i64>,
}

pub(super) async fn endpoint<A: OwnerArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Path(id): Path<i64>,
    Query(query): Query<EndpointQuery>,
) -> PageResult {
    let id = EndpointId(id);
    let endpoint = webhook_ops::get(&state.ops, &area.caller, id).await?;
    let before = query.before.map(DeliveryId);
    let page = webhook_ops::deliveries(&state.ops, &area.caller, id, before, LOG_PAGE).await?;
    render(EndpointPage {
        layout: area.layout("Webhook endpoint", A::BASE),
        base: A::BASE,
        endpoint: EndpointLine::from(&endpoint),
        enabled: endpoint.enabled,
        created: when(endpoint.created_at),
        notice: area.flash.clone(),
        deliveries: page.items.iter().map(DeliveryLine::from).collect(),
        next: page.next.map(|d| format!("{}/{id}?before={d}", A::BASE)),
    })
}

#[derive(Template)]
#[template(path = "webhook_delivery.html")]
struct DeliveryPage {
    layout: Layout,
    base: &'static str,
    delivery: DeliveryLine,
    endpoint: EndpointId,
    body: String,
    /// (when, delivered, response code, error)
    attempts: Vec<(String, bool, String, String)>,
}

pub(super) async fn delivery<A: OwnerArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Path(id): Path<i64>,
) -> PageResult {
    let detail = webhook_ops::delivery(&state.ops, &area.caller, DeliveryId(id)).await?;
    render(DeliveryPage {
        layout: area.layout("Webhook delivery", A::BASE),
        base: A::BASE,
        delivery: DeliveryLine::from(&detail.delivery),
        endpoint: detail.delivery.endpoint,
        body: detail.body,
        attempts: detail
            .attempts
            .iter()
            .map(|a| {
                let code = a.response_code.map(|c| c.to_string()).unwrap_or_default();
                let error = a.error.clone().unwrap_or_default();
                (when(a.at), a.delivered, code, error)
            })
            .collect(),
    })
}

pub(super) async fn redeliver<A: OwnerArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Path(id): Path<i64>,
) -> PageResult {
    let endpoint = webhook_ops::redeliver(&state.ops, &area.caller, DeliveryId(id)).await?;
    let notice = "The delivery is queued again with the same webhook-id: it goes out with the \
                  next delivery round while the endpoint is enabled.";
    area.redirect_with_notice(&state, &format!("{}/{endpoint}", A::BASE), notice)
        .await
}
