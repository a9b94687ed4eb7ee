//! The operator's console: partners and the Mailbox.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::AppState;
use super::layout::{Layout, PageResult, render, section};
use super::session::{Area, CsrfToken, SignedIn};
use crate::db::outbox::{self, OutboxEmail};

pub(super) async fn operator_home(who: SignedIn, csrf: CsrfToken) -> PageResult {
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
#[template(path = "mailbox.html")]
struct MailboxPage {
    layout: Layout,
    emails: Vec<OutboxEmail>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct MailboxQuery {
    before: Option<i64>,
}

/// The operator's Mailbox: every email the instance queued, newest first, with its status.
pub(super) async fn mailbox(
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

pub(super) async fn mailbox_email(
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
