//! Whole journeys of company managers: an expired trial asking for licences, a renewal from a
//! CSV file.

use std::path::Path;

use fantoccini::Locator;
use seatledger::db::seed::DEMO_PASSWORD;

use super::pages::Journey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_trial_manager_requests_licences_and_the_account_manager_is_emailed() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("manager@cobalt.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/landing");
    assert_eq!(journey.text("main h1").await, "Your access has ended");

    // The landing page's one way forward: Request License.
    journey.follow("Request License").await;
    assert_eq!(journey.path().await, "/company/orders/new");
    assert_eq!(journey.text("main h1").await, "Request License");
    journey.fill("#quantity", "25").await;
    assert_eq!(
        journey.value("#kind").await,
        "premium",
        "Premium is the default"
    );
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;

    // Back on the landing page, with the request confirmed and listed as pending.
    assert_eq!(journey.path().await, "/landing");
    let query = journey.query().await.unwrap_or_default();
    let order = journey
        .query_param("requested")
        .await
        .unwrap_or_else(|| panic!("the landing page names the requested order: ?{query}"));
    assert!(
        !order.is_empty() && order.bytes().all(|b| b.is_ascii_digit()),
        "order number {order:?}"
    );
    let confirmation = journey.text("#request-confirmation").await;
    assert_eq!(
        confirmation,
        format!("Your request (order {order}) was sent to your account manager.")
    );
    let pending = journey.table_rows("#pending-requests").await;
    assert_eq!(pending.len(), 1, "one pending request: {pending:?}");
    let row = &pending[0];
    // Order, Licences, Type, Requested, Status.
    assert_eq!(row.len(), 5, "{row:?}");
    assert_eq!(row[0], order, "{row:?}");
    assert_eq!(row[1], "25", "{row:?}");
    assert_eq!(row[2], "Premium", "{row:?}");
    assert_eq!(
        row[4], "Pending: waiting for your account manager",
        "{row:?}"
    );

    // The operator's Mailbox holds the alert to Cobalt's account manager.
    journey.sign_out().await;
    journey
        .sign_in("operator@seatledger.example", DEMO_PASSWORD)
        .await;
    journey.follow("Mailbox").await;
    assert_eq!(journey.path().await, "/operator/mailbox");
    let subject = "Cobalt Expired Trial: 25 Premium licences requested";
    let emails = journey.table_rows("#mailbox").await;
    assert!(
        emails.iter().any(|cells| {
            cells.first().map(String::as_str) == Some("am@bluefin.example")
                && cells.get(1).map(String::as_str) == Some(subject)
        }),
        "an email to am@bluefin.example titled {subject:?}: {emails:?}"
    );
    let link = journey
        .find_by(Locator::XPath(&format!(
            "//table[@id='mailbox']/tbody/tr[td[1][normalize-space(.)='am@bluefin.example']]\
             /td[2]/a[normalize-space(.)='{subject}']"
        )))
        .await;
    journey.click_and_wait(&link).await;
    assert!(
        journey.path().await.starts_with("/operator/mailbox/"),
        "{}",
        journey.path().await
    );
    assert_eq!(journey.text("main h1").await, subject);
    let text = journey.text("pre.email-text").await;
    assert!(text.contains("has requested 25 Premium licences"), "{text}");
    let order_url = format!("{}/partner/licences?order={order}", journey.server.url);
    assert!(
        text.lines()
            .any(|line| line.trim_end().ends_with(&order_url)),
        "a line ending in {order_url}:\n{text}"
    );

    journey.close().await;
}

