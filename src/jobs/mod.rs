//! Scheduled work. `seatledger serve` runs the expiry pass (`ops::expiry`) and the email and
//! webhook delivery workers periodically; `seatledger tick --at INSTANT` runs one of each at a
//! chosen instant. When the application stops, each worker ends after the work in hand: the pass
//! in progress finishes (it reads only what is due), the email worker finishes the email it is
//! sending and hands back the rest of its lease, the webhook worker finishes the attempts it has
//! started; nothing leased is left waiting for its lease to run out.

pub mod delivery;
pub mod webhooks;

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::email::transport::Transport;
use crate::metrics::Outbox;
use crate::ops::Ops;
use crate::ops::expiry::{PassReport, run_pass};
use crate::webhooks::client::Sender;

/// How often the background work runs in `serve`.
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    pub pass: Duration,
    pub delivery: Duration,
}

/// Whether the application is stopping, which the workers look at between items.
#[derive(Clone, Debug)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    pub fn new(stopped: watch::Receiver<bool>) -> Self {
        Self(stopped)
    }

    /// Never stops: `tick` and tests that drive one round.
    pub fn never() -> Self {
        let (sender, receiver) = watch::channel(false);
        // The receiver alone keeps the value; the channel reads as not stopping for ever.
        drop(sender);
        Self(receiver)
    }

    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits for the next tick of `ticks`; false when the application stops first.
    async fn tick(&mut self, ticks: &mut tokio::time::Interval) -> bool {
        if self.requested() {
            return false;
        }
        tokio::select! {
            _ = ticks.tick() => true,
            Ok(_) = self.0.wait_for(|s| *s) => false,
        }
    }
}

/// Starts the expiry pass and the delivery workers in the background, on the clock's time; they
/// end once `stop` is requested, after the round in hand.
pub fn spawn(ops: Ops, transport: Transport, every: Intervals, stop: Stop) -> Vec<JoinHandle<()>> {
    let pass_ops = ops.clone();
    let mut pass_stop = stop.clone();
    let pass = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.pass);
        while pass_stop.tick(&mut ticks).await {
            let started = Instant::now();
            match run_pass(&pass_ops, pass_ops.now()).await {
                Ok(report) => {
                    pass_ops.metrics.pass(started.elapsed(), &report);
                    if report != PassReport::default() {
                        tracing::info!(?report, "expiry pass");
                    }
                }
                Err(e) => tracing::error!(error = %e, "expiry pass failed"),
            }
        }
    });
    let email_ops = ops.clone();
    let mut email_stop = stop.clone();
    let emails = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.delivery);
        while email_stop.tick(&mut ticks).await {
            let clock = email_ops.clock.clone();
            match delivery::deliver_until(&email_ops.db, &transport, clock, &email_stop).await {
                Ok(report) => {
                    let metrics = &email_ops.metrics;
                    metrics.delivered(Outbox::Email, report.sent + report.kept);
                    metrics.delivery_failed(Outbox::Email, report.failed_attempts);
                }
                Err(e) => tracing::error!(error = %e, "email delivery failed"),
            }
        }
    });
    let sender = Sender::new(ops.webhooks.allow_private);
    let mut hook_stop = stop;
    let hooks = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.delivery);
        while hook_stop.tick(&mut ticks).await {
            let clock = ops.clock.clone();
            match webhooks::deliver_until(&ops, &sender, clock, &hook_stop).await {
                Ok(report) => {
                    ops.metrics.delivered(Outbox::Webhook, report.delivered);
                    ops.metrics
                        .delivery_failed(Outbox::Webhook, report.failed_attempts);
                }
                Err(e) => tracing::error!(error = %e, "webhook delivery failed"),
            }
        }
    });
    vec![pass, emails, hooks]
}
