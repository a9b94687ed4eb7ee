//! Who may sign in, where they land, and whether a learner's licence is active.
//!
//! `licence_status` answers the learner-facing product's question ("may this user use the
//! product now, and until when"); `sign_in` answers the console's ("may this user sign in here,
//! and which page do they get"). Sessions re-ask `sign_in` on every request, so a user whose
//! access ends is stopped at their next click.

use jiff::{SignedDuration, Timestamp};

use super::company::{CompanyFacts, CompanyStatus};
use super::ids::{CompanyId, PartnerId};

/// What a user is in the product, and where they belong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Runs the instance; creates distributors.
    Operator,
    /// A partner user: an admin of the partner, or an account manager.
    Partner { partner: PartnerId, admin: bool },
    /// A user of a customer company: a manager, a learner, or both.
    Company {
        company: CompanyId,
        manager: bool,
        learner: bool,
    },
}

/// What the access rules need to know about one user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFacts {
    pub role: Role,
    pub created_at: Timestamp,
    pub deactivated: bool,
    /// When the batch of the seat the user holds expires, if they hold one.
    pub seat_expires_at: Option<Timestamp>,
    /// When the user's most recent seat ended (released, or its batch expired), if one did.
    pub last_seat_ended_at: Option<Timestamp>,
}

/// A company user's licence, as the Users and Licenses sections show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenceStatus {
    Active {
        until: Timestamp,
        trial: bool,
    },
    Expired {
        on: Timestamp,
    },
    /// Added after the trial with no free seat: never had a licence, waits for one.
    AwaitingLicence,
}

impl LicenceStatus {
    pub fn label(self) -> &'static str {
        match self {
            LicenceStatus::Active { trial: true, .. } => "Active (trial)",
            LicenceStatus::Active { trial: false, .. } => "Active",
            LicenceStatus::Expired { .. } => "Expired",
            LicenceStatus::AwaitingLicence => "Awaiting licence",
        }
    }
}

/// The licence status of a company user at `now`.
pub fn licence_status(user: &UserFacts, company: &CompanyFacts, now: Timestamp) -> LicenceStatus {
    let seat = user.seat_expires_at.filter(|&e| e > now);
    let trial = (company.trial_ends_at > now).then_some(company.trial_ends_at);
    match (seat, trial) {
        (Some(s), Some(t)) if t > s => {
            return LicenceStatus::Active {
                until: t,
                trial: true,
            };
        }
        (Some(s), _) => {
            return LicenceStatus::Active {
                until: s,
                trial: false,
            };
        }
        (None, Some(t)) => {
            return LicenceStatus::Active {
                until: t,
                trial: true,
            };
        }
        (None, None) => {}
    }
    let seat_end = user.seat_expires_at.or(user.last_seat_ended_at);
    let trial_end = (user.created_at < company.trial_ends_at).then_some(company.trial_ends_at);
    match seat_end.max(trial_end) {
        Some(on) => LicenceStatus::Expired { on },
        None => LicenceStatus::AwaitingLicence,
    }
}

