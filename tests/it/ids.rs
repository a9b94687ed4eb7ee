//! Ids the seat ledger and Activity name are never given to another row: on SQLite the tables
//! are AUTOINCREMENT (migration 0013 rebuilt them, keeping their indexes and foreign keys).

use seatledger::db::seed;
use seatledger::domain::{CompanyId, Role};

use crate::on_both_databases;
use crate::support::{TestDb, World, at};
use crate::web::{Client, NOW, demo_app, demo_app_on};

on_both_databases!(a_deleted_newest_users_id_is_never_given_to_the_next_user);

async fn a_deleted_newest_users_id_is_never_given_to_the_next_user(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let echo: i64 = sqlx::query_scalar("SELECT id FROM companies WHERE name = 'Echo Premium'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let learner = Role::Company {
        company: CompanyId(echo),
        manager: false,
        learner: true,
    };
    let world = World { db: &db };
    let newest = world
        .user("leaving@echo.example", learner, None, at(NOW))
        .await;
    let mut manager = Client::new(&app);
    manager
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    manager.get("/company/users").await;
    let deleted = manager
        .post(&format!("/company/users/{newest}/delete"), &[])
        .await;
    assert_eq!(deleted.status.as_u16(), 303, "{}", deleted.body);
    let gone: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = $1")
        .bind(newest.0)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(gone, 0);
    let next = world
        .user("arriving@echo.example", learner, None, at(NOW))
        .await;
    assert!(next.0 > newest.0, "{next} reuses {newest}");
    // Nothing recorded about the deleted user reads as the new one's.
    let activity: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE actor_user_id = $1")
            .bind(next.0)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(activity, 0);
}

#[tokio::test]
async fn the_rebuilt_sqlite_tables_keep_their_indexes_foreign_keys_and_autoincrement() {
    let (db, _app, _) = demo_app().await;
    for (table, indexes) in [
        ("partners", &["partners_name"][..]),
        (
            "companies",
            &[
                "companies_partner_name",
                "companies_trial_ends",
                "companies_licensed_until",
                "companies_trial_due",
                "companies_name",
                "companies_one_internal",
            ],
        ),
        (
            "users",
            &[
                "users_company_name",
                "users_partner",
                "users_one_operator",
                // 0014, after the rebuild
                "users_company_active_learners",
            ],
        ),
        ("orders", &["orders_partner_state", "orders_company"]),
        (
            "licence_batches",
            &[
                "licence_batches_company_expiry",
                "licence_batches_expiry",
                "licence_batches_due",
            ],
        ),
        (
            "seats",
            &[
                "seats_one_open_per_user",
                "seats_batch",
                "seats_user",
                // 0014, after the rebuild
                "seats_company_open",
            ],
        ),
        // 0024 drops the ledger's indexes by batch and by learner, which only the check read.
        ("seat_events", &["seat_events_company"]),
        (
            "activity",
            &["activity_partner", "activity_company", "activity_actor"],
        ),
        (
            "csv_uploads",
            &["csv_uploads_company", "csv_uploads_created"],
        ),
    ] {
        let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
            .bind(table)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(sql.contains("AUTOINCREMENT"), "{table}");
        let have: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 \
             AND name NOT LIKE 'sqlite_autoindex%'",
        )
        .bind(table)
        .fetch_all(db.pool())
        .await
        .unwrap();
        // Later migrations may add indexes; none made before the rebuild may be missing.
        for index in indexes {
            assert!(have.iter().any(|h| h == index), "{table} lost {index}");
        }
    }
    // Foreign keys still hold and are still enforced.
    let broken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pragma_foreign_key_check")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(broken, 0);
    let orphan = sqlx::query(
        "INSERT INTO seats (batch_id, company_id, user_id, allocated_at) VALUES (999999, 999999, 999999, 0)",
    )
    .execute(db.pool())
    .await;
    assert!(orphan.is_err(), "a seat of no batch was stored");
}
