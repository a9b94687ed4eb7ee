//! The emails operations queue, each in the transaction of the change that caused it, under a key
//! naming the event and the recipient, so the same event queues the same email once.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::Links;
use crate::db::outbox::{self, NewEmail};
use crate::db::passwords::{self, LinkPurpose};
use crate::db::webhooks;
use crate::db::{DbResult, orders::OpenOrder};
use crate::domain::access::{RESET_LINK_LIFETIME, WELCOME_LINK_LIFETIME};
use crate::domain::{CompanyId, Email, EndpointId, OrderId, UserId};
use crate::email::EmailContent;
use crate::email::messages::{self, OrderRequest};
use crate::format::date;

/// Queues one copy of `content` to each active manager of `company`, keyed by `event` and the
/// recipient.
pub(crate) async fn to_managers(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    kind: &str,
    event: &str,
    content: EmailContent,
    now: Timestamp,
) -> DbResult<()> {
    let email = content.render();
    for (user, address) in outbox::managers(tx, company).await? {
        let key = format!("{event}:user:{user}");
        let new = NewEmail {
            idempotency_key: key,
            kind,
            company: Some(company),
            recipient: &address,
            email: email.clone(),
        };
        outbox::queue(tx, &new, now).await?;
    }
    Ok(())
}

/// Who a welcome email greets and where they were added.
pub(crate) struct Welcome<'a> {
    pub user: UserId,
    pub email: &'a Email,
    pub greeting: &'a str,
    pub organisation: &'a str,
    pub company: Option<CompanyId>,
}

/// Issues a set-password link valid 7 days and queues the welcome email carrying it.
pub(crate) async fn welcome(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    welcome: &Welcome<'_>,
    now: Timestamp,
) -> DbResult<()> {
    let token = passwords::issue(
        tx,
        welcome.user,
        LinkPurpose::Welcome,
        WELCOME_LINK_LIFETIME,
        now,
    )
    .await?;
    let greeting = if welcome.greeting.is_empty() {
        welcome.email.as_str()
    } else {
        welcome.greeting
    };
    let content = messages::welcome(greeting, welcome.organisation, &links.set_password(&token));
    let new = NewEmail {
        idempotency_key: format!("welcome:user:{}:{}", welcome.user, &token[..16]),
        kind: "welcome",
        company: welcome.company,
        recipient: welcome.email.as_str(),
        email: content.render(),
    };
    outbox::queue(tx, &new, now).await?;
    Ok(())
}

/// Issues a reset link valid an hour and queues the email carrying it.
pub(crate) async fn password_reset(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    user: UserId,
    email: &Email,
    now: Timestamp,
) -> DbResult<()> {
    let token = passwords::issue(tx, user, LinkPurpose::Reset, RESET_LINK_LIFETIME, now).await?;
    let content = messages::password_reset(&links.set_password(&token));
    let new = NewEmail {
        idempotency_key: format!("reset:user:{user}:{}", now.as_second()),
        kind: "password_reset",
        company: None,
        recipient: email.as_str(),
        email: content.render(),
    };
    outbox::queue(tx, &new, now).await?;
    Ok(())
}

/// The alert to the company's account manager (or its partner's admins) about a new request.
pub(crate) async fn order_requested(
    tx: &mut Transaction<'static, Any>,
    order: &OrderRequest<'_>,
    id: OrderId,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<()> {
    let email = messages::order_requested(order).render();
    for (user, address) in crate::db::orders::alert_recipients(tx, company).await? {
        let new = NewEmail {
            idempotency_key: format!("order_requested:order:{id}:user:{user}"),
            kind: "order_requested",
            company: Some(company),
            recipient: &address,
            email: email.clone(),
        };
        outbox::queue(tx, &new, now).await?;
    }
    Ok(())
}

/// "N licences ready to allocate", to the company's managers.
pub(crate) async fn order_assigned(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    order: &OpenOrder,
    now: Timestamp,
) -> DbResult<()> {
    let content = messages::order_assigned(
        &order.company_name,
        order.quantity.get(),
        order.kind.label(),
        &links.company_licences(),
    );
    let event = format!("order_assigned:order:{}", order.id);
    to_managers(tx, order.company, "order_assigned", &event, content, now).await
}

/// The rejection and its reason, to whoever requested the order (if still active).
pub(crate) async fn order_rejected(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    order: &OpenOrder,
    reason: &str,
    now: Timestamp,
) -> DbResult<()> {
    let Some(requester) = order.requested_by else {
        return Ok(());
    };
    let Some(address) = outbox::active_address(tx, requester).await? else {
        return Ok(());
    };
    let content = messages::order_rejected(
        &order.company_name,
        order.quantity.get(),
        order.kind.label(),
        reason,
        &links.company_licences(),
    );
    let new = NewEmail {
        idempotency_key: format!("order_rejected:order:{}:user:{requester}", order.id),
        kind: "order_rejected",
        company: Some(order.company),
        recipient: &address,
        email: content.render(),
    };
    outbox::queue(tx, &new, now).await?;
    Ok(())
}

/// Tells whoever was alerted of the request that it was cancelled.
pub(crate) async fn order_cancelled(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    order: &OpenOrder,
    cancelled_by: &str,
    now: Timestamp,
) -> DbResult<()> {
    let email = messages::order_cancelled(
        &order.company_name,
        order.quantity.get(),
        order.kind.label(),
        cancelled_by,
        &links.partner_order(order.id),
    )
    .render();
    for (user, address) in crate::db::orders::alert_recipients(tx, order.company).await? {
        let new = NewEmail {
            idempotency_key: format!("order_cancelled:order:{}:user:{user}", order.id),
            kind: "order_cancelled",
            company: Some(order.company),
            recipient: &address,
            email: email.clone(),
        };
        outbox::queue(tx, &new, now).await?;
    }
    Ok(())
}

/// An endpoint seatledger disabled after it failed for days.
pub(crate) struct DisabledEndpoint<'a> {
    pub endpoint: EndpointId,
    pub failing_since: Timestamp,
    pub last_error: &'a str,
}

/// Tells the endpoint's owner (its partner's active admins, or the operator) it was disabled.
pub(crate) async fn webhook_endpoint_disabled(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    disabled: &DisabledEndpoint<'_>,
    now: Timestamp,
) -> DbResult<()> {
    let (owner, url, recipients) = webhooks::owner_addresses(tx, disabled.endpoint).await?;
    let since = format!("{} (UTC)", date(disabled.failing_since, "UTC"));
    let link = links.webhook_endpoint(owner, disabled.endpoint);
    let email =
        messages::webhook_endpoint_disabled(&url, &since, disabled.last_error, &link).render();
    for (user, address) in recipients {
        let new = NewEmail {
            idempotency_key: format!(
                "webhook_disabled:endpoint:{}:{}:user:{user}",
                disabled.endpoint,
                disabled.failing_since.as_second()
            ),
            kind: "webhook_disabled",
            company: None,
            recipient: &address,
            email: email.clone(),
        };
        outbox::queue(tx, &new, now).await?;
    }
    Ok(())
}
