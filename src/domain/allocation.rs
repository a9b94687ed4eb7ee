//! Which seats a request for seats gets: first-expiring-first, all or nothing.

use jiff::Timestamp;

use super::ids::BatchId;

/// A batch of the company with its free seats, as storage reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeBatch {
    pub id: BatchId,
    pub expires_at: Timestamp,
    pub free: u32,
}

/// How many seats to take from which batch, soonest-expiring batch first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationPlan(pub Vec<(BatchId, u32)>);

/// Refusal of an allocation that asks for more seats than are free; nothing is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{requested} learners need a licence but only {free} seats are free")]
pub struct NotEnoughSeats {
    pub requested: u32,
    pub free: u32,
}

/// Plans `wanted` seats from `batches`, taking the active batch that expires soonest first, so no
/// seat expires unused while a later one is spent. Expired and full batches are skipped.
pub fn plan(
    batches: &[FreeBatch],
    wanted: u32,
    now: Timestamp,
) -> Result<AllocationPlan, NotEnoughSeats> {
    let mut usable: Vec<FreeBatch> = batches
        .iter()
        .copied()
        .filter(|b| b.expires_at > now && b.free > 0)
        .collect();
    usable.sort_by_key(|b| (b.expires_at, b.id));
    let free = usable.iter().map(|b| b.free).sum::<u32>();
    if free < wanted {
        return Err(NotEnoughSeats {
            requested: wanted,
            free,
        });
    }
    let mut left = wanted;
    let mut takes = Vec::new();
    for batch in usable {
        if left == 0 {
            break;
        }
        let take = batch.free.min(left);
        takes.push((batch.id, take));
        left -= take;
    }
    Ok(AllocationPlan(takes))
}

/// Why a user is being looked at for a seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatOccasion {
    /// The user was just added to the company.
    NewUser,
    /// The user's licence expired; they may have left the company.
    ExpiredUser,
}

/// New users get a free seat automatically; expired users never do (a person renews them).
pub fn allocates_automatically(occasion: SeatOccasion) -> bool {
    matches!(occasion, SeatOccasion::NewUser)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn batch(id: i64, expires: &str, free: u32) -> FreeBatch {
        FreeBatch {
            id: BatchId(id),
            expires_at: at(expires),
            free,
        }
    }

    #[test]
    fn seats_come_from_the_batch_that_expires_first() {
        let batches = [
            batch(1, "2027-06-01T00:00:00Z", 5),
            batch(2, "2027-02-01T00:00:00Z", 2),
        ];
        let plan = plan(&batches, 3, at("2026-06-01T00:00:00Z")).unwrap();
        assert_eq!(plan.0, vec![(BatchId(2), 2), (BatchId(1), 1)]);
    }

    #[test]
    fn nfr_seats_are_drawn_after_every_batch_that_expires() {
        let never = crate::domain::company::NEVER;
        let batches = [
            FreeBatch {
                id: BatchId(1),
                expires_at: never,
                free: 10,
            },
            batch(2, "2027-02-01T00:00:00Z", 2),
        ];
        let plan = plan(&batches, 4, at("2026-06-01T00:00:00Z")).unwrap();
        assert_eq!(plan.0, vec![(BatchId(2), 2), (BatchId(1), 2)]);
        let later = super::plan(&batches, 10, at("2090-06-01T00:00:00Z")).unwrap();
        assert_eq!(
            later.0,
            vec![(BatchId(1), 10)],
            "only NFR seats remain valid"
        );
    }

    #[test]
    fn expired_and_full_batches_are_skipped() {
        let batches = [
            batch(1, "2026-01-01T00:00:00Z", 5),
            batch(2, "2027-02-01T00:00:00Z", 0),
            batch(3, "2027-03-01T00:00:00Z", 1),
        ];
        let plan = plan(&batches, 1, at("2026-06-01T00:00:00Z")).unwrap();
        assert_eq!(plan.0, vec![(BatchId(3), 1)]);
    }

    #[test]
    fn asking_for_more_than_is_free_allocates_nothing_and_says_both_numbers() {
        let batches = [batch(1, "2027-01-01T00:00:00Z", 249)];
        let err = plan(&batches, 250, at("2026-06-01T00:00:00Z")).unwrap_err();
        assert_eq!(
            err,
            NotEnoughSeats {
                requested: 250,
                free: 249
            }
        );
        assert_eq!(
            err.to_string(),
            "250 learners need a licence but only 249 seats are free"
        );
    }

    #[test]
    fn only_new_users_get_a_seat_automatically() {
        assert!(allocates_automatically(SeatOccasion::NewUser));
        assert!(!allocates_automatically(SeatOccasion::ExpiredUser));
    }
}
