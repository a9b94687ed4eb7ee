//! `seatledger serve` stopped by SIGTERM in the middle of a delivery round: it exits 0, the email
//! it was sending is recorded once, the rest of its lease is handed back, and the next round
//! delivers every remaining email once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use seatledger::db::outbox::{self, NewEmail};
use seatledger::email::RenderedEmail;
use seatledger::email::transport::Transport;
use seatledger::jobs::delivery::deliver_due;

use crate::on_both_databases;
use crate::smtp::SmtpSink;
use crate::support::{TestDb, at};

const EMAILS: usize = 40;

on_both_databases!(sigterm_during_a_delivery_round_loses_nothing_and_doubles_nothing);

async fn sigterm_during_a_delivery_round_loses_nothing_and_doubles_nothing(db: TestDb) {
    let now = at("2026-11-26T09:00:00Z");
    let mut tx = db.begin_write().await.unwrap();
    for i in 0..EMAILS {
        let email = NewEmail {
            idempotency_key: format!("shutdown-test:{i}"),
            kind: "test",
            company: None,
            recipient: &format!("person{i}@example.com"),
            email: RenderedEmail {
                subject: format!("Email {i}"),
                text: "text".into(),
                html: "<p>html</p>".into(),
            },
        };
        outbox::queue(&mut tx, &email, now).await.unwrap();
    }
    tx.commit().await.unwrap();
    // Each email takes the relay 100 ms: the round is still going when the signal comes.
    let sink = SmtpSink::start_paced(Duration::from_millis(100)).await;
    let mut serve = Command::new(env!("CARGO_BIN_EXE_seatledger"))
        .args(["--database", &db.url, "--smtp-url", &sink.url()])
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--delivery-interval",
            "1",
        ])
        .args(["--pass-interval", "3600", "--now", "2026-11-26T09:00:00Z"])
        .env("SEATLEDGER_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(serve.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("is serving on") {
        line.clear();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "serve ended early");
    }
    // Wait (bounded) until the round is under way.
    for _ in 0..200 {
        if sink.messages().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let before = sink.messages().len();
    assert!(
        (3..EMAILS).contains(&before),
        "{before} sent before the signal"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exited = tokio::task::spawn_blocking(move || serve.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let log = String::from_utf8_lossy(&exited.stderr);
    assert!(exited.status.success(), "{:?}: {log}", exited.status);
    assert!(log.contains("stopped"), "{log}");

    let received = sink.messages().len();
    assert!(received < EMAILS, "the round was cut short: {received}");
    let rows: Vec<(String, i64, Option<i64>, String)> =
        sqlx::query_as("SELECT status, attempts, leased_until, message_id FROM outbox ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let sent = rows.iter().filter(|r| r.0 == "sent").count();
    assert_eq!(
        sent, received,
        "every email the relay took is recorded as sent"
    );
    for (status, attempts, leased_until, _) in &rows {
        if status == "pending" {
            assert_eq!(*leased_until, None, "handed back, not left leased");
            assert_eq!(*attempts, 0, "a handed-back email's attempt is not counted");
        }
    }

    // The next round (any instance) sends the rest: each email reaches the relay exactly once.
    let transport = Transport::new(Some(&sink.url()), "seatledger <s@localhost>").unwrap();
    let report = deliver_due(&db, &transport, now).await.unwrap();
    assert_eq!(report.sent as usize, EMAILS - received);
    let mut ids: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), EMAILS);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EMAILS, "no email was sent twice");
}
