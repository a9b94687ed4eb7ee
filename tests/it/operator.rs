//! The first run and the operator: the set-up link that creates the operator (and `seatledger
//! operator create`), and the operator console — Create Distributor with its first admin,
//! Partners with their seats, Resend invitation, and Settings.

use std::sync::Arc;

use axum::http::StatusCode;
use jiff::SignedDuration;
use seatledger::app::App;
use seatledger::clock::ManualClock;
use seatledger::db::{Db, Scope, instance, seed};
use seatledger::domain::access::SETUP_LINK_LIFETIME;
use seatledger::domain::{Email, Password, PersonName};
use seatledger::ops::operator::{self as operator_ops, OperatorAccount};
use seatledger::ops::partners::NewPartner;
use seatledger::ops::{Conflict, Error};

use crate::cli::{seatledger, stdout};
use crate::on_both_databases;
use crate::support::{TestDb, caller, ops_at, sqlite};
use crate::web::{Client, NOW, demo_app, row_of};

const BASE: &str = "http://127.0.0.1:8080";

/// An instance with an empty database, behind an app on a manual clock.
async fn new_instance() -> (TestDb, App, ManualClock) {
    let db = sqlite().await;
    let clock = ManualClock::at(crate::support::at(NOW));
    let app = App::new(Db::clone(&db), Arc::new(clock.clone()), BASE);
    (db, app, clock)
}

fn path_of(link: &str) -> String {
    link.trim_start_matches(BASE).to_owned()
}

fn token_of(link: &str) -> String {
    link.rsplit('=').next().unwrap().to_owned()
}

const OPERATOR_PASSWORD: &str = "the operator's own password";

/// Fills the set-up form behind `link` for ops@instance.example.
async fn set_up(client: &mut Client, link: &str) -> crate::web::Reply {
    client.get(&path_of(link)).await;
    client
        .post(
            "/setup",
            &[
                ("token", &token_of(link)),
                ("email", "Ops@Instance.example"),
                ("first_name", "Olu"),
                ("last_name", "Operator"),
                ("password", OPERATOR_PASSWORD),
                ("confirm", OPERATOR_PASSWORD),
            ],
        )
        .await
}

