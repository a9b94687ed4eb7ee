//! The expiry pass, travelling in time with the clock: reminders 72 hours before, expiry at the
//! instant, each email queued once, late passes catching up without a stale reminder.

use jiff::{SignedDuration, Timestamp};
use seatledger::db::users;
use seatledger::db::{Actor, Db, Scope, check};
use seatledger::domain::Role;
use seatledger::domain::access::{LicenceStatus, licence_status};
use seatledger::domain::{CompanyId, UserId};
use seatledger::ops::expiry::{PassReport, run_pass};

use crate::on_both_databases;
use crate::support::{TestDb, World, allocate, at, ops_at};

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// Emails queued so far, as (kind, recipient), oldest first.
async fn outbox(db: &Db) -> Vec<(String, String)> {
    sqlx::query_as("SELECT kind, recipient FROM outbox ORDER BY id")
        .fetch_all(db.pool())
        .await
        .unwrap()
}

/// A company on a 30-day trial that ends at `ends`, with two managers and two learners.
async fn trial_company(db: &TestDb, ends: Timestamp) -> (CompanyId, Vec<UserId>) {
    let world = World { db };
    let partner = world.partner(None, "Schedule IT").await;
    let created = ends - hours(24 * 30);
    let company = world.company(partner, "Clockwork Ltd", created).await;
    for name in ["ann", "bob"] {
        world
            .user(
                &format!("{name}@clockwork.example"),
                Role::Company {
                    company,
                    manager: true,
                    learner: false,
                },
                None,
                created,
            )
            .await;
    }
    let learners = world.learners(company, "learner", 2, created).await;
    (company, learners)
}

async fn pass(db: &Db, now: Timestamp) -> PassReport {
    run_pass(&ops_at(db, now), now).await.unwrap()
}

async fn status(db: &Db, user: UserId, now: Timestamp) -> LicenceStatus {
    let user = users::access_by_id(db, user).await.unwrap().unwrap();
    licence_status(&user.facts, &user.company.unwrap().facts, now)
}

on_both_databases!(
    a_trial_gets_its_reminder_and_its_expiry_email_once_each,
    a_pass_after_downtime_sends_only_the_expiry_email,
    an_upgraded_trial_gets_no_trial_emails,
    a_batch_gets_its_reminder_then_expires_with_its_seats,
    a_batch_expiry_after_downtime_sends_only_the_expiry_email,
    two_schedulers_at_the_same_instant_queue_each_email_once,
);

async fn a_trial_gets_its_reminder_and_its_expiry_email_once_each(db: TestDb) {
    let ends = at("2026-06-10T12:00:00Z");
    let (_, learners) = trial_company(&db, ends).await;

    assert_eq!(pass(&db, ends - hours(73)).await, PassReport::default());
    assert!(outbox(&db).await.is_empty());

    let report = pass(&db, ends - hours(72)).await;
    assert_eq!(report.trials_ending, 1);
    let reminders = [
        (
            "trial_ending".to_owned(),
            "ann@clockwork.example".to_owned(),
        ),
        (
            "trial_ending".to_owned(),
            "bob@clockwork.example".to_owned(),
        ),
    ];
    assert_eq!(outbox(&db).await, reminders);

    assert_eq!(pass(&db, ends - hours(71)).await, PassReport::default());
    assert_eq!(outbox(&db).await.len(), 2);
    assert!(matches!(
        status(&db, learners[0], ends - hours(1)).await,
        LicenceStatus::Active { trial: true, .. }
    ));

    let report = pass(&db, ends).await;
    assert_eq!(report.trials_expired, 1);
    let emails = outbox(&db).await;
    assert_eq!(emails.len(), 4);
    assert_eq!(
        emails[2],
        (
            "trial_expired".to_owned(),
            "ann@clockwork.example".to_owned()
        )
    );
    assert_eq!(
        status(&db, learners[0], ends).await,
        LicenceStatus::Expired { on: ends }
    );

    assert_eq!(pass(&db, ends + hours(1)).await, PassReport::default());
    assert_eq!(
        pass(&db, ends + hours(24 * 400)).await,
        PassReport::default()
    );
    assert_eq!(outbox(&db).await.len(), 4);

    let (subject, text): (String, String) = sqlx::query_as(
        "SELECT subject, body_text FROM outbox WHERE kind = 'trial_expired' LIMIT 1",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(subject, "Clockwork Ltd: your free trial has expired");
    assert!(text.contains("ended on 10 Jun 2026"), "{text}");
    assert!(
        text.contains("Upgrade Now: https://console.example/landing"),
        "{text}"
    );
}

async fn a_pass_after_downtime_sends_only_the_expiry_email(db: TestDb) {
    let ends = at("2026-06-10T12:00:00Z");
    trial_company(&db, ends).await;
    assert_eq!(pass(&db, ends - hours(80)).await, PassReport::default());
    // Down from T-80h to T+1h.
    let report = pass(&db, ends + hours(1)).await;
    assert_eq!((report.trials_ending, report.trials_expired), (0, 1));
    let kinds: Vec<String> = outbox(&db).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["trial_expired", "trial_expired"]);
}

async fn an_upgraded_trial_gets_no_trial_emails(db: TestDb) {
    let ends = at("2026-06-10T12:00:00Z");
    let (company, _) = trial_company(&db, ends).await;
    World { db: &db }
        .batch(company, 10, ends - hours(100))
        .await;
    assert_eq!(pass(&db, ends + hours(1)).await, PassReport::default());
    assert!(outbox(&db).await.is_empty());
}

