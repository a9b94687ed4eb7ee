//! Guards on seats and people, on both databases: Allocate takes only the company's learners,
//! and nobody deactivates or deletes themselves or the company's last active manager.

use axum::http::StatusCode;
use seatledger::db::{Actor, Scope, seed};
use seatledger::domain::{CompanyId, Role};
use seatledger::ops::users::{self, Removal};
use seatledger::ops::{self, Error, Refusal};

use crate::isolation::id_of;
use crate::on_both_databases;
use crate::support::{TestDb, World, at, caller, ops_at};
use crate::web::{Client, NOW, demo_app_on};

on_both_databases!(
    allocate_spends_no_seat_on_a_user_who_is_not_a_learner,
    nobody_removes_themselves_or_the_last_active_manager_by_either_verb,
    two_managers_removed_at_once_leave_one,
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

/// Two removals at once of a company's only two active managers, by someone who is neither (its
/// partner): exactly one goes through and the other is refused as the last manager, round after
/// round, by either verb. Each removal counts the managers left after the other's commit.
async fn two_managers_removed_at_once_leave_one(db: TestDb) {
    let world = World { db: &db };
    let partner = world.partner(None, "Careful IT").await;
    let scope = Scope::Partner(partner);
    let caller = caller(&scope, Actor::SYSTEM);
    let now = at(NOW);
    let ops = ops_at(&db, now);
    for round in 0..8 {
        let company = world
            .company(partner, &format!("Two Bosses {round}"), now)
            .await;
        let role = Role::Company {
            company,
            manager: true,
            learner: true,
        };
        let mut bosses = Vec::new();
        for boss in ["first", "second"] {
            let email = format!("{boss}{round}@bosses.example");
            bosses.push(world.user(&email, role, None, now).await);
        }
        let authorised = ops::authorise(&ops, &caller, company).await.unwrap();
        let removal = if round % 2 == 0 {
            Removal::Deactivate
        } else {
            Removal::Delete
        };
        let tasks: Vec<_> = bosses
            .iter()
            .map(|&boss| {
                let (ops, authorised) = (ops.clone(), authorised.clone());
                tokio::spawn(async move {
                    users::remove(&ops, &caller, &authorised, boss, removal).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let removed = outcomes.iter().filter(|o| o.is_ok()).count();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(Error::Forbidden(Refusal::LastManager))))
            .count();
        assert_eq!((removed, refused), (1, 1), "round {round}: {outcomes:?}");
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE company_id = $1 AND is_manager = 1 \
             AND deactivated_at IS NULL",
        )
        .bind(company.0)
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(left, 1, "round {round}");
    }
}
