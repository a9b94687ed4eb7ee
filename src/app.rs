//! The whole application — the console, the expiry scheduler and the email and webhook delivery
//! workers — built from its configuration. `seatledger serve` and the tests start it the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

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

    /// The same application serving `/metrics` on its own listener to `token` (as a bearer
    /// token); without one, `/metrics` is not there.
    pub fn with_metrics_token(self, token: Option<String>) -> Self {
        Self {
            web: WebConfig {
                metrics_token: token.map(Arc::from),
                ..self.web
            },
            ..self
        }
    }

    /// The same application with webhooks configured.
    pub fn with_webhooks(self, webhooks: crate::webhooks::Settings) -> Self {
        Self {
            ops: self.ops.with_webhooks(webhooks),
            ..self
        }
    }

    /// The same application with other limits on heavy work (reading and reviewing files).
    pub fn with_work_limit(self, heavy: crate::ops::limits::WorkLimit) -> Self {
        Self {
            ops: self.ops.with_work_limit(heavy),
            ..self
        }
    }

    /// The same application with another limit on password hashing.
    pub fn with_hashing(self, hashing: crate::password::Hashing) -> Self {
        Self {
            ops: self.ops.with_hashing(hashing),
            ..self
        }
    }

    /// The same application behind a reverse proxy whose `X-Forwarded-For` is trusted.
    pub fn trusting_forwarded_for(mut self, trust: bool) -> Self {
        self.web.trust_forwarded_for = trust;
        self
    }

    pub fn router(&self) -> Router {
        web::router(self.ops.clone(), self.web.clone())
    }
}

/// Who may read `/metrics`: on the main listener only a caller bearing `token`, and anyone who
/// reaches the separate `listen` address (bind it where only the scraper can).
#[derive(Clone, Debug, Default)]
pub struct MetricsAccess {
    pub token: Option<String>,
    pub listen: Option<SocketAddr>,
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
    /// Take client addresses from `X-Forwarded-For` (behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    /// How often the scheduler and the delivery worker run; `None` runs neither (a test that
    /// drives them itself).
    pub background: Option<Intervals>,
    pub metrics: MetricsAccess,
}

/// A started application.
pub struct Running {
    pub address: SocketAddr,
    /// Where `/metrics` is served without a token, when `MetricsAccess::listen` asked for it.
    pub metrics_address: Option<SocketAddr>,
    pub public_url: String,
    pub app: App,
    stop: Arc<watch::Sender<bool>>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    workers: Vec<JoinHandle<()>>,
}

/// Binds the listener, starts the background work and serves until `stop` (or `shutdown`).
/// Once either comes, the listeners stop accepting and the background work stops after the
/// round in hand (`jobs`); `wait` returns when all of it has.
pub async fn start(
    db: Db,
    clock: SharedClock,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Running> {
    let listener = TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let metrics_listener = match config.metrics.listen {
        Some(at) => Some(TcpListener::bind(at).await?),
        None => None,
    };
    let metrics_address = match &metrics_listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let public_url = config
        .public_url
        .unwrap_or_else(|| format!("http://{address}"))
        .trim_end_matches('/')
        .to_owned();
    let app = App::new(db, clock, &public_url)
        .with_webhooks(config.webhooks)
        .with_metrics_token(config.metrics.token)
        .trusting_forwarded_for(config.trust_forwarded_for);
    let (stop, stopped) = watch::channel(false);
    let stop = Arc::new(stop);
    let signal = stop.clone();
    let mut watching = stopped.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown => {}
            _ = watching.wait_for(|s| *s) => {}
        }
        signal.send_replace(true);
    });
    let workers = match config.background {
        Some(every) => jobs::spawn(
            app.ops.clone(),
            config.transport,
            every,
            jobs::Stop::new(stopped.clone()),
        ),
        None => Vec::new(),
    };
    let mut servers = vec![serve(listener, app.router(), stopped.clone())];
    if let Some(listener) = metrics_listener {
        servers.push(serve(
            listener,
            web::metrics_router(app.ops.clone()),
            stopped,
        ));
    }
    Ok(Running {
        address,
        metrics_address,
        public_url,
        app,
        stop,
        servers,
        workers,
    })
}

fn serve(
    listener: TcpListener,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        // Peer addresses: sign-in locks and rate limits count by the client's address.
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
    })
}

impl Running {
    /// Stops accepting, finishes the requests in flight, and returns when the server has ended.
    pub async fn stop(self) -> std::io::Result<()> {
        self.stop.send_replace(true);
        self.wait().await
    }

    /// Returns when the server has ended (on its shutdown signal): no request is in flight and
    /// the background work has finished its round or handed its leases back.
    pub async fn wait(self) -> std::io::Result<()> {
        let mut result = Ok(());
        for server in self.servers {
            let ended = server.await.map_err(std::io::Error::other).and_then(|r| r);
            result = result.and(ended);
        }
        for worker in self.workers {
            worker.await.map_err(std::io::Error::other)?;
        }
        result
    }
}
