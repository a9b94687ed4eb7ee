//! The Licenses section over HTTP: Expired Licenses with Select All and Allocate Licenses, two
//! managers racing for the last seats, and Import Licence Renewal with a corpus of messy files.

use axum::http::StatusCode;
use jiff::SignedDuration;
use seatledger::db::seed;
use seatledger::domain::CompanyId;
use seatledger::domain::Role;

use crate::on_both_databases;
use crate::support::{TestDb, World, at};
use crate::web::{Client, NOW, demo_app, demo_app_on};

pub(crate) async fn echo(db: &TestDb) -> CompanyId {
    CompanyId(
        sqlx::query_scalar("SELECT id FROM companies WHERE name = 'Echo Premium'")
            .fetch_one(db.pool())
            .await
            .unwrap(),
    )
}

pub(crate) async fn active_seats(db: &TestDb, company: CompanyId) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM seats s JOIN licence_batches b ON b.id = s.batch_id \
         WHERE s.company_id = $1 AND s.ended_at IS NULL AND b.expires_at > $2",
    )
    .bind(company.0)
    .bind(at(NOW).as_second())
    .fetch_one(db.pool())
    .await
    .unwrap()
}

pub(crate) async fn echo_manager(app: &seatledger::app::App) -> Client {
    let mut client = Client::new(app);
    client
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    client
}

/// Echo Premium with 250 expired learners (its 2 plus 248 more) and `free` free seats.
pub(crate) async fn echo_with_250_expired(db: &TestDb, free: i64) -> CompanyId {
    let company = echo(db).await;
    let world = World { db };
    world
        .learners(
            company,
            "extra",
            248,
            at(NOW) - SignedDuration::from_hours(24 * 40),
        )
        .await;
    // Echo already has one free seat.
    world
        .batch(company, free - 1, at(NOW) - SignedDuration::from_hours(1))
        .await;
    company
}

