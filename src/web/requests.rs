//! The pages of asking for licences, shared by a company (Request License, Upgrade to Premium)
//! and a partner asking for its own (My Orders → Add Licenses): the form, and the waiting request
//! shown instead of it, since a company has at most one, with Change quantity and Cancel request.

use askama::Template;
use axum::http::StatusCode;

use super::areas::SignedIn;
use super::layout::{Layout, PageResult, render_with};
use crate::db::orders::OrderRow;
use crate::db::sessions;
use crate::domain::OrderKind;
use crate::format::date;

/// Where a request form posts and leads back to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestPlace {
    /// `/company/orders` or `/partner/orders`: the form posts here, and a waiting order's
    /// changes go to `{orders}/{id}/quantity` and `{orders}/{id}/cancel`.
    pub orders: &'static str,
    /// Where Cancel and Back lead.
    pub back: &'static str,
    /// A partner's own licences: Premium only, asked of the partner above.
    pub own: bool,
}

#[derive(Template)]
#[template(path = "order_form.html")]
pub(crate) struct OrderFormPage {
    layout: Layout,
    place: RequestPlace,
    upgrade: bool,
    heading: &'static str,
    request_key: String,
    quantity: String,
    kind: OrderKind,
    error: Option<String>,
}

/// What a request form was sent with.
pub(crate) struct Sent<'a> {
    pub request_key: &'a str,
    pub quantity: &'a str,
    pub kind: &'a str,
}

/// The request form, empty (`sent` None, with a fresh one-time key) or as sent with its error.
pub(crate) fn order_form(
    who: &SignedIn,
    place: RequestPlace,
    (heading, upgrade): (&'static str, bool),
    sent: Option<Sent<'_>>,
    error: Option<String>,
) -> PageResult {
    let page = OrderFormPage {
        layout: who.layout(heading, place.back),
        place,
        upgrade,
        heading,
        request_key: sent
            .as_ref()
            .map(|s| s.request_key.to_owned())
            .filter(|k| !k.is_empty())
            .unwrap_or_else(sessions::new_token),
        quantity: sent
            .as_ref()
            .map(|s| s.quantity.to_owned())
            .unwrap_or_default(),
        kind: sent
            .and_then(|s| s.kind.parse().ok())
            .unwrap_or(OrderKind::Premium),
        error,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with(status, page)
}

#[derive(Template)]
#[template(path = "waiting_request.html")]
pub(crate) struct WaitingPage {
    layout: Layout,
    place: RequestPlace,
    order: OrderRow,
    requested_on: String,
    quantity: String,
    error: Option<String>,
}

/// The waiting request of the company, shown instead of a new request form, with the quantity
/// as typed and its error when a change was refused.
pub(crate) fn waiting_page(
    who: &SignedIn,
    place: RequestPlace,
    order: OrderRow,
    time_zone: &str,
    refused: Option<(&str, String)>,
) -> PageResult {
    let (quantity, error) = match refused {
        Some((typed, error)) => (typed.to_owned(), Some(error)),
        None => (order.quantity.to_string(), None),
    };
    let page = WaitingPage {
        layout: who.layout("A request is waiting", place.back),
        place,
        requested_on: date(order.requested_at, time_zone),
        order,
        quantity,
        error,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with(status, page)
}
