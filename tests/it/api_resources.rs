//! The API's resources over HTTP: what a key sees and changes, page by page, each answer held
//! to the OpenAPI document; and the isolation matrix over every documented operation.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use seatledger::db::api_keys::KeyOwner;
use seatledger::domain::{CompanyId, PartnerId};
use serde_json::{Value, json};

use crate::api::{Answer, call, id_of, key, send};
use crate::api_schema::assert_documented;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::web::{demo_app, demo_app_on};

async fn document(router: &Router) -> Value {
    call(router, Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .body
}

/// Calls the documented operation `method path` (with `{id}` filled in) and checks the answer
/// against the document.
#[expect(clippy::too_many_arguments, reason = "one request, spelled out at each call")]
async fn documented(
    router: &Router,
    doc: &Value,
    method: Method,
    path: &str,
    id: Option<i64>,
    query: &str,
    key: &str,
    body: Option<Value>,
) -> Answer {
    let mut uri = match id {
        Some(id) => path.replace("{id}", &id.to_string()),
        None => path.to_owned(),
    };
    uri.push_str(query);
    let answer = call(router, method.clone(), &uri, Some(key), body).await;
    assert_documented(doc, method.as_str(), path, &answer);
    answer
}

async fn names_beneath(db: &TestDb, partner: i64) -> Vec<String> {
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT c.name FROM companies c WHERE c.internal = 0 AND c.partner_id IN \
         (SELECT descendant_id FROM partner_ancestors WHERE ancestor_id = $1)",
    )
    .bind(partner)
    .fetch_all(db.pool())
    .await
    .unwrap();
    names.sort();
    names
}

#[tokio::test]
async fn a_partner_key_pages_through_its_companies_with_filters() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let reader = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read").await;
    let list = "/api/v1/companies";

    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = documented(
            &router,
            &doc,
            Method::GET,
            list,
            None,
            &query,
            &reader,
            None,
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|c| c["name"].as_str().unwrap().to_owned()));
        pages += 1;
        match page.body["next"].as_str() {
            Some(next) => query = format!("?limit=2&after={next}"),
            None => break,
        }
    }
    assert!(pages >= 2, "one page only");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "not in name order");
    assert_eq!(seen, names_beneath(&db, bluefin).await);

    let premium = documented(
        &router,
        &doc,
        Method::GET,
        list,
        None,
        "?status=premium",
        &reader,
        None,
    )
    .await;
    let items = premium.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|c| c["status"] == "premium" && c["licensed_until"].is_string())
    );
    let named = documented(
        &router,
        &doc,
        Method::GET,
        list,
        None,
        "?name=ECHO",
        &reader,
        None,
    )
    .await;
    assert_eq!(named.body["items"][0]["name"], "Echo Premium");
    assert_eq!(named.body["items"].as_array().unwrap().len(), 1);

    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?after=not-a-cursor", "after"),
        ("?status=gold", "status"),
        ("?colour=red", "colour"),
    ] {
        let refused =
            documented(&router, &doc, Method::GET, list, None, query, &reader, None).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(
            refused.body["errors"][0]["field"], field,
            "{query}: {}",
            refused.body
        );
    }
}

