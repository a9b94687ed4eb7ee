//! The webhook delivery worker: leases due deliveries from the webhook outbox, signs each under
//! its endpoint's secret (and, for a day after a rotation, the previous one too) at the attempt's
//! time, POSTs a round of them at once, and records every attempt. A failure is retried with
//! backoff (`domain::webhooks::retry_at`) under the same `webhook-id`; nothing is dropped.

use futures_util::future::join_all;
use jiff::Timestamp;

use super::Stop;
use crate::clock::Clock;
use crate::db::webhooks::{self as store, Leased};
use crate::ops::{OpResult, Ops, webhooks};
use crate::webhooks::client::{Outcome, Outgoing, Sender};
use crate::webhooks::{SecretKey, signature_header};

/// How many deliveries one round leases and sends at once: a round at the client's timeout
/// stays well inside the lease.
const ROUND: u32 = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookReport {
    pub delivered: u64,
    pub failed_attempts: u64,
}

/// Delivers every webhook due now. Without the instance's secret key nothing can be signed, so
/// nothing is sent (deliveries wait).
pub async fn deliver_due(ops: &Ops, sender: &Sender, clock: impl Clock) -> OpResult<WebhookReport> {
    deliver_until(ops, sender, clock, &Stop::never()).await
}

/// Delivers every webhook due until `stop` is requested: the round of attempts in flight is
/// finished and recorded, and no new round is leased. The clock is read for every lease, every
/// signature and every outcome, so a slow round never leases with an instant that has passed.
pub async fn deliver_until(
    ops: &Ops,
    sender: &Sender,
    clock: impl Clock,
    stop: &Stop,
) -> OpResult<WebhookReport> {
    let mut report = WebhookReport::default();
    let Some(key) = ops.webhooks.key.as_deref() else {
        return Ok(report);
    };
    loop {
        if stop.requested() {
            return Ok(report);
        }
        let leased = store::lease_due(&ops.db, clock.now(), ROUND).await?;
        let outcomes = join_all(leased.iter().map(|d| attempt(key, sender, d, clock.now()))).await;
        for (delivery, outcome) in leased.iter().zip(&outcomes) {
            match outcome {
                Outcome::Delivered { .. } => report.delivered += 1,
                Outcome::Failed { error, .. } => {
                    let (id, endpoint) = (delivery.id, delivery.endpoint);
                    tracing::warn!(delivery = %id, %endpoint, %error, "webhook attempt failed");
                    report.failed_attempts += 1;
                }
            }
            webhooks::record_attempt(ops, delivery, outcome, clock.now()).await?;
        }
        if leased.len() < ROUND as usize {
            return Ok(report);
        }
    }
}

async fn attempt(key: &SecretKey, sender: &Sender, delivery: &Leased, now: Timestamp) -> Outcome {
    let secret = match key.open(&delivery.sealed_secret) {
        Ok(secret) => secret,
        Err(e) => {
            return Outcome::Failed {
                status: None,
                error: e.to_string(),
            };
        }
    };
    let mut secrets = vec![secret];
    secrets.extend(
        delivery
            .sealed_previous
            .as_deref()
            .and_then(|sealed| key.open(sealed).ok()),
    );
    let timestamp = now.as_second();
    let signature = signature_header(&secrets, &delivery.webhook_id, timestamp, &delivery.body);
    let webhook = Outgoing {
        url: &delivery.url,
        webhook_id: &delivery.webhook_id,
        timestamp,
        signature: &signature,
        body: &delivery.body,
    };
    sender.send(&webhook).await
}