/// The page a signed-in user is sent to, and the only area they may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Landing {
    OperatorConsole,
    AdminDashboard,
    CompanyDashboard,
    /// A manager of a company with neither an active trial nor an active batch.
    LandingPage {
        ended_on: Timestamp,
    },
    LearnerHome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInRefusal {
    Deactivated,
    LicenceExpired { on: Timestamp },
    AwaitingLicence,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInDecision {
    /// Signed in, landing on `landing`; `until` is when that access ends, if it does.
    Allowed {
        landing: Landing,
        until: Option<Timestamp>,
    },
    Refused(SignInRefusal),
}

/// May this user sign in to the console now, where do they land, and until when.
///
/// A company user must come with the company's facts; other roles ignore them.
pub fn sign_in(user: &UserFacts, company: Option<&CompanyFacts>, now: Timestamp) -> SignInDecision {
    if user.deactivated {
        return SignInDecision::Refused(SignInRefusal::Deactivated);
    }
    let allowed = |landing, until| SignInDecision::Allowed { landing, until };
    match (user.role, company) {
        (Role::Operator, _) => allowed(Landing::OperatorConsole, None),
        (Role::Partner { .. }, _) => allowed(Landing::AdminDashboard, None),
        (Role::Company { manager: true, .. }, Some(company)) => match company.status(now) {
            CompanyStatus::FreeTrial { ends_at } => {
                allowed(Landing::CompanyDashboard, Some(ends_at))
            }
            CompanyStatus::Premium { until } => allowed(Landing::CompanyDashboard, Some(until)),
            CompanyStatus::Expired { since } => {
                allowed(Landing::LandingPage { ended_on: since }, None)
            }
        },
        (Role::Company { manager: false, .. }, Some(company)) => {
            match licence_status(user, company, now) {
                LicenceStatus::Active { until, .. } => allowed(Landing::LearnerHome, Some(until)),
                LicenceStatus::Expired { on } => {
                    SignInDecision::Refused(SignInRefusal::LicenceExpired { on })
                }
                LicenceStatus::AwaitingLicence => {
                    SignInDecision::Refused(SignInRefusal::AwaitingLicence)
                }
            }
        }
        // A company user without company facts is a caller bug; refusing is the safe answer.
        (Role::Company { .. }, None) => SignInDecision::Refused(SignInRefusal::Deactivated),
    }
}

/// How long a console session lasts after sign-in.
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(12);
/// How long the set-password link of a welcome email works.
pub const WELCOME_LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(24 * 7);
/// How long the first-run link that creates the operator works (and the operator's own
/// set-password link from `seatledger operator create`).
pub const SETUP_LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(1);
/// How long a password-reset link works.
pub const RESET_LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(1);

/// Wrong passwords in a row, from one client address, that lock the account for that address
/// (a stranger elsewhere cannot lock the real user out).
pub const MAX_FAILED_SIGN_INS: i64 = 3;
/// How long a locked account stays locked for that address.
pub const LOCKOUT: SignedDuration = SignedDuration::from_mins(10);
/// The least time between two password-reset emails to one account.
pub const RESET_INTERVAL: SignedDuration = SignedDuration::from_mins(30);

/// After the `failures`-th wrong password in a row: the lock to set, if this one locks.
pub fn lock_after_failure(failures: i64, now: Timestamp) -> Option<Timestamp> {
    (failures >= MAX_FAILED_SIGN_INS).then(|| now + LOCKOUT)
}

/// At most `hits` requests of one kind per `window`, counted in fixed windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub hits: i64,
    pub window: SignedDuration,
}

impl RateLimit {
    /// The start of the window `now` falls in, which counts this request.
    pub fn window_at(self, now: Timestamp) -> Timestamp {
        let width = self.window.as_secs().max(1);
        let start = now.as_second().div_euclid(width) * width;
        Timestamp::from_second(start).unwrap_or(now)
    }

    /// Whether the `hits`-th request of its window (this one included) may go ahead.
    pub fn allows(self, hits: i64) -> bool {
        hits <= self.hits
    }

    /// When the window of `now` ends: when a refused client may try again.
    pub fn retry_at(self, now: Timestamp) -> Timestamp {
        self.window_at(now) + self.window
    }
}

/// Sign-in attempts per client address: an office behind one address still signs in, a script
/// guessing passwords across accounts is stopped before any hashing.
pub const SIGN_IN_PER_ADDRESS: RateLimit = RateLimit {
    hits: 30,
    window: SignedDuration::from_mins(10),
};
/// Sign-in attempts per email address (known or not, so the limit reveals nothing), from every
/// client together: ten addresses' worth of lock allowances.
pub const SIGN_IN_PER_ACCOUNT: RateLimit = RateLimit {
    hits: 30,
    window: SignedDuration::from_mins(10),
};
/// Password-reset requests per client address (per account, `RESET_INTERVAL` applies).
pub const RESET_PER_ADDRESS: RateLimit = RateLimit {
    hits: 10,
    window: SignedDuration::from_mins(10),
};
/// Add User or Import Users rows refused because their address is already in use, per person
/// adding: enough for honest mistakes, too few to map which addresses exist.
pub const ADDRESS_IN_USE_PER_CALLER: RateLimit = RateLimit {
    hits: 50,
    window: SignedDuration::from_hours(1),
};

/// The longest window of any rate limit: counters older than that can be forgotten.
pub const LONGEST_RATE_WINDOW: SignedDuration = SignedDuration::from_hours(1);

