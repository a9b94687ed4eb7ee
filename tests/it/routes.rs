//! The route table is the truth about the router: every declared method is served, every other
//! method answers 405, so the isolation sweep over the table cannot miss a route. And every
//! response carries the request's id.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use seatledger::app::{self, Config};
use seatledger::clock::ManualClock;
use seatledger::email::transport::Transport;
use seatledger::web::{VISITOR_COOKIE, route_table};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::support::at;
use crate::web::{Client, NOW, demo_app};

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

#[tokio::test]
async fn every_route_answers_its_declared_methods_and_405_to_the_others() {
    let (_db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    client.get("/sign-in").await;
    let csrf = client.form_token().await;
    let visitor = client.cookies[VISITOR_COOKIE].clone();
    let router = app.router();
    for route in route_table() {
        // Ids in paths become 1; the CSRF token rides in the query so unsafe methods pass it.
        let path = route
            .path
            .split('/')
            .map(|part| if part.starts_with('{') { "1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let request = Request::builder()
                .method(method.clone())
                .uri(format!("{path}?csrf={csrf}"))
                .header(header::COOKIE, format!("{VISITOR_COOKIE}={visitor}"))
                .body(Body::empty())
                .unwrap();
            let status = router.clone().oneshot(request).await.unwrap().status();
            let declared = route.methods.contains(&method.as_str());
            assert_eq!(
                status == StatusCode::METHOD_NOT_ALLOWED,
                !declared,
                "{method} {} answered {status}",
                route.path
            );
        }
    }
}

#[tokio::test]
async fn a_request_gets_an_id_or_keeps_the_one_it_brought() {
    let (_db, app, _) = demo_app().await;
    let router = app.router();
    let fresh = router
        .clone()
        .oneshot(Request::get("/sign-in").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let id = fresh.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16, "{id}");
    let brought = Request::get("/sign-in")
        .header("x-request-id", "from-the-proxy-42")
        .body(Body::empty())
        .unwrap();
    let kept = router.oneshot(brought).await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "from-the-proxy-42");
}

#[tokio::test]
async fn the_application_starts_on_port_zero_and_stops_when_told() {
    let db = crate::support::sqlite().await;
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        transport: Transport::new(None, "seatledger <s@localhost>").unwrap(),
        webhooks: Default::default(),
        trust_forwarded_for: false,
        background: None,
        metrics: Default::default(),
    };
    let clock = Arc::new(ManualClock::at(at(NOW)));
    let running = app::start(db.db.clone(), clock, config, std::future::pending())
        .await
        .unwrap();
    assert_ne!(running.address.port(), 0);
    assert_eq!(running.public_url, format!("http://{}", running.address));
    let mut stream = tokio::net::TcpStream::connect(running.address)
        .await
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("x-request-id: "), "{reply}");
    let address = running.address;
    running.stop().await.unwrap();
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
}

/// Collects what the log writes, for one test.
#[derive(Clone, Default)]
pub(crate) struct Log(pub(crate) Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The test binary's log, installed once for every thread: a subscriber scoped to one thread
/// misses spans whose interest another thread cached first.
pub(crate) fn log() -> &'static Log {
    static LOG: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        log
    })
}

#[tokio::test]
async fn a_failure_is_logged_with_its_cause_inside_the_request_span_and_shown_plainly() {
    let log = log();
    let (db, app, _) = demo_app().await;
    let mut manager = Client::new(&app);
    manager
        .sign_in("manager@echo.example", seatledger::db::seed::DEMO_PASSWORD)
        .await;
    sqlx::query("DROP TABLE activity")
        .execute(db.pool())
        .await
        .unwrap();
    let reply = manager
        .post(
            "/company/users",
            &[("email", "new@echo.example"), ("role", "learner")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.body.contains("Something went wrong on our side"));
    assert!(!reply.body.contains("activity"), "internals leaked");
    let written = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let line = written
        .lines()
        .find(|l| l.contains("request failed") && l.contains("no such table: activity"))
        .unwrap_or_else(|| panic!("no failure logged: {written}"));
    assert!(line.contains("request{id="), "{line}");
    assert!(line.contains("path=/company/users"), "{line}");
    assert!(line.contains("no such table: activity"), "{line}");
}
