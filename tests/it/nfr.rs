//! NFR seats: every partner's 10 seats that never expire, on its own internal company, allocated
//! like any seat, replayed by `check`, shown apart from customers.

use axum::http::StatusCode;
use jiff::SignedDuration;
use seatledger::db::companies::{self, CompanyFilter};
use seatledger::db::{Actor, Scope, check, seats};
use seatledger::domain::company::NEVER;
use seatledger::domain::{CompanyId, NotEnoughSeats, PartnerId};
use seatledger::ops::{self, Error};

use crate::on_both_databases;
use crate::support::{TestDb, World, allocate, at, ops_at, release, seat_counts, t0};
use crate::web::{Client, demo_app, row_of};

on_both_databases!(
    every_partner_gets_ten_nfr_seats_that_never_expire_on_its_internal_company,
    nfr_seats_are_allocated_like_any_seat_and_replayed_by_check,
    check_names_a_partner_whose_nfr_seats_are_wrong,
);

async fn internal_company(db: &TestDb, partner: PartnerId) -> CompanyId {
    companies::internal(db, partner, t0()).await.unwrap().id
}

async fn every_partner_gets_ten_nfr_seats_that_never_expire_on_its_internal_company(db: TestDb) {
    let world = World { db: &db };
    let distributor = world.partner(None, "Nfr Distribution").await;
    let msp = world.partner(Some(distributor), "Nfr MSP").await;
    for partner in [distributor, msp] {
        let internal = companies::internal(&db, partner, t0()).await.unwrap();
        assert_eq!((internal.nfr.total, internal.nfr.allocated), (10, 0));
        assert_eq!(internal.bought.total, 0);
        let facts = crate::support::facts(&db, &Scope::Partner(partner), internal.id)
            .await
            .unwrap();
        assert_eq!(facts.licensed_until, Some(NEVER));
        assert_eq!(
            facts.trial_ends_at,
            t0(),
            "an internal company has no trial"
        );
    }
    let nfr: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT expires_at, due_at FROM licence_batches WHERE nfr = 1")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(nfr, vec![(NEVER.as_second(), None); 2]);

    // Centuries later, no pass touches them and they are still there.
    let far = at("2426-03-01T09:00:00Z");
    let pass = ops::expiry::run_pass(&ops_at(&db, far), far).await.unwrap();
    assert_eq!(pass, ops::expiry::PassReport::default());
    let company = internal_company(&db, msp).await;
    let counts = seat_counts(&db, &Scope::Partner(msp), company, far)
        .await
        .unwrap();
    assert_eq!(counts.free(), 10);
    let emails: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(emails, 0);

    // Not customers: the Company section lists neither, even its parent's.
    let customers = companies::list(
        &db,
        &Scope::Partner(distributor),
        &CompanyFilter::default(),
        None,
        50,
        t0(),
    )
    .await
    .unwrap();
    assert!(customers.items.is_empty(), "{:?}", customers.items);
}

async fn nfr_seats_are_allocated_like_any_seat_and_replayed_by_check(db: TestDb) {
    let world = World { db: &db };
    let partner = world.partner(None, "Staff IT").await;
    let internal = internal_company(&db, partner).await;
    let customer = world.company(partner, "Customer Co", t0()).await;
    let staff = world.learners(internal, "staff", 11, t0()).await;
    let buyers = world.learners(customer, "buyer", 1, t0()).await;
    let scope = Scope::Partner(partner);
    let later = t0() + SignedDuration::from_hours(24 * 400);

    let refused = allocate(&db, &scope, internal, &staff, Actor::SYSTEM, t0()).await;
    assert!(matches!(
        refused,
        Err(Error::NoFreeSeats(NotEnoughSeats {
            requested: 11,
            free: 10
        }))
    ));
    allocate(&db, &scope, internal, &staff[..10], Actor::SYSTEM, t0())
        .await
        .unwrap();
    assert!(
        release(&db, &scope, internal, staff[0], Actor::SYSTEM, later)
            .await
            .unwrap()
    );
    allocate(&db, &scope, internal, &staff[10..], Actor::SYSTEM, later)
        .await
        .unwrap();

    // The customer's trial ended; the partner's free NFR seat is not its to take.
    let no_trial = t0() + SignedDuration::from_hours(24 * 31);
    let customers = allocate(&db, &scope, customer, &buyers, Actor::SYSTEM, no_trial).await;
    assert!(
        matches!(
            customers,
            Err(Error::NoFreeSeats(NotEnoughSeats { free: 0, .. }))
        ),
        "{customers:?}"
    );
    let counts = seats::totals(db.pool(), internal, later).await.unwrap();
    assert_eq!((counts.total, counts.allocated), (10, 10));

    let report = check::run(&db).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.partners, 1);
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT e.kind FROM seat_events e JOIN licence_batches b ON b.id = e.batch_id \
         WHERE b.nfr = 1 ORDER BY e.id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(events.len(), 1 + 10 + 1 + 1);
    assert_eq!(events[0], "batch_assigned");
}

