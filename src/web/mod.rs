//! The web edge: server-rendered pages (askama templates, escaped) over axum. Handlers are thin:
//! they derive the caller's scope from the session, call `db`, and render. Errors are mapped once,
//! in `error`.

mod error;
mod pages;
mod session;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
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
        pages::routes()
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
