//! Admin Dashboard → Company: the partner's own internal company (its NFR seats), the customer
//! list with filters, Create Company, Edit Company, and Actions → Manage Company / Exit Manage
//! Mode.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{PAGE, query_string};
use crate::db::companies::{
    self, CompanyFilter, CompanyRow, CompanySort, InternalCompany, StatusFilter,
};
use crate::db::keyset::Total;
use crate::db::partners;
use crate::domain::{
    Action, CompanyId, CompanyStatus, Country, NameSearch, OrderKind, OrgName, PartnerId,
    SeatCount, TimeZoneName, UserId,
};
use crate::format::date;
use crate::ops::companies::{self as company_ops, CompanyDraft, Start};
use crate::ops::{Error, Fields, authorise};
use crate::web::areas::{Area, PartnerArea, SignedIn};
use crate::web::error::form_errors;
use crate::web::layout::{Badge, Layout, PageResult, render, render_with};
use crate::web::pager::{Heading, PageParams, Pager};
use crate::web::{AppState, BOTH, GET, POST, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/partner", GET, get(list))
        .add("/partner/companies/new", GET, get(new_form))
        .add("/partner/companies", POST, post(create))
        .add(
            "/partner/companies/{id}/edit",
            BOTH,
            get(edit_form).post(edit),
        )
        .add("/partner/companies/{id}/manage", POST, post(manage))
        .add("/manage/exit", POST, post(exit_manage))
}

#[derive(Template)]
#[template(path = "partner_companies.html")]
struct CompaniesPage {
    layout: Layout,
    /// The partner's own internal company (its staff and NFR seats), shown apart.
    internal: InternalCompany,
    companies: Vec<CompanyLine>,
    /// The Admin Dashboard's counts, each linking to its list.
    counts: Vec<super::overview::DashboardLink>,
    status: String,
    search: String,
    headings: Vec<Heading>,
    pager: Pager,
    time_zone: String,
}

/// A company row as shown, with dates in the company's time zone.
struct CompanyLine {
    row: CompanyRow,
    badge: Badge,
    ends: String,
}

impl CompanyLine {
    /// Dates in `tz`, the partner's time zone (this is a partner page).
    fn new(row: CompanyRow, now: jiff::Timestamp, tz: &str) -> Self {
        let ends = match row.status {
            CompanyStatus::FreeTrial { ends_at } => format!("Trial ends {}", date(ends_at, tz)),
            CompanyStatus::Premium { until } => format!("Licensed until {}", date(until, tz)),
            CompanyStatus::Expired { since } => format!("Ended {}", date(since, tz)),
        };
        let badge = Badge::of(row.status, now, tz);
        Self { row, badge, ends }
    }
}

#[derive(Deserialize, Default)]
struct CompaniesQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    #[serde(flatten)]
    page: PageParams,
}

const HEADINGS: [(Option<CompanySort>, &str, bool); 8] = [
    (Some(CompanySort::Name), "Company", false),
    (None, "Status", false),
    (Some(CompanySort::Ends), "Trial or licence", false),
    (None, "Seats used / total", false),
    (None, "Learners", true),
    (None, "Account manager", false),
    (None, "Partner", false),
    (None, "", false),
];

fn status_filter(status: &str) -> Option<StatusFilter> {
    match status {
        "trial" => Some(StatusFilter::FreeTrial),
        "premium" => Some(StatusFilter::Premium),
        "expired" => Some(StatusFilter::Expired),
        _ => None,
    }
}

