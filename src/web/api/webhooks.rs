//! `/api/v1/webhook-endpoints`: a partner key manages its partner's webhook endpoints as the
//! partner's admins do in the console — list, register (the `whsec_` secret is shown once),
//! disable, enable, delete, read the delivery log and send a delivery again — through the same
//! operations.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::companies::id_in_path;
use super::input::{ApiJson, ApiQuery};
use super::pages::{self, PageQuery, page_type};
use super::problem::{ApiError, ApiResult, Problem};
use crate::db::api_keys::KeyOwner;
use crate::db::webhooks::{DeliveryRow, Endpoint};
use crate::domain::api_keys::Permission;
use crate::domain::webhooks::{EventTypes, WebhookUrl};
use crate::domain::{DeliveryId, EndpointId};
use crate::ops::webhooks::{self as webhook_ops, NewWebhookEndpoint};
use crate::ops::{Caller, Error, Fields};
use crate::web::AppState;

/// A webhook endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    id: i64,
    url: String,
    /// The event types it receives, e.g. `order.assigned`.
    event_types: Vec<String>,
    enabled: bool,
    /// Disabled by seatledger after three days of failed deliveries (not by its owner).
    disabled_for_failing: bool,
    #[schema(required = true, format = DateTime)]
    disabled_at: Option<String>,
    /// Since when every delivery has failed, while they do.
    #[schema(required = true, format = DateTime)]
    failing_since: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<Endpoint> for WebhookEndpoint {
    fn from(e: Endpoint) -> Self {
        WebhookEndpoint {
            id: e.id.0,
            url: e.url,
            event_types: e
                .event_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            enabled: e.enabled,
            disabled_for_failing: e.disabled_for_failing,
            disabled_at: e.disabled_at.map(|t| t.to_string()),
            failing_since: e.failing_since.map(|t| t.to_string()),
            created_at: e.created_at.to_string(),
        }
    }
}

page_type!(
    /// One page of webhook endpoints, oldest first.
    EndpointPage of WebhookEndpoint
);

const NOT_FOUND: &str = "No such endpoint of this key's partner (or not a partner key)";

/// The caller of a partner key holding `permission`: webhook endpoints through the API are a
/// partner's (its admins manage them; a partner key acts as one).
fn partner_key(who: &ApiCaller, permission: Permission) -> ApiResult<&Caller> {
    let caller = who.require(permission)?;
    match who.owner() {
        KeyOwner::Partner(_) => Ok(caller),
        KeyOwner::Operator | KeyOwner::Company(_) => Err(ApiError::Op(Error::NotFound)),
    }
}

fn endpoint_id(raw: &str) -> ApiResult<EndpointId> {
    id_in_path(raw).map(EndpointId)
}

/// List the partner's webhook endpoints.
#[utoipa::path(
    get,
    operation_id = "listWebhookEndpoints",
    path = "/api/v1/webhook-endpoints",
    tag = "webhooks",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of endpoints", body = EndpointPage),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<EndpointPage>> {
    let caller = partner_key(&who, Permission::Read)?;
    let (after, limit) = pages::ask(query.limit, query.after.as_deref())?;
    let page = webhook_ops::list(&state.ops, caller, after.map(EndpointId), limit).await?;
    Ok(Json(
        pages::answer(page, |e| e.0, WebhookEndpoint::from).into(),
    ))
}

/// An endpoint to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpointBody {
    /// An `http://` or `https://` address; loopback, private and link-local targets are refused
    /// unless the operator allows them.
    #[schema(example = "https://psa.example/hooks/seatledger", max_length = 2000)]
    url: String,
    /// At least one of: company.trial_ending, company.trial_expired, order.requested,
    /// order.assigned, order.rejected, order.cancelled, batch.expiring, batch.expired,
    /// seats.allocated, seats.released, user.created, user.deactivated.
    #[schema(example = json!(["order.assigned", "seats.allocated"]), min_items = 1, max_items = 24)]
    event_types: Vec<String>,
}

/// A registered endpoint and its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredEndpoint {
    endpoint: WebhookEndpoint,
    /// The `whsec_` secret that signs its webhooks (Standard Webhooks). Not shown again.
    secret: String,
}

/// Register a webhook endpoint; the answer holds its signing secret, which is not shown again.
#[utoipa::path(
    post,
    operation_id = "createWebhookEndpoint",
    path = "/api/v1/webhook-endpoints",
    tag = "webhooks",
    request_body = NewEndpointBody,
    responses(
        (status = 201, description = "Registered", body = RegisteredEndpoint,
            headers(("Location" = String, description = "The new endpoint"))),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    ApiJson(body): ApiJson<NewEndpointBody>,
) -> ApiResult<Response> {
    let caller = partner_key(&who, Permission::Write)?;
    let mut fields = Fields::default();
    let url = fields.take("url", WebhookUrl::parse(&body.url));
    let types = EventTypes::parse(body.event_types.iter().map(String::as_str));
    let event_types = fields.take("event_types", types);
    let new = fields.finish(|| {
        Some(NewWebhookEndpoint {
            url: url?,
            event_types: event_types?,
        })
    })?;
    let registered = webhook_ops::create(&state.ops, caller, &new).await?;
    let endpoint = webhook_ops::get(&state.ops, caller, registered.endpoint).await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/webhook-endpoints/{}", registered.endpoint),
        )],
        Json(RegisteredEndpoint {
            endpoint: endpoint.into(),
            secret: registered.secret,
        }),
    )
        .into_response())
}

