//! Import Licence Renewal of a 100,000-row file: parse, preview and apply, on SQLite and (when
//! available) PostgreSQL, next to the same machine's time for one raw transaction inserting
//! 100,000 rows, printed as a ratio.
//!
//! Run: `cargo bench --bench renewal`

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use seatledger::clock::ManualClock;
use seatledger::db::uploads::{self, NewUpload, Purpose};
use seatledger::db::{Actor, Db, seats, seed};
use seatledger::domain::{CompanyId, Role, SeatCount};
use seatledger::imports::csv_table;
use seatledger::ops::renewal::Renewing;
use seatledger::ops::{self, Caller, Ops, renewal};

const ROWS: u64 = 100_000;

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

async fn raw_insert(db: &Db) -> Duration {
    sqlx::query("CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, email TEXT NOT NULL)")
        .execute(db.pool())
        .await
        .unwrap();
    let started = Instant::now();
    let mut tx = db.begin_write().await.unwrap();
    let chunk = 500u64;
    for start in (0..ROWS).step_by(chunk as usize) {
        let values: Vec<String> = (0..chunk)
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO bench_rows (id, email) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in start..start + chunk {
            query = query.bind(id as i64).bind(format!("row{id}@bench.example"));
        }
        query.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    started.elapsed()
}

async fn bench(label: &str, db: Db) {
    let now: Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
    // One company of 100,000 learners whose trial has ended, and a batch with a seat for each.
    let seeded = seed::bulk(&db, "x", 1, ROWS, now).await.unwrap();
    let company: i64 =
        sqlx::query_scalar("SELECT id FROM companies WHERE partner_id = $1 AND internal = 0")
            .bind(seeded.partner.0)
            .fetch_one(db.pool())
            .await
            .unwrap();
    let company = CompanyId(company);
    sqlx::query("UPDATE companies SET trial_ends_at = $1, trial_due_at = NULL WHERE id = $2")
        .bind((now - SignedDuration::from_hours(24)).as_second())
        .bind(company.0)
        .execute(db.pool())
        .await
        .unwrap();
    let mut tx = db.begin_write().await.unwrap();
    seats::assign_batch(
        &mut tx,
        company,
        None,
        seatledger::domain::OrderKind::Premium,
        SeatCount::new(ROWS as i64).unwrap(),
        Actor::SYSTEM,
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let emails: Vec<String> = sqlx::query_scalar(
        "SELECT email FROM users WHERE company_id = $1 AND is_learner = 1 ORDER BY id",
    )
    .bind(company.0)
    .fetch_all(db.pool())
    .await
    .unwrap();
    let mut file = String::from("First name,Department,Email\r\n");
    for (i, email) in emails.iter().enumerate() {
        file.push_str(&format!("Learner {i},Sales,{}\r\n", email.to_uppercase()));
    }

    let started = Instant::now();
    let table = csv_table::read(file.as_bytes()).unwrap();
    assert_eq!(table.row_count() as u64, ROWS);
    let parsed = table.to_bytes();
    let new = NewUpload {
        company,
        purpose: Purpose::Renewal,
        file_name: "bench.csv",
        parsed: &parsed,
        encoding: "utf-8",
        by: None,
    };
    let upload = uploads::store(&db, &new, u64::MAX, now)
        .await
        .unwrap()
        .unwrap();
    let parse = started.elapsed();

    let ops = Ops::new(
        db.clone(),
        Arc::new(ManualClock::at(now)),
        "http://127.0.0.1:8080",
    );
    let manager = Caller {
        role: Role::Company {
            company,
            manager: true,
            learner: false,
        },
        actor: Actor::SYSTEM,
    };
    let authorised = ops::authorise(&ops, &manager, company).await.unwrap();
    let started = Instant::now();
    let preview = renewal::preview(
        &ops,
        &manager,
        &authorised,
        &Renewing::Upload {
            id: upload,
            column: None,
        },
    )
    .await
    .unwrap();
    let preview_time = started.elapsed();
    assert_eq!(preview.renewed().len() as u64, ROWS);

    let started = Instant::now();
    let applied = renewal::apply(
        &ops,
        &manager,
        &authorised,
        &Renewing::Upload {
            id: upload,
            column: Some(2),
        },
    )
    .await
    .unwrap();
    let apply = started.elapsed();
    assert_eq!(applied.renewed().len() as u64, ROWS);

    let raw = raw_insert(&db).await;
    let total = parse + preview_time + apply;
    println!(
        "{label:<9} {ROWS} rows: parse+store {:.2} s | preview {:.2} s | apply {:.2} s | total {:.2} s | raw insert of {ROWS} rows {:.2} s | apply/raw {:.1}x | total/raw {:.1}x",
        secs(parse),
        secs(preview_time),
        secs(apply),
        secs(total),
        secs(raw),
        secs(apply) / secs(raw),
        secs(total) / secs(raw),
    );
    let report = seatledger::db::check::run(&db).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

fn main() {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::on_each_database("seatledger_bench_renewal", bench));
}
