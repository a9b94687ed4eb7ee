//! The instance: the first-run page behind the set-up link, which creates the operator, and the
//! operator's Settings (the default trial length of new distributors).

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde::Deserialize;

use crate::domain::{Email, InvalidValue, Password, PersonName, TrialDays};
use crate::ops::operator::{self as operator_ops, OperatorAccount};
use crate::ops::{Error, Fields};
use crate::web::areas::OperatorArea;
use crate::web::error::{form_errors, link};
use crate::web::layout::{Layout, PageResult, render, render_with};
use crate::web::session::CsrfToken;
use crate::web::{AppState, BOTH, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes.add("/setup", BOTH, get(setup_page).post(setup)).add(
        "/operator/settings",
        BOTH,
        get(settings).post(save_settings),
    )
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    token: String,
    form: SetupForm,
    /// The link's problem: no form is shown.
    refused: Option<&'static str>,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

const LABELS: &[(&str, &str)] = &[
    ("email", "Email"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("password", "Password"),
    ("confirm", "Confirm password"),
];

/// The form behind the set-up link printed by the first `serve` of an empty database.
async fn setup_page(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    Query(query): Query<TokenQuery>,
) -> PageResult {
    let refused = match operator_ops::check_setup_link(&state.ops, &query.token).await {
        Ok(()) => None,
        Err(Error::Link(e)) => Some(link(e)),
        Err(e) => return Err(e.into()),
    };
    let status = if refused.is_some() {
        StatusCode::GONE
    } else {
        StatusCode::OK
    };
    let page = SetupPage {
        layout: Layout::anonymous("Set up seatledger", &csrf),
        token: query.token,
        form: SetupForm::default(),
        refused,
        errors: Vec::new(),
    };
    render_with(status, page)
}

impl SetupForm {
    fn parse(&self) -> Result<OperatorAccount, Error> {
        let mut fields = Fields::default();
        let email = fields.take("email", Email::parse(&self.email));
        let first_name = fields.take("first_name", PersonName::parse(&self.first_name));
        let last_name = fields.take("last_name", PersonName::parse(&self.last_name));
        let password = fields.take("password", Password::parse(&self.password));
        if self.password != self.confirm {
            fields.refuse("confirm", InvalidValue::Mismatch);
        }
        fields.finish(|| {
            Some(OperatorAccount {
                email: email?,
                first_name: first_name?,
                last_name: last_name?,
                password: password?,
            })
        })
    }
}

/// Create the operator: the link is used up, and the operator signs in with the new password.
async fn setup(
    State(state): State<Arc<AppState>>,
    csrf: CsrfToken,
    Form(form): Form<SetupForm>,
) -> PageResult {
    let outcome = async {
        let account = form.parse()?;
        operator_ops::create_operator(&state.ops, &form.token, &account).await
    };
    let (refused, errors) = match outcome.await {
        Ok(_) => return Ok(Redirect::to("/sign-in?password=set").into_response()),
        Err(Error::Link(e)) => (Some(link(e)), Vec::new()),
        Err(e) => (None, form_errors(e, LABELS)?),
    };
    let status = if refused.is_some() {
        StatusCode::GONE
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SetupPage {
        layout: Layout::anonymous("Set up seatledger", &csrf),
        token: form.token.clone(),
        form: SetupForm {
            password: String::new(),
            confirm: String::new(),
            ..form
        },
        refused,
        errors,
    };
    render_with(status, page)
}

#[derive(Template)]
#[template(path = "operator_settings.html")]
struct SettingsPage {
    layout: Layout,
    trial_days: String,
    saved: bool,
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct SettingsQuery {
    #[serde(default)]
    saved: bool,
}

/// Settings: the trial length new distributors start with.
async fn settings(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Query(query): Query<SettingsQuery>,
) -> PageResult {
    let days = operator_ops::trial_days(&state.ops, &area.caller).await?;
    render(SettingsPage {
        layout: area.layout("Settings", "/operator/settings"),
        trial_days: days.get().to_string(),
        saved: query.saved,
        errors: Vec::new(),
    })
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    trial_days: String,
}

async fn save_settings(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Form(form): Form<SettingsForm>,
) -> PageResult {
    let outcome = async {
        let mut fields = Fields::default();
        let days = fields.take("trial_days", TrialDays::parse(&form.trial_days));
        let days = fields.finish(|| days)?;
        operator_ops::set_trial_days(&state.ops, &area.caller, days).await
    };
    let errors = match outcome.await {
        Ok(()) => return Ok(Redirect::to("/operator/settings?saved=true").into_response()),
        Err(e) => form_errors(e, &[("trial_days", "Default trial length")])?,
    };
    let page = SettingsPage {
        layout: area.layout("Settings", "/operator/settings"),
        trial_days: form.trial_days,
        saved: false,
        errors,
    };
    render_with(StatusCode::UNPROCESSABLE_ENTITY, page)
}
