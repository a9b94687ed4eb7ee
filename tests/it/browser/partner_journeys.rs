//! Whole journeys of partner admins: upgrading a trial company in Manage Mode, allocating
//! licences to expired learners.

use seatledger::db::seed::DEMO_PASSWORD;

use super::pages::Journey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_upgrades_a_trial_company_in_manage_mode_and_assigns_the_order() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    // A mistyped password first: refused on the sign-in page, then the right one.
    journey
        .sign_in("admin@bluefin.example", "not-the-demo-password")
        .await;
    assert_eq!(journey.path().await, "/sign-in");
    let error = journey.text("#sign-in-error").await;
    assert!(
        error.starts_with("The email or password is incorrect."),
        "{error}"
    );
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/partner");
    assert_eq!(journey.text("header .area").await, "Admin Dashboard");
    assert_eq!(journey.text("main h1").await, "Company");

    // Actions → Manage Company on Acme Trial Co, still on its free trial.
    let acme = journey
        .row("companies", &[(1, "Acme Trial Co"), (2, "Free Trial")])
        .await;
    let actions = journey.open_menu(&acme).await;
    let label = actions.text().await.expect("summary text");
    assert!(label.starts_with("Actions"), "{label:?}");
    let manage = journey.menu_button(&acme, "Manage Company").await;
    journey.click_and_wait(&manage).await;
    assert_eq!(journey.path().await, "/company");
    assert_eq!(journey.text("#managed-company").await, "Acme Trial Co");

    // Licenses → Upgrade to Premium → Got It → the order form, for 40 licences.
    journey.nav("Licenses").await;
    assert_eq!(journey.path().await, "/company/licenses");
    journey.follow("Upgrade to Premium").await;
    assert_eq!(journey.path().await, "/company/upgrade");
    assert_eq!(journey.text("main h1").await, "Upgrade to Premium");
    journey.follow("Got It").await;
    assert_eq!(journey.path().await, "/company/orders/new");
    assert_eq!(journey.text("main h1").await, "Upgrade to Premium");
    assert_eq!(journey.value("#kind").await, "premium");
    journey.fill("#quantity", "40").await;
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;

    assert_eq!(journey.path().await, "/company/licenses");
    let query = journey.query().await.unwrap_or_default();
    let order = journey
        .query_param("requested")
        .await
        .unwrap_or_else(|| panic!("the Licenses page names the requested order: ?{query}"));
    assert!(
        !order.is_empty() && order.bytes().all(|b| b.is_ascii_digit()),
        "order number {order:?}"
    );
    assert_eq!(
        journey.text("#request-confirmation").await,
        format!("Your request (order {order}) was sent to your account manager.")
    );
    assert_eq!(journey.text("#managed-company").await, "Acme Trial Co");

    // Exit Manage Mode, then Licences → Requested Orders → ⋯ → Assign.
    let exit = journey.button("Exit Manage Mode").await;
    journey.click_and_wait(&exit).await;
    assert_eq!(journey.path().await, "/partner");
    assert!(!journey.has("#managed-company").await);
    journey.nav("Licences").await;
    assert_eq!(journey.path().await, "/partner/licences");
    journey.follow("Requested Orders").await;
    assert_eq!(
        journey.query_param("tab").await.as_deref(),
        Some("requested")
    );
    let requested = journey
        .row("orders", &[(2, "Acme Trial Co"), (3, "40")])
        .await;
    let cells = Journey::cells(&requested).await;
    // Order, Company, Licences, Type, Requested, By, Status, actions.
    assert_eq!(cells.first(), Some(&order), "{cells:?}");
    assert_eq!(
        cells.get(3).map(String::as_str),
        Some("Premium"),
        "{cells:?}"
    );
    assert_eq!(
        cells.get(5).map(String::as_str),
        Some("Bea Bluefin"),
        "{cells:?}"
    );
    assert_eq!(
        cells.get(6).map(String::as_str),
        Some("Pending"),
        "{cells:?}"
    );
    let more = journey.open_menu(&requested).await;
    assert_eq!(
        more.attr("aria-label")
            .await
            .expect("aria-label")
            .as_deref(),
        Some(format!("Actions for order {order}").as_str())
    );
    let assign = journey.menu_button(&requested, "Assign").await;
    journey.click_and_wait(&assign).await;

    assert_eq!(journey.path().await, "/partner/licences");
    assert_eq!(
        journey.text("#orders-notice").await,
        format!(
            "Order {order} assigned: the licences are ready and the company's managers have been \
             emailed."
        )
    );

    // Company: Acme Trial Co is Premium with 40 seats, none allocated yet.
    journey.nav("Company").await;
    assert_eq!(journey.path().await, "/partner");
    let acme = journey.row("companies", &[(1, "Acme Trial Co")]).await;
    let cells = Journey::cells(&acme).await;
    assert_eq!(
        cells.get(1).map(String::as_str),
        Some("Premium"),
        "{cells:?}"
    );
    assert_eq!(
        cells.get(3).map(String::as_str),
        Some("0 / 40"),
        "{cells:?}"
    );

    // Activity: the request, on Acme Trial Co's behalf, and the assignment, both by Bea Bluefin.
    journey.nav("Activity").await;
    assert_eq!(journey.path().await, "/partner/activity");
    let activity = journey.table_rows("#activity").await;
    // When, Who, On behalf of, Company, What.
    let requested_entry = format!("Requested 40 Premium licences (order {order})");
    assert!(
        activity.iter().any(|cells| {
            cells.get(1).is_some_and(|who| who.contains("Bea Bluefin"))
                && cells.get(2).map(String::as_str) == Some("Acme Trial Co")
                && cells.get(4) == Some(&requested_entry)
        }),
        "Bea Bluefin {requested_entry:?} on behalf of Acme Trial Co: {activity:?}"
    );
    let assigned_entry = format!("Assigned order {order}: 40 Premium licences");
    assert!(
        activity.iter().any(|cells| {
            cells.get(1).is_some_and(|who| who.contains("Bea Bluefin"))
                && cells.get(4) == Some(&assigned_entry)
        }),
        "Bea Bluefin {assigned_entry:?}: {activity:?}"
    );

    // The operator's Mailbox holds the news for Acme's manager.
    journey.sign_out().await;
    journey
        .sign_in("operator@seatledger.example", DEMO_PASSWORD)
        .await;
    journey.nav("Mailbox").await;
    assert_eq!(journey.path().await, "/operator/mailbox");
    let subject = "Acme Trial Co: 40 Premium licences are ready to allocate";
    let emails = journey.table_rows("#mailbox").await;
    assert!(
        emails.iter().any(|cells| {
            cells.first().map(String::as_str) == Some("manager@acme.example")
                && cells.get(1).map(String::as_str) == Some(subject)
        }),
        "an email to manager@acme.example titled {subject:?}: {emails:?}"
    );

    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_allocates_expired_learners_with_select_all_in_manage_mode() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/partner");

    // Echo Premium has 1 free seat for its 2 expired learners: 5 more first.
    journey.partner_assigns_licences("Echo Premium", 5).await;

    // Manage Echo Premium → Licenses → Expired Licenses (2) → Select All → Allocate Licenses.
    journey.manage_company("Echo Premium").await;
    journey.nav("Licenses").await;
    assert_eq!(journey.path().await, "/company/licenses");
    journey.follow("Expired Licenses (2)").await;
    assert_eq!(journey.query_param("tab").await.as_deref(), Some("expired"));
    let expired = journey.table_rows("#expired").await;
    let emails: Vec<&str> = expired
        .iter()
        .filter_map(|cells| cells.get(2).map(String::as_str))
        .collect();
    assert_eq!(
        emails,
        ["learner4@echo.example", "learner5@echo.example"],
        "{expired:?}"
    );
    let select_all = journey.find("#select-all").await;
    select_all.click().await.expect("tick Select All");
    assert!(
        select_all.is_selected().await.expect("checkbox state"),
        "Select All is ticked"
    );
    let allocate = journey.button("Allocate Licenses").await;
    journey.click_and_wait(&allocate).await;

    assert_eq!(journey.path().await, "/company/licenses");
    assert_eq!(journey.query_param("tab").await.as_deref(), Some("expired"));
    let notice = journey.text("#licenses-notice").await;
    assert!(
        notice.starts_with("Licences allocated to 2 learners"),
        "{notice}"
    );
    assert!(!journey.has("#licenses-error").await);
    let tab = journey.link("Expired Licenses (0)").await;
    assert_eq!(
        tab.attr("aria-current")
            .await
            .expect("aria-current")
            .as_deref(),
        Some("page")
    );
    assert!(
        !journey.has("#expired").await,
        "no expired learner is listed"
    );
    // 4 + 5 seats: the 3 learners licensed before and the 2 just allocated, 4 still free.
    journey.link("Allocated (5)").await;
    journey.link("Available (4)").await;

    journey.exit_manage_mode().await;
    journey.sign_out().await;
    assert_eq!(journey.path().await, "/sign-in");

    // Learner 4 now signs in to the licence page.
    journey
        .sign_in("learner4@echo.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/learner");
    assert_eq!(journey.text("main h1").await, "My licence");
    let licence = journey.text("main p").await;
    assert!(
        licence.contains("Your licence with Echo Premium is active until"),
        "{licence}"
    );

    journey.close().await;
}
