//! The web edge: server-rendered pages (askama templates, escaped) over axum. Handlers are thin:
//! they derive the caller's scope from the session, call `db`, and render. Errors are mapped once,
//! in `error`.

mod account;
mod company;
mod error;
mod layout;
mod licences;
mod operator;
mod partner;
mod people;
mod session;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{MethodRouter, get, post};
use tokio::net::TcpListener;

use crate::clock::SharedClock;
use crate::db::Db;

pub use error::PageError;
pub use session::{CSRF_COOKIE, SESSION_COOKIE};

/// Settings of the web edge.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Where people reach the console; links in pages and emails start with it.
    pub public_url: String,
    /// Cookies get `Secure` when the console is served over https.
    pub secure_cookies: bool,
}

impl WebConfig {
    pub fn new(public_url: &str) -> Self {
        let public_url = public_url.trim_end_matches('/').to_owned();
        Self {
            secure_cookies: public_url.starts_with("https://"),
            public_url,
        }
    }
}

/// Everything a request handler may use.
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub config: WebConfig,
}

/// One route of the console: its path pattern and methods, so tests can enumerate them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub path: &'static str,
    pub methods: &'static [&'static str],
}

/// Builds the router and the list of its routes together, so neither can miss one.
struct Routes {
    router: Router<Arc<AppState>>,
    table: Vec<Route>,
}

impl Routes {
    fn add(
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

/// The largest request an upload route reads: the 20 MB file limit plus room for the form.
const UPLOAD_LIMIT: usize = crate::imports::MAX_BYTES + 64 * 1024;

fn routes() -> Routes {
    const GET: &[&str] = &["GET"];
    const POST: &[&str] = &["POST"];
    const BOTH: &[&str] = &["GET", "POST"];
    Routes {
        router: Router::new(),
        table: Vec::new(),
    }
    .add("/", GET, get(account::home))
    .add("/health", GET, get(account::health))
    .add("/static/app.css", GET, get(account::stylesheet))
    .add(
        "/sign-in",
        BOTH,
        get(account::sign_in_page).post(account::sign_in),
    )
    .add("/sign-out", POST, post(account::sign_out))
    .add(
        "/forgot-password",
        BOTH,
        get(account::forgot_password_page).post(account::forgot_password),
    )
    .add(
        "/set-password",
        BOTH,
        get(account::set_password_page).post(account::set_password),
    )
    .add("/operator", GET, get(operator::operator_home))
    .add("/operator/mailbox", GET, get(operator::mailbox))
    .add("/operator/mailbox/{id}", GET, get(operator::mailbox_email))
    .add("/partner", GET, get(partner::companies))
    .add(
        "/partner/companies/new",
        GET,
        get(partner::new_company_form),
    )
    .add("/partner/companies", POST, post(partner::create_company))
    .add(
        "/partner/companies/{id}/edit",
        BOTH,
        get(partner::edit_company_form).post(partner::edit_company),
    )
    .add(
        "/partner/companies/{id}/manage",
        POST,
        post(partner::manage),
    )
    .add("/manage/exit", POST, post(partner::exit_manage))
    .add(
        "/partner/partners",
        BOTH,
        get(partner::sub_partners).post(partner::create_sub_partner),
    )
    .add(
        "/partner/partners/new",
        GET,
        get(partner::new_sub_partner_form),
    )
    .add("/partner/licences", GET, get(partner::orders))
    .add("/partner/orders/{id}/assign", POST, post(partner::assign))
    .add(
        "/partner/orders/{id}/reject",
        BOTH,
        get(partner::reject_form).post(partner::reject),
    )
    .add("/partner/activity", GET, get(partner::activity))
    .add("/company", GET, get(company::company_home))
    .add(
        "/company/users",
        BOTH,
        get(people::users).post(people::add_user),
    )
    .add("/company/users/new", GET, get(people::new_user_form))
    .add(
        "/company/users/import",
        BOTH,
        get(people::import_form)
            .post(people::upload_users)
            .layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
    )
    .add(
        "/company/users/import/{id}",
        BOTH,
        get(people::import_mapping).post(people::import_users),
    )
    .add(
        "/company/users/{id}/deactivate",
        POST,
        post(people::deactivate),
    )
    .add("/company/users/{id}/delete", POST, post(people::delete))
    .add("/company/licenses", GET, get(licences::licenses))
    .add("/company/licenses/allocate", POST, post(licences::allocate))
    .add(
        "/company/licenses/renewal",
        BOTH,
        get(licences::renewal_form)
            .post(licences::upload_renewal)
            .layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
    )
    .add(
        "/company/licenses/renewal/{id}",
        BOTH,
        get(licences::renewal_preview).post(licences::apply_renewal),
    )
    .add(
        "/company/licenses/renewal/{id}/report.csv",
        GET,
        get(licences::renewal_report),
    )
    .add("/company/upgrade", GET, get(company::upgrade))
    .add("/company/orders/new", GET, get(company::order_form))
    .add(
        "/company/orders",
        BOTH,
        get(company::order_form).post(company::request_licences),
    )
    .add("/landing", GET, get(company::landing))
    .add("/learner", GET, get(company::learner_home))
}

/// Every route of the console.
pub fn route_table() -> Vec<Route> {
    routes().table
}

/// The application: build it from a database and a clock, then serve it or call its router.
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
}

impl App {
    pub fn new(db: Db, clock: SharedClock, config: WebConfig) -> Self {
        Self {
            state: Arc::new(AppState { db, clock, config }),
        }
    }

    pub fn router(&self) -> Router {
        routes()
            .router
            .fallback(account::not_found)
            .layer(middleware::from_fn_with_state(
                self.state.clone(),
                session::csrf_protection,
            ))
            .with_state(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}
