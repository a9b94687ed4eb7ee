//! The operator's console: Partners (`partners`), Requested Orders (`orders`), Settings and the
//! first-run set-up page (`instance`), and the Mailbox.

mod instance;
mod orders;
mod partners;

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde::Deserialize;

use super::areas::OperatorArea;
use super::layout::{Layout, PageResult, render};
use super::{AppState, GET, Routes};
use crate::db::outbox::{self, OutboxEmail};

pub(super) fn routes(routes: Routes) -> Routes {
    let routes = partners::routes(routes);
    let routes = orders::routes(routes);
    let routes = instance::routes(routes);
    routes.add("/operator/mailbox", GET, get(mailbox)).add(
        "/operator/mailbox/{id}",
        GET,
        get(mailbox_email),
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
