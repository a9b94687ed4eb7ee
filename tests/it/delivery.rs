//! Delivery over real SMTP: the right message arrives once, retries survive a server that is
//! down, a lost acknowledgement resends the same Message-ID, the last failure is kept for the
//! operator, and two workers never send the same email.

use std::collections::HashSet;

use jiff::{SignedDuration, Timestamp};
use seatledger::db::outbox::{self, NewEmail};
use seatledger::db::{Db, outbox::OutboxEmail};
use seatledger::domain::schedule::MAX_DELIVERY_ATTEMPTS;
use seatledger::email::EmailContent;
use seatledger::email::transport::Transport;
use seatledger::jobs::delivery::{DeliveryReport, deliver_due};

use crate::on_both_databases;
use crate::smtp::SmtpSink;
use crate::support::{TestDb, at};

fn t() -> Timestamp {
    at("2026-06-01T10:00:00Z")
}

fn smtp(url: &str) -> Transport {
    Transport::new(Some(url), "seatledger <noreply@seatledger.test>").unwrap()
}

/// Queues `n` emails to distinct recipients.
async fn queue(db: &Db, n: usize) {
    let mut tx = db.begin_write().await.unwrap();
    for i in 0..n {
        let email = EmailContent {
            subject: format!("Licences ready {i}"),
            paragraphs: vec!["40 licences are ready to allocate.".into()],
            items: Vec::new(),
            action: Some((
                "Allocate".into(),
                "https://console.example/company/licenses".into(),
            )),
        }
        .render();
        outbox::queue(
            &mut tx,
            &NewEmail {
                idempotency_key: format!("test:{i}"),
                kind: "order_assigned",
                company: None,
                recipient: &format!("manager{i}@acme.example"),
                email,
            },
            t(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn stored(db: &Db) -> Vec<OutboxEmail> {
    let mut emails = outbox::list(db, None, 100).await.unwrap().items;
    emails.reverse();
    emails
}

on_both_databases!(
    a_delivered_email_has_the_recipient_subject_link_and_message_id,
    a_server_that_was_down_gets_exactly_one_copy_once_it_is_up,
    a_lost_acknowledgement_resends_the_same_message_id,
    the_last_failed_attempt_marks_the_email_failed_for_the_operator,
    two_workers_never_send_the_same_email,
    a_slow_round_leases_at_the_time_it_leases_so_no_other_worker_sends_its_emails,
    without_smtp_emails_are_kept_in_the_local_mailbox,
);

async fn a_delivered_email_has_the_recipient_subject_link_and_message_id(db: TestDb) {
    let sink = SmtpSink::start().await;
    queue(&db, 1).await;
    let report = deliver_due(&db, &smtp(&sink.url()), t()).await.unwrap();
    assert_eq!(report.sent, 1);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.recipients, ["manager0@acme.example"]);
    assert_eq!(
        message.header("Subject").as_deref(),
        Some("Licences ready 0")
    );
    assert!(
        message
            .data
            .contains("https://console.example/company/licenses")
    );
    let email = &stored(&db).await[0];
    assert_eq!(message.header("Message-ID"), Some(email.message_id.clone()));
    assert_eq!(email.status, "sent");
    assert_eq!(email.delivered_at, Some(t()));
}

async fn a_server_that_was_down_gets_exactly_one_copy_once_it_is_up(db: TestDb) {
    // Reserve a port, then leave nothing listening on it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let transport = smtp(&format!("smtp://{addr}"));
    queue(&db, 1).await;

    let report = deliver_due(&db, &transport, t()).await.unwrap();
    assert_eq!(report.failed_attempts, 1);
    let email = &stored(&db).await[0];
    assert_eq!((email.status.as_str(), email.attempts), ("pending", 1));
    assert_eq!(email.next_attempt_at, t() + SignedDuration::from_secs(30));

    let sink = SmtpSink::start_on(addr, 0).await;
    let early = deliver_due(&db, &transport, t() + SignedDuration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(early, DeliveryReport::default());
    assert!(sink.messages().is_empty());

    let due = deliver_due(&db, &transport, t() + SignedDuration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(due.sent, 1);
    deliver_due(&db, &transport, t() + SignedDuration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(stored(&db).await[0].status, "sent");
}

async fn a_lost_acknowledgement_resends_the_same_message_id(db: TestDb) {
    let sink = SmtpSink::start_on("127.0.0.1:0".parse().unwrap(), 1).await;
    let transport = smtp(&sink.url());
    queue(&db, 1).await;
    assert_eq!(
        deliver_due(&db, &transport, t())
            .await
            .unwrap()
            .failed_attempts,
        1
    );
    assert_eq!(
        deliver_due(&db, &transport, t() + SignedDuration::from_secs(30))
            .await
            .unwrap()
            .sent,
        1
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0].header("Message-ID"),
        messages[1].header("Message-ID")
    );
}

async fn the_last_failed_attempt_marks_the_email_failed_for_the_operator(db: TestDb) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let transport = smtp(&format!("smtp://{addr}"));
    queue(&db, 1).await;
    let mut now = t();
    for _ in 0..MAX_DELIVERY_ATTEMPTS {
        assert_eq!(
            deliver_due(&db, &transport, now)
                .await
                .unwrap()
                .failed_attempts,
            1
        );
        now += SignedDuration::from_hours(2);
    }
    let email = &stored(&db).await[0];
    assert_eq!(email.status, "failed");
    assert_eq!(email.attempts, i64::from(MAX_DELIVERY_ATTEMPTS));
    assert!(email.last_error.as_deref().is_some_and(|e| !e.is_empty()));
    assert_eq!(
        deliver_due(&db, &transport, now).await.unwrap(),
        DeliveryReport::default()
    );
}

async fn two_workers_never_send_the_same_email(db: TestDb) {
    let sink = SmtpSink::start().await;
    queue(&db, 30).await;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let db = db.db.clone();
            let transport = smtp(&sink.url());
            tokio::spawn(async move { deliver_due(&db, &transport, t()).await.unwrap() })
        })
        .collect();
    let mut sent = 0;
    for worker in workers {
        sent += worker.await.unwrap().sent;
    }
    assert_eq!(sent, 30);
    let ids: HashSet<_> = sink
        .messages()
        .iter()
        .map(|m| m.header("Message-ID"))
        .collect();
    assert_eq!((sink.messages().len(), ids.len()), (30, 30));
}

async fn without_smtp_emails_are_kept_in_the_local_mailbox(db: TestDb) {
    queue(&db, 2).await;
    let report = deliver_due(&db, &Transport::LocalMailbox, t())
        .await
        .unwrap();
    assert_eq!(report.kept, 2);
    assert!(stored(&db).await.iter().all(|e| e.status == "kept"));
}

/// SMTP takes 30 s a message (the transport's timeout) on a manual clock, so a round of 25
/// emails takes 12.5 minutes, longer than a lease. While the first worker waits for the 21st
/// acknowledgement, a second worker runs: the first worker's third lease was taken at 10
/// minutes, so it holds, and the second finds nothing to send.
async fn a_slow_round_leases_at_the_time_it_leases_so_no_other_worker_sends_its_emails(db: TestDb) {
    use std::sync::Arc;

    use seatledger::clock::{Clock, ManualClock};

    let clock = ManualClock::at(t());
    let second: Arc<tokio::sync::Mutex<Option<DeliveryReport>>> = Arc::default();
    let sink_url: Arc<std::sync::OnceLock<String>> = Arc::default();
    let on_message: crate::smtp::OnMessage = {
        let (clock, db, second, sink_url) = (
            clock.clone(),
            db.db.clone(),
            second.clone(),
            sink_url.clone(),
        );
        Arc::new(move |arrived| {
            let (clock, db, second, sink_url) =
                (clock.clone(), db.clone(), second.clone(), sink_url.clone());
            Box::pin(async move {
                clock.advance(SignedDuration::from_secs(30));
                if arrived == 21 {
                    let transport = smtp(sink_url.get().unwrap());
                    let report = deliver_due(&db, &transport, clock.now()).await.unwrap();
                    *second.lock().await = Some(report);
                }
            })
        })
    };
    let sink = SmtpSink::start_calling(on_message).await;
    sink_url.set(sink.url()).unwrap();
    queue(&db, 25).await;

    let first = deliver_due(&db, &smtp(&sink.url()), clock.clone())
        .await
        .unwrap();
    assert_eq!(first.sent, 25);
    assert_eq!(*second.lock().await, Some(DeliveryReport::default()));
    let ids: HashSet<_> = sink
        .messages()
        .iter()
        .map(|m| m.header("Message-ID"))
        .collect();
    assert_eq!((sink.messages().len(), ids.len()), (25, 25));
    // Each outcome is recorded at the time it came.
    let last = stored(&db).await.pop().unwrap();
    assert_eq!(
        last.delivered_at,
        Some(t() + SignedDuration::from_secs(25 * 30))
    );
}
