//! Every page of the company area and of the partner area, timed whole (session, queries,
//! template) on a small database and on a large one, on SQLite and (when available) PostgreSQL;
//! each figure is the median of 21 requests, taken in turn with the other database's so that the
//! machine's other work weighs on both alike, and the ratio large/small should stay within 1.5x.
//!
//! - Company pages are those of one company of 100 learners (30 of them without a seat), the
//!   same in both databases; around it the small database holds 1,000 more learners and the
//!   large one COMPANIES x LEARNERS (default 10,000 x 100: a million).
//! - Partner pages are those of the bulk partner: 100 companies in the small database,
//!   COMPANIES in the large one. Its Company search is for a name three of them carry in both,
//!   and for a text every name holds.
//! - PostgreSQL's databases are vacuumed and analysed once seeded, as autovacuum keeps a
//!   database in service.
//!
//! Run: `cargo bench --bench pages` or, smaller, `cargo bench --bench pages -- 1000 100`.

#[path = "common/pages.rs"]
mod timing;
#[path = "common/worlds.rs"]
mod worlds;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::uploads::{self, NewUpload, Purpose};
use seatledger::db::{Actor, Db, seed, sessions};
use seatledger::domain::{CompanyId, Role, UserId};
use seatledger::imports::csv_table;
use seatledger::ops::{self, Caller};

const RUNS: usize = 21;

fn now() -> Timestamp {
    "2026-11-26T09:00:00Z".parse().unwrap()
}

/// The companies renamed to be searched for (`SEARCH` finds them in both databases), and the
/// seeded names they replace, all within the small database's 100.
const SEARCHED: [(&str, &str); 3] = [
    ("Harbour Lights Dental", "Company 1000007"),
    ("Old Harbour Bakery", "Company 1000042"),
    ("Harbourside Surveyors", "Company 1000091"),
];
const SEARCH: &str = "harbour";

/// One seeded database and the sessions to read its pages with.
struct World {
    db: Db,
    app: App,
    manager: String,
    admin: String,
    upload: i64,
}

