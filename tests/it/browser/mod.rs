//! Browser end-to-end tests: the real `seatledger serve --demo` binary, driven through headless
//! Chromium by ChromeDriver (with fantoccini).
//!
//! They are few and each follows a whole journey across pages and roles; what one page does is
//! tested over HTTP (`web`, `partner`, `licences`, `people`, ...).
//!
//! Each test owns its ChromeDriver, browser profile and server, so the tests run in parallel and
//! stay independent. When Chromium or ChromeDriver is not installed the tests skip (saying so);
//! with `SEATLEDGER_REQUIRE_BROWSER=1` (as in CI) they fail instead.
//!
//! Journey tests start with `let Some(journey) = Journey::start().await else { return };`, drive
//! the browser through its helpers, and end with `journey.close().await`.

mod harness;
mod manager_journeys;
mod overview_journeys;
mod pages;
mod partner_journeys;
mod production_journeys;