/// Licenses → Import Licence Renewal → upload `csv`, and checks the preview: the third column,
/// "Work email", is chosen, 2 learners will be renewed and the unknown email of line 4 will not.
async fn upload_delta_renewal(journey: &Journey, csv: &Path) {
    journey.nav("Licenses").await;
    assert_eq!(journey.path().await, "/company/licenses");
    journey.follow("Import Licence Renewal").await;
    assert_eq!(journey.path().await, "/company/licenses/renewal");
    journey.upload_file("#file", csv).await;
    let upload = journey.button("Upload").await;
    journey.click_and_wait(&upload).await;

    let preview = journey.path().await;
    let id = preview
        .strip_prefix("/company/licenses/renewal/")
        .unwrap_or_else(|| panic!("the upload leads to its preview, not {preview}"));
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "{preview}"
    );
    assert!(!journey.has("#form-error").await);
    assert_eq!(journey.text("main h1").await, "Import Licence Renewal");
    assert_eq!(journey.value("#column").await, "2", "the third column");
    assert_eq!(journey.text("#column option:checked").await, "Work email");
    let summary = journey.find("#renewal-summary").await;
    let mut numbers = Vec::new();
    for strong in summary
        .find_all(Locator::Css("strong"))
        .await
        .expect("the summary's numbers")
    {
        numbers.push(strong.text().await.expect("number text"));
    }
    assert_eq!(numbers, ["2", "1"]);
    let summary = summary.text().await.expect("summary text");
    assert!(
        summary.starts_with("2 learners will be renewed; 1 rows will not."),
        "{summary}"
    );
    let not_renewed = journey.table_rows("#not-renewed").await;
    assert_eq!(
        not_renewed,
        [["4", "nobody@delta.example", "unknown email"]],
        "{not_renewed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_renews_licences_from_a_csv_whose_email_is_the_third_column() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("a directory for the CSV file");
    let csv = dir.path().join("delta-renewal.csv");
    std::fs::write(
        &csv,
        "First,Last,Work email,Dept\n\
         Learner,4,learner4@delta.example,Ops\n\
         Learner,5,learner5@delta.example,Ops\n\
         Nobody,X,nobody@delta.example,Ops\n",
    )
    .expect("write the CSV file");

    // Delta Renewal Due has 1 free seat for its 2 expired learners: Renew Licences refuses.
    journey
        .sign_in("manager@delta.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/company");
    upload_delta_renewal(&journey, &csv).await;
    let summary = journey.text("#renewal-summary").await;
    assert!(summary.ends_with("1 licences are free."), "{summary}");
    let preview = journey.path().await;
    let renew = journey.button("Renew Licences").await;
    journey.click_and_wait(&renew).await;
    assert_eq!(journey.path().await, preview);
    assert_eq!(
        journey.text("#renewal-error").await,
        "Nothing was renewed: 2 learners need a licence but only 1 seats are free."
    );
    journey.nav("Licenses").await;
    journey.link("Expired Licenses (2)").await;
    journey.sign_out().await;

    // Its partner gives it 3 more seats.
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;
    journey
        .partner_assigns_licences("Delta Renewal Due", 3)
        .await;
    journey.sign_out().await;

    // The same file again: both learners are renewed.
    journey
        .sign_in("manager@delta.example", DEMO_PASSWORD)
        .await;
    upload_delta_renewal(&journey, &csv).await;
    let summary = journey.text("#renewal-summary").await;
    assert!(summary.ends_with("4 licences are free."), "{summary}");
    let renew = journey.button("Renew Licences").await;
    journey.click_and_wait(&renew).await;

    assert_eq!(journey.path().await, "/company/licenses");
    assert_eq!(
        journey.query_param("tab").await.as_deref(),
        Some("allocated")
    );
    assert_eq!(
        journey.text("#licenses-notice").await,
        "Renewed the licences of 2 learners."
    );
    let seats = journey.table_rows("#seats").await;
    for email in ["learner4@delta.example", "learner5@delta.example"] {
        assert!(
            seats
                .iter()
                .any(|cells| cells.get(1).map(String::as_str) == Some(email)),
            "{email} holds a licence: {seats:?}"
        );
    }
    journey.link("Expired Licenses (0)").await;

    journey.close().await;
}