async fn seed_world(db: Db, companies: u64, learners: u64) -> World {
    let now = now();
    let started = Instant::now();
    let partner = seed::bulk(&db, "x", companies, learners, now)
        .await
        .unwrap()
        .partner;
    let seeded = started.elapsed();
    // Three customers a partner would search for by name, as a user does: the seed's names
    // ("Company 1000042") share their digits' trigrams, so any part of one is read as common.
    for (name, from) in SEARCHED {
        sqlx::query("UPDATE companies SET name = $1 WHERE partner_id = $2 AND name = $3")
            .bind(name)
            .bind(partner.0)
            .bind(from)
            .execute(db.pool())
            .await
            .unwrap();
    }
    // The measured company: the second of its own bulk partner (the first is on a trial).
    let own = seed::bulk(&db, "x", 2, 100, now).await.unwrap().partner;
    let company = CompanyId(
        sqlx::query_scalar("SELECT MAX(id) FROM companies WHERE partner_id = $1")
            .bind(own.0)
            .fetch_one(db.pool())
            .await
            .unwrap(),
    );
    let manager: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE company_id = $1 AND is_manager = 1")
            .bind(company.0)
            .fetch_one(db.pool())
            .await
            .unwrap();
    let app = App::new(
        db.clone(),
        Arc::new(ManualClock::at(now)),
        "http://127.0.0.1:8080",
    );
    // 30 learners lose their seat, so every tab has rows.
    let caller = Caller {
        role: Role::Company {
            company,
            manager: true,
            learner: false,
        },
        actor: Actor::user(UserId(manager)),
    };
    let authorised = ops::authorise(&app.ops, &caller, company).await.unwrap();
    let seated: Vec<i64> = sqlx::query_scalar(
        "SELECT user_id FROM seats WHERE company_id = $1 AND ended_at IS NULL ORDER BY id LIMIT 30",
    )
    .bind(company.0)
    .fetch_all(db.pool())
    .await
    .unwrap();
    for user in seated {
        ops::seats::release(&app.ops, &caller, &authorised, UserId(user))
            .await
            .unwrap();
    }
    // A 100-row renewal file naming the company's learners.
    let emails: Vec<String> = sqlx::query_scalar(
        "SELECT email FROM users WHERE company_id = $1 AND is_learner = 1 ORDER BY id",
    )
    .bind(company.0)
    .fetch_all(db.pool())
    .await
    .unwrap();
    let mut file = String::from("Email\r\n");
    for email in &emails {
        file.push_str(email);
        file.push_str("\r\n");
    }
    let parsed = csv_table::read(file.as_bytes()).unwrap().to_bytes();
    let upload = uploads::store(
        &db,
        &NewUpload {
            company,
            purpose: Purpose::Renewal,
            file_name: "renewal.csv",
            parsed: &parsed,
            encoding: "utf-8",
            by: None,
        },
        u64::MAX,
        now,
    )
    .await
    .unwrap()
    .unwrap();
    println!(
        "  seeded {companies} x {learners} in {:.1} s",
        seeded.as_secs_f64()
    );
    worlds::settle(&db).await;
    World {
        manager: sessions::create(&db, UserId(manager), now).await.unwrap(),
        admin: timing::admin_session(&db, partner, now).await,
        upload: upload.0,
        db,
        app,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The pages timed: name, whose session, path.
fn pages(upload: i64) -> Vec<(&'static str, bool, String)> {
    let company = |name, path: &str| (name, true, path.to_owned());
    let partner = |name, path: &str| (name, false, path.to_owned());
    vec![
        company("company Overview", "/company"),
        company("Licenses: Available", "/company/licenses?tab=available"),
        company("Licenses: Allocated", "/company/licenses?tab=allocated"),
        company("Licenses: Expiring", "/company/licenses?tab=expiring"),
        company("Licenses: Expired", "/company/licenses?tab=expired"),
        company("Users", "/company/users"),
        (
            "Renewal preview (100 rows)",
            true,
            format!("/company/licenses/renewal/{upload}"),
        ),
        partner("partner Company", "/partner"),
        (
            "partner Company, search",
            false,
            format!("/partner?q={SEARCH}"),
        ),
        // A text every seeded name holds.
        partner("  search held by every name", "/partner?q=company"),
        // The Company list by status: one company in ten is on a trial, none has expired.
        partner("  Free Trial", "/partner?status=trial"),
        partner("  Expired", "/partner?status=expired"),
        partner("  Premium", "/partner?status=premium"),
        partner("Licences: Requested", "/partner/licences?tab=requested"),
        partner("Licences: Assigned", "/partner/licences?tab=assigned"),
        partner("Licences: My Orders", "/partner/licences?tab=mine"),
        partner("Licences: Overview", "/partner/licences/overview"),
        partner("Activity", "/partner/activity"),
    ]
}

/// The median time of each page in `small` and in `large`, their loads taken in turn, so that
/// whatever else the machine does weighs on both alike.
async fn time_pages(small: &World, large: &World) -> Vec<(Duration, Duration)> {
    let mut times = Vec::new();
    for (_, as_manager, path) in pages(small.upload) {
        let token = |world: &World| {
            if as_manager {
                world.manager.clone()
            } else {
                world.admin.clone()
            }
        };
        let large_path = path.replace(
            &format!("/renewal/{}", small.upload),
            &format!("/renewal/{}", large.upload),
        );
        let (mut a, mut b) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
        for _ in 0..RUNS {
            a.push(timing::median(&small.app, &token(small), &path, 1).await);
            b.push(timing::median(&large.app, &token(large), &large_path, 1).await);
        }
        times.push((timing::middle(a), timing::middle(b)));
    }
    times
}

async fn compare(label: &str, small: Db, large: Db, companies: u64, learners: u64) {
    println!("{label}:");
    let small = seed_world(small, 100, 10).await;
    let large = seed_world(large, companies, learners).await;
    let load_before = load_average();
    let times = time_pages(&small, &large).await;
    println!(
        "  load average {load_before} before, {} after",
        load_average()
    );
    let big = companies * learners;
    println!(
        "  {:<28} {:>10} {:>12} {:>7}",
        "page",
        "1k learners",
        format!("{big} learners"),
        "ratio"
    );
    let mut worst: f64 = 0.0;
    for ((name, _, _), (a, b)) in pages(small.upload).iter().zip(&times) {
        let ratio = b.as_secs_f64() / a.as_secs_f64();
        worst = worst.max(ratio);
        println!(
            "  {name:<28} {:>8.2} ms {:>10.2} ms {:>6.2}x{}",
            a.as_secs_f64() * 1000.0,
            b.as_secs_f64() * 1000.0,
            ratio,
            if ratio > 1.5 { "  OVER 1.5x" } else { "" }
        );
    }
    println!("  worst ratio {worst:.2}x");
    small.db.close().await;
    large.db.close().await;
}

async fn run(companies: u64, learners: u64) {
    worlds::small_and_large("pages", async |backend, small, large| {
        compare(backend, small, large, companies, learners).await
    })
    .await;
}

fn main() {
    // `cargo bench` passes `--bench`; the sizes are the numbers after `--`.
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let companies = sizes.first().copied().unwrap_or(10_000);
    let learners = sizes.get(1).copied().unwrap_or(100);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run(companies, learners));
}
