//! Pages read their own company through an index, whatever the size of the instance: asked of
//! SQLite's planner (`EXPLAIN QUERY PLAN`) for the SQL each Licenses tab and each list runs. PostgreSQL's
//! planner chooses by table statistics, so a small test database cannot tell there; the
//! `pages` benchmark measures both.

use sqlx::Row;

use seatledger::db::activity::{self, ActivityFilter, ActivityOf};
use seatledger::db::companies::{
    self, Breadth, CompanyCursor, CompanyFilter, CompanySort, Reading, StatusFilter,
};
use seatledger::db::keyset::{Cursor, PlanStep, Planned, Seek, Sort, SortKey};
use seatledger::db::orders::{self, OrderFilter, OrderSort, OrdersTab, Seller};
use seatledger::db::partners;
use seatledger::db::people::{self, UserSort};
use seatledger::db::scope::Subtree;
use seatledger::db::{Backend, Db, Scope, licences, overview, seed};
use seatledger::domain::{CompanyId, NameSearch, OrderKind, OrderState, PartnerId, UserId};

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
        name: NameSearch::parse(name).ok(),
    };
    // After the cursor before every name: the first page, walked from a cursor.
    let after = CompanyCursor {
        name: String::new(),
        id: CompanyId(0),
    };
    let mut plans = vec![
        (
            "Company",
            companies::list_query(
                db,
                &scope,
                &CompanyFilter::default(),
                Some(&after),
                25,
                t0(),
            )
            .await,
        ),
        (
            "Company search",
            companies::list_query(db, &scope, &search("1000005"), None, 25, t0()).await,
        ),
        (
            "Overview",
            overview::page_query(
                db,
                &scope,
                &overview::OverviewQuery::default(),
                &Seek::First,
                25,
                t0(),
            )
            .await,
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
            "Overview" => "companies_partner_name (partner_id=?)",
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
            "Company" | "Overview" => "companies_partner_name",
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

/// The steps of `plan` that read a table without an index, or that sort rows outside an index.
/// Merged, the arms' pages are read and sorted as they are merged (`armN`, `page`).
fn unindexed(plan: &[PlanStep], merges: bool) -> Vec<&PlanStep> {
    plan.iter()
        .filter(|step| {
            let of_merge = merges
                && ["SCAN arm", "SCAN page"]
                    .iter()
                    .any(|merge| step.detail.starts_with(merge));
            (step.detail.starts_with("SCAN") && !of_merge)
                || (step.detail.contains("TEMP B-TREE") && !merges)
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
    let partner = PartnerId(partner);
    let scope = Scope::Partner(partner);
    let mut checked = 0;
    for merges in [false, true] {
        if merges {
            World { db: &db }
                .partner(Some(partner), "Sub Partner")
                .await;
        }
        let subtree = Subtree::of(&db, partner).await.unwrap();
        assert_eq!(subtree.partners(), if merges { 2 } else { 1 });
        for (list, query) in list_queries((&scope, &subtree)) {
            let plan = query.explain(&db).await.unwrap();
            let wrong = unindexed(&plan, merges);
            assert!(wrong.is_empty(), "{list} merges={merges}: {plan:#?}");
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
fn list_queries(scope: (&Scope, &Subtree)) -> Vec<(String, Planned)> {
    let mut queries = Vec::new();
    let filters = [
        CompanyFilter::default(),
        CompanyFilter {
            status: Some(StatusFilter::Premium),
            name: NameSearch::parse("co").ok(),
        },
    ];
    for &sort in CompanySort::ALL {
        for descending in [false, true] {
            for seek in seeks(sort.key().1) {
                for filter in &filters {
                    let query = companies::section_query(
                        Reading::narrow(Backend::Sqlite),
                        (scope.0, Some(scope.1)),
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
    let seller = (Seller::Partner(partner), Some(scope.1));
    let filters = [
        OrderFilter::default(),
        OrderFilter {
            company: NameSearch::parse("co").ok(),
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
                let of = (ActivityOf::Partner(partner), Some(scope.1));
                let query = activity::page_query(of, filter, descending, &seek, 50);
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

/// The counts the partner's pages show, each asked for its plan: the Admin Dashboard's (on the
/// Company page), the requests waiting, and the pager totals of the Company section and of
/// each Orders tab. A bulk partner with a sub-partner.
async fn count_plans(db: &Db) -> Vec<(String, Vec<String>)> {
    let partner = seed::bulk(db, "x", 50, 1, t0()).await.unwrap().partner;
    World { db }.partner(Some(partner), "Sub Partner").await;
    let scope = Scope::Partner(partner);
    let seller = Seller::Partner(partner);
    let mut queries = vec![
        (
            "Dashboard".to_owned(),
            overview::dashboard_query(&scope, t0()),
        ),
        (
            "Requests waiting".to_owned(),
            orders::waiting_count_query(seller),
        ),
        (
            "Overview totals".to_owned(),
            overview::totals_query(&scope, &Default::default(), t0()),
        ),
    ];
    for status in [None, Some(StatusFilter::Expired)] {
        let filter = CompanyFilter { status, name: None };
        queries.push((
            format!("Company count {status:?}"),
            companies::section_count_query((db.backend(), Breadth::Narrow), &scope, &filter, t0()),
        ));
    }
    for tab in [OrdersTab::Requested, OrdersTab::Assigned, OrdersTab::Mine] {
        queries.push((
            format!("Orders count {tab:?}"),
            orders::seller_count_query(seller, tab, &OrderFilter::default(), 1_001),
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
    let mut plans = Vec::new();
    for (name, query) in queries {
        plans.push((name, query.plan(db.backend(), &mut conn).await.unwrap()));
    }
    plans
}

/// The indexes each count reads its rows from: the dashboard reads only the trials ending
/// within the week, the scope's batches expiring within 30 days and the expired companies; the
/// overview's totals the counts of learners, the valid batches and the trials; the requests
/// waiting and the Orders tabs are counted in the orders indexes, the partner's own by company.
/// PostgreSQL may read the trials ending within the week from the instance's index of trial
/// ends rather than the partner's, the batches by their expiry alone, and a status's companies
/// from another index of companies, as its statistics say: each reads only what it counts.
fn count_indexes(count: &str, backend: Backend) -> &'static [&'static str] {
    match (count, backend) {
        ("Dashboard", Backend::Sqlite) => &[
            "companies_partner_trial_ends",
            "licence_batches_partner",
            "companies_partner_ends",
        ],
        ("Dashboard", Backend::Postgres) => &[
            "trial_ends on companies",
            "on licence_batches",
            "companies_partner_ends",
        ],
        ("Overview totals", Backend::Sqlite) => &[
            "company_learners_partner",
            "licence_batches_partner",
            "companies_partner_trial_ends",
        ],
        ("Overview totals", Backend::Postgres) => &[
            "on company_learners",
            "on licence_batches",
            "trial_ends on companies",
        ],
        ("Orders count Mine", _) => &["orders_company"],
        (orders, _) if orders.starts_with("Orders") || orders == "Requests waiting" => {
            &["orders_partner_state", "orders_company"]
        }
        (_, Backend::Sqlite) => &["companies_partner_"],
        (_, Backend::Postgres) => &["on companies"],
    }
}

#[tokio::test]
async fn the_partners_counts_read_what_they_count_by_index() {
    let db = sqlite().await;
    for (count, plan) in count_plans(&db).await {
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")
                || step == "SCAN CONSTANT ROW"
                || step.starts_with("SCAN counted")),
            "{count} scans a table: {plan:#?}"
        );
        for index in count_indexes(&count, Backend::Sqlite) {
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{count} does not read {index}: {plan:#?}"
            );
        }
    }
}

/// As `partner_lists_walk_their_indexes_on_postgres`: with sequential scans priced out, each
/// count reads its index.
#[tokio::test]
async fn the_partners_counts_read_their_indexes_on_postgres() {
    let Some(db) = postgres().await else { return };
    for (count, plan) in count_plans(&db).await {
        for index in count_indexes(&count, Backend::Postgres) {
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{count} does not read {index}: {plan:#?}"
            );
        }
        assert!(
            !plan.iter().any(|step| step.contains("Seq Scan")),
            "{count} reads a whole table: {plan:#?}"
        );
    }
}

/// A text more than 1,000 names hold is kept by walking each partner's name index, which stops
/// after a page, where the trigram index would read and sort every name holding it.
#[tokio::test]
async fn a_broad_name_search_walks_the_name_index_a_page_deep() {
    let db = sqlite().await;
    let partner = seed::bulk(&db, "x", 50, 1, t0()).await.unwrap().partner;
    World { db: &db }
        .partner(Some(partner), "Sub Partner")
        .await;
    let scope = Scope::Partner(partner);
    let subtree = Subtree::of(&db, partner).await.unwrap();
    let filter = CompanyFilter {
        status: None,
        name: NameSearch::parse("company").ok(),
    };
    for (breadth, index) in [
        (Breadth::Broad, "companies_partner_name (partner_id=?"),
        (Breadth::Narrow, "company_names VIRTUAL TABLE INDEX 0:M"),
    ] {
        let reading = Reading {
            backend: Backend::Sqlite,
            name: breadth,
            status: Breadth::Narrow,
        };
        let query = companies::section_query(
            reading,
            (&scope, Some(&subtree)),
            &filter,
            (CompanySort::Name, false),
            &Seek::First,
            50,
            t0(),
        );
        let plan = query.explain(&db).await.unwrap();
        assert!(
            plan.iter().any(|step| step.detail.contains(index)),
            "{breadth:?} does not read {index}: {plan:#?}"
        );
        if breadth == Breadth::Broad {
            assert!(unindexed(&plan, true).is_empty(), "{plan:#?}");
        }
    }
}

/// A status few companies are in is read by its own range of the partner's companies and those
/// are sorted; a status most are in is kept by walking each partner's name index a page deep.
#[tokio::test]
async fn a_rare_status_is_read_by_its_range_and_a_common_one_walks_the_name_index() {
    let db = sqlite().await;
    let partner = seed::bulk(&db, "x", 50, 1, t0()).await.unwrap().partner;
    World { db: &db }
        .partner(Some(partner), "Sub Partner")
        .await;
    let scope = Scope::Partner(partner);
    let subtree = Subtree::of(&db, partner).await.unwrap();
    for (status, breadth, index) in [
        (
            StatusFilter::Expired,
            Breadth::Narrow,
            "companies_partner_ends (partner_id=? AND",
        ),
        (
            StatusFilter::FreeTrial,
            Breadth::Narrow,
            "companies_partner_trial_ends (partner_id=? AND trial_ends_at>?)",
        ),
        (
            StatusFilter::FreeTrial,
            Breadth::Broad,
            "companies_partner_name (partner_id=?",
        ),
        (
            StatusFilter::Premium,
            Breadth::Narrow,
            "companies_partner_name (partner_id=?",
        ),
    ] {
        let filter = CompanyFilter {
            status: Some(status),
            name: None,
        };
        let reading = Reading {
            backend: Backend::Sqlite,
            name: Breadth::Narrow,
            status: breadth,
        };
        let query = companies::section_query(
            reading,
            (&scope, Some(&subtree)),
            &filter,
            (CompanySort::Name, false),
            &Seek::First,
            50,
            t0(),
        );
        let plan = query.explain(&db).await.unwrap();
        assert!(
            plan.iter().any(|step| step.detail.contains(index)),
            "{status:?} {breadth:?} does not read {index}: {plan:#?}"
        );
        assert!(
            !plan.iter().any(|step| step.detail == "SCAN c"),
            "{status:?} {breadth:?} scans the companies: {plan:#?}"
        );
    }
}
