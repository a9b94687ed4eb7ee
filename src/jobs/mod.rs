//! Scheduled work. `seatledger serve` runs the expiry pass and the delivery worker periodically;
//! `seatledger tick --at INSTANT` runs one pass (and one delivery round) at a chosen instant. A
//! pass reads only what is due at its instant.

pub mod delivery;

use std::time::Duration;

use jiff::Timestamp;

use crate::clock::SharedClock;
use crate::db::{Db, DbResult, expiry};
use crate::domain::schedule::Notice;
use crate::email::transport::Transport;

/// How many due rows a pass takes at a time.
const DUE_BATCH: u32 = 200;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub trials_ending: u64,
    pub trials_expired: u64,
    pub batches_expiring: u64,
    pub batches_expired: u64,
}

impl PassReport {
    fn count(&mut self, notice: Option<Notice>, trial: bool) {
        match (notice, trial) {
            (Some(Notice::EndsSoon), true) => self.trials_ending += 1,
            (Some(Notice::Ended), true) => self.trials_expired += 1,
            (Some(Notice::EndsSoon), false) => self.batches_expiring += 1,
            (Some(Notice::Ended), false) => self.batches_expired += 1,
            (None, _) => {}
        }
    }
}

/// Runs one expiry pass at `now`: every trial and batch due by then gets its reminder or its
/// expiry (with the emails, queued once however often or late passes run).
pub async fn run_pass(db: &Db, public_url: &str, now: Timestamp) -> DbResult<PassReport> {
    let mut report = PassReport::default();
    loop {
        let due = expiry::due_trials(db, now, DUE_BATCH).await?;
        for &company in &due {
            report.count(
                expiry::process_trial(db, company, public_url, now).await?,
                true,
            );
        }
        if due.len() < DUE_BATCH as usize {
            break;
        }
    }
    loop {
        let due = expiry::due_batches(db, now, DUE_BATCH).await?;
        for &batch in &due {
            report.count(
                expiry::process_batch(db, batch, public_url, now).await?,
                false,
            );
        }
        if due.len() < DUE_BATCH as usize {
            break;
        }
    }
    Ok(report)
}

/// How often the background work runs in `serve`.
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    pub pass: Duration,
    pub delivery: Duration,
}

/// Starts the expiry pass and the delivery worker in the background, on `clock`'s time.
pub fn spawn(
    db: Db,
    clock: SharedClock,
    public_url: String,
    transport: Transport,
    every: Intervals,
) {
    let (pass_db, pass_clock) = (db.clone(), clock.clone());
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.pass);
        loop {
            ticks.tick().await;
            match run_pass(&pass_db, &public_url, pass_clock.now()).await {
                Ok(report) if report != PassReport::default() => {
                    tracing::info!(?report, "expiry pass")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "expiry pass failed"),
            }
        }
    });
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.delivery);
        loop {
            ticks.tick().await;
            if let Err(e) = delivery::deliver_due(&db, &transport, clock.now()).await {
                tracing::error!(error = %e, "email delivery failed");
            }
        }
    });
}
