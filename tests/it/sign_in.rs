//! Sign-in, sessions and secrets under attack (issue 10): form tokens bound to the session,
//! cookies and security headers, the limit on password hashing, rate limits, locks per account
//! and address that reveal nothing, notices kept with the session, delivered emails without a
//! working link, and addresses of other tenants that are not revealed.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jiff::SignedDuration;
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::{Db, seed};
use seatledger::email::REMOVED_TOKEN;
use seatledger::email::transport::Transport;
use seatledger::jobs::delivery::deliver_due;
use seatledger::password::Hashing;
use seatledger::web::{SESSION_COOKIE, VISITOR_COOKIE, route_table};
use tower::ServiceExt;

use crate::on_both_databases;
use crate::smtp::SmtpSink;
use crate::support::{TestDb, at, sqlite};
use crate::web::{Client, NOW, demo_app, demo_app_on};

async fn scalar(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

/// The demo world behind an app whose public URL is `public_url`.
async fn demo_at(public_url: &str) -> (TestDb, App) {
    let db = sqlite().await;
    let hash = seatledger::password::hash(seed::DEMO_PASSWORD);
    seed::demo(&db, &hash, at(NOW)).await.unwrap();
    let clock = Arc::new(ManualClock::at(at(NOW)));
    let app = App::new(Db::clone(&db), clock, public_url);
    (db, app)
}

const REFUSED: &str = "This form has expired or was sent from another site";

/// Posts to `path` with exactly these cookies and this `csrf` field (none when `None`).
async fn post_with(
    app: &App,
    path: &str,
    cookies: &str,
    csrf: Option<&str>,
) -> (StatusCode, String) {
    let body = csrf.map_or(String::new(), |t| format!("csrf={t}"));
    let request = Request::post(path)
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let response = app.router().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn every_post_route_refuses_another_sessions_token_a_chosen_pair_and_no_token() {
    let (_db, app, _) = demo_app().await;
    let mut victim = Client::new(&app);
    victim
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let mut attacker = Client::new(&app);
    attacker
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    let attackers_token = attacker.form_token().await;
    let victims_session = format!("{SESSION_COOKIE}={}", victim.cookies[SESSION_COOKIE]);
    let chosen = "a".repeat(64);
    let chosen_visitor = format!("{VISITOR_COOKIE}={chosen}");
    let chosen_session = format!("{SESSION_COOKIE}={chosen}");
    let mut posts = 0;
    for route in route_table() {
        if !route.methods.contains(&"POST") || route.path.starts_with("/api/") {
            continue;
        }
        posts += 1;
        let path = route
            .path
            .split('/')
            .map(|part| if part.starts_with('{') { "1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for (what, cookies, csrf) in [
            (
                "another session's token",
                &victims_session,
                Some(&attackers_token),
            ),
            ("a chosen visitor pair", &chosen_visitor, Some(&chosen)),
            ("a chosen session pair", &chosen_session, Some(&chosen)),
            ("no token", &victims_session, None),
        ] {
            let (status, body) = post_with(&app, &path, cookies, csrf.map(String::as_str)).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{what} on POST {}",
                route.path
            );
            assert!(
                body.contains(REFUSED),
                "{what} on POST {}: {body}",
                route.path
            );
        }
    }
    assert!(posts > 20, "only {posts} POST routes");
    // The victim's own token passes the check (sign-out then does its work).
    let own = victim.form_token().await;
    let (status, _) = post_with(&app, "/sign-out", &victims_session, Some(&own)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn signing_in_rotates_the_form_token() {
    let (_db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    client.get("/sign-in").await;
    let before = client.form_token().await;
    assert_ne!(
        before, client.cookies[VISITOR_COOKIE],
        "the token is not the cookie"
    );
    client
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    let after = client.form_token().await;
    assert_ne!(before, after);
    let stale = client
        .post_raw(
            "/company/users",
            &[
                ("csrf", &before),
                ("email", "new@echo.example"),
                ("role", "learner"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    let fresh = client
        .post(
            "/company/users",
            &[("email", "new@echo.example"), ("role", "learner")],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn under_https_cookies_take_the_host_prefix_and_responses_send_hsts() {
    let (_db, app) = demo_at("https://console.example").await;
    let mut client = Client::new(&app);
    let page = client.get("/sign-in").await;
    assert_eq!(page.status, StatusCode::OK);
    let reply = client
        .post(
            "/sign-in",
            &[
                ("email", "admin@bluefin.example"),
                ("password", seed::DEMO_PASSWORD),
            ],
        )
        .await;
    assert_eq!(reply.location.as_deref(), Some("/partner"));
    for name in ["__Host-seatledger_visitor", "__Host-seatledger_session"] {
        let set = client
            .set_cookie_headers
            .iter()
            .find(|h| h.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie"));
        for part in ["; Path=/", "; HttpOnly", "; Secure", "; SameSite="] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        assert!(!set.contains("Domain="), "{set}");
    }
    assert!(!client.cookies.contains_key(SESSION_COOKIE));
    let response = app
        .router()
        .oneshot(Request::get("/sign-in").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn every_route_answers_with_the_security_headers() {
    let (_db, app, _) = demo_app().await;
    let mut manager = Client::new(&app);
    manager
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    let session = format!("{SESSION_COOKIE}={}", manager.cookies[SESSION_COOKIE]);
    let mut paths: Vec<String> = route_table()
        .iter()
        .map(|r| r.path.replace("{id}", "1"))
        .collect();
    paths.push("/no-such-page".into());
    for path in &paths {
        for cookies in ["", session.as_str()] {
            for method in ["GET", "POST"] {
                let request = Request::builder()
                    .method(method)
                    .uri(path)
                    .header(header::COOKIE, cookies)
                    .body(Body::empty())
                    .unwrap();
                let response = app.router().oneshot(request).await.unwrap();
                let headers = response.headers();
                let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
                assert!(
                    csp.contains("frame-ancestors 'none'"),
                    "{method} {path}: {csp}"
                );
                assert!(csp.contains("default-src 'none'"), "{method} {path}: {csp}");
                assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
                assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
                assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
                // Plain http: no HSTS, which would pin a name that may never have https.
                assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
            }
        }
    }
}

#[tokio::test]
async fn a_sign_in_that_finds_no_hashing_slot_is_told_to_retry_on_a_clear_page() {
    let (_db, app, _) = demo_app().await;
    let app = app.with_hashing(Hashing::new(0, Duration::ZERO));
    let mut client = Client::new(&app);
    let reply = client
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        reply
            .body
            .contains("The server is checking too many passwords at once")
    );
    let response = app
        .router()
        .oneshot(
            Request::post("/sign-in")
                .header(
                    header::COOKIE,
                    format!("{VISITOR_COOKIE}={}", client.cookies[VISITOR_COOKIE]),
                )
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "csrf={}&email=x%40y.example&password=pw",
                    client.form_token().await
                )))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "5");
}

#[tokio::test]
async fn a_bad_set_password_link_is_refused_before_any_hashing() {
    let (_db, app, _) = demo_app().await;
    // No hashing slot at all: a request that hashed would get 503.
    let app = app.with_hashing(Hashing::new(0, Duration::ZERO));
    let mut client = Client::new(&app);
    let reply = client
        .post(
            "/set-password",
            &[
                ("token", &"f".repeat(64)),
                ("password", "a long enough password"),
                ("confirm", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("This link is not valid."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sign_ins_never_hash_more_than_the_limit_at_once() {
    let (_db, app, _) = demo_app().await;
    let hashing = Hashing::new(2, Duration::from_secs(60));
    let app = app.with_hashing(hashing.clone());
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(&app).seen_from([10, 0, 0, i]);
            client.get("/sign-in").await;
            let email = if i % 2 == 0 {
                "admin@bluefin.example"
            } else {
                "nobody@bluefin.example"
            };
            client
                .post("/sign-in", &[("email", email), ("password", "wrong")])
                .await
                .status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert!(hashing.peak() <= 2, "{} hashes at once", hashing.peak());
    assert!(hashing.peak() >= 1);
}

#[tokio::test]
async fn sign_ins_are_rate_limited_per_address_and_per_account() {
    let (_db, app, _) = demo_app().await;
    let mut from_one_address = Client::new(&app).seen_from([192, 0, 2, 1]);
    for i in 0..30 {
        let email = format!("guess{i}@bluefin.example");
        let reply = from_one_address.sign_in(&email, "wrong").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let limited = from_one_address
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited
            .body
            .contains("There have been too many attempts. Try again in")
    );
    // Another address is not held back by that one.
    let mut elsewhere = Client::new(&app).seen_from([192, 0, 2, 2]);
    let reply = elsewhere
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(reply.location.as_deref(), Some("/partner"));

    // One account (known or not: the limit says nothing) from many addresses.
    for i in 0..30u8 {
        let mut client = Client::new(&app).seen_from([198, 51, 100, i]);
        let reply = client.sign_in("target@bluefin.example", "wrong").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let mut fresh = Client::new(&app).seen_from([203, 0, 113, 9]);
    let reply = fresh.sign_in("target@bluefin.example", "wrong").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn reset_requests_are_rate_limited_per_address() {
    let (db, app, _) = demo_app().await;
    let mut client = Client::new(&app).seen_from([192, 0, 2, 7]);
    for i in 0..10 {
        let email = format!("someone{i}@echo.example");
        let reply = client.post("/forgot-password", &[("email", &email)]).await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}");
    }
    let limited = client
        .post("/forgot-password", &[("email", "manager@echo.example")])
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset'"
        )
        .await,
        0
    );
    let mut other = Client::new(&app).seen_from([192, 0, 2, 8]);
    other
        .post("/forgot-password", &[("email", "manager@echo.example")])
        .await;
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM activity WHERE action = 'password_reset_sent'"
        )
        .await,
        1
    );
}

/// The page without what legitimately differs between two answers: the echoed email and the
/// form token.
fn normalised(page: &str, email: &str, token: &str) -> String {
    page.replace(email, "EMAIL").replace(token, "TOKEN")
}

on_both_databases!(
    three_wrong_passwords_lock_the_account_for_that_address_only_and_tell_its_owner,
    a_delivered_email_keeps_no_working_link,
);

async fn three_wrong_passwords_lock_the_account_for_that_address_only_and_tell_its_owner(
    db: TestDb,
) {
    let log = crate::routes::log();
    let (db, app, clock) = demo_app_on(db).await;
    let mut attacker = Client::new(&app).seen_from([192, 0, 2, 66]);
    let mut answers = Vec::new();
    attacker.get("/sign-in").await;
    let token = attacker.form_token().await;
    let unknown = attacker.sign_in("nobody@bluefin.example", "wrong").await;
    answers.push(normalised(&unknown.body, "nobody@bluefin.example", &token));
    for _ in 0..3 {
        let wrong = attacker.sign_in("admin@bluefin.example", "wrong").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        answers.push(normalised(&wrong.body, "admin@bluefin.example", &token));
    }
    let right_but_locked = attacker
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(right_but_locked.status, StatusCode::UNAUTHORIZED);
    answers.push(normalised(
        &right_but_locked.body,
        "admin@bluefin.example",
        &token,
    ));
    assert!(answers[0].contains("The email or password is incorrect."));
    assert!(!answers[0].contains("locked"), "{}", answers[0]);
    for answer in &answers {
        assert_eq!(
            answer, &answers[0],
            "unknown, wrong and locked answer alike"
        );
    }
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);

    // The real user, elsewhere, still signs in.
    let mut owner = Client::new(&app).seen_from([192, 0, 2, 10]);
    let reply = owner
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(reply.location.as_deref(), Some("/partner"));
    // ... learns of the lock by email, and the partner's Activity shows it.
    let (recipient, body): (String, String) =
        sqlx::query_as("SELECT recipient, body_text FROM outbox WHERE kind = 'sign_in_locked'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(recipient, "admin@bluefin.example");
    assert!(body.contains("192.0.2.66"), "{body}");
    assert!(body.contains("locked until 2026-11-26 09:10 UTC"), "{body}");
    let activity = owner.get("/partner/activity").await;
    assert!(
        activity
            .body
            .contains("Locked sign-in to admin@bluefin.example from 192.0.2.66"),
        "{}",
        activity.body
    );
    let written = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        written.contains("security_event=\"sign_in_locked\""),
        "lock not logged"
    );

    // Ten minutes later the attacker's address may try again.
    clock.advance(SignedDuration::from_mins(10));
    let after = attacker
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(after.location.as_deref(), Some("/partner"));
    // The success cleared the count: one wrong password later does not lock.
    let reply = attacker.sign_in("admin@bluefin.example", "wrong").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'sign_in_locked'"
        )
        .await,
        1
    );
}

async fn a_delivered_email_keeps_no_working_link(db: TestDb) {
    let (db, app, _) = demo_app_on(db).await;
    let mut manager = Client::new(&app);
    manager
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    manager
        .post(
            "/company/users",
            &[("email", "new@echo.example"), ("role", "learner")],
        )
        .await;
    // Queued, not yet delivered: the outbox must hold the link to send it.
    let queued: String =
        sqlx::query_scalar("SELECT body_text FROM outbox WHERE recipient = 'new@echo.example'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let link = queued
        .split_whitespace()
        .find(|w| w.contains("/set-password?token="))
        .unwrap()
        .trim_start_matches("http://127.0.0.1:8080")
        .to_owned();
    let token = link.rsplit('=').next().unwrap().to_owned();

    let sink = SmtpSink::start().await;
    let smtp = Transport::new(Some(&sink.url()), "seatledger <s@localhost>").unwrap();
    deliver_due(&db, &smtp, at(NOW)).await.unwrap();
    let sent = sink
        .messages()
        .into_iter()
        .find(|m| m.recipients.iter().any(|r| r.contains("new@echo.example")))
        .expect("the welcome email was sent");
    let unfolded = sent.data.replace("=\r\n", "");
    assert!(
        unfolded.contains(&token),
        "the recipient gets the working link"
    );

    let (text, html, status): (String, String, String) = sqlx::query_as(
        "SELECT body_text, body_html, status FROM outbox WHERE recipient = 'new@echo.example'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(status, "sent");
    for body in [&text, &html] {
        assert!(!body.contains(&token), "{body}");
        assert!(body.contains(REMOVED_TOKEN), "{body}");
    }
    let everywhere: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE body_text LIKE $1 OR body_html LIKE $1",
    )
    .bind(format!("%{token}%"))
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(everywhere, 0);
    let mut operator = Client::new(&app);
    operator
        .sign_in("operator@seatledger.example", seed::DEMO_PASSWORD)
        .await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM outbox WHERE recipient = 'new@echo.example'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let mailbox = operator.get(&format!("/operator/mailbox/{id}")).await;
    assert_eq!(mailbox.status, StatusCode::OK);
    assert!(!mailbox.body.contains(&token));
    // The link itself still works for its recipient.
    let page = Client::new(&app).get(&link).await;
    assert!(page.body.contains("Set your password"), "{}", page.body);
    assert!(!page.body.contains("This link is not valid"));
}

#[tokio::test]
async fn a_notice_comes_from_the_session_never_from_the_query_string() {
    let (_db, app, _) = demo_app().await;
    let mut manager = Client::new(&app);
    manager
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    let added = manager
        .post(
            "/company/users",
            &[("email", "new@echo.example"), ("role", "learner")],
        )
        .await;
    assert_eq!(added.location.as_deref(), Some("/company/users"));
    let users = manager.get("/company/users").await;
    assert!(
        users
            .body
            .contains("new@echo.example was added and sent a welcome email to set a password."),
    );
    let again = manager.get("/company/users").await;
    assert!(!again.body.contains("was added"), "a notice shows once");
    let forged = manager
        .get("/company/users?added=Call+0800+FRAUD+now&done=deleted")
        .await;
    assert!(!forged.body.contains("FRAUD"));
    assert!(!forged.body.contains("The user was deleted"));
    assert!(!forged.body.contains(r#"class="notice""#));
}

#[tokio::test]
async fn adding_another_tenants_address_says_only_in_use_and_is_rate_limited() {
    let log = crate::routes::log();
    let (db, app, _) = demo_app().await;
    let mut manager = Client::new(&app);
    manager
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    let fields = [("email", "admin@bluefin.example"), ("role", "learner")];
    let reply = manager.post("/company/users", &fields).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply
            .body
            .contains("Email: this email address is already in use.")
    );
    assert!(!reply.body.contains("Bluefin"), "the tenant is not named");
    for _ in 1..50 {
        let reply = manager.post("/company/users", &fields).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = manager.post("/company/users", &fields).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // An import naming any outside address is refused whole while the limit is spent.
    let users_before = scalar(&db, "SELECT COUNT(*) FROM users").await;
    let file = b"email,first_name\nfresh1@echo.example,Fresh\noperator@seatledger.example,Op\n";
    let upload = manager
        .upload("/company/users/import", "users.csv", file)
        .await;
    let mapping = upload.location.expect("the upload is kept for its mapping");
    let refused = manager
        .post(&mapping, &[("email", "0"), ("first_name", "1")])
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM users").await,
        users_before
    );
    let written = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(written.contains("security_event=\"address_in_use_elsewhere\""));
}
