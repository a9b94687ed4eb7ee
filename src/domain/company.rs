//! A company's lifecycle: Free Trial, Premium, Expired, and what assigning licences does to it.

use jiff::{SignedDuration, Timestamp, ToSpan, tz::TimeZone};

use super::order::OrderKind;

/// How long a licence batch is valid: 12 calendar months from the moment it is assigned.
pub const BATCH_VALIDITY_MONTHS: i32 = 12;

/// How many NFR (not-for-resale) seats every partner holds on its own internal company, for its
/// staff and demos.
pub const NFR_SEATS: u32 = 10;

/// When NFR seats expire: never. Their batch carries this instant (the last whole second the
/// product can represent), later than any instant it meets, so every "valid at now" rule —
/// storage's `expires_at > now`, the allocation plan, the ledger replay, the company's status —
/// holds them valid with no special case; the scheduler is never due for it
/// (`schedule::first_due`). Migration 0010 writes the same number of seconds.
pub const NEVER: Timestamp = Timestamp::constant(253_402_207_200, 0);

/// Seats whose batch expires within this window are shown as Expiring.
pub const EXPIRING_WITHIN: SignedDuration = SignedDuration::from_hours(24 * 30);

/// Whether a seat of a batch expiring at `expires_at` is Expiring at `now` (still valid, ends
/// within 30 days).
pub fn is_expiring(expires_at: Timestamp, now: Timestamp) -> bool {
    let window_ends = now
        .saturating_add(EXPIRING_WITHIN)
        .unwrap_or(Timestamp::MAX);
    expires_at > now && expires_at <= window_ends && expires_at != NEVER
}

/// A trial ending within this window is "ending soon" on the Admin Dashboard.
pub const TRIAL_ENDING_WITHIN: SignedDuration = SignedDuration::from_hours(24 * 7);

/// A status badge reads "ending soon" when the trial or licences end within this window, the
/// same 72 hours as the reminder email.
pub const ENDING_SOON_WITHIN: SignedDuration = SignedDuration::from_hours(72);

/// Whether a trial ending at `ends_at` is running at `now` and ends within `window`.
pub fn ends_within(ends_at: Timestamp, now: Timestamp, window: SignedDuration) -> bool {
    ends_at > now && ends_at <= now.saturating_add(window).unwrap_or(Timestamp::MAX)
}

/// What the lifecycle rules need to know about a company.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompanyFacts {
    /// When the trial ends (or ended: an upgrade moves it to the assignment instant).
    pub trial_ends_at: Timestamp,
    /// The latest expiry of any of its licence batches, if it ever had one.
    pub licensed_until: Option<Timestamp>,
    /// The latest expiry of its Managed batches, if it ever had one.
    pub managed_until: Option<Timestamp>,
}

/// A company as partners see it in the Company section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompanyStatus {
    FreeTrial { ends_at: Timestamp },
    Premium { until: Timestamp },
    Expired { since: Timestamp },
}

impl CompanyStatus {
    pub fn label(self) -> &'static str {
        match self {
            CompanyStatus::FreeTrial { .. } => "Free Trial",
            CompanyStatus::Premium { .. } => "Premium",
            CompanyStatus::Expired { .. } => "Expired",
        }
    }
}

impl CompanyFacts {
    /// Free Trial while the trial runs, Premium while a batch is valid, else Expired.
    pub fn status(&self, now: Timestamp) -> CompanyStatus {
        match self.licensed_until {
            Some(until) if until > now => CompanyStatus::Premium { until },
            _ if self.trial_ends_at > now => CompanyStatus::FreeTrial {
                ends_at: self.trial_ends_at,
            },
            licensed_until => CompanyStatus::Expired {
                since: licensed_until.map_or(self.trial_ends_at, |l| l.max(self.trial_ends_at)),
            },
        }
    }

    /// Whether the company is on a running free trial, when every user has trial access.
    pub fn on_trial(&self, now: Timestamp) -> bool {
        matches!(self.status(now), CompanyStatus::FreeTrial { .. })
    }

    /// Whether the partner runs the company (an active Managed batch): its managers keep learner
    /// access and a read-only view.
    pub fn managed(&self, now: Timestamp) -> bool {
        self.managed_until.is_some_and(|until| until > now)
    }

    /// The company after a batch of `kind` expiring at `batch_expires_at` is assigned at
    /// `assigned_at`: the first assignment ends a running trial at once.
    pub fn after_assignment(
        self,
        assigned_at: Timestamp,
        batch_expires_at: Timestamp,
        kind: OrderKind,
    ) -> Self {
        let later = |current: Option<Timestamp>| {
            Some(current.map_or(batch_expires_at, |l| l.max(batch_expires_at)))
        };
        Self {
            trial_ends_at: self.trial_ends_at.min(assigned_at),
            licensed_until: later(self.licensed_until),
            managed_until: match kind {
                OrderKind::Managed => later(self.managed_until),
                OrderKind::Premium => self.managed_until,
            },
        }
    }
}

