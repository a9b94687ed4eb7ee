//! A console partners use daily: links from emails land on their page after sign-in, and only
//! same-site ones; the order alert opens its order.

use axum::http::StatusCode;
use seatledger::db::seed;

use crate::web::{Client, demo_app, request_key};

/// The path of the first link to this console in `text`.
fn link_path(text: &str) -> String {
    let start =
        text.find("http://127.0.0.1:8080/").expect("a link") + "http://127.0.0.1:8080".len();
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_order_alert_opens_its_order_after_signing_in() {
    let (db, app, _) = demo_app().await;
    let mut cobalt = Client::new(&app);
    cobalt
        .sign_in("manager@cobalt.example", seed::DEMO_PASSWORD)
        .await;
    let key = request_key(&cobalt.get("/company/orders/new").await.body);
    let asked = cobalt
        .post(
            "/company/orders",
            &[
                ("request_key", &key),
                ("quantity", "7"),
                ("kind", "premium"),
            ],
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    let (order, text): (i64, String) = sqlx::query_as(
        "SELECT (SELECT MAX(id) FROM orders), body_text FROM outbox \
         WHERE kind = 'order_requested' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    let target = link_path(&text);
    assert_eq!(target, format!("/partner/licences?order={order}"));

    // Not signed in: the link goes through sign-in and lands on the order.
    let mut partner = Client::new(&app);
    let first = partner.get(&target).await;
    let to_sign_in = first.location.clone().unwrap();
    assert_eq!(
        to_sign_in,
        format!("/sign-in?next=%2Fpartner%2Flicences%3Forder%3D{order}")
    );
    let page = partner.get(&to_sign_in).await;
    assert!(
        page.body.contains(&format!(
            r#"name="next" value="/partner/licences?order={order}""#
        )),
        "{}",
        page.body
    );
    let signed_in = partner
        .post(
            "/sign-in",
            &[
                ("email", "admin@bluefin.example"),
                ("password", seed::DEMO_PASSWORD),
                ("next", &target),
            ],
        )
        .await;
    assert_eq!(signed_in.location.as_deref(), Some(target.as_str()));
    let opened = partner.get(&target).await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(
        opened
            .body
            .contains(&format!("Order {order}, as the email said."))
    );
    assert_eq!(opened.body.matches("<tr data-order=").count(), 1);
    assert!(
        opened
            .body
            .contains(&format!(r#"<tr data-order="{order}">"#))
    );
    // Once decided it still opens, though no longer waiting.
    partner
        .post(&format!("/partner/orders/{order}/assign"), &[])
        .await;
    let assigned = partner.get(&target).await;
    assert!(
        assigned
            .body
            .contains(&format!(r#"<tr data-order="{order}">"#))
    );
    assert!(assigned.body.contains("Assigned"));
}

#[tokio::test]
async fn sign_in_never_follows_a_next_that_leaves_the_site() {
    let (_db, app, _) = demo_app().await;
    for next in [
        "//evil.example/partner",
        "https://evil.example/partner",
        "/\\evil.example",
        "javascript:alert(1)",
        "/partner\r\nSet-Cookie: x=1",
    ] {
        let mut client = Client::new(&app);
        client.get("/sign-in").await;
        let reply = client
            .post(
                "/sign-in",
                &[
                    ("email", "admin@bluefin.example"),
                    ("password", seed::DEMO_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(reply.location.as_deref(), Some("/partner"), "{next:?}");
        // Signed in already, the sign-in page with that next also stays home.
        let path = format!(
            "/sign-in?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish()
        );
        let again = client.get(&path).await;
        assert_eq!(again.location.as_deref(), Some("/partner"), "{next:?}");
    }
    // And the page never writes it into the form.
    let mut anonymous = Client::new(&app);
    let page = anonymous.get("/sign-in?next=%2F%2Fevil.example").await;
    assert!(!page.body.contains("evil.example"));
}
