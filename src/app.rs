//! The whole application — the console, the expiry scheduler and the email and webhook delivery
//! workers — built from its configuration. `seatledger serve` and the tests start it the same way.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::db::Db;
use crate::email::transport::Transport;
use crate::jobs::{self, Intervals};
use crate::ops::Ops;
use crate::web::{self, WebConfig};

/// The operations and the router over them, without a socket (tests call the router directly).
#[derive(Clone)]
pub struct App {
    pub ops: Ops,
    web: WebConfig,
}

impl App {
    /// The application on `db` and `clock`, with links and cookies for `public_url`.
    pub fn new(db: Db, clock: SharedClock, public_url: &str) -> Self {
        Self {
            ops: Ops::new(db, clock, public_url),
            web: WebConfig::new(public_url),
        }
    }

    /// The same application with webhooks configured.
    pub fn with_webhooks(self, webhooks: crate::webhooks::Settings) -> Self {
        Self {
            ops: self.ops.with_webhooks(webhooks),
            ..self
        }
    }

    /// The same application with each API key held to `rate`.
    pub fn with_api_rate(mut self, rate: web::api::RateLimit) -> Self {
        self.web.api_rate = rate;
        self
    }

    pub fn router(&self) -> Router {
        web::router(self.ops.clone(), self.web.clone())
    }
}

/// How to run the application.
pub struct Config {
    pub listen: SocketAddr,
    /// Where people reach the console; `http://` + the bound address when `None`.
    pub public_url: Option<String>,
    pub transport: Transport,
    /// The secret key that seals webhook signing secrets, and whether private targets are
    /// allowed.
    pub webhooks: crate::webhooks::Settings,
    /// How often the scheduler and the delivery worker run; `None` runs neither (a test that
    /// drives them itself).
    pub background: Option<Intervals>,
    /// How many API requests each key may make.
    pub api_rate: web::api::RateLimit,
}

/// A started application.
pub struct Running {
    pub address: SocketAddr,
    pub public_url: String,
    pub app: App,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
}

/// Binds the listener, starts the background work and serves until `stop` (or `shutdown`).
pub async fn start(
    db: Db,
    clock: SharedClock,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Running> {
    let listener = TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let public_url = config
        .public_url
        .unwrap_or_else(|| format!("http://{address}"))
        .trim_end_matches('/')
        .to_owned();
    let app = App::new(db, clock, &public_url)
        .with_webhooks(config.webhooks)
        .with_api_rate(config.api_rate);
    if let Some(every) = config.background {
        jobs::spawn(app.ops.clone(), config.transport, every);
    }
    let (stop, mut stopped) = watch::channel(false);
    let router = app.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    () = shutdown => {}
                    _ = stopped.wait_for(|s| *s) => {}
                }
            })
            .await
    });
    Ok(Running {
        address,
        public_url,
        app,
        stop,
        server,
    })
}

impl Running {
    /// Stops accepting, finishes the requests in flight, and returns when the server has ended.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Returns when the server has ended (on its shutdown signal).
    pub async fn wait(self) -> std::io::Result<()> {
        self.server.await.map_err(std::io::Error::other)?
    }
}
