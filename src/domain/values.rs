//! Values that can only be constructed valid ("parse, don't validate"). Each type says what it
//! accepts once; the console and the API both parse through it.

use std::fmt;

/// Why a value was refused. Typed, so the API can name a stable cause; `Display` is the sentence
/// the console shows after the field's label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    #[error("this field is required")]
    Required,
    #[error("at most {max} characters, not {got}")]
    TooLong { max: usize, got: usize },
    #[error("at least {min} characters")]
    TooShort { min: usize },
    #[error("control characters are not allowed")]
    ControlCharacters,
    #[error("\"{0}\" is not an email address")]
    NotAnEmail(String),
    #[error("\"{0}\" is not a whole number")]
    NotANumber(String),
    #[error("must be between {min} and {max}, not {got}")]
    OutOfRange { min: i64, max: i64, got: i64 },
    #[error("\"{0}\" is not a time zone name such as Europe/London")]
    UnknownTimeZone(String),
    #[error("\"{got}\" is not one of: {allowed}")]
    NotOneOf { got: String, allowed: &'static str },
    #[error("choose one of the listed options")]
    UnknownChoice,
    #[error("the two entries differ")]
    Mismatch,
    #[error(
        "\"{0}\" is not an http:// or https:// address with a host (and no user name or password)"
    )]
    NotAWebhookUrl(String),
    #[error("{host} is a {kind} address ({address}), which webhooks may not call")]
    PrivateAddress {
        host: String,
        address: String,
        kind: &'static str,
    },
    #[error("the host {0} could not be found")]
    UnknownHost(String),
    #[error("must lie in the future")]
    InThePast,
    #[error("\"{0}\" is not an instant such as 2026-11-26T09:00:00Z")]
    NotAnInstant(String),
}

impl InvalidValue {
    /// A stable name for the cause, for the API's problem types.
    pub fn code(&self) -> &'static str {
        match self {
            InvalidValue::Required => "required",
            InvalidValue::TooLong { .. } => "too-long",
            InvalidValue::TooShort { .. } => "too-short",
            InvalidValue::ControlCharacters => "control-characters",
            InvalidValue::NotAnEmail(_) => "not-an-email",
            InvalidValue::NotANumber(_) => "not-a-number",
            InvalidValue::OutOfRange { .. } => "out-of-range",
            InvalidValue::UnknownTimeZone(_) => "unknown-time-zone",
            InvalidValue::NotOneOf { .. } => "not-one-of",
            InvalidValue::UnknownChoice => "unknown-choice",
            InvalidValue::Mismatch => "mismatch",
            InvalidValue::NotAWebhookUrl(_) => "not-a-webhook-url",
            InvalidValue::PrivateAddress { .. } => "private-address",
            InvalidValue::UnknownHost(_) => "unknown-host",
            InvalidValue::InThePast => "in-the-past",
            InvalidValue::NotAnInstant(_) => "not-an-instant",
        }
    }
}

/// `raw` trimmed, refused when longer than `max` characters, holding control characters, or
/// empty while `required`. Every text the product stores is bounded through here.
fn bounded(raw: &str, max: usize, required: bool) -> Result<String, InvalidValue> {
    let text = raw.trim();
    if required && text.is_empty() {
        return Err(InvalidValue::Required);
    }
    let got = text.chars().count();
    if got > max {
        return Err(InvalidValue::TooLong { max, got });
    }
    if text.chars().any(char::is_control) {
        return Err(InvalidValue::ControlCharacters);
    }
    Ok(text.to_owned())
}