/// One webhook endpoint.
#[utoipa::path(
    get,
    operation_id = "getWebhookEndpoint",
    path = "/api/v1/webhook-endpoints/{id}",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpoint),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    let caller = partner_key(&who, Permission::Read)?;
    let endpoint = webhook_ops::get(&state.ops, caller, endpoint_id(&id)?).await?;
    Ok(Json(endpoint.into()))
}

/// Delete an endpoint, with its deliveries and their log.
#[utoipa::path(
    delete,
    operation_id = "deleteWebhookEndpoint",
    path = "/api/v1/webhook-endpoints/{id}",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let caller = partner_key(&who, Permission::Write)?;
    webhook_ops::delete(&state.ops, caller, endpoint_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_enabled(
    state: &AppState,
    who: &ApiCaller,
    id: &str,
    on: bool,
) -> ApiResult<StatusCode> {
    let caller = partner_key(who, Permission::Write)?;
    webhook_ops::set_enabled(&state.ops, caller, endpoint_id(id)?, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disable an endpoint: nothing is sent to it until it is enabled; its deliveries wait.
#[utoipa::path(
    post,
    operation_id = "disableWebhookEndpoint",
    path = "/api/v1/webhook-endpoints/{id}/disable",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Disabled"),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn disable(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    set_enabled(&state, &who, &id, false).await
}

/// Enable an endpoint: its past failures are forgotten and waiting deliveries go out again.
#[utoipa::path(
    post,
    operation_id = "enableWebhookEndpoint",
    path = "/api/v1/webhook-endpoints/{id}/enable",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Enabled"),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn enable(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    set_enabled(&state, &who, &id, true).await
}

/// Where one delivery stands.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

/// One event on its way to the endpoint, and its last attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    id: i64,
    /// The `webhook-id` header, the same on every attempt.
    webhook_id: String,
    event_type: String,
    status: DeliveryState,
    attempts: i64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    next_attempt_at: String,
    #[schema(required = true, format = DateTime)]
    last_attempt_at: Option<String>,
    #[schema(required = true)]
    last_response_code: Option<i64>,
    #[schema(required = true)]
    last_error: Option<String>,
}

impl From<DeliveryRow> for Delivery {
    fn from(d: DeliveryRow) -> Self {
        use crate::domain::webhooks::DeliveryStatus as S;
        Delivery {
            id: d.id.0,
            webhook_id: d.webhook_id,
            event_type: d.event.as_str().to_owned(),
            status: match d.status {
                S::Pending => DeliveryState::Pending,
                S::Delivered => DeliveryState::Delivered,
                S::Failed => DeliveryState::Failed,
            },
            attempts: d.attempts,
            created_at: d.created_at.to_string(),
            next_attempt_at: d.next_attempt_at.to_string(),
            last_attempt_at: d.last_attempt_at.map(|t| t.to_string()),
            last_response_code: d.last_response_code,
            last_error: d.last_error,
        }
    }
}

page_type!(
    /// One page of an endpoint's delivery log, newest first.
    DeliveryPage of Delivery
);

/// An endpoint's delivery log, newest first.
#[utoipa::path(
    get,
    operation_id = "listWebhookDeliveries",
    path = "/api/v1/webhook-endpoints/{id}/deliveries",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint's id"), PageQuery),
    responses(
        (status = 200, description = "One page of deliveries", body = DeliveryPage),
        (status = 404, description = NOT_FOUND, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    let caller = partner_key(&who, Permission::Read)?;
    let id = endpoint_id(&id)?;
    let (before, limit) = pages::ask(query.limit, query.after.as_deref())?;
    let before = before.map(DeliveryId);
    let page = webhook_ops::deliveries(&state.ops, caller, id, before, limit).await?;
    Ok(Json(pages::answer(page, |d| d.0, Delivery::from).into()))
}

/// Send a delivery again: the same event with the same `webhook-id`, due now, with a fresh
/// round of retries.
#[utoipa::path(
    post,
    operation_id = "redeliverWebhook",
    path = "/api/v1/webhook-deliveries/{id}/redeliver",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 202, description = "Due again now"),
        (status = 404, description = "No such delivery to this key's partner's endpoints", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn redeliver(
    State(state): State<Arc<AppState>>,
    who: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let caller = partner_key(&who, Permission::Write)?;
    let id = DeliveryId(id_in_path(&id)?);
    webhook_ops::redeliver(&state.ops, caller, id).await?;
    Ok(StatusCode::ACCEPTED)
}
