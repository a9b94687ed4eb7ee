//! Page handlers: sign-in, the area homes, and the sections later work fills.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::session::{Area, CsrfToken, SESSION_COOKIE, SignedIn, cookie, set_cookie};
use super::{AppState, PageError};
use crate::db::companies::{self, CompanyCursor, CompanyRow};
use crate::db::orders::{self, LicenceRequest, OrderRow};
use crate::db::outbox::{self, OutboxEmail};
use crate::db::sessions::{self, SESSION_LIFETIME};
use crate::db::users::CompanyOfUser;
use crate::db::{seats, users};
use crate::domain::access::{self, Landing, SignInDecision, SignInRefusal};
use crate::domain::{CompanyId, CompanyStatus, Email, OrderId, OrderKind, OrderState, SeatCount};
use crate::format::date;
use crate::password;

type AppRouter = Router<Arc<AppState>>;
type PageResult = Result<Response, PageError>;

pub fn routes() -> AppRouter {
    Router::new()
        .route("/", get(home))
        .route("/health", get(health))
        .route("/static/app.css", get(stylesheet))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/operator", get(operator_home))
        .route("/partner", get(partner_companies))
        .route("/partner/licences", get(partner_licences))
        .route("/partner/activity", get(partner_activity))
        .route("/company", get(company_home))
        .route("/company/users", get(company_users))
        .route("/company/licenses", get(company_licenses))
        .route("/company/orders/new", get(order_form))
        .route("/company/orders", get(order_form).post(request_licences))
        .route("/operator/mailbox", get(mailbox))
        .route("/operator/mailbox/{id}", get(mailbox_email))
        .route("/landing", get(landing))
        .route("/learner", get(learner_home))
        .fallback(not_found)
}

fn render(page: impl Template) -> PageResult {
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(page.render()?)).into_response())
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
}

impl Layout {
    fn anonymous(title: &str, csrf: &CsrfToken) -> Self {
        Self {
            title: title.to_owned(),
            csrf: csrf.0.clone(),
            user_name: None,
            area_name: "",
            links: Vec::new(),
        }
    }

    fn signed_in(title: &str, csrf: &CsrfToken, who: &SignedIn, current: &str) -> Self {
        let area = Area::of(who.landing);
        let (area_name, sections): (&str, &[(&str, &str)]) = match area {
            Area::Operator => (
                "Operator Console",
                &[("/operator", "Partners"), ("/operator/mailbox", "Mailbox")],
            ),
            Area::Partner => (
                "Admin Dashboard",
                &[
                    ("/partner", "Company"),
                    ("/partner/licences", "Licences"),
                    ("/partner/activity", "Activity"),
                ],
            ),
            Area::Company => (
                "Dashboard",
                &[
                    ("/company", "Overview"),
                    ("/company/users", "Users"),
                    ("/company/licenses", "Licenses"),
                ],
            ),
            Area::Landing => ("Licence ended", &[]),
            Area::Learner => ("My licence", &[]),
        };
        Self {
            title: title.to_owned(),
            csrf: csrf.0.clone(),
            user_name: Some(who.user.display_name.clone()),
            area_name,
            links: sections
                .iter()
                .map(|&(href, label)| NavLink {
                    href,
                    label,
                    current: href == current,
                })
                .collect(),
        }
    }
}

async fn home(who: Option<SignedIn>) -> Redirect {
    match who {
        Some(who) => Redirect::to(Area::of(who.landing).home()),
        None => Redirect::to("/sign-in"),
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    match sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(state.db.pool())
        .await
    {
        Ok(_) => Json(serde_json::json!({ "status": "ok", "database": "ok" })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
            )
                .into_response()
        }
    }
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}

async fn not_found() -> PageError {
    PageError::NotFound
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    email: String,
    error: Option<String>,
}

