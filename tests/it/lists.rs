//! Every list a page at a time over HTTP: "1–50 of N", First / Previous / Next, and the column
//! headings that sort it, clicked as a person would, on both databases.

use axum::http::StatusCode;
use jiff::SignedDuration;
use seatledger::db::seed;
use seatledger::domain::PartnerId;

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
async fn walk(client: &mut Client, first: &str, attribute: &str, expected: &[i64]) {
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
    let bluefin: i64 = sqlx::query_scalar("SELECT id FROM partners WHERE name = 'Bluefin IT'")
        .fetch_one(db.pool())
        .await
        .unwrap();
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

#[tokio::test]
async fn a_cursor_from_a_hostile_link_reads_a_page_and_nothing_else() {
    let (_db, app, _) = demo_app_on(sqlite().await).await;
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    for path in [
        "/partner?sort=ends&after=not-a-number&after_id=1",
        "/partner?sort=name&after=%27%3B%20DROP%20TABLE%20companies&after_id=1&at=-5",
        "/partner?sort=zzz&dir=sideways&before=a&before_id=x",
        "/partner/licences?tab=assigned&sort=licences&after=99999999999999999999&after_id=1",
        "/partner/licences?tab=requested&at=18446744073709551615&after=1&after_id=1",
    ] {
        let reply = admin.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(text_of(&reply.body, "position").contains(" of "), "{path}");
    }
    let long = format!("/partner?after={}&after_id=1", "x".repeat(5_000));
    assert_eq!(admin.get(&long).await.status, StatusCode::OK);
}
