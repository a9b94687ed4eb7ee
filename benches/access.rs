//! The access check under load: 10,000 companies of 100 learners, served on loopback, driven by
//! `wrk` (16 connections, random known and unknown emails) beside the server's plain
//! `/health/live` route in the same run, on SQLite and (when available) PostgreSQL. Prints
//! requests/s, p50 and p99 of each, the load average as each run ended (the machine may be
//! shared), and the access check's ratio to the plain route. A third run ("key only") refuses
//! the email after checking the key, to show what the key (remembered by the instance for up to
//! a second, `KEY_RECHECK`) and the request's parsing cost on their own.
//!
//! Run: `cargo bench --bench access` (needs `wrk` on PATH). `ACCESS_BENCH_COMPANIES` and
//! `ACCESS_BENCH_SECONDS` shrink it for a quick look.

mod common;

use std::process::Command;
use std::sync::Arc;

use jiff::Timestamp;
use seatledger::app::{self, Config};
use seatledger::clock::ManualClock;
use seatledger::db::api_keys::KeyOwner;
use seatledger::db::{Db, seed};
use seatledger::domain::KeyName;
use seatledger::domain::api_keys::Permissions;
use seatledger::email::transport::Transport;
use seatledger::ops::api_keys::{NewApiKey, create_for};
use seatledger::web::api::RateLimit;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What wrk measured, and the machine's load average (1 minute) as the run ended.
struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    load: String,
}

/// The 1-minute load average: how busy the (shared) machine was while wrk ran.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// A wrk latency such as `812.00us`, `1.23ms` or `1.01s`, in milliseconds.
fn millis(text: &str) -> f64 {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap();
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        other => panic!("unknown unit {other} in {text}"),
    }
}

/// Runs wrk against `url`; with `all_2xx`, any other answer fails the benchmark.
fn wrk(url: &str, script: Option<&std::path::Path>, seconds: u64, all_2xx: bool) -> Run {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c16", &format!("-d{seconds}s"), "--latency"]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let out = command
        .arg(url)
        .output()
        .expect("wrk runs (is it installed?)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        !all_2xx || !text.contains("Non-2xx"),
        "errors under load:\n{text}"
    );
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
            .trim()
            .to_owned()
    };
    Run {
        per_second: field("Requests/sec:").parse().unwrap(),
        p50_ms: millis(&field("50%")),
        p99_ms: millis(&field("99%")),
        load: load_average(),
    }
}

async fn bench(label: &'static str, db: Db) {
    let now: Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
    let companies = env_or("ACCESS_BENCH_COMPANIES", 10_000);
    let seconds = env_or("ACCESS_BENCH_SECONDS", 10);
    let seeded = std::time::Instant::now();
    seed::bulk(&db, "x", companies, 100, now).await.unwrap();
    let (first, last): (i64, i64) = sqlx::query_as(
        "SELECT MIN(id), MAX(id) FROM users WHERE is_learner = 1 AND email LIKE 'learner.%'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    println!(
        "{label:<9} seeded {companies} companies x 100 learners in {:.0} s",
        seeded.elapsed().as_secs_f64()
    );
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        transport: Transport::new(None, "seatledger <s@localhost>").unwrap(),
        webhooks: Default::default(),
        background: None,
        // The rate limit is measured, never reached.
        api_rate: RateLimit::per_second(u32::MAX / 4),
        metrics: Default::default(),
        trust_forwarded_for: false,
    };
    let clock = Arc::new(ManualClock::at(now));
    let running = app::start(db.clone(), clock, config, std::future::pending())
        .await
        .unwrap();
    let new = NewApiKey {
        name: KeyName::parse("benchmark").unwrap(),
        permissions: Permissions::parse(["access:check"]).unwrap(),
        expires_at: None,
    };
    let key = create_for(&running.app.ops, KeyOwner::Operator, &new, None)
        .await
        .unwrap()
        .key;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("access.lua");
    // Four in five emails are known learners; the rest are nobody's.
    std::fs::write(
        &script,
        format!(
            r#"math.randomseed(42)
local headers = {{["Authorization"] = "Bearer {key}", ["Content-Type"] = "application/json"}}
request = function()
  local email
  if math.random() < 0.8 then
    email = "learner." .. math.random({first}, {last}) .. "@bench.example"
  else
    email = "nobody." .. math.random(1, 1000000000) .. "@bench.example"
  end
  return wrk.format("POST", "/api/v1/access-checks", headers, '{{"email":"' .. email .. '"}}')
end
"#
        ),
    )
    .unwrap();
    // What the key alone costs: the same call with a value that is not an email, refused (422)
    // after the key is checked and before any user is read.
    let key_only = dir.path().join("key_only.lua");
    std::fs::write(
        &key_only,
        format!(
            r#"local headers = {{["Authorization"] = "Bearer {key}", ["Content-Type"] = "application/json"}}
request = function()
  return wrk.format("POST", "/api/v1/access-checks", headers, '{{"email":"nobody"}}')
end
"#
        ),
    )
    .unwrap();
    let base = format!("http://{}", running.address);
    let measured = tokio::task::spawn_blocking(move || {
        let hello = wrk(&format!("{base}/health/live"), None, seconds, true);
        let url = format!("{base}/api/v1/access-checks");
        let access = wrk(&url, Some(&script), seconds, true);
        let key = wrk(&url, Some(&key_only), seconds, false);
        (hello, access, key)
    })
    .await
    .unwrap();
    let (hello, access, key) = measured;
    for (name, run) in [
        ("hello-world", &hello),
        ("access check", &access),
        ("key only", &key),
    ] {
        println!(
            "{label:<9} {name:<13} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  load {}",
            run.per_second, run.p50_ms, run.p99_ms, run.load
        );
    }
    println!(
        "{label:<9} access check / hello-world throughput: {:.2}x",
        access.per_second / hello.per_second
    );
    running.stop().await.unwrap();
}

fn main() {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::on_each_database("seatledger_bench_access", bench));
}
