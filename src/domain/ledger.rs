//! The append-only seat ledger and its replay.
//!
//! Every change to seats is an event. Replaying a batch's events must give the batch's stored
//! counts, and replaying a user's events must never show two active seats at once; `seatledger
//! check` streams the events through these replays to prove the stored state.

use std::collections::HashSet;

use jiff::Timestamp;

use super::ids::{BatchId, CompanyId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatEventKind {
    BatchAssigned {
        quantity: u32,
        expires_at: Timestamp,
    },
    SeatAllocated {
        user: UserId,
    },
    SeatReleased {
        user: UserId,
    },
    BatchExpired,
}

impl SeatEventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            SeatEventKind::BatchAssigned { .. } => "batch_assigned",
            SeatEventKind::SeatAllocated { .. } => "seat_allocated",
            SeatEventKind::SeatReleased { .. } => "seat_released",
            SeatEventKind::BatchExpired => "batch_expired",
        }
    }
}

/// One change to seats: what happened to which batch, when, done by whom, acting for which company.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatEvent {
    pub batch: BatchId,
    pub at: Timestamp,
    pub kind: SeatEventKind,
    /// The person who did it; `None` for the scheduler.
    pub actor: Option<UserId>,
    /// The company a partner user acted for in manage mode.
    pub on_behalf_of: Option<CompanyId>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("batch {0} has an event before it was assigned")]
    NotAssigned(BatchId),
    #[error("batch {0} is assigned twice")]
    AssignedTwice(BatchId),
    #[error("batch {batch} allocates more than its {quantity} seats")]
    OverAllocated { batch: BatchId, quantity: u32 },
    #[error("batch {batch} allocates a seat after it expired")]
    AllocatedAfterExpiry { batch: BatchId },
    #[error("user {user} is given a second seat in batch {batch}")]
    SeatHeldTwice { batch: BatchId, user: UserId },
    #[error("user {user} releases a seat of batch {batch} they do not hold")]
    ReleaseWithoutSeat { batch: BatchId, user: UserId },
    #[error("user {user} holds two active seats (batches {first} and {second})")]
    TwoActiveSeats {
        user: UserId,
        first: BatchId,
        second: BatchId,
    },
}

/// A batch's counts rebuilt from its events, in the order they happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchReplay {
    pub batch: BatchId,
    pub quantity: u32,
    pub expires_at: Option<Timestamp>,
    holders: HashSet<UserId>,
}

impl BatchReplay {
    pub fn new(batch: BatchId) -> Self {
        Self {
            batch,
            quantity: 0,
            expires_at: None,
            holders: HashSet::new(),
        }
    }

    /// Seats currently allocated and not released (seats of an expired batch stay counted).
    pub fn allocated(&self) -> u32 {
        self.holders.len() as u32
    }

    pub fn apply(&mut self, event: &SeatEvent) -> Result<(), LedgerError> {
        let batch = self.batch;
        if let SeatEventKind::BatchAssigned {
            quantity,
            expires_at,
        } = event.kind
        {
            if self.expires_at.is_some() {
                return Err(LedgerError::AssignedTwice(batch));
            }
            self.quantity = quantity;
            self.expires_at = Some(expires_at);
            return Ok(());
        }
        let expires_at = self.expires_at.ok_or(LedgerError::NotAssigned(batch))?;
        match event.kind {
            SeatEventKind::BatchAssigned { .. } | SeatEventKind::BatchExpired => Ok(()),
            SeatEventKind::SeatAllocated { user } => {
                if event.at >= expires_at {
                    return Err(LedgerError::AllocatedAfterExpiry { batch });
                }
                if self.allocated() >= self.quantity {
                    return Err(LedgerError::OverAllocated {
                        batch,
                        quantity: self.quantity,
                    });
                }
                if !self.holders.insert(user) {
                    return Err(LedgerError::SeatHeldTwice { batch, user });
                }
                Ok(())
            }
            SeatEventKind::SeatReleased { user } => {
                if self.holders.remove(&user) {
                    Ok(())
                } else {
                    Err(LedgerError::ReleaseWithoutSeat { batch, user })
                }
            }
        }
    }
}

/// One user's seats rebuilt from their events: at most one active seat at any instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserReplay {
    pub user: UserId,
    held: Option<(BatchId, Timestamp)>,
}

impl UserReplay {
    pub fn new(user: UserId) -> Self {
        Self { user, held: None }
    }

