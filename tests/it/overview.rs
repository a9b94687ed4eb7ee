//! Licences → Overview, the Admin Dashboard's counts, the charts and the company Overview:
//! storage on both databases, pages and the CSV over HTTP.

use axum::http::{StatusCode, header};
use jiff::{SignedDuration, Timestamp};
use seatledger::db::keyset::Seek;
use seatledger::db::overview::{self, OverviewFilter, OverviewQuery, OverviewSort, OverviewStatus};
use seatledger::db::scope::authorise;
use seatledger::db::{Actor, Db, Scope, licences, seed};
use seatledger::domain::{CompanyId, PartnerId, Role, UserId};
use seatledger::ops::users::Removal;

use crate::on_both_databases;
use crate::support::{TestDb, World, allocate, at, caller, ops_at, t0};
use crate::web::{Client, NOW, demo_app};

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// Partner P with a sub-partner S and a stranger Q; P's companies in every state.
struct Fixture {
    p: PartnerId,
    manager: UserId,
    names: Vec<&'static str>,
}

async fn fixture(db: &Db) -> Fixture {
    let w = World { db };
    let p = w.partner(None, "P").await;
    let s = w.partner(Some(p), "S").await;
    let q = w.partner(None, "Q").await;
    let manager = w
        .user(
            "am@p.example",
            Role::Partner {
                partner: p,
                admin: false,
            },
            None,
            t0(),
        )
        .await;
    // Created at t0 - 40 days: trial over. Premium with 10 seats, 4 used, valid 12 months.
    let big = w.company(p, "Big Premium", t0() - days(40)).await;
    w.batch(big, 10, t0() - days(10)).await;
    let learners = w.learners(big, "b", 6, t0() - days(40)).await;
    allocate(
        db,
        &Scope::Partner(p),
        big,
        &learners[..4],
        Actor::SYSTEM,
        t0() - days(9),
    )
    .await
    .unwrap();
    // Premium whose 5 seats (3 used) end within 30 days, and 2 learners without one.
    let ending = w.company(p, "Ending Co", t0() - days(400)).await;
    w.batch(ending, 5, t0() - days(350)).await;
    let learners = w.learners(ending, "e", 5, t0() - days(400)).await;
    allocate(
        db,
        &Scope::Partner(p),
        ending,
        &learners[..3],
        Actor::SYSTEM,
        t0() - days(349),
    )
    .await
    .unwrap();
    // A trial ending in 3 days, one ending in 20, an expired trial with learners.
    w.company(p, "Alpha Trial", t0() - days(27)).await;
    w.company(s, "Sub Trial", t0() - days(10)).await;
    let gone = w.company(p, "Gone Ltd", t0() - days(50)).await;
    w.learners(gone, "g", 3, t0() - days(50)).await;
    // The stranger's company must never show.
    let stranger = w.company(q, "Stranger Inc", t0() - days(40)).await;
    w.batch(stranger, 99, t0() - days(1)).await;
    sqlx::query("UPDATE companies SET account_manager_id = $1 WHERE id IN ($2, $3)")
        .bind(manager.0)
        .bind(big.0)
        .bind(gone.0)
        .execute(db.pool())
        .await
        .unwrap();
    Fixture {
        p,
        manager,
        names: vec![
            "Alpha Trial",
            "Big Premium",
            "Ending Co",
            "Gone Ltd",
            "Sub Trial",
        ],
    }
}

async fn names(db: &Db, scope: &Scope, query: &OverviewQuery, limit: u32) -> Vec<String> {
    let mut all = Vec::new();
    let mut seek = Seek::First;
    loop {
        let page = overview::page(db, scope, query, &seek, limit, t0())
            .await
            .unwrap();
        all.extend(page.rows.iter().map(|r| r.name.clone()));
        match page.next {
            Some(c) => seek = Seek::After(c),
            None => return all,
        }
    }
}

