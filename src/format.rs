//! How instants are shown: in the company's time zone, as people read dates.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// "26 Nov 2026" in `time_zone` (UTC when the zone is unknown).
pub fn date(at: Timestamp, time_zone: &str) -> String {
    let tz = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
    at.to_zoned_datetime(tz).strftime("%-d %b %Y").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_shown_in_the_company_time_zone() {
        let at: jiff::Timestamp = "2026-11-30T23:30:00Z".parse().unwrap();
        assert_eq!(super::date(at, "UTC"), "30 Nov 2026");
        assert_eq!(super::date(at, "Europe/Berlin"), "1 Dec 2026");
        assert_eq!(super::date(at, "Nowhere/Special"), "30 Nov 2026");
    }
}
