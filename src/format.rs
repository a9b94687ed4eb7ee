//! How instants are shown: in the company's time zone, as people read dates.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::domain::access::LicenceStatus;
use crate::domain::company::NEVER;

/// "26 Nov 2026" in `time_zone` (UTC when the zone is unknown); "never" for the expiry of
/// seats that never expire (NFR).
pub fn date(at: Timestamp, time_zone: &str) -> String {
    if at == NEVER {
        return "never".to_owned();
    }
    let tz = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
    at.to_zoned_datetime(tz).strftime("%-d %b %Y").to_string()
}

/// "26 Nov 2026 09:00 (Europe/London)": an instant to the minute in `time_zone`, the zone named.
pub fn date_time(at: Timestamp, time_zone: &str) -> String {
    let tz = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
    let shown = at
        .to_zoned_datetime(tz)
        .strftime("%-d %b %Y %H:%M")
        .to_string();
    format!("{shown} ({time_zone})")
}

/// `n` with thousands separated by commas, as "1,234".
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// "1 learner", "2 learners", "1,234 learners".
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// Where a page of a list sits in it: "1–50 of 1,234" (first row, last row, all rows).
pub fn position(first: u64, shown: usize, total: i64) -> String {
    if shown == 0 {
        return format!("0 of {}", count(total));
    }
    let first = i64::try_from(first).unwrap_or(i64::MAX);
    let last = first.saturating_add(shown as i64 - 1);
    format!("{}–{} of {}", count(first), count(last), count(total))
}

/// `position` for a list counted only up to `bound`: "1–50 of more than 1,000".
pub fn position_past(first: u64, shown: usize, bound: i64) -> String {
    let of = format!("more than {}", count(bound));
    if shown == 0 {
        return format!("0 of {of}");
    }
    let first = i64::try_from(first).unwrap_or(i64::MAX);
    let last = first.saturating_add(shown as i64 - 1);
    format!("{}–{} of {of}", count(first), count(last))
}

/// A licence status as the Users and Licenses sections show it.
pub fn licence(status: LicenceStatus, time_zone: &str) -> String {
    match status {
        LicenceStatus::Active { until, trial: true } => {
            format!("Active (trial) until {}", date(until, time_zone))
        }
        LicenceStatus::Active { until, .. } if until == NEVER => "Active, never expires".into(),
        LicenceStatus::Active { until, .. } => format!("Active until {}", date(until, time_zone)),
        LicenceStatus::Expired { on } => format!("Expired {}", date(on, time_zone)),
        LicenceStatus::AwaitingLicence => "Awaiting licence".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_shown_in_the_company_time_zone() {
        let at: jiff::Timestamp = "2026-11-30T23:30:00Z".parse().unwrap();
        assert_eq!(super::date(at, "UTC"), "30 Nov 2026");
        assert_eq!(super::date(at, "Europe/Berlin"), "1 Dec 2026");
        assert_eq!(super::date(at, "Nowhere/Special"), "30 Nov 2026");
        assert_eq!(super::date(super::NEVER, "Pacific/Kiritimati"), "never");
    }

    #[test]
    fn an_instant_names_its_zone() {
        let at: jiff::Timestamp = "2026-11-30T23:30:00Z".parse().unwrap();
        assert_eq!(
            super::date_time(at, "Europe/Berlin"),
            "1 Dec 2026 00:30 (Europe/Berlin)"
        );
    }

    #[test]
    fn counts_read_with_separators_and_plurals() {
        assert_eq!(super::count(0), "0");
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(1_234), "1,234");
        assert_eq!(super::count(-1_234_567), "-1,234,567");
        assert_eq!(super::plural(1, "learner", "learners"), "1 learner");
        assert_eq!(super::plural(2, "learner", "learners"), "2 learners");
        assert_eq!(super::plural(0, "seat", "seats"), "0 seats");
        assert_eq!(super::position(1, 50, 1_234), "1–50 of 1,234");
        assert_eq!(super::position(1_201, 34, 1_234), "1,201–1,234 of 1,234");
        assert_eq!(super::position(1, 0, 0), "0 of 0");
        assert_eq!(
            super::position_past(1_001, 50, 1_000),
            "1,001–1,050 of more than 1,000"
        );
    }

    #[test]
    fn licence_statuses_read_as_people_say_them() {
        use crate::domain::access::LicenceStatus;
        let on: jiff::Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        assert_eq!(
            super::licence(LicenceStatus::Expired { on }, "UTC"),
            "Expired 30 Nov 2026"
        );
        assert_eq!(
            super::licence(
                LicenceStatus::Active {
                    until: on,
                    trial: true
                },
                "UTC"
            ),
            "Active (trial) until 30 Nov 2026"
        );
        assert_eq!(
            super::licence(LicenceStatus::AwaitingLicence, "UTC"),
            "Awaiting licence"
        );
        let nfr = LicenceStatus::Active {
            until: super::NEVER,
            trial: false,
        };
        assert_eq!(super::licence(nfr, "UTC"), "Active, never expires");
    }
}