macro_rules! bounded_text {
    ($($(#[$doc:meta])* $name:ident: max $max:literal, required $required:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub const MAX: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                bounded(raw, $max, $required).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text of a stored value, which was parsed when it was stored.
            pub fn from_stored(stored: String) -> Self {
                Self(stored)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

bounded_text! {
    /// A company's or a partner's name: 1 to 200 characters.
    OrgName: max 200, required true;
    /// A first or last name: up to 200 characters, may be empty.
    PersonName: max 200, required false;
    /// A learner's department: up to 200 characters, may be empty.
    Department: max 200, required false;
    /// A country as typed: up to 100 characters, may be empty.
    Country: max 100, required false;
    /// Why an order was rejected: 1 to 1,000 characters.
    RejectReason: max 1000, required true;
    /// A request form's one-time key (stored with the order so a double submit makes one):
    /// the console's are 43 characters; an API client's idempotency key may be longer.
    RequestKey: max 200, required true;
    /// What an API key is for, as its owner names it: 1 to 100 characters.
    KeyName: max 100, required true;
    /// Text searched for in company names: up to 200 characters (a name's most). Stored names
    /// hold no control characters, so a search holding one is refused rather than sent to a
    /// database that would choke on it (PostgreSQL refuses NUL in text; FTS5 ends its query
    /// there).
    NameSearch: max 200, required false;
}

impl NameSearch {
    /// `raw` as a search, or `None` when it is blank: a blank search keeps every name.
    pub fn parse_filter(raw: &str) -> Result<Option<Self>, InvalidValue> {
        Self::parse(raw).map(|search| Some(search).filter(|s| !s.0.is_empty()))
    }
}

impl PersonName {
    /// A name cut to the limit, for imports that keep a row rather than refuse a long name.
    pub fn truncated(raw: &str) -> Self {
        let cut: String = raw.trim().chars().take(Self::MAX).collect();
        Self(cut.chars().filter(|c| !c.is_control()).collect())
    }
}

impl Department {
    /// A department cut to the limit, for imports (see `PersonName::truncated`).
    pub fn truncated(raw: &str) -> Self {
        let cut: String = raw.trim().chars().take(Self::MAX).collect();
        Self(cut.chars().filter(|c| !c.is_control()).collect())
    }
}

/// An email address, trimmed and lower-cased, with one `@` and a dotted domain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let email = raw.trim().to_lowercase();
        let invalid = || InvalidValue::NotAnEmail(raw.trim().chars().take(254).collect());
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

/// An IANA time zone name the server knows, such as `Europe/London`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.trim();
        let unknown = || InvalidValue::UnknownTimeZone(name.chars().take(64).collect());
        if name.len() > 64 {
            return Err(unknown());
        }
        // The database's own spelling: "europe/berlin" is stored and shown as "Europe/Berlin".
        let zone = jiff::tz::TimeZone::get(name).map_err(|_| unknown())?;
        Ok(Self(zone.iana_name().unwrap_or(name).to_owned()))
    }

    /// Every IANA name the time-zone database knows, in order, for a form's choices.
    pub fn all() -> Vec<String> {
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.to_string())
            // The system database also holds its alternative trees, which are not zones.
            .filter(|n| !n.starts_with("posix/") && !n.starts_with("right/"))
            .collect();
        names.sort();
        names
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A whole number as people type it ("1,000", " 250 ").
fn whole_number(raw: &str) -> Result<i64, InvalidValue> {
    let trimmed = raw.trim();
    trimmed
        .replace([',', '_', ' '], "")
        .parse::<i64>()
        .map_err(|_| InvalidValue::NotANumber(trimmed.chars().take(40).collect()))
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
            Err(InvalidValue::OutOfRange {
                min: 1,
                max: i64::from(Self::MAX),
                got: n,
            })
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::new(whole_number(raw)?)
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
            Err(InvalidValue::OutOfRange {
                min: 1,
                max: 90,
                got: days,
            })
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::new(whole_number(raw)?)
    }

    pub fn get(self) -> u16 {
        self.0
    }

    /// The instant a trial that starts at `start` ends.
    pub fn trial_end(self, start: jiff::Timestamp) -> jiff::Timestamp {
        start + jiff::SignedDuration::from_hours(24 * i64::from(self.0))
    }
}

/// A new password: 10 to 1,000 characters. The upper bound keeps hashing cheap for hostile input.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 10;
    pub const MAX: usize = 1000;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let got = raw.chars().count();
        if got < Self::MIN {
            return Err(InvalidValue::TooShort { min: Self::MIN });
        }
        if got > Self::MAX {
            return Err(InvalidValue::TooLong {
                max: Self::MAX,
                got,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
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
        assert_eq!(
            SeatCount::new(0),
            Err(InvalidValue::OutOfRange {
                min: 1,
                max: 100_000,
                got: 0
            })
        );
        assert!(SeatCount::new(100_001).is_err());
        assert_eq!(SeatCount::parse(" 1,000 ").unwrap().get(), 1000);
        assert_eq!(
            SeatCount::parse("ten"),
            Err(InvalidValue::NotANumber("ten".into()))
        );
    }

    #[test]
    fn trial_days_are_one_to_ninety() {
        assert!(TrialDays::new(0).is_err());
        assert!(TrialDays::new(91).is_err());
        assert_eq!(TrialDays::parse("45").unwrap().get(), 45);
        let start: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            TrialDays::DEFAULT.trial_end(start).to_string(),
            "2026-01-31T00:00:00Z"
        );
    }

    #[test]
    fn texts_are_trimmed_and_bounded_and_refuse_control_characters() {
        assert_eq!(OrgName::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert_eq!(OrgName::parse("   "), Err(InvalidValue::Required));
        assert_eq!(
            OrgName::parse(&"x".repeat(201)),
            Err(InvalidValue::TooLong { max: 200, got: 201 })
        );
        assert_eq!(
            PersonName::parse("Ann\u{0}"),
            Err(InvalidValue::ControlCharacters)
        );
        assert_eq!(PersonName::parse("").unwrap().as_str(), "");
        assert!(RejectReason::parse(&"y".repeat(1000)).is_ok());
        assert!(RejectReason::parse(&"y".repeat(1001)).is_err());
        assert_eq!(PersonName::truncated(&"z".repeat(300)).as_str().len(), 200);
    }

    #[test]
    fn a_name_search_is_bounded_refuses_control_characters_and_is_none_when_blank() {
        assert_eq!(NameSearch::parse_filter("  "), Ok(None));
        assert_eq!(
            NameSearch::parse_filter(" Acme ")
                .unwrap()
                .unwrap()
                .as_str(),
            "Acme"
        );
        assert_eq!(
            NameSearch::parse_filter("j\u{0}U"),
            Err(InvalidValue::ControlCharacters)
        );
        assert_eq!(
            NameSearch::parse_filter(&"n".repeat(201)),
            Err(InvalidValue::TooLong { max: 200, got: 201 })
        );
    }

    #[test]
    fn time_zones_must_be_known_names() {
        assert_eq!(
            TimeZoneName::parse(" Europe/Berlin ").unwrap().as_str(),
            "Europe/Berlin"
        );
        assert_eq!(
            TimeZoneName::parse("america/new_york").unwrap().as_str(),
            "America/New_York"
        );
        assert!(TimeZoneName::parse("../../etc/passwd").is_err());
        let all = TimeZoneName::all();
        assert!(all.iter().any(|n| n == "Pacific/Auckland"));
        assert!(
            all.iter().all(|n| TimeZoneName::parse(n).is_ok()),
            "{all:?}"
        );
        assert!(matches!(
            TimeZoneName::parse("Mars/Olympus"),
            Err(InvalidValue::UnknownTimeZone(_))
        ));
    }

    #[test]
    fn passwords_are_ten_to_a_thousand_characters() {
        assert_eq!(
            Password::parse("short"),
            Err(InvalidValue::TooShort { min: 10 })
        );
        assert!(Password::parse(&"p".repeat(1001)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("long enough!").unwrap()),
            "Password(..)"
        );
    }
}