#[tokio::test]
async fn a_new_instance_has_a_set_up_link_that_creates_its_operator_once() {
    let (db, app, _) = new_instance().await;
    let link = operator_ops::setup_link(&app.ops).await.unwrap().unwrap();
    assert!(link.starts_with(&format!("{BASE}/setup?token=")), "{link}");
    let spare = operator_ops::setup_link(&app.ops).await.unwrap().unwrap();

    let mut visitor = Client::new(&app);
    let form = visitor.get(&path_of(&link)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<h1>Set up seatledger</h1>"));
    let mismatch = visitor
        .post(
            "/setup",
            &[
                ("token", &token_of(&link)),
                ("email", "not an email"),
                ("password", OPERATOR_PASSWORD),
                ("confirm", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        mismatch
            .body
            .contains("Email: &#34;not an email&#34; is not an email address.")
    );
    assert!(
        mismatch
            .body
            .contains("Confirm password: the two entries differ.")
    );
    assert!(!instance::has_operator(&db).await.unwrap());

    let created = set_up(&mut visitor, &link).await;
    assert_eq!(created.location.as_deref(), Some("/sign-in?password=set"));
    let signed_in = visitor
        .sign_in("ops@instance.example", OPERATOR_PASSWORD)
        .await;
    assert_eq!(signed_in.location.as_deref(), Some("/operator"));
    let console = visitor.get("/operator").await;
    assert!(console.body.contains("<h1>Partners</h1>"));
    assert!(console.body.contains("No partners yet."));

    // The link worked once; every other link died with it, and none is issued any more.
    for used in [&link, &spare] {
        let again = Client::new(&app).get(&path_of(used)).await;
        assert_eq!(again.status, StatusCode::GONE);
        assert!(again.body.contains("This link has already been used."));
        let replay = set_up(&mut Client::new(&app), used).await;
        assert_eq!(replay.status, StatusCode::GONE);
    }
    assert_eq!(operator_ops::setup_link(&app.ops).await.unwrap(), None);
    let operators: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE kind = 'operator'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(operators, 1);
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM setup_tokens WHERE token_hash = $1")
        .bind(token_of(&link))
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0, "only the link's hash is stored");
}

#[tokio::test]
async fn a_set_up_link_works_for_an_hour_and_a_wrong_one_not_at_all() {
    let (_db, app, clock) = new_instance().await;
    let link = operator_ops::setup_link(&app.ops).await.unwrap().unwrap();
    let wrong = format!("{BASE}/setup?token={}", "ab".repeat(32));
    let unknown = Client::new(&app).get(&path_of(&wrong)).await;
    assert_eq!(unknown.status, StatusCode::GONE);
    assert!(unknown.body.contains("This link is not valid."));
    assert!(
        !unknown.body.contains(r#"action="/setup""#),
        "no form for a bad link"
    );

    clock.advance(SETUP_LINK_LIFETIME - SignedDuration::from_secs(1));
    assert_eq!(
        Client::new(&app).get(&path_of(&link)).await.status,
        StatusCode::OK
    );
    clock.advance(SignedDuration::from_secs(1));
    let expired = set_up(&mut Client::new(&app), &link).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains("This link has expired."));
}

on_both_databases!(
    two_set_ups_at_once_create_one_operator,
    operator_create_prints_a_link_and_refuses_a_second_operator,
    the_operator_alone_creates_distributors,
);

async fn two_set_ups_at_once_create_one_operator(db: TestDb) {
    let ops = ops_at(&db, crate::support::t0());
    let mut links = Vec::new();
    for _ in 0..4 {
        links.push(
            operator_ops::setup_link(&ops)
                .await
                .unwrap()
                .expect("no operator yet"),
        );
    }
    let mut tasks = Vec::new();
    for (n, link) in links.into_iter().enumerate() {
        let ops = ops.clone();
        tasks.push(tokio::spawn(async move {
            let account = OperatorAccount {
                email: Email::parse(&format!("ops{n}@instance.example")).unwrap(),
                first_name: PersonName::parse("Olu").unwrap(),
                last_name: PersonName::parse("").unwrap(),
                password: Password::parse(OPERATOR_PASSWORD).unwrap(),
            };
            operator_ops::create_operator(&ops, &token_of(&link), &account).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(Error::Link(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(created >= 1, "the first set-up creates the operator");
    let operators: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE kind = 'operator'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!((created, operators), (1, 1));
}

async fn operator_create_prints_a_link_and_refuses_a_second_operator(db: TestDb) {
    let run = |email: &str| {
        seatledger(
            &db.url,
            &["--public-url", BASE, "operator", "create", "--email", email],
        )
    };
    let created = run("root@instance.example");
    assert!(created.status.success(), "{created:?}");
    let printed = stdout(&created);
    assert!(
        printed.contains("Created the operator root@instance.example."),
        "{printed}"
    );
    let first = printed
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{BASE}/set-password?token=")))
        .unwrap_or_else(|| panic!("a set-password link in {printed}"))
        .to_owned();

    let other = run("someone.else@instance.example");
    assert!(!other.status.success());
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("already has its operator"),
        "{other:?}"
    );

    // The same operator again: a new link, and the first stops working.
    let again = run("root@instance.example");
    assert!(again.status.success(), "{again:?}");
    let second = stdout(&again)
        .split_whitespace()
        .find(|w| w.contains("/set-password?token="))
        .unwrap()
        .to_owned();
    assert_ne!(first, second);
    let app = App::new(
        Db::clone(&db),
        Arc::new(ManualClock::at(jiff::Timestamp::now())),
        BASE,
    );
    let mut operator = Client::new(&app);
    let old = operator.get(&path_of(&first)).await;
    assert!(old.body.contains("This link is not valid."), "{}", old.body);
    operator.get(&path_of(&second)).await;
    let set = operator
        .post(
            "/set-password",
            &[
                ("token", &token_of(&second)),
                ("password", OPERATOR_PASSWORD),
                ("confirm", OPERATOR_PASSWORD),
            ],
        )
        .await;
    assert_eq!(set.location.as_deref(), Some("/sign-in?password=set"));
    let signed_in = operator
        .sign_in("root@instance.example", OPERATOR_PASSWORD)
        .await;
    assert_eq!(signed_in.location.as_deref(), Some("/operator"));
}

fn distributor(name: &str, email: &str) -> NewPartner {
    NewPartner {
        name: seatledger::domain::OrgName::parse(name).unwrap(),
        trial_days: seatledger::domain::TrialDays::new(21).unwrap(),
        admin_first_name: PersonName::parse("Dana").unwrap(),
        admin_last_name: PersonName::parse("Dist").unwrap(),
        admin_email: Email::parse(email).unwrap(),
    }
}

async fn the_operator_alone_creates_distributors(db: TestDb) {
    let ops = ops_at(&db, crate::support::t0());
    let new = distributor("Delta Distribution", "dana@delta-dist.example");
    let operator = caller(&Scope::Operator, seatledger::db::Actor::SYSTEM);
    let partner = operator_ops::create_distributor(&ops, &operator, &new)
        .await
        .unwrap();
    for role in [
        Scope::Partner(partner),
        Scope::Company(seatledger::domain::CompanyId(1)),
    ] {
        let someone = caller(&role, seatledger::db::Actor::SYSTEM);
        let other = distributor("Rogue Distribution", "rogue@rogue.example");
        assert!(matches!(
            operator_ops::create_distributor(&ops, &someone, &other).await,
            Err(Error::Forbidden(_))
        ));
    }
    let same_admin = distributor("Twice Distribution", "dana@delta-dist.example");
    assert!(matches!(
        operator_ops::create_distributor(&ops, &operator, &same_admin).await,
        Err(Error::Conflict(Conflict::EmailInUse))
    ));
    let parents: Vec<Option<i64>> = sqlx::query_scalar("SELECT parent_id FROM partners")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(parents, [None], "one distributor, nothing half-made");
}

/// The demo's operator, signed in.
async fn operator(app: &App) -> Client {
    let mut client = Client::new(app);
    client
        .sign_in("operator@seatledger.example", seed::DEMO_PASSWORD)
        .await;
    client
}

/// The set-password link of the newest welcome email to `recipient`.
async fn welcome_link(db: &TestDb, recipient: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body_text FROM outbox WHERE kind = 'welcome' AND recipient = $1 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(recipient)
    .fetch_one(db.pool())
    .await
    .unwrap();
    body.split_whitespace()
        .find(|w| w.contains("/set-password?token="))
        .expect("a set-password link")
        .to_owned()
}

#[tokio::test]
async fn the_operator_creates_a_distributor_whose_admin_is_invited_and_listed_with_seats() {
    let (db, app, _) = demo_app().await;
    let mut operator = operator(&app).await;
    let partners = operator.get("/operator").await;
    assert_eq!(partners.status, StatusCode::OK);
    // Bluefin IT: 5 customer companies of Northwind's MSP, 12 of 20 seats used, no NFR in use.
    let bluefin = row_of(
        &partners.body,
        r#"<a href="/operator/partners/2">Bluefin IT</a>"#,
    )
    .replace("\n  ", "");
    assert!(
        bluefin.contains("<td>Northwind Distribution</td>"),
        "{bluefin}"
    );
    assert!(bluefin.contains("<td>5</td>"), "{bluefin}");
    assert!(bluefin.contains("<td>6 / 8</td>"), "{bluefin}");
    assert!(bluefin.contains("<td>0 / 10</td>"), "{bluefin}");
    // Its page lists the companies beneath it, its sub-partner's too.
    let detail = operator.get("/operator/partners/2").await.body;
    assert!(row_of(&detail, "Echo Premium").contains("<td>3 / 4</td>"));
    assert!(row_of(&detail, "Fjord Fisheries").contains("<td>Bluefin North</td>"));
    assert!(row_of(&detail, "Bea Bluefin").contains("<td>Active</td>"));

    let form = operator.get("/operator/distributors/new").await;
    assert!(
        form.body
            .contains(r#"name="trial_days" type="number" min="1" max="90" required value="30""#)
    );
    let refused = operator
        .post(
            "/operator/distributors",
            &[("name", ""), ("trial_days", "91"), ("email", "x")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    for message in [
        "Name: this field is required.",
        "Trial length: must be between 1 and 90, not 91.",
        "Admin first name: this field is required.",
        "Admin email: &#34;x&#34; is not an email address.",
    ] {
        assert!(refused.body.contains(message), "{message}");
    }
    let created = operator
        .post(
            "/operator/distributors",
            &[
                ("name", "Kestrel Distribution"),
                ("trial_days", "45"),
                ("first_name", "Kit"),
                ("last_name", "Kestrel"),
                ("email", "kit@kestrel.example"),
            ],
        )
        .await;
    assert_eq!(created.location.as_deref(), Some("/operator?created=true"));
    let listed = operator.get("/operator?created=true").await.body;
    assert!(listed.contains("The distributor was created with its 10 NFR seats"));
    let id: i64 = sqlx::query_scalar("SELECT id FROM partners WHERE name = 'Kestrel Distribution'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let kestrel = row_of(
        &listed,
        &format!(r#"<a href="/operator/partners/{id}">Kestrel Distribution</a>"#),
    )
    .replace("\n  ", "");
    assert!(
        kestrel.contains(
            "<td>Distributor</td><td>45 days</td><td>0</td><td>0 / 0</td><td>0 / 10</td><td>1</td>"
        ),
        "{kestrel}"
    );

    // The admin is invited; the invitation is sent again, and only the new link works.
    let first = welcome_link(&db, "kit@kestrel.example").await;
    let detail = operator.get(&format!("/operator/partners/{id}")).await.body;
    let kit = row_of(&detail, "Kit Kestrel");
    assert!(
        kit.contains("<td>Admin</td>") && kit.contains("Invitation pending"),
        "{kit}"
    );
    let kit_id: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'kit@kestrel.example'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let resent = operator
        .post(&format!("/operator/users/{kit_id}/invitation"), &[])
        .await;
    assert_eq!(
        resent.location,
        Some(format!("/operator/partners/{id}?resent={kit_id}"))
    );
    let second = welcome_link(&db, "kit@kestrel.example").await;
    assert_ne!(first, second);
    let mut kit = Client::new(&app);
    assert!(
        kit.get(&path_of(&first))
            .await
            .body
            .contains("This link is not valid.")
    );
    kit.get(&path_of(&second)).await;
    let set = kit
        .post(
            "/set-password",
            &[
                ("token", &token_of(&second)),
                ("password", "kestrel password"),
                ("confirm", "kestrel password"),
            ],
        )
        .await;
    assert_eq!(set.location.as_deref(), Some("/sign-in?password=set"));
    assert_eq!(
        kit.sign_in("kit@kestrel.example", "kestrel password")
            .await
            .location
            .as_deref(),
        Some("/partner")
    );
    // Accepted: there is nothing to send again.
    let too_late = operator
        .post(&format!("/operator/users/{kit_id}/invitation"), &[])
        .await;
    assert_eq!(too_late.status, StatusCode::CONFLICT);
    assert!(too_late.body.contains("already set a password"));
    let detail = operator.get(&format!("/operator/partners/{id}")).await.body;
    assert!(row_of(&detail, "Kit Kestrel").contains("<td>Active</td>"));
}

#[tokio::test]
async fn the_default_trial_length_is_what_new_distributors_start_with() {
    let (db, app, _) = demo_app().await;
    let mut operator = operator(&app).await;
    let settings = operator.get("/operator/settings").await;
    assert!(settings.body.contains(r#"value="30""#));
    let refused = operator
        .post("/operator/settings", &[("trial_days", "0")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("Default trial length: must be between 1 and 90, not 0.")
    );
    let saved = operator
        .post("/operator/settings", &[("trial_days", "14")])
        .await;
    assert_eq!(
        saved.location.as_deref(),
        Some("/operator/settings?saved=true")
    );
    assert_eq!(instance::trial_days(&db).await.unwrap().get(), 14);
    let form = operator.get("/operator/distributors/new").await;
    assert!(form.body.contains(r#"required value="14""#));

    // Nobody else may read or change the instance's settings.
    let mut partner = Client::new(&app);
    partner
        .sign_in("admin@northwind.example", seed::DEMO_PASSWORD)
        .await;
    let sent_away = partner
        .post("/operator/settings", &[("trial_days", "90")])
        .await;
    assert_eq!(sent_away.location.as_deref(), Some("/partner"));
    assert_eq!(instance::trial_days(&db).await.unwrap().get(), 14);
}
