//! DESIGN §10 over HTTP: every route of the router's own table, asked by each role — partner
//! admin, account manager, company manager, learner, operator — with objects the caller's
//! partner owns, so only the role decides. What a role may not do is refused (403, or sent to
//! its own area) and changes nothing; what it may see answers.

use axum::http::StatusCode;
use seatledger::db::seed;
use seatledger::web::route_table;

use crate::isolation::{bluefin_webhook, id_of, order, snapshot};
use crate::support::TestDb;
use crate::web::{Client, Reply, demo_app};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    PartnerAdmin,
    AccountManager,
    CompanyManager,
    Learner,
    Operator,
}

const ROLES: [(Role, &str); 5] = [
    (Role::PartnerAdmin, "admin@bluefin.example"),
    (Role::AccountManager, "am@bluefin.example"),
    (Role::CompanyManager, "manager@echo.example"),
    (Role::Learner, "learner1@echo.example"),
    (Role::Operator, "operator@seatledger.example"),
];

/// What an answer says about the caller's rights.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// The page, a form's errors, or the change's redirect within the caller's own area.
    Answered,
    /// 403, 404, or sent to another area (their own home, or to sign in).
    Refused,
}

fn classify(role: Role, reply: &Reply) -> Answer {
    let home = home(role);
    match reply.status {
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Answer::Refused,
        s if s.is_redirection() => {
            let to = reply.location.as_deref().unwrap_or("");
            if to == home || to.starts_with("/sign-in") || to == "/landing" {
                Answer::Refused
            } else {
                Answer::Answered
            }
        }
        _ => Answer::Answered,
    }
}

