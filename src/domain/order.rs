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
    fn order_kinds_round_trip_through_text() {
        assert_eq!("managed".parse::<OrderKind>(), Ok(OrderKind::Managed));
        assert!("gold".parse::<OrderKind>().is_err());
    }
}
