//! Webhooks' rules: the event types an endpoint may choose, which addresses it may point at,
//! when a failed delivery is tried again, and when an endpoint that keeps failing is disabled.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use jiff::{SignedDuration, Timestamp};

use super::InvalidValue;

macro_rules! event_types {
    ($($(#[$doc:meta])* $name:ident = $text:literal;)*) => {
        /// What happened, as the `type` of a webhook's payload.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventType {
            $($(#[$doc])* $name,)*
        }

        impl EventType {
            /// Every event type, in the order the console lists them.
            pub const ALL: &'static [EventType] = &[$(EventType::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$name => $text,)*
                }
            }

            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                match raw.trim() {
                    $($text => Ok(EventType::$name),)*
                    other => Err(InvalidValue::NotOneOf {
                        got: other.chars().take(64).collect(),
                        allowed: concat!($($text, " "),*),
                    }),
                }
            }
        }
    };
}

event_types! {
    /// A company's free trial ends within 72 hours.
    CompanyTrialEnding = "company.trial_ending";
    /// A company's free trial has ended.
    CompanyTrialExpired = "company.trial_expired";
    /// A company asked for licences.
    OrderRequested = "order.requested";
    /// An order was assigned: its batch of seats exists.
    OrderAssigned = "order.assigned";
    /// An order was rejected, with a reason.
    OrderRejected = "order.rejected";
    /// A waiting order was cancelled.
    OrderCancelled = "order.cancelled";
    /// A batch of seats expires within 72 hours.
    BatchExpiring = "batch.expiring";
    /// A batch of seats has expired.
    BatchExpired = "batch.expired";
    /// Seats were allocated to learners.
    SeatsAllocated = "seats.allocated";
    /// A learner's seat returned to its batch.
    SeatsReleased = "seats.released";
    /// A user was added to a company.
    UserCreated = "user.created";
    /// A user was deactivated.
    UserDeactivated = "user.deactivated";
}

impl std::str::FromStr for EventType {
    type Err = InvalidValue;

    fn from_str(raw: &str) -> Result<Self, InvalidValue> {
        Self::parse(raw)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event types an endpoint receives: at least one, each once, in a stable order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventTypes(Vec<EventType>);

impl EventTypes {
    /// The chosen types (duplicates collapse); refused when none is chosen or one is unknown.
    pub fn parse<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidValue> {
        let mut types = raw
            .into_iter()
            .take(2 * EventType::ALL.len())
            .map(EventType::parse)
            .collect::<Result<Vec<_>, _>>()?;
        types.sort();
        types.dedup();
        if types.is_empty() {
            return Err(InvalidValue::Required);
        }
        Ok(Self(types))
    }

    /// As stored: the names separated by spaces.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn from_stored(stored: &str) -> Result<Self, InvalidValue> {
        Self::parse(stored.split_whitespace())
    }

    pub fn contains(&self, event: EventType) -> bool {
        self.0.contains(&event)
    }

    pub fn iter(&self) -> impl Iterator<Item = EventType> + '_ {
        self.0.iter().copied()
    }
}

/// Where an endpoint receives its webhooks: an `http://` or `https://` address with a host, no
/// user name or password, no fragment, at most 2,000 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub const MAX: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(InvalidValue::Required);
        }
        let got = text.chars().count();
        if got > Self::MAX {
            return Err(InvalidValue::TooLong {
                max: Self::MAX,
                got,
            });
        }
        let not_a_url = || InvalidValue::NotAWebhookUrl(text.chars().take(200).collect());
        let url = url::Url::parse(text).map_err(|_| not_a_url())?;
        let fits = matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none();
        if fits {
            Ok(Self(url))
        } else {
            Err(not_a_url())
        }
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host to resolve (an IPv6 literal without its brackets) and the port to call.
    pub fn host_and_port(&self) -> (String, u16) {
        let host = match self.0.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => String::new(),
        };
        (host, self.0.port_or_known_default().unwrap_or(443))
    }

    /// The host when it is an address rather than a name.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.0.host()? {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(_) => None,
        }
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an address may not receive webhooks unless the operator allows private targets: calling
/// it would reach the instance itself or the network behind it, not a partner's service.
pub fn private_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => private_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => private_v6(ip),
        },
    }
}

fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 0 || ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn private_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_unspecified() || ip.is_multicast() || first & 0xffc0 == 0xfec0 {
        Some("reserved")
    } else if ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64: the IPv4 address it reaches decides.
        let [.., c, d] = ip.segments();
        private_v4(Ipv4Addr::from((u32::from(c) << 16) | u32::from(d)))
    } else {
        None
    }
}

/// Where one event stands at one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; only Redeliver sends it again.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "Pending",
            DeliveryStatus::Delivered => "Delivered",
            DeliveryStatus::Failed => "Failed",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(()),
        }
    }
}

/// After an attempt: where the delivery stands.
pub fn after_attempt(
    delivered: bool,
    attempts: u32,
    now: Timestamp,
) -> (DeliveryStatus, Timestamp) {
    if delivered {
        return (DeliveryStatus::Delivered, now);
    }
    match retry_at(attempts, now) {
        Some(next) => (DeliveryStatus::Pending, next),
        None => (DeliveryStatus::Failed, now),
    }
}

