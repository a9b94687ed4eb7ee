//! One expiry pass over 10,000 companies (1,000 on trial, 9,000 licensed) with 10 due, on SQLite
//! and (when `SEATLEDGER_TEST_POSTGRES` answers) PostgreSQL. The pass should cost what is due,
//! not what exists: compare it with a pass when nothing is due.
//!
//! Run: `cargo bench --bench pass`

mod common;

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use seatledger::db::{Db, seed};
use seatledger::ops::Ops;
use seatledger::ops::expiry::run_pass;

const COMPANIES: u64 = 10_000;
const LEARNERS: u64 = 10;
const DUE: i64 = 10;

async fn bench(label: &str, db: Db) {
    let db = &db;
    let now: Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
    let started = Instant::now();
    seed::bulk(db, "not-a-real-hash", COMPANIES, LEARNERS, now)
        .await
        .unwrap();
    let seeded = started.elapsed();
    let later = now + SignedDuration::from_hours(24);

    // Nothing is due a day after seeding: trials end in 20 days, licences in 11 months.
    let idle = time_pass(db, later).await;

    // Make 10 trials end within 72 hours and fall due.
    sqlx::query(
        "UPDATE companies SET trial_ends_at = $1, trial_due_at = $2 WHERE id IN \
         (SELECT id FROM companies WHERE licensed_until IS NULL ORDER BY id LIMIT $3)",
    )
    .bind((later + SignedDuration::from_hours(48)).as_second())
    .bind((later - SignedDuration::from_hours(24)).as_second())
    .bind(DUE)
    .execute(db.pool())
    .await
    .unwrap();
    let started = Instant::now();
    let report = run_pass(&ops_at(db, later), later).await.unwrap();
    let due = started.elapsed();
    assert_eq!(report.trials_ending, DUE as u64);
    let again = time_pass(db, later).await;

    println!(
        "{label:<10} seed {COMPANIES} companies x {LEARNERS} learners: {:>7.2} s | pass, nothing due: {:>7.3} ms | pass, {DUE} due: {:>7.3} ms | next pass: {:>7.3} ms",
        seeded.as_secs_f64(),
        ms(idle),
        ms(due),
        ms(again)
    );
}

async fn time_pass(db: &Db, at: Timestamp) -> Duration {
    let started = Instant::now();
    run_pass(&ops_at(db, at), at).await.unwrap();
    started.elapsed()
}

fn ops_at(db: &Db, now: Timestamp) -> Ops {
    let clock = std::sync::Arc::new(seatledger::clock::ManualClock::at(now));
    Ops::new(db.clone(), clock, "http://127.0.0.1:8080")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::on_each_database("seatledger_bench_pass", bench));
}
