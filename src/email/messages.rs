//! What each automated email of the product says (DESIGN §3). Dates arrive already formatted in
//! the company's time zone; links arrive absolute.

use super::EmailContent;

pub fn trial_ending(company: &str, ends_on: &str, upgrade_url: &str) -> EmailContent {
    EmailContent {
        subject: format!("{company}: your free trial ends on {ends_on}"),
        paragraphs: vec![
            format!("The free trial of {company} ends on {ends_on}."),
            "After that your learners can no longer sign in and managers lose the dashboard until \
             licences are assigned. Request licences now to keep everyone working."
                .into(),
        ],
        items: Vec::new(),
        action: Some(("Request Licenses".into(), upgrade_url.into())),
    }
}

pub fn trial_expired(company: &str, ended_on: &str, landing_url: &str) -> EmailContent {
    EmailContent {
        subject: format!("{company}: your free trial has expired"),
        paragraphs: vec![
            format!("The free trial of {company} ended on {ended_on}."),
            "Your learners can no longer sign in, and managers can no longer use the dashboard. \
             Their accounts and history are kept: request licences and they can continue."
                .into(),
        ],
        items: Vec::new(),
        action: Some(("Upgrade Now".into(), landing_url.into())),
    }
}

pub fn batch_expiring(
    company: &str,
    seats: u32,
    expires_on: &str,
    order_url: &str,
) -> EmailContent {
    EmailContent {
        subject: format!("{company}: {seats} licences expire on {expires_on}"),
        paragraphs: vec![
            format!("{seats} licences of {company} expire on {expires_on}."),
            "Learners holding these licences will not be able to sign in after that date unless \
             they are renewed. Order licences now to renew them."
                .into(),
        ],
        items: Vec::new(),
        action: Some(("Order licences".into(), order_url.into())),
    }
}

pub fn batch_expired(
    company: &str,
    seats: u32,
    expired_on: &str,
    learners: &[String],
    more_learners: u64,
    order_url: &str,
) -> EmailContent {
    let mut paragraphs = vec![format!(
        "{seats} licences of {company} expired on {expired_on}."
    )];
    paragraphs.push(if learners.is_empty() {
        "No learner held one of these licences.".into()
    } else {
        "These learners can no longer sign in until their licences are renewed:".into()
    });
    let mut items = learners.to_vec();
    if more_learners > 0 {
        items.push(format!("and {more_learners} more"));
    }
    EmailContent {
        subject: format!("{company}: {seats} licences have expired"),
        paragraphs,
        items,
        action: Some(("Order licences".into(), order_url.into())),
    }
}

#[derive(Clone, Copy)]
pub struct OrderRequest<'a> {
    pub company: &'a str,
    pub quantity: u32,
    pub kind: &'a str,
    pub requested_by: &'a str,
    pub order_url: &'a str,
}

pub fn order_requested(order: &OrderRequest<'_>) -> EmailContent {
    EmailContent {
        subject: format!(
            "{}: {} {} licences requested",
            order.company, order.quantity, order.kind
        ),
        paragraphs: vec![
            format!(
                "{} of {} has requested {} {} licences.",
                order.requested_by, order.company, order.quantity, order.kind
            ),
            "Assign or reject the order from Licences → Orders → Requested Orders.".into(),
        ],
        items: Vec::new(),
        action: Some(("Open the order".into(), order.order_url.into())),
    }
}

pub fn order_assigned(
    company: &str,
    quantity: u32,
    kind: &str,
    allocate_url: &str,
) -> EmailContent {
    EmailContent {
        subject: format!("{company}: {quantity} {kind} licences are ready to allocate"),
        paragraphs: vec![
            format!("{quantity} {kind} licences have been assigned to {company}. They are valid for 12 months from today."),
            "Allocate them to your learners from Licenses → Expired Licenses. New users you add get one automatically while free licences remain.".into(),
        ],
        items: Vec::new(),
        action: Some(("Allocate licences".into(), allocate_url.into())),
    }
}

pub fn order_rejected(
    company: &str,
    quantity: u32,
    kind: &str,
    reason: &str,
    orders_url: &str,
) -> EmailContent {
    EmailContent {
        subject: format!("{company}: your request for {quantity} {kind} licences was rejected"),
        paragraphs: vec![
            format!("Your request for {quantity} {kind} licences for {company} was rejected."),
            format!("Reason: {reason}"),
        ],
        items: Vec::new(),
        action: Some(("See your orders".into(), orders_url.into())),
    }
}

