//! Whole journeys from demo to production: a new instance's first run (set-up link → operator →
//! distributor → its admin signs in), NFR seats for a partner's own staff, a Managed company's
//! manager, and a cancelled request.

use fantoccini::Locator;
use seatledger::db::seed::DEMO_PASSWORD;

use super::pages::Journey;

const OPERATOR_PASSWORD: &str = "operator password 1";
const ADMIN_PASSWORD: &str = "kestrel admin password";

/// Opens the newest email to `to` titled `subject` in the operator's Mailbox and returns its text.
async fn mailbox_email(journey: &Journey, to: &str, subject: &str) -> String {
    journey.nav("Mailbox").await;
    assert_eq!(journey.path().await, "/operator/mailbox");
    let link = journey
        .find_by(Locator::XPath(&format!(
            "//table[@id='mailbox']/tbody/tr[td[1][normalize-space(.)='{to}']]\
             /td[2]/a[normalize-space(.)='{subject}']"
        )))
        .await;
    journey.click_and_wait(&link).await;
    assert_eq!(journey.text("main h1").await, subject);
    journey.text("pre.email-text").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_instance_is_set_up_from_its_link_and_its_first_distributor_signs_in() {
    let Some(journey) = Journey::start_new_instance().await else {
        return;
    };
    // `serve` on an empty database printed the single-use set-up link.
    let url = journey.server.url.clone();
    let setup = journey
        .server
        .printed
        .iter()
        .find_map(|line| line.trim().strip_prefix(url.as_str()))
        .unwrap_or_else(|| panic!("a set-up link in {:?}", journey.server.printed))
        .to_owned();
    assert!(setup.starts_with("/setup?token="), "{setup}");
    journey.goto("/sign-in").await;
    assert_eq!(journey.path().await, "/sign-in");

    journey.goto(&setup).await;
    assert_eq!(journey.text("main h1").await, "Set up seatledger");
    journey.fill("#email", "ops@kestrel-cloud.example").await;
    journey.fill("#first_name", "Olu").await;
    journey.fill("#last_name", "Operator").await;
    journey.fill("#password", OPERATOR_PASSWORD).await;
    journey.fill("#confirm", OPERATOR_PASSWORD).await;
    let create = journey.button("Create operator").await;
    journey.click_and_wait(&create).await;
    assert_eq!(journey.path().await, "/sign-in");
    assert_eq!(
        journey.text("p.notice").await,
        "Your password is set. Sign in with it now."
    );
    journey
        .sign_in("ops@kestrel-cloud.example", OPERATOR_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/operator");
    assert_eq!(journey.text("header .area").await, "Operator Console");
    assert_eq!(journey.text("main h1").await, "Partners");

    // Create Distributor, with its first admin.
    journey.follow("Create Distributor").await;
    assert_eq!(journey.path().await, "/operator/distributors/new");
    assert_eq!(journey.value("#trial_days").await, "30");
    journey.fill("#name", "Kestrel Distribution").await;
    journey.fill("#first_name", "Kit").await;
    journey.fill("#last_name", "Kestrel").await;
    journey.fill("#email", "kit@kestrel.example").await;
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;
    assert_eq!(journey.path().await, "/operator");
    assert!(
        journey
            .text("#partners-notice")
            .await
            .starts_with("The distributor was created with its 10 NFR seats")
    );
    let row = journey
        .row("partners", &[(1, "Kestrel Distribution")])
        .await;
    let cells = Journey::cells(&row).await;
    // Partner, Above it, Trial length, Companies, Seats, NFR, Invitations pending.
    assert_eq!(
        cells,
        [
            "Kestrel Distribution",
            "Distributor",
            "30 days",
            "0",
            "0 / 0",
            "0 / 10",
            "1"
        ]
    );

    // The admin's welcome email, read in the Mailbox (no SMTP server is configured).
    let text = mailbox_email(
        &journey,
        "kit@kestrel.example",
        "Welcome to seatledger, Kit",
    )
    .await;
    let link = text
        .split_whitespace()
        .find_map(|word| word.strip_prefix(url.as_str()))
        .filter(|path| path.starts_with("/set-password?token="))
        .unwrap_or_else(|| panic!("a set-password link in:\n{text}"))
        .to_owned();
    journey.sign_out().await;

    // The set-up link worked once.
    journey.goto(&setup).await;
    assert_eq!(
        journey.text("#form-error").await,
        "This link has already been used. Sign in, or ask for a new link. Restart seatledger \
         serve for a new set-up link, or run seatledger operator create --email EMAIL."
    );

    // The distributor's admin sets a password and signs in to its Admin Dashboard.
    journey.goto(&link).await;
    journey.fill("#password", ADMIN_PASSWORD).await;
    journey.fill("#confirm", ADMIN_PASSWORD).await;
    let set = journey.button("Set password").await;
    journey.click_and_wait(&set).await;
    journey.sign_in("kit@kestrel.example", ADMIN_PASSWORD).await;
    assert_eq!(journey.path().await, "/partner");
    assert_eq!(journey.text("header .area").await, "Admin Dashboard");
    let own = journey.text("#internal-company").await;
    assert!(own.contains("Kestrel Distribution"), "{own}");
    assert!(
        own.contains("NFR seats: 0 of 10 allocated (they never expire)."),
        "{own}"
    );
    assert!(journey.text("main").await.contains("No companies yet."));

    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_gives_its_own_staff_member_an_nfr_seat_that_never_expires() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;
    assert!(
        journey
            .text("#internal-company")
            .await
            .contains("NFR seats: 0 of 10 allocated")
    );
    let manage = journey.button("Manage your own company").await;
    journey.click_and_wait(&manage).await;
    assert_eq!(journey.path().await, "/company");
    assert_eq!(journey.text("#managed-company").await, "Bluefin IT");
    assert!(
        journey
            .text("main")
            .await
            .contains("It holds 10 NFR seats, which never expire.")
    );

    // Add User: a new learner gets a free seat at once — here an NFR seat.
    journey.nav("Users").await;
    journey.follow("Add User").await;
    journey.fill("#first_name", "Sam").await;
    journey.fill("#last_name", "Staff").await;
    journey.fill("#email", "sam@bluefin.example").await;
    assert_eq!(journey.value("#role").await, "learner");
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;
    assert_eq!(journey.path().await, "/company/users");
    let sam = journey.row("users", &[(1, "Sam Staff")]).await;
    assert_eq!(Journey::cells(&sam).await[4], "Active, never expires");

    journey.nav("Licenses").await;
    assert_eq!(
        journey.text("#nfr-seats").await,
        "NFR seats: 1 of 10 allocated, 9 free. They are for your own staff and demos, never \
         expire, and cannot be moved to a customer; they are counted with your other licences \
         below."
    );
    journey.follow("Allocated (1)").await;
    let seat = journey.row("seats", &[(2, "sam@bluefin.example")]).await;
    assert_eq!(Journey::cells(&seat).await[2], "never");
    journey.follow("Available (9)").await;
    let batch = journey.row("available", &[(2, "NFR")]).await;
    let cells = Journey::cells(&batch).await;
    assert_eq!(
        (&cells[2][..], &cells[3][..], &cells[5][..]),
        ("9", "10", "never")
    );

    journey.exit_manage_mode().await;
    assert!(
        journey
            .text("#internal-company")
            .await
            .contains("NFR seats: 1 of 10 allocated")
    );
    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_of_a_managed_company_sees_who_runs_it_and_cannot_change_anything() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    // The partner asks for Managed licences for Acme in Manage Mode, then assigns them.
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;
    journey.manage_company("Acme Trial Co").await;
    journey.nav("Licenses").await;
    journey.follow("Request Licenses").await;
    journey.fill("#quantity", "6").await;
    journey
        .find("#kind option[value='managed']")
        .await
        .click()
        .await
        .expect("choose Managed");
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;
    let order = journey
        .query_param("requested")
        .await
        .expect("the requested order");
    journey.exit_manage_mode().await;
    journey.nav("Licences").await;
    let requested = journey.row("orders", &[(1, &order), (4, "Managed")]).await;
    journey.open_menu(&requested).await;
    let assign = journey.menu_button(&requested, "Assign").await;
    journey.click_and_wait(&assign).await;
    journey.nav("Company").await;
    let acme = journey.row("companies", &[(1, "Acme Trial Co")]).await;
    assert_eq!(Journey::cells(&acme).await[1], "Premium Managed");
    journey.sign_out().await;

    // Acme's manager: the dashboard names who runs the programme, and offers no change.
    journey.sign_in("manager@acme.example", DEMO_PASSWORD).await;
    assert_eq!(journey.path().await, "/company");
    let managed_by = "Bluefin IT manages your programme (your account manager: Alex Morgan \
                      <am@bluefin.example>). This view is read-only: ask them for any change.";
    assert_eq!(journey.text("#managed-by").await, managed_by);
    journey.nav("Users").await;
    assert_eq!(journey.text("#managed-by").await, managed_by);
    assert!(journey.has("#users").await, "the users are shown");
    assert!(!journey.has("a[href='/company/users/new']").await);
    assert!(!journey.has("#users details.menu").await);
    journey.nav("Licenses").await;
    assert!(!journey.has("a[href='/company/orders/new']").await);
    journey.follow("Available (6)").await;
    let batch = journey.row("available", &[(2, "Managed")]).await;
    assert_eq!(Journey::cells(&batch).await[2], "6");
    // The request form, typed in by hand, is refused with the reason.
    journey.goto("/company/orders/new").await;
    assert_eq!(journey.text("main h1").await, "Not allowed");
    assert!(
        journey
            .text("main")
            .await
            .contains("Your partner manages this company's programme")
    );
    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_company_cancels_its_waiting_request_and_the_account_manager_is_told() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("manager@cobalt.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/landing");
    journey.follow("Upgrade to Premium").await;
    assert_eq!(journey.path().await, "/company/upgrade");
    journey.follow("Got It").await;
    journey.fill("#quantity", "25").await;
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;
    assert_eq!(journey.path().await, "/landing");
    let order = journey
        .query_param("requested")
        .await
        .expect("the requested order");

    // Asking again shows the waiting request: change it, then cancel it.
    journey.follow("Change or cancel this request").await;
    assert_eq!(journey.text("main h1").await, "A request is waiting");
    assert!(
        journey
            .text("#waiting-request")
            .await
            .starts_with(&format!("Order {order}: 25 Premium licences"))
    );
    journey.fill("#quantity", "20").await;
    let change = journey.button("Change quantity").await;
    journey.click_and_wait(&change).await;
    assert_eq!(
        journey.text("#request-notice").await,
        format!("Order {order} changed: your account manager has been told.")
    );
    assert_eq!(journey.table_rows("#pending-requests").await[0][1], "20");
    journey.follow("Change or cancel this request").await;
    let cancel = journey.button("Cancel request").await;
    journey.click_and_wait(&cancel).await;
    assert_eq!(journey.path().await, "/landing");
    assert_eq!(
        journey.text("#request-notice").await,
        format!("Order {order} cancelled: your account manager has been told.")
    );
    assert!(!journey.has("#pending-requests").await);
    journey.link("Request License").await;
    journey.sign_out().await;

    // The account manager's Requested Orders no longer wait for it; the Mailbox holds the news.
    journey.sign_in("am@bluefin.example", DEMO_PASSWORD).await;
    journey.nav("Licences").await;
    assert!(!journey.has(&format!("tr[data-order='{order}']")).await);
    journey.sign_out().await;
    journey
        .sign_in("operator@seatledger.example", DEMO_PASSWORD)
        .await;
    let subject = "Cobalt Expired Trial: the request for 20 Premium licences was cancelled";
    let text = mailbox_email(&journey, "am@bluefin.example", subject).await;
    assert!(
        text.contains("cancelled the request of Cobalt Expired Trial for 20 Premium licences"),
        "{text}"
    );
    journey.close().await;
}