async fn sign_in_page(who: Option<SignedIn>, csrf: CsrfToken) -> PageResult {
    if let Some(who) = who {
        return Ok(Redirect::to(Area::of(who.landing).home()).into_response());
    }
    render(SignInPage {
        layout: Layout::anonymous("Sign in", &csrf),
        email: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
}

async fn sign_in(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    Form(form): Form<SignInForm>,
) -> PageResult {
    let refuse = |message: String| -> PageResult {
        let page = SignInPage {
            layout: Layout::anonymous("Sign in", &csrf),
            email: form.email.trim().to_owned(),
            error: Some(message),
        };
        Ok((StatusCode::UNAUTHORIZED, render(page)?).into_response())
    };
    let user = match Email::parse(&form.email) {
        Ok(email) => users::access_by_email(&state.db, &email).await?,
        Err(_) => None,
    };
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let password_ok = password::verify_blocking(form.password.clone(), stored_hash).await;
    let Some(user) = user.filter(|_| password_ok) else {
        return refuse("The email or password is incorrect.".into());
    };
    let now = state.clock.now();
    let company = user.company.as_ref();
    match access::sign_in(&user.facts, company.map(|c| &c.facts), now) {
        SignInDecision::Refused(refusal) => {
            let tz = company.map_or("UTC", |c| c.time_zone.as_str());
            refuse(match refusal {
                SignInRefusal::LicenceExpired { on } => format!(
                    "Your licence expired on {}. Ask your company manager to renew it.",
                    date(on, tz)
                ),
                SignInRefusal::AwaitingLicence => {
                    "You do not have a licence yet. Ask your company manager to allocate one.".into()
                }
                SignInRefusal::Deactivated => {
                    "This account has been deactivated. Ask your company manager if you need access."
                        .into()
                }
            })
        }
        SignInDecision::Allowed { landing, .. } => {
            let token = sessions::create(&state.db, user.id, now).await?;
            let mut response = Redirect::to(Area::of(landing).home()).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(
                    SESSION_COOKIE,
                    &token,
                    "Lax",
                    SESSION_LIFETIME.as_secs(),
                    state.config.secure_cookies,
                ),
            );
            Ok(response)
        }
    }
}

async fn sign_out(State(state): State<Arc<AppState>>, headers: HeaderMap) -> PageResult {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        sessions::revoke(&state.db, token).await?;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "Lax", 0, state.config.secure_cookies),
    );
    Ok(response)
}

/// A section whose content later work fills: its heading and an empty state.
#[derive(Template)]
#[template(path = "section.html")]
struct SectionPage {
    layout: Layout,
    heading: &'static str,
    empty: &'static str,
}

fn section(
    who: &SignedIn,
    csrf: &CsrfToken,
    path: &str,
    heading: &'static str,
    empty: &'static str,
) -> PageResult {
    render(SectionPage {
        layout: Layout::signed_in(heading, csrf, who, path),
        heading,
        empty,
    })
}

async fn operator_home(who: SignedIn, csrf: CsrfToken) -> PageResult {
    who.enter(Area::Operator)?;
    section(
        &who,
        &csrf,
        "/operator",
        "Partners",
        "Distributors you create will be listed here.",
    )
}

#[derive(Template)]
#[template(path = "partner_companies.html")]
struct CompaniesPage {
    layout: Layout,
    companies: Vec<CompanyLine>,
    next: Option<String>,
}

/// A company row as shown, with dates in the company's terms.
struct CompanyLine {
    row: CompanyRow,
    ends: String,
}

#[derive(Deserialize)]
struct PageQuery {
    after_name: Option<String>,
    after_id: Option<i64>,
}

/// Admin Dashboard → Company: every company the partner may see, in name order.
async fn partner_companies(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(page): Query<PageQuery>,
) -> PageResult {
    who.enter(Area::Partner)?;
    let after = match (page.after_name, page.after_id) {
        (Some(name), Some(id)) => Some(CompanyCursor {
            name,
            id: CompanyId(id),
        }),
        _ => None,
    };
    let now = state.clock.now();
    let page = companies::list(&state.db, &who.scope(), after.as_ref(), 50, now).await?;
    let next = page.next.map(|c| {
        format!(
            "/partner?after_name={}&after_id={}",
            form_urlencoded::byte_serialize(c.name.as_bytes()).collect::<String>(),
            c.id
        )
    });
    let companies = page
        .items
        .into_iter()
        .map(|row| {
            let ends = match row.status {
                CompanyStatus::FreeTrial { ends_at } => {
                    format!("Trial ends {}", date(ends_at, &row.time_zone))
                }
                CompanyStatus::Premium { until } => {
                    format!("Licensed until {}", date(until, &row.time_zone))
                }
                CompanyStatus::Expired { since } => {
                    format!("Ended {}", date(since, &row.time_zone))
                }
            };
            CompanyLine { row, ends }
        })
        .collect();
    render(CompaniesPage {
        layout: Layout::signed_in("Company", &csrf, &who, "/partner"),
        companies,
        next,
    })
}

async fn partner_licences(who: SignedIn, csrf: CsrfToken) -> PageResult {
    who.enter(Area::Partner)?;
    section(
        &who,
        &csrf,
        "/partner/licences",
        "Licences",
        "No orders yet. Requested, assigned and your own orders will appear here.",
    )
}

