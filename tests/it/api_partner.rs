//! A partner's view through the API: every order it sells with filters, the Activity log, and
//! its webhook endpoints (registered with a secret shown once, signed deliveries, the delivery
//! log, Redeliver, disable and delete), each answer held to the OpenAPI document.

use axum::http::{Method, StatusCode};
use seatledger::db::api_keys::KeyOwner;
use seatledger::domain::{CompanyId, PartnerId};
use seatledger::jobs::webhooks::deliver_due;
use seatledger::webhooks::client::Sender;
use serde_json::{Value, json};

use crate::api::{id_of, key};
use crate::api_resources::{document, documented};
use crate::receiver::Receiver;
use crate::support::at;
use crate::web::{NOW, demo_app};

/// Every page of the list at `path` with `query`, following `next`.
async fn every_page(
    router: &axum::Router,
    doc: &Value,
    path: &str,
    query: &str,
    key: &str,
) -> Vec<Value> {
    let mut items = Vec::new();
    let mut ask = format!("?limit=2{query}");
    loop {
        let page = documented(router, doc, Method::GET, path, None, &ask, key, None).await;
        assert_eq!(page.status, StatusCode::OK, "{ask}: {}", page.body);
        items.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next"].as_str() {
            Some(next) => ask = format!("?limit=2{query}&after={next}"),
            None => return items,
        }
    }
}

