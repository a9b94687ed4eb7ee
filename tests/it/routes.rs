//! The route table is the truth about the router: every declared method is served, every other
//! method answers 405, so the isolation sweep over the table cannot miss a route. And every
//! response carries the request's id.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use seatledger::app::{self, Config};
use seatledger::clock::ManualClock;
use seatledger::db::api_keys::KeyOwner;
use seatledger::db::seed;
use seatledger::domain::PartnerId;
use seatledger::email::transport::Transport;
use seatledger::web::{VISITOR_COOKIE, route_table};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::api::id_of;
use crate::support::{TestDb, at};
use crate::web::{Client, NOW, demo_app, demo_app_on};

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
        api_rate: Default::default(),
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

/// Every query pair a page or an API list reads, each given text no stored value holds (a NUL,
/// which PostgreSQL refuses in text, and an escape), on every GET route of each area as its
/// role: each answers a page or a problem, never a failure of the database.
async fn every_route_reads_hostile_query_text_without_failing(db: TestDb) {
    const PAIRS: [&str; 27] = [
        "q=",
        "status=",
        "company=",
        "kind=",
        "from=",
        "to=",
        "order=",
        "tab=",
        "sort=name&dir=",
        "after_id=1&after=",
        "before_id=1&before=",
        "at=",
        "after_id=1&after_name=",
        "resent=",
        "next=",
        "token=",
        "name=",
        "limit=",
        "actor=",
        "state=",
        "company_id=",
        "requested_from=",
        "requested_before=",
        "after=",
        "created=",
        "column=",
        "page=",
    ];
    const HOSTILE: [&str; 2] = ["a%00b", "%1B%5B2J%07"];
    let (db, app, _) = demo_app_on(db).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let key = crate::api::key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read").await;
    let mut clients = Vec::new();
    for (area, email) in [
        ("/operator", "operator@seatledger.example"),
        ("/partner", "admin@bluefin.example"),
        ("/company", "manager@acme.example"),
    ] {
        let mut client = Client::new(&app);
        client.sign_in(email, seed::DEMO_PASSWORD).await;
        clients.push((area, client));
    }
    let router = app.router();
    let mut asked = 0;
    for route in route_table().iter().filter(|r| r.methods.contains(&"GET")) {
        let path = route.path.replace("{id}", &bluefin.to_string());
        let path = path
            .split('/')
            .map(|part| if part.starts_with('{') { "1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for pair in PAIRS {
            for text in HOSTILE {
                let uri = format!("{path}?{pair}{text}");
                let status = if path.starts_with("/api/") {
                    let answer = crate::api::call(&router, Method::GET, &uri, Some(&key), None);
                    answer.await.status
                } else if let Some((_, client)) =
                    clients.iter_mut().find(|(area, _)| path.starts_with(area))
                {
                    client.get(&uri).await.status
                } else {
                    continue;
                };
                asked += 1;
                assert!(!status.is_server_error(), "GET {uri} answered {status}");
            }
        }
    }
    assert!(asked > 1_000, "{asked} requests");
}

crate::on_both_databases!(every_route_reads_hostile_query_text_without_failing);
