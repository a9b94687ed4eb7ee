//! The partner's Company section (the whole page: session, query, template) for a partner with
//! 100 companies and one with 10,000, in the same run, on SQLite and (when available) PostgreSQL.
//! Each figure is the median of 25 requests.
//!
//! Run: `cargo bench --bench company_page`

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jiff::Timestamp;
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::users::{self, NewUser};
use seatledger::db::{Db, seed, sessions};
use seatledger::domain::{Email, PartnerId, PersonName, Role};
use seatledger::web::SESSION_COOKIE;
use tower::ServiceExt;

const RUNS: usize = 25;

async fn admin_session(db: &Db, partner: PartnerId, now: Timestamp) -> String {
    let mut tx = db.begin_write().await.unwrap();
    let email = Email::parse(&format!("bench-admin-{partner}@bench.example")).unwrap();
    let user = users::create(
        &mut tx,
        &NewUser {
            email: &email,
            first_name: &PersonName::parse("Bench").unwrap(),
            last_name: &PersonName::parse("Admin").unwrap(),
            department: None,
            password_hash: None,
            role: Role::Partner {
                partner,
                admin: true,
            },
        },
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sessions::create(db, user, now).await.unwrap()
}

async fn median(app: &App, token: &str, path: &str) -> Duration {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let request = Request::get(path)
            .header(header::COOKIE, format!("{SESSION_COOKIE}={token}"))
            .body(Body::empty())
            .unwrap();
        let started = Instant::now();
        let response = app.router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    times[RUNS / 2]
}

async fn bench(label: &str, db: Db) {
    let now: Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
    let small = seed::bulk(&db, "x", 100, 10, now).await.unwrap().partner;
    let large = seed::bulk(&db, "x", 10_000, 10, now).await.unwrap().partner;
    let app = App::new(
        db.clone(),
        Arc::new(ManualClock::at(now)),
        "http://127.0.0.1:8080",
    );
    for (partner, companies) in [(small, 100), (large, 10_000)] {
        let token = admin_session(&db, partner, now).await;
        let mut line = format!("{label:<9} {companies:>6} companies:");
        for (name, path) in [
            ("first page", "/partner"),
            (
                "page after 'Company 1000050'",
                "/partner?after_name=Company%201000050&after_id=0",
            ),
            ("Premium only", "/partner?status=premium"),
            ("search '10000'", "/partner?q=10000"),
            ("overview by name", "/partner/licences/overview"),
            (
                "overview by expired learners",
                "/partner/licences/overview?sort=expired&dir=desc",
            ),
        ] {
            let took = median(&app, &token, path).await;
            line.push_str(&format!(" {name} {:.2} ms |", took.as_secs_f64() * 1000.0));
        }
        println!("{line}");
    }
}

fn main() {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::on_each_database(
            "seatledger_bench_company_page",
            bench,
        ));
}
