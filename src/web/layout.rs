//! The frame every page shares: navigation for the caller's area, the manage-mode banner, the
//! CSRF token for forms, and rendering.

use askama::Template;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use super::PageError;
use super::areas::{Area, ManagedBy, SignedIn};
use super::session::CsrfToken;
use crate::domain::{Action, permits};

pub(super) type PageResult = Result<Response, PageError>;

pub(super) fn render(page: impl Template) -> PageResult {
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(page.render()?)).into_response())
}

/// A CSV file to download: never cached (it holds people's data), saved as `file_name`. Its
/// cells were written spreadsheet-safe (`imports::export::CsvReport`).
pub(super) fn csv_download(file_name: &str, body: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{file_name}\"");
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    (headers, body).into_response()
}

/// A page with a status other than 200, e.g. a form shown again with its errors (422).
pub(super) fn render_with(status: axum::http::StatusCode, page: impl Template) -> PageResult {
    Ok((status, render(page)?).into_response())
}

/// A link in the section navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// What every page's frame shows: who is signed in, where they can go, and the CSRF token.
pub struct Layout {
    pub title: String,
    pub csrf: String,
    pub user_name: Option<String>,
    pub area_name: &'static str,
    pub links: Vec<NavLink>,
    /// In manage mode: the company the partner user is managing.
    pub managing: Option<String>,
    /// For a manager of a Managed company: who runs its programme. Pages only look.
    pub managed_by: Option<ManagedBy>,
}

impl Layout {
    /// Whether the page shows the buttons that change things (not to a Managed company's
    /// managers, whose partner acts for them).
    pub fn may_change(&self) -> bool {
        self.managed_by.is_none()
    }
}

impl Layout {
    pub(super) fn anonymous(title: &str, csrf: &CsrfToken) -> Self {
        Self {
            title: title.to_owned(),
            csrf: csrf.0.clone(),
            user_name: None,
            area_name: "",
            links: Vec::new(),
            managing: None,
            managed_by: None,
        }
    }

    pub(super) fn signed_in(title: &str, who: &SignedIn, current: &str) -> Self {
        let area = who.area();
        let (area_name, sections): (&str, &[(&str, &str)]) = match area {
            Area::Operator => (
                "Operator Console",
                &[
                    ("/operator", "Partners"),
                    ("/operator/orders", "Requested Orders"),
                    ("/operator/settings", "Settings"),
                    ("/operator/mailbox", "Mailbox"),
                    ("/operator/webhooks", "Webhooks"),
                    ("/operator/api-keys", "API Keys"),
                ],
            ),
            Area::Partner => (
                "Admin Dashboard",
                &[
                    ("/partner", "Company"),
                    ("/partner/partners", "Sub-partners"),
                    ("/partner/licences", "Licences"),
                    ("/partner/activity", "Activity"),
                    ("/partner/webhooks", "Webhooks"),
                    ("/partner/api-keys", "API Keys"),
                    ("/partner/settings", "Settings"),
                ],
            ),
            Area::Company => (
                "Dashboard",
                &[
                    ("/company", "Overview"),
                    ("/company/users", "Users"),
                    ("/company/licenses", "Licenses"),
                    ("/company/api-keys", "API Keys"),
                ],
            ),
            Area::Landing => ("Licence ended", &[]),
            Area::Learner => ("My licence", &[]),
        };
        Self {
            title: title.to_owned(),
            csrf: who.csrf.0.clone(),
            user_name: Some(who.user.display_name.clone()),
            area_name,
            links: sections
                .iter()
                // Company keys are the managers' own: not offered in manage mode.
                .filter(|(href, _)| *href != "/company/api-keys" || !who.managing())
                // Settings are the partner admins' alone: others are not offered the link.
                .filter(|(href, _)| {
                    *href != "/partner/settings"
                        || permits(who.caller.role, Action::AdministerPartner, false)
                })
                .map(|&(href, label)| NavLink {
                    href,
                    label,
                    current: href == current,
                })
                .collect(),
            managing: who
                .company
                .as_ref()
                .filter(|_| who.managing())
                .map(|c| c.name.clone()),
            managed_by: who.managed_by.clone(),
        }
    }
}

/// A company's status as a badge: its own text and colour for each state, "ending soon" when
/// the trial or licences end within 72 hours, and the date on hover.
pub struct Badge {
    pub class: &'static str,
    pub text: &'static str,
    pub title: String,
}

impl Badge {
    pub fn of(status: crate::domain::CompanyStatus, now: jiff::Timestamp, time_zone: &str) -> Self {
        use crate::domain::CompanyStatus;
        use crate::domain::company::{ENDING_SOON_WITHIN, ends_within};
        use crate::format::date;
        match status {
            CompanyStatus::FreeTrial { ends_at }
                if ends_within(ends_at, now, ENDING_SOON_WITHIN) =>
            {
                Self {
                    class: "ending",
                    text: "Free Trial, ending within 72 hours",
                    title: format!("Trial ends {} ({time_zone})", date(ends_at, time_zone)),
                }
            }
            CompanyStatus::FreeTrial { ends_at } => Self {
                class: "trial",
                text: "Free Trial",
                title: format!("Trial ends {} ({time_zone})", date(ends_at, time_zone)),
            },
            CompanyStatus::Premium { until } if ends_within(until, now, ENDING_SOON_WITHIN) => {
                Self {
                    class: "ending",
                    text: "Premium, ending within 72 hours",
                    title: format!("Licences end {} ({time_zone})", date(until, time_zone)),
                }
            }
            CompanyStatus::Premium { until } => Self {
                class: "premium",
                text: "Premium",
                title: format!("Licensed until {} ({time_zone})", date(until, time_zone)),
            },
            CompanyStatus::Expired { since } => Self {
                class: "expired",
                text: "Expired",
                title: format!("Ended {} ({time_zone})", date(since, time_zone)),
            },
        }
    }
}
