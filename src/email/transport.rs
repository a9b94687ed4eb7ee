//! How queued emails leave: over SMTP, or (with no SMTP configured) into the local mailbox that
//! the operator reads in the console.

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// One email as it leaves the outbox.
pub struct Outgoing<'a> {
    pub message_id: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid SMTP URL: {0}")]
    Url(String),
    #[error("invalid sender address {0:?}")]
    From(String),
}

#[derive(Clone)]
pub struct SmtpSender {
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

#[derive(Clone)]
pub enum Transport {
    /// Delivered by an SMTP server (`--smtp-url`).
    Smtp(Box<SmtpSender>),
    /// Kept in the database for the operator's Mailbox page.
    LocalMailbox,
}

/// Whether an email reached its destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted by the SMTP server.
    Sent,
    /// Kept in the local mailbox.
    Kept,
}

impl Transport {
    /// SMTP from a URL (`smtp://host:port` plain, `smtp://user:pass@host:587?tls=required`
    /// STARTTLS, `smtps://host` TLS), or the local mailbox when `url` is `None`.
    pub fn new(url: Option<&str>, from: &str) -> Result<Self, TransportError> {
        let Some(url) = url else {
            return Ok(Transport::LocalMailbox);
        };
        let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| TransportError::Url(e.to_string()))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        let from = from
            .parse()
            .map_err(|_| TransportError::From(from.to_owned()))?;
        Ok(Transport::Smtp(Box::new(SmtpSender { smtp, from })))
    }

    pub async fn deliver(&self, email: &Outgoing<'_>) -> Result<Delivery, String> {
        let SmtpSender { smtp, from } = match self {
            Transport::LocalMailbox => return Ok(Delivery::Kept),
            Transport::Smtp(sender) => sender.as_ref(),
        };
        let to: Mailbox = email
            .recipient
            .parse()
            .map_err(|e| format!("invalid recipient {}: {e}", email.recipient))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(email.message_id.to_owned()))
            .multipart(MultiPart::alternative_plain_html(
                email.text.to_owned(),
                email.html.to_owned(),
            ))
            .map_err(|e| format!("could not build the message: {e}"))?;
        let mut message = message;
        message.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
        smtp.send(message).await.map_err(|e| e.to_string())?;
        Ok(Delivery::Sent)
    }
}
