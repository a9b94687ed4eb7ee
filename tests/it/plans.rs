//! Pages read their own company through an index, whatever the size of the instance: asked of
//! SQLite's planner (`EXPLAIN QUERY PLAN`) for the SQL each Licenses tab runs. PostgreSQL's
//! planner chooses by table statistics, so a small test database cannot tell there; the
//! `pages` benchmark measures both.

use sqlx::Row;

use seatledger::db::{licences, seed};

use crate::support::{sqlite, t0};

#[tokio::test]
async fn every_licenses_tab_searches_its_company_by_index_and_scans_no_table() {
    let db = sqlite().await;
    seed::bulk(&db, "x", 50, 20, t0()).await.unwrap();
    let company: i64 = sqlx::query_scalar("SELECT MAX(id) FROM companies")
        .fetch_one(db.pool())
        .await
        .unwrap();
    for (tab, sql, params) in licences::tab_queries() {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query(&explain).bind(company).bind(t0().as_second());
        for _ in 2..params {
            query = query.bind(100_i64);
        }
        let plan: Vec<String> = query
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get("detail").unwrap())
            .collect();
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{tab} scans a table: {plan:#?}"
        );
        assert!(
            plan.iter().any(|step| step.starts_with("SEARCH")),
            "{tab}: {plan:#?}"
        );
        if tab == "Allocated and Expiring" {
            assert!(
                plan.iter()
                    .any(|step| step.contains("seats_company_open (company_id=?")),
                "{plan:#?}"
            );
        }
    }
}

#[tokio::test]
async fn a_partners_order_list_reads_its_orders_by_index_whatever_the_instance_holds() {
    let db = sqlite().await;
    for sql in seatledger::db::orders::sold_queries() {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query(&explain).bind(1_i64);
        for value in ["", ""] {
            query = query.bind(value);
        }
        for value in [0_i64, i64::MAX, i64::MAX, i64::MAX, 51, 0] {
            query = query.bind(value);
        }
        let plan: Vec<String> = query
            .bind("requested")
            .bind(0_i64)
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get("detail").unwrap())
            .collect();
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "the order list scans a table: {plan:#?}"
        );
        assert!(
            plan.iter()
                .any(|step| step.starts_with("SEARCH o USING INDEX orders_partner_")),
            "{plan:#?}"
        );
    }
}
