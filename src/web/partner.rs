//! The partner's Admin Dashboard: the Company section (filters, Create and Edit Company, Manage
//! Company), Sub-partners, Licences → Orders (Assign, Reject) and Activity.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use jiff::Timestamp;
use serde::Deserialize;

use super::AppState;
use super::layout::{Layout, PageResult, render};
use super::session::{Area, CsrfToken, SignedIn};
use crate::db::activity::{self, ActivityFilter, ActivityRow};
use crate::db::companies::{
    self, CompanyCursor, CompanyEdit, CompanyFilter, CompanyRow, NewCompany, StatusFilter,
};
use crate::db::orders::{self, OrderCursor, OrderFilter, OrdersTab, PartnerOrderRow};
use crate::db::partners::{self, NewSubPartner, SubPartnerRow};
use crate::db::sessions;
use crate::domain::{
    CompanyId, CompanyStatus, Email, OrderId, OrderKind, PartnerId, SeatCount, TrialDays, UserId,
};
use crate::format::date;

/// Rows per page on every partner list.
const PAGE: u32 = 50;

fn query_string(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()))
        .finish()
}

#[derive(Template)]
#[template(path = "partner_companies.html")]
struct CompaniesPage {
    layout: Layout,
    companies: Vec<CompanyLine>,
    status: String,
    search: String,
    next: Option<String>,
}

/// A company row as shown, with dates in the company's time zone.
struct CompanyLine {
    row: CompanyRow,
    ends: String,
}

#[derive(Deserialize, Default)]
pub(super) struct CompaniesQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    after_name: Option<String>,
    after_id: Option<i64>,
}

fn status_filter(status: &str) -> Option<StatusFilter> {
    match status {
        "trial" => Some(StatusFilter::FreeTrial),
        "premium" => Some(StatusFilter::Premium),
        "expired" => Some(StatusFilter::Expired),
        _ => None,
    }
}

/// Admin Dashboard → Company: every company the partner may see, filtered, in name order.
pub(super) async fn companies(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<CompaniesQuery>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let after = match (query.after_name, query.after_id) {
        (Some(name), Some(id)) => Some(CompanyCursor {
            name,
            id: CompanyId(id),
        }),
        _ => None,
    };
    let filter = CompanyFilter {
        status: status_filter(&query.status),
        name: Some(query.q.clone()),
    };
    let now = state.clock.now();
    let page = companies::list(&state.db, &who.scope(), &filter, after.as_ref(), PAGE, now).await?;
    let next = page.next.map(|c| {
        let id = c.id.to_string();
        format!(
            "/partner?{}",
            query_string(&[
                ("status", &query.status),
                ("q", &query.q),
                ("after_name", &c.name),
                ("after_id", &id),
            ])
        )
    });
    let companies = page
        .items
        .into_iter()
        .map(|row| {
            let tz = row.time_zone.clone();
            let ends = match row.status {
                CompanyStatus::FreeTrial { ends_at } => {
                    format!("Trial ends {}", date(ends_at, &tz))
                }
                CompanyStatus::Premium { until } => format!("Licensed until {}", date(until, &tz)),
                CompanyStatus::Expired { since } => format!("Ended {}", date(since, &tz)),
            };
            CompanyLine { row, ends }
        })
        .collect();
    render(CompaniesPage {
        layout: Layout::signed_in("Company", &csrf, &who, "/partner"),
        companies,
        status: query.status,
        search: query.q,
        next,
    })
}

#[derive(Template)]
#[template(path = "company_form.html")]
struct CompanyFormPage {
    layout: Layout,
    /// `None` when creating.
    editing: Option<CompanyId>,
    form: CompanyForm,
    account_managers: Vec<(UserId, String)>,
    trial_days: u16,
    errors: Vec<String>,
}

#[derive(Deserialize, Default, Clone)]
pub(super) struct CompanyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    account_manager: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    quantity: String,
}

impl CompanyForm {
    /// The fields as typed, checked; every problem is named by its field.
    fn parse(
        &self,
        managers: &[(UserId, String)],
        creating: bool,
    ) -> Result<ParsedCompany, Vec<String>> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push("Name: enter the company's name (at most 200 characters).".to_owned());
        }
        let time_zone = self.time_zone.trim();
        if jiff::tz::TimeZone::get(time_zone).is_err() {
            errors.push(format!(
                "Time zone: \"{time_zone}\" is not a time zone name such as Europe/London."
            ));
        }
        let account_manager = match self.account_manager.trim() {
            "" => None,
            raw => match raw
                .parse::<i64>()
                .ok()
                .map(UserId)
                .filter(|id| managers.iter().any(|(m, _)| m == id))
            {
                Some(id) => Some(id),
                None => {
                    errors.push("Account manager: choose one of your partner's users.".to_owned());
                    None
                }
            },
        };
        let licences = if creating && self.start == "licences" {
            let kind = self
                .kind
                .parse::<OrderKind>()
                .map_err(|e| format!("Type: {e}."));
            let quantity =
                SeatCount::parse(&self.quantity).map_err(|e| format!("Number of licences: {e}."));
            match (kind, quantity) {
                (Ok(kind), Ok(quantity)) => Some((kind, quantity)),
                (kind, quantity) => {
                    errors.extend(kind.err());
                    errors.extend(quantity.err());
                    None
                }
            }
        } else {
            None
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ParsedCompany {
            name: name.to_owned(),
            country: self.country.trim().to_owned(),
            time_zone: time_zone.to_owned(),
            account_manager,
            licences,
        })
    }
}

