//! What the orchestrator and the monitoring read: `/health/live`, `/health/ready` and
//! `/metrics`, plus the middleware that times every request for the metrics. None of it is
//! tenant data; `/metrics` is still not public (DESIGN §12): on the main listener it answers
//! only the configured bearer token, and without one it is not there.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use blake2::{Blake2b512, Digest};
use serde_json::json;

use super::{AppState, GET, Routes};
use crate::db::migrations;
use crate::ops::Ops;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/health/live", GET, get(live))
        .add("/health/ready", GET, get(ready))
        .add("/metrics", GET, get(metrics_to_bearer))
}

/// The process answers: restart it if not.
async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready for traffic: the database answers and its schema is this seatledger's. Until then a
/// load balancer should send requests elsewhere.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let (database, schema) = match migrations::status(&state.ops.db).await {
        Ok(status) if status.pending.is_empty() => ("ok", "current"),
        Ok(_) => ("ok", "behind"),
        Err(crate::db::DbError::NewerDatabase(_)) => ("ok", "newer"),
        Err(e) => {
            tracing::error!(error = %e, "readiness check: database unreachable");
            ("unreachable", "unknown")
        }
    };
    let ready = database == "ok" && schema == "current";
    let (code, status) = if ready {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let body = json!({ "status": status, "database": database, "migrations": schema });
    (code, Json(body)).into_response()
}

/// `/metrics` on the main listener: only to `Authorization: Bearer TOKEN`.
async fn metrics_to_bearer(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(token) = state.config.metrics_token.as_deref() else {
        return super::account::not_found().await.into_response();
    };
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !offered.is_some_and(|offered| same_secret(offered, token)) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required\n",
        )
            .into_response();
    }
    render(&state.ops).await
}

/// Compares digests, so the time taken says nothing about how much of the token matched.
fn same_secret(offered: &str, token: &str) -> bool {
    Blake2b512::digest(offered.as_bytes()) == Blake2b512::digest(token.as_bytes())
}

async fn render(ops: &Ops) -> Response {
    match ops.metrics.render(&ops.db, ops.now()).await {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics: the outbox backlog could not be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The router of the separate metrics listener (`--metrics-listen`): `/metrics` to whoever
/// reaches it, nothing else.
pub fn metrics_router(ops: Ops) -> Router {
    let ops = Arc::new(ops);
    Router::new()
        .route(
            "/metrics",
            get(|State(ops): State<Arc<Ops>>| async move { render(&ops).await }),
        )
        .with_state(ops)
}

/// Times each request and counts it under its route pattern and status.
pub(super) async fn record(
    State(state): State<Arc<AppState>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    state.ops.metrics.request(
        method.as_str(),
        route.as_ref().map(MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
