//! Typed ids, so a company id can never be passed where a batch id is expected.

use std::fmt;

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

typed_id!(
    /// A partner (distributor, MSP or sub-partner).
    PartnerId,
    /// A customer company: the tenant.
    CompanyId,
    /// Any user: operator, partner user, company manager or learner.
    UserId,
    /// A licence order.
    OrderId,
    /// A licence batch: the seats one assigned order created.
    BatchId,
    /// One seat of a batch bound to one user.
    SeatId,
    /// An uploaded CSV file kept between its preview and its application.
    UploadId,
    /// A webhook endpoint of a partner or of the operator.
    EndpointId,
    /// One event on its way to one webhook endpoint.
    DeliveryId,
    /// An API key of the operator, a partner or a company.
    ApiKeyId,
);
