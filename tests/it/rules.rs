//! Where SQL must mirror a domain rule, the two agree: on random companies and seats, on both
//! databases, the Company section's status filter matches `CompanyFacts::status`, the Expired
//! Licenses list matches `licence_status`, and every count of free seats matches the batches.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use seatledger::db::companies::{self, CompanyFilter, StatusFilter};
use seatledger::db::keyset::Seek;
use seatledger::db::overview::{self, OverviewQuery};
use seatledger::db::scope::{self, AuthorisedCompany};
use seatledger::db::{Actor, Scope, licences, seats};
use seatledger::domain::access::{LicenceStatus, licence_status};
use seatledger::domain::{CompanyId, PartnerId, UserId};
use seatledger::ops::users::Removal;

use crate::support::{TestDb, World, allocate, caller, ops_at, release, t0};

/// What happens to one company, in order.
#[derive(Clone, Debug)]
enum Event {
    Batch(u8),
    Allocate(Vec<usize>),
    Release(usize),
    Deactivate(usize),
    NewLearner,
    Wait(u16),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (1u8..5).prop_map(Event::Batch),
        proptest::collection::vec(0usize..6, 1..4).prop_map(Event::Allocate),
        (0usize..6).prop_map(Event::Release),
        (0usize..6).prop_map(Event::Deactivate),
        Just(Event::NewLearner),
        (1u16..150).prop_map(Event::Wait),
    ]
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// Builds one company from `events`, starting `offset` days after t0; returns when its history
/// ends.
async fn company(
    db: &TestDb,
    partner: PartnerId,
    n: usize,
    offset: u16,
    events: &[Event],
) -> Timestamp {
    let world = World { db };
    let mut now = t0() + days(i64::from(offset));
    let company = world.company(partner, &format!("Company {n}"), now).await;
    let mut learners = world.learners(company, &format!("c{n}l"), 4, now).await;
    let scope = Scope::Company(company);
    for event in events {
        match event {
            Event::Batch(q) => {
                world.batch(company, i64::from(*q), now).await;
            }
            Event::Allocate(picks) => {
                let mut users: Vec<UserId> = picks
                    .iter()
                    .filter_map(|&i| learners.get(i).copied())
                    .collect();
                users.dedup();
                // Refusals (no free seats, a seat already held, a deactivated learner) are part of
                // a random history.
                let _ = allocate(db, &scope, company, &users, Actor::SYSTEM, now).await;
            }
            Event::Release(i) => {
                if let Some(&user) = learners.get(*i) {
                    release(db, &scope, company, user, Actor::SYSTEM, now)
                        .await
                        .unwrap();
                }
            }
            Event::Deactivate(i) => {
                // As the console does it: the learner's seat, if any, returns to its batch.
                if let Some(&user) = learners.get(*i) {
                    let (ops, caller) = (ops_at(db, now), caller(&scope, Actor::SYSTEM));
                    let company = seatledger::ops::authorise(&ops, &caller, company)
                        .await
                        .unwrap();
                    seatledger::ops::users::remove(
                        &ops,
                        &caller,
                        &company,
                        user,
                        Removal::Deactivate,
                    )
                    .await
                    .unwrap();
                }
            }
            Event::NewLearner => {
                let prefix = format!("c{n}late{}x", learners.len());
                learners.extend(world.learners(company, &prefix, 1, now).await);
            }
            Event::Wait(d) => now += days(i64::from(*d)),
        }
    }
    now
}

async fn ids_with_status(
    db: &TestDb,
    partner: PartnerId,
    status: Option<StatusFilter>,
    now: Timestamp,
) -> BTreeSet<CompanyId> {
    let filter = CompanyFilter { status, name: None };
    let page = companies::list(db, &Scope::Partner(partner), &filter, None, 1000, now)
        .await
        .unwrap();
    page.items.into_iter().map(|c| c.id).collect()
}

/// The learners the domain says have no active licence (outside a trial), read one by one.
async fn without_licence_by_domain(
    db: &TestDb,
    company: &AuthorisedCompany,
    now: Timestamp,
) -> BTreeSet<UserId> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE company_id = $1 AND is_learner = 1 ORDER BY id",
    )
    .bind(company.id().0)
    .fetch_all(db.pool())
    .await
    .unwrap();
    let mut without = BTreeSet::new();
    for id in ids {
        let user = seatledger::db::users::access_by_id(db, UserId(id))
            .await
            .unwrap()
            .unwrap();
        let status = licence_status(&user.facts, &company.facts, now);
        let active = matches!(status, LicenceStatus::Active { .. });
        if !user.facts.deactivated && !active && !company.facts.on_trial(now) {
            without.insert(UserId(id));
        }
    }
    without
}

/// The free seats the batches hold at `now`, summed in Rust from the raw rows.
async fn free_seats_by_batches(db: &TestDb, company: CompanyId, now: Timestamp) -> i64 {
    let batches: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT quantity, allocated, expires_at FROM licence_batches WHERE company_id = $1",
    )
    .bind(company.0)
    .fetch_all(db.pool())
    .await
    .unwrap();
    batches
        .into_iter()
        .filter(|&(_, _, expires)| expires > now.as_second())
        .map(|(quantity, allocated, _)| quantity - allocated)
        .sum()
}

