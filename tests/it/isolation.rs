//! Tenant isolation over HTTP, for every route of the console that names an object by id: a
//! partner asking for another partner's object gets 404 and changes nothing. The routes come from
//! the router's own table, so a new route with an id cannot be forgotten here.

use axum::http::StatusCode;
use seatledger::db::api_keys::{self, KeyOwner, NewKey};
use seatledger::db::seed;
use seatledger::db::uploads::{NewUpload, Purpose};
use seatledger::db::webhooks::{self, NewEndpoint, NewEvent, Owner};
use seatledger::domain::KeyName;
use seatledger::domain::api_keys::Permissions;
use seatledger::domain::webhooks::{EventType, EventTypes};
use seatledger::domain::{CompanyId, PartnerId};
use seatledger::imports::csv_table::read;
use seatledger::web::route_table;

use crate::support::TestDb;
use crate::web::{Client, demo_app, request_key};

/// Everything a foreign request could change, read back for comparison.
pub(crate) async fn snapshot(db: &TestDb) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT id || ':' || state || ':' || COALESCE(reject_reason, '') FROM orders ORDER BY id",
        "SELECT id || ':' || name || ':' || time_zone || ':' || COALESCE(account_manager_id, 0) FROM companies ORDER BY id",
        "SELECT id || ':' || time_zone FROM partners ORDER BY id",
        "SELECT id || ':' || company_id || ':' || quantity FROM licence_batches ORDER BY id",
        "SELECT COALESCE(managing_company_id, 0) || '' FROM sessions ORDER BY token_hash",
        "SELECT COUNT(*) || ' emails' FROM outbox",
        "SELECT COUNT(*) || ' activity' FROM activity",
        "SELECT id || ':' || url || ':' || enabled || ':' || secret || ':' || COALESCE(disabled_at, 0) FROM webhook_endpoints ORDER BY id",
        "SELECT id || ':' || status || ':' || attempts || ':' || next_attempt_at FROM webhook_deliveries ORDER BY id",
        "SELECT id || ':' || name || ':' || COALESCE(revoked_at, 0) FROM api_keys ORDER BY id",
    ] {
        let values: Vec<String> = sqlx::query_scalar(sql).fetch_all(db.pool()).await.unwrap();
        rows.extend(values);
    }
    rows
}

