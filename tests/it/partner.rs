//! The partner journey over HTTP: manage mode, Upgrade to Premium, Orders → Assign and Reject,
//! Create and Edit Company, filters, sub-partners with their welcome link, and Activity.

use axum::http::StatusCode;
use seatledger::db::seed;

use crate::support::TestDb;
use crate::web::{Client, demo_app, request_key};

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

async fn text(db: &TestDb, sql: &str) -> String {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

async fn partner_admin(app: &seatledger::app::App) -> Client {
    let mut client = Client::new(app);
    client
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    client
}

/// Manage Company → Licenses → Upgrade to Premium → Got It → `quantity` → Save.
async fn upgrade_in_manage_mode(client: &mut Client, company: i64, quantity: &str) {
    let reply = client
        .post(&format!("/partner/companies/{company}/manage"), &[])
        .await;
    assert_eq!(reply.location.as_deref(), Some("/company"));
    let licenses = client.get("/company/licenses").await;
    assert!(
        licenses
            .body
            .contains(r#"href="/company/upgrade">Upgrade to Premium</a>"#)
    );
    let explanation = client.get("/company/upgrade").await;
    assert!(explanation.body.contains("the free trial ends at once"));
    assert!(
        explanation
            .body
            .contains(r#"href="/company/orders/new?upgrade=true">Got It</a>"#)
    );
    let form = client.get("/company/orders/new?upgrade=true").await;
    assert!(form.body.contains("<h1>Upgrade to Premium</h1>"));
    let key = request_key(&form.body);
    let saved = client
        .post(
            "/company/orders",
            &[
                ("request_key", &key),
                ("quantity", quantity),
                ("kind", "premium"),
                ("upgrade", "true"),
            ],
        )
        .await;
    assert!(
        saved
            .location
            .unwrap()
            .starts_with("/company/licenses?requested=")
    );
}

#[tokio::test]
async fn the_partner_upgrades_a_trial_in_manage_mode_and_assigns_it() {
    let (db, app, _) = demo_app().await;
    let acme = scalar(&db, "SELECT id FROM companies WHERE name = 'Acme Trial Co'").await;
    let mut client = partner_admin(&app).await;

    upgrade_in_manage_mode(&mut client, acme, "40").await;
    let dashboard = client.get("/company").await;
    assert!(
        dashboard
            .body
            .contains(r#"<strong id="managed-company">Acme Trial Co</strong>"#)
    );
    assert_eq!(
        client.get("/partner").await.location.as_deref(),
        Some("/company")
    );
    let exit = client.post("/manage/exit", &[]).await;
    assert_eq!(exit.location.as_deref(), Some("/partner"));
    assert!(
        !client
            .get("/partner")
            .await
            .body
            .contains("managed-company")
    );

    let requested = client.get("/partner/licences?tab=requested").await;
    assert!(requested.body.contains("Acme Trial Co"));
    let order = scalar(&db, "SELECT MAX(id) FROM orders").await;
    let assigned = client
        .post(&format!("/partner/orders/{order}/assign"), &[])
        .await;
    assert_eq!(
        assigned.location.as_deref(),
        Some("/partner/licences?tab=requested")
    );
    let list = client.get("/partner?q=acme").await;
    assert!(list.body.contains("Premium"));
    assert!(list.body.contains("0 / 40"));
    assert_eq!(
        text(
            &db,
            "SELECT recipient || ' ' || subject FROM outbox WHERE kind = 'order_assigned'"
        )
        .await,
        "manager@acme.example Acme Trial Co: 40 Premium licences are ready to allocate"
    );

    let activity = client.get("/partner/activity").await;
    assert!(
        activity
            .body
            .contains(&format!("Requested 40 Premium licences (order {order})"))
    );
    assert!(
        activity
            .body
            .contains(&format!("Assigned order {order}: 40 Premium licences"))
    );
    let on_behalf = scalar(
        &db,
        "SELECT COUNT(*) FROM activity a JOIN users u ON u.id = a.actor_user_id \
         WHERE u.email = 'admin@bluefin.example' AND a.on_behalf_of_company_id = a.company_id \
         AND a.action = 'order_requested'",
    )
    .await;
    assert_eq!(
        on_behalf, 1,
        "the request is recorded as the partner user acting for Acme"
    );

    let again = client
        .post(&format!("/partner/orders/{order}/assign"), &[])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("already assigned"));
}

#[tokio::test]
async fn a_rejected_order_emails_the_requester_the_reason() {
    let (db, app, _) = demo_app().await;
    let mut manager = Client::new(&app);
    manager
        .sign_in("manager@cobalt.example", seed::DEMO_PASSWORD)
        .await;
    let key = request_key(&manager.get("/company/orders/new").await.body);
    manager
        .post(
            "/company/orders",
            &[
                ("request_key", &key),
                ("quantity", "12"),
                ("kind", "managed"),
            ],
        )
        .await;
    let order = scalar(&db, "SELECT MAX(id) FROM orders").await;

    let mut partner = partner_admin(&app).await;
    let empty = partner
        .post(
            &format!("/partner/orders/{order}/reject"),
            &[("reason", "  ")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Reason: this field is required."));
    let rejected = partner
        .post(
            &format!("/partner/orders/{order}/reject"),
            &[("reason", "Budget not approved")],
        )
        .await;
    assert_eq!(
        rejected.location.as_deref(),
        Some("/partner/licences?tab=requested")
    );
    assert_eq!(
        text(&db, &format!("SELECT state FROM orders WHERE id = {order}")).await,
        "rejected"
    );
    let (to, body): (String, String) =
        sqlx::query_as("SELECT recipient, body_text FROM outbox WHERE kind = 'order_rejected'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(to, "manager@cobalt.example");
    assert!(body.contains("Reason: Budget not approved"));
    let assign = partner
        .post(&format!("/partner/orders/{order}/assign"), &[])
        .await;
    assert_eq!(assign.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn orders_are_filtered_by_company_type_and_date() {
    let (_db, app, _) = demo_app().await;
    for (manager, kind) in [
        ("manager@acme.example", "premium"),
        ("manager@cobalt.example", "managed"),
    ] {
        let mut client = Client::new(&app);
        client.sign_in(manager, seed::DEMO_PASSWORD).await;
        let key = request_key(&client.get("/company/orders/new").await.body);
        client
            .post(
                "/company/orders",
                &[("request_key", &key), ("quantity", "5"), ("kind", kind)],
            )
            .await;
    }
    let mut partner = partner_admin(&app).await;
    let shown = |body: &str| {
        (
            body.contains("Acme Trial Co"),
            body.contains("Cobalt Expired Trial"),
        )
    };
    assert_eq!(
        shown(&partner.get("/partner/licences").await.body),
        (true, true)
    );
    assert_eq!(
        shown(&partner.get("/partner/licences?company=ACME").await.body),
        (true, false)
    );
    assert_eq!(
        shown(&partner.get("/partner/licences?kind=managed").await.body),
        (false, true)
    );
    assert_eq!(
        shown(
            &partner
                .get("/partner/licences?from=2026-11-26&to=2026-11-26")
                .await
                .body
        ),
        (true, true)
    );
    assert_eq!(
        shown(&partner.get("/partner/licences?from=2026-11-27").await.body),
        (false, false)
    );
    assert_eq!(
        shown(&partner.get("/partner/licences?tab=assigned").await.body),
        (false, false)
    );
}

#[tokio::test]
async fn the_company_section_filters_by_status_and_searches_by_name() {
    let (_db, app, _) = demo_app().await;
    let mut partner = partner_admin(&app).await;
    let names = |body: &str| {
        [
            "Acme Trial Co",
            "Birch Ending Soon",
            "Cobalt Expired Trial",
            "Delta Renewal Due",
            "Echo Premium",
            "Fjord Fisheries",
        ]
        .into_iter()
        .filter(|n| body.contains(n))
        .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&partner.get("/partner?status=expired").await.body),
        ["Cobalt Expired Trial"]
    );
    assert_eq!(
        names(&partner.get("/partner?status=premium").await.body),
        ["Delta Renewal Due", "Echo Premium"]
    );
    assert_eq!(
        names(&partner.get("/partner?status=trial").await.body),
        ["Acme Trial Co", "Birch Ending Soon", "Fjord Fisheries"]
    );
    assert_eq!(
        names(&partner.get("/partner?q=ECHO").await.body),
        ["Echo Premium"]
    );
    assert!(
        partner
            .get("/partner?q=%25")
            .await
            .body
            .contains("No company matches these filters.")
    );
}

#[tokio::test]
async fn create_company_starts_a_trial_or_assigns_licences_and_reports_bad_fields() {
    let (db, app, _) = demo_app().await;
    let mut partner = partner_admin(&app).await;
    let form = partner.get("/partner/companies/new").await;
    assert!(form.body.contains("A free trial of 30 days"));

    let bad = partner
        .post(
            "/partner/companies",
            &[
                ("name", " "),
                ("time_zone", "Mars/Olympus"),
                ("start", "licences"),
                ("kind", "premium"),
                ("quantity", "0"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for error in [
        "Name: this field is required.",
        "Time zone: &#34;Mars/Olympus&#34;",
        "Number of licences: must be between 1 and 100000",
    ] {
        assert!(bad.body.contains(error), "{error} missing: {}", bad.body);
    }
    let before = scalar(&db, "SELECT COUNT(*) FROM companies").await;

    let am = scalar(
        &db,
        "SELECT id FROM users WHERE email = 'am@bluefin.example'",
    )
    .await
    .to_string();
    let trial = partner
        .post(
            "/partner/companies",
            &[
                ("name", "Gamma Trial"),
                ("country", "DE"),
                ("time_zone", "Europe/Berlin"),
                ("account_manager", &am),
                ("start", "trial"),
            ],
        )
        .await;
    assert_eq!(trial.status, StatusCode::SEE_OTHER);
    let licensed = partner
        .post(
            "/partner/companies",
            &[
                ("name", "Kappa Licensed"),
                ("time_zone", "UTC"),
                ("start", "licences"),
                ("kind", "managed"),
                ("quantity", "15"),
            ],
        )
        .await;
    assert_eq!(licensed.status, StatusCode::SEE_OTHER);
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM companies").await,
        before + 2
    );
    let list = partner.get("/partner?q=gamma").await.body;
    assert!(
        list.contains("Free Trial")
            && list.contains("Trial ends 26 Dec 2026")
            && list.contains("Alex Morgan")
    );
    let list = partner.get("/partner?q=kappa").await.body;
    assert!(list.contains("Premium") && list.contains("0 / 15"));

    let stranger = scalar(
        &db,
        "SELECT id FROM users WHERE email = 'admin@northwind.example'",
    )
    .await
    .to_string();
    let foreign_am = partner
        .post(
            "/partner/companies",
            &[
                ("name", "Z"),
                ("time_zone", "UTC"),
                ("account_manager", &stranger),
            ],
        )
        .await;
    assert_eq!(foreign_am.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        foreign_am
            .body
            .contains("Account manager: choose one of the listed options.")
    );
}

#[tokio::test]
async fn edit_company_changes_its_details() {
    let (db, app, _) = demo_app().await;
    let echo = scalar(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    let mut partner = partner_admin(&app).await;
    let form = partner
        .get(&format!("/partner/companies/{echo}/edit"))
        .await;
    assert!(form.body.contains(r#"value="Echo Premium""#));
    let saved = partner
        .post(
            &format!("/partner/companies/{echo}/edit"),
            &[
                ("name", "Echo Holdings"),
                ("country", "IE"),
                ("time_zone", "Europe/Dublin"),
                ("account_manager", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(
        text(
            &db,
            &format!(
                "SELECT name || ' ' || country || ' ' || time_zone FROM companies WHERE id = {echo}"
            )
        )
        .await,
        "Echo Holdings IE Europe/Dublin"
    );
}

#[tokio::test]
async fn a_new_sub_partner_admin_sets_a_password_from_the_welcome_link_once() {
    let (db, app, _) = demo_app().await;
    let mut partner = partner_admin(&app).await;
    let bad = partner
        .post(
            "/partner/partners",
            &[
                ("name", "Reef IT"),
                ("trial_days", "91"),
                ("first_name", "Rae"),
                ("email", "rae@reef"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("Trial length: must be between 1 and 90, not 91.")
    );
    assert!(bad.body.contains("Admin email"));
    let created = partner
        .post(
            "/partner/partners",
            &[
                ("name", "Reef IT"),
                ("trial_days", "14"),
                ("first_name", "Rae"),
                ("last_name", "Reef"),
                ("email", "rae@reef.example"),
            ],
        )
        .await;
    assert_eq!(
        created.location.as_deref(),
        Some("/partner/partners?created=true")
    );
    assert!(
        partner
            .get("/partner/partners")
            .await
            .body
            .contains("<td>Reef IT</td><td>14 days</td>")
    );

    let body = text(
        &db,
        "SELECT body_text FROM outbox WHERE kind = 'welcome' AND recipient = 'rae@reef.example'",
    )
    .await;
    let link = body
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:8080/set-password?token="))
        .expect("a set-password link");
    let path = link.trim_start_matches("http://127.0.0.1:8080");
    let token = path.rsplit('=').next().unwrap().to_owned();

    let mut rae = Client::new(&app);
    assert_eq!(rae.get(path).await.status, StatusCode::OK);
    let short = rae
        .post(
            "/set-password",
            &[
                ("token", &token),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let set = rae
        .post(
            "/set-password",
            &[
                ("token", &token),
                ("password", "a long reef password"),
                ("confirm", "a long reef password"),
            ],
        )
        .await;
    assert_eq!(set.location.as_deref(), Some("/sign-in?password=set"));
    let signed_in = rae
        .sign_in("rae@reef.example", "a long reef password")
        .await;
    assert_eq!(signed_in.location.as_deref(), Some("/partner"));
    let mut other = Client::new(&app);
    assert!(
        other
            .get(path)
            .await
            .body
            .contains("This link has already been used.")
    );
    let again = other
        .post(
            "/set-password",
            &[
                ("token", &token),
                ("password", "another long one"),
                ("confirm", "another long one"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.body.contains("This link has already been used."));
}