/// Whether another password-reset email may go out, given when the last one was asked.
pub fn may_send_reset(last_sent: Option<Timestamp>, now: Timestamp) -> bool {
    last_sent.is_none_or(|last| now >= last + RESET_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const LEARNER: Role = Role::Company {
        company: CompanyId(1),
        manager: false,
        learner: true,
    };
    const MANAGER: Role = Role::Company {
        company: CompanyId(1),
        manager: true,
        learner: false,
    };

    fn user(role: Role) -> UserFacts {
        UserFacts {
            role,
            created_at: at("2026-01-01T00:00:00Z"),
            deactivated: false,
            seat_expires_at: None,
            last_seat_ended_at: None,
        }
    }

    fn trial_ending(s: &str) -> CompanyFacts {
        CompanyFacts {
            trial_ends_at: at(s),
            licensed_until: None,
            managed_until: None,
        }
    }

    #[test]
    fn a_learner_on_a_running_trial_is_active_until_the_trial_ends() {
        let company = trial_ending("2026-01-31T00:00:00Z");
        let now = at("2026-01-10T00:00:00Z");
        assert_eq!(
            licence_status(&user(LEARNER), &company, now),
            LicenceStatus::Active {
                until: at("2026-01-31T00:00:00Z"),
                trial: true
            }
        );
        assert_eq!(
            sign_in(&user(LEARNER), Some(&company), now),
            SignInDecision::Allowed {
                landing: Landing::LearnerHome,
                until: Some(at("2026-01-31T00:00:00Z"))
            }
        );
    }

    #[test]
    fn expired_learner_cannot_sign_in() {
        let company = trial_ending("2026-01-31T00:00:00Z");
        assert_eq!(
            sign_in(&user(LEARNER), Some(&company), at("2026-02-01T00:00:00Z")),
            SignInDecision::Refused(SignInRefusal::LicenceExpired {
                on: at("2026-01-31T00:00:00Z")
            })
        );
    }

    #[test]
    fn a_learner_with_a_seat_is_active_until_the_batch_expires() {
        let company = CompanyFacts {
            trial_ends_at: at("2026-01-05T00:00:00Z"),
            licensed_until: Some(at("2027-01-05T00:00:00Z")),
            managed_until: None,
        };
        let mut learner = user(LEARNER);
        learner.seat_expires_at = Some(at("2027-01-05T00:00:00Z"));
        assert_eq!(
            licence_status(&learner, &company, at("2026-06-01T00:00:00Z")),
            LicenceStatus::Active {
                until: at("2027-01-05T00:00:00Z"),
                trial: false
            }
        );
        assert_eq!(
            licence_status(&learner, &company, at("2027-01-05T00:00:00Z")),
            LicenceStatus::Expired {
                on: at("2027-01-05T00:00:00Z")
            }
        );
    }

    #[test]
    fn a_learner_with_an_nfr_seat_is_active_and_never_expires() {
        let never = crate::domain::company::NEVER;
        let internal = CompanyFacts {
            trial_ends_at: at("2026-01-05T00:00:00Z"),
            licensed_until: Some(never),
            managed_until: None,
        };
        let mut staff = user(LEARNER);
        staff.seat_expires_at = Some(never);
        for now in ["2026-06-01T00:00:00Z", "2526-06-01T00:00:00Z"] {
            assert_eq!(
                licence_status(&staff, &internal, at(now)),
                LicenceStatus::Active {
                    until: never,
                    trial: false
                }
            );
        }
    }

    #[test]
    fn a_user_added_after_the_trial_without_a_seat_awaits_a_licence() {
        let company = CompanyFacts {
            trial_ends_at: at("2026-01-05T00:00:00Z"),
            licensed_until: Some(at("2027-01-05T00:00:00Z")),
            managed_until: None,
        };
        let mut learner = user(LEARNER);
        learner.created_at = at("2026-03-01T00:00:00Z");
        let now = at("2026-03-02T00:00:00Z");
        assert_eq!(
            licence_status(&learner, &company, now),
            LicenceStatus::AwaitingLicence
        );
        assert_eq!(
            sign_in(&learner, Some(&company), now),
            SignInDecision::Refused(SignInRefusal::AwaitingLicence)
        );
    }

    #[test]
    fn a_released_seat_leaves_the_learner_expired_from_the_release() {
        let company = CompanyFacts {
            trial_ends_at: at("2026-01-05T00:00:00Z"),
            licensed_until: Some(at("2027-01-05T00:00:00Z")),
            managed_until: None,
        };
        let mut learner = user(LEARNER);
        learner.last_seat_ended_at = Some(at("2026-04-01T00:00:00Z"));
        assert_eq!(
            licence_status(&learner, &company, at("2026-05-01T00:00:00Z")),
            LicenceStatus::Expired {
                on: at("2026-04-01T00:00:00Z")
            }
        );
    }

    #[test]
    fn a_manager_of_an_expired_company_lands_on_the_landing_page() {
        let company = trial_ending("2026-01-31T00:00:00Z");
        assert_eq!(
            sign_in(&user(MANAGER), Some(&company), at("2026-02-03T00:00:00Z")),
            SignInDecision::Allowed {
                landing: Landing::LandingPage {
                    ended_on: at("2026-01-31T00:00:00Z")
                },
                until: None
            }
        );
    }

    #[test]
    fn a_manager_who_is_also_a_learner_signs_in_as_a_manager() {
        let company = trial_ending("2026-01-31T00:00:00Z");
        let both = user(Role::Company {
            company: CompanyId(1),
            manager: true,
            learner: true,
        });
        assert!(matches!(
            sign_in(&both, Some(&company), at("2026-02-03T00:00:00Z")),
            SignInDecision::Allowed {
                landing: Landing::LandingPage { .. },
                ..
            }
        ));
    }

    #[test]
    fn a_deactivated_user_is_refused_whatever_the_role() {
        for role in [
            Role::Operator,
            Role::Partner {
                partner: PartnerId(1),
                admin: true,
            },
            MANAGER,
            LEARNER,
        ] {
            let mut u = user(role);
            u.deactivated = true;
            assert_eq!(
                sign_in(
                    &u,
                    Some(&trial_ending("2030-01-01T00:00:00Z")),
                    at("2026-01-02T00:00:00Z")
                ),
                SignInDecision::Refused(SignInRefusal::Deactivated)
            );
        }
    }

    #[test]
    fn partner_users_land_on_the_admin_dashboard() {
        assert_eq!(
            sign_in(
                &user(Role::Partner {
                    partner: PartnerId(1),
                    admin: false
                }),
                None,
                at("2026-01-02T00:00:00Z")
            ),
            SignInDecision::Allowed {
                landing: Landing::AdminDashboard,
                until: None
            }
        );
    }

    #[test]
    fn the_third_wrong_password_locks_the_account_for_ten_minutes() {
        let now = at("2026-01-01T10:00:00Z");
        assert_eq!(lock_after_failure(2, now), None);
        let until = lock_after_failure(3, now).unwrap();
        assert_eq!(until, at("2026-01-01T10:10:00Z"));
        assert_eq!(lock_after_failure(4, now), Some(until));
    }

    #[test]
    fn no_rate_limit_outlasts_the_longest_window() {
        for limit in [
            SIGN_IN_PER_ADDRESS,
            SIGN_IN_PER_ACCOUNT,
            RESET_PER_ADDRESS,
            ADDRESS_IN_USE_PER_CALLER,
        ] {
            assert!(limit.window <= LONGEST_RATE_WINDOW, "{limit:?}");
        }
    }

    #[test]
    fn a_rate_limit_counts_in_fixed_windows_and_says_when_to_retry() {
        let limit = RateLimit {
            hits: 2,
            window: SignedDuration::from_mins(10),
        };
        let now = at("2026-01-01T10:07:30Z");
        assert_eq!(limit.window_at(now), at("2026-01-01T10:00:00Z"));
        assert_eq!(limit.retry_at(now), at("2026-01-01T10:10:00Z"));
        assert!(limit.allows(1) && limit.allows(2));
        assert!(!limit.allows(3));
        assert_eq!(
            limit.window_at(at("2026-01-01T10:10:00Z")),
            at("2026-01-01T10:10:00Z")
        );
    }

    #[test]
    fn a_reset_email_goes_out_at_most_once_per_thirty_minutes() {
        let sent = at("2026-01-01T10:00:00Z");
        assert!(may_send_reset(None, sent));
        assert!(!may_send_reset(Some(sent), at("2026-01-01T10:29:59Z")));
        assert!(may_send_reset(Some(sent), at("2026-01-01T10:30:00Z")));
    }
}
