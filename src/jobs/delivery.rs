//! The delivery worker: leases due emails from the outbox, hands each to the transport, and
//! records the outcome. A failure is retried with backoff; after the last attempt the email is
//! marked failed and shown to the operator, never dropped.

use super::Stop;
use crate::clock::Clock;
use crate::db::{Db, DbResult, outbox};
use crate::email::transport::{Delivery, Outgoing, Transport};

/// How many emails one round leases at a time: a round at the transport's 30 s timeout per
/// email stays well inside the lease.
const ROUND: u32 = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: u64,
    pub kept: u64,
    pub failed_attempts: u64,
}

/// Delivers every email due now. The clock is read for every lease and every outcome: a round
/// on a slow SMTP server takes minutes, and a lease taken at the round's first instant would
/// have run out for every other worker while this one still sends.
pub async fn deliver_due(
    db: &Db,
    transport: &Transport,
    clock: impl Clock,
) -> DbResult<DeliveryReport> {
    deliver_until(db, transport, clock, &Stop::never()).await
}

/// Delivers every email due until `stop` is requested: then the email being sent is finished
/// and recorded, and the rest of the lease handed back for the next worker.
pub async fn deliver_until(
    db: &Db,
    transport: &Transport,
    clock: impl Clock,
    stop: &Stop,
) -> DbResult<DeliveryReport> {
    let mut report = DeliveryReport::default();
    loop {
        if stop.requested() {
            return Ok(report);
        }
        let emails = outbox::lease_due(db, clock.now(), ROUND).await?;
        for (i, email) in emails.iter().enumerate() {
            if stop.requested() {
                outbox::hand_back(db, &emails[i..]).await?;
                return Ok(report);
            }
            let outgoing = Outgoing {
                message_id: &email.message_id,
                recipient: &email.recipient,
                subject: &email.subject,
                text: &email.text,
                html: &email.html,
            };
            match transport.deliver(&outgoing).await {
                Ok(Delivery::Sent) => {
                    outbox::delivered(db, email, "sent", clock.now()).await?;
                    report.sent += 1;
                }
                Ok(Delivery::Kept) => {
                    outbox::delivered(db, email, "kept", clock.now()).await?;
                    report.kept += 1;
                }
                Err(error) => {
                    tracing::warn!(email = email.id, %error, "email delivery attempt failed");
                    outbox::attempt_failed(db, email, &error, clock.now()).await?;
                    report.failed_attempts += 1;
                }
            }
        }
        if emails.len() < ROUND as usize {
            return Ok(report);
        }
    }
}
