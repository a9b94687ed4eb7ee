//! Webhooks in the console: a section of the partner's Admin Dashboard and a page of the
//! operator's console, served by one set of handlers at each area's own prefix. Endpoints are
//! listed, added (the signing secret shown once), opened with their delivery log, disabled,
//! enabled, rotated and deleted; each delivery can be opened and sent again.

mod log;

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Deserialize;

use super::areas::{OperatorArea, PartnerArea, SignedIn};
use super::error::form_errors;
use super::layout::{Layout, PageResult, render, render_with};
use super::{AppState, BOTH, GET, POST, PageError, Routes};
use crate::db::webhooks::Endpoint;
use crate::domain::EndpointId;
use crate::domain::webhooks::{EventType, EventTypes, WebhookUrl};
use crate::ops::Fields;
use crate::ops::webhooks::{self as webhook_ops, NewWebhookEndpoint};

/// An area whose owner manages webhook endpoints, and where its webhook pages live.
pub(super) trait OwnerArea:
    FromRequestParts<Arc<AppState>, Rejection = PageError> + std::ops::Deref<Target = SignedIn>
{
    const BASE: &'static str;
}

impl OwnerArea for PartnerArea {
    const BASE: &'static str = "/partner/webhooks";
}

impl OwnerArea for OperatorArea {
    const BASE: &'static str = "/operator/webhooks";
}

macro_rules! webhook_routes {
    ($routes:expr, $area:ty, $base:literal) => {
        $routes
            .add($base, BOTH, get(list::<$area>).post(create::<$area>))
            .add(concat!($base, "/new"), GET, get(new_form::<$area>))
            .add(concat!($base, "/{id}"), GET, get(log::endpoint::<$area>))
            .add(concat!($base, "/{id}/enable"), POST, post(enable::<$area>))
            .add(
                concat!($base, "/{id}/disable"),
                POST,
                post(disable::<$area>),
            )
            .add(concat!($base, "/{id}/rotate"), POST, post(rotate::<$area>))
            .add(concat!($base, "/{id}/delete"), POST, post(delete::<$area>))
            .add(
                concat!($base, "/deliveries/{id}"),
                GET,
                get(log::delivery::<$area>),
            )
            .add(
                concat!($base, "/deliveries/{id}/redeliver"),
                POST,
                post(log::redeliver::<$area>),
            )
    };
}

pub(super) fn routes(routes: Routes) -> Routes {
    let routes = webhook_routes!(routes, PartnerArea, "/partner/webhooks");
    webhook_routes!(routes, OperatorArea, "/operator/webhooks")
}

/// What each event type means, as the form offers it.
fn meaning(event: EventType) -> &'static str {
    match event {
        EventType::CompanyTrialEnding => "a company's free trial ends within 72 hours",
        EventType::CompanyTrialExpired => "a company's free trial has ended",
        EventType::OrderRequested => "a company asked for licences",
        EventType::OrderAssigned => "an order was assigned and its licences are ready",
        EventType::OrderRejected => "an order was rejected",
        EventType::OrderCancelled => "a waiting order was cancelled",
        EventType::BatchExpiring => "a batch of licences expires within 72 hours",
        EventType::BatchExpired => "a batch of licences has expired",
        EventType::SeatsAllocated => "licences were allocated to learners",
        EventType::SeatsReleased => "a learner's licence returned to its batch",
        EventType::UserCreated => "a user was added to a company",
        EventType::UserDeactivated => "a user was deactivated",
    }
}

pub(super) fn when(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// An endpoint's state in words.
fn state_of(e: &Endpoint) -> String {
    match (e.enabled, e.disabled_for_failing, e.disabled_at) {
        (true, _, _) => match e.failing_since {
            Some(since) => format!("Enabled, failing since {}", when(since)),
            None => "Enabled".into(),
        },
        (false, true, Some(at)) => format!(
            "Disabled by seatledger on {} after failing for three days",
            when(at)
        ),
        (false, _, Some(at)) => format!("Disabled on {}", when(at)),
        (false, _, None) => "Disabled".into(),
    }
}

pub(super) struct EndpointLine {
    id: EndpointId,
    url: String,
    events: String,
    state: String,
}

impl From<&Endpoint> for EndpointLine {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url.clone(),
            events: e
                .event_types
                .iter()
                .map(EventType::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            state: state_of(e),
        }
    }
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct EndpointsPage {
    layout: Layout,
    base: &'static str,
    endpoints: Vec<EndpointLine>,
    configured: bool,
    deleted: bool,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    deleted: bool,
}

async fn list<A: OwnerArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let endpoints = webhook_ops::list(&state.ops, &area.caller, None, webhook_ops::MAX_ENDPOINTS)
        .await?
        .items;
    render(EndpointsPage {
        layout: area.layout("Webhooks", A::BASE),
        base: A::BASE,
        endpoints: endpoints.iter().map(EndpointLine::from).collect(),
        configured: state.ops.webhooks.key.is_some(),
        deleted: query.deleted,
    })
}

