//! The console over HTTP: sign-in rules, sessions, CSRF, areas, escaping.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jiff::SignedDuration;
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::{Db, seed};
use seatledger::web::{SESSION_COOKIE, VISITOR_COOKIE};
use tower::ServiceExt;

use crate::support::{TestDb, World, at, sqlite};

/// A cookie-keeping client that calls the router directly, no socket (the peer address a
/// socket would give is attached to each request).
pub(crate) struct Client {
    app: Router,
    pub cookies: HashMap<String, String>,
    pub set_cookie_headers: Vec<String>,
    /// The form token of the last page that carried one, while the cookies it is bound to last.
    pub csrf: Option<String>,
    /// The client's address, as the server sees the connection's peer.
    pub address: SocketAddr,
}

pub(crate) struct Reply {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Client {
    pub(crate) fn new(app: &App) -> Self {
        Self {
            app: app.router(),
            cookies: HashMap::new(),
            set_cookie_headers: Vec::new(),
            csrf: None,
            address: SocketAddr::from(([127, 0, 0, 1], 40000)),
        }
    }

    /// The same client seen from another address.
    pub(crate) fn seen_from(mut self, ip: [u8; 4]) -> Self {
        self.address = SocketAddr::from((ip, 40000));
        self
    }

    async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Reply {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = request.header(header::COOKIE, cookie).body(body).unwrap();
        request.extensions_mut().insert(ConnectInfo(self.address));
        let response = self.app.clone().oneshot(request).await.unwrap();
        for value in response.headers().get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap().to_owned();
            let (pair, _) = value.split_once(';').unwrap();
            let (name, v) = pair.split_once('=').unwrap();
            // The form token is bound to these cookies: a new one makes it stale.
            self.csrf = None;
            if v.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), v.to_owned());
            }
            self.set_cookie_headers.push(value);
        }
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        if let Some(token) = form_token(&body) {
            self.csrf = Some(token);
        }
        Reply {
            status,
            location,
            headers,
            body,
        }
    }

    /// The form token a browser would send: from the last page with a form, or from a page
    /// with one (every visitor, signed in or not, can open Forgot password).
    pub(crate) async fn form_token(&mut self) -> String {
        if self.csrf.is_none() {
            self.get("/forgot-password").await;
        }
        self.csrf.clone().expect("the page carries a form token")
    }

    pub(crate) async fn get(&mut self, path: &str) -> Reply {
        self.send(Request::get(path), Body::empty()).await
    }

    /// Posts a form with the CSRF token a browser would send (from the page's form).
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.form_token().await;
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    pub(crate) async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            Body::from(body),
        )
        .await
    }

    /// Uploads `bytes` as the `file` field of a multipart form, with the CSRF token in the query
    /// as the upload forms send it.
    pub(crate) async fn upload(&mut self, path: &str, file_name: &str, bytes: &[u8]) -> Reply {
        let csrf = self.form_token().await;
        let boundary = "seatledger-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.send(
            Request::post(format!("{path}?csrf={csrf}")).header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            ),
            Body::from(body),
        )
        .await
    }

    pub(crate) async fn sign_in(&mut self, email: &str, password: &str) -> Reply {
        self.get("/sign-in").await;
        self.post("/sign-in", &[("email", email), ("password", password)])
            .await
    }
}

/// The form token a page embeds, if it has a form.
pub(crate) fn form_token(page: &str) -> Option<String> {
    let mark = r#"name="csrf" value=""#;
    let at = page.find(mark)? + mark.len();
    let end = page[at..].find('"')? + at;
    Some(page[at..end].to_owned())
}

/// The rest of the table row whose cell reads `first_cell`: from that cell to the row's end.
pub(crate) fn row_of<'a>(page: &'a str, first_cell: &str) -> &'a str {
    let at = page
        .find(&format!("<td>{first_cell}</td>"))
        .unwrap_or_else(|| panic!("{first_cell} not listed"));
    let end = page[at..].find("</tr>").unwrap() + at;
    &page[at..end]
}

pub(crate) const NOW: &str = "2026-11-26T09:00:00Z";

/// The demo world at `NOW` behind an app on a manual clock.
pub(crate) async fn demo_app() -> (TestDb, App, ManualClock) {
    demo_app_on(sqlite().await).await
}

