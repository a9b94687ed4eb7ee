//! Pictures drawn on the server as SVG, no script: each chart names what it shows in a `<title>`
//! on every mark (shown on hover) and comes with the same figures as text beside it.

use askama::Template;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::db::overview::{self, MonthOfExpiries};
use crate::db::scope::AuthorisedCompany;
use crate::db::{Db, DbResult, Scope, licences};
use crate::format::{count, plural};

const WIDTH: i64 = 720;
const HEIGHT: i64 = 180;
/// Room under the plot for the labels.
const LABELS: i64 = 24;

/// One bar: where it is drawn and what it says.
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub label: String,
    pub value: String,
    pub title: String,
}

/// Seats expiring per month over the next 12 months, with the companies behind each bar.
#[derive(Template)]
#[template(path = "chart_expiries.html")]
pub struct ExpiryChart {
    pub bars: Vec<Bar>,
    pub width: i64,
    pub height: i64,
    pub plot_height: i64,
    pub empty: bool,
    pub time_zone: String,
}

/// The first instant of each of the months from `now`'s month on in `time_zone`: `months + 1`
/// boundaries, the first being `now` itself (the rest of this month).
pub fn month_starts(now: Timestamp, time_zone: &str, months: i32) -> Vec<Timestamp> {
    let tz = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
    let today = now.to_zoned_datetime(tz.clone()).date();
    let mut starts = vec![now];
    let mut month = Date::new(today.year(), today.month(), 1).unwrap_or(today);
    for _ in 0..months {
        month = month
            .checked_add(jiff::Span::new().months(1))
            .unwrap_or(month);
        let at = month
            .to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX);
        starts.push(at);
    }
    starts
}

fn month_label(at: Timestamp, time_zone: &str) -> String {
    let tz = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
    at.to_zoned_datetime(tz).strftime("%b %Y").to_string()
}

/// What a month's bar says on hover: its seats and the companies they belong to.
fn month_title(label: &str, month: &MonthOfExpiries) -> String {
    let mut title = format!("{label}: {}", plural(month.seats, "seat", "seats"));
    if !month.companies.is_empty() {
        let names: Vec<String> = month
            .companies
            .iter()
            .map(|(name, seats)| format!("{name} ({})", count(*seats)))
            .collect();
        title.push_str(" — ");
        title.push_str(&names.join(", "));
    }
    if month.other_companies > 0 {
        title.push_str(&format!(
            " and {}",
            plural(month.other_companies, "more company", "more companies")
        ));
    }
    title
}

/// Bars for `values` (label, value, title) scaled to the tallest.
fn bars(values: Vec<(String, i64, String)>) -> Vec<Bar> {
    let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(1);
    let slot = WIDTH / values.len().max(1) as i64;
    values
        .into_iter()
        .enumerate()
        .map(|(i, (label, value, title))| {
            let height = value * HEIGHT / max;
            Bar {
                x: i as i64 * slot + slot / 8,
                y: HEIGHT - height,
                width: slot * 3 / 4,
                height,
                label,
                value: count(value),
                title,
            }
        })
        .collect()
}

/// The partner overview's chart: seats of customer batches in `scope` expiring per month over
/// the next 12 months, months read in `time_zone`.
pub async fn expiry_chart(
    db: &Db,
    scope: &Scope,
    now: Timestamp,
    time_zone: &str,
) -> DbResult<ExpiryChart> {
    let starts = month_starts(now, time_zone, 12);
    let months = overview::expiring_by_month(db, scope, &starts).await?;
    let empty = months.iter().all(|m| m.seats == 0);
    let values = months
        .iter()
        .map(|m| {
            // The first bar starts now, but is named by its month.
            let label = month_label(m.starts, time_zone);
            let title = month_title(&label, m);
            (label, m.seats, title)
        })
        .collect();
    Ok(ExpiryChart {
        bars: bars(values),
        width: WIDTH,
        height: HEIGHT + LABELS,
        plot_height: HEIGHT,
        empty,
        time_zone: time_zone.to_owned(),
    })
}

/// One sample of a company's seats: when, how many it held and how many were in use.
pub struct SeatSample {
    pub label: String,
    pub held: String,
    pub used: String,
    /// Polyline coordinates of this sample.
    pub x: i64,
    pub held_y: i64,
    pub used_y: i64,
}

