//! Emails: what each automated email says (`messages`), how it is rendered (one escaping layout
//! for HTML, one for text), and how it leaves (`transport`). Emails are never sent inside a
//! request: they are queued in the outbox with the change that caused them and delivered by the
//! worker in `jobs::delivery`.

pub mod messages;
pub mod transport;

use askama::Template;
use blake2::{Blake2s256, Digest};

/// What an email says, before layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailContent {
    pub subject: String,
    pub paragraphs: Vec<String>,
    /// A list shown after the paragraphs (e.g. the affected learners).
    pub items: Vec<String>,
    /// The one thing to do: a button label and where it goes.
    pub action: Option<(String, String)>,
}

/// An email rendered as it is stored and sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "email/layout.txt")]
struct TextLayout<'a> {
    content: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/layout.html")]
struct HtmlLayout<'a> {
    content: &'a EmailContent,
}

impl EmailContent {
    pub fn render(&self) -> RenderedEmail {
        RenderedEmail {
            subject: self.subject.clone(),
            text: TextLayout { content: self }
                .render()
                .expect("the text email layout renders any content"),
            html: HtmlLayout { content: self }
                .render()
                .expect("the HTML email layout renders any content"),
        }
    }
}

/// What replaces a link's token once the email is delivered.
pub const REMOVED_TOKEN: &str = "removed-after-delivery";

/// `body` with the token of every single-use link (set-password, set-up) replaced, as it is
/// kept once the email was delivered: the recipient holds the only working copy.
pub fn without_link_tokens(body: &str) -> String {
    const MARK: &str = "token=";
    let mut kept = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find(MARK) {
        let (before, after) = rest.split_at(at + MARK.len());
        kept.push_str(before);
        let token_len = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        if token_len >= 32 {
            kept.push_str(REMOVED_TOKEN);
            rest = &after[token_len..];
        } else {
            rest = after;
        }
    }
    kept.push_str(rest);
    kept
}

/// The stable Message-ID of the email queued under `idempotency_key`: a resend of the same queued
/// email carries the same id, so the receiver can tell it is the same message.
pub fn message_id(idempotency_key: &str) -> String {
    let digest = Blake2s256::digest(idempotency_key.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("<{hex}@seatledger>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> EmailContent {
        EmailContent {
            subject: "Your trial ends soon".into(),
            paragraphs: vec!["Hello <Ann> & team.".into()],
            items: vec!["Bob".into()],
            action: Some((
                "Upgrade Now".into(),
                "https://x.example/landing?a=1&b=2".into(),
            )),
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let email = content().render();
        assert!(
            email.html.contains("Hello &#60;Ann&#62; &#38; team.")
                || email.html.contains("Hello &lt;Ann&gt; &amp; team.")
        );
        assert!(email.text.contains("Hello <Ann> & team."));
        assert!(
            email
                .text
                .contains("Upgrade Now: https://x.example/landing?a=1&b=2")
        );
        assert!(email.text.contains("- Bob"));
    }

    #[test]
    fn the_message_id_is_stable_per_key() {
        assert_eq!(message_id("a"), message_id("a"));
        assert_ne!(message_id("a"), message_id("b"));
        assert!(message_id("a").ends_with("@seatledger>"));
    }

    #[test]
    fn delivered_bodies_keep_no_link_token() {
        let token = "ab".repeat(32);
        let body = format!(
            "Open https://x.example/set-password?token={token} or <a href=\"https://x.example/setup?token={token}\">here</a>; see /page?token=short."
        );
        let kept = without_link_tokens(&body);
        assert!(!kept.contains(&token), "{kept}");
        assert_eq!(kept.matches(REMOVED_TOKEN).count(), 2, "{kept}");
        assert!(kept.ends_with("see /page?token=short."), "{kept}");
    }
}