#[tokio::test]
async fn select_all_allocates_every_expired_learner_across_pages() {
    let (db, app, _) = demo_app().await;
    let company = echo_with_250_expired(&db, 250).await;
    let mut manager = echo_manager(&app).await;
    let tab = manager.get("/company/licenses?tab=expired").await;
    assert!(tab.body.contains("Expired Licenses (250)"));
    assert!(tab.body.contains("Select All: all 250 expired learners"));
    assert_eq!(
        tab.body.matches(r#"name="user""#).count(),
        50,
        "one page of 50"
    );
    let reply = manager
        .post("/company/licenses/allocate", &[("all", "true")])
        .await;
    assert_eq!(
        reply.location.as_deref(),
        Some("/company/licenses?tab=expired&allocated=250")
    );
    assert_eq!(active_seats(&db, company).await, 3 + 250);
    let tab = manager.get("/company/licenses?tab=expired").await;
    assert!(tab.body.contains("Expired Licenses (0)"));
    let mut learner = Client::new(&app);
    assert_eq!(
        learner
            .sign_in("learner5@echo.example", seed::DEMO_PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/learner")
    );
}

#[tokio::test]
async fn select_all_with_one_seat_too_few_allocates_nothing_and_says_both_numbers() {
    let (db, app, _) = demo_app().await;
    let company = echo_with_250_expired(&db, 249).await;
    let mut manager = echo_manager(&app).await;
    let reply = manager
        .post("/company/licenses/allocate", &[("all", "true")])
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(
        reply.body.contains(
            "Nothing was allocated: 250 learners need a licence but only 249 seats are free."
        ),
        "{}",
        reply.body
    );
    assert_eq!(active_seats(&db, company).await, 3);
}

#[tokio::test]
async fn ticked_learners_get_licences_and_can_sign_in() {
    let (db, app, _) = demo_app().await;
    let company = echo(&db).await;
    World { db: &db }.batch(company, 5, at(NOW)).await;
    let learner5: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'learner5@echo.example'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let mut manager = echo_manager(&app).await;
    let nothing = manager.post("/company/licenses/allocate", &[]).await;
    assert_eq!(nothing.status, StatusCode::CONFLICT);
    assert!(nothing.body.contains("Tick the learners"));
    let reply = manager
        .post(
            "/company/licenses/allocate",
            &[("user", &learner5.to_string())],
        )
        .await;
    assert_eq!(
        reply.location.as_deref(),
        Some("/company/licenses?tab=expired&allocated=1")
    );
    let mut learner = Client::new(&app);
    assert_eq!(
        learner
            .sign_in("learner5@echo.example", seed::DEMO_PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/learner")
    );
    let allocated = manager.get("/company/licenses?tab=allocated").await;
    assert!(allocated.body.contains("learner5@echo.example"));
    assert!(allocated.body.contains("Allocated (4)"));
}

on_both_databases!(two_managers_allocating_the_last_ten_seats_at_once_allocate_exactly_ten);

async fn two_managers_allocating_the_last_ten_seats_at_once_allocate_exactly_ten(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let company = echo(&db).await;
    let world = World { db: &db };
    // Echo has 1 free seat; 9 more make the last 10.
    world
        .batch(company, 9, at(NOW) - SignedDuration::from_hours(1))
        .await;
    let learners = world
        .learners(
            company,
            "racer",
            20,
            at(NOW) - SignedDuration::from_hours(24 * 40),
        )
        .await;
    world
        .user(
            "second@echo.example",
            Role::Company {
                company,
                manager: true,
                learner: false,
            },
            Some(&seatledger::password::hash(seed::DEMO_PASSWORD)),
            at(NOW),
        )
        .await;
    let mut first = echo_manager(&app).await;
    let mut second = Client::new(&app);
    second
        .sign_in("second@echo.example", seed::DEMO_PASSWORD)
        .await;
    let ids = |range: std::ops::Range<usize>| -> Vec<(String, String)> {
        learners[range]
            .iter()
            .map(|u| ("user".to_owned(), u.0.to_string()))
            .collect()
    };
    let (a, b) = (ids(0..10), ids(10..20));
    let fields = |v: &[(String, String)]| {
        v.iter()
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect::<Vec<_>>()
    };
    let (fa, fb) = (fields(&a), fields(&b));
    let (ra, rb) = tokio::join!(
        async {
            let f: Vec<(&str, &str)> = fa.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            first.post("/company/licenses/allocate", &f).await
        },
        async {
            let f: Vec<(&str, &str)> = fb.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            second.post("/company/licenses/allocate", &f).await
        }
    );
    let statuses = [ra.status, rb.status];
    assert!(
        statuses.contains(&StatusCode::SEE_OTHER) && statuses.contains(&StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert_eq!(active_seats(&db, company).await, 3 + 10);
    assert!(seatledger::db::check::run(&db).await.unwrap().is_clean());
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/csv/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Uploads a file; returns the reply and, for an accepted file, the preview page.
async fn upload(
    manager: &mut Client,
    name: &str,
    bytes: &[u8],
) -> (crate::web::Reply, Option<String>) {
    manager.get("/company/licenses/renewal").await;
    let reply = manager
        .upload("/company/licenses/renewal", name, bytes)
        .await;
    let preview = match reply.location.clone() {
        Some(location) => Some(manager.get(&location).await.body),
        None => None,
    };
    (reply, preview)
}

#[tokio::test]
async fn messy_files_preview_with_every_row_accounted_for_and_bad_files_are_refused_clearly() {
    let (db, app, _) = demo_app().await;
    World { db: &db }.batch(echo(&db).await, 5, at(NOW)).await;
    let mut manager = echo_manager(&app).await;
    for (file, renewed, not_renewed) in [
        ("bom_comma_crlf.csv", 2, 0),
        ("semicolon_quoted.csv", 2, 0),
        ("tab_extra_columns.csv", 2, 0),
        ("third_column.csv", 2, 0),
        ("one_column.csv", 2, 0),
        ("two_hundred_columns.csv", 1, 0),
        ("blank_lines_and_reasons.csv", 1, 4),
    ] {
        let (reply, preview) = upload(&mut manager, file, &fixture(file)).await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{file}: {}",
            reply.body
        );
        let preview = preview.unwrap();
        let summary = format!(
            "<strong>{renewed}</strong> learners will be renewed; <strong>{not_renewed}</strong> rows will not"
        );
        assert!(preview.contains(&summary), "{file}: {preview}");
    }
    let (_, preview) = upload(
        &mut manager,
        "reasons.csv",
        &fixture("blank_lines_and_reasons.csv"),
    )
    .await;
    let preview = preview.unwrap();
    for row in [
        "<td>5</td><td>not-an-email</td><td>not an email</td>",
        "<td>6</td><td>learner4@echo.example</td><td>duplicate of line 3</td>",
        "<td>7</td><td>nobody@echo.example</td><td>unknown email</td>",
        "<td>8</td><td>learner1@echo.example</td><td>already active</td>",
    ] {
        assert!(preview.contains(row), "{row} missing from {preview}");
    }

    let mut too_big = b"email\n".to_vec();
    too_big.resize(seatledger::imports::MAX_BYTES + 1, b'a');
    for (file, bytes, message) in [
        (
            "header_only.csv",
            fixture("header_only.csv"),
            "the file has a header but no rows",
        ),
        (
            "invalid_utf8.csv",
            fixture("invalid_utf8.csv"),
            "the file is not UTF-8 text: line 2",
        ),
        (
            "binary.csv",
            fixture("binary.csv"),
            "the file is not a text file",
        ),
        ("empty.csv", fixture("empty.csv"), "the file is empty"),
        (
            "ten_thousand_columns.csv",
            fixture("ten_thousand_columns.csv"),
            "line 1 has more than 200 columns; a file may have at most 200",
        ),
        ("huge.csv", too_big, "the file is larger than 20 MB"),
    ] {
        let (reply, _) = upload(&mut manager, file, &bytes).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{file}");
        assert!(reply.body.contains(message), "{file}: {}", reply.body);
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM csv_uploads")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(stored, 8, "refused files are not kept");
}

#[tokio::test]
async fn renewal_is_all_or_nothing_and_a_second_run_renews_nobody_twice() {
    let (db, app, _) = demo_app().await;
    let company = echo(&db).await;
    let mut manager = echo_manager(&app).await;
    let (reply, preview) = upload(&mut manager, "third.csv", &fixture("third_column.csv")).await;
    let path = reply.location.unwrap();
    let preview = preview.unwrap();
    assert!(preview.contains(r#"<option value="2" selected>Work email</option>"#));

    // Echo has one free seat for two learners: nothing is renewed.
    let refused = manager.post(&path, &[("column", "2")]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused
            .body
            .contains("Nothing was renewed: 2 learners need a licence but only 1 seats are free.")
    );
    assert_eq!(active_seats(&db, company).await, 3);

    World { db: &db }.batch(company, 1, at(NOW)).await;
    let applied = manager.post(&path, &[("column", "2")]).await;
    assert_eq!(
        applied.location.as_deref(),
        Some("/company/licenses?tab=allocated&renewed=2")
    );
    assert_eq!(active_seats(&db, company).await, 5);

    // The applied file went with its renewal.
    let again = manager.post(&path, &[("column", "2")]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let uploads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM csv_uploads")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(uploads, 0);
    let (reply, preview) = upload(&mut manager, "third.csv", &fixture("third_column.csv")).await;
    let path = reply.location.unwrap();
    assert!(
        preview.unwrap().contains(
            "<strong>0</strong> learners will be renewed; <strong>2</strong> rows will not"
        )
    );
    let again = manager.post(&path, &[("column", "2")]).await;
    assert_eq!(
        again.location.as_deref(),
        Some("/company/licenses?tab=allocated&renewed=0")
    );
    assert_eq!(active_seats(&db, company).await, 5);

    let (reply, _) = upload(&mut manager, "third.csv", &fixture("third_column.csv")).await;
    let path = reply.location.unwrap();
    let report = manager.get(&format!("{path}/report.csv?column=2")).await;
    assert_eq!(
        report.body,
        "line,Work email,outcome\n2,learner4@echo.example,already active\n3,learner5@echo.example,already active\n"
    );
    assert!(seatledger::db::check::run(&db).await.unwrap().is_clean());
}