/// A company's seats used against seats held, month by month over the last year.
#[derive(Template)]
#[template(path = "chart_seats.html")]
pub struct SeatChart {
    pub samples: Vec<SeatSample>,
    pub held_points: String,
    pub used_points: String,
    pub width: i64,
    pub height: i64,
    pub plot_height: i64,
    pub empty: bool,
    pub time_zone: String,
}

/// How many months back the company's chart looks.
const HISTORY_MONTHS: i32 = 12;

/// The company Overview's chart, from its seat ledger, at the start of each of the last 12
/// months (in the company's time zone) and now.
pub async fn seat_chart(
    db: &Db,
    company: &AuthorisedCompany,
    now: Timestamp,
) -> DbResult<SeatChart> {
    let tz_name = company.time_zone.as_str();
    let tz = TimeZone::get(tz_name).unwrap_or(TimeZone::UTC);
    let this_month = now.to_zoned_datetime(tz.clone()).date();
    let this_month = Date::new(this_month.year(), this_month.month(), 1).unwrap_or(this_month);
    let mut at: Vec<Timestamp> = (1..=HISTORY_MONTHS)
        .rev()
        .filter_map(|back| {
            let day = this_month
                .checked_sub(jiff::Span::new().months(i64::from(back) - 1))
                .ok()?;
            day.to_zoned_datetime(tz.clone())
                .ok()
                .map(|z| z.timestamp())
        })
        .collect();
    at.retain(|&t| t < now);
    at.push(now);
    let history = licences::seat_history(db, company, &at).await?;
    let max = history
        .iter()
        .map(|h| h.held.max(h.used))
        .max()
        .unwrap_or(0)
        .max(1);
    let step = WIDTH / (at.len().max(2) as i64 - 1);
    let y = |v: i64| HEIGHT - v * HEIGHT / max;
    let samples: Vec<SeatSample> = at
        .iter()
        .zip(&history)
        .enumerate()
        .map(|(i, (&when, h))| SeatSample {
            label: if when == now {
                "now".to_owned()
            } else {
                month_label(when, tz_name)
            },
            held: count(h.held),
            used: count(h.used),
            x: i as i64 * step,
            held_y: y(h.held),
            used_y: y(h.used),
        })
        .collect();
    let points = |pick: fn(&SeatSample) -> i64| {
        samples
            .iter()
            .map(|s| format!("{},{}", s.x, pick(s)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Ok(SeatChart {
        held_points: points(|s| s.held_y),
        used_points: points(|s| s.used_y),
        empty: history.iter().all(|h| h.held == 0),
        samples,
        width: WIDTH,
        height: HEIGHT + LABELS,
        plot_height: HEIGHT,
        time_zone: tz_name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_at_midnight_of_the_first_in_the_zone() {
        let now: Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
        let starts = month_starts(now, "Europe/Berlin", 12);
        assert_eq!(starts.len(), 13);
        assert_eq!(starts[0], now);
        assert_eq!(starts[1], "2026-11-30T23:00:00Z".parse().unwrap());
        assert_eq!(starts[12], "2027-10-31T23:00:00Z".parse().unwrap());
        assert_eq!(month_label(starts[1], "Europe/Berlin"), "Dec 2026");
    }

    #[test]
    fn bars_are_scaled_to_the_tallest_and_say_their_value() {
        let drawn = bars(vec![
            ("a".into(), 10, "a: 10".into()),
            ("b".into(), 5, "b: 5".into()),
            ("c".into(), 0, "c: 0".into()),
        ]);
        assert_eq!(drawn[0].height, HEIGHT);
        assert_eq!(drawn[1].height, HEIGHT / 2);
        assert_eq!(drawn[2].height, 0);
        assert_eq!(drawn[1].y, HEIGHT / 2);
        assert!(drawn[0].x < drawn[1].x);
    }

    #[test]
    fn a_months_title_names_its_companies_and_counts_the_rest() {
        let month = MonthOfExpiries {
            starts: Timestamp::UNIX_EPOCH,
            seats: 1_250,
            companies: vec![("Acme".into(), 1_000), ("Birch".into(), 200)],
            other_companies: 1,
        };
        assert_eq!(
            month_title("Dec 2026", &month),
            "Dec 2026: 1,250 seats — Acme (1,000), Birch (200) and 1 more company"
        );
    }
}