#[tokio::test]
async fn a_partner_key_creates_and_edits_a_company_with_the_consoles_rules() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let writer = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read,write").await;
    let reader = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read").await;
    let list = "/api/v1/companies";
    let one = "/api/v1/companies/{id}";
    let body = json!({"name": "Api Made Ltd", "country": "GB", "time_zone": "Europe/London"});

    let lacking = documented(
        &router,
        &doc,
        Method::POST,
        list,
        None,
        "",
        &reader,
        Some(body.clone()),
    )
    .await;
    assert_eq!(lacking.status, StatusCode::FORBIDDEN);
    let created = documented(
        &router,
        &doc,
        Method::POST,
        list,
        None,
        "",
        &writer,
        Some(body),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["status"], "free_trial");
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(
        created.headers["location"],
        format!("/api/v1/companies/{id}")
    );

    let licensed = documented(
        &router,
        &doc,
        Method::POST,
        list,
        None,
        "",
        &writer,
        Some(json!({"name": "Licensed Ltd", "time_zone": "UTC", "licences": {"kind": "premium", "quantity": 25}})),
    )
    .await;
    assert_eq!(licensed.status, StatusCode::CREATED, "{}", licensed.body);
    assert_eq!(licensed.body["status"], "premium");
    assert_eq!(licensed.body["seats_total"], 25);

    let edited = documented(
        &router,
        &doc,
        Method::PUT,
        one,
        Some(id),
        "",
        &writer,
        Some(json!({"name": "Api Renamed Ltd", "time_zone": "Europe/Paris"})),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["name"], "Api Renamed Ltd");
    let got = documented(&router, &doc, Method::GET, one, Some(id), "", &reader, None).await;
    assert_eq!(got.body["time_zone"], "Europe/Paris");
    let activity = id_of(
        &db,
        &format!("SELECT COUNT(*) FROM activity WHERE company_id = {id} AND action IN ('company_created', 'company_edited')"),
    )
    .await;
    assert_eq!(activity, 2);

    let companies_before = id_of(&db, "SELECT COUNT(*) FROM companies").await;
    let refused = documented(
        &router,
        &doc,
        Method::POST,
        list,
        None,
        "",
        &writer,
        Some(json!({"name": "", "time_zone": "Mars/Olympus", "licences": {"kind": "premium", "quantity": 0}})),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "time_zone", "licences.quantity"]);
    let wrong = documented(
        &router,
        &doc,
        Method::POST,
        list,
        None,
        "",
        &writer,
        Some(json!({"name": 7, "time_zone": "UTC"})),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.body["errors"][0]["field"], "name");
    assert_eq!(
        id_of(&db, "SELECT COUNT(*) FROM companies").await,
        companies_before
    );
    let missing = documented(
        &router,
        &doc,
        Method::GET,
        one,
        Some(id + 1000),
        "",
        &reader,
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let garbage = call(
        &router,
        Method::GET,
        "/api/v1/companies/abc",
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
}

/// Everything a foreign request could change, read back for comparison.
async fn snapshot(db: &TestDb) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT id || ':' || name || ':' || time_zone || ':' || country || ':' || COALESCE(account_manager_id, 0) FROM companies ORDER BY id",
        "SELECT id || ':' || state FROM orders ORDER BY id",
        "SELECT id || ':' || COALESCE(deactivated_at, 0) FROM users ORDER BY id",
        "SELECT COUNT(*) || ' batches' FROM licence_batches",
        "SELECT COUNT(*) || ' activity' FROM activity",
    ] {
        let values: Vec<String> = sqlx::query_scalar(sql).fetch_all(db.pool()).await.unwrap();
        rows.extend(values);
    }
    rows
}

/// A plausible body for each documented operation that takes one, so a refusal is about the
/// key, not the body.
fn body_for(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("get", _) => None,
        ("post", "/api/v1/access-checks") => Some(json!({"email": "learner1@echo.example"})),
        ("post", "/api/v1/companies") | ("put", "/api/v1/companies/{id}") => {
            Some(json!({"name": "Taken Over Ltd", "time_zone": "UTC"}))
        }
        _ => panic!("{method} {path}: give it a body in the isolation matrix"),
    }
}

/// The permission an operation needs.
fn permission_of(method: &str, path: &str) -> &'static str {
    match (method, path) {
        ("post", "/api/v1/access-checks") => "access:check",
        ("get", _) => "read",
        _ => "write",
    }
}