async fn overview_rows_hold_each_companys_seats_and_the_totals_add_up(db: TestDb) {
    let f = fixture(&db).await;
    let scope = Scope::Partner(f.p);
    let query = OverviewQuery::default();
    let page = overview::page(&db, &scope, &query, &Seek::First, 50, t0())
        .await
        .unwrap();
    let listed: Vec<&str> = page.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        listed, f.names,
        "every company beneath P in name order, no other"
    );
    let row = |name: &str| page.rows.iter().find(|r| r.name == name).unwrap();
    let big = row("Big Premium");
    assert_eq!(
        (big.seats.total, big.seats.allocated, big.seats.available()),
        (10, 4, 6)
    );
    assert_eq!((big.seats.expiring, big.seats.expired_learners), (0, 2));
    let ending = row("Ending Co");
    assert_eq!(
        (ending.seats.expiring, ending.seats.expired_learners),
        (3, 2)
    );
    assert_eq!(
        ending.next_expiry,
        Some(seatledger::domain::company::batch_expires_at(
            t0() - days(350)
        ))
    );
    let trial = row("Alpha Trial");
    assert_eq!(
        trial.seats.expired_learners, 0,
        "nobody is expired on a trial"
    );
    assert_eq!(trial.next_expiry, Some(t0() + days(3)));
    assert_eq!(row("Gone Ltd").seats.expired_learners, 3);
    assert_eq!(row("Gone Ltd").next_expiry, None);

    let totals = overview::totals(&db, &scope, &query.filter, t0())
        .await
        .unwrap();
    assert_eq!(totals.companies, 5);
    assert_eq!(
        totals.seats.total,
        page.rows.iter().map(|r| r.seats.total).sum::<i64>()
    );
    assert_eq!(totals.seats.allocated, 7);
    assert_eq!(totals.seats.expiring, 3);
    assert_eq!(totals.seats.expired_learners, 7);
    assert_eq!(totals.next_expiry, Some(t0() + days(3)));
}

async fn every_column_sorts_both_ways_a_page_at_a_time_and_pages_back(db: TestDb) {
    let f = fixture(&db).await;
    let scope = Scope::Partner(f.p);
    let all = overview::page(
        &db,
        &scope,
        &OverviewQuery::default(),
        &Seek::First,
        50,
        t0(),
    )
    .await
    .unwrap()
    .rows;
    for sort in OverviewSort::ALL {
        for descending in [false, true] {
            let query = OverviewQuery {
                sort,
                descending,
                ..OverviewQuery::default()
            };
            // The expected order, decided here from the rows themselves.
            let mut expected = all.clone();
            let key = |r: &overview::OverviewRow| -> (i64, String) {
                let n = match sort {
                    OverviewSort::Status => match r.status {
                        seatledger::domain::CompanyStatus::FreeTrial { .. } => 0,
                        seatledger::domain::CompanyStatus::Premium { .. } => 1,
                        seatledger::domain::CompanyStatus::Expired { .. } => 2,
                    },
                    OverviewSort::Total => r.seats.total,
                    OverviewSort::Allocated => r.seats.allocated,
                    OverviewSort::Available => r.seats.available(),
                    OverviewSort::Expiring => r.seats.expiring,
                    OverviewSort::ExpiredLearners => r.seats.expired_learners,
                    OverviewSort::NextExpiry => r.next_expiry.map_or(i64::MAX, |t| t.as_second()),
                    _ => 0,
                };
                let text = match sort {
                    OverviewSort::Name => r.name.clone(),
                    OverviewSort::AccountManager => r.account_manager.clone().unwrap_or_default(),
                    _ => String::new(),
                };
                (n, text)
            };
            expected.sort_by_key(|r| (key(r), r.id.0));
            if descending {
                expected.reverse();
            }
            let expected: Vec<String> = expected.into_iter().map(|r| r.name).collect();
            assert_eq!(
                names(&db, &scope, &query, 2).await,
                expected,
                "{sort:?} descending={descending}"
            );
            // From the last page back to the first with Previous.
            let mut seek = Seek::First;
            let mut page = loop {
                let page = overview::page(&db, &scope, &query, &seek, 2, t0())
                    .await
                    .unwrap();
                match page.next {
                    Some(c) => seek = Seek::After(c),
                    None => break page,
                }
            };
            let mut backwards: Vec<String> = page.rows.iter().map(|r| r.name.clone()).collect();
            while let Some(before) = page.previous.clone() {
                page = overview::page(&db, &scope, &query, &Seek::Before(before), 2, t0())
                    .await
                    .unwrap();
                let mut earlier: Vec<String> = page.rows.iter().map(|r| r.name.clone()).collect();
                earlier.extend(backwards);
                backwards = earlier;
            }
            assert_eq!(
                backwards, expected,
                "back: {sort:?} descending={descending}"
            );
        }
    }
}

