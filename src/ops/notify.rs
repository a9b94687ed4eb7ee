//! The emails operations queue, each in the transaction of the change that caused it, under a key
//! naming the event and the recipient, so the same event queues the same email once.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::Links;
use crate::db::orders::OpenOrder;
use crate::db::outbox::Recipient;
use crate::db::outbox::{self, NewEmail};
use crate::db::passwords::{self, LinkPurpose};
use crate::db::webhooks;
use crate::db::{Backend, DbResult};
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
    outbox::queue(tx, &welcome_email(links, welcome, &token), now).await?;
    Ok(())
}

/// `welcome` for each of `welcomes`, with a statement for the links and one for the emails.
pub(crate) async fn welcomes(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    links: &Links,
    welcomes: &[Welcome<'_>],
    now: Timestamp,
) -> DbResult<()> {
    let users: Vec<UserId> = welcomes.iter().map(|w| w.user).collect();
    let purpose = LinkPurpose::Welcome;
    let tokens =
        passwords::issue_many(tx, backend, &users, purpose, WELCOME_LINK_LIFETIME, now).await?;
    let emails: Vec<NewEmail> = welcomes
        .iter()
        .zip(&tokens)
        .map(|(welcome, token)| welcome_email(links, welcome, token))
        .collect();
    outbox::queue_many(tx, backend, &emails, now).await
}

/// The welcome email carrying link `token`.
fn welcome_email<'a>(links: &Links, welcome: &Welcome<'a>, token: &str) -> NewEmail<'a> {
    let greeting = if welcome.greeting.is_empty() {
        welcome.email.as_str()
    } else {
        welcome.greeting
    };
    let content = messages::welcome(greeting, welcome.organisation, &links.set_password(token));
    NewEmail {
        idempotency_key: format!("welcome:user:{}:{}", welcome.user, &token[..16]),
        kind: "welcome",
        company: welcome.company,
        recipient: welcome.email.as_str(),
        email: content.render(),
    }
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

/// Tells the owner of `user` that wrong passwords from `address` locked sign-ins until `until`.
pub(crate) async fn sign_in_locked(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    user: UserId,
    email: &str,
    address: &str,
    until: Timestamp,
    now: Timestamp,
) -> DbResult<()> {
    let content = messages::sign_in_locked(
        address,
        &until.strftime("%Y-%m-%d %H:%M").to_string(),
        &links.forgot_password(),
    );
    let new = NewEmail {
        idempotency_key: format!("locked:user:{user}:{address}:{}", until.as_second()),
        kind: "sign_in_locked",
        company: None,
        recipient: email,
        email: content.render(),
    };
    outbox::queue(tx, &new, now).await?;
    Ok(())
}

/// Where a recipient of an order alert opens the order.
fn order_url(links: &Links, recipient: &Recipient, order: OrderId) -> String {
    if recipient.operator {
        links.operator_order(order)
    } else {
        links.partner_order(order)
    }
}

/// Queues `content` (made for each recipient's link) to whoever sells to the order's company,
/// keyed by `event` and the recipient.
async fn to_sellers(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    (kind, event): (&str, &str),
    order: OrderId,
    company: CompanyId,
    content: impl Fn(&str) -> EmailContent,
    now: Timestamp,
) -> DbResult<()> {
    for recipient in outbox::alert_recipients(tx, company).await? {
        let email = content(&order_url(links, &recipient, order)).render();
        let new = NewEmail {
            idempotency_key: format!("{event}:user:{}", recipient.user),
            kind,
            company: Some(company),
            recipient: &recipient.email,
            email,
        };
        outbox::queue(tx, &new, now).await?;
    }
    Ok(())
}

/// The alert to the company's account manager (or its partner's admins; for a partner's own
/// licences, whoever sells to it) about a new request.
pub(crate) async fn order_requested(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    order: &OrderRequest<'_>,
    id: OrderId,
    company: CompanyId,
    now: Timestamp,
) -> DbResult<()> {
    let event = format!("order_requested:order:{id}");
    let content = |url: &str| {
        messages::order_requested(&OrderRequest {
            order_url: url,
            ..*order
        })
    };
    let kind = ("order_requested", event.as_str());
    to_sellers(tx, links, kind, id, company, content, now).await
}

/// A waiting request's new quantity, to whoever was alerted of it.
pub(crate) async fn order_changed(
    tx: &mut Transaction<'static, Any>,
    links: &Links,
    order: &OpenOrder,
    to: u32,
    changed_by: &str,
    now: Timestamp,
) -> DbResult<()> {
    let from = order.quantity.get();
    let event = format!(
        "order_changed:order:{}:{}:{from}:{to}",
        order.id,
        now.as_second()
    );
    let content = |url: &str| {
        let kind = order.kind.label();
        messages::order_changed(&order.company_name, from, to, kind, changed_by, url)
    };
    let kind = ("order_changed", event.as_str());
    to_sellers(tx, links, kind, order.id, order.company, content, now).await
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
    to_managers(tx, order.company, "order_assigned", &event, content, now).await?;
    // A partner's own licences: the partner user who asked hears it too, in its own console.
    let requester = order.requested_by.filter(|_| order.internal);
    let Some(requester) = requester else {
        return Ok(());
    };
    let Some(address) = outbox::active_address(tx, requester).await? else {
        return Ok(());
    };
    let content = messages::order_assigned(
        &order.company_name,
        order.quantity.get(),
        order.kind.label(),
        &links.partner_own_orders(),
    );
    let new = NewEmail {
        idempotency_key: format!("{event}:user:{requester}"),
        kind: "order_assigned",
        company: Some(order.company),
        recipient: &address,
        email: content.render(),
    };
    outbox::queue(tx, &new, now).await?;
    Ok(())
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
    let event = format!("order_cancelled:order:{}", order.id);
    let content = |url: &str| {
        let (quantity, kind) = (order.quantity.get(), order.kind.label());
        messages::order_cancelled(&order.company_name, quantity, kind, cancelled_by, url)
    };
    let kind = ("order_cancelled", event.as_str());
    to_sellers(tx, links, kind, order.id, order.company, content, now).await
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
