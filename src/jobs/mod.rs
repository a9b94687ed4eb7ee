//! Scheduled work. `seatledger serve` runs the expiry pass (`ops::expiry`) and the email and
//! webhook delivery workers periodically; `seatledger tick --at INSTANT` runs one of each at a
//! chosen instant.

pub mod delivery;
pub mod webhooks;

use std::time::Duration;

use crate::email::transport::Transport;
use crate::ops::Ops;
use crate::ops::expiry::{PassReport, run_pass};
use crate::webhooks::client::Sender;

/// How often the background work runs in `serve`.
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    pub pass: Duration,
    pub delivery: Duration,
}

/// Starts the expiry pass and the delivery workers in the background, on the clock's time.
pub fn spawn(ops: Ops, transport: Transport, every: Intervals) {
    let pass_ops = ops.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.pass);
        loop {
            ticks.tick().await;
            match run_pass(&pass_ops, pass_ops.now()).await {
                Ok(report) if report != PassReport::default() => {
                    tracing::info!(?report, "expiry pass")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "expiry pass failed"),
            }
        }
    });
    let email_ops = ops.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.delivery);
        loop {
            ticks.tick().await;
            let clock = email_ops.clock.clone();
            if let Err(e) = delivery::deliver_due(&email_ops.db, &transport, clock).await {
                tracing::error!(error = %e, "email delivery failed");
            }
        }
    });
    let sender = Sender::new(ops.webhooks.allow_private);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.delivery);
        loop {
            ticks.tick().await;
            if let Err(e) = webhooks::deliver_due(&ops, &sender, ops.clock.clone()).await {
                tracing::error!(error = %e, "webhook delivery failed");
            }
        }
    });
}
