//! Webhooks in the console over HTTP: a partner admin adds an endpoint and sees its secret once,
//! reads the delivery log, redelivers, disables, enables, rotates and deletes; account managers
//! may not; the form names a bad or private URL; the operator has its own endpoints; without a
//! secret key the section says webhooks are off.

use axum::http::StatusCode;
use seatledger::app::App;
use seatledger::db::{Actor, Db, seed};
use seatledger::domain::{CompanyId, Email, PersonName, UserId};
use seatledger::jobs::webhooks::deliver_due;
use seatledger::ops::users::{self, NewPerson};
use seatledger::ops::{self, Caller};
use seatledger::webhooks::client::Sender;

use crate::hooks::settings;
use crate::receiver::Receiver;
use crate::support::{at, caller};
use crate::web::{Client, NOW, demo_app};

async fn id_of(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

/// The text of the element `<tag id="id">` in `page`.
fn element(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id}"));
    let from = start + id.len() + 6;
    page[from..from + page[from..].find('<').unwrap()].to_owned()
}

/// Bluefin IT's admin adds a learner to Acme (a `user.created` event).
async fn add_learner(app: &App, db: &Db, email: &str) {
    let admin = id_of(
        db,
        "SELECT id FROM users WHERE email = 'admin@bluefin.example'",
    )
    .await;
    let acme = id_of(db, "SELECT id FROM companies WHERE name = 'Acme Trial Co'").await;
    let scope = seatledger::db::Scope::Partner(seatledger::domain::PartnerId(
        id_of(
            db,
            "SELECT partner_id FROM users WHERE email = 'admin@bluefin.example'",
        )
        .await,
    ));
    let admin: Caller = caller(&scope, Actor::user(UserId(admin)));
    let company = ops::authorise(&app.ops, &admin, CompanyId(acme))
        .await
        .unwrap();
    let person = NewPerson {
        email: Email::parse(email).unwrap(),
        first_name: PersonName::parse("Nia").unwrap(),
        last_name: PersonName::parse("New").unwrap(),
        department: None,
        manager: false,
        learner: true,
    };
    users::add(&app.ops, &admin, &company, &person)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_partner_admin_adds_an_endpoint_sees_its_secret_once_and_manages_it() {
    let (db, app, _) = demo_app().await;
    let app = app.with_webhooks(settings(true));
    let receiver = Receiver::start().await;
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;

    let empty = admin.get("/partner/webhooks").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("No endpoints yet.") && empty.body.contains("Add Endpoint"));
    let form = admin.get("/partner/webhooks/new").await;
    assert_eq!(
        form.body
            .matches(r#"type="checkbox" name="events""#)
            .count(),
        12
    );

    let url = receiver.url();
    let added = admin
        .post(
            "/partner/webhooks",
            &[
                ("url", &url),
                ("events", "user.created"),
                ("events", "order.requested"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let secret = element(&added.body, "signing-secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let list = admin.get("/partner/webhooks").await;
    assert!(list.body.contains(&url) && list.body.contains("order.requested, user.created"));
    assert!(!list.body.contains(&secret), "the secret is shown once");
    let endpoint = id_of(&db, "SELECT id FROM webhook_endpoints").await;
    let page = format!("/partner/webhooks/{endpoint}");
    assert!(!admin.get(&page).await.body.contains(&secret));
    assert!(
        admin
            .get(&page)
            .await
            .body
            .contains("Nothing has been sent to this endpoint yet.")
    );

    add_learner(&app, &db, "nia@acme.example").await;
    deliver_due(&app.ops, &Sender::new(true), at(NOW))
        .await
        .unwrap();
    let received = receiver.verified(&secret);
    assert_eq!(received.len(), 1);
    let log = admin.get(&page).await.body;
    assert!(
        log.contains("user.created") && log.contains("Delivered"),
        "{log}"
    );
    assert!(
        log.contains(&received[0].id),
        "the log shows the webhook-id"
    );

    let delivery = id_of(&db, "SELECT id FROM webhook_deliveries").await;
    let detail = admin
        .get(&format!("/partner/webhooks/deliveries/{delivery}"))
        .await;
    assert!(detail.body.contains("nia@acme.example") && detail.body.contains("204"));
    let redeliver = format!("/partner/webhooks/deliveries/{delivery}/redeliver");
    let again = admin.post(&redeliver, &[]).await;
    assert_eq!(again.location.as_deref(), Some(&*page));
    assert!(
        admin
            .get(&page)
            .await
            .body
            .contains("The delivery is queued again with the same webhook-id")
    );
    deliver_due(&app.ops, &Sender::new(true), at(NOW))
        .await
        .unwrap();
    let received = receiver.verified(&secret);
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].id, received[1].id);

    admin.post(&format!("{page}/disable"), &[]).await;
    assert!(element(&admin.get(&page).await.body, "endpoint-state").starts_with("Disabled on"));
    admin.post(&format!("{page}/enable"), &[]).await;
    assert_eq!(
        element(&admin.get(&page).await.body, "endpoint-state"),
        "Enabled"
    );
    let rotated = admin.post(&format!("{page}/rotate"), &[]).await;
    let new_secret = element(&rotated.body, "signing-secret");
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    let deleted = admin.post(&format!("{page}/delete"), &[]).await;
    assert_eq!(
        deleted.location.as_deref(),
        Some("/partner/webhooks?deleted=true")
    );
    assert_eq!(admin.get(&page).await.status, StatusCode::NOT_FOUND);
    assert!(
        admin
            .get("/partner/webhooks")
            .await
            .body
            .contains("No endpoints yet.")
    );
}

#[tokio::test]
async fn an_account_manager_may_not_manage_webhooks() {
    let (_db, app, _) = demo_app().await;
    let app = app.with_webhooks(settings(true));
    let mut am = Client::new(&app);
    am.sign_in("am@bluefin.example", seed::DEMO_PASSWORD).await;
    for reply in [
        am.get("/partner/webhooks").await,
        am.get("/partner/webhooks/new").await,
        am.post(
            "/partner/webhooks",
            &[
                ("url", "https://hooks.example.com/x"),
                ("events", "user.created"),
            ],
        )
        .await,
    ] {
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(
            reply.body.contains("Only your partner&#39;s admins"),
            "{}",
            reply.body
        );
    }
}

#[tokio::test]
async fn the_form_names_a_malformed_or_private_url_and_missing_events() {
    let (db, app, _) = demo_app().await;
    let app = app.with_webhooks(settings(false));
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let cases: [(&str, Option<&str>, &str); 4] = [
        (
            "http://127.0.0.1:9/hooks",
            Some("user.created"),
            "URL: 127.0.0.1 is a loopback address",
        ),
        (
            "http://169.254.169.254/x",
            Some("user.created"),
            "is a link-local address",
        ),
        (
            "ftp://hooks.example.com/x",
            Some("user.created"),
            "is not an http:// or https:// address",
        ),
        (
            "https://hooks.example.com/x",
            None,
            "Events: this field is required.",
        ),
    ];
    for (url, event, message) in cases {
        let mut fields = vec![("url", url)];
        fields.extend(event.map(|e| ("events", e)));
        let reply = admin.post("/partner/webhooks", &fields).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert!(reply.body.contains(message), "{url}: {}", reply.body);
        assert!(
            reply.body.contains(&format!(r#"value="{url}""#)),
            "the URL is kept"
        );
    }
    let unknown = admin
        .post(
            "/partner/webhooks",
            &[
                ("url", "https://hooks.example.com/x"),
                ("events", "order.shipped"),
            ],
        )
        .await;
    assert!(
        unknown
            .body
            .contains("Events: &#34;order.shipped&#34; is not one of"),
        "{}",
        unknown.body
    );
    assert_eq!(
        id_of(&db, "SELECT COUNT(*) FROM webhook_endpoints").await,
        0
    );
}

#[tokio::test]
async fn the_operator_has_its_own_endpoints_that_partners_cannot_see() {
    let (db, app, _) = demo_app().await;
    let app = app.with_webhooks(settings(true));
    let receiver = Receiver::start().await;
    let mut operator = Client::new(&app);
    operator
        .sign_in("operator@seatledger.example", seed::DEMO_PASSWORD)
        .await;
    let page = operator.get("/operator/webhooks").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"href="/operator/webhooks" aria-current="page""#)
    );
    let added = operator
        .post(
            "/operator/webhooks",
            &[("url", &receiver.url()), ("events", "user.created")],
        )
        .await;
    let secret = element(&added.body, "signing-secret");
    let endpoint = id_of(
        &db,
        "SELECT id FROM webhook_endpoints WHERE partner_id IS NULL",
    )
    .await;
    assert_eq!(
        operator
            .get(&format!("/operator/webhooks/{endpoint}"))
            .await
            .status,
        StatusCode::OK
    );

    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    assert_eq!(
        admin
            .get(&format!("/partner/webhooks/{endpoint}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !admin
            .get("/partner/webhooks")
            .await
            .body
            .contains(&receiver.url())
    );
    // A partner user asking for the operator's pages is sent to its own area.
    assert_eq!(
        admin.get("/operator/webhooks").await.location.as_deref(),
        Some("/partner")
    );

    add_learner(&app, &db, "nia@acme.example").await;
    deliver_due(&app.ops, &Sender::new(true), at(NOW))
        .await
        .unwrap();
    assert_eq!(
        receiver.verified(&secret).len(),
        1,
        "the operator hears every company"
    );
}

#[tokio::test]
async fn without_a_secret_key_the_section_says_webhooks_are_off() {
    let (_db, app, _) = demo_app().await;
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let page = admin.get("/partner/webhooks").await;
    assert!(page.body.contains(r#"id="webhooks-off""#) && !page.body.contains("Add Endpoint"));
    let refused = admin
        .post(
            "/partner/webhooks",
            &[
                ("url", "https://hooks.example.com/x"),
                ("events", "user.created"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.body.contains("SEATLEDGER_SECRET_KEY"));
}
