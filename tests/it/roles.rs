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
    let home = match role {
        Role::PartnerAdmin | Role::AccountManager => "/partner",
        Role::CompanyManager => "/company",
        Role::Learner => "/learner",
        Role::Operator => "/operator",
    };
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

/// The roles DESIGN §10 lets use `path`; `None` for the public routes anyone may use.
fn allowed(path: &str) -> Option<&'static [Role]> {
    use Role::*;
    const PARTNER: &[Role] = &[PartnerAdmin, AccountManager];
    const ADMIN: &[Role] = &[PartnerAdmin];
    Some(if path.starts_with("/operator") {
        &[Operator]
    } else if path.starts_with("/company") {
        &[CompanyManager]
    } else if path.starts_with("/learner") {
        &[Learner]
    } else if path == "/partner/companies/new"
        || path.ends_with("/edit")
        || path.starts_with("/partner/orders/{id}/assign")
        || path.starts_with("/partner/orders/{id}/reject")
        || path.starts_with("/partner/partners/new")
        || path.starts_with("/partner/webhooks")
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
    let mut seen = Vec::new();
    for (role, email) in ROLES {
        let (db, app, _) = demo_app().await;
        let ids = Ids::of(&db, &app).await;
        let mut client = Client::new(&app);
        let signed_in = client.sign_in(email, seed::DEMO_PASSWORD).await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{email}");
        for route in route_table() {
            let path = ids.fill(route.path);
            for method in route.methods {
                let reply = match *method {
                    "GET" => client.get(&path).await,
                    _ => {
                        let before = snapshot(&db).await;
                        let reply = client.post(&path, FIELDS).await;
                        let answer = classify(role, &reply);
                        if answer == Answer::Refused {
                            assert_eq!(snapshot(&db).await, before, "{role:?} {method} {path}");
                        }
                        reply
                    }
                };
                seen.push(format!(
                    "{role:?} {method} {} -> {} {:?}",
                    route.path, reply.status, reply.location
                ));
                let _ = allowed(route.path);
            }
        }
    }
    panic!("{}", seen.join("\n"));
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
