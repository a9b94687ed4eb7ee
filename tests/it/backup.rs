//! Backups that restore. The drill: while Echo's manager keeps importing users, releasing seats
//! and allocating them through the console, a backup is taken (`seatledger backup` on SQLite,
//! `pg_dump` on PostgreSQL, as docs/operations.md says); it is restored and served, `check`
//! holds on it, its seat ledger is a prefix of the live one, and its undelivered emails are
//! delivered once. Then what `seatledger backup` refuses.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::migrations::{self, MIGRATIONS, latest};
use seatledger::db::{Backend, Db, seed};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cli::{seatledger, stdout};
use crate::on_both_databases;
use crate::smtp::SmtpSink;
use crate::support::{self, TestDb, at, required};
use crate::web::{Client, NOW, demo_app_on};

on_both_databases!(a_backup_taken_while_the_console_writes_restores_whole_and_consistent);

async fn scalar(db: &Db, sql: &str, company: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(company)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn echo_manager(app: &App) -> Client {
    let mut manager = Client::new(app);
    let signed_in = manager
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(signed_in.location.as_deref(), Some("/company"));
    manager
}

/// One round of a manager's work, each step its own transaction: import two learners (the
/// first may take Echo's last free seat), deactivate a seated learner (a release), and allocate
/// the freed seat to a new learner still waiting.
async fn round(manager: &mut Client, db: &Db, echo: i64, tag: &str) {
    let (a, b) = (
        format!("{tag}a@echo.example"),
        format!("{tag}b@echo.example"),
    );
    let file = format!("First;Last;Email\r\nWorker;A;{a}\r\nWorker;B;{b}\r\n");
    let upload = manager
        .upload("/company/users/import", "round.csv", file.as_bytes())
        .await;
    let mapping = upload
        .location
        .unwrap_or_else(|| panic!("upload refused: {}", upload.body));
    let imported = manager
        .post(
            &mapping,
            &[
                ("email", "2"),
                ("first_name", "0"),
                ("last_name", "1"),
                ("department", ""),
            ],
        )
        .await;
    assert!(
        imported.body.contains("Imported 2 users"),
        "{}",
        imported.body
    );

    let seated = scalar(
        db,
        "SELECT MIN(u.id) FROM users u JOIN seats s ON s.user_id = u.id AND s.ended_at IS NULL \
         WHERE u.company_id = $1 AND u.is_manager = 0 AND u.deactivated_at IS NULL",
        echo,
    )
    .await;
    let released = manager
        .post(&format!("/company/users/{seated}/deactivate"), &[])
        .await;
    assert_eq!(released.status, StatusCode::SEE_OTHER, "{}", released.body);

    let waiting: i64 = sqlx::query_scalar(
        "SELECT MIN(u.id) FROM users u WHERE u.email IN ($1, $2) AND NOT EXISTS \
           (SELECT 1 FROM seats s WHERE s.user_id = u.id AND s.ended_at IS NULL)",
    )
    .bind(&a)
    .bind(&b)
    .fetch_one(db.pool())
    .await
    .unwrap();
    let allocated = manager
        .post(
            "/company/licenses/allocate",
            &[("user", waiting.to_string().as_str())],
        )
        .await;
    assert_eq!(
        allocated.location.as_deref(),
        Some("/company/licenses?tab=expired"),
        "{}",
        allocated.body
    );
}

/// Rounds of work run one after another by one task against the console until stopped.
struct Workload {
    rounds: watch::Receiver<usize>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Workload {
    fn start(app: App, db: Db, echo: i64) -> Self {
        let (done, rounds) = watch::channel(0);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut manager = echo_manager(&app).await;
            let mut n = 0;
            while !stopped.load(Ordering::SeqCst) {
                n += 1;
                round(&mut manager, &db, echo, &format!("round{n}-")).await;
                done.send_replace(n);
            }
        });
        Self { rounds, stop, task }
    }

    fn done(&self) -> usize {
        *self.rounds.borrow()
    }

    async fn wait_for(&mut self, rounds: usize) {
        self.rounds
            .wait_for(|n| *n >= rounds)
            .await
            .expect("the workload stopped early; its panic is above");
    }

    async fn stop(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("the workload ran without failing");
        *self.rounds.borrow()
    }
}

