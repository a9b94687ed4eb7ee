//! seatledger: the licence side of a seat-based SaaS sold through MSP partners.
//!
//! A guided tour, from the rules outwards:
//! - [`domain`]: the product's rules in plain Rust (company status, who may sign in and who may do
//!   what, which batch a seat comes from, the seat ledger). No I/O and no clock reads.
//! - [`imports`]: reading uploaded CSV files and deciding each row, also without I/O.
//! - [`clock`]: the one source of "now"; tests and the CLI set it.
//! - [`db`]: storage. SQL over SQLite or PostgreSQL, always scoped by tenant; queries and row
//!   mapping that return facts, never sentences.
//! - [`ops`]: the operations, every verb of the product once: rights, transaction, seat events,
//!   activity and outbox rows. Both edges call them.
//! - [`web`]: the server-rendered console (axum + askama): area extractors, thin handlers.
//! - [`email`]: what each email says and how it leaves; [`jobs`]: the scheduler and the delivery
//!   worker; [`app`]: the whole application started from its configuration; [`cli`]: the
//!   `seatledger` command.
//! - [`webhooks`]: what each webhook carries, how it is signed and how it leaves.
//! - [`metrics`]: what `/metrics` counts (requests, outbox backlogs, deliveries, passes, seats).

pub mod allocator;
pub mod app;
pub mod cli;
pub mod clock;
pub mod db;
pub mod domain;
pub mod email;
pub mod format;
pub mod imports;
pub mod jobs;
pub mod metrics;
pub mod ops;
pub mod password;
pub mod progress;
pub mod web;
pub mod webhooks;
