//! The rules of the product, in plain Rust: no database, no HTTP, no clock reads.
//!
//! Every function here takes the instant it decides for as an argument, so the same rule gives the
//! same answer in a request, in the scheduler and in a test that travels in time. Each rule lives in
//! exactly one function; the storage and web layers call it rather than re-deciding.

pub mod access;
pub mod allocation;
pub mod api_keys;
pub mod company;
pub mod ids;
pub mod ledger;
pub mod order;
pub mod rights;
pub mod schedule;
pub mod values;
pub mod webhooks;

pub use access::{Landing, LicenceStatus, Role, SignInDecision, SignInRefusal, UserFacts};
pub use allocation::{AllocationPlan, FreeBatch, NotEnoughSeats};
pub use company::{CompanyFacts, CompanyStatus};
pub use ids::{
    ApiKeyId, BatchId, CompanyId, DeliveryId, EndpointId, OrderId, PartnerId, SeatId, UploadId,
    UserId,
};
pub use ledger::{BatchReplay, LedgerError, SeatEvent, SeatEventKind, UserReplay};
pub use order::{Buyer, Decider, OrderKind, OrderState};
pub use rights::{Action, permits};
pub use values::{
    Country, Department, Email, InvalidValue, KeyName, NameSearch, OrgName, Password, PersonName,
    RejectReason, RequestKey, SeatCount, TimeZoneName, TrialDays,
};