pub(crate) async fn id_of(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

/// Requests an order for `company_manager`'s company through the form; returns nothing.
pub(crate) async fn order(client: &mut Client) {
    let key = request_key(&client.get("/company/orders/new").await.body);
    let reply = client
        .post(
            "/company/orders",
            &[
                ("request_key", &key),
                ("quantity", "3"),
                ("kind", "premium"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
}

/// A webhook endpoint of Bluefin IT and one delivery to it, about company `acme`.
pub(crate) async fn bluefin_webhook(db: &TestDb, acme: i64) -> (i64, i64) {
    let bluefin = id_of(db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let types = EventTypes::parse(["user.created"]).unwrap();
    let new = NewEndpoint {
        owner: Owner::Partner(PartnerId(bluefin)),
        url: "https://hooks.bluefin.example/seatledger",
        event_types: &types,
        sealed_secret: "v1:sealed",
        created_by: None,
    };
    let now = crate::support::at(crate::web::NOW);
    let mut tx = db.begin_write().await.unwrap();
    let endpoint = webhooks::create(&mut tx, &new, now).await.unwrap();
    let event = NewEvent {
        key: "user.created:isolation",
        event: EventType::UserCreated,
        company: CompanyId(acme),
        body: "{}",
    };
    webhooks::queue(&mut tx, &event, &[(endpoint, "msg_isolation".into())], now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let delivery = id_of(db, "SELECT id FROM webhook_deliveries").await;
    (endpoint.0, delivery)
}

/// An API key of `owner`, made directly in storage.
async fn key_of(db: &TestDb, owner: KeyOwner) -> i64 {
    let new = NewKey {
        owner,
        name: &KeyName::parse("isolation").unwrap(),
        permissions: Permissions::parse(["read"]).unwrap(),
        expires_at: None,
        created_by: None,
    };
    let now = crate::support::at(crate::web::NOW);
    let mut tx = db.begin_write().await.unwrap();
    let (id, _, _) = api_keys::create(&mut tx, &new, now).await.unwrap();
    tx.commit().await.unwrap();
    id.0
}

/// Plausible form fields for any POST route, so a refusal is about the id, not the form.
const FIELDS: &[(&str, &str)] = &[
    ("name", "Taken Over Ltd"),
    ("country", "GB"),
    ("time_zone", "UTC"),
    ("account_manager", ""),
    ("reason", "not yours"),
];

#[tokio::test]
async fn a_partner_gets_not_found_for_every_route_naming_another_partners_object() {
    let (db, app, _) = demo_app().await;
    // An order waiting for Bluefin IT (Acme) and one for Bluefin North (Fjord).
    for manager in ["manager@acme.example", "manager@fjord.example"] {
        let mut client = Client::new(&app);
        client.sign_in(manager, seed::DEMO_PASSWORD).await;
        order(&mut client).await;
    }
    let acme = id_of(&db, "SELECT id FROM companies WHERE name = 'Acme Trial Co'").await;
    let acme_order = id_of(&db, "SELECT o.id FROM orders o JOIN companies c ON c.id = o.company_id WHERE c.name = 'Acme Trial Co'").await;
    let fjord = id_of(
        &db,
        "SELECT id FROM companies WHERE name = 'Fjord Fisheries'",
    )
    .await;
    let fjord_order = id_of(&db, "SELECT o.id FROM orders o JOIN companies c ON c.id = o.company_id WHERE c.name = 'Fjord Fisheries'").await;
    let (endpoint, delivery) = bluefin_webhook(&db, acme).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let partner_key = key_of(&db, KeyOwner::Partner(PartnerId(bluefin))).await;
    let acme_key = key_of(&db, KeyOwner::Company(CompanyId(acme))).await;

    // The sub-partner asks for its parent's objects; the distributor's sibling-less world has no
    // stranger, so Bluefin North also stands in for "another partner" of Acme.
    let mut outsider = Client::new(&app);
    outsider
        .sign_in("admin@bluefin-north.example", seed::DEMO_PASSWORD)
        .await;
    let before = snapshot(&db).await;

    let mut checked = 0;
    let mut company_routes = Vec::new();
    for route in route_table()
        .into_iter()
        .filter(|r| r.path.contains("{id}"))
    {
        let foreign = if route.path.starts_with("/partner/companies/") {
            acme
        } else if route.path.starts_with("/partner/orders/") {
            acme_order
        } else if route.path.starts_with("/partner/api-keys/") {
            partner_key
        } else if route.path.starts_with("/partner/webhooks/deliveries/") {
            delivery
        } else if route.path.starts_with("/partner/webhooks/") {
            endpoint
        } else if route.path.starts_with("/company/") {
            company_routes.push(route);
            continue;
        } else if route.path.starts_with("/operator/") {
            // Operator-only: a partner is sent to its own area and sees nothing.
            let path = route.path.replace("{id}", "1");
            for method in route.methods {
                let reply = match *method {
                    "GET" => outsider.get(&path).await,
                    _ => outsider.post(&path, FIELDS).await,
                };
                assert_eq!(
                    reply.location.as_deref(),
                    Some("/partner"),
                    "{method} {}",
                    route.path
                );
            }
            continue;
        } else {
            panic!(
                "{} names an object by id: add it to the isolation matrix",
                route.path
            );
        };
        let path = route.path.replace("{id}", &foreign.to_string());
        for method in route.methods {
            let reply = match *method {
                "GET" => outsider.get(&path).await,
                _ => outsider.post(&path, FIELDS).await,
            };
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert!(
                !reply.body.contains("Acme"),
                "{method} {path} leaked the company"
            );
            checked += 1;
        }
    }
    assert_eq!(
        snapshot(&db).await,
        before,
        "a foreign partner request changed something"
    );

    // Company routes naming an upload: a manager of another company asks for Acme's upload.
    let upload = seatledger::db::uploads::store(
        &db,
        &NewUpload {
            company: seatledger::domain::CompanyId(acme),
            purpose: Purpose::Renewal,
            file_name: "acme.csv",
            parsed: &read(b"email\nlearner1@acme.example\n").unwrap().to_bytes(),
            encoding: "utf-8",
            by: None,
        },
        u64::MAX,
        crate::support::at(crate::web::NOW),
    )
    .await
    .unwrap()
    .unwrap()
    .0;
    let mut other_manager = Client::new(&app);
    other_manager
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    let users_upload = seatledger::db::uploads::store(
        &db,
        &NewUpload {
            company: seatledger::domain::CompanyId(acme),
            purpose: Purpose::Users,
            file_name: "acme.csv",
            parsed: &read(b"email\nnew@acme.example\n").unwrap().to_bytes(),
            encoding: "utf-8",
            by: None,
        },
        u64::MAX,
        crate::support::at(crate::web::NOW),
    )
    .await
    .unwrap()
    .unwrap()
    .0;
    let acme_learner = id_of(
        &db,
        "SELECT id FROM users WHERE email = 'learner1@acme.example'",
    )
    .await;
    let before = snapshot(&db).await;
    for route in company_routes {
        let id = if route.path.starts_with("/company/licenses/renewal/") {
            upload
        } else if route.path.starts_with("/company/users/import/") {
            users_upload
        } else if route.path.starts_with("/company/users/") {
            acme_learner
        } else if route.path.starts_with("/company/orders/") {
            acme_order
        } else if route.path.starts_with("/company/api-keys/") {
            acme_key
        } else {
            panic!(
                "{} names an object by id: add it to the isolation matrix",
                route.path
            );
        };
        let path = route.path.replace("{id}", &id.to_string());
        for method in route.methods {
            let reply = match *method {
                "GET" => other_manager.get(&path).await,
                _ => {
                    other_manager
                        .post(&path, &[("column", "0"), ("email", "0"), ("quantity", "3")])
                        .await
                }
            };
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert!(
                !reply.body.contains("acme"),
                "{method} {path} leaked the upload"
            );
            checked += 1;
        }
    }
    assert!(checked >= 16, "only {checked} requests were checked");
    assert_eq!(
        snapshot(&db).await,
        before,
        "a foreign request changed something"
    );

    // The parent sees and may act on its sub-partner's objects.
    let mut parent = Client::new(&app);
    parent
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let edit = parent
        .get(&format!("/partner/companies/{fjord}/edit"))
        .await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("Fjord Fisheries"));
    let reject = parent
        .get(&format!("/partner/orders/{fjord_order}/reject"))
        .await;
    assert_eq!(reject.status, StatusCode::OK);
}

#[tokio::test]
async fn a_partner_never_lists_another_partners_companies_orders_or_activity() {
    let (db, app, _) = demo_app().await;
    let mut acme = Client::new(&app);
    acme.sign_in("manager@acme.example", seed::DEMO_PASSWORD)
        .await;
    order(&mut acme).await;
    let acme_id = id_of(&db, "SELECT id FROM companies WHERE name = 'Acme Trial Co'").await;
    bluefin_webhook(&db, acme_id).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    key_of(&db, KeyOwner::Partner(PartnerId(bluefin))).await;

    let mut outsider = Client::new(&app);
    outsider
        .sign_in("admin@bluefin-north.example", seed::DEMO_PASSWORD)
        .await;
    for path in [
        "/partner".to_owned(),
        "/partner?q=acme".to_owned(),
        "/partner/licences?tab=requested".to_owned(),
        "/partner/licences?tab=assigned".to_owned(),
        "/partner/licences?tab=mine".to_owned(),
        format!("/partner/activity?company={acme_id}"),
        "/partner/partners".to_owned(),
        "/partner/webhooks".to_owned(),
        "/partner/licences/overview".to_owned(),
        "/partner/licences/overview?status=trial&sort=total&dir=desc".to_owned(),
        format!("/partner/licences/overview?manager={acme_id}"),
        "/partner/licences/overview.csv".to_owned(),
        "/partner/api-keys".to_owned(),
        "/partner/settings".to_owned(),
    ] {
        let reply = outsider.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        for other in [
            "Acme Trial Co",
            "Echo Premium",
            "Bluefin IT",
            "hooks.bluefin.example",
            "isolation",
        ] {
            assert!(!reply.body.contains(other), "{path} shows {other}");
        }
    }
}

/// Settings act on the caller's own partner only: no field names another, and a parent's zone
/// is neither shown to nor set by the partner beneath it.
#[tokio::test]
async fn a_partner_sets_only_its_own_time_zone() {
    let (db, app, _) = demo_app().await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let mut parent = Client::new(&app);
    parent
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    parent
        .post("/partner/settings", &[("time_zone", "Asia/Tokyo")])
        .await;
    let mut outsider = Client::new(&app);
    outsider
        .sign_in("admin@bluefin-north.example", seed::DEMO_PASSWORD)
        .await;
    let page = outsider.get("/partner/settings").await.body;
    assert!(page.contains("<strong>UTC</strong>"), "{page}");
    let bluefin = bluefin.to_string();
    let reply = outsider
        .post(
            "/partner/settings",
            &[
                ("time_zone", "Europe/Oslo"),
                ("partner", &bluefin),
                ("partner_id", &bluefin),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let zones: Vec<(String, String)> =
        sqlx::query_as("SELECT name, time_zone FROM partners ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    for (name, zone) in zones {
        let expected = match name.as_str() {
            "Bluefin IT" => "Asia/Tokyo",
            "Bluefin North" => "Europe/Oslo",
            _ => "UTC",
        };
        assert_eq!(zone, expected, "{name}");
    }
}

#[test]
fn every_route_is_listed_once() {
    let table = route_table();
    let mut paths: Vec<_> = table.iter().map(|r| r.path).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), table.len());
    assert!(table.iter().all(|r| !r.methods.is_empty()));
}
