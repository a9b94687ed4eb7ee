//! Values that can only be constructed valid ("parse, don't validate").

use std::fmt;

/// Why a value was refused; the message is shown to the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// An email address, trimmed and lower-cased, with one `@` and a dotted domain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let email = raw.trim().to_lowercase();
        let invalid = || InvalidValue(format!("\"{}\" is not an email address", raw.trim()));
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A number of licences in one order or batch: 1 to 100,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeatCount(u32);

impl SeatCount {
    pub const MAX: u32 = 100_000;

    pub fn new(n: i64) -> Result<Self, InvalidValue> {
        if (1..=i64::from(Self::MAX)).contains(&n) {
            Ok(Self(n as u32))
        } else {
            Err(InvalidValue(format!(
                "must be between 1 and {}, not {n}",
                Self::MAX
            )))
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let n = raw
            .trim()
            .replace([',', '_', ' '], "")
            .parse::<i64>()
            .map_err(|_| InvalidValue(format!("\"{}\" is not a whole number", raw.trim())))?;
        Self::new(n)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A partner's trial length setting: 1 to 90 days, 30 by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrialDays(u16);

impl TrialDays {
    pub const DEFAULT: TrialDays = TrialDays(30);

    pub fn new(days: i64) -> Result<Self, InvalidValue> {
        if (1..=90).contains(&days) {
            Ok(Self(days as u16))
        } else {
            Err(InvalidValue(format!(
                "a trial lasts 1 to 90 days, not {days}"
            )))
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }

    /// The instant a trial that starts at `start` ends.
    pub fn trial_end(self, start: jiff::Timestamp) -> jiff::Timestamp {
        start + jiff::SignedDuration::from_hours(24 * i64::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ann.Lee@Example.COM ").unwrap().as_str(),
            "ann.lee@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for raw in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@x.com",
            "a@b@c.com",
            "a@x..com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn seat_count_is_bounded() {
        assert!(SeatCount::new(0).is_err());
        assert!(SeatCount::new(100_001).is_err());
        assert_eq!(SeatCount::parse(" 1,000 ").unwrap().get(), 1000);
        assert!(SeatCount::parse("ten").is_err());
    }

    #[test]
    fn trial_days_are_one_to_ninety() {
        assert!(TrialDays::new(0).is_err());
        assert!(TrialDays::new(91).is_err());
        let start: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            TrialDays::DEFAULT.trial_end(start).to_string(),
            "2026-01-31T00:00:00Z"
        );
    }
}
