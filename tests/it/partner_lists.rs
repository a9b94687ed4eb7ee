//! The partner's lists read a page per partner of the subtree and merge them, and Import Users
//! writes with one statement per table: both on both databases, against the answers worked out
//! here row by row.

use std::sync::Arc;

use jiff::SignedDuration;
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::activity::{self, ActivityFilter, ActivityOf};
use seatledger::db::companies::{self, CompanyFilter, StatusFilter};
use seatledger::db::keyset::{COUNTED_UP_TO, Seek, Total};
use seatledger::db::orders::{self, OrderFilter, OrdersTab, Seller};
use seatledger::db::{Actor, Db, Scope, seed};
use seatledger::domain::{CompanyId, Department, Email, NameSearch, PartnerId, PersonName, Role};
use seatledger::imports::users::UserRow;
use seatledger::ops;

use crate::on_both_databases;
use crate::support::{TestDb, World, caller, ops_at, t0};
use crate::web::Client;

on_both_databases!(
    partner_lists_page_through_the_whole_subtree_once_in_order,
    importing_users_stores_every_value_as_written_with_one_welcome_each,
    long_lists_are_counted_up_to_a_thousand_and_said_to_hold_more,
);

/// A partner with two sub-partners, seven companies each, names interleaved across them; three
/// orders and two Activity entries per company, instants interleaved and some equal.
async fn subtree(db: &TestDb) -> (PartnerId, Vec<CompanyId>, CompanyId) {
    let world = World { db };
    let top = world.partner(None, "Top Partner").await;
    let partners = [
        top,
        world.partner(Some(top), "Sub One").await,
        world.partner(Some(top), "Sub Two").await,
    ];
    let mut companies = Vec::new();
    for i in 0..21 {
        let partner = partners[i % 3];
        let name = format!("Name {:02}", (i * 8) % 21);
        companies.push(world.company(partner, &name, t0()).await);
    }
    let internal: i64 =
        sqlx::query_scalar("SELECT id FROM companies WHERE partner_id = $1 AND internal = 1")
            .bind(top.0)
            .fetch_one(db.pool())
            .await
            .unwrap();
    for (i, company) in companies.iter().chain([&CompanyId(internal)]).enumerate() {
        for k in 0..3_i64 {
            let state = if k == 1 { "assigned" } else { "requested" };
            sqlx::query(
                "INSERT INTO orders (company_id, partner_id, kind, quantity, state, requested_at) \
                 SELECT id, partner_id, 'premium', 5, $2, $3 FROM companies WHERE id = $1",
            )
            .bind(company.0)
            .bind(state)
            .bind(t0().as_second() - 60 * ((i as i64 * 7 + k * 5) % 17))
            .execute(db.pool())
            .await
            .unwrap();
        }
        for _ in 0..2 {
            sqlx::query(
                "INSERT INTO activity (at, partner_id, company_id, action, detail) \
                 SELECT $2, partner_id, id, 'company_edited', 'Edited' FROM companies WHERE id = $1",
            )
            .bind(company.0)
            .bind(t0().as_second())
            .execute(db.pool())
            .await
            .unwrap();
        }
    }
    (top, companies, CompanyId(internal))
}

