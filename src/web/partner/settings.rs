//! Admin Dashboard → Settings: the time zone the partner's pages show dates in. Its admins set
//! it; the zone must be one the time-zone database knows.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;

use crate::db::partners;
use crate::domain::{Action, TimeZoneName};
use crate::format::date_time;
use crate::ops::partners as partner_ops;
use crate::ops::{Error, Fields};
use crate::web::areas::PartnerArea;
use crate::web::error::field_messages;
use crate::web::layout::{Layout, PageResult, render_with};
use crate::web::{AppState, BOTH, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes.add("/partner/settings", BOTH, get(page).post(save))
}

#[derive(Template)]
#[template(path = "partner_settings.html")]
struct SettingsPage {
    layout: Layout,
    /// The zone saved now, and the time now as pages show it in that zone.
    current: String,
    now_shown: String,
    /// The form's value: the saved zone, or what was typed.
    time_zone: String,
    zones: Vec<String>,
    /// The time zone field's problem.
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    time_zone: String,
}

async fn settings_page(
    state: &AppState,
    area: &PartnerArea,
    typed: Option<String>,
    error: Option<String>,
) -> PageResult {
    let current = partners::time_zone(&state.ops.db, area.partner).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with(
        status,
        SettingsPage {
            layout: area.layout("Settings", "/partner/settings"),
            now_shown: date_time(state.ops.now(), &current),
            time_zone: typed.unwrap_or_else(|| current.clone()),
            current,
            zones: TimeZoneName::all(),
            error,
            notice: area.flash.clone(),
        },
    )
}

/// Settings: the partner's time zone.
async fn page(State(state): State<Arc<AppState>>, area: PartnerArea) -> PageResult {
    // The form is the action: whoever may not take it does not get the form either.
    area.caller
        .partner_for(Action::AdministerPartner, state.ops.now())?;
    settings_page(&state, &area, None, None).await
}

async fn save(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Form(form): Form<SettingsForm>,
) -> PageResult {
    let outcome = async {
        let mut fields = Fields::default();
        let zone = fields.take("time_zone", TimeZoneName::parse(&form.time_zone));
        let zone = fields.finish(|| zone)?;
        partner_ops::set_time_zone(&state.ops, &area.caller, &zone).await?;
        Ok::<_, Error>(zone)
    };
    match outcome.await {
        Ok(zone) => {
            let notice = format!("Saved: your pages now show dates in {}.", zone.as_str());
            area.redirect_with_notice(&state, "/partner/settings", &notice)
                .await
        }
        Err(Error::Invalid(errors)) => {
            let message = field_messages(&errors, &[("time_zone", "Time zone")]).join(" ");
            settings_page(&state, &area, Some(form.time_zone), Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}