async fn filters_keep_companies_by_status_and_account_manager(db: TestDb) {
    let f = fixture(&db).await;
    let scope = Scope::Partner(f.p);
    let by = |status, manager| OverviewQuery {
        filter: OverviewFilter {
            status,
            account_manager: manager,
        },
        ..OverviewQuery::default()
    };
    for (status, expected) in [
        (OverviewStatus::FreeTrial, vec!["Alpha Trial", "Sub Trial"]),
        (OverviewStatus::TrialEnding, vec!["Alpha Trial"]),
        (OverviewStatus::Premium, vec!["Big Premium", "Ending Co"]),
        (OverviewStatus::Expiring, vec!["Ending Co"]),
        (OverviewStatus::Expired, vec!["Gone Ltd"]),
        (OverviewStatus::Managed, vec![]),
    ] {
        assert_eq!(
            names(&db, &scope, &by(Some(status), None), 50).await,
            expected,
            "{status:?}"
        );
    }
    assert_eq!(
        names(&db, &scope, &by(None, Some(f.manager)), 50).await,
        ["Big Premium", "Gone Ltd"]
    );
    let counts = overview::dashboard(&db, &scope, f.p, t0()).await.unwrap();
    assert_eq!(
        (
            counts.trials_ending,
            counts.licences_expiring,
            counts.requests_waiting,
            counts.companies_expired
        ),
        (1, 1, 0, 1)
    );
    // Each count is the overview's filter of the same name, which its link opens.
    for (status, counted) in [
        (OverviewStatus::TrialEnding, counts.trials_ending),
        (OverviewStatus::Expiring, counts.licences_expiring),
        (OverviewStatus::Expired, counts.companies_expired),
    ] {
        let filter = by(Some(status), None).filter;
        let totals = overview::totals(&db, &scope, &filter, t0()).await.unwrap();
        assert_eq!(totals.companies, counted, "{status:?}");
    }
}

