//! The expiry pass: every trial and batch due by an instant gets its 72-hour reminder or its
//! expiry, with the emails, queued once however often or late passes run; uploads older than a
//! day are deleted. A pass reads only what is due.

use jiff::Timestamp;

use super::{OpResult, Ops, events, notify};
use crate::db::{expiry, limits};
use crate::domain::access::LONGEST_RATE_WINDOW;
use crate::domain::schedule::{Notice, expiry_step};
use crate::domain::{BatchId, CompanyId};
use crate::email::messages;
use crate::format::date;
use crate::metrics::SeatsEnded;

/// How many due rows a pass takes at a time.
const DUE_BATCH: u32 = 200;
/// How many affected learners a batch-expired email names; the rest are counted.
const NAMED_LEARNERS: u32 = 20;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub trials_ending: u64,
    pub trials_expired: u64,
    pub batches_expiring: u64,
    pub batches_expired: u64,
    /// Uploads kept longer than a day, deleted.
    pub uploads_deleted: u64,
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

/// Runs one expiry pass at `now`.
#[tracing::instrument(skip_all, fields(%now))]
pub async fn run_pass(ops: &Ops, now: Timestamp) -> OpResult<PassReport> {
    let mut report = PassReport::default();
    loop {
        let due = expiry::due_trials(&ops.db, now, DUE_BATCH).await?;
        for &company in &due {
            report.count(process_trial(ops, company, now).await?, true);
        }
        if due.len() < DUE_BATCH as usize {
            break;
        }
    }
    loop {
        let due = expiry::due_batches(&ops.db, now, DUE_BATCH).await?;
        for &batch in &due {
            report.count(process_batch(ops, batch, now).await?, false);
        }
        if due.len() < DUE_BATCH as usize {
            break;
        }
    }
    report.uploads_deleted = super::uploads::delete_expired(ops, now).await?;
    // Rate-limit windows that ended no longer limit anything.
    limits::forget_before(&ops.db, now - LONGEST_RATE_WINDOW).await?;
    Ok(report)
}

/// One due trial: the reminder or the expiry email to the company's managers, and the company's
/// next due instant. Returns the notice sent, if any.
async fn process_trial(ops: &Ops, company: CompanyId, now: Timestamp) -> OpResult<Option<Notice>> {
    let mut tx = ops.db.begin_write().await?;
    let Some(trial) = expiry::lock_due_trial(&mut tx, ops.db.for_update(), company, now).await?
    else {
        return Ok(None);
    };
    let step = expiry_step(trial.ends_at, now);
    if let Some(notice) = step.notice {
        let on = date(trial.ends_at, &trial.time_zone);
        let (kind, content) = match notice {
            Notice::EndsSoon => (
                "trial_ending",
                messages::trial_ending(&trial.name, &on, &ops.links.company_licences()),
            ),
            Notice::Ended => (
                "trial_expired",
                messages::trial_expired(&trial.name, &on, &ops.links.landing()),
            ),
        };
        let event = format!("{kind}:company:{company}:{}", trial.ends_at.as_second());
        notify::to_managers(&mut tx, company, kind, &event, content, now).await?;
        match notice {
            Notice::EndsSoon => events::trial_ending(&mut tx, company, now).await?,
            Notice::Ended => events::trial_expired(&mut tx, company, now).await?,
        }
    }
    expiry::set_trial_due(&mut tx, company, step.next_due).await?;
    tx.commit().await?;
    Ok(step.notice)
}

/// One due batch: the reminder, or the expiry itself (its seats end, its learners become
/// Expired, a ledger event and the email naming them).
async fn process_batch(ops: &Ops, batch: BatchId, now: Timestamp) -> OpResult<Option<Notice>> {
    let mut tx = ops.db.begin_write().await?;
    let Some(due) = expiry::lock_due_batch(&mut tx, ops.db.backend(), batch, now).await? else {
        return Ok(None);
    };
    let step = expiry_step(due.expires_at, now);
    let mut seats_ended = 0;
    let on = date(due.expires_at, &due.time_zone);
    let order_url = ops.links.company_licences();
    let expires = due.expires_at.as_second();
    match step.notice {
        Some(Notice::EndsSoon) => {
            let content =
                messages::batch_expiring(&due.company_name, due.quantity, &on, &order_url);
            let event = format!("batch_expiring:batch:{batch}:{expires}");
            let kind = "batch_expiring";
            notify::to_managers(&mut tx, due.company, kind, &event, content, now).await?;
            events::batch_expiring(&mut tx, batch, due.company, now).await?;
        }
        Some(Notice::Ended) => {
            expiry::expire_batch(&mut tx, batch, &due).await?;
            let (named, all) = expiry::expired_learners(&mut tx, batch, NAMED_LEARNERS).await?;
            let more = all.saturating_sub(named.len() as u64);
            let content = messages::batch_expired(
                &due.company_name,
                due.quantity,
                &on,
                &named,
                more,
                &order_url,
            );
            let event = format!("batch_expired:batch:{batch}:{expires}");
            let kind = "batch_expired";
            notify::to_managers(&mut tx, due.company, kind, &event, content, now).await?;
            events::batch_expired(&mut tx, batch, due.company, all, now).await?;
            seats_ended = all;
        }
        None => {}
    }
    expiry::set_batch_due(&mut tx, batch, step.next_due).await?;
    tx.commit().await?;
    ops.metrics
        .seats_ended(SeatsEnded::BatchExpired, seats_ended);
    Ok(step.notice)
}
