//! The operator's console: partners and the Mailbox.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde::Deserialize;

use super::areas::OperatorArea;
use super::layout::{Layout, PageResult, render, section};
use super::{AppState, GET, Routes};
use crate::db::outbox::{self, OutboxEmail};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add("/operator", GET, get(operator_home))
        .add("/operator/mailbox", GET, get(mailbox))
        .add("/operator/mailbox/{id}", GET, get(mailbox_email))
}

async fn operator_home(area: OperatorArea) -> PageResult {
    section(
        &area,
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
struct MailboxQuery {
    before: Option<i64>,
}

/// The operator's Mailbox: every email the instance queued, newest first, with its status.
async fn mailbox(
    State(state): State<Arc<AppState>>,
    area: OperatorArea,
    Query(query): Query<MailboxQuery>,
) -> PageResult {
    let page = outbox::list(&state.ops.db, query.before, 50).await?;
    render(MailboxPage {
        layout: area.layout("Mailbox", "/operator/mailbox"),
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
    area: OperatorArea,
    Path(id): Path<i64>,
) -> PageResult {
    render(MailboxEmailPage {
        layout: area.layout("Mailbox", "/operator/mailbox"),
        email: outbox::get(&state.ops.db, id).await?,
    })
}