struct ParsedCompany {
    name: String,
    country: String,
    time_zone: String,
    account_manager: Option<UserId>,
    licences: Option<(OrderKind, SeatCount)>,
}

pub(super) async fn new_company_form(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
) -> PageResult {
    who.enter(Area::Partner)?;
    let partner = who.partner()?;
    let settings = partners::get_within(&state.db, partner, partner).await?;
    render(CompanyFormPage {
        layout: Layout::signed_in("Create Company", &csrf, &who, "/partner"),
        editing: None,
        form: CompanyForm {
            time_zone: "Europe/London".into(),
            start: "trial".into(),
            kind: "premium".into(),
            ..CompanyForm::default()
        },
        account_managers: partners::users(&state.db, partner).await?,
        trial_days: settings.trial_days.get(),
        errors: Vec::new(),
    })
}

pub(super) async fn create_company(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Form(form): Form<CompanyForm>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let partner = who.partner()?;
    let settings = partners::get_within(&state.db, partner, partner).await?;
    let managers = partners::users(&state.db, partner).await?;
    let parsed = match form.parse(&managers, true) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let page = CompanyFormPage {
                layout: Layout::signed_in("Create Company", &csrf, &who, "/partner"),
                editing: None,
                form,
                account_managers: managers,
                trial_days: settings.trial_days.get(),
                errors,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
        }
    };
    companies::create_with_start(
        &state.db,
        &NewCompany {
            partner,
            name: &parsed.name,
            country: &parsed.country,
            time_zone: &parsed.time_zone,
            account_manager: parsed.account_manager,
            trial_days: settings.trial_days,
        },
        parsed.licences,
        who.actor(),
        state.clock.now(),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/partner?{}",
        query_string(&[("q", &parsed.name)])
    ))
    .into_response())
}

pub(super) async fn edit_company_form(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<i64>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let company = companies::details(&state.db, &who.scope(), CompanyId(id)).await?;
    render(CompanyFormPage {
        layout: Layout::signed_in("Edit Company", &csrf, &who, "/partner"),
        editing: Some(company.id),
        form: CompanyForm {
            name: company.name,
            country: company.country,
            time_zone: company.time_zone,
            account_manager: company
                .account_manager
                .map(|u| u.to_string())
                .unwrap_or_default(),
            ..CompanyForm::default()
        },
        account_managers: partners::users(&state.db, company.partner).await?,
        trial_days: 0,
        errors: Vec::new(),
    })
}

pub(super) async fn edit_company(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    Form(form): Form<CompanyForm>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let company = companies::details(&state.db, &who.scope(), CompanyId(id)).await?;
    let managers = partners::users(&state.db, company.partner).await?;
    let parsed = match form.parse(&managers, false) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let page = CompanyFormPage {
                layout: Layout::signed_in("Edit Company", &csrf, &who, "/partner"),
                editing: Some(company.id),
                form,
                account_managers: managers,
                trial_days: 0,
                errors,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
        }
    };
    companies::update(
        &state.db,
        &who.scope(),
        company.id,
        &CompanyEdit {
            name: &parsed.name,
            country: &parsed.country,
            time_zone: &parsed.time_zone,
            account_manager: parsed.account_manager,
        },
        who.actor(),
        state.clock.now(),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/partner?{}",
        query_string(&[("q", &parsed.name)])
    ))
    .into_response())
}

/// Actions → Manage Company: the partner user works in the company's own dashboard.
pub(super) async fn manage(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let company = companies::details(&state.db, &who.scope(), CompanyId(id)).await?;
    sessions::set_managing(&state.db, &who.token, Some(company.id)).await?;
    Ok(Redirect::to("/company").into_response())
}

/// Exit Manage Mode: back to the Admin Dashboard.
pub(super) async fn exit_manage(State(state): State<Arc<AppState>>, who: SignedIn) -> PageResult {
    if who.managing {
        sessions::set_managing(&state.db, &who.token, None).await?;
    }
    Ok(Redirect::to(Area::Partner.home()).into_response())
}

