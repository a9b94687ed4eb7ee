//! The integration tests: one binary, a fresh database per test, servers on port 0.
//!
//! Storage tests run on SQLite and on PostgreSQL. PostgreSQL tests skip (saying so) when no
//! server answers at `SEATLEDGER_TEST_POSTGRES` (asked once per run, for at most 2 s); with
//! `SEATLEDGER_REQUIRE_POSTGRES=1` (as in CI) they fail instead. Browser tests do the same with
//! Chromium and `SEATLEDGER_REQUIRE_BROWSER=1`.

mod api;
mod api_keys;
mod api_licences;
mod api_partner;
mod api_resources;
mod api_schema;
mod backup;
mod browser;
mod cli;
mod console;
mod delivery;
mod guards;
mod hook_console;
mod hook_events;
mod hooks;
mod ids;
mod instances;
mod isolation;
mod licences;
mod lists;
mod nfr;
mod observe;
mod operator;
mod overview;
mod partner;
mod partner_lists;
mod people;
mod plans;
mod receiver;
mod requests;
mod roles;
mod routes;
mod rules;
mod schedule;
mod settings;
mod shutdown;
mod sign_in;
mod smtp;
mod storage;
mod support;
mod upgrade;
mod uploads;
mod web;