pub fn order_cancelled(
    company: &str,
    quantity: u32,
    kind: &str,
    cancelled_by: &str,
    order_url: &str,
) -> EmailContent {
    EmailContent {
        subject: format!("{company}: the request for {quantity} {kind} licences was cancelled"),
        paragraphs: vec![format!(
            "{cancelled_by} cancelled the request of {company} for {quantity} {kind} licences. \
             Nothing needs to be assigned."
        )],
        items: Vec::new(),
        action: Some(("See the order".into(), order_url.into())),
    }
}

pub fn order_changed(
    company: &str,
    from: u32,
    to: u32,
    kind: &str,
    changed_by: &str,
    order_url: &str,
) -> EmailContent {
    EmailContent {
        subject: format!("{company}: the request is now for {to} {kind} licences"),
        paragraphs: vec![format!(
            "{changed_by} changed the waiting request of {company} from {from} to {to} {kind} \
             licences."
        )],
        items: Vec::new(),
        action: Some(("Open the order".into(), order_url.into())),
    }
}

pub fn welcome(name: &str, organisation: &str, set_password_url: &str) -> EmailContent {
    EmailContent {
        subject: format!("Welcome to seatledger, {name}"),
        paragraphs: vec![
            format!("An account has been created for you at {organisation}."),
            "Choose your password to sign in. The link works once and expires in 7 days.".into(),
        ],
        items: Vec::new(),
        action: Some(("Set your password".into(), set_password_url.into())),
    }
}

pub fn password_reset(reset_url: &str) -> EmailContent {
    EmailContent {
        subject: "Reset your seatledger password".into(),
        paragraphs: vec![
            "Someone asked to reset the password of this account. If it was you, choose a new password; the link works once and expires in an hour.".into(),
            "If it was not you, ignore this email: your password stays as it is.".into(),
        ],
        items: Vec::new(),
        action: Some(("Choose a new password".into(), reset_url.into())),
    }
}

/// To the owner of an account that wrong passwords locked for one client address.
pub fn sign_in_locked(address: &str, until: &str, reset_url: &str) -> EmailContent {
    EmailContent {
        subject: "Sign-ins to your seatledger account were locked".into(),
        paragraphs: vec![
            format!("Three wrong passwords were tried for your account from the address {address}, so sign-ins from there are locked until {until} UTC."),
            "Sign-ins from anywhere else still work. If it was you, wait until then or reset your password. If it was not you, someone is guessing your password: choose a new, strong one.".into(),
        ],
        items: Vec::new(),
        action: Some(("Reset your password".into(), reset_url.into())),
    }
}

/// To a webhook endpoint's owner: it failed for days and was disabled.
pub fn webhook_endpoint_disabled(
    url: &str,
    failing_since: &str,
    last_error: &str,
    endpoint_url: &str,
) -> EmailContent {
    EmailContent {
        subject: format!("Webhook endpoint disabled: {url}"),
        paragraphs: vec![
            format!(
                "Every delivery to {url} has failed since {failing_since}, so seatledger has \
                 disabled the endpoint. The last attempt failed with: {last_error}"
            ),
            "Events that happen while it is disabled are not sent to it. Once the receiver works \
             again, enable the endpoint: deliveries still pending are then retried, and failed ones \
             can be sent again with Redeliver."
                .into(),
        ],
        items: Vec::new(),
        action: Some(("Open the endpoint".into(), endpoint_url.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expired_trial_email_links_upgrade_now_to_the_landing_page() {
        let email = trial_expired("Cobalt", "23 Nov 2026", "https://console.example/landing");
        assert_eq!(email.subject, "Cobalt: your free trial has expired");
        assert_eq!(
            email.action,
            Some((
                "Upgrade Now".into(),
                "https://console.example/landing".into()
            ))
        );
    }

    #[test]
    fn the_expired_batch_email_lists_learners_and_counts_the_rest() {
        let email = batch_expired("Delta", 4, "28 Nov 2026", &["Ann Lee".into()], 2, "u");
        assert_eq!(email.items, ["Ann Lee", "and 2 more"]);
    }
}
