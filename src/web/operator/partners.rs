//! Operator console → Partners: every partner with its companies and seats, one partner's users
//! with Resend invitation, and Create Distributor with its first admin.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::db::Scope;
use crate::db::companies::{self, CompanyCursor, CompanyFilter, CompanyRow};
use crate::db::partners::{self, Partner, PartnerPerson, PartnerRow};
use crate::domain::{
    CompanyId, Email, InvalidValue, OrgName, PartnerId, PersonName, TrialDays, UserId,
};
use crate::ops::operator as operator_ops;
use crate::ops::partners::NewPartner;
use crate::ops::{Error, Fields};
use crate::web::areas::OperatorArea;
use crate::web::error::form_errors;
use crate::web::layout::{Layout, PageResult, render, render_with};
use crate::web::pager::is_sort_key;
use crate::web::{AppState, GET, POST, Routes};

/// Partners per page.
const PAGE: u32 = 50;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/operator", GET, get(list))
        .add("/operator/partners/{id}", GET, get(partner))
        .add("/operator/distributors/new", GET, get(new_form))
        .add("/operator/distributors", POST, post(create))
        .add("/operator/users/{id}/invitation", POST, post(resend))
}

#[derive(Template)]
#[template(path = "operator_partners.html")]
struct PartnersPage {
    layout: Layout,
    partners: Vec<PartnerRow>,
    created: bool,
    next: Option<String>,
}

#[derive(Deserialize)]
struct PartnersQuery {
    after_name: Option<String>,
    after_id: Option<i64>,
    #[serde(default)]
    created: bool,
}

/// Partners: every partner in name order, with its own companies, their seats and its NFR seats.
async fn list(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Query(query): Query<PartnersQuery>,
) -> PageResult {
    let after = query
        .after_name
        .as_deref()
        .filter(|name| is_sort_key(name))
        .zip(query.after_id.map(PartnerId));
    let page = partners::all(&state.ops.db, after, PAGE, state.ops.now()).await?;
    let next = page.next.map(|(name, id)| {
        let pairs = [("after_name", name), ("after_id", id.to_string())];
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/operator?{query}")
    });
    render(PartnersPage {
        layout: area.layout("Partners", "/operator"),
        partners: page.items,
        created: query.created,
        next,
    })
}

#[derive(Template)]
#[template(path = "operator_partner.html")]
struct PartnerPage {
    layout: Layout,
    partner: Partner,
    people: Vec<PartnerPerson>,
    companies: Vec<CompanyRow>,
    resent: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct PartnerQuery {
    resent: Option<String>,
    after_name: Option<String>,
    after_id: Option<i64>,
}

/// One partner: its users, with Resend invitation for admins who have not set a password, and
/// the customer companies beneath it with their seats, a page at a time.
async fn partner(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Path(id): Path<i64>,
    Query(query): Query<PartnerQuery>,
) -> PageResult {
    let db = &state.ops.db;
    let (partner, people) = partners::with_people(db, PartnerId(id)).await?;
    let after = query
        .after_name
        .filter(|name| is_sort_key(name))
        .zip(query.after_id)
        .map(|(name, id)| CompanyCursor {
            name,
            id: CompanyId(id),
        });
    let scope = Scope::Partner(partner.id);
    let filter = CompanyFilter::default();
    let now = state.ops.now();
    let page = companies::list(db, &scope, &filter, after.as_ref(), PAGE, now).await?;
    let next = page.next.map(|c| {
        let pairs = [("after_name", c.name), ("after_id", c.id.to_string())];
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/operator/partners/{id}?{query}")
    });
    render(PartnerPage {
        layout: area.layout(&partner.name, "/operator"),
        partner,
        people,
        companies: page.items,
        resent: query.resent,
        next,
    })
}

/// Resend invitation: a new set-password link; the old one stops working.
async fn resend(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Path(id): Path<i64>,
) -> PageResult {
    let partner = operator_ops::resend_invitation(&state.ops, &area.caller, UserId(id)).await?;
    Ok(Redirect::to(&format!("/operator/partners/{partner}?resent={id}")).into_response())
}

#[derive(Template)]
#[template(path = "distributor_form.html")]
struct DistributorFormPage {
    layout: Layout,
    form: DistributorForm,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
struct DistributorForm {
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

const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("trial_days", "Trial length"),
    ("first_name", "Admin first name"),
    ("last_name", "Admin last name"),
    ("email", "Admin email"),
];

impl DistributorForm {
    fn parse(&self) -> Result<NewPartner, Error> {
        let mut fields = Fields::default();
        let name = fields.take("name", OrgName::parse(&self.name));
        let trial_days = fields.take("trial_days", TrialDays::parse(&self.trial_days));
        let first = PersonName::parse(&self.first_name).and_then(|n| {
            (!n.as_str().is_empty())
                .then_some(n)
                .ok_or(InvalidValue::Required)
        });
        let first = fields.take("first_name", first);
        let last = fields.take("last_name", PersonName::parse(&self.last_name));
        let email = fields.take("email", Email::parse(&self.email));
        fields.finish(|| {
            Some(NewPartner {
                name: name?,
                trial_days: trial_days?,
                admin_first_name: first?,
                admin_last_name: last?,
                admin_email: email?,
            })
        })
    }
}

/// Create Distributor, its trial length set to the instance's default.
async fn new_form(State(state): State<Arc<AppState>>, area: OperatorArea) -> PageResult {
    let days = operator_ops::trial_days(&state.ops, &area.caller).await?;
    render(DistributorFormPage {
        layout: area.layout("Create Distributor", "/operator"),
        form: DistributorForm {
            trial_days: days.get().to_string(),
            ..DistributorForm::default()
        },
        errors: Vec::new(),
    })
}

async fn create(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Form(form): Form<DistributorForm>,
) -> PageResult {
    let outcome = async {
        let new = form.parse()?;
        operator_ops::create_distributor(&state.ops, &area.caller, &new).await
    };
    let errors = match outcome.await {
        Ok(_) => return Ok(Redirect::to("/operator?created=true").into_response()),
        Err(e) => form_errors(e, LABELS)?,
    };
    let page = DistributorFormPage {
        layout: area.layout("Create Distributor", "/operator"),
        form,
        errors,
    };
    render_with(StatusCode::UNPROCESSABLE_ENTITY, page)
}
