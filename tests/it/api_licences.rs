//! A company's licences and people through the API: batches page by page, Allocate Licenses
//! all or nothing with both numbers when seats are short, releasing a seat, one user, renewals
//! (a dry run is the console's preview), Import Users with a report per row; and API clients
//! racing for the last seats over real HTTP never oversell.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use seatledger::app::{self, Config};
use seatledger::db::api_keys::KeyOwner;
use seatledger::domain::{CompanyId, PartnerId};
use seatledger::email::transport::Transport;
use serde_json::{Value, json};

use crate::api::{id_of, key};
use crate::api_resources::{document, documented, with_user};
use crate::licences::{active_seats, echo_with_250_expired};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::web::{demo_app, demo_app_on};

/// Echo's learners named `extra…`, expired, in id order.
async fn expired_extras(db: &TestDb, n: i64) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN companies c ON c.id = u.company_id \
         WHERE c.name = 'Echo Premium' AND u.email LIKE 'extra%' ORDER BY u.id LIMIT $1",
    )
    .bind(n)
    .fetch_all(db.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_company_key_allocates_all_or_nothing_and_releases_with_the_consoles_words() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let echo = echo_with_250_expired(&db, 5).await;
    let key = key(&app, KeyOwner::Company(echo), "read,write").await;
    let learners = expired_extras(&db, 7).await;
    let allocations = "/api/v1/companies/{id}/allocations";
    let seats_before = active_seats(&db, echo).await;

    let short = documented(
        &router,
        &doc,
        Method::POST,
        allocations,
        Some(echo.0),
        "",
        &key,
        Some(json!({ "user_ids": learners[..6] })),
    )
    .await;
    assert_eq!(short.status, StatusCode::CONFLICT, "{}", short.body);
    assert_eq!(
        short.body["type"],
        "urn:seatledger:problem:not-enough-seats"
    );
    assert_eq!(short.body["requested"], 6);
    assert_eq!(short.body["free"], 5);
    assert_eq!(
        short.body["detail"],
        "Nothing was allocated: 6 learners need a licence but only 5 seats are free."
    );
    assert_eq!(
        active_seats(&db, echo).await,
        seats_before,
        "half-allocated"
    );

    let done = documented(
        &router,
        &doc,
        Method::POST,
        allocations,
        Some(echo.0),
        "",
        &key,
        Some(json!({ "user_ids": [learners[0], learners[1], learners[0]] })),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["allocated"], 2);
    assert_eq!(active_seats(&db, echo).await, seats_before + 2);
    let held = documented(
        &router,
        &doc,
        Method::POST,
        allocations,
        Some(echo.0),
        "",
        &key,
        Some(json!({ "user_ids": [learners[1], learners[2]] })),
    )
    .await;
    assert_eq!(held.status, StatusCode::CONFLICT);
    assert_eq!(held.body["type"], "urn:seatledger:problem:seat-held");
    for body in [json!({ "user_ids": [] }), json!({ "users": [1] })] {
        let refused = documented(
            &router,
            &doc,
            Method::POST,
            allocations,
            Some(echo.0),
            "",
            &key,
            Some(body.clone()),
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let stranger = id_of(
        &db,
        "SELECT id FROM users WHERE email = 'manager@acme.example'",
    )
    .await;
    let foreign = documented(
        &router,
        &doc,
        Method::POST,
        allocations,
        Some(echo.0),
        "",
        &key,
        Some(json!({ "user_ids": [learners[3], stranger] })),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    assert_eq!(active_seats(&db, echo).await, seats_before + 2);

    let user = "/api/v1/companies/{id}/users/{user_id}";
    let seated = with_user(learners[0], || {
        documented(
            &router,
            &doc,
            Method::GET,
            user,
            Some(echo.0),
            "",
            &key,
            None,
        )
    })
    .await;
    assert_eq!(seated.status, StatusCode::OK, "{}", seated.body);
    assert_eq!(seated.body["licence"], "active");
    let release = "/api/v1/companies/{id}/users/{user_id}/release";
    let released = with_user(learners[0], || {
        documented(
            &router,
            &doc,
            Method::POST,
            release,
            Some(echo.0),
            "",
            &key,
            None,
        )
    })
    .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    assert_eq!(released.body["released"], true);
    let again = with_user(learners[0], || {
        documented(
            &router,
            &doc,
            Method::POST,
            release,
            Some(echo.0),
            "",
            &key,
            None,
        )
    })
    .await;
    assert_eq!(again.body["released"], false);
    let expired = with_user(learners[0], || {
        documented(
            &router,
            &doc,
            Method::GET,
            user,
            Some(echo.0),
            "",
            &key,
            None,
        )
    })
    .await;
    assert_eq!(expired.body["licence"], "expired");
    assert_eq!(expired.body["email"], seated.body["email"]);
    assert_eq!(active_seats(&db, echo).await, seats_before + 1);
    let activity = id_of(
        &db,
        &format!(
            "SELECT COUNT(*) FROM activity WHERE company_id = {} \
             AND action IN ('licences_allocated', 'licence_released')",
            echo.0
        ),
    )
    .await;
    assert_eq!(activity, 2);
}

#[tokio::test]
async fn batches_page_first_expiring_first_with_their_free_seats() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let echo = echo_with_250_expired(&db, 5).await;
    for _ in 0..3 {
        crate::support::World { db: &db }
            .batch(echo, 4, crate::support::at(crate::web::NOW))
            .await;
    }
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let key = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "read").await;
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = documented(
            &router,
            &doc,
            Method::GET,
            "/api/v1/companies/{id}/batches",
            Some(echo.0),
            &query,
            &key,
            None,
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next"].as_str() {
            Some(next) => query = format!("?limit=2&after={next}"),
            None => break,
        }
    }
    let stored = id_of(
        &db,
        &format!(
            "SELECT COUNT(*) FROM licence_batches WHERE company_id = {}",
            echo.0
        ),
    )
    .await;
    assert_eq!(seen.len() as i64, stored);
    let expiries: Vec<&str> = seen
        .iter()
        .map(|b| b["expires_at"].as_str().unwrap())
        .collect();
    let mut sorted = expiries.clone();
    sorted.sort();
    assert_eq!(expiries, sorted, "not first-expiring-first");
    let free: i64 = seen.iter().map(|b| b["free"].as_i64().unwrap()).sum();
    let free_stored = id_of(
        &db,
        &format!(
            "SELECT COALESCE(SUM(quantity - allocated), 0) FROM licence_batches \
             WHERE company_id = {} AND expires_at > {}",
            echo.0,
            crate::support::at(crate::web::NOW).as_second()
        ),
    )
    .await;
    assert_eq!(free, free_stored);
    assert!(
        seen.iter()
            .all(|b| b["quantity"].as_i64().unwrap() >= b["allocated"].as_i64().unwrap())
    );
}

