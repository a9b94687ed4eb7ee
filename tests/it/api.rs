//! The JSON API over HTTP: keys, problem bodies, limits, and the access check, which must agree
//! with console sign-in.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use jiff::{SignedDuration, Timestamp};
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::api_keys::KeyOwner;
use seatledger::db::{Actor, Db, Scope, seed, users};
use seatledger::domain::access::{SignInDecision, UserFacts, sign_in};
use seatledger::domain::api_keys::Permissions;
use seatledger::domain::{CompanyId, Email, KeyName, PartnerId, Role, UserId};
use seatledger::ops::api_keys::{self as key_ops, NewApiKey};
use seatledger::ops::users::Removal;
use seatledger::web::api::RateLimit;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::on_both_databases;
use crate::support::{TestDb, World, allocate, at, caller, ops_at, release};
use crate::web::{Client, NOW, demo_app, demo_app_on};

/// An API answer.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Calls the API on `router` with `key` and a JSON `body`.
pub(crate) async fn call(
    router: &Router,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let body = match body {
        Some(v) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    send(router, request.body(body).unwrap()).await
}

pub(crate) async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// A key of `owner` with `permissions`, made through the operations.
pub(crate) async fn key(app: &App, owner: KeyOwner, permissions: &str) -> String {
    let new = NewApiKey {
        name: KeyName::parse("test").unwrap(),
        permissions: Permissions::parse(permissions.split(',')).unwrap(),
        expires_at: None,
    };
    key_ops::create_for(&app.ops, owner, &new, None)
        .await
        .unwrap()
        .key
}

pub(crate) async fn id_of(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

async fn check(router: &Router, key: &str, email: &str) -> Answer {
    call(
        router,
        Method::POST,
        "/api/v1/access-checks",
        Some(key),
        Some(json!({ "email": email })),
    )
    .await
}

/// The console's own decision for `email` as a learner (the rule the access check must share),
/// as (allowed, until).
async fn learner_sign_in(db: &Db, email: &str, now: Timestamp) -> Option<(bool, Option<String>)> {
    let user = users::access_by_email(db, &Email::parse(email).unwrap())
        .await
        .unwrap()?;
    let Role::Company { company, .. } = user.role else {
        return None;
    };
    let facts = UserFacts {
        role: Role::Company {
            company,
            manager: false,
            learner: true,
        },
        ..user.facts
    };
    let own = user.company.as_ref().map(|c| &c.facts);
    Some(match sign_in(&facts, own, now) {
        SignInDecision::Allowed { until, .. } => (true, until.map(|t| t.to_string())),
        SignInDecision::Refused(_) => (false, None),
    })
}

/// Asks the access check and the console about every user of `db`, at `now`: they agree, and a
/// learner who may use the product is exactly one who signs in to the console.
async fn agree_for_everyone(db: &Db, app: &App, password: &str, now: Timestamp) -> (usize, usize) {
    let router = app.router();
    let operator = key(app, KeyOwner::Operator, "access:check").await;
    let everyone: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT email, kind, is_manager FROM users ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let mut learners_signed_in = 0;
    let mut allowed_learners = 0;
    for (email, kind, manager) in &everyone {
        let answer = check(&router, &operator, email).await;
        assert_eq!(answer.status, StatusCode::OK, "{email}: {}", answer.body);
        let allowed = answer.body["allowed"].as_bool().unwrap();
        if kind != "company" {
            assert_eq!(answer.body["code"], "unknown", "{email}");
            continue;
        }
        let (rule_allows, until) = learner_sign_in(db, email, now).await.unwrap();
        assert_eq!(allowed, rule_allows, "{email}: {}", answer.body);
        assert_eq!(
            answer.body["until"].as_str().map(str::to_owned),
            until,
            "{email}"
        );
        assert!(answer.body["company"]["name"].is_string(), "{email}");
        if *manager == 0 {
            // The console itself: a learner who may use the product lands on the learner page.
            let mut client = Client::new(app);
            let reply = client.sign_in(email, password).await;
            let landed = reply.location.as_deref() == Some("/learner");
            assert_eq!(landed, allowed, "{email}: console {:?}", reply.location);
            learners_signed_in += 1;
            allowed_learners += usize::from(allowed);
        }
    }
    (learners_signed_in, allowed_learners)
}

#[tokio::test]
async fn the_access_check_agrees_with_console_sign_in_for_every_demo_user() {
    let (db, app, _) = demo_app().await;
    let (learners, allowed) = agree_for_everyone(&db, &app, seed::DEMO_PASSWORD, at(NOW)).await;
    assert!(learners >= 10, "only {learners} learners were compared");
    assert!(
        allowed > 0 && allowed < learners,
        "{allowed} of {learners} allowed"
    );
    let router = app.router();
    let operator = key(&app, KeyOwner::Operator, "access:check").await;
    let unknown = check(&router, &operator, "nobody@nowhere.example").await;
    assert_eq!(
        unknown.body,
        json!({"allowed": false, "code": "unknown", "until": null, "company": null})
    );
}

on_both_databases!(the_access_check_agrees_with_console_sign_in_over_a_random_population);

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

async fn the_access_check_agrees_with_console_sign_in_over_a_random_population(db: TestDb) {
    let world = World { db: &db };
    let password = "random-population-password";
    let hash = seatledger::password::hash(password);
    let start = at("2026-01-01T00:00:00Z");
    let mut rng = Lcg(9);
    let partner = world.partner(None, "Random MSP").await;
    let now = start + SignedDuration::from_hours(24 * 75);
    for c in 0..6 {
        // Companies created 10 to 100 days ago: trials running, ended, or ended long since.
        let created = start + SignedDuration::from_hours(24 * (rng.below(70) as i64));
        let company = world
            .company(partner, &format!("Random {c}"), created)
            .await;
        let scope = Scope::Company(company);
        let batch_at = created + SignedDuration::from_hours(24 * (rng.below(40) as i64));
        let seats = rng.below(4) as i64;
        let mut learners = Vec::new();
        for u in 0..5 {
            let role = Role::Company {
                company,
                manager: u == 0 && rng.below(2) == 0,
                learner: true,
            };
            let joined = created + SignedDuration::from_hours(rng.below(24 * 60) as i64);
            let id = world
                .user(
                    &format!("u{u}@random{c}.example"),
                    role,
                    Some(&hash),
                    joined,
                )
                .await;
            learners.push((id, joined));
        }
        if seats > 0 && batch_at < now {
            world.batch(company, seats, batch_at).await;
            let chosen: Vec<UserId> = learners
                .iter()
                .filter(|(_, joined)| *joined <= batch_at)
                .take(seats as usize)
                .map(|(id, _)| *id)
                .collect();
            allocate(&db, &scope, company, &chosen, Actor::SYSTEM, batch_at)
                .await
                .unwrap();
            if let Some(first) = chosen.first().filter(|_| rng.below(2) == 0) {
                let later = batch_at + SignedDuration::from_hours(1);
                release(&db, &scope, company, *first, Actor::SYSTEM, later)
                    .await
                    .unwrap();
            }
        }
        if rng.below(2) == 0 {
            let (who, _) = learners[4];
            let ops = ops_at(&db, now - SignedDuration::from_hours(1));
            let caller = caller(&scope, Actor::SYSTEM);
            let authorised = seatledger::ops::authorise(&ops, &caller, company)
                .await
                .unwrap();
            seatledger::ops::users::remove(&ops, &caller, &authorised, who, Removal::Deactivate)
                .await
                .unwrap();
        }
    }
    let app = App::new(
        Db::clone(&db),
        std::sync::Arc::new(ManualClock::at(now)),
        "http://127.0.0.1:8080",
    );
    let (learners, allowed) = agree_for_everyone(&db, &app, password, now).await;
    assert!(learners >= 20, "only {learners} learners were compared");
    assert!(
        allowed > 0 && allowed < learners,
        "{allowed} of {learners} allowed"
    );
}

#[tokio::test]
async fn partner_and_company_keys_see_only_the_users_beneath_them() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let north = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin North'").await;
    let bluefin = id_of(&db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await;
    let echo = id_of(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    let north_key = key(&app, KeyOwner::Partner(PartnerId(north)), "access:check").await;
    let bluefin_key = key(&app, KeyOwner::Partner(PartnerId(bluefin)), "access:check").await;
    let echo_key = key(&app, KeyOwner::Company(CompanyId(echo)), "access:check").await;
    let fjord_learner = "learner1@fjord.example";
    let echo_learner = "learner1@echo.example";

    let seen = |a: &Answer| a.body["code"] != "unknown";
    assert!(!seen(&check(&router, &north_key, echo_learner).await));
    assert!(seen(&check(&router, &north_key, fjord_learner).await));
    // The parent sees its sub-partner's users.
    assert!(seen(&check(&router, &bluefin_key, fjord_learner).await));
    assert!(seen(&check(&router, &bluefin_key, echo_learner).await));
    assert!(seen(&check(&router, &echo_key, echo_learner).await));
    let other = check(&router, &echo_key, fjord_learner).await;
    assert_eq!(other.body["code"], "unknown");
    assert_eq!(other.body["company"], Value::Null);
}

#[tokio::test]
async fn every_refusal_is_a_problem_naming_its_cause() {
    let (db, app, _) = demo_app().await;
    let router = app.router();
    let reader = key(&app, KeyOwner::Operator, "read").await;
    let checker = key(&app, KeyOwner::Operator, "access:check").await;
    let problem = |a: &Answer, status: StatusCode, cause: &str| {
        assert_eq!(a.status, status, "{}", a.body);
        assert_eq!(
            a.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{}",
            a.body
        );
        assert_eq!(a.body["type"], format!("urn:seatledger:problem:{cause}"));
        assert_eq!(a.body["status"], status.as_u16());
        assert!(a.body["title"].is_string() && a.body["detail"].is_string());
    };
    let path = "/api/v1/access-checks";
    let body = || Some(json!({"email": "learner1@echo.example"}));

    let none = call(&router, Method::POST, path, None, body()).await;
    problem(&none, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(none.headers[header::WWW_AUTHENTICATE], "Bearer");
    // One character changed: never to the one it already is.
    let last = if checker.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &checker[..checker.len() - 1]);
    let forged = call(&router, Method::POST, path, Some(&forged), body()).await;
    problem(&forged, StatusCode::UNAUTHORIZED, "unauthenticated");
    let lacking = call(&router, Method::POST, path, Some(&reader), body()).await;
    problem(&lacking, StatusCode::FORBIDDEN, "missing-permission");

    let unknown_field = call(
        &router,
        Method::POST,
        path,
        Some(&checker),
        Some(json!({"email": "a@b.example", "admin": true})),
    )
    .await;
    problem(
        &unknown_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-request",
    );
    assert_eq!(unknown_field.body["errors"][0]["field"], "admin");
    assert_eq!(unknown_field.body["errors"][0]["code"], "unknown-field");
    let wrong_type = call(
        &router,
        Method::POST,
        path,
        Some(&checker),
        Some(json!({"email": 42})),
    )
    .await;
    problem(
        &wrong_type,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-request",
    );
    assert_eq!(wrong_type.body["errors"][0]["field"], "email");
    assert_eq!(wrong_type.body["errors"][0]["code"], "wrong-type");
    let missing = call(&router, Method::POST, path, Some(&checker), Some(json!({}))).await;
    assert_eq!(missing.body["errors"][0]["field"], "email");
    assert_eq!(missing.body["errors"][0]["code"], "required");
    let not_email = call(
        &router,
        Method::POST,
        path,
        Some(&checker),
        Some(json!({"email": "nope"})),
    )
    .await;
    problem(
        &not_email,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-request",
    );
    assert_eq!(not_email.body["errors"][0]["code"], "not-an-email");

    let text = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {checker}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("email=x"))
        .unwrap();
    problem(
        &send(&router, text).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    );
    let huge = format!(r#"{{"email": "{}"}}"#, "a".repeat(2 * 1024 * 1024));
    let huge = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {checker}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .unwrap();
    problem(
        &send(&router, huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
    );
    let broken = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {checker}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"email\": "))
        .unwrap();
    let broken = send(&router, broken).await;
    problem(&broken, StatusCode::UNPROCESSABLE_ENTITY, "invalid-request");
    assert_eq!(broken.body["errors"][0]["code"], "not-json");

    let get = call(&router, Method::GET, path, Some(&checker), None).await;
    problem(&get, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
    let nowhere = call(
        &router,
        Method::GET,
        "/api/v1/nowhere",
        Some(&checker),
        None,
    )
    .await;
    problem(&nowhere, StatusCode::NOT_FOUND, "no-such-route");
    assert_eq!(
        id_of(&db, "SELECT COUNT(*) FROM api_keys").await,
        2,
        "nothing else was created"
    );
}

#[tokio::test]
async fn a_key_past_its_rate_waits_as_retry_after_says() {
    let (_db, app, clock) = demo_app().await;
    let app = app.with_api_rate(RateLimit {
        per_second: 1,
        burst: 2,
    });
    let router = app.router();
    let checker = key(&app, KeyOwner::Operator, "access:check").await;
    let other = key(&app, KeyOwner::Operator, "access:check").await;
    for _ in 0..2 {
        assert_eq!(
            check(&router, &checker, "a@b.example").await.status,
            StatusCode::OK
        );
    }
    let limited = check(&router, &checker, "a@b.example").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["type"], "urn:seatledger:problem:rate-limited");
    assert_eq!(limited.headers[header::RETRY_AFTER], "1");
    assert_eq!(
        check(&router, &other, "a@b.example").await.status,
        StatusCode::OK
    );
    clock.advance(SignedDuration::from_secs(1));
    assert_eq!(
        check(&router, &checker, "a@b.example").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_served_routes_and_their_errors() {
    let (_db, app, _) = demo_app_on(crate::support::sqlite().await).await;
    let router = app.router();
    let doc = call(&router, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.body;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    let check = &doc["paths"]["/api/v1/access-checks"]["post"];
    for status in ["200", "401", "403", "413", "415", "422", "429", "500"] {
        assert!(
            check["responses"][status].is_object(),
            "{status} undocumented"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // Clients generate one function per operation id: each must be unique.
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            ids.push(operation["operationId"].as_str().unwrap().to_owned());
        }
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids repeat: {ids:?}");
}