async fn partner_activity(who: SignedIn, csrf: CsrfToken) -> PageResult {
    who.enter(Area::Partner)?;
    section(
        &who,
        &csrf,
        "/partner/activity",
        "Activity",
        "No activity yet. Seat and order changes beneath you will appear here.",
    )
}

#[derive(Template)]
#[template(path = "company_home.html")]
struct CompanyHomePage {
    layout: Layout,
    company: String,
    status: &'static str,
    until: String,
    seats_allocated: i64,
    seats_total: i64,
}

async fn company_home(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.user.company.as_ref().ok_or(PageError::NotFound)?;
    let now = state.clock.now();
    let counts = seats::counts(&state.db, &who.scope(), company.id, now).await?;
    let status = company.facts.status(now);
    let until = match status {
        CompanyStatus::FreeTrial { ends_at } => format!(
            "Your free trial ends on {}.",
            date(ends_at, &company.time_zone)
        ),
        CompanyStatus::Premium { until } => format!(
            "Your licences are valid until {}.",
            date(until, &company.time_zone)
        ),
        CompanyStatus::Expired { since } => {
            format!("Your access ended on {}.", date(since, &company.time_zone))
        }
    };
    render(CompanyHomePage {
        layout: Layout::signed_in(&company.name, &csrf, &who, "/company"),
        company: company.name.clone(),
        status: status.label(),
        until,
        seats_allocated: counts.allocated,
        seats_total: counts.total,
    })
}

async fn company_users(who: SignedIn, csrf: CsrfToken) -> PageResult {
    who.enter(Area::Company)?;
    section(
        &who,
        &csrf,
        "/company/users",
        "Users",
        "Managers and learners of your company will be listed here.",
    )
}

#[derive(Template)]
#[template(path = "learner_home.html")]
struct LearnerHomePage {
    layout: Layout,
    company: String,
    until: String,
}

async fn learner_home(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
) -> PageResult {
    who.enter(Area::Learner)?;
    let company = who.user.company.as_ref().ok_or(PageError::NotFound)?;
    let until = match access::licence_status(&who.user.facts, &company.facts, state.clock.now()) {
        access::LicenceStatus::Active { until, .. } => date(until, &company.time_zone),
        _ => return Err(PageError::Redirect("/sign-in".into())),
    };
    render(LearnerHomePage {
        layout: Layout::signed_in("My licence", &csrf, &who, "/learner"),
        company: company.name.clone(),
        until,
    })
}

/// The company of a signed-in company user who may order licences: a manager with the dashboard
/// or on the landing page.
fn ordering_company(who: &SignedIn) -> Result<&CompanyOfUser, PageError> {
    let area = Area::of(who.landing);
    if area != Area::Company && area != Area::Landing {
        return Err(PageError::Redirect(area.home().to_owned()));
    }
    who.user.company.as_ref().ok_or(PageError::NotFound)
}

/// An order as listed, with its date in the company's time zone.
struct OrderLine {
    order: OrderRow,
    requested_on: String,
}

fn order_lines(orders: Vec<OrderRow>, time_zone: &str) -> Vec<OrderLine> {
    orders
        .into_iter()
        .map(|order| OrderLine {
            requested_on: date(order.requested_at, time_zone),
            order,
        })
        .collect()
}

#[derive(Deserialize)]
struct RequestedQuery {
    requested: Option<i64>,
}

#[derive(Template)]
#[template(path = "company_licenses.html")]
struct CompanyLicensesPage {
    layout: Layout,
    orders: Vec<OrderLine>,
    requested: Option<OrderId>,
}

/// Licenses section → Orders tab: the company's orders and Request Licenses.
async fn company_licenses(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<RequestedQuery>,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.user.company.as_ref().ok_or(PageError::NotFound)?;
    let page = orders::for_company(&state.db, &who.scope(), company.id, None, None, 50).await?;
    render(CompanyLicensesPage {
        layout: Layout::signed_in("Licenses", &csrf, &who, "/company/licenses"),
        orders: order_lines(page.items, &company.time_zone),
        requested: query.requested.map(OrderId),
    })
}

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    layout: Layout,
    company: String,
    ended_on: String,
    pending: Vec<OrderLine>,
    requested: Option<OrderId>,
}

