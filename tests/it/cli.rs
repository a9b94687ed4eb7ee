//! The `seatledger` binary as an operator runs it.

use std::process::{Command, Output};

use seatledger::db::companies;
use seatledger::db::{Backend, Scope};

use crate::on_both_databases;
use crate::support::{TestDb, World, t0};

pub(crate) fn seatledger(database: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seatledger"))
        .arg("--database")
        .arg(database)
        .args(args)
        .env("SEATLEDGER_LOG", "warn")
        .output()
        .expect("run seatledger")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

on_both_databases!(
    demo_passes_check_and_a_tampered_batch_fails_it,
    bulk_seed_creates_what_was_asked_and_passes_check,
    long_work_writes_plain_progress_lines_when_stderr_is_not_a_terminal,
);

async fn long_work_writes_plain_progress_lines_when_stderr_is_not_a_terminal(db: TestDb) {
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    // Off a terminal the progress is logged, at the default level.
    let seatledger = |database: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_seatledger"))
            .arg("--database")
            .arg(database)
            .args(args)
            .env("SEATLEDGER_LOG", "info,sqlx=warn")
            .output()
            .expect("run seatledger")
    };
    let migrate = seatledger(&db.url, &["migrate"]);
    assert!(migrate.status.success(), "{migrate:?}");
    assert!(
        stderr(&migrate).contains("migrate: migrations: 100%"),
        "{}",
        stderr(&migrate)
    );
    let demo = seatledger(&db.url, &["demo", "--companies", "3", "--learners", "2"]);
    assert!(demo.status.success(), "{demo:?}");
    let progress = stderr(&demo);
    assert!(progress.contains("demo: tables filled: 100%"), "{progress}");
    assert!(
        !progress.contains('\r'),
        "no bar redrawn in place off a terminal"
    );
    let check = seatledger(&db.url, &["check"]);
    assert!(check.status.success(), "{check:?}");
    let lines = stderr(&check);
    assert!(
        lines.contains("check: seat events replayed: 100%"),
        "{lines}"
    );
    assert!(
        !stdout(&check).contains("replayed"),
        "stdout keeps only the result"
    );
}

async fn demo_passes_check_and_a_tampered_batch_fails_it(db: TestDb) {
    let demo = seatledger(&db.url, &["demo", "--now", "2026-11-26T09:00:00Z"]);
    assert!(demo.status.success(), "{demo:?}");
    let logins = stdout(&demo);
    for expected in [
        "partner admin    Bluefin IT",
        "admin@bluefin.example",
        "manager@cobalt.example",
        "trial expired",
        "premium, batch expires within 72 h",
        "demo-password",
    ] {
        assert!(
            logins.contains(expected),
            "{expected:?} missing from:\n{logins}"
        );
    }

    let check = seatledger(&db.url, &["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    assert!(stdout(&check).contains("all invariants hold"));

    let batch: i64 = sqlx::query_scalar("SELECT MIN(id) FROM licence_batches WHERE nfr = 0")
        .fetch_one(db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE licence_batches SET allocated = allocated - 1 WHERE id = $1")
        .bind(batch)
        .execute(db.pool())
        .await
        .unwrap();
    let check = seatledger(&db.url, &["check"]);
    assert!(!check.status.success());
    assert!(
        stdout(&check).contains(&format!(
            "BROKEN: batch {batch} counts 2 seats allocated but 3 seats are held"
        )),
        "{}",
        stdout(&check)
    );

    let again = seatledger(&db.url, &["demo"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));
}

/// Every index, constraint and trigger of the schema, as the database describes it.
async fn schema(db: &TestDb) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master"
        }
        Backend::Postgres => {
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() UNION ALL \
             SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE connamespace = CAST(current_schema() AS regnamespace)"
        }
    };
    let mut schema: Vec<String> = sqlx::query_scalar(sql).fetch_all(db.pool()).await.unwrap();
    schema.sort();
    schema
}

async fn bulk_seed_creates_what_was_asked_and_passes_check(db: TestDb) {
    // PostgreSQL's seed sets indexes and foreign keys aside while it loads.
    let before = schema(&db).await;
    for _ in 0..2 {
        let seed = seatledger(&db.url, &["demo", "--companies", "20", "--learners", "5"]);
        assert!(seed.status.success(), "{seed:?}");
        assert!(stdout(&seed).contains("seeded 20 companies with 100 learners"));
    }
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM companies WHERE internal = 0), \
           (SELECT COUNT(*) FROM users WHERE is_learner = 1), \
           (SELECT COUNT(*) FROM seats WHERE ended_at IS NULL)",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    // Every tenth company is on trial; the others hold a seat for each of their 5 learners.
    assert_eq!(counts, (40, 200, 180));
    assert_eq!(schema(&db).await, before);
    // Each company has an order: the trials' wait, the others' made their batch.
    let orders: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM orders WHERE state = 'requested'), \
           (SELECT COUNT(*) FROM licence_batches b JOIN orders o ON o.id = b.order_id \
             WHERE o.state = 'assigned' AND o.company_id = b.company_id), \
           (SELECT COUNT(*) FROM activity WHERE action IN ('order_requested', 'order_assigned'))",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(orders, (4, 36, 40));
    // Each bulk partner has its internal company with its 10 NFR seats.
    let nfr: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM companies WHERE internal = 1), \
           (SELECT SUM(quantity) FROM licence_batches WHERE nfr = 1)",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(nfr, (2, 20));
    let check = seatledger(&db.url, &["check"]);
    assert!(check.status.success(), "{}", stdout(&check));

    // Ids continue after the seeded ones (PostgreSQL identities were moved past them).
    let world = World { db: &db };
    let partner = world.partner(None, "After Seed IT").await;
    let company = world.company(partner, "After Seed Co", t0()).await;
    let page = companies::list(
        &db,
        &Scope::Partner(partner),
        &Default::default(),
        None,
        10,
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(page.items[0].id, company);
}