/// When a batch assigned at `assigned_at` expires: 12 calendar months later, in UTC
/// (29 February rolls back to 28 February).
pub fn batch_expires_at(assigned_at: Timestamp) -> Timestamp {
    assigned_at
        .to_zoned_datetime(TimeZone::UTC)
        .checked_add(BATCH_VALIDITY_MONTHS.months())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn trial(ends: &str) -> CompanyFacts {
        CompanyFacts {
            trial_ends_at: at(ends),
            licensed_until: None,
            managed_until: None,
        }
    }

    #[test]
    fn a_company_on_a_running_trial_is_free_trial() {
        let c = trial("2026-02-01T00:00:00Z");
        assert_eq!(
            c.status(at("2026-01-15T00:00:00Z")),
            CompanyStatus::FreeTrial {
                ends_at: at("2026-02-01T00:00:00Z")
            }
        );
        assert!(c.on_trial(at("2026-01-31T23:59:59Z")));
        assert!(!c.on_trial(at("2026-02-01T00:00:00Z")));
    }

    #[test]
    fn a_trial_ends_within_a_window_up_to_its_last_instant() {
        let now = at("2026-01-01T00:00:00Z");
        let week = TRIAL_ENDING_WITHIN;
        assert!(ends_within(at("2026-01-08T00:00:00Z"), now, week));
        assert!(!ends_within(at("2026-01-08T00:00:01Z"), now, week));
        assert!(!ends_within(now, now, week));
        assert!(ends_within(at("2026-01-01T00:00:01Z"), now, week));
    }

    #[test]
    fn a_trial_expires_at_its_end_instant() {
        let c = trial("2026-02-01T00:00:00Z");
        assert_eq!(
            c.status(at("2026-02-01T00:00:00Z")),
            CompanyStatus::Expired {
                since: at("2026-02-01T00:00:00Z")
            }
        );
    }

    #[test]
    fn assigning_licences_ends_the_trial_and_makes_the_company_premium() {
        let now = at("2026-01-10T00:00:00Z");
        let expires = batch_expires_at(now);
        let c = trial("2026-02-01T00:00:00Z").after_assignment(now, expires, OrderKind::Premium);
        assert_eq!(c.trial_ends_at, now);
        assert_eq!(c.status(now), CompanyStatus::Premium { until: expires });
    }

    #[test]
    fn a_later_assignment_does_not_move_an_ended_trial() {
        let ended = at("2026-01-01T00:00:00Z");
        let now = at("2026-03-01T00:00:00Z");
        let c = trial("2026-01-01T00:00:00Z").after_assignment(
            now,
            batch_expires_at(now),
            OrderKind::Premium,
        );
        assert_eq!(c.trial_ends_at, ended);
    }

    #[test]
    fn premium_expires_with_its_last_batch() {
        let assigned = at("2026-01-10T00:00:00Z");
        let c = trial("2026-01-01T00:00:00Z").after_assignment(
            assigned,
            batch_expires_at(assigned),
            OrderKind::Premium,
        );
        let after = at("2027-01-10T00:00:00Z");
        assert_eq!(c.status(after), CompanyStatus::Expired { since: after });
    }

    #[test]
    fn a_managed_batch_makes_the_company_managed_until_it_expires() {
        let now = at("2026-01-10T00:00:00Z");
        let expires = batch_expires_at(now);
        let c = trial("2026-02-01T00:00:00Z").after_assignment(now, expires, OrderKind::Managed);
        assert!(c.managed(now));
        assert!(!c.managed(expires));
        let premium =
            trial("2026-02-01T00:00:00Z").after_assignment(now, expires, OrderKind::Premium);
        assert!(!premium.managed(now));
    }

    #[test]
    fn nfr_seats_keep_the_internal_company_premium_for_ever_and_never_become_expiring() {
        let created = at("2026-01-10T00:00:00Z");
        let internal =
            trial("2026-02-09T00:00:00Z").after_assignment(created, NEVER, OrderKind::Premium);
        assert_eq!(
            internal.trial_ends_at, created,
            "an internal company has no trial"
        );
        for now in [
            created,
            at("2126-01-10T00:00:00Z"),
            at("9999-12-30T21:59:59Z"),
        ] {
            assert_eq!(
                internal.status(now),
                CompanyStatus::Premium { until: NEVER }
            );
            assert!(!is_expiring(NEVER, now), "{now}");
        }
        assert!(!internal.managed(created));
    }

    #[test]
    fn never_is_the_last_whole_second_a_timestamp_holds() {
        assert_eq!(NEVER.as_second(), Timestamp::MAX.as_second());
        assert_eq!(NEVER.subsec_nanosecond(), 0);
        assert!(batch_expires_at(Timestamp::MAX) <= Timestamp::MAX);
    }

    #[test]
    fn seats_are_expiring_within_thirty_days_of_their_batch_end() {
        let now = at("2026-01-01T00:00:00Z");
        assert!(is_expiring(at("2026-01-31T00:00:00Z"), now));
        assert!(!is_expiring(at("2026-01-31T00:00:01Z"), now));
        assert!(!is_expiring(now, now));
    }

    #[test]
    fn a_batch_is_valid_twelve_calendar_months() {
        assert_eq!(
            batch_expires_at(at("2026-03-15T10:30:00Z")),
            at("2027-03-15T10:30:00Z")
        );
        assert_eq!(
            batch_expires_at(at("2028-02-29T12:00:00Z")),
            at("2029-02-28T12:00:00Z")
        );
    }
}
