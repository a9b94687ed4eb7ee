//! The web edge: server-rendered pages (askama templates, escaped) over axum. Handlers are thin:
//! an area extractor gives them the caller, they parse the form, call one operation (`crate::ops`)
//! and render its outcome. Errors become pages in one place, `error`.

mod account;
pub mod api;
mod api_keys;
mod areas;
mod charts;
mod client;
mod company;
mod error;
mod headers;
mod layout;
mod observe;
mod operator;
mod pager;
mod partner;
mod requests;
mod session;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, Request};
use axum::middleware;
use axum::routing::MethodRouter;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::ops::Ops;

pub use client::ClientAddress;
pub use error::PageError;
pub use observe::metrics_router;
pub use session::{CookieNames, SESSION_COOKIE, VISITOR_COOKIE};

/// Settings of the web edge.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Served over https: cookies get `Secure` and the `__Host-` prefix, responses HSTS.
    pub secure_cookies: bool,
    /// How many API requests each key may make.
    pub api_rate: api::RateLimit,
    pub cookies: CookieNames,
    /// Take the client's address from `X-Forwarded-For` (set by a trusted reverse proxy)
    /// instead of the socket's peer.
    pub trust_forwarded_for: bool,
    /// The bearer token `/metrics` answers on this listener; without one it is not served here.
    pub metrics_token: Option<Arc<str>>,
}

impl WebConfig {
    pub fn new(public_url: &str) -> Self {
        let secure = public_url.starts_with("https://");
        Self {
            api_rate: api::RateLimit::default(),
            secure_cookies: secure,
            cookies: CookieNames::new(secure),
            trust_forwarded_for: false,
            metrics_token: None,
        }
    }
}

/// Everything a request handler may use.
pub struct AppState {
    pub ops: Ops,
    pub config: WebConfig,
    /// Each API key's rate, in this instance.
    pub api_limiter: api::auth::RateLimiter,
    form_key: tokio::sync::OnceCell<ring::hmac::Key>,
    /// Permits for the downloads that read a whole partner (the licence overview's CSV).
    pub exports: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// The key that signs form tokens, read from the database once.
    async fn form_key(&self) -> Result<&ring::hmac::Key, crate::db::DbError> {
        self.form_key
            .get_or_try_init(|| async {
                let secret = crate::db::instance::form_key(&self.ops.db).await?;
                Ok(ring::hmac::Key::new(
                    ring::hmac::HMAC_SHA256,
                    secret.as_bytes(),
                ))
            })
            .await
    }
}

/// One route of the console: its path pattern and methods, so tests can enumerate them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub path: &'static str,
    pub methods: &'static [&'static str],
}

pub(crate) const GET: &[&str] = &["GET"];
pub(crate) const POST: &[&str] = &["POST"];
pub(crate) const BOTH: &[&str] = &["GET", "POST"];

/// Builds the router and the list of its routes together, so neither can miss one. Each feature
/// module adds its own routes.
pub(crate) struct Routes {
    router: Router<Arc<AppState>>,
    table: Vec<Route>,
}

impl Routes {
    pub(crate) fn add(
        mut self,
        path: &'static str,
        methods: &'static [&'static str],
        route: MethodRouter<Arc<AppState>>,
    ) -> Self {
        self.router = self.router.route(path, route);
        self.table.push(Route { path, methods });
        self
    }
}

fn routes() -> Routes {
    let routes = Routes {
        router: Router::new(),
        table: Vec::new(),
    };
    let routes = account::routes(routes);
    let routes = operator::routes(routes);
    let routes = partner::routes(routes);
    let routes = webhooks::routes(routes);
    let routes = api_keys::routes(routes);
    let routes = observe::routes(routes);
    company::routes(routes)
}

/// Every route of the console.
pub fn route_table() -> Vec<Route> {
    routes().table
}

/// The header carrying each request's id, set when the client sent none and returned on the
/// response, so a report of a failure can be matched to its log lines.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: random, so ids from several instances do not collide.
#[derive(Clone, Copy, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).ok()?;
        axum::http::HeaderValue::from_str(&crate::db::sessions::hex(&bytes))
            .ok()
            .map(RequestId::new)
    }
}

/// The longest a request may take before it is answered 408; bounds each request's time.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The console's router over the operations `ops`.
pub fn router(ops: Ops, config: WebConfig) -> Router {
    let https = headers::Https(config.secure_cookies);
    let state = Arc::new(AppState {
        ops,
        config,
        form_key: tokio::sync::OnceCell::new(),
        exports: Arc::new(tokio::sync::Semaphore::new(partner::EXPORTS_AT_ONCE)),
        api_limiter: Default::default(),
    });
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
        let id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
    });
    let (api, document) = api::routes();
    let document = Arc::new(document);
    let console =
        routes()
            .router
            .fallback(account::not_found)
            .layer(middleware::from_fn_with_state(
                state.clone(),
                session::csrf_protection,
            ));
    // The API has no cookies and no forms: it stays outside the console's CSRF layer.
    let api = api
        .layer(middleware::from_fn_with_state(
            state.clone(),
            api::idempotency::idempotent,
        ))
        .route(
            api::OPENAPI_PATH,
            axum::routing::get(move || {
                let document = document.clone();
                async move { api::serve_document(&document) }
            }),
        )
        .route("/api/{*rest}", axum::routing::any(api::no_route));
    console
        .merge(api)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            observe::record,
        ))
        .with_state(state)
        .layer(
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
        .layer(middleware::map_response_with_state(https, headers::add))
}
