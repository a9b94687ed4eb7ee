//! Three application instances on one database, as behind a load balancer: each email and each
//! webhook is delivered once, allocations through different instances never oversell, and a
//! renewal applied through one is seen by the others at once (nothing is kept in one instance's
//! memory that another needs).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use seatledger::app::{self, Config, Running};
use seatledger::clock::ManualClock;
use seatledger::db::Actor;
use seatledger::email::transport::Transport;
use seatledger::jobs::Intervals;

use crate::hooks::{register, settings};
use crate::licences::{active_seats, echo_manager, echo_with_250_expired};
use crate::on_both_databases;
use crate::receiver::Receiver;
use crate::smtp::SmtpSink;
use crate::support::{TestDb, at, caller};
use crate::web::{Client, NOW, demo_app_on};

on_both_databases!(three_instances_on_one_database_deliver_once_never_oversell_and_agree);

async fn start(db: &TestDb, clock: &ManualClock, sink: &SmtpSink) -> Running {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: Some("http://127.0.0.1:8080".into()),
        transport: Transport::new(Some(&sink.url()), "seatledger <s@localhost>").unwrap(),
        webhooks: settings(true),
        background: Some(Intervals {
            pass: Duration::from_millis(40),
            delivery: Duration::from_millis(40),
        }),
        metrics: Default::default(),
        trust_forwarded_for: false,
    };
    app::start(
        db.db.clone(),
        Arc::new(clock.clone()),
        config,
        std::future::pending(),
    )
    .await
    .unwrap()
}

async fn waiting(db: &TestDb) -> (i64, i64) {
    let emails = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let hooks =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    (emails, hooks)
}

async fn three_instances_on_one_database_deliver_once_never_oversell_and_agree(db: TestDb) {
    let (db, _, clock) = demo_app_on(db).await;
    let company = echo_with_250_expired(&db, 10).await;
    let seats_before = active_seats(&db, company).await;
    let sink = SmtpSink::start().await;
    let receiver = Receiver::start().await;
    let instances = [
        start(&db, &clock, &sink).await,
        start(&db, &clock, &sink).await,
        start(&db, &clock, &sink).await,
    ];
    let operator: i64 = sqlx::query_scalar("SELECT id FROM users WHERE kind = 'operator'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let operator = caller(
        &seatledger::db::Scope::Operator,
        Actor::user(seatledger::domain::UserId(operator)),
    );
    let endpoint = register(
        &instances[0].app.ops,
        &operator,
        &receiver.url(),
        &["seats.allocated"],
    )
    .await;

    // 30 learners, 10 free seats: one request per learner, spread over the three instances
    // and sent at once, each by the same manager's session.
    let signed_in = echo_manager(&instances[0].app).await;
    let learners: Vec<i64> = sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN companies c ON c.id = u.company_id \
         WHERE c.name = 'Echo Premium' AND u.email LIKE 'extra%' ORDER BY u.id LIMIT 30",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let requests: Vec<_> = learners
        .iter()
        .enumerate()
        .map(|(i, learner)| {
            let mut client = Client::new(&instances[i % 3].app);
            client.cookies = signed_in.cookies.clone();
            let learner = learner.to_string();
            tokio::spawn(async move {
                client
                    .post("/company/licenses/allocate", &[("user", &learner)])
                    .await
                    .status
            })
        })
        .collect();
    let mut allocated = 0;
    for request in requests {
        match request.await.unwrap() {
            StatusCode::SEE_OTHER => allocated += 1,
            StatusCode::CONFLICT => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(allocated, 10, "exactly the free seats, whichever instance");
    assert_eq!(active_seats(&db, company).await, seats_before + 10);

    // A renewal through the second instance is on the third's page at once.
    let renewed: Vec<String> = sqlx::query_scalar(
        "SELECT u.email FROM users u JOIN companies c ON c.id = u.company_id \
         WHERE c.name = 'Echo Premium' AND u.email LIKE 'extra%' \
           AND NOT EXISTS (SELECT 1 FROM seats s WHERE s.user_id = u.id AND s.ended_at IS NULL) \
         ORDER BY u.id LIMIT 5",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    crate::support::World { db: &db }
        .batch(company, 5, at(NOW))
        .await;
    let mut second = Client::new(&instances[1].app);
    second.cookies = signed_in.cookies.clone();
    let file = format!("Email\r\n{}\r\n", renewed.join("\r\n"));
    second.get("/company/licenses/renewal").await;
    let uploaded = second
        .upload("/company/licenses/renewal", "renew.csv", file.as_bytes())
        .await;
    let preview = uploaded.location.expect("the preview");
    let applied = second.post(&preview, &[("column", "0")]).await;
    assert_eq!(
        applied.location.as_deref(),
        Some("/company/licenses?tab=allocated&renewed=5"),
        "{}",
        applied.body
    );
    let seats = active_seats(&db, company).await;
    assert_eq!(seats, seats_before + 15);
    let mut third = Client::new(&instances[2].app);
    third.cookies = signed_in.cookies.clone();
    let page = third.get("/company/licenses?tab=allocated").await;
    assert!(
        page.body.contains(&format!("Allocated ({seats})")),
        "{}",
        page.body
    );
    assert!(seats < 50, "the first page lists them all");
    for email in &renewed {
        assert!(page.body.contains(email.as_str()), "{email}");
    }

    // The instances' workers empty both outboxes between them (bounded wait).
    for _ in 0..500 {
        if waiting(&db).await == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(waiting(&db).await, (0, 0));
    for running in instances {
        running.stop().await.unwrap();
    }
    let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let messages = sink.messages();
    let ids: HashSet<String> = messages
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert!(
        sent > 0,
        "the instances' passes queued the demo's due emails"
    );
    assert_eq!((messages.len(), ids.len()), (sent as usize, sent as usize));

    let delivered: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let hooks = receiver.verified(&endpoint.secret);
    let hook_ids: HashSet<&str> = hooks.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(delivered, 10 + 1, "ten allocations and one renewal");
    assert_eq!(
        (hooks.len(), hook_ids.len()),
        (delivered as usize, delivered as usize)
    );
    assert!(seatledger::db::check::run(&db).await.unwrap().is_clean());
}