#[tokio::test]
async fn a_partner_key_lists_every_order_it_sells_with_filters() {
    let (db, app, clock) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let partner = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read,write").await;
    let mut asked = Vec::new();
    for name in ["Acme Trial Co", "Birch Ending Soon", "Delta Renewal Due"] {
        let company = id_of(
            &db,
            &format!("SELECT id FROM companies WHERE name = '{name}'"),
        )
        .await;
        clock.advance(jiff::SignedDuration::from_hours(1));
        let answer = documented(
            &router,
            &doc,
            Method::POST,
            "/api/v1/companies/{id}/orders",
            Some(company),
            "",
            &partner,
            Some(json!({"kind": "premium", "quantity": 4})),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        asked.push((company, answer.body["id"].as_i64().unwrap()));
    }
    let cancel = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/orders/{id}/cancel",
        Some(asked[1].1),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(cancel.status, StatusCode::NO_CONTENT);

    let all = every_page(&router, &doc, "/api/v1/orders", "", &partner).await;
    let sold = id_of(
        &db,
        &format!(
            "SELECT COUNT(*) FROM orders o JOIN companies c ON c.id = o.company_id \
             WHERE o.partner_id IN (SELECT descendant_id FROM partner_ancestors \
               WHERE ancestor_id = {bluefin} AND (depth > 0 OR c.internal = 0))"
        ),
    )
    .await;
    assert_eq!(all.len() as i64, sold);
    let keys: Vec<(String, i64)> = all
        .iter()
        .map(|o| {
            (
                o["requested_at"].as_str().unwrap().to_owned(),
                o["id"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut newest_first = keys.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, newest_first);

    let waiting = every_page(
        &router,
        &doc,
        "/api/v1/orders",
        "&state=requested",
        &partner,
    )
    .await;
    let ids: Vec<i64> = waiting.iter().map(|o| o["id"].as_i64().unwrap()).collect();
    assert!(
        ids.contains(&asked[0].1) && ids.contains(&asked[2].1),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&asked[1].1),
        "a cancelled order is not waiting"
    );
    assert!(waiting.iter().all(|o| o["state"] == "requested"));
    let one = every_page(
        &router,
        &doc,
        "/api/v1/orders",
        &format!("&company_id={}", asked[1].0),
        &partner,
    )
    .await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["state"], "cancelled");
    let second = all.iter().find(|o| o["id"] == asked[1].1).unwrap();
    let since = second["requested_at"].as_str().unwrap();
    let later = every_page(
        &router,
        &doc,
        "/api/v1/orders",
        &format!("&requested_from={since}"),
        &partner,
    )
    .await;
    let later: Vec<i64> = later.iter().map(|o| o["id"].as_i64().unwrap()).collect();
    assert_eq!(later, [asked[2].1, asked[1].1]);
    let before = every_page(
        &router,
        &doc,
        "/api/v1/orders",
        &format!("&requested_before={since}"),
        &partner,
    )
    .await;
    assert!(
        before
            .iter()
            .all(|o| o["requested_at"].as_str().unwrap() < since)
    );
    assert!(before.iter().any(|o| o["id"] == asked[0].1));

    for (query, field) in [
        ("?requested_from=yesterday", "requested_from"),
        ("?state=lost", "state"),
        ("?company=Acme", "company"),
    ] {
        let refused = documented(
            &router,
            &doc,
            Method::GET,
            "/api/v1/orders",
            None,
            query,
            &partner,
            None,
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(
            refused.body["errors"][0]["field"], field,
            "{}",
            refused.body
        );
    }
    let echo = id_of(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    let company = key(&app, KeyOwner::Company(CompanyId(echo)), "read").await;
    let not_a_seller = documented(
        &router,
        &doc,
        Method::GET,
        "/api/v1/orders",
        None,
        "",
        &company,
        None,
    )
    .await;
    assert_eq!(not_a_seller.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn activity_pages_newest_first_within_the_keys_scope_with_the_consoles_filters() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let echo = id_of(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    let writer = key(&app, KeyOwner::Company(CompanyId(echo)), "read,write").await;
    for email in ["one@echo.example", "two@echo.example", "three@echo.example"] {
        let added = documented(
            &router,
            &doc,
            Method::POST,
            "/api/v1/companies/{id}/users",
            Some(echo),
            "",
            &writer,
            Some(json!({ "email": email })),
        )
        .await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    }
    let partner = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read").await;
    let everything = every_page(&router, &doc, "/api/v1/activity", "", &partner).await;
    let stored = id_of(
        &db,
        &format!(
            "SELECT COUNT(*) FROM activity WHERE partner_id IN \
             (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = {bluefin})"
        ),
    )
    .await;
    assert_eq!(everything.len() as i64, stored);
    let ids: Vec<i64> = everything
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    let mut newest_first = ids.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first);
    let newest_added = everything
        .iter()
        .find(|a| a["action"] == "user_added")
        .unwrap();
    assert_eq!(newest_added["detail"], "Added three@echo.example");

    let echo_only = every_page(
        &router,
        &doc,
        "/api/v1/activity",
        &format!("&company_id={echo}"),
        &partner,
    )
    .await;
    assert!(echo_only.len() >= 3);
    assert!(echo_only.iter().all(|a| a["company"] == "Echo Premium"));
    // A company key reads its own company's entries, whatever it asks for.
    let own = every_page(&router, &doc, "/api/v1/activity", "", &writer).await;
    assert_eq!(own.len(), echo_only.len());
    let fjord = id_of(
        &db,
        "SELECT id FROM companies WHERE name = 'Fjord Fisheries'",
    )
    .await;
    let foreign = every_page(
        &router,
        &doc,
        "/api/v1/activity",
        &format!("&company_id={fjord}"),
        &writer,
    )
    .await;
    assert!(foreign.is_empty());
    let north = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin North'").await;
    let below = key(&app, KeyOwner::Partner(PartnerId(north)), "read").await;
    let theirs = every_page(&router, &doc, "/api/v1/activity", "", &below).await;
    assert!(theirs.iter().all(|a| a["company"] != "Echo Premium"));
}

#[tokio::test]
async fn a_partner_key_registers_an_endpoint_reads_its_signed_deliveries_and_redelivers() {
    let (db, app, _) = demo_app().await;
    let app = app.with_webhooks(crate::hooks::settings(true));
    let router = app.router();
    let doc = document(&router).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let partner = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read,write").await;
    let receiver = Receiver::start().await;
    let endpoints = "/api/v1/webhook-endpoints";

    let registered = documented(
        &router,
        &doc,
        Method::POST,
        endpoints,
        None,
        "",
        &partner,
        Some(json!({"url": receiver.url(), "event_types": ["order.requested", "order.requested"]})),
    )
    .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let secret = registered.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = registered.body["endpoint"]["id"].as_i64().unwrap();
    assert_eq!(
        registered.body["endpoint"]["event_types"],
        json!(["order.requested"])
    );
    let stored: String = sqlx::query_scalar("SELECT secret FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(
        !stored.contains(&secret[6..]),
        "the secret is stored readable"
    );
    let listed = documented(
        &router,
        &doc,
        Method::GET,
        endpoints,
        None,
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(listed.body["items"][0]["id"], id);
    assert!(listed.body["items"][0].get("secret").is_none());
    for body in [
        json!({"url": "ftp://x.example", "event_types": ["order.requested"]}),
        json!({"url": "https://x.example", "event_types": []}),
        json!({"url": "https://x.example", "event_types": ["order.lost"]}),
    ] {
        let refused = documented(
            &router,
            &doc,
            Method::POST,
            endpoints,
            None,
            "",
            &partner,
            Some(body.clone()),
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }

    let acme = id_of(&db, "SELECT id FROM companies WHERE name = 'Acme Trial Co'").await;
    let asked = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/companies/{id}/orders",
        Some(acme),
        "",
        &partner,
        Some(json!({"kind": "premium", "quantity": 3})),
    )
    .await;
    assert_eq!(asked.status, StatusCode::CREATED);
    let sender = Sender::new(true);
    deliver_due(&app.ops, &sender, at(NOW)).await.unwrap();
    let received = receiver.verified(&secret);
    assert_eq!(received.len(), 1);
    let log = "/api/v1/webhook-endpoints/{id}/deliveries";
    let deliveries = documented(
        &router,
        &doc,
        Method::GET,
        log,
        Some(id),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(deliveries.status, StatusCode::OK, "{}", deliveries.body);
    let delivery = &deliveries.body["items"][0];
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(delivery["event_type"], "order.requested");
    assert_eq!(delivery["webhook_id"], received[0].id.as_str());

    let again = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/webhook-deliveries/{id}/redeliver",
        delivery["id"].as_i64(),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    deliver_due(&app.ops, &sender, at(NOW)).await.unwrap();
    let received = receiver.verified(&secret);
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].id, received[0].id, "the same webhook-id");

    let one = "/api/v1/webhook-endpoints/{id}";
    let disabled = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/webhook-endpoints/{id}/disable",
        Some(id),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(disabled.status, StatusCode::NO_CONTENT);
    let got = documented(
        &router,
        &doc,
        Method::GET,
        one,
        Some(id),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(got.body["enabled"], false);
    let enabled = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/webhook-endpoints/{id}/enable",
        Some(id),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(enabled.status, StatusCode::NO_CONTENT);
    let gone = documented(
        &router,
        &doc,
        Method::DELETE,
        one,
        Some(id),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let missing = documented(
        &router,
        &doc,
        Method::GET,
        one,
        Some(id),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let echo = id_of(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    for owner in [KeyOwner::Company(CompanyId(echo)), KeyOwner::Operator] {
        let other = key(&app, owner, "read,write").await;
        let refused = documented(
            &router,
            &doc,
            Method::GET,
            endpoints,
            None,
            "",
            &other,
            None,
        )
        .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{owner:?}");
    }
}
