//! The partner's Company section (the whole page: session, query, template) for a partner with
//! 100 companies and one with 10,000, in the same run, on SQLite and (when available) PostgreSQL.
//! Each figure is the median of 25 requests.
//!
//! Run: `cargo bench --bench company_page`

mod common;
#[path = "common/pages.rs"]
mod timing;

use jiff::Timestamp;
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::{Db, seed};
use std::sync::Arc;

const RUNS: usize = 25;

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
        let token = timing::admin_session(&db, partner, now).await;
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
            let took = timing::median(&app, &token, path, RUNS).await;
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