/// A company whose batch of 3 seats, held by two learners, expires at the returned instant.
async fn licensed_company(db: &TestDb) -> (CompanyId, Vec<UserId>, Timestamp) {
    let assigned = at("2026-02-01T08:00:00Z");
    let (company, learners) = trial_company(db, assigned + hours(24 * 10)).await;
    World { db }.batch(company, 3, assigned).await;
    allocate(
        db,
        &Scope::Company(company),
        company,
        &learners,
        Actor::SYSTEM,
        assigned,
    )
    .await
    .unwrap();
    (company, learners, at("2027-02-01T08:00:00Z"))
}

async fn a_batch_gets_its_reminder_then_expires_with_its_seats(db: TestDb) {
    let (_, learners, expires) = licensed_company(&db).await;

    assert_eq!(pass(&db, expires - hours(73)).await, PassReport::default());
    assert_eq!(pass(&db, expires - hours(72)).await.batches_expiring, 1);
    assert_eq!(pass(&db, expires - hours(71)).await, PassReport::default());
    let (subject,): (String,) =
        sqlx::query_as("SELECT subject FROM outbox WHERE kind = 'batch_expiring' LIMIT 1")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(subject, "Clockwork Ltd: 3 licences expire on 1 Feb 2027");

    assert!(matches!(
        status(&db, learners[0], expires - hours(1)).await,
        LicenceStatus::Active { trial: false, .. }
    ));
    assert_eq!(pass(&db, expires).await.batches_expired, 1);
    assert_eq!(
        status(&db, learners[0], expires).await,
        LicenceStatus::Expired { on: expires }
    );
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM seats WHERE ended_at IS NULL")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(open, 0);
    let text: String =
        sqlx::query_scalar("SELECT body_text FROM outbox WHERE kind = 'batch_expired' LIMIT 1")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(text.contains("learner0@"), "{text}");
    assert!(text.contains("learner1@"), "{text}");
    assert_eq!(pass(&db, expires + hours(1)).await, PassReport::default());
    assert_eq!(outbox(&db).await.len(), 4);
    let report = check::run(&db).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

async fn a_batch_expiry_after_downtime_sends_only_the_expiry_email(db: TestDb) {
    let (_, _, expires) = licensed_company(&db).await;
    assert_eq!(pass(&db, expires - hours(80)).await, PassReport::default());
    let report = pass(&db, expires + hours(1)).await;
    assert_eq!((report.batches_expiring, report.batches_expired), (0, 1));
    let kinds: Vec<String> = outbox(&db).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["batch_expired", "batch_expired"]);
}

async fn two_schedulers_at_the_same_instant_queue_each_email_once(db: TestDb) {
    let ends = at("2026-06-10T12:00:00Z");
    let world = World { db: &db };
    let partner = world.partner(None, "Twin IT").await;
    for i in 0..20 {
        let company = world
            .company(partner, &format!("Twin {i}"), ends - hours(24 * 30))
            .await;
        world
            .user(
                &format!("manager{i}@twin.example"),
                Role::Company {
                    company,
                    manager: true,
                    learner: false,
                },
                None,
                ends,
            )
            .await;
    }
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let db = db.db.clone();
            tokio::spawn(async move { run_pass(&ops_at(&db, ends), ends).await.unwrap() })
        })
        .collect();
    let mut expired = 0;
    for racer in racers {
        expired += racer.await.unwrap().trials_expired;
    }
    assert_eq!(
        expired, 20,
        "each trial is processed by exactly one scheduler"
    );
    let emails = outbox(&db).await;
    assert_eq!(emails.len(), 20);
    let distinct: std::collections::HashSet<_> = emails.iter().collect();
    assert_eq!(distinct.len(), 20);
}

/// The scheduler locks a due batch, not its company. A writer adding a learner holds the
/// company's key (the new user's foreign key) and then takes the batch to seat them: had the
/// scheduler locked the company too, each would wait for the other (PostgreSQL; SQLite has one
/// writer at a time).
#[tokio::test]
async fn the_scheduler_locks_a_due_batch_and_not_its_company() {
    let Some(db) = crate::support::postgres().await else {
        return;
    };
    let (company, _, expires) = licensed_company(&db).await;
    let (batch, due_at): (i64, i64) =
        sqlx::query_as("SELECT id, due_at FROM licence_batches WHERE company_id = $1")
            .bind(company.0)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(due_at < expires.as_second(), "the reminder is due first");

    let mut adding = db.begin_write().await.unwrap();
    sqlx::query(
        "INSERT INTO users (email, kind, company_id, is_learner, created_at) \
         VALUES ('joining@lock.example', 'company', $1, 1, $2)",
    )
    .bind(company.0)
    .bind(due_at)
    .execute(&mut *adding)
    .await
    .unwrap();

    let mut scheduler = db.begin_write().await.unwrap();
    // Waiting for the writer's lock would be the first half of a deadlock: refuse to wait.
    sqlx::query("SET LOCAL lock_timeout = '1s'")
        .execute(&mut *scheduler)
        .await
        .unwrap();
    let due = seatledger::db::expiry::lock_due_batch(
        &mut scheduler,
        seatledger::db::Backend::Postgres,
        seatledger::domain::BatchId(batch),
        Timestamp::from_second(due_at).unwrap(),
    )
    .await
    .expect("the scheduler waited for the company's key");
    assert!(due.is_some());
    scheduler.rollback().await.unwrap();
    adding.rollback().await.unwrap();
}