#[derive(Template)]
#[template(path = "webhook_form.html")]
struct EndpointFormPage {
    layout: Layout,
    base: &'static str,
    url: String,
    /// Each event type, its meaning, and whether it is ticked.
    events: Vec<(&'static str, &'static str, bool)>,
    errors: Vec<String>,
}

impl EndpointFormPage {
    fn new(area: &SignedIn, base: &'static str, url: String, ticked: &[String]) -> Self {
        let events = EventType::ALL
            .iter()
            .map(|&t| {
                (
                    t.as_str(),
                    meaning(t),
                    ticked.iter().any(|c| c == t.as_str()),
                )
            })
            .collect();
        Self {
            layout: area.layout("Add Endpoint", base),
            base,
            url,
            events,
            errors: Vec::new(),
        }
    }
}

async fn new_form<A: OwnerArea>(State(state): State<Arc<AppState>>, area: A) -> PageResult {
    webhook_ops::owner(&area.caller, state.ops.now())?;
    let all: Vec<String> = EventType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    render(EndpointFormPage::new(&area, A::BASE, String::new(), &all))
}

/// The Add Endpoint form: the URL and the ticked event types (a repeated field).
fn parse_form(body: &[u8]) -> (String, Vec<String>) {
    let mut url = String::new();
    let mut events = Vec::new();
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "url" => url = value.into_owned(),
            "events" if events.len() < 2 * EventType::ALL.len() => events.push(value.into_owned()),
            _ => {}
        }
    }
    (url, events)
}

const LABELS: &[(&str, &str)] = &[("url", "URL"), ("events", "Events")];

#[derive(Template)]
#[template(path = "webhook_secret.html")]
struct SecretPage {
    layout: Layout,
    base: &'static str,
    endpoint: EndpointId,
    secret: String,
    rotated: bool,
}

async fn create<A: OwnerArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    body: Bytes,
) -> PageResult {
    // Rights before the form: a caller who may not create hears so, not what to fix.
    webhook_ops::owner(&area.caller, state.ops.now())?;
    let (url, events) = parse_form(&body);
    let outcome = async {
        let mut fields = Fields::default();
        let parsed_url = fields.take("url", WebhookUrl::parse(&url));
        let types = fields.take(
            "events",
            EventTypes::parse(events.iter().map(String::as_str)),
        );
        let new = fields.finish(|| {
            Some(NewWebhookEndpoint {
                url: parsed_url?,
                event_types: types?,
            })
        })?;
        webhook_ops::create(&state.ops, &area.caller, &new).await
    };
    let errors = match outcome.await {
        Ok(registered) => {
            return render(SecretPage {
                layout: area.layout("Endpoint added", A::BASE),
                base: A::BASE,
                endpoint: registered.endpoint,
                secret: registered.secret,
                rotated: false,
            });
        }
        Err(e) => form_errors(e, LABELS)?,
    };
    let mut page = EndpointFormPage::new(&area, A::BASE, url, &events);
    page.errors = errors;
    render_with(StatusCode::UNPROCESSABLE_ENTITY, page)
}

async fn set_enabled<A: OwnerArea>(
    state: &AppState,
    area: &A,
    id: i64,
    enabled: bool,
) -> PageResult {
    webhook_ops::set_enabled(&state.ops, &area.caller, EndpointId(id), enabled).await?;
    let notice = if enabled {
        "The endpoint is enabled: pending deliveries go out again."
    } else {
        "The endpoint is disabled: nothing is sent to it until you enable it."
    };
    area.redirect_with_notice(state, &format!("{}/{id}", A::BASE), notice)
        .await
}

async fn enable<A: OwnerArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Path(id): Path<i64>,
) -> PageResult {
    set_enabled(&state, &area, id, true).await
}

async fn disable<A: OwnerArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Path(id): Path<i64>,
) -> PageResult {
    set_enabled(&state, &area, id, false).await
}

async fn rotate<A: OwnerArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Path(id): Path<i64>,
) -> PageResult {
    let secret = webhook_ops::rotate_secret(&state.ops, &area.caller, EndpointId(id)).await?;
    render(SecretPage {
        layout: area.layout("Secret rotated", A::BASE),
        base: A::BASE,
        endpoint: EndpointId(id),
        secret,
        rotated: true,
    })
}

async fn delete<A: OwnerArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Path(id): Path<i64>,
) -> PageResult {
    webhook_ops::delete(&state.ops, &area.caller, EndpointId(id)).await?;
    Ok(Redirect::to(&format!("{}?deleted=true", A::BASE)).into_response())
}