/// The demo world at `NOW` in `db`.
pub(crate) async fn demo_app_on(db: TestDb) -> (TestDb, App, ManualClock) {
    let hash = seatledger::password::hash(seed::DEMO_PASSWORD);
    seed::demo(&db, &hash, at(NOW)).await.unwrap();
    let clock = ManualClock::at(at(NOW));
    let app = App::new(
        Db::clone(&db),
        std::sync::Arc::new(clock.clone()),
        "http://127.0.0.1:8080",
    );
    (db, app, clock)
}

async fn sessions(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn health_reports_the_database() {
    let (_db, app, _) = demo_app().await;
    let reply = Client::new(&app).get("/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, r#"{"database":"ok","status":"ok"}"#);
}

#[tokio::test]
async fn the_sign_in_page_sets_a_visitor_cookie_and_embeds_a_token_bound_to_it() {
    let (_db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    let page = client.get("/sign-in").await;
    assert_eq!(page.status, StatusCode::OK);
    let token = form_token(&page.body).expect("the page embeds a form token");
    assert_eq!(token.len(), 64);
    assert_ne!(
        token, client.cookies[VISITOR_COOKIE],
        "the token is not the cookie"
    );
    let header = &client.set_cookie_headers[0];
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict"),
        "{header}"
    );
}

#[tokio::test]
async fn a_form_without_the_right_csrf_token_is_refused_and_signs_nobody_in() {
    let (db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    client.get("/sign-in").await;
    let credentials = [
        ("email", "admin@bluefin.example"),
        ("password", seed::DEMO_PASSWORD),
    ];
    let missing = client.post_raw("/sign-in", &credentials).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("This form has expired"));
    let forged = "0".repeat(64);
    let mut with_forged = vec![("csrf", forged.as_str())];
    with_forged.extend_from_slice(&credentials);
    assert_eq!(
        client.post_raw("/sign-in", &with_forged).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(!client.cookies.contains_key(SESSION_COOKIE));
    assert_eq!(sessions(&db).await, 0);
}

#[tokio::test]
async fn a_partner_admin_signs_in_to_the_admin_dashboard_and_sees_its_companies() {
    let (_db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    let reply = client
        .sign_in("Admin@Bluefin.example ", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location.as_deref(), Some("/partner"));
    let session_header = client
        .set_cookie_headers
        .iter()
        .find(|h| h.starts_with(SESSION_COOKIE))
        .unwrap();
    assert!(session_header.contains("HttpOnly") && session_header.contains("SameSite=Lax"));

    let page = client.get("/partner").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"<span class="area">Admin Dashboard</span>"#)
    );
    assert!(page.body.contains("<h1>Company</h1>"));
    for company in [
        "Acme Trial Co",
        "Cobalt Expired Trial",
        "Echo Premium",
        "Fjord Fisheries",
    ] {
        assert!(page.body.contains(company), "{company} missing");
    }
    assert!(page.body.contains("3 / 4"), "Echo's seats used / total");
    let acme = row_of(&page.body, "Acme Trial Co");
    assert!(
        acme.contains(r#"<span class="status">Free Trial</span>"#),
        "{acme}"
    );
    // Bluefin North is Bluefin IT's sub-partner: its company is listed under its name.
    let fjord = row_of(&page.body, "Fjord Fisheries");
    assert!(fjord.contains("<td>Bluefin North</td>"), "{fjord}");
}

#[tokio::test]
async fn a_sub_partner_does_not_see_its_parents_companies() {
    let (_db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    client
        .sign_in("admin@bluefin-north.example", seed::DEMO_PASSWORD)
        .await;
    let page = client.get("/partner").await;
    assert!(page.body.contains("Fjord Fisheries"));
    assert!(!page.body.contains("Acme Trial Co"));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let (db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    for (email, password) in [
        ("admin@bluefin.example", "wrong"),
        ("nobody@bluefin.example", seed::DEMO_PASSWORD),
        ("not an email", "x"),
    ] {
        let reply = client.sign_in(email, password).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(reply.body.contains("The email or password is incorrect."));
    }
    assert_eq!(sessions(&db).await, 0);
}

#[tokio::test]
async fn an_expired_learner_is_refused_with_the_licence_message_and_no_session() {
    let (db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    let reply = client
        .sign_in("learner1@cobalt.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply
            .body
            .contains("Your licence expired on 23 Nov 2026. Ask your company manager to renew it."),
        "{}",
        reply.body
    );
    // The sign-in form again, with the email kept.
    assert_eq!(reply.location, None);
    assert!(
        reply
            .body
            .contains(r#"id="sign-in-error">Your licence expired on"#),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains(r#"value="learner1@cobalt.example""#),
        "{}",
        reply.body
    );
    assert_eq!(sessions(&db).await, 0);
}

#[tokio::test]
async fn a_licensed_learner_signs_in_and_an_unlicensed_one_of_the_same_company_does_not() {
    let (_db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    let reply = client
        .sign_in("learner1@echo.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(reply.location.as_deref(), Some("/learner"));
    assert!(client.get("/learner").await.body.contains("active until"));
    let mut other = Client::new(&app);
    let refused = other
        .sign_in("learner5@echo.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_expired_trial_manager_lands_on_the_landing_page_and_cannot_reach_other_pages() {
    let (_db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    let reply = client
        .sign_in("manager@cobalt.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(reply.location.as_deref(), Some("/landing"));
    let landing = client.get("/landing").await;
    assert!(landing.body.contains("Your access has ended"));
    assert!(landing.body.contains("ended on 23 Nov 2026"));
    for path in [
        "/company",
        "/company/users",
        "/company/licenses",
        "/partner",
        "/learner",
    ] {
        let reply = client.get(path).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(reply.location.as_deref(), Some("/landing"), "{path}");
    }
}

#[tokio::test]
async fn a_session_stops_working_at_the_first_request_after_access_ends() {
    let (db, app, clock) = demo_app().await;
    // Acme's trial started 5 days ago and lasts 30: it ends in 25 days.
    clock.advance(SignedDuration::from_hours(24 * 25 - 1));
    let mut client = Client::new(&app);
    client
        .sign_in("learner1@acme.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(client.get("/learner").await.status, StatusCode::OK);
    clock.advance(SignedDuration::from_hours(1));
    let reply = client.get("/learner").await;
    assert_eq!(reply.location.as_deref(), Some("/sign-in"));
    assert_eq!(sessions(&db).await, 0);
}

#[tokio::test]
async fn a_manager_whose_trial_ends_is_moved_to_the_landing_page() {
    let (_db, app, clock) = demo_app().await;
    // Birch's trial ends in 48 hours.
    clock.advance(SignedDuration::from_hours(47));
    let mut client = Client::new(&app);
    client
        .sign_in("manager@birch.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(client.get("/company").await.status, StatusCode::OK);
    clock.advance(SignedDuration::from_hours(1));
    assert_eq!(
        client.get("/company").await.location.as_deref(),
        Some("/landing")
    );
}

#[tokio::test]
async fn signing_out_revokes_the_session_for_good() {
    let (db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    client
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let stolen = client.cookies[SESSION_COOKIE].clone();
    let reply = client.post("/sign-out", &[]).await;
    assert_eq!(reply.location.as_deref(), Some("/sign-in"));
    assert!(!client.cookies.contains_key(SESSION_COOKIE));
    assert_eq!(sessions(&db).await, 0);
    client.cookies.insert(SESSION_COOKIE.to_owned(), stolen);
    assert_eq!(
        client.get("/partner").await.location.as_deref(),
        Some("/sign-in")
    );
}

#[tokio::test]
async fn each_role_is_kept_to_its_own_area() {
    let (_db, app, _) = demo_app().await;
    for (email, home, foreign) in [
        ("admin@bluefin.example", "/partner", "/company"),
        ("manager@echo.example", "/company", "/partner"),
        ("operator@seatledger.example", "/operator", "/partner"),
        ("learner1@echo.example", "/learner", "/company/users"),
    ] {
        let mut client = Client::new(&app);
        client.sign_in(email, seed::DEMO_PASSWORD).await;
        assert_eq!(client.get(home).await.status, StatusCode::OK, "{email}");
        assert_eq!(client.get("/").await.location.as_deref(), Some(home));
        assert_eq!(
            client.get(foreign).await.location.as_deref(),
            Some(home),
            "{email}"
        );
    }
}

#[tokio::test]
async fn an_anonymous_visitor_is_sent_to_sign_in_and_unknown_pages_are_not_found() {
    let (_db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    assert_eq!(
        client.get("/partner").await.location.as_deref(),
        Some("/sign-in")
    );
    assert_eq!(client.get("/").await.location.as_deref(), Some("/sign-in"));
    let missing = client.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Not found"));
}

#[tokio::test]
async fn company_names_are_escaped_in_pages() {
    let (db, app, _) = demo_app().await;
    let partner: i64 = sqlx::query_scalar("SELECT id FROM partners WHERE name = 'Bluefin IT'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    World { db: &db }
        .company(
            seatledger::domain::PartnerId(partner),
            "<script>alert(1)</script>",
            at(NOW),
        )
        .await;
    let mut client = Client::new(&app);
    client
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let page = client.get("/partner").await;
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || page.body.contains("&lt;script&gt;")
    );
    assert!(!page.body.contains("<script>alert(1)"));
}

/// The one-time key embedded in the Request License form.
pub(crate) fn request_key(form_page: &str) -> String {
    let marker = r#"name="request_key" value=""#;
    let start = form_page.find(marker).expect("request key field") + marker.len();
    form_page[start..start + 64].to_owned()
}

async fn orders_of(db: &Db, company: &str) -> Vec<(i64, String, i64, String)> {
    sqlx::query_as(
        "SELECT o.id, o.kind, o.quantity, o.state FROM orders o JOIN companies c ON c.id = o.company_id \
         WHERE c.name = $1 ORDER BY o.id",
    )
    .bind(company)
    .fetch_all(db.pool())
    .await
    .unwrap()
}

async fn order_emails(db: &Db) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT recipient, subject FROM outbox WHERE kind = 'order_requested' ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn an_expired_manager_requests_licences_once_however_often_the_form_is_sent() {
    let (db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    client
        .sign_in("manager@cobalt.example", seed::DEMO_PASSWORD)
        .await;
    let landing = client.get("/landing").await;
    assert!(
        landing
            .body
            .contains(r#"href="/company/orders/new">Request License</a>"#)
    );
    let form = client.get("/company/orders/new").await;
    assert!(form.body.contains("<h1>Request License</h1>"));
    let key = request_key(&form.body);
    let fields = [
        ("request_key", key.as_str()),
        ("quantity", "25"),
        ("kind", "premium"),
    ];

    let first = client.post("/company/orders", &fields).await;
    let again = client.post("/company/orders", &fields).await;
    let orders = orders_of(&db, "Cobalt Expired Trial").await;
    assert_eq!(orders.len(), 1);
    let (order, kind, quantity, state) = &orders[0];
    assert_eq!(
        (kind.as_str(), *quantity, state.as_str()),
        ("premium", 25, "requested")
    );
    let expected = format!("/landing?requested={order}");
    assert_eq!(first.location.as_deref(), Some(expected.as_str()));
    assert_eq!(again.location.as_deref(), Some(expected.as_str()));

    let landing = client.get(&expected).await;
    assert!(landing.body.contains("was sent to your account manager"));
    assert!(landing.body.contains("<td>25</td><td>Premium</td>"));
    assert!(landing.body.contains("Pending"));
    assert_eq!(
        order_emails(&db).await,
        [(
            "am@bluefin.example".to_owned(),
            "Cobalt Expired Trial: 25 Premium licences requested".to_owned()
        )]
    );
}

#[tokio::test]
async fn an_invalid_number_of_licences_is_refused_by_field_and_nothing_is_stored() {
    let (db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    client
        .sign_in("manager@cobalt.example", seed::DEMO_PASSWORD)
        .await;
    let key = request_key(&client.get("/company/orders/new").await.body);
    for (quantity, message) in [
        ("0", "between 1 and 100000, not 0"),
        ("100001", "between 1 and 100000, not 100001"),
        ("many", "\"many\" is not a whole number"),
    ] {
        let reply = client
            .post(
                "/company/orders",
                &[
                    ("request_key", &key),
                    ("quantity", quantity),
                    ("kind", "managed"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        // The same form again, the message in its error line, what was typed kept.
        assert!(reply.body.contains("<h1>Request License</h1>"));
        let error = reply
            .body
            .split_once(r#"id="form-error">"#)
            .and_then(|(_, rest)| rest.split_once("</p>"))
            .map(|(error, _)| error)
            .unwrap_or_else(|| panic!("no #form-error: {}", reply.body));
        let escaped = message.replace('"', "&#34;");
        assert!(
            error.contains(&escaped) || error.contains(message),
            "{error}"
        );
        assert!(reply.body.contains(&format!(r#"value="{quantity}""#)));
        assert!(reply.body.contains(r#"value="managed" selected"#));
    }
    let bad_kind = client
        .post(
            "/company/orders",
            &[("request_key", &key), ("quantity", "5"), ("kind", "gold")],
        )
        .await;
    assert_eq!(bad_kind.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(orders_of(&db, "Cobalt Expired Trial").await.is_empty());
    assert!(order_emails(&db).await.is_empty());
}

#[tokio::test]
async fn a_manager_with_access_orders_from_the_licenses_orders_tab() {
    let (db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    client
        .sign_in("manager@acme.example", seed::DEMO_PASSWORD)
        .await;
    let tab = client.get("/company/licenses").await;
    assert!(tab.body.contains("Request Licenses"));
    assert!(tab.body.contains("No orders yet."));
    let form = client.get("/company/orders/new").await;
    assert!(form.body.contains("<h1>Request Licenses</h1>"));
    let key = request_key(&form.body);
    let reply = client
        .post(
            "/company/orders",
            &[
                ("request_key", &key),
                ("quantity", "1,000"),
                ("kind", "managed"),
            ],
        )
        .await;
    let orders = orders_of(&db, "Acme Trial Co").await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].2, 1000);
    let expected = format!("/company/licenses?requested={}", orders[0].0);
    assert_eq!(reply.location.as_deref(), Some(expected.as_str()));
    let tab = client.get(&expected).await;
    assert!(tab.body.contains("<td>1000</td><td>Managed</td>"));
}

#[tokio::test]
async fn a_company_without_an_account_manager_alerts_the_partner_admins() {
    let (db, app, _) = demo_app().await;
    let mut client = Client::new(&app);
    client
        .sign_in("manager@fjord.example", seed::DEMO_PASSWORD)
        .await;
    let key = request_key(&client.get("/company/orders/new").await.body);
    client
        .post(
            "/company/orders",
            &[
                ("request_key", &key),
                ("quantity", "7"),
                ("kind", "premium"),
            ],
        )
        .await;
    let recipients: Vec<String> = order_emails(&db)
        .await
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(recipients, ["admin@bluefin-north.example"]);
}

#[tokio::test]
async fn only_company_managers_can_request_licences() {
    let (db, app, _) = demo_app().await;
    for (email, home) in [
        ("learner1@echo.example", "/learner"),
        ("admin@bluefin.example", "/partner"),
    ] {
        let mut client = Client::new(&app);
        client.sign_in(email, seed::DEMO_PASSWORD).await;
        let key = "a".repeat(64);
        let reply = client
            .post(
                "/company/orders",
                &[
                    ("request_key", &key),
                    ("quantity", "5"),
                    ("kind", "premium"),
                ],
            )
            .await;
        assert_eq!(reply.location.as_deref(), Some(home), "{email}");
        assert_eq!(
            client.get("/company/orders/new").await.location.as_deref(),
            Some(home)
        );
    }
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(orders, 0);
}

#[tokio::test]
async fn the_operator_reads_every_email_in_the_mailbox_and_nobody_else_can() {
    let (db, app, _) = demo_app().await;
    seatledger::ops::expiry::run_pass(&app.ops, at(NOW))
        .await
        .unwrap();
    let mut operator = Client::new(&app);
    operator
        .sign_in("operator@seatledger.example", seed::DEMO_PASSWORD)
        .await;
    let mailbox = operator.get("/operator/mailbox").await;
    assert_eq!(mailbox.status, StatusCode::OK);
    for subject in [
        "Cobalt Expired Trial: your free trial has expired",
        "Birch Ending Soon: your free trial ends on 28 Nov 2026",
        "Delta Renewal Due: 4 licences expire on 28 Nov 2026",
    ] {
        assert!(mailbox.body.contains(subject), "{subject} missing");
    }
    let id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM outbox WHERE kind = 'trial_expired'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let email = operator.get(&format!("/operator/mailbox/{id}")).await;
    assert!(
        email
            .body
            .contains("Upgrade Now: http://127.0.0.1:8080/landing")
    );
    assert!(email.body.contains("sandbox srcdoc="));

    let mut partner = Client::new(&app);
    partner
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(
        partner
            .get(&format!("/operator/mailbox/{id}"))
            .await
            .location
            .as_deref(),
        Some("/partner")
    );
}