/// Every SQL mirror agrees with its domain rule at `now`.
async fn agree_at(db: &TestDb, partner: PartnerId, now: Timestamp) {
    let all = ids_with_status(db, partner, None, now).await;
    let mut facts = Vec::new();
    for &id in &all {
        facts.push(
            scope::authorise(db, &Scope::Partner(partner), id)
                .await
                .unwrap(),
        );
    }
    for filter in [
        StatusFilter::FreeTrial,
        StatusFilter::Premium,
        StatusFilter::Expired,
    ] {
        let by_sql = ids_with_status(db, partner, Some(filter), now).await;
        let by_domain: BTreeSet<CompanyId> = facts
            .iter()
            .filter(|c| filter.matches(c.facts.status(now)))
            .map(AuthorisedCompany::id)
            .collect();
        assert_eq!(by_sql, by_domain, "{filter:?} at {now}");
    }
    let rows = companies::list(
        db,
        &Scope::Partner(partner),
        &CompanyFilter::default(),
        None,
        1000,
        now,
    )
    .await
    .unwrap()
    .items;
    let overview = overview::page(
        db,
        &Scope::Partner(partner),
        &OverviewQuery::default(),
        &Seek::First,
        overview::MAX_PAGE,
        now,
    )
    .await
    .unwrap()
    .rows;
    for company in &facts {
        let by_sql: BTreeSet<UserId> = licences::expired_ids(db, company, now)
            .await
            .unwrap()
            .into_iter()
            .collect();
        let by_domain = without_licence_by_domain(db, company, now).await;
        assert_eq!(
            by_sql,
            by_domain,
            "learners without a licence of {} at {now}",
            company.id()
        );

        let free = free_seats_by_batches(db, company.id(), now).await;
        let totals = seats::totals(db.pool(), company.id(), now).await.unwrap();
        assert_eq!(totals.free(), free, "totals of {} at {now}", company.id());
        let available: i64 = licences::available(db, company, now)
            .await
            .unwrap()
            .iter()
            .map(|b| b.free)
            .sum();
        assert_eq!(
            available,
            free,
            "Available tab of {} at {now}",
            company.id()
        );
        let row = rows.iter().find(|r| r.id == company.id()).unwrap();
        assert_eq!(
            row.seats_total - row.seats_used,
            free,
            "Company section at {now}"
        );
        let counts = licences::counts(db, company, now).await.unwrap();
        assert_eq!(counts.available, free);
        assert_eq!(counts.expired, by_sql.len() as i64);
        // The overview counts them from the stored count of learners less the valid seats.
        let line = overview.iter().find(|r| r.id == company.id()).unwrap();
        let expired = if company.facts.on_trial(now) {
            0
        } else {
            by_domain.len() as i64
        };
        assert_eq!(
            line.seats.expired_learners,
            expired,
            "Licences → Overview of {} at {now}",
            company.id()
        );
    }
}

async fn play(db: TestDb, companies: &[(u16, Vec<Event>)]) {
    let partner = World { db: &db }.partner(None, "Rules IT").await;
    let mut end = t0();
    for (n, (offset, events)) in companies.iter().enumerate() {
        end = end.max(company(&db, partner, n, *offset, events).await);
    }
    // Only after the histories: the stored facts describe the present, not the past. Besides a
    // spread of days, each instant something ends, where `>` and `>=` part ways.
    let endings: Vec<i64> = sqlx::query_scalar(
        "SELECT expires_at FROM licence_batches UNION SELECT trial_ends_at FROM companies",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let mut instants: Vec<Timestamp> = [0, 1, 20, 31, 95, 200, 400, 800]
        .into_iter()
        .map(|d| end + days(d))
        .collect();
    // NFR seats never end: nothing happens at their expiry, and no clock reaches it.
    let never = seatledger::domain::company::NEVER.as_second();
    let ending_later = |&e: &i64| e > end.as_second() && e < never;
    for ending in endings.into_iter().filter(ending_later).take(6) {
        let ending = Timestamp::from_second(ending).unwrap();
        instants.extend([ending - SignedDuration::from_secs(1), ending]);
    }
    for now in instants {
        agree_at(&db, partner, now).await;
    }
}

fn histories() -> impl Strategy<Value = Vec<(u16, Vec<Event>)>> {
    proptest::collection::vec((0u16..60, proptest::collection::vec(event(), 0..12)), 1..4)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn sql_mirrors_agree_with_the_domain_rules_on_sqlite(companies in histories()) {
        runtime().block_on(async { play(crate::support::sqlite().await, &companies).await });
    }
}

#[test]
fn sql_mirrors_agree_with_the_domain_rules_on_postgres() {
    let runtime = runtime();
    if !runtime.block_on(crate::support::postgres_available()) {
        return;
    }
    proptest!(
        ProptestConfig { cases: 12, ..ProptestConfig::default() },
        |(companies in histories())| {
            runtime.block_on(async {
                let db = crate::support::postgres().await.expect("PostgreSQL answered the probe");
                play(db, &companies).await;
            });
        }
    );
}