type SeatEvent = (
    i64,
    i64,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

async fn seat_events(db: &Db) -> Vec<SeatEvent> {
    sqlx::query_as(
        "SELECT id, at, kind, company_id, batch_id, user_id, quantity, expires_at, \
           actor_user_id, on_behalf_of_company_id FROM seat_events ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

async fn rows(db: &Db, sql: &str) -> Vec<(i64, String)> {
    sqlx::query_as(sql).fetch_all(db.pool()).await.unwrap()
}

/// `part` is `whole` up to some point: nothing invented, nothing missing before its end.
fn assert_prefix<T: PartialEq + std::fmt::Debug>(part: &[T], whole: &[T], what: &str) {
    assert!(part.len() <= whole.len(), "{what}: the backup has more");
    assert_eq!(part, &whole[..part.len()], "{what}: not a prefix");
}

/// The PostgreSQL client tools are there, or the test says it skips (and fails if required).
fn postgres_client_tools() -> bool {
    for tool in ["pg_dump", "pg_restore"] {
        if !Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(
                !required("SEATLEDGER_REQUIRE_POSTGRES"),
                "{tool} is required (SEATLEDGER_REQUIRE_POSTGRES=1) but does not run: install \
                 the PostgreSQL client"
            );
            eprintln!("skipped: {tool} not found");
            return false;
        }
    }
    true
}

fn run_tool(command: &mut Command) {
    let output = command.output().expect("the tool runs");
    assert!(output.status.success(), "{command:?}: {output:?}");
}

/// A restored copy, and what keeps it alive.
struct Restored {
    db: Db,
    url: String,
    _postgres: Option<TestDb>,
}

/// Backs `live` up the documented way, while the workload writes.
async fn back_up(live: &TestDb, dir: &std::path::Path) -> std::path::PathBuf {
    let url = live.url.clone();
    match live.backend() {
        Backend::Sqlite => {
            let to = dir.join("backup.db");
            let arg = to.to_str().unwrap().to_owned();
            let run =
                tokio::task::spawn_blocking(move || seatledger(&url, &["backup", "--to", &arg]))
                    .await
                    .unwrap();
            assert!(run.status.success(), "{run:?}");
            assert!(
                stdout(&run).contains("it opens, its migrations are current, and check holds"),
                "{}",
                stdout(&run)
            );
            to
        }
        Backend::Postgres => {
            let to = dir.join("backup.dump");
            let file = format!("--file={}", to.display());
            tokio::task::spawn_blocking(move || {
                run_tool(Command::new("pg_dump").args(["--format=custom", &file, &url]));
            })
            .await
            .unwrap();
            to
        }
    }
}

/// Restores the backup the documented way: SQLite serves a copy of the snapshot file;
/// PostgreSQL restores the dump into an empty database.
async fn restore(backend: Backend, backup: &std::path::Path, dir: &std::path::Path) -> Restored {
    match backend {
        Backend::Sqlite => {
            let file = dir.join("restored.db");
            std::fs::copy(backup, &file).unwrap();
            let url = format!("sqlite://{}", file.display());
            Restored {
                db: Db::connect_and_migrate(&url).await.unwrap(),
                url,
                _postgres: None,
            }
        }
        Backend::Postgres => {
            let empty = support::empty_postgres().await.expect("PostgreSQL is up");
            let dbname = format!("--dbname={}", empty.url);
            run_tool(
                Command::new("pg_restore")
                    .args(["--no-owner", "--exit-on-error", "--single-transaction"])
                    .arg(&dbname)
                    .arg(backup),
            );
            let db = Db::connect_and_migrate(&empty.url).await.unwrap();
            Restored {
                db,
                url: empty.url.clone(),
                _postgres: Some(empty),
            }
        }
    }
}

async fn a_backup_taken_while_the_console_writes_restores_whole_and_consistent(live: TestDb) {
    if live.backend() == Backend::Postgres && !postgres_client_tools() {
        return;
    }
    let (live, app, _clock) = demo_app_on(live).await;
    let echo: i64 = sqlx::query_scalar("SELECT id FROM companies WHERE name = 'Echo Premium'")
        .fetch_one(live.pool())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let events_before = seat_events(&live).await.len();

    let mut workload = Workload::start(app, Db::clone(&live), echo);
    workload.wait_for(3).await;
    let rounds_at_start = workload.done();
    let backup = back_up(&live, dir.path()).await;
    let rounds_at_end = workload.done();
    workload.wait_for(rounds_at_end + 3).await;
    let rounds = workload.stop().await;
    eprintln!(
        "{:?}: {} rounds of work ran during the backup, {rounds} in all",
        live.backend(),
        rounds_at_end - rounds_at_start
    );

    let restored = restore(live.backend(), &backup, dir.path()).await;
    let check = seatledger(&restored.url, &["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    assert!(stdout(&check).contains("all invariants hold"));

    // A consistent prefix of the live database: every seat event, user and email in the backup
    // is in the live database in the same order, nothing torn or invented; the work before the
    // backup is in it and the work after is not.
    let (copy, original) = (seat_events(&restored.db).await, seat_events(&live).await);
    assert_prefix(&copy, &original, "seat events");
    assert!(events_before < copy.len() && copy.len() < original.len());
    for sql in [
        "SELECT id, email FROM users ORDER BY id",
        "SELECT id, idempotency_key FROM outbox ORDER BY id",
    ] {
        assert_prefix(&rows(&restored.db, sql).await, &rows(&live, sql).await, sql);
    }
    let orders = "SELECT id, state FROM orders ORDER BY id";
    assert_eq!(rows(&restored.db, orders).await, rows(&live, orders).await);

    // The emails not yet delivered when the backup was taken are delivered, once.
    let pending: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM outbox WHERE status = 'pending'")
            .fetch_all(restored.db.pool())
            .await
            .unwrap();
    assert!(pending.len() >= 2 * rounds_at_start, "welcome emails wait");
    let sink = SmtpSink::start().await;
    for instant in ["2026-11-26T09:01:00Z", "2026-11-26T09:02:00Z"] {
        let tick = seatledger(
            &restored.url,
            &["tick", "--smtp-url", &sink.url(), "--at", instant],
        );
        assert!(tick.status.success(), "{tick:?}");
    }
    let delivered: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    for id in &pending {
        assert_eq!(delivered.iter().filter(|d| *d == id).count(), 1, "{id}");
    }

    // The restored copy serves: the manager signs in and the work goes on where it stopped.
    let restored_app = App::new(
        restored.db.clone(),
        Arc::new(ManualClock::at(at(NOW))),
        "http://127.0.0.1:8080",
    );
    let mut manager = echo_manager(&restored_app).await;
    round(&mut manager, &restored.db, echo, "restored-").await;
    let check = seatledger(&restored.url, &["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
}

#[tokio::test]
async fn a_backup_never_overwrites_a_file() {
    let live = support::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("taken.db");
    std::fs::write(&to, "keep me").unwrap();
    let run = seatledger(&live.url, &["backup", "--to", to.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("taken.db already exists"));
    assert_eq!(std::fs::read_to_string(&to).unwrap(), "keep me");
}

#[tokio::test]
async fn a_backup_that_fails_check_is_not_kept_and_says_why() {
    let live = support::sqlite().await;
    assert!(
        seatledger(&live.url, &["demo", "--now", NOW])
            .status
            .success()
    );
    let batch: i64 = sqlx::query_scalar("SELECT MIN(id) FROM licence_batches WHERE nfr = 0")
        .fetch_one(live.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE licence_batches SET allocated = allocated - 1 WHERE id = $1")
        .bind(batch)
        .execute(live.pool())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("broken.db");
    let run = seatledger(&live.url, &["backup", "--to", to.to_str().unwrap()]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("the snapshot failed verification and was deleted")
            && stderr.contains(&format!(
                "batch {batch} counts 2 seats allocated but 3 seats are held"
            )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_backup_of_a_database_behind_this_version_is_refused_and_changes_nothing() {
    let live = support::empty_sqlite().await;
    let previous = &MIGRATIONS[..MIGRATIONS.len() - 1];
    migrations::apply(&live, previous).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("old.db");
    let run = seatledger(&live.url, &["backup", "--to", to.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains(&format!(
            "the database is at migration {} but this seatledger is at {}",
            previous.last().unwrap().version,
            latest().version
        )),
        "{run:?}"
    );
    assert!(!to.exists());
    assert_eq!(
        migrations::status(&live).await.unwrap().pending.len(),
        1,
        "backup did not migrate"
    );
}

#[tokio::test]
async fn a_backup_of_postgresql_points_to_pg_dump() {
    let Some(live) = support::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("never-written.dump");
    let run = seatledger(&live.url, &["backup", "--to", to.to_str().unwrap()]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!(
            "pg_dump --format=custom --file={} \"$SEATLEDGER_DATABASE\"",
            to.display()
        )),
        "{stderr}"
    );
    assert!(!to.exists());
}

#[tokio::test]
async fn a_backup_file_may_be_named_with_spaces_and_url_characters() {
    let live = support::sqlite().await;
    assert!(
        seatledger(&live.url, &["demo", "--now", NOW])
            .status
            .success()
    );
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("nightly 50%20 #1?.db");
    let run = seatledger(&live.url, &["backup", "--to", to.to_str().unwrap()]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // The same name as a URL, percent-encoded.
    let url = format!(
        "sqlite://{}/nightly%2050%2520%20%231%3F.db",
        dir.path().display()
    );
    let check = seatledger(&url, &["check"]);
    assert!(
        stdout(&check)
            .contains("checked 5 batches, 6 users, 11 seat events, the NFR seats of 3 partners"),
        "{check:?}"
    );
}
