//! Pages read their own company through an index, whatever the size of the instance: asked of
//! SQLite's planner (`EXPLAIN QUERY PLAN`) for the SQL each Licenses tab runs. PostgreSQL's
//! planner chooses by table statistics, so a small test database cannot tell there; the
//! `pages` benchmark measures both.

use sqlx::Row;

use seatledger::db::activity::{self, ActivityFilter, ActivityOf};
use seatledger::db::companies::{self, CompanyFilter};
use seatledger::db::orders::{self, OrderFilter, OrdersTab, Seller};
use seatledger::db::{Backend, Db, Scope, licences, seed};
use seatledger::domain::OrderState;

use crate::support::{World, postgres, sqlite, t0};

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

/// The partner lists of a bulk partner with a sub-partner: each is asked for its plan.
async fn partner_list_plans(db: &Db, companies: u64) -> Vec<(&'static str, Vec<String>)> {
    let partner = seed::bulk(db, "x", companies, 1, t0())
        .await
        .unwrap()
        .partner;
    World { db }.partner(Some(partner), "Sub Partner").await;
    let scope = Scope::Partner(partner);
    let seller = Seller::Partner(partner);
    let search = |name: &str| CompanyFilter {
        status: None,
        name: Some(name.to_owned()),
    };
    let mut plans = vec![
        (
            "Company",
            companies::list_query(db, &scope, &CompanyFilter::default(), None, 25, t0()).await,
        ),
        (
            "Company search",
            companies::list_query(db, &scope, &search("1000005"), None, 25, t0()).await,
        ),
        (
            "Activity",
            activity::list_query(
                db,
                ActivityOf::Partner(partner),
                ActivityFilter::default(),
                None,
                25,
            )
            .await,
        ),
    ];
    let requested = OrderFilter {
        state: Some(OrderState::Requested),
        ..OrderFilter::default()
    };
    for (name, tab, filter) in [
        ("Requested", OrdersTab::Requested, OrderFilter::default()),
        ("Assigned", OrdersTab::Assigned, OrderFilter::default()),
        ("My Orders", OrdersTab::Mine, OrderFilter::default()),
        // The API's list of every order sold, whole and by state.
        ("Sold", OrdersTab::Sold, OrderFilter::default()),
        ("Sold, requested", OrdersTab::Sold, requested),
    ] {
        plans.push((
            name,
            orders::for_seller_query(db, seller, tab, &filter, None, 25).await,
        ));
    }
    let mut conn = db.pool().acquire().await.unwrap();
    if db.backend() == Backend::Postgres {
        // As on a large table: whatever an index can serve, it serves.
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    let mut explained = Vec::new();
    for (name, query) in plans {
        let plan = query.unwrap().plan(db.backend(), &mut conn).await.unwrap();
        explained.push((name, plan));
    }
    explained
}

#[tokio::test]
async fn partner_lists_walk_each_partner_by_index_and_search_names_by_trigram() {
    let db = sqlite().await;
    for (list, plan) in partner_list_plans(&db, 50).await {
        for table in ["c", "o", "a", "companies", "orders", "activity"] {
            assert!(
                !plan.iter().any(|step| step == &format!("SCAN {table}")),
                "{list} scans {table}: {plan:#?}"
            );
        }
        // Each arm walks its index in list order, so the only sorts are of the arms' pages
        // as they are merged (a TEMP B-TREE step right after `SCAN armN`). A search sorts the
        // names that match.
        if list != "Company search" {
            for (at, step) in plan.iter().enumerate().skip(1) {
                assert!(
                    !step.contains("TEMP B-TREE") || plan[at - 1].starts_with("SCAN arm"),
                    "{list} sorts more than a page per arm: {plan:#?}"
                );
            }
        }
        let index = match list {
            "Company" => "companies_partner_name (partner_id=? AND",
            "Company search" => "company_names VIRTUAL TABLE INDEX 0:M",
            "Activity" => "activity_partner (partner_id=?)",
            "My Orders" => "orders_company (company_id=?)",
            "Sold" => "USING INDEX orders_partner_requested (partner_id=?)",
            _ => "USING INDEX orders_partner_state (partner_id=? AND state=?)",
        };
        assert!(
            plan.iter().any(|step| step.contains(index)),
            "{list} does not read {index}: {plan:#?}"
        );
    }
}

/// PostgreSQL plans by statistics, which a small database cannot stand for; with sequential
/// scans priced out, as on large tables, each list walks its index. (Whether PostgreSQL searches
/// names by the trigram index depends on how common the text's trigrams are: the `pages`
/// benchmark measures it.)
#[tokio::test]
async fn partner_lists_walk_their_indexes_on_postgres() {
    let Some(db) = postgres().await else { return };
    for (list, plan) in partner_list_plans(&db, 50).await {
        let index = match list {
            "Company search" => continue,
            "Company" => "companies_partner_name",
            "Activity" => "activity_partner",
            "My Orders" => "orders_company",
            "Sold" => "orders_partner_requested",
            _ => "orders_partner_state",
        };
        assert!(
            plan.iter().any(|step| step.contains(index)),
            "{list} does not read {index}: {plan:#?}"
        );
        assert!(
            !plan
                .iter()
                .any(|step| step.contains("Seq Scan on companies")
                    || step.contains("Seq Scan on orders")
                    || step.contains("Seq Scan on activity")),
            "{list} reads a whole table: {plan:#?}"
        );
    }
}
