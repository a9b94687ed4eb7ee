//! Pages read their own company through an index, whatever the size of the instance: asked of
//! SQLite's planner (`EXPLAIN QUERY PLAN`) for the SQL each Licenses tab and each list runs. PostgreSQL's
//! planner chooses by table statistics, so a small test database cannot tell there; the
//! `pages` benchmark measures both.

use sqlx::Row;

use seatledger::db::activity::{self, ActivityFilter};
use seatledger::db::companies::{self, CompanyFilter, CompanySort, StatusFilter};
use seatledger::db::keyset::{Cursor, PlanStep, Planned, Seek, Sort, SortKey};
use seatledger::db::orders::{self, OrderFilter, OrderSort, OrdersTab, Seller};
use seatledger::db::partners;
use seatledger::db::people::{self, UserSort};
use seatledger::db::scope::{Reach, reach};
use seatledger::db::{Scope, licences, seed};
use seatledger::domain::{CompanyId, OrderKind, PartnerId, UserId};

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

/// The steps of `plan` that read a table without an index, or that sort rows outside an index
/// below the top of the query (at the top, a query sorts again the page's few rows it picked).
fn unindexed(plan: &[PlanStep], merges: bool, sorts_page_again: bool) -> Vec<&PlanStep> {
    plan.iter()
        .filter(|step| {
            let page_sorted_again = sorts_page_again && step.parent == 0;
            step.detail.starts_with("SCAN")
                || (step.detail.contains("TEMP B-TREE") && !page_sorted_again && !merges)
        })
        .collect()
}

/// Every sort of every list, both ways, first page and from a cursor either way: each walks an
/// index of its tenant from the cursor and scans no table. A partner without sub-partners reads
/// one index range in order; one with sub-partners reads one range per partner, merged.
#[tokio::test]
async fn every_list_and_sort_walks_an_index_from_its_cursor() {
    let db = sqlite().await;
    seed::bulk(&db, "x", 50, 20, t0()).await.unwrap();
    let partner: i64 = sqlx::query_scalar("SELECT MAX(partner_id) FROM companies")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let scope = Scope::Partner(PartnerId(partner));
    assert_eq!(reach(&db, &scope).await.unwrap(), Reach::OnePartner);
    let mut checked = 0;
    for reach in [Reach::OnePartner, Reach::Tree] {
        for (list, query) in list_queries((&scope, reach)) {
            let plan = query.explain(&db).await.unwrap();
            let merges = reach == Reach::Tree;
            // The Company section picks its page's ids in a subquery, then sorts those rows.
            let sorts_page_again = list.starts_with("companies_");
            let wrong = unindexed(&plan, merges, sorts_page_again);
            assert!(wrong.is_empty(), "{list} {reach:?}: {plan:#?}");
            // Merged, any of the tenant's indexes finds the ranges; in order, the sort's own.
            let index = match list.split(' ').next().unwrap() {
                own if !merges => own,
                orders if orders.starts_with("orders_company") => orders,
                orders if orders.starts_with("orders_") => "INDEX orders_partner_state",
                activity if activity.starts_with("activity_") => activity,
                users if users.starts_with("users_") => users,
                sub if sub.starts_with("partners_") => sub,
                seats if seats.starts_with("seats_") => seats,
                _ => "INDEX companies_partner_",
            };
            assert!(
                plan.iter().any(|step| step.detail.contains(index)),
                "{list} does not walk {index}: {plan:#?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 48, "only {checked} queries planned");
}

fn seeks(text: bool) -> [Seek; 3] {
    let key = |n: i64| {
        if text {
            SortKey::Text(format!("m{n}"))
        } else {
            SortKey::Number(n)
        }
    };
    [
        Seek::First,
        Seek::After(Cursor { key: key(5), id: 5 }),
        Seek::Before(Cursor { key: key(9), id: 9 }),
    ]
}

/// The query of every list page: each sort, both directions, each kind of seek.
fn list_queries(scope: (&Scope, Reach)) -> Vec<(String, Planned)> {
    let mut queries = Vec::new();
    let filters = [
        CompanyFilter::default(),
        CompanyFilter {
            status: Some(StatusFilter::Premium),
            name: Some("co".into()),
        },
    ];
    for &sort in CompanySort::ALL {
        for descending in [false, true] {
            for seek in seeks(sort.key().1) {
                for filter in &filters {
                    let query = companies::section_query(
                        scope,
                        filter,
                        (sort, descending),
                        &seek,
                        50,
                        t0(),
                    );
                    let index = match sort {
                        CompanySort::Name => "companies_partner_name",
                        CompanySort::Ends => "companies_partner_ends",
                    };
                    let name =
                        format!("{index} Company {sort:?} desc={descending} {seek:?} {filter:?}");
                    queries.push((name, query));
                }
            }
        }
    }
    let Scope::Partner(partner) = *scope.0 else {
        unreachable!("a partner's lists")
    };
    let seller = (Seller::Partner(partner), scope.1);
    let filters = [
        OrderFilter::default(),
        OrderFilter {
            company: Some("co".into()),
            kind: Some(OrderKind::Premium),
            from: Some(t0()),
            ..OrderFilter::default()
        },
    ];
    for tab in [OrdersTab::Requested, OrdersTab::Assigned, OrdersTab::Mine] {
        for &sort in OrderSort::ALL {
            for descending in [false, true] {
                for seek in seeks(false) {
                    for filter in &filters {
                        let query = orders::seller_query(
                            seller,
                            tab,
                            filter,
                            (sort, descending),
                            &seek,
                            50,
                        );
                        let index = match (tab, sort) {
                            (OrdersTab::Mine, OrderSort::Requested) => "orders_company ",
                            (OrdersTab::Mine, OrderSort::Quantity) => "orders_company_quantity",
                            (_, OrderSort::Requested) => "orders_partner_state ",
                            (_, OrderSort::Quantity) => "orders_partner_state_quantity",
                        };
                        let name = format!("{index} {tab:?} {sort:?} desc={descending} {seek:?}");
                        queries.push((name, query));
                    }
                }
            }
        }
    }
    for descending in [false, true] {
        for seek in seeks(false) {
            for filter in [
                ActivityFilter::default(),
                ActivityFilter {
                    company: Some(CompanyId(3)),
                    actor: Some(UserId(4)),
                },
            ] {
                let query =
                    activity::beneath_query((partner, scope.1), filter, descending, &seek, 50);
                let name = format!("activity_ Activity desc={descending} {seek:?} {filter:?}");
                queries.push((name, query));
            }
        }
    }
    for &sort in UserSort::ALL {
        for descending in [false, true] {
            for seek in seeks(sort.key().1) {
                let query = people::page_query(CompanyId(3), (sort, descending), &seek, 50);
                let index = match sort {
                    UserSort::Added => "users_company ",
                    UserSort::Name => "users_company_last_name",
                    UserSort::Email => "users_company_email",
                };
                queries.push((
                    format!("{index} Users {sort:?} desc={descending} {seek:?}"),
                    query,
                ));
            }
        }
    }
    queries.extend(licences::tab_page_queries(CompanyId(3), t0()));
    for descending in [false, true] {
        for seek in seeks(true) {
            let query = partners::children_query(partner, descending, &seek, 50);
            queries.push((
                format!("partners_parent_name Sub-partners desc={descending} {seek:?}"),
                query,
            ));
        }
    }
    queries
}

#[tokio::test]
async fn a_partners_order_list_reads_its_orders_by_index_whatever_the_instance_holds() {
    let db = sqlite().await;
    for query in orders::sold_queries() {
        let plan: Vec<String> = query
            .explain(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|step| step.detail)
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