#[derive(Template)]
#[template(path = "partner_orders.html")]
struct OrdersPage {
    layout: Layout,
    tab: &'static str,
    orders: Vec<OrderLine>,
    filter: OrdersQuery,
    filtered: bool,
    notice: Option<String>,
    next: Option<String>,
}

struct OrderLine {
    order: PartnerOrderRow,
    requested_on: String,
    decided_on: String,
}

#[derive(Deserialize, Default, Clone)]
pub(super) struct OrdersQuery {
    #[serde(default)]
    tab: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before_at: Option<i64>,
    before_id: Option<i64>,
    assigned: Option<i64>,
    rejected: Option<i64>,
}

/// A YYYY-MM-DD date as the instant its day starts (UTC); `next_day` gives the end of the day.
fn day_start(raw: &str, next_day: bool) -> Option<Timestamp> {
    let day: jiff::civil::Date = raw.trim().parse().ok()?;
    let day = if next_day { day.tomorrow().ok()? } else { day };
    day.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// Licences → Orders: Requested Orders, Assigned Orders and My Orders, with Add Filter.
pub(super) async fn orders(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<OrdersQuery>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let partner = who.partner()?;
    let (tab, list) = match query.tab.as_str() {
        "assigned" => ("assigned", OrdersTab::Assigned),
        "mine" => ("mine", OrdersTab::Mine),
        _ => ("requested", OrdersTab::Requested),
    };
    let filter = OrderFilter {
        company: Some(query.company.clone()).filter(|c| !c.trim().is_empty()),
        kind: query.kind.parse().ok(),
        from: day_start(&query.from, false),
        until: day_start(&query.to, true),
    };
    let before = match (query.before_at, query.before_id) {
        (Some(at), Some(id)) => Some(OrderCursor {
            requested_at: at,
            id: OrderId(id),
        }),
        _ => None,
    };
    let page = orders::for_partner(&state.db, partner, list, &filter, before, PAGE).await?;
    let next = page.next.map(|c| {
        let (at, id) = (c.requested_at.to_string(), c.id.to_string());
        format!(
            "/partner/licences?{}",
            query_string(&[
                ("tab", tab),
                ("company", &query.company),
                ("kind", &query.kind),
                ("from", &query.from),
                ("to", &query.to),
                ("before_at", &at),
                ("before_id", &id),
            ])
        )
    });
    let notice = match (query.assigned, query.rejected) {
        (Some(id), _) => Some(format!(
            "Order {id} assigned: the licences are ready and the company's managers have been emailed."
        )),
        (_, Some(id)) => Some(format!(
            "Order {id} rejected: the requester has been emailed the reason."
        )),
        _ => None,
    };
    let orders = page
        .items
        .into_iter()
        .map(|order| OrderLine {
            requested_on: date(order.requested_at, "UTC"),
            decided_on: order.decided_at.map(|d| date(d, "UTC")).unwrap_or_default(),
            order,
        })
        .collect();
    render(OrdersPage {
        layout: Layout::signed_in("Licences", &csrf, &who, "/partner/licences"),
        tab,
        orders,
        filtered: filter.company.is_some()
            || filter.kind.is_some()
            || filter.from.is_some()
            || filter.until.is_some(),
        filter: query,
        notice,
        next,
    })
}

/// ⋯ → Assign: the batch is created and the company's managers are emailed.
pub(super) async fn assign(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> PageResult {
    who.enter(Area::Partner)?;
    orders::assign(
        &state.db,
        who.partner()?,
        OrderId(id),
        who.actor(),
        &state.config.public_url,
        state.clock.now(),
    )
    .await?;
    Ok(Redirect::to(&format!("/partner/licences?tab=requested&assigned={id}")).into_response())
}

#[derive(Template)]
#[template(path = "reject_form.html")]
struct RejectPage {
    layout: Layout,
    order: OrderId,
    reason: String,
    error: Option<String>,
}

pub(super) async fn reject_form(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<i64>,
) -> PageResult {
    who.enter(Area::Partner)?;
    orders::exists_beneath(&state.db, who.partner()?, OrderId(id)).await?;
    render(RejectPage {
        layout: Layout::signed_in("Reject order", &csrf, &who, "/partner/licences"),
        order: OrderId(id),
        reason: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub(super) struct RejectForm {
    #[serde(default)]
    reason: String,
}

/// ⋯ → Reject, with a reason emailed to the requester.
pub(super) async fn reject(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    Form(form): Form<RejectForm>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let partner = who.partner()?;
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        orders::exists_beneath(&state.db, partner, OrderId(id)).await?;
        let page = RejectPage {
            layout: Layout::signed_in("Reject order", &csrf, &who, "/partner/licences"),
            order: OrderId(id),
            reason: form.reason.clone(),
            error: Some("Reason: say why the order is rejected (at most 1000 characters).".into()),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
    }
    orders::reject(
        &state.db,
        partner,
        OrderId(id),
        reason,
        who.actor(),
        &state.config.public_url,
        state.clock.now(),
    )
    .await?;
    Ok(Redirect::to(&format!("/partner/licences?tab=requested&rejected={id}")).into_response())
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    layout: Layout,
    entries: Vec<(ActivityRow, String)>,
    filtered: bool,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ActivityQuery {
    company: Option<i64>,
    actor: Option<i64>,
    before: Option<i64>,
}

/// Activity: every change beneath the partner, who made it and for which company.
pub(super) async fn activity(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<ActivityQuery>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let filter = ActivityFilter {
        company: query.company.map(CompanyId),
        actor: query.actor.map(UserId),
    };
    let page = activity::beneath(&state.db, who.partner()?, filter, query.before, PAGE).await?;
    let next = page.next.map(|before| {
        let (company, actor, before) = (
            query.company.map(|c| c.to_string()).unwrap_or_default(),
            query.actor.map(|a| a.to_string()).unwrap_or_default(),
            before.to_string(),
        );
        format!(
            "/partner/activity?{}",
            query_string(&[
                ("company", &company),
                ("actor", &actor),
                ("before", &before)
            ])
        )
    });
    render(ActivityPage {
        layout: Layout::signed_in("Activity", &csrf, &who, "/partner/activity"),
        entries: page
            .items
            .into_iter()
            .map(|a| {
                let at = a.at.strftime("%Y-%m-%d %H:%M UTC").to_string();
                (a, at)
            })
            .collect(),
        filtered: query.company.is_some() || query.actor.is_some(),
        next,
    })
}

#[derive(Template)]
#[template(path = "sub_partners.html")]
struct SubPartnersPage {
    layout: Layout,
    partners: Vec<SubPartnerRow>,
    created: bool,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct SubPartnersQuery {
    after_name: Option<String>,
    after_id: Option<i64>,
    #[serde(default)]
    created: bool,
}

pub(super) async fn sub_partners(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<SubPartnersQuery>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let after = query
        .after_name
        .as_deref()
        .zip(query.after_id.map(PartnerId));
    let page = partners::children(&state.db, who.partner()?, after, PAGE).await?;
    let next = page.next.map(|(name, id)| {
        let id = id.to_string();
        format!(
            "/partner/partners?{}",
            query_string(&[("after_name", &name), ("after_id", &id)])
        )
    });
    render(SubPartnersPage {
        layout: Layout::signed_in("Sub-partners", &csrf, &who, "/partner/partners"),
        partners: page.items,
        created: query.created,
        next,
    })
}

#[derive(Template)]
#[template(path = "sub_partner_form.html")]
struct SubPartnerFormPage {
    layout: Layout,
    form: SubPartnerForm,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct SubPartnerForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    trial_days: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
}

pub(super) async fn new_sub_partner_form(who: SignedIn, csrf: CsrfToken) -> PageResult {
    who.enter(Area::Partner)?;
    render(SubPartnerFormPage {
        layout: Layout::signed_in("Create Sub-partner", &csrf, &who, "/partner/partners"),
        form: SubPartnerForm {
            trial_days: TrialDays::DEFAULT.get().to_string(),
            ..SubPartnerForm::default()
        },
        errors: Vec::new(),
    })
}

pub(super) async fn create_sub_partner(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Form(form): Form<SubPartnerForm>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let mut errors = Vec::new();
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push("Name: enter the sub-partner's name (at most 200 characters).".to_owned());
    }
    let trial_days = form
        .trial_days
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("\"{}\" is not a whole number", form.trial_days.trim()))
        .and_then(|d| TrialDays::new(d).map_err(|e| e.0))
        .map_err(|e| errors.push(format!("Trial length: {e}.")))
        .ok();
    let email = Email::parse(&form.email)
        .map_err(|e| errors.push(format!("Admin email: {e}.")))
        .ok();
    if form.first_name.trim().is_empty() {
        errors.push("Admin first name: enter the admin's first name.".to_owned());
    }
    let (Some(trial_days), Some(email), true) = (trial_days, email, errors.is_empty()) else {
        let page = SubPartnerFormPage {
            layout: Layout::signed_in("Create Sub-partner", &csrf, &who, "/partner/partners"),
            form,
            errors,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
    };
    partners::create_sub_partner(
        &state.db,
        &NewSubPartner {
            parent: who.partner()?,
            name,
            trial_days,
            admin_first_name: form.first_name.trim(),
            admin_last_name: form.last_name.trim(),
            admin_email: &email,
        },
        &state.config.public_url,
        state.clock.now(),
    )
    .await?;
    Ok(Redirect::to("/partner/partners?created=true").into_response())
}
