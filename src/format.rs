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
