//! Upgrades: a database made by the previous migration set is migrated forward in place and
//! keeps its data; a database from a newer seatledger is refused by every command and left as
//! it was; `migrate --dry-run` lists what would run. Nothing here names a migration count, so
//! the tests hold as migrations are added.

use std::sync::Arc;

use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::migrations::{self, MIGRATIONS, Migration, latest};
use seatledger::db::{Db, DbError, seed};

use crate::cli::{seatledger, stdout};
use crate::on_both_empty_databases;
use crate::support::{TestDb, at};
use crate::web::{Client, NOW};

on_both_empty_databases!(
    a_database_of_the_previous_version_is_upgraded_in_place_and_keeps_its_data,
    a_database_from_a_newer_seatledger_is_refused_by_every_command_and_left_as_it_was,
    a_failing_migration_keeps_the_ones_before_it_and_leaves_nothing_of_itself,
    a_dry_run_on_a_new_database_lists_every_migration_and_creates_nothing,
);

/// Every migration but the newest: the schema the previous release left behind.
fn previous() -> &'static [Migration] {
    &MIGRATIONS[..MIGRATIONS.len() - 1]
}

/// The schema before partners had NFR seats (migration 10): the old world below is written in
/// it, and upgrading it must give the partner its seats, whatever migrations came since.
fn before_nfr() -> &'static [Migration] {
    let nfr = MIGRATIONS.iter().position(|m| m.version >= 10).unwrap();
    &MIGRATIONS[..nfr]
}

async fn versions(db: &Db) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(db.pool())
        .await
        .unwrap()
}

async fn insert(db: &Db, sql: &str, binds: &[Bind<'_>]) -> i64 {
    let mut query = sqlx::query_scalar(sql);
    for bind in binds {
        query = match bind {
            Bind::Int(v) => query.bind(*v),
            Bind::Text(v) => query.bind(*v),
        };
    }
    query.fetch_one(db.pool()).await.unwrap()
}

enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}

const OLD_KEY: &str = "order-assigned:old:manager@old.example";

/// A premium company with a manager, a seated learner, an assigned order, its batch, their seat
/// events and an email not yet delivered, written in plain SQL the way the previous release
/// stored them (today's storage code may need columns the old schema lacks). Only columns that
/// exist since migration 0002 are named.
async fn old_world(db: &Db) {
    use Bind::{Int, Text};
    let now = at(NOW).as_second();
    let day = 86_400;
    let hash = seatledger::password::hash(seed::DEMO_PASSWORD);
    let partner = insert(
        db,
        "INSERT INTO partners (name, created_at) VALUES ('Old Partner IT', $1) RETURNING id",
        &[Int(now - 90 * day)],
    )
    .await;
    sqlx::query(
        "INSERT INTO partner_ancestors (ancestor_id, descendant_id, depth) VALUES ($1, $1, 0)",
    )
    .bind(partner)
    .execute(db.pool())
    .await
    .unwrap();
    let (assigned, expires) = (now - 10 * day, now + 355 * day);
    let company = insert(
        db,
        "INSERT INTO companies (partner_id, name, country, time_zone, trial_ends_at, \
           licensed_until, created_at) \
         VALUES ($1, 'Old Company', 'GB', 'Europe/London', $2, $3, $4) RETURNING id",
        &[
            Int(partner),
            Int(assigned),
            Int(expires),
            Int(now - 60 * day),
        ],
    )
    .await;
    let mut users = Vec::new();
    for (email, manager) in [("manager@old.example", 1), ("learner@old.example", 0)] {
        users.push(
            insert(
                db,
                "INSERT INTO users (email, first_name, last_name, password_hash, kind, \
                   company_id, is_manager, is_learner, created_at) \
                 VALUES ($1, 'Old', 'Timer', $2, 'company', $3, $4, 1, $5) RETURNING id",
                &[
                    Text(email),
                    Text(&hash),
                    Int(company),
                    Int(manager),
                    Int(now - 60 * day),
                ],
            )
            .await,
        );
    }
    let order = insert(
        db,
        "INSERT INTO orders (company_id, partner_id, kind, quantity, state, requested_by, \
           requested_at, decided_at) \
         VALUES ($1, $2, 'premium', 5, 'assigned', $3, $4, $5) RETURNING id",
        &[
            Int(company),
            Int(partner),
            Int(users[0]),
            Int(assigned - day),
            Int(assigned),
        ],
    )
    .await;
    let batch = insert(
        db,
        "INSERT INTO licence_batches (company_id, order_id, kind, quantity, allocated, \
           assigned_at, expires_at) \
         VALUES ($1, $2, 'premium', 5, 1, $3, $4) RETURNING id",
        &[Int(company), Int(order), Int(assigned), Int(expires)],
    )
    .await;
    insert(
        db,
        "INSERT INTO seats (batch_id, company_id, user_id, allocated_at) \
         VALUES ($1, $2, $3, $4) RETURNING id",
        &[Int(batch), Int(company), Int(users[1]), Int(assigned)],
    )
    .await;
    insert(
        db,
        "INSERT INTO seat_events (at, kind, company_id, batch_id, quantity, expires_at) \
         VALUES ($1, 'batch_assigned', $2, $3, 5, $4) RETURNING id",
        &[Int(assigned), Int(company), Int(batch), Int(expires)],
    )
    .await;
    insert(
        db,
        "INSERT INTO seat_events (at, kind, company_id, batch_id, user_id) \
         VALUES ($1, 'seat_allocated', $2, $3, $4) RETURNING id",
        &[Int(assigned), Int(company), Int(batch), Int(users[1])],
    )
    .await;
    insert(
        db,
        "INSERT INTO outbox (idempotency_key, message_id, kind, company_id, recipient, subject, \
           body_text, body_html, created_at, next_attempt_at) \
         VALUES ($1, $2, 'order_assigned', $3, 'manager@old.example', '5 licences are ready', \
           'Allocate them.', '<p>Allocate them.</p>', $4, $4) RETURNING id",
        &[
            Text(OLD_KEY),
            Text(&seatledger::email::message_id(OLD_KEY)),
            Int(company),
            Int(now - 60),
        ],
    )
    .await;
}

