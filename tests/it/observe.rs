//! What operators watch: `/metrics` (behind its bearer token or on its own listener), the health
//! checks, and logs as JSON.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use seatledger::app::{self, Config, MetricsAccess};
use seatledger::clock::ManualClock;
use seatledger::email::transport::Transport;
use seatledger::jobs::Intervals;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::licences::{echo, echo_manager};
use crate::smtp::SmtpSink;
use crate::support::at;
use crate::web::{NOW, demo_app};

/// Status, content type and body of one request to `router`.
async fn call(
    router: &axum::Router,
    path: &str,
    bearer: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = Request::get(path);
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, kind, String::from_utf8_lossy(&body).into_owned())
}

/// The value of the sample `name` (with its labels, as written) in a Prometheus text page.
fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

async fn pending_emails(db: &seatledger::db::Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_answer_only_the_bearer_token_and_count_routes_by_pattern_and_seats() {
    let (db, app, _) = demo_app().await;
    let without_token = app.router();
    assert_eq!(
        call(&without_token, "/metrics", Some("anything")).await.0,
        StatusCode::NOT_FOUND,
        "no token configured: no /metrics on the main listener"
    );
    let app = app.with_metrics_token(Some("s3cret-scrape-token".into()));
    let router = app.router();
    assert_eq!(
        call(&router, "/metrics", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&router, "/metrics", Some("s3cret-scrape-toke"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let company = echo(&db).await;
    crate::support::World { db: &db }
        .batch(company, 5, at(NOW))
        .await;
    let learner5: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'learner5@echo.example'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let mut manager = echo_manager(&app).await;
    let learner = learner5.to_string();
    let allocated = manager
        .post("/company/licenses/allocate", &[("user", &learner)])
        .await;
    assert_eq!(allocated.status, StatusCode::SEE_OTHER);
    let deactivated = manager
        .post(&format!("/company/users/{learner5}/deactivate"), &[])
        .await;
    assert_eq!(
        deactivated.status,
        StatusCode::SEE_OTHER,
        "{}",
        deactivated.body
    );
    manager.get("/no/such/page/123").await;

    let (status, kind, page) = call(&router, "/metrics", Some("s3cret-scrape-token")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    let requests = "seatledger_http_request_duration_seconds";
    assert_eq!(
        sample(
            &page,
            &format!(
                r#"{requests}_count{{method="POST",route="/company/licenses/allocate",status="303"}}"#
            )
        ),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            &format!(
                r#"{requests}_count{{method="POST",route="/company/users/{{id}}/deactivate",status="303"}}"#
            )
        ),
        Some(1.0),
        "counted under its pattern, not its id: {page}"
    );
    assert!(
        !page.contains(&format!("/company/users/{learner5}")),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            &format!(r#"{requests}_count{{method="GET",route="unmatched",status="404"}}"#)
        ),
        Some(1.0),
        "{page}"
    );
    assert!(page.contains(&format!(
        r#"{requests}_bucket{{le="0.001",method="POST",route="/company/licenses/allocate",status="303"}}"#
    )) || page.contains(&format!(
        r#"{requests}_bucket{{method="POST",route="/company/licenses/allocate",status="303",le="0.001"}}"#
    )), "latency buckets: {page}");
    assert_eq!(sample(&page, "seatledger_seats_allocated_total"), Some(1.0));
    assert_eq!(
        sample(
            &page,
            r#"seatledger_seats_released_total{reason="user_deactivated"}"#
        ),
        Some(1.0),
        "{page}"
    );
    let waiting = pending_emails(&db).await;
    assert_eq!(
        sample(&page, r#"seatledger_outbox_waiting{kind="email"}"#),
        Some(waiting as f64)
    );
    assert_eq!(
        sample(&page, r#"seatledger_outbox_waiting{kind="webhook"}"#),
        Some(0.0)
    );
    assert!(
        sample(
            &page,
            r#"seatledger_outbox_oldest_age_seconds{kind="email"}"#
        )
        .is_some(),
        "{page}"
    );
}

#[tokio::test]
async fn readiness_needs_the_database_and_current_migrations_liveness_only_the_process() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let (status, _, body) = call(&router, "/health/live", None).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"status":"ok"}"#)
    );
    let (status, _, body) = call(&router, "/health/ready", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#""migrations":"current""#), "{body}");

    // A database one migration behind this binary is not ready for it.
    sqlx::query("DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)")
        .execute(db.pool())
        .await
        .unwrap();
    let (status, _, body) = call(&router, "/health/ready", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains(r#""migrations":"behind""#), "{body}");
    assert_eq!(call(&router, "/health/live", None).await.0, StatusCode::OK);

    db.close().await;
    let (status, _, body) = call(&router, "/health/ready", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains(r#""database":"unreachable""#), "{body}");
}

/// One GET over a real socket; status line and body.
async fn http_get(address: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[tokio::test]
async fn the_metrics_listener_shows_passes_and_deliveries_of_the_running_server() {
    let (db, _, _) = demo_app().await;
    let sink = SmtpSink::start().await;
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        transport: Transport::new(Some(&sink.url()), "seatledger <s@localhost>").unwrap(),
        webhooks: Default::default(),
        trust_forwarded_for: false,
        background: Some(Intervals {
            pass: Duration::from_millis(50),
            delivery: Duration::from_millis(50),
        }),
        metrics: MetricsAccess {
            token: None,
            listen: Some("127.0.0.1:0".parse().unwrap()),
        },
    };
    let clock = Arc::new(ManualClock::at(at(NOW)));
    let running = app::start(db.db.clone(), clock, config, std::future::pending())
        .await
        .unwrap();
    let metrics = running.metrics_address.expect("a metrics listener");
    assert_eq!(
        http_get(running.address, "/metrics").await.0,
        "HTTP/1.1 404 Not Found",
        "the main listener has no /metrics without a token"
    );
    // The server works in the background: watch the metrics until a pass has queued its emails
    // and they have all gone.
    let mut page = String::new();
    for _ in 0..400 {
        let (status, body) = http_get(metrics, "/metrics").await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        page = body;
        let passed = sample(&page, "seatledger_expiry_pass_duration_seconds_count");
        let waiting = sample(&page, r#"seatledger_outbox_waiting{kind="email"}"#);
        if passed.unwrap_or(0.0) >= 1.0 && waiting == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pending_emails(&db).await, 0, "{page}");
    let delivered = sink.messages().len() as f64;
    assert!(delivered > 0.0);
    // The page may have been read between a send and its count: read it once more.
    let (_, page) = http_get(metrics, "/metrics").await;
    assert_eq!(
        sample(&page, r#"seatledger_deliveries_total{kind="email"}"#),
        Some(delivered),
        "{page}"
    );
    assert!(
        sample(&page, "seatledger_expiry_pass_duration_seconds_count").unwrap_or(0.0) >= 1.0,
        "{page}"
    );
    assert!(
        sample(
            &page,
            r#"seatledger_expiry_pass_items_total{item="trials_ending"}"#
        )
        .is_some(),
        "{page}"
    );
    running.stop().await.unwrap();
}

#[test]
fn logs_are_one_json_object_a_line_with_log_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("log.db").display());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_seatledger"))
        .args(["--database", &database, "--log-format", "json", "migrate"])
        .env("SEATLEDGER_LOG", "info")
        .output()
        .unwrap();
    assert!(output.status.success());
    let log = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let applied = lines
        .iter()
        .find(|l| l["fields"]["message"] == "applied migration")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(applied["level"], "INFO");
    assert_eq!(applied["fields"]["version"], 1);
}
