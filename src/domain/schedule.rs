//! What the scheduler owes an expiring trial or batch at an instant: the 72-hour reminder, the
//! expiry notice, or nothing yet, and when to look again.
//!
//! A reminder is only sent before the expiry: a pass that runs late (the server was down) and
//! finds the expiry already passed sends the expiry notice alone.

use jiff::{SignedDuration, Timestamp};

use super::company::NEVER;

/// How long before an expiry the reminder goes out.
pub const REMINDER_LEAD: SignedDuration = SignedDuration::from_hours(72);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Ends within 72 hours.
    EndsSoon,
    /// Has ended.
    Ended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The notice to send now, if any.
    pub notice: Option<Notice>,
    /// When the scheduler must look again; `None` once the expiry has been handled.
    pub next_due: Option<Timestamp>,
}

/// The first instant the scheduler must look at something that ends at `ends_at`; `None` for
/// what never ends (NFR seats), which owes no reminder and no expiry.
pub fn first_due(ends_at: Timestamp) -> Option<Timestamp> {
    (ends_at < NEVER).then(|| {
        ends_at
            .saturating_sub(REMINDER_LEAD)
            .unwrap_or(Timestamp::MIN)
    })
}

/// What is owed at `now` for something that ends at `ends_at`, looked at because it fell due.
pub fn expiry_step(ends_at: Timestamp, now: Timestamp) -> Step {
    if now >= ends_at {
        Step {
            notice: Some(Notice::Ended),
            next_due: None,
        }
    } else {
        match first_due(ends_at) {
            Some(due) if now >= due => Step {
                notice: Some(Notice::EndsSoon),
                next_due: Some(ends_at),
            },
            next_due => Step {
                notice: None,
                next_due,
            },
        }
    }
}

/// How many times delivery of one email is tried before it is marked failed for the operator.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 8;

/// After the `attempts`-th failed delivery at `failed_at`: when to try again (30 s, doubling,
/// at most an hour apart), or `None` when the email is to be marked failed.
pub fn retry_at(attempts: u32, failed_at: Timestamp) -> Option<Timestamp> {
    if attempts >= MAX_DELIVERY_ATTEMPTS {
        return None;
    }
    let delay = 30i64
        .saturating_mul(1 << attempts.saturating_sub(1).min(20))
        .min(3600);
    failed_at.checked_add(SignedDuration::from_secs(delay)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const ENDS: &str = "2026-12-10T12:00:00Z";

    #[test]
    fn nothing_is_owed_before_the_reminder_window() {
        assert_eq!(
            expiry_step(at(ENDS), at("2026-12-07T11:00:00Z")),
            Step {
                notice: None,
                next_due: Some(at("2026-12-07T12:00:00Z"))
            }
        );
    }

    #[test]
    fn the_reminder_is_owed_72_hours_before_and_then_the_expiry_is_next() {
        assert_eq!(
            expiry_step(at(ENDS), at("2026-12-07T12:00:00Z")),
            Step {
                notice: Some(Notice::EndsSoon),
                next_due: Some(at(ENDS))
            }
        );
    }

    #[test]
    fn at_the_end_only_the_expiry_is_owed_even_if_the_reminder_was_missed() {
        assert_eq!(
            expiry_step(at(ENDS), at("2026-12-10T13:00:00Z")),
            Step {
                notice: Some(Notice::Ended),
                next_due: None
            }
        );
    }

    #[test]
    fn nothing_is_ever_due_for_seats_that_never_expire() {
        assert_eq!(first_due(NEVER), None);
        assert_eq!(first_due(at(ENDS)), Some(at("2026-12-07T12:00:00Z")));
        for now in [at(ENDS), at("9999-12-30T21:59:59Z")] {
            assert_eq!(
                expiry_step(NEVER, now),
                Step {
                    notice: None,
                    next_due: None
                }
            );
        }
    }

    #[test]
    fn delivery_backs_off_exponentially_then_gives_up() {
        let t = at("2026-12-01T00:00:00Z");
        let delays: Vec<i64> = (1..MAX_DELIVERY_ATTEMPTS)
            .map(|n| retry_at(n, t).unwrap().as_second() - t.as_second())
            .collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920]);
        assert_eq!(retry_at(MAX_DELIVERY_ATTEMPTS, t), None);
    }
}
