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

pub(crate) async fn document(router: &Router) -> Value {
    call(router, Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .body
}

/// Calls the documented operation `method path` (with `{id}` filled in) and checks the answer
/// against the document.
#[expect(
    clippy::too_many_arguments,
    reason = "one request, spelled out at each call"
)]
pub(crate) async fn documented(
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
    // A user named in the path is the one the test chose (`USER`).
    if uri.contains("{user_id}") {
        uri = uri.replace("{user_id}", &USER.with(|u| u.get()).to_string());
    }
    uri.push_str(query);
    let answer = call(router, method.clone(), &uri, Some(key), body).await;
    assert_documented(doc, method.as_str(), path, &answer);
    answer
}

/// Runs `call` with `{user_id}` standing for `user`.
pub(crate) async fn with_user<F: std::future::Future>(
    user: i64,
    call: impl FnOnce() -> F,
) -> F::Output {
    USER.with(|u| u.set(user));
    call().await
}

thread_local! {
    /// The user `{user_id}` in a path stands for (tests run on one thread each).
    static USER: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
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
        // A key's own first use is recorded whatever the request asks; the changes are not.
        "SELECT COUNT(*) || ' activity' FROM activity WHERE action NOT LIKE 'api_key%'",
        "SELECT COUNT(*) || ' open seats' FROM seats WHERE ended_at IS NULL",
        "SELECT id || ':' || enabled || ':' || url FROM webhook_endpoints ORDER BY id",
        "SELECT id || ':' || status || ':' || next_attempt_at FROM webhook_deliveries ORDER BY id",
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
        ("post", "/api/v1/companies/{id}/users") => Some(json!({"email": "intruder@echo.example"})),
        ("post", "/api/v1/companies/{id}/users/{user_id}/deactivate")
        | ("post", "/api/v1/companies/{id}/users/{user_id}/release")
        | ("delete", "/api/v1/companies/{id}/users/{user_id}")
        | ("post", "/api/v1/orders/{id}/assign")
        | ("post", "/api/v1/orders/{id}/cancel") => None,
        ("post", "/api/v1/companies/{id}/orders") => {
            Some(json!({"kind": "premium", "quantity": 5}))
        }
        ("post", "/api/v1/orders/{id}/reject") => Some(json!({"reason": "not yours"})),
        ("post", "/api/v1/webhook-endpoints") => {
            Some(json!({"url": "http://127.0.0.1:9/taken", "event_types": ["order.assigned"]}))
        }
        ("post", "/api/v1/webhook-endpoints/{id}/disable")
        | ("post", "/api/v1/webhook-endpoints/{id}/enable")
        | ("delete", "/api/v1/webhook-endpoints/{id}")
        | ("post", "/api/v1/webhook-deliveries/{id}/redeliver") => None,
        ("post", "/api/v1/companies/{id}/users/import") => {
            Some(json!({"users": [{"email": "intruder@echo.example"}]}))
        }
        ("post", "/api/v1/companies/{id}/renewals") => {
            Some(json!({"emails": ["learner1@echo.example"]}))
        }
        ("post", "/api/v1/companies/{id}/allocations") => {
            Some(json!({"user_ids": [USER.with(|u| u.get())]}))
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
    let app = app.with_webhooks(crate::hooks::settings(true));
    let router = app.router();
    let doc = document(&router).await;
    let north = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin North'").await;
    let fjord = id_of(
        &db,
        "SELECT id FROM companies WHERE name = 'Fjord Fisheries'",
    )
    .await;
    let echo = id_of(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    let echo_learner = id_of(
        &db,
        "SELECT id FROM users WHERE email = 'learner1@echo.example'",
    )
    .await;
    USER.with(|u| u.set(echo_learner));
    let every = "access:check,read,write";
    // Bluefin IT's webhook endpoint, which hears of the request below.
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let bluefin_key = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "write").await;
    let hook = call(
        &router,
        Method::POST,
        "/api/v1/webhook-endpoints",
        Some(&bluefin_key),
        Some(json!({"url": "http://127.0.0.1:9/hooks", "event_types": ["order.requested"]})),
    )
    .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let endpoint = hook.body["endpoint"]["id"].as_i64().unwrap();
    // A request of Echo's waiting for Bluefin IT.
    let echo_key = key(&app, KeyOwner::Company(CompanyId(echo)), "write").await;
    let asked = call(
        &router,
        Method::POST,
        &format!("/api/v1/companies/{echo}/orders"),
        Some(&echo_key),
        Some(json!({"kind": "premium", "quantity": 3})),
    )
    .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    let echo_order = asked.body["id"].as_i64().unwrap();
    let delivery = id_of(&db, "SELECT MAX(id) FROM webhook_deliveries").await;
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
            let id = match path.contains("{id}") {
                false => None,
                true if path.starts_with("/api/v1/orders/") => Some(echo_order),
                true if path.starts_with("/api/v1/webhook-endpoints/") => Some(endpoint),
                true if path.starts_with("/api/v1/webhook-deliveries/") => Some(delivery),
                true => Some(echo),
            };
            operations += 1;
            // A list of the key's own: nothing of Echo's or Bluefin IT's in it.
            if id.is_none() && method == "get" {
                for key in &foreign {
                    let answer =
                        documented(&router, &doc, m.clone(), path, None, "", key, None).await;
                    assert!(
                        matches!(answer.status, StatusCode::OK | StatusCode::NOT_FOUND),
                        "{method} {path}: {}",
                        answer.body
                    );
                    let text = answer.body.to_string();
                    assert!(
                        !text.contains("Echo") && !text.contains("127.0.0.1:9"),
                        "{method} {path} leaked: {text}"
                    );
                }
            }
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
        operations >= 30 && by_id >= 40,
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
    assert_eq!(again.headers["location"], first.headers["location"]);
    assert!(!first.headers.contains_key("idempotent-replayed"));
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

#[tokio::test]
async fn a_company_key_lists_adds_and_removes_its_users() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let echo = id_of(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    let key = key(&app, KeyOwner::Company(CompanyId(echo)), "read,write").await;
    let users = "/api/v1/companies/{id}/users";

    let mut seen = Vec::new();
    let mut query = "?limit=3".to_owned();
    loop {
        let page = documented(
            &router,
            &doc,
            Method::GET,
            users,
            Some(echo),
            &query,
            &key,
            None,
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for u in page.body["items"].as_array().unwrap() {
            seen.push(u["email"].as_str().unwrap().to_owned());
        }
        match page.body["next"].as_str() {
            Some(next) => query = format!("?limit=3&after={next}"),
            None => break,
        }
    }
    let stored = id_of(
        &db,
        &format!("SELECT COUNT(*) FROM users WHERE company_id = {echo}"),
    )
    .await;
    assert_eq!(seen.len() as i64, stored);
    assert!(seen.contains(&"learner1@echo.example".to_owned()));

    let added = documented(
        &router,
        &doc,
        Method::POST,
        users,
        Some(echo),
        "",
        &key,
        Some(json!({"email": "New.Learner@Echo.example", "first_name": "New", "last_name": "Learner"})),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let new_id = added.body["id"].as_i64().unwrap();
    let again = documented(
        &router,
        &doc,
        Method::POST,
        users,
        Some(echo),
        "",
        &key,
        Some(json!({"email": "new.learner@echo.example"})),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["type"], "urn:seatledger:problem:email-in-use");
    let bad = documented(
        &router,
        &doc,
        Method::POST,
        users,
        Some(echo),
        "",
        &key,
        Some(json!({"email": "not an email", "manager": "yes"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["field"], "manager");

    USER.with(|u| u.set(new_id));
    let deactivate = "/api/v1/companies/{id}/users/{user_id}/deactivate";
    let done = documented(
        &router,
        &doc,
        Method::POST,
        deactivate,
        Some(echo),
        "",
        &key,
        None,
    )
    .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let deactivated = id_of(
        &db,
        &format!("SELECT COUNT(*) FROM users WHERE id = {new_id} AND deactivated_at IS NOT NULL"),
    )
    .await;
    assert_eq!(deactivated, 1);
    let delete = "/api/v1/companies/{id}/users/{user_id}";
    let gone = documented(
        &router,
        &doc,
        Method::DELETE,
        delete,
        Some(echo),
        "",
        &key,
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        id_of(
            &db,
            &format!("SELECT COUNT(*) FROM users WHERE id = {new_id}")
        )
        .await,
        0
    );
    let twice = documented(
        &router,
        &doc,
        Method::DELETE,
        delete,
        Some(echo),
        "",
        &key,
        None,
    )
    .await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn orders_are_requested_assigned_rejected_and_cancelled_as_in_the_console() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let partner = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read,write").await;
    let company = |name: &'static str| {
        let db = &db;
        async move {
            id_of(
                db,
                &format!("SELECT id FROM companies WHERE name = '{name}'"),
            )
            .await
        }
    };
    let (acme, birch, delta) = (
        company("Acme Trial Co").await,
        company("Birch Ending Soon").await,
        company("Delta Renewal Due").await,
    );
    let orders = "/api/v1/companies/{id}/orders";
    let ask = json!({"kind": "premium", "quantity": 5});
    let mut asked = Vec::new();
    for id in [acme, birch, delta] {
        let answer = documented(
            &router,
            &doc,
            Method::POST,
            orders,
            Some(id),
            "",
            &partner,
            Some(ask.clone()),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        asked.push(answer.body["id"].as_i64().unwrap());
    }
    let waiting = documented(
        &router,
        &doc,
        Method::POST,
        orders,
        Some(acme),
        "",
        &partner,
        Some(ask),
    )
    .await;
    assert_eq!(waiting.status, StatusCode::CONFLICT);
    assert_eq!(
        waiting.body["type"],
        "urn:seatledger:problem:request-waiting"
    );
    let zero = documented(
        &router,
        &doc,
        Method::POST,
        orders,
        Some(acme),
        "",
        &partner,
        Some(json!({"kind": "gold", "quantity": 0})),
    )
    .await;
    assert_eq!(zero.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(zero.body["errors"][0]["field"], "kind");

    let assigned = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/orders/{id}/assign",
        Some(asked[0]),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    assert!(assigned.body["batch_id"].is_i64());
    let twice = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/orders/{id}/assign",
        Some(asked[0]),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.body["type"], "urn:seatledger:problem:order-decided");
    let acme_now = documented(
        &router,
        &doc,
        Method::GET,
        "/api/v1/companies/{id}",
        Some(acme),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(acme_now.body["status"], "premium");

    let no_reason = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/orders/{id}/reject",
        Some(asked[1]),
        "",
        &partner,
        Some(json!({"reason": " "})),
    )
    .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_reason.body["errors"][0]["field"], "reason");
    let rejected = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/orders/{id}/reject",
        Some(asked[1]),
        "",
        &partner,
        Some(json!({"reason": "Budget not approved"})),
    )
    .await;
    assert_eq!(rejected.status, StatusCode::NO_CONTENT);
    let cancelled = documented(
        &router,
        &doc,
        Method::POST,
        "/api/v1/orders/{id}/cancel",
        Some(asked[2]),
        "",
        &partner,
        None,
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::NO_CONTENT);

    let listed = documented(
        &router,
        &doc,
        Method::GET,
        orders,
        Some(birch),
        "?state=rejected",
        &partner,
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(
        listed.body["items"][0]["reject_reason"],
        "Budget not approved"
    );
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM orders ORDER BY id")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(states, ["assigned", "rejected", "cancelled"]);
}
