//! seatledger: the licence side of a seat-based SaaS sold through MSP partners.
//!
//! A guided tour, from the rules outwards:
//! - [`domain`]: the product's rules in plain Rust (company status, who may sign in, which batch a
//!   seat comes from, the seat ledger). No I/O and no clock reads.
//! - [`clock`]: the one source of "now"; tests and the CLI set it.
//! - [`db`]: SQL over SQLite or PostgreSQL, always scoped by tenant; loads facts, asks `domain`,
//!   writes outcomes.
//! - [`web`]: the server-rendered console (axum + askama) with sessions and CSRF protection.
//! - [`jobs`]: the scheduled work run by `serve` and `tick`.
//! - [`cli`]: the `seatledger` command.

pub mod cli;
pub mod clock;
pub mod db;
pub mod domain;
pub mod email;
pub mod format;
pub mod imports;
pub mod jobs;
pub mod password;
pub mod web;