async fn the_chart_counts_seats_by_month_and_the_ledger_replays_seats_used(db: TestDb) {
    let f = fixture(&db).await;
    let scope = Scope::Partner(f.p);
    let starts: Vec<Timestamp> = (0..=12).map(|m| t0() + days(30 * m)).collect();
    let months = overview::expiring_by_month(&db, &scope, &starts)
        .await
        .unwrap();
    assert_eq!(months.len(), 12);
    assert_eq!(
        months[0].seats, 5,
        "Ending Co's seats end within the first month"
    );
    assert_eq!(months[0].companies, vec![("Ending Co".to_owned(), 5)]);
    let total: i64 = months.iter().map(|m| m.seats).sum();
    assert_eq!(
        total, 15,
        "Big Premium's 10 fall within the year, the stranger's never"
    );

    let big: i64 = sqlx::query_scalar("SELECT id FROM companies WHERE name = 'Big Premium'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let company = authorise(&db, &scope, CompanyId(big)).await.unwrap();
    let history = licences::seat_history(
        &db,
        &company,
        &[t0() - days(20), t0() - days(10), t0() - days(5), t0()],
    )
    .await
    .unwrap();
    let pairs: Vec<(i64, i64)> = history.iter().map(|h| (h.held, h.used)).collect();
    assert_eq!(pairs, [(0, 0), (10, 0), (10, 4), (10, 4)]);

    // A company with two batches ending in one month is named once, with both.
    let w = World { db: &db };
    let ending = CompanyId(id_of(&db, "SELECT id FROM companies WHERE name = 'Ending Co'").await);
    let alpha = CompanyId(id_of(&db, "SELECT id FROM companies WHERE name = 'Alpha Trial'").await);
    w.batch(ending, 2, t0() - days(345)).await;
    w.batch(alpha, 6, t0() - days(340)).await;
    let months = overview::expiring_by_month(&db, &scope, &starts)
        .await
        .unwrap();
    assert_eq!(months[0].seats, 13);
    assert_eq!(
        months[0].companies,
        vec![("Ending Co".to_owned(), 7), ("Alpha Trial".to_owned(), 6)]
    );
    assert_eq!(months[0].other_companies, 0);
}

/// Every row of the unfiltered overview at `now`, read a page at a time.
async fn rows_at(db: &Db, scope: &Scope, now: Timestamp) -> Vec<overview::OverviewRow> {
    let (mut rows, mut seek) = (Vec::new(), Seek::First);
    loop {
        let query = OverviewQuery::default();
        let page = overview::page(db, scope, &query, &seek, 2, now)
            .await
            .unwrap();
        rows.extend(page.rows);
        match page.next {
            Some(c) => seek = Seek::After(c),
            None => return rows,
        }
    }
}

async fn id_of(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

/// The unfiltered totals sum what the database keeps per company and per batch rather than the
/// rows (migration 0023): they must still equal the rows' sums while learners come and go, and
/// at instants past a batch's expiry that the scheduler has not processed yet.
async fn the_totals_row_adds_up_the_rows_as_learners_come_and_go(db: TestDb) {
    let f = fixture(&db).await;
    let scope = Scope::Partner(f.p);
    let big = CompanyId(id_of(&db, "SELECT id FROM companies WHERE name = 'Big Premium'").await);
    let seated = UserId(
        id_of(
            &db,
            &format!("SELECT MIN(id) FROM users WHERE company_id = {}", big.0),
        )
        .await,
    );
    let unseated = UserId(
        id_of(
            &db,
            &format!("SELECT MAX(id) FROM users WHERE company_id = {}", big.0),
        )
        .await,
    );
    let ops = ops_at(&db, t0());
    let caller = caller(&scope, Actor::SYSTEM);
    let company = seatledger::ops::authorise(&ops, &caller, big)
        .await
        .unwrap();
    for (user, removal) in [(seated, Removal::Deactivate), (unseated, Removal::Delete)] {
        seatledger::ops::users::remove(&ops, &caller, &company, user, removal)
            .await
            .unwrap();
    }
    let trial = CompanyId(id_of(&db, "SELECT id FROM companies WHERE name = 'Alpha Trial'").await);
    World { db: &db }.learners(trial, "t", 2, t0()).await;

    // t0 + 20 days: Ending Co's batch has expired, unprocessed. A year on: every batch has.
    for now in [t0(), t0() + days(20), t0() + days(400)] {
        let rows = rows_at(&db, &scope, now).await;
        let sum = |column: fn(&overview::OverviewRow) -> i64| rows.iter().map(column).sum::<i64>();
        let totals = overview::totals(&db, &scope, &OverviewFilter::default(), now)
            .await
            .unwrap();
        assert_eq!(totals.companies, rows.len() as i64, "at {now}");
        assert_eq!(totals.seats.total, sum(|r| r.seats.total), "at {now}");
        assert_eq!(
            totals.seats.allocated,
            sum(|r| r.seats.allocated),
            "at {now}"
        );
        assert_eq!(totals.seats.expiring, sum(|r| r.seats.expiring), "at {now}");
        assert_eq!(
            totals.seats.expired_learners,
            sum(|r| r.seats.expired_learners),
            "at {now}"
        );
        assert_eq!(
            totals.next_expiry,
            rows.iter().filter_map(|r| r.next_expiry).min(),
            "at {now}"
        );
    }
    let big_row = rows_at(&db, &scope, t0()).await;
    let big_row = big_row.iter().find(|r| r.name == "Big Premium").unwrap();
    assert_eq!(
        (big_row.seats.allocated, big_row.seats.expired_learners),
        (3, 1),
        "one seated learner left and gave back a seat; an unseated one was deleted"
    );
    let report = seatledger::db::check::run(&db).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

/// Learners added (each given a free seat) and learners removed (each giving one back) at once,
/// in one company: every request succeeds, as both take the company's count of learners before
/// a batch, and the count and the seats agree afterwards.
async fn learners_added_and_removed_at_once_keep_the_count(db: TestDb) {
    let w = World { db: &db };
    let partner = w.partner(None, "Busy IT").await;
    let company = w.company(partner, "Busy Co", t0() - days(40)).await;
    w.batch(company, 40, t0() - days(1)).await;
    let leaving = w.learners(company, "leaving", 10, t0() - days(1)).await;
    let scope = Scope::Partner(partner);
    allocate(&db, &scope, company, &leaving, Actor::SYSTEM, t0())
        .await
        .unwrap();
    let ops = ops_at(&db, t0());
    let caller = caller(&scope, Actor::SYSTEM);
    let authorised = seatledger::ops::authorise(&ops, &caller, company)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for (i, user) in leaving.into_iter().enumerate() {
        let (leaving_ops, leaving_company) = (ops.clone(), authorised.clone());
        tasks.push(tokio::spawn(async move {
            let removal = if i % 2 == 0 {
                Removal::Deactivate
            } else {
                Removal::Delete
            };
            let (ops, company) = (&leaving_ops, &leaving_company);
            seatledger::ops::users::remove(ops, &caller, company, user, removal).await
        }));
        let (joining_ops, joining_company) = (ops.clone(), authorised.clone());
        tasks.push(tokio::spawn(async move {
            let person = seatledger::ops::users::NewPerson {
                email: seatledger::domain::Email::parse(&format!("joining{i}@busy.example"))
                    .unwrap(),
                first_name: seatledger::domain::PersonName::parse("Joining").unwrap(),
                last_name: seatledger::domain::PersonName::parse(&format!("Learner {i}")).unwrap(),
                department: None,
                manager: false,
                learner: true,
            };
            seatledger::ops::users::add(&joining_ops, &caller, &joining_company, &person)
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let counted: i64 =
        sqlx::query_scalar("SELECT learners FROM company_learners WHERE company_id = $1")
            .bind(company.0)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(counted, 10, "ten left, ten joined");
    let row = rows_at(&db, &scope, t0()).await;
    let row = row.iter().find(|r| r.name == "Busy Co").unwrap();
    assert_eq!(
        (row.seats.allocated, row.seats.expired_learners),
        (10, 0),
        "each newcomer was seated"
    );
    let report = seatledger::db::check::run(&db).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

on_both_databases!(
    learners_added_and_removed_at_once_keep_the_count,
    overview_rows_hold_each_companys_seats_and_the_totals_add_up,
    the_totals_row_adds_up_the_rows_as_learners_come_and_go,
    every_column_sorts_both_ways_a_page_at_a_time_and_pages_back,
    filters_keep_companies_by_status_and_account_manager,
    the_chart_counts_seats_by_month_and_the_ledger_replays_seats_used,
);

/// The overview's table, without the chart above it.
fn table(page: &str) -> &str {
    let start = page
        .find("<table id=\"overview\"")
        .expect("the overview table");
    &page[start..start + page[start..].find("</table>").unwrap()]
}

#[tokio::test]
async fn the_admin_dashboard_counts_link_to_the_lists_they_count() {
    let (_db, app, _) = demo_app().await;
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let home = admin.get("/partner").await;
    for text in [
        "1 trial ending within 7 days",
        "1 company with licences expiring within 30 days",
        "0 requests waiting",
        "1 company expired",
    ] {
        assert!(home.body.contains(text), "{text}");
    }
    let trials = admin
        .get("/partner/licences/overview?status=trial_ending&sort=next_expiry")
        .await;
    assert_eq!(trials.status, StatusCode::OK);
    assert!(table(&trials.body).contains("Birch Ending Soon"));
    assert!(!table(&trials.body).contains("Acme Trial Co"));
    assert!(trials.body.contains("1–1 of 1"));
    let expired = admin.get("/partner/licences/overview?status=expired").await;
    assert!(table(&expired.body).contains("Cobalt Expired Trial"));
    assert!(!table(&expired.body).contains("Echo Premium"));
}

#[tokio::test]
async fn the_overview_sorts_totals_charts_and_exports_spreadsheet_safe_csv() {
    let (db, app, _) = demo_app().await;
    sqlx::query("UPDATE companies SET name = '=HYPERLINK(\"x\")' WHERE name = 'Acme Trial Co'")
        .execute(db.pool())
        .await
        .unwrap();
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let page = admin
        .get("/partner/licences/overview?sort=total&dir=desc")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("aria-sort=\"descending\""));
    let delta = page.body.find("Delta Renewal Due").unwrap();
    let fjord = page.body.find("Fjord Fisheries").unwrap();
    assert!(delta < fjord, "4 seats sort before none");
    assert!(page.body.contains("id=\"overview-totals\""));
    assert!(page.body.contains("Total (6)"));
    assert!(page.body.contains("1–6 of 6"));
    // The chart: one bar per month, each naming its companies, and the figures beside it.
    assert!(page.body.contains("<svg id=\"expiry-chart\""));
    assert!(page.body.contains("Delta Renewal Due (4)"));
    assert!(page.body.contains("id=\"expiry-figures\""));
    assert!(!page.body.contains("<script"));

    let csv = admin.get("/partner/licences/overview.csv?sort=name").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(
        csv.headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert!(lines[0].starts_with("Company,Partner,Status"));
    assert_eq!(lines.len(), 1 + 6 + 1, "header, six companies, totals");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("\"'=HYPERLINK(\"\"x\"\")\"")),
        "{}",
        csv.body
    );
    assert!(lines.last().unwrap().starts_with("Total (6)"));
}

#[tokio::test]
async fn the_company_overview_says_where_it_stands_and_a_trial_never_shows_zero_seats() {
    let (_db, app, _) = demo_app().await;
    let mut echo = Client::new(&app);
    echo.sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    let home = echo.get("/company").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("3 seats used, 1 free."), "{}", home.body);
    assert!(home.body.contains("You hold 4 licences"));
    assert!(home.body.contains("<svg id=\"seat-chart\""));
    assert!(home.body.contains("id=\"latest-activity\"") || home.body.contains("Nothing yet."));
    assert!(home.body.contains("Waiting request"));

    let mut acme = Client::new(&app);
    acme.sign_in("manager@acme.example", seed::DEMO_PASSWORD)
        .await;
    let home = acme.get("/company").await;
    assert!(
        home.body.contains("Free trial: 25 days left"),
        "{}",
        home.body
    );
    assert!(!home.body.contains("0 of 0"));
    assert!(!home.body.contains("seats used"));

    let mut cobalt = Client::new(&app);
    cobalt
        .sign_in("manager@cobalt.example", seed::DEMO_PASSWORD)
        .await;
    let landing = cobalt.get("/landing").await;
    assert!(
        landing
            .body
            .contains("The free trial of Cobalt Expired Trial ended on")
    );
    assert!(landing.body.contains("What Premium gives you"));
    assert!(landing.body.contains("What happens after you ask"));
    let _ = at(NOW);
}
