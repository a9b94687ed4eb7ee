//! Guards on seats and people, on both databases: Allocate takes only the company's learners,
//! and nobody deactivates or deletes themselves or the company's last active manager.

use axum::http::StatusCode;
use seatledger::db::seed;
use seatledger::domain::{CompanyId, Role};

use crate::isolation::id_of;
use crate::on_both_databases;
use crate::support::{TestDb, World, at};
use crate::web::{Client, NOW, demo_app_on};

on_both_databases!(
    allocate_spends_no_seat_on_a_user_who_is_not_a_learner,
    nobody_removes_themselves_or_the_last_active_manager_by_either_verb,
);

async fn signed_in(app: &seatledger::app::App, email: &str) -> Client {
    let mut client = Client::new(app);
    client.sign_in(email, seed::DEMO_PASSWORD).await;
    client
}

async fn seats_of(db: &TestDb, user: i64) -> i64 {
    id_of(
        db,
        &format!("SELECT COUNT(*) FROM seats WHERE user_id = {user}"),
    )
    .await
}

async fn allocate_spends_no_seat_on_a_user_who_is_not_a_learner(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let manager = id_of(
        &db,
        "SELECT id FROM users WHERE email = 'manager@echo.example'",
    )
    .await;
    let learner = id_of(
        &db,
        "SELECT id FROM users WHERE email = 'learner4@echo.example'",
    )
    .await;
    let mut client = signed_in(&app, "manager@echo.example").await;
    client.get("/company/licenses?tab=expired").await;
    for user in [manager, learner] {
        // One ticked user who is not a learner refuses the whole allocation.
        let refused = client
            .post(
                "/company/licenses/allocate",
                &[("user", &learner.to_string()), ("user", &user.to_string())],
            )
            .await;
        if user == manager {
            assert_eq!(refused.status, StatusCode::NOT_FOUND);
            assert_eq!(
                (seats_of(&db, manager).await, seats_of(&db, learner).await),
                (0, 0)
            );
        } else {
            assert_eq!(refused.status, StatusCode::SEE_OTHER);
            assert_eq!(seats_of(&db, learner).await, 1);
        }
    }
}

async fn nobody_removes_themselves_or_the_last_active_manager_by_either_verb(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let echo = id_of(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    let manager = id_of(
        &db,
        "SELECT id FROM users WHERE email = 'manager@echo.example'",
    )
    .await;
    let mut client = signed_in(&app, "manager@echo.example").await;
    client.get("/company/users").await;
    for verb in ["deactivate", "delete"] {
        let refused = client
            .post(&format!("/company/users/{manager}/{verb}"), &[])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{verb}");
        assert!(
            refused
                .body
                .contains("You cannot deactivate or delete your own account.")
        );
    }

    // The partner, in manage mode, may not leave Echo without an active manager either.
    let mut partner = signed_in(&app, "admin@bluefin.example").await;
    partner.get("/partner").await;
    partner
        .post(&format!("/partner/companies/{echo}/manage"), &[])
        .await;
    for verb in ["deactivate", "delete"] {
        let refused = partner
            .post(&format!("/company/users/{manager}/{verb}"), &[])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{verb}");
        assert!(
            refused
                .body
                .contains("This is the company&#39;s last active manager")
                || refused
                    .body
                    .contains("This is the company's last active manager"),
            "{}",
            refused.body
        );
    }
    let active: i64 = id_of(
        &db,
        &format!("SELECT COUNT(*) FROM users WHERE id = {manager} AND deactivated_at IS NULL"),
    )
    .await;
    assert_eq!(active, 1);

    // With a second manager, the first may go.
    let second = World { db: &db }
        .user(
            "second.manager@echo.example",
            Role::Company {
                company: CompanyId(echo),
                manager: true,
                learner: false,
            },
            None,
            at(NOW),
        )
        .await;
    let done = partner
        .post(&format!("/company/users/{manager}/deactivate"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let refused = partner
        .post(&format!("/company/users/{second}/delete"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