#[tokio::test]
async fn every_documented_operation_refuses_a_foreign_key_and_a_key_without_its_permission() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let north = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin North'").await;
    let fjord = id_of(
        &db,
        "SELECT id FROM companies WHERE name = 'Fjord Fisheries'",
    )
    .await;
    let echo = id_of(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    let every = "access:check,read,write";
    // Bluefin North (a sub-partner) and Fjord's own key, asking for Echo (Bluefin IT's).
    let foreign = [
        key(&app, KeyOwner::Partner(PartnerId(north)), every).await,
        key(&app, KeyOwner::Company(CompanyId(fjord)), every).await,
    ];
    let before = snapshot(&db).await;
    let mut by_id = 0;
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let id = path.contains("{id}").then_some(echo);
            operations += 1;
            if id.is_some() {
                for key in &foreign {
                    let answer = documented(
                        &router,
                        &doc,
                        m.clone(),
                        path,
                        id,
                        "",
                        key,
                        body_for(method, path),
                    )
                    .await;
                    assert_eq!(
                        answer.status,
                        StatusCode::NOT_FOUND,
                        "{method} {path}: {}",
                        answer.body
                    );
                    assert!(
                        !answer.body.to_string().contains("Echo"),
                        "{method} {path} leaked"
                    );
                    by_id += 1;
                }
            }
            // A key with every other permission: refused before anything is read or changed.
            let needed = permission_of(method, path);
            let others: Vec<&str> = every.split(',').filter(|p| *p != needed).collect();
            let lacking = key(&app, KeyOwner::Partner(PartnerId(north)), &others.join(",")).await;
            let answer = documented(
                &router,
                &doc,
                m,
                path,
                id,
                "",
                &lacking,
                body_for(method, path),
            )
            .await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{method} {path}: {}",
                answer.body
            );
            assert_eq!(
                answer.body["type"],
                "urn:seatledger:problem:missing-permission"
            );
        }
    }
    assert!(
        operations >= 5 && by_id >= 4,
        "{operations} operations, {by_id} by id"
    );
    assert_eq!(
        snapshot(&db).await,
        before,
        "a refused request changed something"
    );
}

on_both_databases!(an_idempotency_key_gives_one_effect_even_to_concurrent_requests);

async fn post_with_key(router: &Router, key: &str, idempotency: &str, body: &Value) -> Answer {
    let request = Request::post("/api/v1/companies")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", idempotency)
        .body(Body::from(body.to_string()))
        .unwrap();
    send(router, request).await
}

async fn an_idempotency_key_gives_one_effect_even_to_concurrent_requests(db: TestDb) {
    let (db, app, clock) = demo_app_on(db).await;
    let router = app.router();
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let writer = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read,write").await;
    let count = || id_of(&db, "SELECT COUNT(*) FROM companies");
    let before = count().await;
    let body = json!({"name": "Once Only Ltd", "time_zone": "UTC"});

    let first = post_with_key(&router, &writer, "sync-1", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = post_with_key(&router, &writer, "sync-1", &body).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    assert_eq!(count().await, before + 1);
    let other = post_with_key(
        &router,
        &writer,
        "sync-1",
        &json!({"name": "Other Ltd", "time_zone": "UTC"}),
    )
    .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        other.body["type"],
        "urn:seatledger:problem:idempotency-key-reused"
    );
    assert_eq!(count().await, before + 1);

    // Eight clients send one request with one key at once: one company.
    let body = json!({"name": "Raced Ltd", "time_zone": "UTC"});
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (router, writer, body) = (router.clone(), writer.clone(), body.clone());
            tokio::spawn(async move { post_with_key(&router, &writer, "race-1", &body).await })
        })
        .collect();
    let mut created = Vec::new();
    for racer in racers {
        let answer = racer.await.unwrap();
        match answer.status {
            StatusCode::CREATED => created.push(answer.body["id"].clone()),
            StatusCode::CONFLICT => assert_eq!(
                answer.body["type"],
                "urn:seatledger:problem:idempotency-key-in-progress"
            ),
            other => panic!("{other}: {}", answer.body),
        }
    }
    assert!(!created.is_empty());
    assert!(created.iter().all(|id| *id == created[0]), "{created:?}");
    assert_eq!(count().await, before + 2);

    // A day later the key is free again.
    clock.advance(jiff::SignedDuration::from_hours(25));
    let later = post_with_key(
        &router,
        &writer,
        "sync-1",
        &json!({"name": "Next Day Ltd", "time_zone": "UTC"}),
    )
    .await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.body);
    assert_eq!(count().await, before + 3);
    let bad = post_with_key(&router, &writer, "", &body).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