/// Where a manager of a company without an active trial or batch lands.
async fn landing(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<RequestedQuery>,
) -> PageResult {
    who.enter(Area::Landing)?;
    let Landing::LandingPage { ended_on } = who.landing else {
        return Err(PageError::NotFound);
    };
    let company = who.user.company.as_ref().ok_or(PageError::NotFound)?;
    let pending = orders::for_company(
        &state.db,
        &who.scope(),
        company.id,
        Some(OrderState::Requested),
        None,
        20,
    )
    .await?;
    render(LandingPage {
        layout: Layout::signed_in("Your access has ended", &csrf, &who, "/landing"),
        company: company.name.clone(),
        ended_on: date(ended_on, &company.time_zone),
        pending: order_lines(pending.items, &company.time_zone),
        requested: query.requested.map(OrderId),
    })
}

#[derive(Template)]
#[template(path = "order_form.html")]
struct OrderFormPage {
    layout: Layout,
    heading: &'static str,
    back: &'static str,
    request_key: String,
    quantity: String,
    kind: OrderKind,
    error: Option<String>,
}

impl OrderFormPage {
    fn new(
        who: &SignedIn,
        csrf: &CsrfToken,
        request_key: String,
        quantity: String,
        kind: OrderKind,
        error: Option<String>,
    ) -> Self {
        let (heading, back) = match Area::of(who.landing) {
            Area::Landing => ("Request License", "/landing"),
            _ => ("Request Licenses", "/company/licenses"),
        };
        Self {
            layout: Layout::signed_in(heading, csrf, who, back),
            heading,
            back,
            request_key,
            quantity,
            kind,
            error,
        }
    }
}

async fn order_form(who: SignedIn, csrf: CsrfToken) -> PageResult {
    ordering_company(&who)?;
    render(OrderFormPage::new(
        &who,
        &csrf,
        sessions::new_token(),
        String::new(),
        OrderKind::Premium,
        None,
    ))
}

#[derive(Deserialize)]
struct OrderForm {
    request_key: String,
    quantity: String,
    kind: String,
}

/// Save on the Request License form: one `requested` order per form, however often it is sent.
async fn request_licences(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Form(form): Form<OrderForm>,
) -> PageResult {
    let company = ordering_company(&who)?;
    let kind = form.kind.parse::<OrderKind>();
    let parsed = SeatCount::parse(&form.quantity).and_then(|q| kind.clone().map(|k| (q, k)));
    let (quantity, kind) = match parsed {
        Ok(valid) if !form.request_key.is_empty() => valid,
        invalid => {
            let error = match invalid {
                Err(e) => format!("Number of licences: {e}."),
                Ok(_) => "This form is incomplete. Reload the page and try again.".to_owned(),
            };
            let page = OrderFormPage::new(
                &who,
                &csrf,
                if form.request_key.is_empty() {
                    sessions::new_token()
                } else {
                    form.request_key.clone()
                },
                form.quantity.clone(),
                kind.unwrap_or(OrderKind::Premium),
                Some(error),
            );
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
        }
    };
    let (order, _) = orders::request(
        &state.db,
        &who.scope(),
        &LicenceRequest {
            company: company.id,
            kind,
            quantity,
            requested_by: who.user.id,
            request_key: &form.request_key,
        },
        &state.config.public_url,
        state.clock.now(),
    )
    .await?;
    let back = match Area::of(who.landing) {
        Area::Landing => "/landing",
        _ => "/company/licenses",
    };
    Ok(Redirect::to(&format!("{back}?requested={order}")).into_response())
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    layout: Layout,
    emails: Vec<OutboxEmail>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct MailboxQuery {
    before: Option<i64>,
}

/// The operator's Mailbox: every email the instance queued, newest first, with its status.
async fn mailbox(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<MailboxQuery>,
) -> PageResult {
    who.enter(Area::Operator)?;
    let page = outbox::list(&state.db, query.before, 50).await?;
    render(MailboxPage {
        layout: Layout::signed_in("Mailbox", &csrf, &who, "/operator/mailbox"),
        emails: page.items,
        next: page.next.map(|id| format!("/operator/mailbox?before={id}")),
    })
}

#[derive(Template)]
#[template(path = "mailbox_email.html")]
struct MailboxEmailPage {
    layout: Layout,
    email: OutboxEmail,
}

async fn mailbox_email(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<i64>,
) -> PageResult {
    who.enter(Area::Operator)?;
    let email = outbox::get(&state.db, id).await?;
    render(MailboxEmailPage {
        layout: Layout::signed_in("Mailbox", &csrf, &who, "/operator/mailbox"),
        email,
    })
}
