//! The Users section and sign-in hardening over HTTP: Add User with automatic seats and welcome
//! links, Import Users, Deactivate and Delete returning seats, lockout after three wrong
//! passwords, and rate-limited single-use reset links.

use axum::http::StatusCode;
use jiff::SignedDuration;
use seatledger::db::seed;

use crate::support::{TestDb, World, at};
use crate::web::{Client, NOW, demo_app, row_of};

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

async fn echo_manager(app: &seatledger::app::App) -> Client {
    let mut client = Client::new(app);
    client
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    client
}

/// The link in the newest email to `recipient`, as a path.
async fn link_to(db: &TestDb, recipient: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body_text FROM outbox WHERE recipient = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(recipient)
    .fetch_one(db.pool())
    .await
    .unwrap();
    let link = body
        .split_whitespace()
        .find(|w| w.contains("/set-password?token="))
        .expect("a set-password link");
    link.trim_start_matches("http://127.0.0.1:8080").to_owned()
}

#[tokio::test]
async fn a_new_learner_gets_a_free_seat_and_the_next_one_awaits_a_licence() {
    let (db, app, clock) = demo_app().await;
    let mut manager = echo_manager(&app).await;
    assert!(
        manager
            .get("/company/users/new")
            .await
            .body
            .contains("<h1>Add User</h1>")
    );
    for email in ["new1@echo.example", "new2@echo.example"] {
        let reply = manager
            .post(
                "/company/users",
                &[
                    ("first_name", "New"),
                    ("last_name", "Person"),
                    ("email", email),
                    ("department", "Ops"),
                    ("role", "learner"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    }
    let users = manager.get("/company/users").await.body;
    assert!(
        row_of(&users, "new1@echo.example").contains("Active until"),
        "{users}"
    );
    assert!(row_of(&users, "new2@echo.example").contains("Awaiting licence"));
    // Expired users are never seated automatically.
    assert!(row_of(&users, "learner5@echo.example").contains("Expired"));

    let link = link_to(&db, "new2@echo.example").await;
    let mut new_user = Client::new(&app);
    assert!(!new_user.get(&link).await.body.contains("expired"));
    clock.advance(SignedDuration::from_hours(24 * 7) + SignedDuration::from_secs(1));
    assert!(
        new_user
            .get(&link)
            .await
            .body
            .contains("This link has expired.")
    );
}

#[tokio::test]
async fn add_user_reports_bad_fields_and_existing_emails_by_field() {
    let (db, app, _) = demo_app().await;
    let mut manager = echo_manager(&app).await;
    let before = scalar(&db, "SELECT COUNT(*) FROM users").await;
    let bad = manager
        .post("/company/users", &[("email", "nope"), ("role", "boss")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("Email: &#34;nope&#34; is not an email address."),
        "{}",
        bad.body
    );
    assert!(
        bad.body
            .contains("Role: &#34;boss&#34; is not one of: learner, manager, both.")
    );
    let taken = manager
        .post(
            "/company/users",
            &[("email", "Learner1@Echo.example"), ("role", "learner")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        taken
            .body
            .contains("Email: this email address is already in use.")
    );
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM users").await, before);
}

#[tokio::test]
async fn deactivating_returns_the_seat_with_its_batch_validity_and_ends_access() {
    let (db, app, _) = demo_app().await;
    let mut learner = Client::new(&app);
    learner
        .sign_in("learner1@echo.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(learner.get("/learner").await.status, StatusCode::OK);
    let id = scalar(
        &db,
        "SELECT id FROM users WHERE email = 'learner1@echo.example'",
    )
    .await;
    let expires_before = scalar(&db, "SELECT MAX(expires_at) FROM licence_batches b JOIN companies c ON c.id = b.company_id WHERE c.name = 'Echo Premium'").await;
    let mut manager = echo_manager(&app).await;
    let reply = manager
        .post(&format!("/company/users/{id}/deactivate"), &[])
        .await;
    assert_eq!(reply.location.as_deref(), Some("/company/users"));
    assert_eq!(
        learner.get("/learner").await.location.as_deref(),
        Some("/sign-in")
    );
    let refused = Client::new(&app)
        .sign_in("learner1@echo.example", seed::DEMO_PASSWORD)
        .await;
    assert!(refused.body.contains("This account has been deactivated."));
    let tab = manager.get("/company/licenses?tab=available").await.body;
    assert!(
        tab.contains("Available (2)"),
        "the seat went back to its batch"
    );
    let expires_after = scalar(&db, "SELECT MAX(expires_at) FROM licence_batches b JOIN companies c ON c.id = b.company_id WHERE c.name = 'Echo Premium'").await;
    assert_eq!(expires_before, expires_after);
    let learner5 = scalar(
        &db,
        "SELECT id FROM users WHERE email = 'learner5@echo.example'",
    )
    .await;
    let learner4 = scalar(
        &db,
        "SELECT id FROM users WHERE email = 'learner4@echo.example'",
    )
    .await;
    let reply = manager
        .post(
            "/company/licenses/allocate",
            &[
                ("user", &learner4.to_string()),
                ("user", &learner5.to_string()),
            ],
        )
        .await;
    assert_eq!(
        reply.location.as_deref(),
        Some("/company/licenses?tab=expired&allocated=2")
    );
    assert!(seatledger::db::check::run(&db).await.unwrap().is_clean());
}

#[tokio::test]
async fn deleting_a_user_returns_the_seat_and_keeps_the_ledger() {
    let (db, app, _) = demo_app().await;
    let id = scalar(
        &db,
        "SELECT id FROM users WHERE email = 'learner2@echo.example'",
    )
    .await;
    let mut manager = echo_manager(&app).await;
    let reply = manager
        .post(&format!("/company/users/{id}/delete"), &[])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        scalar(&db, &format!("SELECT COUNT(*) FROM users WHERE id = {id}")).await,
        0
    );
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT COUNT(*) FROM seat_events WHERE user_id = {id}")
        )
        .await,
        2
    );
    assert!(
        manager
            .get("/company/licenses?tab=available")
            .await
            .body
            .contains("Available (2)")
    );
    let report = seatledger::db::check::run(&db).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    // Another company's user cannot be deleted from here.
    let foreign = scalar(
        &db,
        "SELECT id FROM users WHERE email = 'learner1@acme.example'",
    )
    .await;
    assert_eq!(
        manager
            .post(&format!("/company/users/{foreign}/delete"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn importing_users_keeps_good_rows_reports_bad_ones_and_seats_while_seats_last() {
    let (db, app, _) = demo_app().await;
    let echo = seatledger::domain::CompanyId(
        scalar(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await,
    );
    World { db: &db }.batch(echo, 1, at(NOW)).await;
    let mut manager = echo_manager(&app).await;
    manager.get("/company/users/import").await;
    let file = "Given;Family;Mail;Team\r\nAda;Lovelace;ada@echo.example;R&D\r\nBad;Row;not-an-email;\r\n\r\nBo;Bo;learner1@echo.example;\r\nCy;Young;cy@echo.example;\r\nAda;Again;ADA@echo.example;\r\nDi;Dot;di@echo.example;\r\n";
    let reply = manager
        .upload("/company/users/import", "people.csv", file.as_bytes())
        .await;
    let mapping_path = reply.location.expect("upload accepted");
    let mapping = manager.get(&mapping_path).await.body;
    assert!(
        mapping.contains(r#"<option value="2" selected>Mail</option>"#),
        "{mapping}"
    );
    assert!(
        mapping.contains("4 rows can be imported; 2 rows cannot."),
        "{mapping}"
    );
    let done = manager
        .post(
            &mapping_path,
            &[
                ("email", "2"),
                ("first_name", "0"),
                ("last_name", "1"),
                ("department", "3"),
            ],
        )
        .await
        .body;
    assert!(
        done.contains("Imported 3 users (2 got a licence); 3 rows were not imported."),
        "{done}"
    );
    for row in [
        "<td>3</td><td>not-an-email</td><td>not an email</td>",
        "<td>5</td><td>learner1@echo.example</td><td>address already in use</td>",
        "<td>7</td><td>ADA@echo.example</td><td>duplicate of line 2</td>",
    ] {
        assert!(done.contains(row), "{row} missing: {done}");
    }
    let users = manager.get("/company/users").await.body;
    assert!(
        row_of(&users, "ada@echo.example").contains("R&amp;D")
            || row_of(&users, "ada@echo.example").contains("R&#38;D")
    );
    assert!(row_of(&users, "ada@echo.example").contains("Active until"));
    assert!(row_of(&users, "cy@echo.example").contains("Active until"));
    assert!(row_of(&users, "di@echo.example").contains("Awaiting licence"));
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM outbox WHERE kind = 'welcome'").await,
        3
    );
}

#[tokio::test]
async fn a_reset_link_goes_out_at_most_every_thirty_minutes_and_works_once() {
    let (db, app, clock) = demo_app().await;
    let resets = || async {
        scalar(
            &db,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset'",
        )
        .await
    };
    let mut client = Client::new(&app);
    for email in [
        "manager@echo.example",
        "manager@echo.example",
        "nobody@echo.example",
    ] {
        client.get("/forgot-password").await;
        let reply = client.post("/forgot-password", &[("email", email)]).await;
        assert!(reply.body.contains("If an account exists for that email"));
    }
    assert_eq!(resets().await, 1);
    clock.advance(SignedDuration::from_mins(30));
    client
        .post("/forgot-password", &[("email", "manager@echo.example")])
        .await;
    assert_eq!(resets().await, 2);

    let mut signed_in_elsewhere = echo_manager(&app).await;
    assert_eq!(
        signed_in_elsewhere.get("/company").await.status,
        StatusCode::OK
    );
    let first_link = sqlx::query_scalar::<_, String>(
        "SELECT body_text FROM outbox WHERE kind = 'password_reset' ORDER BY id LIMIT 1",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    let link = link_to(&db, "manager@echo.example").await;
    let token = link.rsplit('=').next().unwrap().to_owned();
    let mut manager = Client::new(&app);
    manager.get(&link).await;
    let set = manager
        .post(
            "/set-password",
            &[
                ("token", &token),
                ("password", "a brand new secret"),
                ("confirm", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(set.location.as_deref(), Some("/sign-in?password=set"));
    // A new password ends other sessions and cancels older links.
    assert_eq!(
        signed_in_elsewhere
            .get("/company")
            .await
            .location
            .as_deref(),
        Some("/sign-in")
    );
    let older = first_link
        .split_whitespace()
        .find(|w| w.contains("/set-password?token="))
        .unwrap();
    let older = older.trim_start_matches("http://127.0.0.1:8080");
    assert!(
        Client::new(&app)
            .get(older)
            .await
            .body
            .contains("This link has already been used.")
    );
    assert!(
        manager
            .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
            .await
            .body
            .contains("incorrect")
    );
    assert_eq!(
        manager
            .sign_in("manager@echo.example", "a brand new secret")
            .await
            .location
            .as_deref(),
        Some("/company")
    );
    let reused = manager
        .post(
            "/set-password",
            &[
                ("token", &token),
                ("password", "yet another secret"),
                ("confirm", "yet another secret"),
            ],
        )
        .await;
    assert!(reused.body.contains("This link has already been used."));
}