    /// Applies one of the user's events; `batch_expires_at` is the expiry of the event's batch.
    pub fn apply(
        &mut self,
        event: &SeatEvent,
        batch_expires_at: Timestamp,
    ) -> Result<(), LedgerError> {
        let user = self.user;
        match event.kind {
            SeatEventKind::SeatAllocated { .. } => {
                if let Some((first, expires)) = self.held
                    && expires > event.at
                {
                    return Err(LedgerError::TwoActiveSeats {
                        user,
                        first,
                        second: event.batch,
                    });
                }
                self.held = Some((event.batch, batch_expires_at));
                Ok(())
            }
            SeatEventKind::SeatReleased { .. } => match self.held {
                Some((batch, _)) if batch == event.batch => {
                    self.held = None;
                    Ok(())
                }
                _ => Err(LedgerError::ReleaseWithoutSeat {
                    batch: event.batch,
                    user,
                }),
            },
            SeatEventKind::BatchAssigned { .. } | SeatEventKind::BatchExpired => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn event(batch: i64, at_: &str, kind: SeatEventKind) -> SeatEvent {
        SeatEvent {
            batch: BatchId(batch),
            at: at(at_),
            kind,
            actor: None,
            on_behalf_of: None,
        }
    }

    fn assigned(quantity: u32) -> SeatEventKind {
        SeatEventKind::BatchAssigned {
            quantity,
            expires_at: at("2027-01-01T00:00:00Z"),
        }
    }

    fn allocate(user: i64) -> SeatEventKind {
        SeatEventKind::SeatAllocated { user: UserId(user) }
    }

    fn release(user: i64) -> SeatEventKind {
        SeatEventKind::SeatReleased { user: UserId(user) }
    }

    #[test]
    fn replay_counts_allocations_minus_releases() {
        let mut replay = BatchReplay::new(BatchId(1));
        for kind in [
            assigned(3),
            allocate(1),
            allocate(2),
            release(1),
            allocate(3),
        ] {
            replay
                .apply(&event(1, "2026-02-01T00:00:00Z", kind))
                .unwrap();
        }
        assert_eq!((replay.quantity, replay.allocated()), (3, 2));
    }

    #[test]
    fn a_released_seat_can_be_allocated_again() {
        let mut replay = BatchReplay::new(BatchId(1));
        for kind in [assigned(1), allocate(1), release(1), allocate(2)] {
            replay
                .apply(&event(1, "2026-02-01T00:00:00Z", kind))
                .unwrap();
        }
        assert_eq!(replay.allocated(), 1);
    }

    #[test]
    fn replay_refuses_more_seats_than_the_quantity() {
        let mut replay = BatchReplay::new(BatchId(7));
        replay
            .apply(&event(7, "2026-02-01T00:00:00Z", assigned(1)))
            .unwrap();
        replay
            .apply(&event(7, "2026-02-01T00:00:00Z", allocate(1)))
            .unwrap();
        assert_eq!(
            replay.apply(&event(7, "2026-02-01T00:00:00Z", allocate(2))),
            Err(LedgerError::OverAllocated {
                batch: BatchId(7),
                quantity: 1
            })
        );
    }

    #[test]
    fn replay_refuses_events_before_assignment_and_after_expiry() {
        let mut replay = BatchReplay::new(BatchId(2));
        assert_eq!(
            replay.apply(&event(2, "2026-02-01T00:00:00Z", allocate(1))),
            Err(LedgerError::NotAssigned(BatchId(2)))
        );
        replay
            .apply(&event(2, "2026-02-01T00:00:00Z", assigned(5)))
            .unwrap();
        assert_eq!(
            replay.apply(&event(2, "2027-01-01T00:00:00Z", allocate(1))),
            Err(LedgerError::AllocatedAfterExpiry { batch: BatchId(2) })
        );
        assert_eq!(
            replay.apply(&event(2, "2026-03-01T00:00:00Z", release(9))),
            Err(LedgerError::ReleaseWithoutSeat {
                batch: BatchId(2),
                user: UserId(9)
            })
        );
    }

    #[test]
    fn nfr_seats_replay_like_any_seat_and_never_lapse() {
        let never = crate::domain::company::NEVER;
        let mut replay = BatchReplay::new(BatchId(3));
        let nfr = SeatEventKind::BatchAssigned {
            quantity: 10,
            expires_at: never,
        };
        replay
            .apply(&event(3, "2026-02-01T00:00:00Z", nfr))
            .unwrap();
        for (when, kind) in [
            ("2030-01-01T00:00:00Z", allocate(1)),
            ("2040-01-01T00:00:00Z", release(1)),
            ("9000-01-01T00:00:00Z", allocate(2)),
        ] {
            replay.apply(&event(3, when, kind)).unwrap();
        }
        assert_eq!((replay.quantity, replay.allocated()), (10, 1));
        let mut user = UserReplay::new(UserId(2));
        user.apply(&event(3, "2030-01-01T00:00:00Z", allocate(2)), never)
            .unwrap();
        assert!(
            user.apply(
                &event(4, "9000-01-01T00:00:00Z", allocate(2)),
                at("9001-01-01T00:00:00Z")
            )
            .is_err(),
            "an NFR seat is still held centuries later"
        );
    }

    #[test]
    fn a_user_may_not_hold_two_active_seats() {
        let mut user = UserReplay::new(UserId(1));
        let expires = at("2027-01-01T00:00:00Z");
        user.apply(&event(1, "2026-02-01T00:00:00Z", allocate(1)), expires)
            .unwrap();
        assert_eq!(
            user.apply(&event(2, "2026-02-02T00:00:00Z", allocate(1)), expires),
            Err(LedgerError::TwoActiveSeats {
                user: UserId(1),
                first: BatchId(1),
                second: BatchId(2)
            })
        );
    }

    #[test]
    fn a_user_whose_seat_expired_may_get_a_new_one() {
        let mut user = UserReplay::new(UserId(1));
        user.apply(
            &event(1, "2026-02-01T00:00:00Z", allocate(1)),
            at("2026-03-01T00:00:00Z"),
        )
        .unwrap();
        user.apply(
            &event(2, "2026-03-01T00:00:00Z", allocate(1)),
            at("2027-03-01T00:00:00Z"),
        )
        .unwrap();
    }
}
