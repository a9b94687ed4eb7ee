//! A partner's own licences: Licences → Orders → My Orders → Add Licenses → number → Save asks
//! the partner above (a distributor asks the operator) for licences on the partner's internal
//! company, beside its NFR seats. While one request waits, it is shown to change or cancel.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::db::companies;
use crate::db::orders;
use crate::db::scope::AuthorisedCompany;
use crate::domain::{InvalidValue, OrderId, OrderKind, SeatCount};
use crate::ops::orders::{self as order_ops, LicenceRequest};
use crate::ops::{Conflict, Error, Fields, authorise};
use crate::web::areas::PartnerArea;
use crate::web::error::form_errors;
use crate::web::layout::PageResult;
use crate::web::requests::{self, RequestPlace, Sent, waiting_page};
use crate::web::{AppState, GET, POST, PageError, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/partner/orders/new", GET, get(new_form))
        .add("/partner/orders", POST, post(request))
        .add("/partner/orders/{id}/quantity", POST, post(change_quantity))
}

const PLACE: RequestPlace = RequestPlace {
    orders: "/partner/orders",
    back: "/partner/licences?tab=mine",
    own: true,
};

const HEADING: (&str, bool) = ("Add Licenses", false);

const LABELS: &[(&str, &str)] = &[("quantity", "Number of licences"), ("request_key", "Form")];

/// The partner's internal company, which the caller may run.
async fn own_company(state: &AppState, area: &PartnerArea) -> Result<AuthorisedCompany, PageError> {
    let now = state.ops.now();
    let internal = companies::internal(&state.ops.db, area.partner, now).await?;
    Ok(authorise(&state.ops, &area.caller, internal.id).await?)
}

/// Add Licenses: the form, or the request already waiting.
async fn new_form(State(state): State<Arc<AppState>>, area: PartnerArea) -> PageResult {
    let company = own_company(&state, &area).await?;
    if let Some(waiting) = orders::waiting(state.ops.db.pool(), company.id()).await? {
        return waiting_page(&area, PLACE, waiting, &company.time_zone, None);
    }
    requests::order_form(&area, PLACE, HEADING, None, None)
}

#[derive(Deserialize, Default)]
struct OwnOrderForm {
    #[serde(default)]
    request_key: String,
    #[serde(default)]
    quantity: String,
}

/// Save: one `requested` order per form; the partner above is alerted.
async fn request(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Form(form): Form<OwnOrderForm>,
) -> PageResult {
    let company = own_company(&state, &area).await?;
    let outcome = async {
        let mut fields = Fields::default();
        let quantity = fields.take("quantity", SeatCount::parse(&form.quantity));
        if form.request_key.is_empty() {
            fields.refuse("request_key", InvalidValue::Required);
        }
        let quantity = fields.finish(|| quantity)?;
        let request = LicenceRequest {
            kind: OrderKind::Premium,
            quantity,
            request_key: &form.request_key,
        };
        order_ops::request(&state.ops, &area.caller, &company, &request).await
    };
    let errors = match outcome.await {
        Ok(requested) => {
            let notice = format!(
                "Your request (order {}) was sent to the partner above you.",
                requested.order
            );
            return area
                .redirect_with_notice(&state, "/partner/licences?tab=mine", &notice)
                .await;
        }
        Err(Error::Conflict(Conflict::RequestWaiting(_))) => {
            return Ok(Redirect::to("/partner/orders/new").into_response());
        }
        Err(e) => form_errors(e, LABELS)?,
    };
    let sent = Sent {
        request_key: &form.request_key,
        quantity: &form.quantity,
        kind: "premium",
    };
    requests::order_form(&area, PLACE, HEADING, Some(sent), Some(errors.join(" ")))
}

#[derive(Deserialize)]
struct QuantityForm {
    #[serde(default)]
    quantity: String,
}

/// Change quantity on the partner's waiting request.
async fn change_quantity(
    State(state): State<Arc<AppState>>,
    area: PartnerArea,
    Path(id): Path<i64>,
    Form(form): Form<QuantityForm>,
) -> PageResult {
    let (company, id) = (own_company(&state, &area).await?, OrderId(id));
    let outcome = async {
        let mut fields = Fields::default();
        let quantity = fields.take("quantity", SeatCount::parse(&form.quantity));
        let quantity = fields.finish(|| quantity)?;
        order_ops::change_quantity(&state.ops, &area.caller, &company, id, quantity).await
    };
    let error = match outcome.await {
        Ok(()) => {
            let notice = format!("Order {id} changed: the partner above you has been emailed.");
            return area
                .redirect_with_notice(&state, "/partner/licences?tab=mine", &notice)
                .await;
        }
        Err(e) => form_errors(e, LABELS)?.join(" "),
    };
    let waiting = orders::waiting(state.ops.db.pool(), company.id()).await?;
    let waiting = waiting.filter(|o| o.id == id).ok_or(Error::NotFound)?;
    let refused = Some((form.quantity.as_str(), error));
    waiting_page(&area, PLACE, waiting, &company.time_zone, refused)
}