/// How often one event is tried at one endpoint before its delivery is marked failed.
pub const MAX_ATTEMPTS: u32 = 10;

/// The wait after each failed attempt: quick at first, then hours apart, so the attempts of one
/// event span a little over three days and a dead endpoint is noticed even if events are rare.
const RETRY_DELAYS: [SignedDuration; MAX_ATTEMPTS as usize - 1] = [
    SignedDuration::from_secs(60),
    SignedDuration::from_mins(5),
    SignedDuration::from_mins(30),
    SignedDuration::from_hours(2),
    SignedDuration::from_hours(5),
    SignedDuration::from_hours(10),
    SignedDuration::from_hours(10),
    SignedDuration::from_hours(24),
    SignedDuration::from_hours(24),
];

/// After the `attempts`-th failed attempt at `failed_at`: when to try again, or `None` when the
/// delivery is to be marked failed.
pub fn retry_at(attempts: u32, failed_at: Timestamp) -> Option<Timestamp> {
    let delay = RETRY_DELAYS.get(usize::try_from(attempts.checked_sub(1)?).ok()?)?;
    failed_at.checked_add(*delay).ok()
}

/// How long an endpoint may fail (no successful delivery since its first failure) before it is
/// disabled and its owner emailed.
pub const FAILING_LIMIT: SignedDuration = SignedDuration::from_hours(72);

/// Whether an endpoint failing since `failing_since` is disabled after a failure at `now`.
pub fn disable_after_failure(failing_since: Timestamp, now: Timestamp) -> bool {
    now.duration_since(failing_since) >= FAILING_LIMIT
}

/// How long a rotated-out secret keeps signing beside the new one, so receivers can switch
/// without refusing a webhook.
pub const ROTATION_OVERLAP: SignedDuration = SignedDuration::from_hours(24);

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn event_types_parse_their_names_and_nothing_else() {
        for &t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Ok(t));
        }
        assert_eq!(EventType::ALL.len(), 12);
        assert!(matches!(
            EventType::parse("order.shipped"),
            Err(InvalidValue::NotOneOf { .. })
        ));
    }

    #[test]
    fn an_endpoint_chooses_at_least_one_type_each_once() {
        let types = EventTypes::parse(["user.created", "order.assigned", "user.created"]).unwrap();
        assert_eq!(types.to_stored(), "order.assigned user.created");
        assert_eq!(EventTypes::from_stored(&types.to_stored()), Ok(types));
        assert_eq!(EventTypes::parse([]), Err(InvalidValue::Required));
    }

    #[test]
    fn webhook_urls_are_http_or_https_with_a_host_and_no_credentials() {
        for ok in [
            "https://hooks.example.com/seatledger",
            "http://10.0.0.1:8080/in?x=1",
            " https://[2001:db8::1]/h ",
        ] {
            assert!(WebhookUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "example.com/hook",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(WebhookUrl::parse(bad), Err(InvalidValue::NotAWebhookUrl(_))),
                "{bad}"
            );
        }
        assert_eq!(WebhookUrl::parse("  "), Err(InvalidValue::Required));
        let long = format!("https://example.com/{}", "a".repeat(2000));
        assert!(matches!(
            WebhookUrl::parse(&long),
            Err(InvalidValue::TooLong { .. })
        ));
        let v6 = WebhookUrl::parse("https://[::1]:8443/x").unwrap();
        assert_eq!(v6.host_and_port(), ("::1".to_owned(), 8443));
        assert_eq!(v6.ip(), Some("::1".parse().unwrap()));
        let named = WebhookUrl::parse("https://hooks.example.com/x").unwrap();
        assert_eq!(named.host_and_port(), ("hooks.example.com".to_owned(), 443));
        assert_eq!(named.ip(), None);
    }

    #[test]
    fn loopback_private_and_link_local_addresses_are_private() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "reserved"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("fd00::1", "private"),
            ("fe80::1", "link-local"),
            ("::", "reserved"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a00:1", "private"),
        ] {
            assert_eq!(private_address(ip.parse().unwrap()), Some(why), "{ip}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert_eq!(private_address(public.parse().unwrap()), None, "{public}");
        }
    }

    #[test]
    fn retries_back_off_over_a_little_more_than_three_days_then_stop() {
        let t = at("2026-12-01T00:00:00Z");
        let mut at_ = t;
        for attempts in 1..MAX_ATTEMPTS {
            at_ = retry_at(attempts, at_).unwrap();
        }
        let span = at_.duration_since(t);
        assert!(span > FAILING_LIMIT, "{span:?}");
        assert!(
            span < FAILING_LIMIT + SignedDuration::from_hours(6),
            "{span:?}"
        );
        assert_eq!(retry_at(MAX_ATTEMPTS, t), None);
        assert_eq!(retry_at(0, t), None);
        assert_eq!(retry_at(1, t), Some(at("2026-12-01T00:01:00Z")));
    }

    #[test]
    fn an_endpoint_is_disabled_after_three_days_of_failures() {
        let since = at("2026-12-01T00:00:00Z");
        assert!(!disable_after_failure(since, at("2026-12-03T23:59:59Z")));
        assert!(disable_after_failure(since, at("2026-12-04T00:00:00Z")));
    }
}
