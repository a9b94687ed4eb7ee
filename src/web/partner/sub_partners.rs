//! Sub-partners: the list, and Create Sub-partner with its first admin.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde::Deserialize;

use super::PAGE;
use crate::db::partners::{self, SubPartnerRow, SubPartnerSort};
use crate::domain::{Action, Email, InvalidValue, OrgName, PersonName, TrialDays};
use crate::ops::partners::{self as partner_ops, NewPartner};
use crate::ops::{Error, Fields};
use crate::web::areas::PartnerArea;
use crate::web::error::form_errors;
use crate::web::layout::{Layout, PageResult, render, render_with};
use crate::web::pager::{Heading, PageParams, Pager};
use crate::web::{AppState, BOTH, GET, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/partner/partners", BOTH, get(list).post(create))
        .add("/partner/partners/new", GET, get(new_form))
}

#[derive(Template)]
#[template(path = "sub_partners.html")]
struct SubPartnersPage {
    layout: Layout,
    partners: Vec<SubPartnerRow>,
    created: bool,
    headings: Vec<Heading>,
    pager: Pager,
}

#[derive(Deserialize)]
struct SubPartnersQuery {
    #[serde(default)]
    created: String,
    #[serde(flatten)]
    page: PageParams,
}

const HEADINGS: [(Option<SubPartnerSort>, &str, bool); 3] = [
    (Some(SubPartnerSort::Name), "Name", false),
    (None, "Trial length", false),
    (None, "Companies", false),
];

async fn list(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Query(query): Query<SubPartnersQuery>,
) -> PageResult {
    let listing = query.page.listing(
        "/partner/partners",
        (SubPartnerSort::Name, false),
        Vec::new(),
    );
    let db = &state.ops.db;
    let page =
        partners::children(db, area.partner, listing.descending, &listing.seek, PAGE).await?;
    let total = partners::children_count(db, area.partner).await?;
    render(SubPartnersPage {
        layout: area.layout("Sub-partners", "/partner/partners"),
        headings: listing.headings(&HEADINGS),
        pager: listing.pager(&page, PAGE, total),
        partners: page.rows,
        created: query.created == "true",
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
struct SubPartnerForm {
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

impl SubPartnerForm {
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

async fn new_form(State(state): State<Arc<AppState>>, area: PartnerArea) -> PageResult {
    // The form is the action: whoever may not take it does not get the form either.
    area.caller
        .partner_for(Action::AdministerPartner, state.ops.now())?;
    render(SubPartnerFormPage {
        layout: area.layout("Create Sub-partner", "/partner/partners"),
        form: SubPartnerForm {
            trial_days: TrialDays::DEFAULT.get().to_string(),
            ..SubPartnerForm::default()
        },
        errors: Vec::new(),
    })
}

async fn create(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Form(form): Form<SubPartnerForm>,
) -> PageResult {
    // Rights before the form: a caller who may not create hears so, not what to fix.
    area.caller
        .partner_for(Action::AdministerPartner, state.ops.now())?;
    let outcome = async {
        let new = form.parse()?;
        partner_ops::create_sub_partner(&state.ops, &area.caller, &new).await
    };
    let errors = match outcome.await {
        Ok(_) => return Ok(Redirect::to("/partner/partners?created=true").into_response()),
        Err(e) => form_errors(e, LABELS)?,
    };
    let page = SubPartnerFormPage {
        layout: area.layout("Create Sub-partner", "/partner/partners"),
        form,
        errors,
    };
    render_with(StatusCode::UNPROCESSABLE_ENTITY, page)
}