async fn check_names_a_partner_whose_nfr_seats_are_wrong(db: TestDb) {
    let world = World { db: &db };
    let partner = world.partner(None, "Tamper IT").await;
    sqlx::query("UPDATE partners SET nfr_seats = 12 WHERE id = $1")
        .bind(partner.0)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE licence_batches SET due_at = 5 WHERE nfr = 1")
        .execute(db.pool())
        .await
        .unwrap();
    let report = check::run(&db).await.unwrap();
    let batch: i64 = sqlx::query_scalar("SELECT id FROM licence_batches WHERE nfr = 1")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(
        report.problems,
        [
            format!("partner {partner} holds 10 NFR seats, not its 12"),
            format!(
                "batch {batch} holds NFR seats but expires, is scheduled, or sits on a customer"
            ),
        ]
    );
}

#[tokio::test]
async fn the_partner_sees_its_own_company_apart_and_its_nfr_seats_never_expire() {
    let (db, app, _) = demo_app().await;
    let mut partner = Client::new(&app);
    partner
        .sign_in("admin@bluefin.example", seatledger::db::seed::DEMO_PASSWORD)
        .await;
    let internal: i64 = sqlx::query_scalar(
        "SELECT c.id FROM companies c JOIN partners p ON p.id = c.partner_id \
         WHERE c.internal = 1 AND p.name = 'Bluefin IT'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    let page = partner.get("/partner").await.body;
    let customers_start = page.find("<h2>Customers</h2>").unwrap();
    let own = &page[page.find(r#"id="internal-company""#).unwrap()..customers_start];
    assert!(own.contains("<strong>Bluefin IT</strong>"), "{own}");
    assert!(
        own.contains("NFR seats: 0 of 10 allocated (they never expire)."),
        "{own}"
    );
    let row = format!(r#"data-company="{internal}""#);
    assert!(!page[customers_start..].contains(&row), "not a customer");
    let filtered = partner.get("/partner?status=premium").await.body;
    assert!(!filtered.contains(&row));
    let sub_partners = partner.get("/partner/partners").await.body;
    assert!(
        sub_partners.contains("<td>Bluefin North</td><td>30 days</td><td>1</td></tr>"),
        "Bluefin North has one customer"
    );

    // Manage your own company: a staff member added now gets an NFR seat, which never expires.
    let manage = partner
        .post(&format!("/partner/companies/{internal}/manage"), &[])
        .await;
    assert_eq!(manage.location.as_deref(), Some("/company"));
    let home = partner.get("/company").await.body;
    assert!(home.contains(r#"<span class="badge internal">Internal</span>"#));
    assert!(home.contains("It holds 10 NFR seats, which never expire."));
    let added = partner
        .post(
            "/company/users",
            &[
                ("first_name", "Sam"),
                ("last_name", "Staff"),
                ("email", "sam@bluefin.example"),
                ("role", "learner"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let users = partner.get("/company/users").await.body;
    assert!(row_of(&users, "Sam Staff").contains("Active, never expires"));
    let licences = partner.get("/company/licenses?tab=available").await.body;
    assert!(
        licences.contains("NFR seats: 1 of 10 allocated, 9 free."),
        "{licences}"
    );
    assert!(!licences.contains("Upgrade to Premium"));
    let batch = &licences[licences.find(r#"<table id="available">"#).unwrap()..];
    assert!(
        batch.contains("<td>NFR</td><td>9</td><td>10</td>"),
        "{batch}"
    );
    assert!(batch.contains("<td>never</td>"), "{batch}");
    partner.post("/manage/exit", &[]).await;
    let page = partner.get("/partner").await.body;
    assert!(page.contains("NFR seats: 1 of 10 allocated"));
}