/// Admin Dashboard → Company: every company the partner may see, filtered, sorted by name or
/// by when its trial or licences end, a page at a time.
async fn list(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Query(query): Query<CompaniesQuery>,
) -> PageResult {
    let filters = vec![("status", query.status.clone()), ("q", query.q.clone())];
    let listing = query
        .page
        .listing("/partner", (CompanySort::Name, false), filters);
    let filter = CompanyFilter {
        status: status_filter(&query.status),
        name: NameSearch::parse_filter(&query.q).map_err(|problem| Error::invalid("q", problem))?,
    };
    let (scope, now, db) = (area.caller.scope(), state.ops.now(), &state.ops.db);
    let sort = (listing.sort, listing.descending);
    let (page, counted) =
        companies::section(db, &scope, &filter, sort, &listing.seek, PAGE, now).await?;
    // A page with none before or after it is the whole list: its rows are the count.
    let total = if page.previous.is_none() && page.next.is_none() {
        Total::Exactly(page.rows.len() as i64)
    } else if let Some(counted) = counted {
        counted
    } else {
        companies::section_count(db, &scope, &filter, now).await?
    };
    let time_zone = partners::time_zone(db, area.partner).await?;
    render(CompaniesPage {
        layout: area.layout("Company", "/partner"),
        internal: companies::internal(db, area.partner, now).await?,
        headings: listing.headings(&HEADINGS),
        pager: listing.pager(&page, PAGE, total),
        companies: page
            .rows
            .into_iter()
            .map(|row| CompanyLine::new(row, now, &time_zone))
            .collect(),
        counts: super::overview::dashboard_links(&state, &scope, area.partner, now).await?,
        status: query.status,
        search: query.q,
        time_zone,
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
struct CompanyForm {
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

const COMPANY_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("country", "Country"),
    ("time_zone", "Time zone"),
    ("account_manager", "Account manager"),
    ("kind", "Type"),
    ("quantity", "Number of licences"),
];

impl CompanyForm {
    /// The company as typed; every problem is named by its field.
    fn draft(&self, fields: &mut Fields) -> Option<CompanyDraft> {
        let name = fields.take("name", OrgName::parse(&self.name));
        let country = fields.take("country", Country::parse(&self.country));
        let time_zone = fields.take("time_zone", TimeZoneName::parse(&self.time_zone));
        let account_manager = match self.account_manager.trim() {
            "" => Some(None),
            raw => fields.take(
                "account_manager",
                raw.parse()
                    .map(|id| Some(UserId(id)))
                    .map_err(|_| crate::domain::InvalidValue::UnknownChoice),
            ),
        };
        Some(CompanyDraft {
            name: name?,
            country: country?,
            time_zone: time_zone?,
            account_manager: account_manager?,
        })
    }

    fn start(&self, fields: &mut Fields) -> Option<Start> {
        if self.start != "licences" {
            return Some(Start::Trial);
        }
        let kind = fields.take("kind", self.kind.parse::<OrderKind>());
        let quantity = fields.take("quantity", SeatCount::parse(&self.quantity));
        Some(Start::Licensed {
            kind: kind?,
            quantity: quantity?,
        })
    }
}

/// The Create or Edit Company form, as sent or empty, with its errors.
async fn form_page(
    state: &AppState,
    who: &SignedIn,
    partner: PartnerId,
    editing: Option<CompanyId>,
    form: CompanyForm,
    errors: Vec<String>,
) -> PageResult {
    let title = if editing.is_some() {
        "Edit Company"
    } else {
        "Create Company"
    };
    let settings = partners::get_within(&state.ops.db, partner, partner).await?;
    let page = CompanyFormPage {
        layout: who.layout(title, "/partner"),
        editing,
        form,
        account_managers: partners::users(&state.ops.db, partner).await?,
        trial_days: settings.trial_days.get(),
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(status, page)
}

async fn new_form(State(state): State<Arc<AppState>>, area: PartnerArea) -> PageResult {
    // The form is the action: whoever may not take it does not get the form either.
    area.caller
        .partner_for(Action::AdministerCompanies, state.ops.now())?;
    let form = CompanyForm {
        time_zone: "Europe/London".into(),
        start: "trial".into(),
        kind: "premium".into(),
        ..CompanyForm::default()
    };
    form_page(&state, &area, area.partner, None, form, Vec::new()).await
}

/// Back to the Company section, showing the company just saved.
fn show(name: &str) -> PageResult {
    Ok(Redirect::to(&format!("/partner?{}", query_string(&[("q", name.trim())]))).into_response())
}

async fn create(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Form(form): Form<CompanyForm>,
) -> PageResult {
    let outcome = async {
        let mut fields = Fields::default();
        let draft = form.draft(&mut fields);
        let start = form.start(&mut fields);
        let (draft, start) = fields.finish(|| Some((draft?, start?)))?;
        company_ops::create(&state.ops, &area.caller, &draft, start).await
    };
    match outcome.await {
        Ok(_) => show(&form.name),
        Err(e) => {
            let errors = form_errors(e, COMPANY_LABELS)?;
            form_page(&state, &area, area.partner, None, form, errors).await
        }
    }
}

async fn edit_form(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
) -> PageResult {
    let company = authorise(&state.ops, &area.caller, CompanyId(id)).await?;
    area.caller
        .require(Action::AdministerCompanies, Some(&company), state.ops.now())?;
    let form = CompanyForm {
        name: company.name.clone(),
        country: company.country.clone(),
        time_zone: company.time_zone.clone(),
        account_manager: company
            .account_manager
            .map(|u| u.to_string())
            .unwrap_or_default(),
        ..CompanyForm::default()
    };
    form_page(
        &state,
        &area,
        company.partner,
        Some(company.id()),
        form,
        Vec::new(),
    )
    .await
}

async fn edit(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
    Form(form): Form<CompanyForm>,
) -> PageResult {
    let company = authorise(&state.ops, &area.caller, CompanyId(id)).await?;
    let outcome = async {
        let mut fields = Fields::default();
        let draft = form.draft(&mut fields);
        let draft = fields.finish(|| draft)?;
        company_ops::edit(&state.ops, &area.caller, &company, &draft).await
    };
    match outcome.await {
        Ok(()) => show(&form.name),
        Err(e) => {
            let errors = form_errors(e, COMPANY_LABELS)?;
            form_page(
                &state,
                &area,
                company.partner,
                Some(company.id()),
                form,
                errors,
            )
            .await
        }
    }
}

/// Actions → Manage Company: the partner user works in the company's own dashboard.
async fn manage(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
) -> PageResult {
    company_ops::enter_manage_mode(&state.ops, &area.caller, &area.token, CompanyId(id)).await?;
    Ok(Redirect::to(Area::Company.home()).into_response())
}

/// Exit Manage Mode: back to the Admin Dashboard (anyone else, to their own area).
async fn exit_manage(State(state): State<Arc<AppState>>, who: SignedIn) -> PageResult {
    if !who.managing() {
        return Ok(Redirect::to(Area::of(who.landing).home()).into_response());
    }
    company_ops::exit_manage_mode(&state.ops, &who.token).await?;
    Ok(Redirect::to(Area::Partner.home()).into_response())
}