on_both_databases!(api_clients_racing_for_the_last_seats_over_http_never_oversell);

/// POSTs `body` to the server at `address` with `key`, over its own connection.
async fn post(address: SocketAddr, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{address}{path}"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn api_clients_racing_for_the_last_seats_over_http_never_oversell(db: TestDb) {
    let (db, app, clock) = demo_app_on(db).await;
    let echo: CompanyId = echo_with_250_expired(&db, 10).await;
    let seats_before = active_seats(&db, echo).await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    // Two API clients: the partner's PSA tool and the company's own integration.
    let keys = [
        key(&app, KeyOwner::Partner(PartnerId(bluefin)), "write").await,
        key(&app, KeyOwner::Company(echo), "write").await,
    ];
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        transport: Transport::new(None, "seatledger <s@localhost>").unwrap(),
        webhooks: Default::default(),
        background: None,
        api_rate: Default::default(),
        metrics: Default::default(),
        trust_forwarded_for: false,
    };
    let running = app::start(
        db.db.clone(),
        Arc::new(clock.clone()),
        config,
        std::future::pending(),
    )
    .await
    .unwrap();
    let address = running.address;

    // 10 free seats; eight requests of three learners each, sent at once.
    let learners = expired_extras(&db, 26).await;
    let path = format!("/api/v1/companies/{}/allocations", echo.0);
    let racers: Vec<_> = learners[..24]
        .chunks(3)
        .enumerate()
        .map(|(i, three)| {
            let (key, path) = (keys[i % 2].clone(), path.clone());
            let body = json!({ "user_ids": three });
            tokio::spawn(async move { post(address, &path, &key, &body).await })
        })
        .collect();
    let mut allocated = 0;
    let mut refused = 0;
    for racer in racers {
        let (status, body) = racer.await.unwrap();
        match status {
            StatusCode::OK => {
                assert_eq!(body["allocated"], 3);
                allocated += 3;
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["type"], "urn:seatledger:problem:not-enough-seats");
                assert_eq!(body["requested"], 3);
                assert_eq!(body["free"], 1, "{body}");
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!((allocated, refused), (9, 5));
    assert_eq!(active_seats(&db, echo).await, seats_before + 9);
    let oversold = id_of(
        &db,
        &format!(
            "SELECT COUNT(*) FROM licence_batches b WHERE b.company_id = {} AND b.expires_at > {} \
             AND (b.allocated > b.quantity OR b.allocated <> (SELECT COUNT(*) FROM seats s \
              WHERE s.batch_id = b.id AND s.ended_at IS NULL))",
            echo.0,
            crate::support::at(crate::web::NOW).as_second()
        ),
    )
    .await;
    assert_eq!(oversold, 0);
    // The last seat still goes to whoever asks for one learner.
    let (status, body) = post(
        address,
        &path,
        &keys[0],
        &json!({ "user_ids": [learners[24]] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        address,
        &path,
        &keys[1],
        &json!({ "user_ids": [learners[25]] }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["free"], 0);
    running.stop().await.unwrap();
}

/// The console's preview of a renewal file of `emails` (one column, under a header).
async fn console_preview(app: &seatledger::app::App, emails: &[&str]) -> String {
    let mut manager = crate::licences::echo_manager(app).await;
    manager.get("/company/licenses/renewal").await;
    let file = format!("email\n{}\n", emails.join("\n"));
    let reply = manager
        .upload("/company/licenses/renewal", "renew.csv", file.as_bytes())
        .await;
    let location = reply.location.expect("the file is accepted");
    manager.get(&location).await.body
}

#[tokio::test]
async fn a_renewal_dry_run_is_the_consoles_preview_and_applying_is_all_or_nothing() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    let echo = echo_with_250_expired(&db, 3).await;
    let key = key(&app, KeyOwner::Company(echo), "write").await;
    let extras: Vec<String> = sqlx::query_scalar(
        "SELECT u.email FROM users u WHERE u.company_id = $1 AND u.email LIKE 'extra%' \
         ORDER BY u.id LIMIT 6",
    )
    .bind(echo.0)
    .fetch_all(db.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE users SET deactivated_at = 1 WHERE email = $1")
        .bind(&extras[5])
        .execute(db.pool())
        .await
        .unwrap();
    let shouting = extras[0].to_uppercase();
    let emails = [
        extras[0].as_str(),
        "not-an-email",
        shouting.as_str(),
        "nobody@echo.example",
        "learner1@echo.example",
        extras[1].as_str(),
        extras[2].as_str(),
        extras[5].as_str(),
        extras[3].as_str(),
    ];
    let renewals = "/api/v1/companies/{id}/renewals";
    let seats_before = active_seats(&db, echo).await;

    let dry = documented(
        &router,
        &doc,
        Method::POST,
        renewals,
        Some(echo.0),
        "",
        &key,
        Some(json!({ "emails": emails, "dry_run": true })),
    )
    .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    assert_eq!(dry.body["renewed"], 4);
    assert_eq!(dry.body["not_renewed"], 5);
    assert_eq!(dry.body["free_seats"], 3);
    let outcomes: Vec<&str> = dry.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "renew",
            "not_an_email",
            "duplicate",
            "unknown_email",
            "already_active",
            "renew",
            "renew",
            "deactivated",
            "renew"
        ]
    );
    assert_eq!(dry.body["rows"][2]["duplicate_of"], 0);
    // The console previews the same emails as a file the same way, row for row.
    let preview = console_preview(&app, &emails).await;
    assert!(
        preview.contains(
            "<strong>4</strong> learners will be renewed; <strong>5</strong> rows will not"
        ),
        "{preview}"
    );
    for row in dry.body["rows"].as_array().unwrap() {
        let (Some(detail), false) = (row["detail"].as_str(), row["outcome"] == "duplicate") else {
            continue;
        };
        let line = row["index"].as_u64().unwrap() + 2;
        let cells = format!(
            "<td>{line}</td><td>{}</td><td>{detail}</td>",
            row["email"].as_str().unwrap()
        );
        assert!(preview.contains(&cells), "{cells} missing from {preview}");
    }
    assert!(preview.contains("<td>4</td><td>"), "the duplicate's line");
    assert_eq!(
        active_seats(&db, echo).await,
        seats_before,
        "a dry run changed seats"
    );

    let short = documented(
        &router,
        &doc,
        Method::POST,
        renewals,
        Some(echo.0),
        "",
        &key,
        Some(json!({ "emails": emails })),
    )
    .await;
    assert_eq!(short.status, StatusCode::CONFLICT, "{}", short.body);
    assert_eq!(short.body["requested"], 4);
    assert_eq!(short.body["free"], 3);
    assert_eq!(
        short.body["detail"],
        "Nothing was renewed: 4 learners need a licence but only 3 seats are free."
    );
    assert_eq!(active_seats(&db, echo).await, seats_before, "half-renewed");

    let applied = documented(
        &router,
        &doc,
        Method::POST,
        renewals,
        Some(echo.0),
        "",
        &key,
        Some(json!({ "emails": &emails[..8] })),
    )
    .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert_eq!(applied.body["dry_run"], false);
    assert_eq!(applied.body["renewed"], 3);
    assert_eq!(active_seats(&db, echo).await, seats_before + 3);
    let none = documented(
        &router,
        &doc,
        Method::POST,
        renewals,
        Some(echo.0),
        "",
        &key,
        Some(json!({ "emails": [] })),
    )
    .await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(none.body["errors"][0]["field"], "emails");
}

#[tokio::test]
async fn importing_users_creates_the_good_ones_and_reports_every_row() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let doc = document(&router).await;
    // Echo has one free seat.
    let echo = crate::licences::echo(&db).await;
    let key = key(&app, KeyOwner::Company(echo), "read,write").await;
    let import = "/api/v1/companies/{id}/users/import";
    let report = documented(
        &router,
        &doc,
        Method::POST,
        import,
        Some(echo.0),
        "",
        &key,
        Some(json!({ "users": [
            {"email": "ann@new.example", "first_name": "Ann", "last_name": "Lee"},
            {"email": "nope"},
            {"email": " ANN@new.example "},
            {"email": "learner1@echo.example"},
            {"email": "bob@new.example", "department": "Sales"},
            {"email": "manager@acme.example"},
        ]})),
    )
    .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(report.body["created"], 2);
    assert_eq!(report.body["refused"], 4);
    assert_eq!(report.body["seated"], 1, "one free seat, for the first");
    let rows = report.body["rows"].as_array().unwrap();
    let problems: Vec<(u64, Value)> = rows
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["problem"].clone()))
        .collect();
    assert_eq!(
        problems,
        [
            (0, Value::Null),
            (1, json!("not-an-email")),
            (2, json!("duplicate")),
            (3, json!("email-in-use")),
            (4, Value::Null),
            (5, json!("email-in-use")),
        ]
    );
    assert_eq!(rows[2]["duplicate_of"], 0);
    assert_eq!(rows[2]["detail"], "duplicate of users[0]");
    let ann = rows[0]["user_id"].as_i64().unwrap();
    let stored: (String, String, i64) =
        sqlx::query_as("SELECT email, first_name, company_id FROM users WHERE id = $1")
            .bind(ann)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(stored, ("ann@new.example".into(), "Ann".into(), echo.0));
    let bob = with_user(rows[4]["user_id"].as_i64().unwrap(), || {
        documented(
            &router,
            &doc,
            Method::GET,
            "/api/v1/companies/{id}/users/{user_id}",
            Some(echo.0),
            "",
            &key,
            None,
        )
    })
    .await;
    assert_eq!(bob.body["department"], "Sales", "{}", bob.body);
    assert_eq!(
        bob.body["licence"], "awaiting_licence",
        "seats ran out before Bob"
    );

    let users_before = id_of(&db, "SELECT COUNT(*) FROM users").await;
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({ "email": format!("p{i}@many.example") }))
        .collect();
    for body in [
        json!({ "users": many }),
        json!({ "users": [] }),
        json!({ "users": [{"email": "x@y.example", "manager": true}] }),
    ] {
        let refused = documented(
            &router,
            &doc,
            Method::POST,
            import,
            Some(echo.0),
            "",
            &key,
            Some(body),
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
    }
    assert_eq!(id_of(&db, "SELECT COUNT(*) FROM users").await, users_before);
}