#[test]
fn tick_runs_one_pass_at_the_given_instant() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tick.db").display());
    let tick = seatledger(&url, &["tick", "--at", "2026-12-01T00:00:00Z"]);
    assert!(tick.status.success(), "{tick:?}");
    assert!(stdout(&tick).starts_with("pass at 2026-12-01T00:00:00Z in "));
}

#[test]
fn migrate_brings_a_new_database_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("new.db").display());
    let migrate = seatledger(&url, &["migrate"]);
    assert!(migrate.status.success());
    assert_eq!(stdout(&migrate).trim(), "database is up to date");
}

#[test]
fn an_unknown_database_url_is_refused_clearly() {
    let run = seatledger("mysql://localhost/x", &["migrate"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("unsupported database URL"));
}

#[test]
fn a_malformed_instant_is_refused_by_name() {
    let run = seatledger(
        "sqlite:///nonexistent/never.db",
        &["tick", "--at", "next tuesday"],
    );
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("--at"));
}

#[test]
fn a_tick_after_the_demo_puts_the_due_emails_in_the_mailbox_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    assert!(
        seatledger(&url, &["demo", "--now", "2026-11-26T09:00:00Z"])
            .status
            .success()
    );
    let first = stdout(&seatledger(&url, &["tick", "--at", "2026-11-26T09:00:30Z"]));
    // Birch's trial ends within 72 h, Cobalt's ended, Delta's batch expires within 72 h:
    // one email to each company's one manager.
    assert!(
        first.contains("1 trials ending, 1 trials expired, 1 batches expiring, 0 batches expired"),
        "{first}"
    );
    assert!(
        first.contains("emails: 0 sent, 3 kept in the mailbox, 0 failed attempts"),
        "{first}"
    );
    let second = stdout(&seatledger(&url, &["tick", "--at", "2026-11-26T09:01:00Z"]));
    assert!(
        second.contains("0 trials ending, 0 trials expired, 0 batches expiring"),
        "{second}"
    );
    assert!(second.contains("0 kept in the mailbox"), "{second}");
}

#[test]
fn a_malformed_secret_key_is_refused_by_name() {
    let run = seatledger(
        "sqlite:///nonexistent/never.db",
        &["--secret-key", "c2hvcnQ=", "tick"],
    );
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("SEATLEDGER_SECRET_KEY") && stderr.contains("32 bytes"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_delivers_the_due_webhooks_signed_under_the_configured_key() {
    use base64::Engine;
    use seatledger::db::webhooks::{self, NewEndpoint, Owner};
    use seatledger::domain::webhooks::EventTypes;
    use seatledger::webhooks::{Secret, SecretKey};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    assert!(
        seatledger(&url, &["demo", "--now", "2026-11-26T09:00:00Z"])
            .status
            .success()
    );
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let secret = Secret::generate();
    let receiver = crate::receiver::Receiver::start().await;
    let db = seatledger::db::Db::connect(&url).await.unwrap();
    let types = EventTypes::parse(["company.trial_ending", "company.trial_expired"]).unwrap();
    let endpoint = NewEndpoint {
        owner: Owner::Operator,
        url: &receiver.url(),
        event_types: &types,
        sealed_secret: &SecretKey::parse(&key).unwrap().seal(&secret),
        created_by: None,
    };
    let at: jiff::Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
    let mut tx = db.begin_write().await.unwrap();
    webhooks::create(&mut tx, &endpoint, at).await.unwrap();
    tx.commit().await.unwrap();
    db.close().await;

    let tick = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_seatledger"))
            .args(["--database", &url, "tick", "--at", "2026-11-26T09:00:30Z"])
            .env("SEATLEDGER_SECRET_KEY", &key)
            .env("SEATLEDGER_WEBHOOK_ALLOW_PRIVATE", "1")
            .env("SEATLEDGER_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(tick.status.success(), "{tick:?}");
    assert!(
        stdout(&tick).contains("webhooks: 2 delivered, 0 failed attempts"),
        "{}",
        stdout(&tick)
    );
    let received = receiver.verified(&secret.reveal());
    let mut types: Vec<String> = received.iter().map(|r| r.event_type()).collect();
    types.sort();
    assert_eq!(types, ["company.trial_ending", "company.trial_expired"]);
}

/// The running server has glibc's mmap threshold fixed (it restarts itself with the tunable,
/// keeping its process id), unless the operator set tunables of their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn serve_runs_with_the_malloc_tunable_unless_the_operator_set_one() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for (given, expected) in [
        (None, seatledger::allocator::TUNABLES),
        (Some("glibc.malloc.arena_max=2"), "glibc.malloc.arena_max=2"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tuned.db").display());
        let mut command = Command::new(env!("CARGO_BIN_EXE_seatledger"));
        command
            .args(["--database", &url, "serve", "--listen", "127.0.0.1:0"])
            .env("SEATLEDGER_LOG", "warn")
            .env_remove("GLIBC_TUNABLES")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(given) = given {
            command.env("GLIBC_TUNABLES", given);
        }
        let mut serve = command.spawn().unwrap();
        let mut stdout = BufReader::new(serve.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("is serving on") {
            line.clear();
            assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "serve ended early");
        }
        let environ = std::fs::read(format!("/proc/{}/environ", serve.id())).unwrap();
        serve.kill().unwrap();
        serve.wait().unwrap();
        let tunables: Vec<&[u8]> = environ
            .split(|b| *b == 0)
            .filter_map(|v| v.strip_prefix(b"GLIBC_TUNABLES="))
            .collect();
        assert_eq!(tunables, [expected.as_bytes()]);
    }
}
