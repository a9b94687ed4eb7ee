//! The partner's licence overview, from the Admin Dashboard's counts to a filtered, sorted list
//! and its chart; the journey also takes the README's screenshots of the main pages.

use seatledger::db::seed::DEMO_PASSWORD;

use super::pages::Journey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_reads_its_licence_overview_from_the_dashboard_counts() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/partner");
    assert_eq!(
        journey.text("#count-companies-expired").await,
        "1 company expired"
    );
    journey.screenshot("company").await;

    // The count opens the list it counts: only Cobalt, whose trial expired.
    let expired = journey.find("#count-companies-expired").await;
    journey.click_and_wait(&expired).await;
    assert_eq!(journey.path().await, "/partner/licences/overview");
    let rows = journey.table_rows("#overview").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "Cobalt Expired Trial");
    assert_eq!(rows[0][1], "Expired");

    // Every company beneath the partner, with the totals row, sorted by seats, most first.
    journey.nav("Licences").await;
    journey.follow("Overview").await;
    assert_eq!(journey.text("#position").await, "1–6 of 6");
    assert!(
        journey
            .text("#overview-totals")
            .await
            .starts_with("Total (6)")
    );
    journey.follow("Seats total").await;
    // Sorted by it now: its heading says so, and a second click turns the order round.
    let heading = journey
        .find(r#"#overview th[aria-sort="ascending"] a"#)
        .await;
    journey.click_and_wait(&heading).await;
    assert!(journey.has(r#"#overview th[aria-sort="descending"]"#).await);
    let sorted = journey.table_rows("#overview").await;
    assert_eq!(sorted.len(), 6);
    let totals: Vec<i64> = sorted.iter().map(|r| r[2].parse().unwrap()).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
    assert_eq!(totals[0], 4);

    // The chart names the companies behind each month's bar, with its figures beside it.
    assert!(journey.has("#expiry-chart").await);
    let figures = journey.text("#expiry-figures").await;
    assert!(figures.contains("Delta Renewal Due (4)"), "{figures}");
    assert!(!journey.has("script[src*=chart]").await);

    // Filter by status: Premium companies only, and the download keeps the filter.
    let status = journey.find("#status").await;
    status
        .select_by_value("premium")
        .await
        .expect("choose Premium");
    let filter = journey.button("Filter").await;
    journey.click_and_wait(&filter).await;
    let premium: Vec<String> = journey
        .table_rows("#overview")
        .await
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(premium, ["Delta Renewal Due", "Echo Premium"]);
    let csv = journey
        .find("#overview-csv")
        .await
        .attr("href")
        .await
        .expect("the download link")
        .unwrap_or_default();
    assert!(csv.contains("status=premium"), "{csv}");
    journey.follow("Clear").await;
    journey.screenshot("licence-overview").await;

    // The company Overview in manage mode: where it stands, seats used against held.
    journey.goto("/partner").await;
    journey.manage_company("Echo Premium").await;
    assert!(
        journey
            .text("#standing")
            .await
            .starts_with("It holds 4 licences")
    );
    assert_eq!(journey.text("#seats").await, "3 seats used, 1 free.");
    assert!(journey.has("#seat-chart").await);
    journey.screenshot("company-overview").await;
    journey.exit_manage_mode().await;

    // Settings: the partner's pages move to Honolulu (UTC−10), where Acme's trial, ending at
    // 09:00 UTC, ends a day earlier.
    let acme = journey.row("companies", &[(1, "Acme Trial Co")]).await;
    assert!(Journey::cells(&acme).await[2].contains("21 Dec 2026"));
    journey.nav("Settings").await;
    assert!(journey.text("#current-time-zone").await.contains("UTC"));
    journey.fill("#time_zone", "Mars/Olympus").await;
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;
    assert!(
        journey
            .text("#time_zone-error")
            .await
            .starts_with("Time zone:")
    );
    journey.fill("#time_zone", "Pacific/Honolulu").await;
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;
    assert_eq!(
        journey.text("#settings-notice").await,
        "Saved: your pages now show dates in Pacific/Honolulu."
    );
    journey.nav("Company").await;
    let acme = journey.row("companies", &[(1, "Acme Trial Co")]).await;
    assert_eq!(Journey::cells(&acme).await[2], "Trial ends 20 Dec 2026");
    assert!(
        journey
            .text("main")
            .await
            .contains("Dates in Pacific/Honolulu.")
    );

    // A manager whose trial ended: the landing page says what happened and what comes next.
    journey.sign_out().await;
    journey
        .sign_in("manager@cobalt.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/landing");
    assert!(
        journey
            .text("#what-ended")
            .await
            .starts_with("The free trial of Cobalt Expired Trial ended on")
    );
    journey.screenshot("landing").await;
    journey.close().await;
}
