//! Licences → Overview at scale: the first page, a page sorted by a seat column (its first page
//! and the next one, from the cursor the page links to), and the CSV export of every company,
//! timed whole (session, queries, template or stream) for the bulk partner with 100 companies
//! and with COMPANIES (default 10,000), on SQLite and (when available) PostgreSQL. Each page
//! figure is the median of 15 requests, the export's of 5; the load average is printed beside,
//! since the machine is shared.
//!
//! Run: `cargo bench --bench overview` or `cargo bench --bench overview -- COMPANIES LEARNERS`.

#[path = "common/pages.rs"]
mod timing;
#[path = "common/worlds.rs"]
mod worlds;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jiff::Timestamp;
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::{Db, seed};
use seatledger::web::SESSION_COOKIE;
use tower::ServiceExt;

const RUNS: usize = 15;
const EXPORT_RUNS: usize = 5;

fn now() -> Timestamp {
    "2026-11-26T09:00:00Z".parse().unwrap()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

struct World {
    app: App,
    db: Db,
    admin: String,
    companies: u64,
}

async fn seed_world(db: Db, companies: u64, learners: u64) -> World {
    let started = Instant::now();
    let partner = seed::bulk(&db, "x", companies, learners, now())
        .await
        .unwrap()
        .partner;
    println!(
        "  seeded {companies} companies x {learners} learners in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    worlds::settle(&db).await;
    let app = App::new(
        db.clone(),
        Arc::new(ManualClock::at(now())),
        "http://127.0.0.1:8080",
    );
    World {
        admin: timing::admin_session(&db, partner, now()).await,
        app,
        db,
        companies,
    }
}

/// The body of `path` as the admin reads it.
async fn body(world: &World, path: &str) -> String {
    let request = Request::get(path)
        .header(header::COOKIE, format!("{SESSION_COOKIE}={}", world.admin))
        .body(Body::empty())
        .unwrap();
    let response = world.app.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The link the page marks `rel="next"`, as a browser reads it: none when the list is one page.
fn next_link(page: &str) -> Option<String> {
    let end = page.find(r#"" rel="next""#)?;
    let start = page[..end].rfind("href=\"").unwrap() + "href=\"".len();
    Some(page[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

/// The timed requests: name, path (none for a next page the list does not have), runs.
async fn requests(world: &World) -> Vec<(&'static str, Option<String>, usize)> {
    let sorted = "/partner/licences/overview?sort=total&dir=desc";
    let second = next_link(&body(world, sorted).await);
    let csv = body(world, "/partner/licences/overview.csv?sort=total&dir=desc").await;
    // Header, one line per company, totals.
    assert_eq!(csv.lines().count() as u64, world.companies + 2);
    let path = |p: &str| Some(p.to_owned());
    vec![
        (
            "Overview, first page",
            path("/partner/licences/overview"),
            RUNS,
        ),
        ("Overview by seats total", path(sorted), RUNS),
        ("  its next page", second, RUNS),
        (
            "Overview by next expiry, filtered",
            path("/partner/licences/overview?status=premium&sort=next_expiry"),
            RUNS,
        ),
        (
            "Overview CSV (every company)",
            path("/partner/licences/overview.csv?sort=total&dir=desc"),
            EXPORT_RUNS,
        ),
        (
            "Company section by end date",
            path("/partner?sort=ends&dir=desc"),
            RUNS,
        ),
    ]
}

async fn time(world: &World) -> Vec<(&'static str, Option<Duration>)> {
    let mut times = Vec::new();
    for (name, path, runs) in requests(world).await {
        let time = match path {
            Some(path) => Some(timing::median(&world.app, &world.admin, &path, runs).await),
            None => None,
        };
        times.push((name, time));
    }
    times
}

async fn compare(label: &str, small: Db, large: Db, companies: u64, learners: u64) {
    println!("{label}:");
    let small = seed_world(small, 100, learners).await;
    let large = seed_world(large, companies, learners).await;
    let load_before = load_average();
    let (a, b) = (time(&small).await, time(&large).await);
    println!(
        "  load average {load_before} before, {} after",
        load_average()
    );
    println!(
        "  {:<36} {:>14} {:>18} {:>7}",
        "request",
        "100 companies",
        format!("{companies} companies"),
        "ratio"
    );
    let ms = |t: &Option<Duration>| {
        t.map_or("one page".to_owned(), |t| {
            format!("{:.2} ms", t.as_secs_f64() * 1000.0)
        })
    };
    for ((name, a), (_, b)) in a.iter().zip(&b) {
        let ratio = match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}x", b.as_secs_f64() / a.as_secs_f64()),
            _ => "—".to_owned(),
        };
        println!("  {name:<36} {:>14} {:>18} {ratio:>7}", ms(a), ms(b));
    }
    small.db.close().await;
    large.db.close().await;
}

async fn run(companies: u64, learners: u64) {
    worlds::small_and_large("overview", async |backend, small, large| {
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
    let learners = sizes.get(1).copied().unwrap_or(10);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run(companies, learners));
}
