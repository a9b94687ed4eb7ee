//! Admin Dashboard → Settings: a partner admin sets the partner's time zone, and its pages show
//! dates in it, named. A zone the time-zone database does not know is refused at its field.

use axum::http::StatusCode;
use seatledger::db::seed;

use crate::support::{TestDb, postgres, sqlite};
use crate::web::{Client, demo_app_on};

async fn zone_of(db: &TestDb, partner: &str) -> String {
    sqlx::query_scalar("SELECT time_zone FROM partners WHERE name = $1")
        .bind(partner)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn zone_entries(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT detail FROM activity WHERE action = 'time_zone_changed' AND company_id IS NULL \
         ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

async fn bluefin_admin(app: &seatledger::app::App) -> Client {
    let mut client = Client::new(app);
    let reply = client
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    client
}

async fn an_admin_sets_the_time_zone_and_partner_pages_show_dates_in_it(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let mut admin = bluefin_admin(&app).await;
    let before = admin.get("/partner").await.body;
    assert!(before.contains("Dates in UTC."), "{before}");
    // Acme's trial ends at 09:00 UTC: a day earlier in Honolulu (UTC−10).
    assert!(before.contains("Trial ends 21 Dec 2026"), "{before}");

    let page = admin.get("/partner/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<strong>UTC</strong>"), "{}", page.body);
    assert!(page.body.contains(r#"<option value="Pacific/Honolulu">"#));

    // Typed in any case, stored and named as the database spells it.
    let saved = admin
        .post("/partner/settings", &[("time_zone", " pacific/honolulu ")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some("/partner/settings"));
    assert_eq!(zone_of(&db, "Bluefin IT").await, "Pacific/Honolulu");
    let page = admin.get("/partner/settings").await.body;
    assert!(
        page.contains("Saved: your pages now show dates in Pacific/Honolulu."),
        "{page}"
    );
    assert!(page.contains("(Pacific/Honolulu)"), "{page}");

    let after = admin.get("/partner").await.body;
    assert!(after.contains("Dates in Pacific/Honolulu."), "{after}");
    assert!(after.contains("Trial ends 20 Dec 2026"), "{after}");
    assert!(!after.contains("Trial ends 21 Dec 2026"), "{after}");
    let activity = admin.get("/partner/activity").await.body;
    assert!(
        activity.contains("Changed the partner&#39;s time zone from UTC to Pacific/Honolulu")
            || activity.contains("Changed the partner's time zone from UTC to Pacific/Honolulu"),
        "{activity}"
    );
    assert_eq!(
        zone_entries(&db).await,
        ["Changed the partner's time zone from UTC to Pacific/Honolulu"]
    );

    // Saving the same zone again changes nothing and says nothing new.
    admin
        .post("/partner/settings", &[("time_zone", "Pacific/Honolulu")])
        .await;
    assert_eq!(zone_entries(&db).await.len(), 1);
    // The sub-partner keeps its own zone.
    assert_eq!(zone_of(&db, "Bluefin North").await, "UTC");
}

#[tokio::test]
async fn an_admin_sets_the_time_zone_and_partner_pages_show_dates_in_it_on_sqlite() {
    an_admin_sets_the_time_zone_and_partner_pages_show_dates_in_it(sqlite().await).await;
}

#[tokio::test]
async fn an_admin_sets_the_time_zone_and_partner_pages_show_dates_in_it_on_postgres() {
    let Some(db) = postgres().await else { return };
    an_admin_sets_the_time_zone_and_partner_pages_show_dates_in_it(db).await;
}

#[tokio::test]
async fn a_zone_the_database_does_not_know_is_refused_at_its_field_and_changes_nothing() {
    let (db, app, _) = demo_app_on(sqlite().await).await;
    let mut admin = bluefin_admin(&app).await;
    for bad in [
        "Mars/Olympus",
        "",
        "../../etc/passwd",
        "posix/Europe/Berlin",
        "<script>alert(1)</script>",
        &"Europe/".repeat(40),
    ] {
        let reply = admin.post("/partner/settings", &[("time_zone", bad)]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        let field = reply
            .body
            .split(r#"id="time_zone-error""#)
            .nth(1)
            .unwrap_or_else(|| panic!("no field error for {bad:?}: {}", reply.body));
        assert!(field.contains("Time zone:"), "{bad:?}: {field}");
        assert!(reply.body.contains(r#"aria-invalid="true""#), "{bad:?}");
        assert!(
            !reply.body.contains("<script>alert"),
            "{bad:?} was not escaped"
        );
    }
    let reply = admin
        .post("/partner/settings", &[("time_zone", "Mars/Olympus")])
        .await;
    assert!(
        reply.body.contains("Mars/Olympus"),
        "the typed value is kept"
    );
    assert_eq!(zone_of(&db, "Bluefin IT").await, "UTC");
    assert!(zone_entries(&db).await.is_empty());
}

#[tokio::test]
async fn an_account_manager_neither_sees_nor_sets_the_time_zone() {
    let (db, app, _) = demo_app_on(sqlite().await).await;
    let mut am = Client::new(&app);
    am.sign_in("am@bluefin.example", seed::DEMO_PASSWORD).await;
    let home = am.get("/partner").await.body;
    assert!(!home.contains(r#"href="/partner/settings""#));
    assert_eq!(
        am.get("/partner/settings").await.status,
        StatusCode::FORBIDDEN
    );
    let reply = am
        .post("/partner/settings", &[("time_zone", "Asia/Tokyo")])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(zone_of(&db, "Bluefin IT").await, "UTC");
    let admin_home = bluefin_admin(&app).await.get("/partner").await.body;
    assert!(admin_home.contains(r#"href="/partner/settings""#));
}

/// Two admins save at once: both are applied one after the other, and each Activity entry names
/// the zone its change replaced, so the entries chain.
async fn two_changes_at_once_each_name_the_zone_they_replaced(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let mut first = bluefin_admin(&app).await;
    let mut second = bluefin_admin(&app).await;
    first.get("/partner/settings").await;
    second.get("/partner/settings").await;
    let (a, b) = tokio::join!(
        first.post("/partner/settings", &[("time_zone", "Asia/Tokyo")]),
        second.post("/partner/settings", &[("time_zone", "America/Chicago")]),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(b.status, StatusCode::SEE_OTHER);
    let entries = zone_entries(&db).await;
    let last = zone_of(&db, "Bluefin IT").await;
    let chained = [
        [
            "Changed the partner's time zone from UTC to Asia/Tokyo",
            "Changed the partner's time zone from Asia/Tokyo to America/Chicago",
        ],
        [
            "Changed the partner's time zone from UTC to America/Chicago",
            "Changed the partner's time zone from America/Chicago to Asia/Tokyo",
        ],
    ];
    assert!(chained.iter().any(|c| entries == c), "{entries:?}");
    assert!(entries[1].ends_with(&last), "{entries:?} but {last}");
}

#[tokio::test]
async fn two_changes_at_once_each_name_the_zone_they_replaced_on_sqlite() {
    two_changes_at_once_each_name_the_zone_they_replaced(sqlite().await).await;
}

#[tokio::test]
async fn two_changes_at_once_each_name_the_zone_they_replaced_on_postgres() {
    let Some(db) = postgres().await else { return };
    two_changes_at_once_each_name_the_zone_they_replaced(db).await;
}