async fn a_database_of_the_previous_version_is_upgraded_in_place_and_keeps_its_data(db: TestDb) {
    migrations::apply(&db, before_nfr()).await.unwrap();
    old_world(&db).await;
    let before = before_nfr().last().unwrap().version;

    let dry = seatledger(&db.url, &["migrate", "--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    let pending: String = MIGRATIONS[before_nfr().len()..]
        .iter()
        .map(|m| format!("  {}\n", m.name))
        .collect();
    assert_eq!(
        stdout(&dry),
        format!("database is at migration {before}; `seatledger migrate` would apply:\n{pending}")
    );
    assert_eq!(
        versions(&db).await.last(),
        Some(&before),
        "a dry run applies nothing"
    );

    let migrate = seatledger(&db.url, &["migrate"]);
    assert!(migrate.status.success(), "{migrate:?}");
    assert_eq!(stdout(&migrate).trim(), "database is up to date");
    let every: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions(&db).await, every);
    let dry = seatledger(&db.url, &["migrate", "--dry-run"]);
    assert_eq!(
        stdout(&dry),
        format!(
            "database is up to date (migration {}); nothing would run\n",
            latest().version
        )
    );

    let check = seatledger(&db.url, &["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    assert!(
        stdout(&check)
            .contains("checked 2 batches, 1 users, 3 seat events, the NFR seats of 1 partners"),
        "{}",
        stdout(&check)
    );
    // The partner was given its internal company with its 10 NFR seats, held since it was made.
    let nfr: (String, i64, i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT c.name, c.internal, b.quantity, b.expires_at, b.due_at FROM companies c \
         JOIN licence_batches b ON b.company_id = c.id WHERE b.nfr = 1",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    let never = seatledger::domain::company::NEVER.as_second();
    assert_eq!(nfr, ("Old Partner IT".to_owned(), 1, 10, never, None));

    // Today's code serves the upgraded data: the manager signs in and sees the seated learner.
    let app = App::new(
        Db::clone(&db),
        Arc::new(ManualClock::at(at(NOW))),
        "http://127.0.0.1:8080",
    );
    let mut manager = Client::new(&app);
    let signed_in = manager
        .sign_in("manager@old.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(signed_in.location.as_deref(), Some("/company"));
    let users = manager.get("/company/users").await.body;
    let row = &users[users
        .find("learner@old.example")
        .expect("the learner is listed")..];
    assert!(row[..row.find("</tr>").unwrap()].contains("Active until"));

    // The email queued before the upgrade is delivered once, after it.
    let tick = stdout(&seatledger(
        &db.url,
        &["tick", "--at", "2026-11-26T09:01:00Z"],
    ));
    assert!(
        tick.contains("emails: 0 sent, 1 kept in the mailbox"),
        "{tick}"
    );
    let tick = stdout(&seatledger(
        &db.url,
        &["tick", "--at", "2026-11-26T09:02:00Z"],
    ));
    assert!(
        tick.contains("emails: 0 sent, 0 kept in the mailbox"),
        "{tick}"
    );
}

async fn a_database_from_a_newer_seatledger_is_refused_by_every_command_and_left_as_it_was(
    db: TestDb,
) {
    // What a newer release leaves behind, as this one sees it: the migrations it knows (all but
    // its newest, so an upgrade would be due) plus one it has never heard of.
    migrations::apply(&db, previous()).await.unwrap();
    let future = latest().version + 1;
    let future_name = format!("{future:04}_from_the_future.sql");
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)")
        .bind(future)
        .bind(&future_name)
        .execute(db.pool())
        .await
        .unwrap();
    let before = versions(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.db");
    let snapshot_arg = snapshot.to_str().unwrap();

    for args in [
        &["migrate"][..],
        &["migrate", "--dry-run"],
        &["check"],
        &["tick"],
        &["demo"],
        &["backup", "--to", snapshot_arg],
        // An address this machine does not have: were the refusal missing, serve would fail to
        // bind with another message instead of serving on.
        &["serve", "--listen", "192.0.2.1:9"],
    ] {
        let run = seatledger(&db.url, args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} ran: {}", stdout(&run));
        assert!(
            stderr.contains(&format!(
                "the database has migration {future} ({future_name}), which this seatledger"
            )) && stderr.contains(&format!(
                "its newest is migration {} ({})",
                latest().version,
                latest().name
            )),
            "{args:?}: {stderr}"
        );
    }
    assert!(matches!(
        Db::connect_and_migrate(&db.url).await,
        Err(DbError::NewerDatabase(_))
    ));
    assert_eq!(versions(&db).await, before, "nothing was applied");
    assert!(!snapshot.exists());
}

async fn a_failing_migration_keeps_the_ones_before_it_and_leaves_nothing_of_itself(db: TestDb) {
    let mut set = previous().to_vec();
    set.push(Migration {
        version: latest().version,
        name: "broken.sql",
        sqlite: "CREATE TABLE half_done (id BIGINT); INSERT INTO no_such_table VALUES (1);",
        postgres: "CREATE TABLE half_done (id BIGINT); INSERT INTO no_such_table VALUES (1);",
    });
    let failed = migrations::apply(&db, &set).await;
    assert!(matches!(failed, Err(DbError::Sqlx(_))), "{failed:?}");
    let kept: Vec<i64> = previous().iter().map(|m| m.version).collect();
    assert_eq!(versions(&db).await, kept);
    assert!(
        sqlx::query("SELECT COUNT(*) FROM half_done")
            .fetch_one(db.pool())
            .await
            .is_err(),
        "the broken migration's first statement was rolled back with it"
    );

    assert_eq!(migrations::run(&db).await.unwrap(), vec![latest().version]);
    assert!(migrations::status(&db).await.unwrap().pending.is_empty());
}

async fn a_dry_run_on_a_new_database_lists_every_migration_and_creates_nothing(db: TestDb) {
    let dry = seatledger(&db.url, &["migrate", "--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    let mut expected = "database is at migration 0; `seatledger migrate` would apply:\n".to_owned();
    for m in MIGRATIONS {
        expected.push_str(&format!("  {}\n", m.name));
    }
    assert_eq!(stdout(&dry), expected);
    assert!(
        sqlx::query("SELECT COUNT(*) FROM schema_migrations")
            .fetch_one(db.pool())
            .await
            .is_err(),
        "not even the migrations table was created"
    );
    assert_eq!(
        migrations::status(&db).await.unwrap().pending.len(),
        MIGRATIONS.len()
    );
}