async fn partner_lists_page_through_the_whole_subtree_once_in_order(db: TestDb) {
    let (top, _, internal) = subtree(&db).await;
    let scope = Scope::Partner(top);

    // Company, whole and searched: pages of 4 against every name sorted here.
    let mut all: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, id FROM companies WHERE internal = 0 AND partner_id IN \
         (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = $1)",
    )
    .bind(top.0)
    .fetch_all(db.pool())
    .await
    .unwrap();
    all.sort();
    for search in [
        None,
        Some("ME 1"),
        Some("1"),
        Some("e 0"),
        Some("\"x"),
        Some("%"),
    ] {
        let filter = CompanyFilter {
            status: None,
            name: search.map(|s| NameSearch::parse(s).unwrap()),
        };
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = companies::list(&db, &scope, &filter, after.as_ref(), 4, t0())
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|c| (c.name.clone(), c.id.0)));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let expected: Vec<(String, i64)> = all
            .iter()
            .filter(|(name, _)| {
                search.is_none_or(|s| name.to_lowercase().contains(&s.to_lowercase()))
            })
            .cloned()
            .collect();
        assert_eq!(seen, expected, "search {search:?}");
        let counted = companies::section_count(&db, &scope, &filter, t0())
            .await
            .unwrap();
        assert_eq!(
            counted,
            Total::Exactly(expected.len() as i64),
            "search {search:?}"
        );
    }

    // Orders: each tab in pages of 4 against the orders sorted here; the partner's own
    // internal company buys from above, so its orders are only in My Orders.
    let beneath = "o.partner_id IN (SELECT descendant_id FROM partner_ancestors \
         WHERE ancestor_id = $1) AND o.company_id <> $2";
    for (tab, condition) in [
        (
            OrdersTab::Requested,
            format!("{beneath} AND o.state = 'requested'"),
        ),
        (
            OrdersTab::Assigned,
            format!("{beneath} AND o.state = 'assigned'"),
        ),
        (
            OrdersTab::Mine,
            "o.company_id = $2 AND CAST($1 AS BIGINT) > 0".to_owned(),
        ),
    ] {
        let mut expected: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT o.requested_at, o.id FROM orders o WHERE {condition}"
        ))
        .bind(top.0)
        .bind(internal.0)
        .fetch_all(db.pool())
        .await
        .unwrap();
        expected.sort_by(|a, b| b.cmp(a));
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = orders::for_seller(
                &db,
                Seller::Partner(top),
                tab,
                &OrderFilter::default(),
                before,
                4,
            )
            .await
            .unwrap();
            seen.extend(
                page.items
                    .iter()
                    .map(|o| (o.requested_at.as_second(), o.id.0)),
            );
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert!(!expected.is_empty());
        assert_eq!(seen, expected, "{tab:?}");
        let seller = Seller::Partner(top);
        let counted = orders::seller_count(&db, seller, tab, &OrderFilter::default())
            .await
            .unwrap();
        assert_eq!(counted, Total::Exactly(expected.len() as i64), "{tab:?}");
        if tab == OrdersTab::Requested {
            let waiting = orders::waiting_count(&db, seller).await.unwrap();
            assert_eq!(waiting, expected.len() as i64);
        }
    }

    // Activity: every entry beneath the partner, newest first, in pages of 4.
    let mut expected: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM activity WHERE partner_id IN \
         (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = $1)",
    )
    .bind(top.0)
    .fetch_all(db.pool())
    .await
    .unwrap();
    expected.sort_by(|a, b| b.cmp(a));
    let mut seen = Vec::new();
    let mut seek = Seek::First;
    loop {
        let page = activity::page(
            &db,
            ActivityOf::Partner(top),
            ActivityFilter::default(),
            true,
            &seek,
            4,
        )
        .await
        .unwrap();
        seen.extend(page.rows.iter().map(|a| a.id));
        match page.next {
            Some(next) => seek = Seek::After(next),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

async fn importing_users_stores_every_value_as_written_with_one_welcome_each(db: TestDb) {
    let world = World { db: &db };
    let partner = world.partner(None, "Import IT").await;
    let company = world.company(partner, "Many Names Ltd", t0()).await;
    world.batch(company, 2, t0()).await;
    let role = Role::Company {
        company,
        manager: false,
        learner: true,
    };
    world.user("taken@many.example", role, None, t0()).await;
    // Values a PostgreSQL array literal or a JSON text must carry as written.
    let hostile = [
        "O\"Brien",
        "back\\slash",
        "{brace},comma",
        "NULL",
        "Ünïcödé 名前",
        "tab\there",
        "'quote'",
        "",
    ];
    let mut rows: Vec<UserRow> = (0..600)
        .map(|i| UserRow {
            line: i as u64 + 2,
            email: Email::parse(&format!("person{i}@many.example")).unwrap(),
            first_name: hostile[i % hostile.len()].to_owned(),
            last_name: format!("Row {i}"),
            department: (i % 3 == 0).then(|| hostile[(i + 1) % hostile.len()].to_owned()),
        })
        .collect();
    rows.push(UserRow {
        line: 602,
        email: Email::parse("taken@many.example").unwrap(),
        first_name: "Taken".into(),
        last_name: String::new(),
        department: None,
    });
    let now = t0() + SignedDuration::from_hours(1);
    let (ops, caller) = (
        ops_at(&db, now),
        caller(&Scope::Company(company), Actor::SYSTEM),
    );
    let authorised = ops::authorise(&ops, &caller, company).await.unwrap();
    let outcome = ops::users::import(&ops, &caller, &authorised, &rows)
        .await
        .unwrap();
    assert_eq!(outcome.imported, 600);
    assert_eq!(outcome.seated, 2);
    assert_eq!(
        outcome.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
        [602]
    );

    let stored: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT email, first_name, last_name, department FROM users \
         WHERE email LIKE 'person%' ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let expected: Vec<(String, String, String, Option<String>)> = rows[..600]
        .iter()
        .map(|r| {
            (
                r.email.to_string(),
                PersonName::truncated(&r.first_name).as_str().to_owned(),
                PersonName::truncated(&r.last_name).as_str().to_owned(),
                r.department
                    .as_deref()
                    .map(|d| Department::truncated(d).as_str().to_owned()),
            )
        })
        .collect();
    assert_eq!(stored, expected);

    let welcomed: Vec<String> =
        sqlx::query_scalar("SELECT recipient FROM outbox WHERE kind = 'welcome' ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let addresses: Vec<String> = expected.iter().map(|e| e.0.clone()).collect();
    assert_eq!(welcomed, addresses);
    let links: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT t.user_id) FROM password_tokens t JOIN users u \
         ON u.id = t.user_id WHERE u.email LIKE 'person%' AND t.purpose = 'welcome'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(links, 600);
    // Each email carries its own user's link.
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox o JOIN users u ON u.email = o.recipient \
         WHERE o.kind = 'welcome' AND o.idempotency_key NOT LIKE 'welcome:user:' || u.id || ':%'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(mismatched, 0);
}

/// A partner of 1,200 companies: the Company section and Assigned Orders count up to 1,000 and
/// say "more than 1,000"; shorter lists, filtered or not, are counted exactly.
async fn long_lists_are_counted_up_to_a_thousand_and_said_to_hold_more(db: TestDb) {
    let partner = seed::bulk(&db, "x", 1_200, 1, t0()).await.unwrap().partner;
    let scope = Scope::Partner(partner);
    let count = |status| {
        let filter = CompanyFilter { status, name: None };
        let (db, scope) = (&db, &scope);
        async move {
            companies::section_count(db, scope, &filter, t0())
                .await
                .unwrap()
        }
    };
    assert_eq!(count(None).await, Total::MoreThan(COUNTED_UP_TO));
    // A text every name holds, and one a single name holds: each search lists what it keeps.
    let mut names: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, id FROM companies WHERE partner_id = $1 AND internal = 0")
            .bind(partner.0)
            .fetch_all(db.pool())
            .await
            .unwrap();
    names.sort();
    for (text, holders) in [("COMPANY 1", 1_200), ("1000005", 1)] {
        let filter = CompanyFilter {
            status: None,
            name: NameSearch::parse(text).ok(),
        };
        let page = companies::list(&db, &scope, &filter, None, 50, t0())
            .await
            .unwrap();
        let listed: Vec<(String, i64)> = page
            .items
            .iter()
            .map(|c| (c.name.clone(), c.id.0))
            .collect();
        let expected: Vec<(String, i64)> = names
            .iter()
            .filter(|(name, _)| name.to_lowercase().contains(&text.to_lowercase()))
            .take(50)
            .cloned()
            .collect();
        assert_eq!(listed, expected, "{text}");
        assert_eq!(
            companies::section_count(&db, &scope, &filter, t0())
                .await
                .unwrap(),
            Total::bounded(holders, COUNTED_UP_TO),
            "{text}"
        );
    }
    // Every tenth company is on a trial.
    assert_eq!(
        count(Some(StatusFilter::FreeTrial)).await,
        Total::Exactly(120)
    );
    let seller = Seller::Partner(partner);
    let orders = |tab| {
        let db: &Db = &db;
        async move {
            orders::seller_count(db, seller, tab, &OrderFilter::default())
                .await
                .unwrap()
        }
    };
    assert_eq!(
        orders(OrdersTab::Assigned).await,
        Total::MoreThan(COUNTED_UP_TO)
    );
    assert_eq!(orders(OrdersTab::Requested).await, Total::Exactly(120));
    assert_eq!(orders::waiting_count(&db, seller).await.unwrap(), 120);

    // As the pager says it.
    let hash = seatledger::password::hash(seed::DEMO_PASSWORD);
    let admin = Role::Partner {
        partner,
        admin: true,
    };
    World { db: &db }
        .user("admin@bulk.example", admin, Some(&hash), t0())
        .await;
    let app = App::new(
        Db::clone(&db),
        Arc::new(ManualClock::at(t0())),
        "http://127.0.0.1:8080",
    );
    let mut client = Client::new(&app);
    client
        .sign_in("admin@bulk.example", seed::DEMO_PASSWORD)
        .await;
    for (path, position) in [
        ("/partner", "1–50 of more than 1,000"),
        ("/partner?status=trial", "1–50 of 120"),
        ("/partner/licences?tab=assigned", "1–50 of more than 1,000"),
        ("/partner/licences?tab=requested", "1–50 of 120"),
    ] {
        let page = client.get(path).await;
        assert!(page.body.contains(position), "{path}: {}", page.body);
    }
    // The trials, few among many, are read by their own index and sorted: page by page to the
    // end and back, each once and in name order.
    let trials: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM companies WHERE partner_id = $1 AND internal = 0 AND trial_ends_at > $2 \
         AND (licensed_until IS NULL OR licensed_until <= $2) ORDER BY name, id",
    )
    .bind(partner.0)
    .bind(t0().as_second())
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(trials.len(), 120);
    crate::lists::walk(
        &mut client,
        "/partner?status=trial",
        "data-company",
        &trials,
    )
    .await;
}
