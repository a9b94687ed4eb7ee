//! Licence orders: `requested` → `assigned` | `rejected` | `cancelled`.

use std::fmt;
use std::str::FromStr;

/// Premium: the customer runs its own programme. Managed: the partner runs it for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Premium,
    Managed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderState {
    Requested,
    Assigned,
    Rejected,
    Cancelled,
}

impl OrderKind {
    /// The name people read: "Premium" or "Managed".
    pub fn label(self) -> &'static str {
        match self {
            OrderKind::Premium => "Premium",
            OrderKind::Managed => "Managed",
        }
    }
}

impl OrderState {
    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            OrderState::Requested => "Pending",
            OrderState::Assigned => "Assigned",
            OrderState::Rejected => "Rejected",
            OrderState::Cancelled => "Cancelled",
        }
    }
}

/// Who an order's licences are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buyer {
    /// A customer company of a partner.
    Customer,
    /// A partner's own internal company (its staff and demos); `distributor` when the partner
    /// has no partner above it.
    Partner { distributor: bool },
}

/// Who is looking at an order to assign or reject it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decider {
    /// A partner `depth` levels above the company's own partner (0: that partner itself).
    Partner {
        depth: u32,
    },
    Operator,
}

/// Whether `decider` assigns and rejects an order of `buyer`: a customer buys from its partner
/// (or any partner above it); a partner buys its own licences from the partner above it, and a
/// distributor from the operator. Nobody sells to itself. `db::orders` holds the SQL mirror.
pub fn decides(decider: Decider, buyer: Buyer) -> bool {
    match (decider, buyer) {
        (Decider::Partner { .. }, Buyer::Customer) => true,
        (Decider::Partner { depth }, Buyer::Partner { .. }) => depth > 0,
        (Decider::Operator, Buyer::Partner { distributor }) => distributor,
        (Decider::Operator, Buyer::Customer) => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("this order is already {}", .current.as_str())]
pub struct OrderAlreadyDecided {
    pub current: OrderState,
}

impl OrderState {
    /// Only a requested order can be decided, and only once.
    pub fn decide(self, to: OrderState) -> Result<OrderState, OrderAlreadyDecided> {
        if self == OrderState::Requested && to != OrderState::Requested {
            Ok(to)
        } else {
            Err(OrderAlreadyDecided { current: self })
        }
    }
}

macro_rules! text_enum {
    ($ty:ident { $first:ident => $first_text:literal $(, $variant:ident => $text:literal)* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $ty::$first => $first_text, $($ty::$variant => $text),* }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = super::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $first_text => Ok($ty::$first),
                    $($text => Ok($ty::$variant),)*
                    other => Err(super::InvalidValue::NotOneOf {
                        got: other.chars().take(40).collect(),
                        allowed: concat!($first_text $(, ", ", $text)*),
                    }),
                }
            }
        }
    };
}

text_enum!(OrderKind { Premium => "premium", Managed => "managed" });
text_enum!(OrderState {
    Requested => "requested",
    Assigned => "assigned",
    Rejected => "rejected",
    Cancelled => "cancelled",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requested_order_can_be_assigned_rejected_or_cancelled_once() {
        for to in [
            OrderState::Assigned,
            OrderState::Rejected,
            OrderState::Cancelled,
        ] {
            assert_eq!(OrderState::Requested.decide(to), Ok(to));
            assert_eq!(
                to.decide(OrderState::Assigned),
                Err(OrderAlreadyDecided { current: to })
            );
        }
    }

    #[test]
    fn partners_sell_to_their_customers_and_buy_their_own_licences_from_above() {
        let own = Decider::Partner { depth: 0 };
        let parent = Decider::Partner { depth: 1 };
        let grandparent = Decider::Partner { depth: 2 };
        assert!(decides(own, Buyer::Customer));
        assert!(decides(grandparent, Buyer::Customer));
        assert!(!decides(Decider::Operator, Buyer::Customer));
        for distributor in [false, true] {
            let partner = Buyer::Partner { distributor };
            assert!(!decides(own, partner), "nobody sells to itself");
            assert!(decides(parent, partner));
            assert!(decides(grandparent, partner));
            assert_eq!(decides(Decider::Operator, partner), distributor);
        }
    }

    #[test]
    fn order_kinds_round_trip_through_text() {
        assert_eq!("managed".parse::<OrderKind>(), Ok(OrderKind::Managed));
        assert!("gold".parse::<OrderKind>().is_err());
    }
}