/// The roles DESIGN §10 lets send `method` to `path`; `None` for the public routes anyone may
/// use. Creating or editing companies, deciding orders, sub-partners, webhook endpoints and the
/// partner's Settings are the partner admin's; the rest of the partner area is every partner user's.
fn allowed(path: &str, method: &str) -> Option<&'static [Role]> {
    use Role::*;
    const PARTNER: &[Role] = &[PartnerAdmin, AccountManager];
    const ADMIN: &[Role] = &[PartnerAdmin];
    let creates = method == "POST" && matches!(path, "/partner/companies" | "/partner/partners");
    Some(if path.starts_with("/operator") {
        &[Operator]
    } else if path.starts_with("/company") {
        &[CompanyManager]
    } else if path.starts_with("/learner") {
        &[Learner]
    } else if creates
        || path == "/partner/companies/new"
        || path == "/partner/partners/new"
        || path == "/partner/settings"
        || path.ends_with("/edit")
        || path.starts_with("/partner/orders/{id}/assign")
        || path.starts_with("/partner/orders/{id}/reject")
        || path.starts_with("/partner/webhooks")
        || path.starts_with("/partner/api-keys")
    {
        ADMIN
    } else if path.starts_with("/partner") || path == "/manage/exit" {
        PARTNER
    } else {
        return None;
    })
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_roles_table_says() {
    let mut checked = 0;
    for (role, email) in ROLES {
        // A fresh world per role: what one role may change cannot hide another's refusal.
        let (db, app, _) = demo_app().await;
        let ids = Ids::of(&db, &app).await;
        let mut client = Client::new(&app);
        let signed_in = client.sign_in(email, seed::DEMO_PASSWORD).await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{email}");
        for route in route_table() {
            let path = ids.fill(route.path);
            for method in route.methods {
                let Some(allowed) = allowed(route.path, method) else {
                    continue;
                };
                let may = allowed.contains(&role);
                let before = snapshot(&db).await;
                let reply = match *method {
                    "GET" => client.get(&path).await,
                    _ => client.post(&path, FIELDS).await,
                };
                let what = format!(
                    "{role:?} {method} {path}: {} {:?}",
                    reply.status, reply.location
                );
                if may {
                    // Let in: the page, the form's errors or the change (a made-up id may be
                    // another kind's, so 404 says nothing about rights).
                    assert_ne!(reply.status, StatusCode::FORBIDDEN, "{what}");
                    let sent_home = reply.location.as_deref() == Some(home(role));
                    assert!(!sent_home || path == "/manage/exit", "{what}");
                } else {
                    assert_eq!(classify(role, &reply), Answer::Refused, "{what}");
                    assert!(
                        reply.status == StatusCode::FORBIDDEN
                            || reply.location.as_deref() == Some(home(role)),
                        "{what}"
                    );
                    assert_eq!(snapshot(&db).await, before, "{what} changed something");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 5 * 60, "only {checked} requests were checked");
}

#[tokio::test]
async fn an_account_manager_creates_no_sub_partner_company_or_endpoint_and_decides_no_order() {
    let (db, app, _) = demo_app().await;
    let ids = Ids::of(&db, &app).await;
    let mut am = Client::new(&app);
    am.sign_in("am@bluefin.example", seed::DEMO_PASSWORD).await;
    am.get("/partner").await;
    let before = snapshot(&db).await;
    let company = [
        ("name", "Seats Without Order Ltd"),
        ("country", "GB"),
        ("time_zone", "UTC"),
        ("account_manager", ""),
        ("start", "premium"),
        ("kind", "premium"),
        ("quantity", "100000"),
    ];
    let sub_partner = [
        ("name", "Outside Reseller"),
        ("trial_days", "30"),
        ("first_name", "Out"),
        ("last_name", "Sider"),
        ("email", "outsider@elsewhere.example"),
    ];
    let endpoint = [
        ("url", "https://hooks.elsewhere.example/x"),
        ("events", "user.created"),
    ];
    for (path, fields) in [
        ("/partner/companies".to_owned(), &company[..]),
        (
            format!("/partner/companies/{}/edit", ids.company),
            &company[..],
        ),
        ("/partner/partners".to_owned(), &sub_partner[..]),
        ("/partner/webhooks".to_owned(), &endpoint[..]),
        (format!("/partner/orders/{}/assign", ids.order), &[][..]),
        (
            format!("/partner/orders/{}/reject", ids.order),
            &[("reason", "no")][..],
        ),
    ] {
        let refused = am.post(&path, fields).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            refused.body
        );
        assert!(
            refused.body.contains("Only your partner&#39;s admins")
                || refused.body.contains("Only your partner's admins"),
            "{path}: {}",
            refused.body
        );
    }
    for path in [
        "/partner/companies/new",
        "/partner/partners/new",
        "/partner/webhooks/new",
    ] {
        assert_eq!(am.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(snapshot(&db).await, before);
    let partners: i64 = id_of(
        &db,
        "SELECT COUNT(*) FROM partners WHERE name = 'Outside Reseller'",
    )
    .await;
    assert_eq!(partners, 0);
}

fn home(role: Role) -> &'static str {
    match role {
        Role::PartnerAdmin | Role::AccountManager => "/partner",
        Role::CompanyManager => "/company",
        Role::Learner => "/learner",
        Role::Operator => "/operator",
    }
}

/// Plausible form fields for any POST route, so a refusal is about the role, not the form.
const FIELDS: &[(&str, &str)] = &[
    ("name", "Taken Over Ltd"),
    ("country", "GB"),
    ("time_zone", "UTC"),
    ("account_manager", ""),
    ("reason", "not yours"),
    ("quantity", "100000"),
    ("kind", "premium"),
    ("email", "outsider@elsewhere.example"),
    ("first_name", "Out"),
    ("last_name", "Sider"),
    ("column", "0"),
    ("trial_days", "30"),
    ("url", "https://hooks.elsewhere.example/x"),
    ("events", "user.created"),
];

/// Objects of Bluefin IT and its company Echo Premium for the routes' `{id}`.
struct Ids {
    company: i64,
    order: i64,
    user: i64,
    upload: i64,
    endpoint: i64,
    delivery: i64,
    partner: i64,
    outbox: i64,
}

impl Ids {
    async fn of(db: &TestDb, app: &seatledger::app::App) -> Self {
        let mut manager = Client::new(app);
        manager
            .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
            .await;
        order(&mut manager).await;
        let company = id_of(db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
        let (endpoint, delivery) = bluefin_webhook(db, company).await;
        manager.get("/company/licenses/renewal").await;
        let upload = manager
            .upload(
                "/company/licenses/renewal",
                "f.csv",
                b"email\nlearner4@echo.example\n",
            )
            .await;
        let upload: i64 = upload
            .location
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Self {
            company,
            order: id_of(db, "SELECT MAX(id) FROM orders").await,
            user: id_of(
                db,
                "SELECT id FROM users WHERE email = 'learner5@echo.example'",
            )
            .await,
            upload,
            endpoint,
            delivery,
            partner: id_of(db, "SELECT id FROM partners WHERE name = 'Bluefin IT'").await,
            outbox: id_of(db, "SELECT MIN(id) FROM outbox").await,
        }
    }

    fn fill(&self, path: &str) -> String {
        let id = if path.starts_with("/partner/companies/") {
            self.company
        } else if path.contains("/orders/") {
            self.order
        } else if path.starts_with("/company/users/import/")
            || path.starts_with("/company/licenses/renewal/")
        {
            self.upload
        } else if path.starts_with("/company/users/") || path.starts_with("/operator/users/") {
            self.user
        } else if path.contains("/webhooks/deliveries/") {
            self.delivery
        } else if path.contains("/webhooks/") {
            self.endpoint
        } else if path.starts_with("/operator/partners/") {
            self.partner
        } else if path.starts_with("/operator/mailbox/") {
            self.outbox
        } else {
            0
        };
        path.replace("{id}", &id.to_string())
    }
}

crate::on_both_databases!(a_managed_companys_managers_only_look_on_every_company_route);

/// A Managed order has effect (DESIGN §10): its batch and the company record the kind, and the
/// company's managers may look at every company page but change nothing, by any route.
async fn a_managed_companys_managers_only_look_on_every_company_route(db: TestDb) {
    use seatledger::db::uploads::{NewUpload, Purpose, store};
    use seatledger::domain::CompanyId;
    use seatledger::imports::csv_table::read;

    let (db, app, _) = crate::web::demo_app_on(db).await;
    let acme = id_of(&db, "SELECT id FROM companies WHERE name = 'Acme Trial Co'").await;
    let mut partner = Client::new(&app);
    partner
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    partner.get("/partner").await;
    partner
        .post(&format!("/partner/companies/{acme}/manage"), &[])
        .await;
    let key = crate::web::request_key(&partner.get("/company/orders/new").await.body);
    let requested = partner
        .post(
            "/company/orders",
            &[
                ("request_key", &key),
                ("quantity", "6"),
                ("kind", "managed"),
            ],
        )
        .await;
    assert_eq!(requested.status, StatusCode::SEE_OTHER);
    partner.post("/manage/exit", &[]).await;
    let order = id_of(&db, "SELECT MAX(id) FROM orders").await;
    partner
        .post(&format!("/partner/orders/{order}/assign"), &[])
        .await;
    let (kind, expires, managed_until): (String, i64, Option<i64>) = sqlx::query_as(
        "SELECT b.kind, b.expires_at, c.managed_until FROM licence_batches b \
         JOIN companies c ON c.id = b.company_id WHERE b.order_id = $1",
    )
    .bind(order)
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!((kind.as_str(), managed_until), ("managed", Some(expires)));

    let parsed = read(b"email\nlearner1@acme.example\n").unwrap().to_bytes();
    let upload = NewUpload {
        company: CompanyId(acme),
        purpose: Purpose::Renewal,
        file_name: "acme.csv",
        parsed: &parsed,
        encoding: "utf-8",
        by: None,
    };
    let now = crate::support::at(crate::web::NOW);
    let renewal = store(&db, &upload, u64::MAX, now).await.unwrap().unwrap().0;
    let users = NewUpload {
        purpose: Purpose::Users,
        ..upload
    };
    let users = store(&db, &users, u64::MAX, now).await.unwrap().unwrap().0;
    let learner = id_of(
        &db,
        "SELECT id FROM users WHERE email = 'learner1@acme.example'",
    )
    .await;
    let mut manager = Client::new(&app);
    manager
        .sign_in("manager@acme.example", seed::DEMO_PASSWORD)
        .await;
    manager.get("/company").await;
    let mut refused = 0;
    for route in route_table()
        .into_iter()
        .filter(|r| r.path.starts_with("/company"))
    {
        let id = if route.path.contains("/orders/") {
            order
        } else if route.path.contains("/users/import/") {
            users
        } else if route.path.contains("/renewal/") {
            renewal
        } else {
            learner
        };
        let path = route.path.replace("{id}", &id.to_string());
        for method in route.methods.iter().filter(|m| **m == "POST") {
            let before = snapshot(&db).await;
            let reply = if matches!(
                route.path,
                "/company/users/import" | "/company/licenses/renewal"
            ) {
                manager
                    .upload(&path, "f.csv", b"email\nnew@acme.example\n")
                    .await
            } else {
                manager.post(&path, FIELDS).await
            };
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
            assert!(
                reply.body.contains("Your partner manages this company"),
                "{path}"
            );
            assert_eq!(
                snapshot(&db).await,
                before,
                "{method} {path} changed something"
            );
            refused += 1;
        }
    }
    assert!(refused >= 10, "only {refused} changes were tried");
    for page in ["/company", "/company/users", "/company/licenses"] {
        assert_eq!(manager.get(page).await.status, StatusCode::OK, "{page}");
    }
}
