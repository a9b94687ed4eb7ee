//! The one source of "now". Code asks a `Clock`; production uses the system's, demos and
//! end-to-end tests a simulated one that starts at a chosen instant, unit and storage tests a
//! manual one they move by hand.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

pub type SharedClock = Arc<dyn Clock>;

/// A fixed instant is a clock that stands still: `tick --at` and tests that pass one instant.
impl Clock for Timestamp {
    fn now(&self) -> Timestamp {
        *self
    }
}

impl Clock for SharedClock {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Starts at a chosen instant and advances in real time (`serve --now`).
pub struct SimulatedClock {
    start: Timestamp,
    started: Instant,
}

impl SimulatedClock {
    pub fn starting_at(start: Timestamp) -> Self {
        Self {
            start,
            started: Instant::now(),
        }
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> Timestamp {
        let elapsed =
            SignedDuration::try_from(self.started.elapsed()).unwrap_or(SignedDuration::MAX);
        self.start.saturating_add(elapsed).unwrap_or(Timestamp::MAX)
    }
}

/// Stands still until told otherwise; for tests that travel in time.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    pub fn at(start: Timestamp) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn set(&self, now: Timestamp) {
        *self.0.lock().expect("clock lock") = now;
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().expect("clock lock");
        *now = now.saturating_add(by).unwrap_or(Timestamp::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("clock lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_clock_starts_at_the_given_instant_and_moves_forward() {
        let start: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let clock = SimulatedClock::starting_at(start);
        let now = clock.now();
        assert!(now >= start && now < start + SignedDuration::from_secs(60));
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let clock = ManualClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(SignedDuration::from_hours(72));
        assert_eq!(clock.now().to_string(), "2030-01-04T00:00:00Z");
    }
}
