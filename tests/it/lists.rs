//! Every list a page at a time over HTTP: "1–50 of N", First / Previous / Next, and the column
//! headings that sort it, clicked as a person would, on both databases.

use axum::http::{Method, StatusCode};
use jiff::SignedDuration;
use seatledger::db::api_keys::KeyOwner;
use seatledger::db::seed;
use seatledger::domain::PartnerId;

use crate::api::{self, id_of};
use crate::support::{TestDb, World, postgres, sqlite};
use crate::web::{Client, NOW, demo_app_on};

/// The text of the element with id `id` (its first text node).
fn text_of<'a>(page: &'a str, id: &str) -> &'a str {
    let mark = format!(r#"id="{id}">"#);
    let at = page
        .find(&mark)
        .unwrap_or_else(|| panic!("no #{id} in {page}"))
        + mark.len();
    let end = page[at..].find('<').unwrap() + at;
    &page[at..end]
}

/// The `href` of the link with `rel`, or of the heading link labelled `label`.
fn link(page: &str, rel: &str) -> Option<String> {
    let mark = format!(r#"" rel="{rel}""#);
    let end = page.find(&mark)?;
    let start = page[..end].rfind("href=\"")? + "href=\"".len();
    Some(unescape(&page[start..end]))
}

fn heading(page: &str, label: &str) -> String {
    let page = &page[page.find("<thead>").expect("a table")..];
    let end = page
        .find(&format!("\">{label}"))
        .unwrap_or_else(|| panic!("no heading {label}"));
    let start = page[..end].rfind("href=\"").unwrap() + "href=\"".len();
    unescape(&page[start..end])
}

/// An attribute's value as a browser reads it.
fn unescape(value: &str) -> String {
    value.replace("&#38;", "&").replace("&amp;", "&")
}

/// The values of `attribute` on the rows of the page's table body, in order.
fn rows(page: &str, attribute: &str) -> Vec<i64> {
    let body = &page[page.find("<tbody>").expect("a table")..];
    body.split(&format!("{attribute}=\""))
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

async fn ids(db: &TestDb, sql: &str) -> Vec<i64> {
    sqlx::query_scalar(sql).fetch_all(db.pool()).await.unwrap()
}

/// Walks a list from its first page to its last and back, checking each page's rows and its
/// position against `expected` (every row of the list, in order).
pub(crate) async fn walk(client: &mut Client, first: &str, attribute: &str, expected: &[i64]) {
    let total = expected.len();
    let mut page = client.get(first).await;
    assert_eq!(page.status, StatusCode::OK, "{first}");
    let mut at = 0;
    let mut pages = Vec::new();
    loop {
        let shown = rows(&page.body, attribute);
        let end = (at + 50).min(total);
        assert_eq!(shown, expected[at..end], "rows {}–{end} of {first}", at + 1);
        assert_eq!(
            text_of(&page.body, "position"),
            format!("{}–{end} of {total}", at + 1)
        );
        assert_eq!(link(&page.body, "first").is_some(), at > 0);
        assert_eq!(link(&page.body, "prev").is_some(), at > 0);
        pages.push(page.body.clone());
        match link(&page.body, "next") {
            Some(next) => {
                page = client.get(&next).await;
                at += 50;
            }
            None => break,
        }
    }
    assert!(at + 50 >= total);
    // Back by Previous, each page as it was.
    while let Some(previous) = link(&page.body, "prev") {
        page = client.get(&previous).await;
        at -= 50;
        assert_eq!(
            rows(&page.body, attribute),
            rows(&pages[at / 50], attribute)
        );
        assert_eq!(
            text_of(&page.body, "position"),
            text_of(&pages[at / 50], "position")
        );
    }
    assert_eq!(at, 0);
}

async fn companies_and_orders_go_page_by_page_in_each_sort(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let world = World { db: &db };
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let now: jiff::Timestamp = NOW.parse().unwrap();
    // 120 more customers, created a day apart so their trials end on different days; names in
    // an order of their own.
    for i in 0..120_i64 {
        let created = now - SignedDuration::from_hours(24 * (i % 37));
        let company = world
            .company(
                PartnerId(bluefin),
                &format!("List Co {:03}", (i * 7) % 120),
                created,
            )
            .await;
        sqlx::query(
            "INSERT INTO orders (company_id, partner_id, kind, quantity, state, requested_at) \
             VALUES ($1, $2, 'premium', $3, 'assigned', $4)",
        )
        .bind(company.0)
        .bind(bluefin)
        .bind(1 + (i * 13) % 50)
        .bind(now.as_second() - i * 600)
        .execute(db.pool())
        .await
        .unwrap();
    }
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let scope = "c.partner_id IN (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = \
                 (SELECT id FROM partners WHERE name = 'Bluefin IT')) AND c.internal = 0";

    // The Company section: by name, then by when trials and licences end, latest first.
    let by_name = ids(
        &db,
        &format!("SELECT c.id FROM companies c WHERE {scope} ORDER BY c.name, c.id"),
    )
    .await;
    assert_eq!(by_name.len(), 126);
    walk(&mut admin, "/partner", "data-company", &by_name).await;
    let first = admin.get("/partner").await.body;
    let ends = heading(&first, "Trial or licence");
    let ascending = admin.get(&ends).await.body;
    assert!(ascending.contains(r#"aria-sort="ascending""#));
    let descending = heading(&ascending, "Trial or licence");
    let by_ends = ids(
        &db,
        &format!(
            "SELECT c.id FROM companies c WHERE {scope} \
             ORDER BY COALESCE(c.licensed_until, c.trial_ends_at) DESC, c.id DESC"
        ),
    )
    .await;
    walk(&mut admin, &descending, "data-company", &by_ends).await;
    // A filter is kept by every link: 120 of them are named "List Co".
    let listed = ids(
        &db,
        &format!("SELECT c.id FROM companies c WHERE {scope} AND c.name LIKE 'List Co%' ORDER BY c.name, c.id"),
    )
    .await;
    walk(&mut admin, "/partner?q=list+co", "data-company", &listed).await;

    // Assigned Orders: newest first, then by licences, fewest first.
    let orders = "o.partner_id = (SELECT id FROM partners WHERE name = 'Bluefin IT') \
                  AND o.state = 'assigned'";
    let newest = ids(
        &db,
        &format!(
            "SELECT o.id FROM orders o WHERE {orders} ORDER BY o.requested_at DESC, o.id DESC"
        ),
    )
    .await;
    assert!(newest.len() > 100, "{}", newest.len());
    walk(
        &mut admin,
        "/partner/licences?tab=assigned",
        "data-order",
        &newest,
    )
    .await;
    let tab = admin.get("/partner/licences?tab=assigned").await.body;
    let fewest = ids(
        &db,
        &format!("SELECT o.id FROM orders o WHERE {orders} ORDER BY o.quantity, o.id"),
    )
    .await;
    walk(
        &mut admin,
        &heading(&tab, "Licences"),
        "data-order",
        &fewest,
    )
    .await;
}

#[tokio::test]
async fn companies_and_orders_go_page_by_page_in_each_sort_on_sqlite() {
    companies_and_orders_go_page_by_page_in_each_sort(sqlite().await).await;
}

#[tokio::test]
async fn companies_and_orders_go_page_by_page_in_each_sort_on_postgres() {
    let Some(db) = postgres().await else { return };
    companies_and_orders_go_page_by_page_in_each_sort(db).await;
}

async fn a_cursor_from_a_hostile_link_reads_a_page_and_nothing_else(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    for path in [
        "/partner?sort=ends&after=not-a-number&after_id=1",
        "/partner?sort=name&after=%27%3B%20DROP%20TABLE%20companies&after_id=1&at=-5",
        "/partner?sort=zzz&dir=sideways&before=a&before_id=x",
        "/partner?sort=name&after=j%00U&after_id=1",
        "/partner?sort=name&before=%1B%5B2J&before_id=1",
        "/partner/licences?tab=assigned&sort=licences&after=99999999999999999999&after_id=1",
        "/partner/licences?tab=requested&at=18446744073709551615&after=1&after_id=1",
        "/partner/partners?after=a%00b&after_id=1",
    ] {
        let reply = admin.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(text_of(&reply.body, "position").contains(" of "), "{path}");
    }
    let long = format!("/partner?after={}&after_id=1", "x".repeat(5_000));
    assert_eq!(admin.get(&long).await.status, StatusCode::OK);

    let mut operator = Client::new(&app);
    operator
        .sign_in("operator@seatledger.example", seed::DEMO_PASSWORD)
        .await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    for path in [
        "/operator?after_name=a%00b&after_id=1".to_owned(),
        format!("/operator/partners/{bluefin}?after_name=a%00b&after_id=1"),
    ] {
        let reply = operator.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(
            reply.body.contains("Bluefin"),
            "{path}: read from the start"
        );
    }
}

/// A search holding what no company name can (a NUL, an escape) is refused with the field it
/// came in, on the page and in the API, and never reaches the database (PostgreSQL would fail
/// the read; SQLite's trigram index would end its query at the NUL).
async fn a_search_no_name_can_match_is_refused_naming_its_field(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    for (path, label) in [
        (
            "/partner?q=j%00U",
            "Search by name: control characters are not allowed.",
        ),
        (
            "/partner?q=%1B%5B2Jacme&status=trial",
            "Search by name: control characters are not allowed.",
        ),
        (
            "/partner/licences?tab=assigned&company=a%00",
            "Company: control characters are not allowed.",
        ),
    ] {
        let reply = admin.get(path).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert!(reply.body.contains(label), "{path}: {}", reply.body);
    }
    let long = format!("/partner?q={}", "n".repeat(201));
    let reply = admin.get(&long).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply
            .body
            .contains("Search by name: at most 200 characters, not 201.")
    );
    for path in [
        "/partner?q=+acme+",
        "/partner/licences?tab=assigned&company=+",
    ] {
        assert_eq!(admin.get(path).await.status, StatusCode::OK, "{path}");
    }

    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let key = api::key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read").await;
    let router = app.router();
    for (query, field, code) in [
        ("name=j%00U", "name", "control-characters"),
        ("name=%07", "name", "control-characters"),
        (&*format!("name={}", "n".repeat(201)), "name", "too-long"),
        ("after=WyJqXHUwMDAwVSIsMV0", "after", "invalid-cursor"),
    ] {
        let path = format!("/api/v1/companies?{query}");
        let reply = api::call(&router, Method::GET, &path, Some(&key), None).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(reply.body["errors"][0]["field"], field, "{}", reply.body);
        assert_eq!(reply.body["errors"][0]["code"], code, "{}", reply.body);
    }
    let path = "/api/v1/companies?name=%20acme%20";
    let reply = api::call(&router, Method::GET, path, Some(&key), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(!reply.body["items"].as_array().unwrap().is_empty());
}

crate::on_both_databases!(
    a_cursor_from_a_hostile_link_reads_a_page_and_nothing_else,
    a_search_no_name_can_match_is_refused_naming_its_field,
);

async fn users_activity_and_sub_partners_go_page_by_page_in_each_sort(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let world = World { db: &db };
    let now: jiff::Timestamp = NOW.parse().unwrap();
    let echo: i64 = sqlx::query_scalar("SELECT id FROM companies WHERE name = 'Echo Premium'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    // Learners whose last names sort apart from the order they were added in.
    for i in 0..110 {
        let email = format!("z{:03}@echo-list.example", (i * 37) % 110);
        world
            .user(
                &email,
                seatledger::domain::Role::Company {
                    company: seatledger::domain::CompanyId(echo),
                    manager: false,
                    learner: true,
                },
                None,
                now,
            )
            .await;
    }
    for i in 0..120_i64 {
        sqlx::query(
            "INSERT INTO activity (at, partner_id, company_id, action, detail) \
             VALUES ($1, $2, $3, 'listed', $4)",
        )
        .bind(now.as_second() - i)
        .bind(bluefin)
        .bind(echo)
        .bind(format!("entry {i}"))
        .execute(db.pool())
        .await
        .unwrap();
    }
    for i in 0..55 {
        world
            .partner(
                Some(PartnerId(bluefin)),
                &format!("Sub {:02}", (i * 7) % 55),
            )
            .await;
    }

    let mut manager = Client::new(&app);
    manager
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    let users = format!("SELECT u.id FROM users u WHERE u.company_id = {echo}");
    let added = ids(&db, &format!("{users} ORDER BY u.id")).await;
    assert!(added.len() > 110);
    walk(&mut manager, "/company/users", "data-user", &added).await;
    let page = manager.get("/company/users").await.body;
    let by_email = ids(&db, &format!("{users} ORDER BY u.email, u.id")).await;
    walk(
        &mut manager,
        &heading(&page, "Email"),
        "data-user",
        &by_email,
    )
    .await;
    let ascending = manager.get(&heading(&page, "Name")).await.body;
    let by_name_desc = ids(
        &db,
        &format!("{users} ORDER BY u.last_name DESC, u.id DESC"),
    )
    .await;
    walk(
        &mut manager,
        &heading(&ascending, "Name"),
        "data-user",
        &by_name_desc,
    )
    .await;

    // Expired Licenses: the new learners hold no licence.
    let expired = format!(
        "{users} AND u.is_learner = 1 AND u.deactivated_at IS NULL AND NOT EXISTS \
         (SELECT 1 FROM seats s JOIN licence_batches b ON b.id = s.batch_id \
          WHERE s.user_id = u.id AND s.ended_at IS NULL AND b.expires_at > {})",
        now.as_second()
    );
    let expired_added = ids(&db, &format!("{expired} ORDER BY u.id")).await;
    walk(
        &mut manager,
        "/company/licenses?tab=expired",
        "data-user",
        &expired_added,
    )
    .await;
    let tab = manager.get("/company/licenses?tab=expired").await.body;
    let expired_by_name = ids(&db, &format!("{expired} ORDER BY u.last_name, u.id")).await;
    walk(
        &mut manager,
        &heading(&tab, "Learner"),
        "data-user",
        &expired_by_name,
    )
    .await;

    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let entries = "SELECT a.id FROM activity a WHERE a.partner_id IN (SELECT descendant_id \
                   FROM partner_ancestors WHERE ancestor_id = (SELECT id FROM partners WHERE name = 'Bluefin IT'))";
    let newest = ids(&db, &format!("{entries} ORDER BY a.id DESC")).await;
    walk(&mut admin, "/partner/activity", "data-entry", &newest).await;
    let page = admin.get("/partner/activity").await.body;
    let oldest = ids(&db, &format!("{entries} ORDER BY a.id")).await;
    walk(&mut admin, &heading(&page, "When"), "data-entry", &oldest).await;
    let company = ids(
        &db,
        &format!("{entries} AND a.company_id = {echo} ORDER BY a.id DESC"),
    )
    .await;
    walk(
        &mut admin,
        &format!("/partner/activity?company={echo}"),
        "data-entry",
        &company,
    )
    .await;

    let subs = ids(
        &db,
        &format!("SELECT p.id FROM partners p WHERE p.parent_id = {bluefin} ORDER BY p.name, p.id"),
    )
    .await;
    assert_eq!(subs.len(), 56);
    walk(&mut admin, "/partner/partners", "data-partner", &subs).await;
}

#[tokio::test]
async fn users_activity_and_sub_partners_go_page_by_page_in_each_sort_on_sqlite() {
    users_activity_and_sub_partners_go_page_by_page_in_each_sort(sqlite().await).await;
}

#[tokio::test]
async fn users_activity_and_sub_partners_go_page_by_page_in_each_sort_on_postgres() {
    let Some(db) = postgres().await else { return };
    users_activity_and_sub_partners_go_page_by_page_in_each_sort(db).await;
}
