//! API keys: what a key may do, and the shape of the key itself.
//!
//! A key reads `sl_<prefix>_<secret>`: the prefix is shown in the console so a key can be
//! recognised and revoked, the secret is random. Only a hash of the whole key is stored.

use std::fmt;

use jiff::Timestamp;

use super::InvalidValue;

/// What a key may be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Ask whether a user may sign in now (the product's call at every login).
    AccessCheck,
    /// Read companies, users, orders, batches and activity.
    Read,
    /// Change them.
    Write,
}

impl Permission {
    pub const ALL: [Permission; 3] = [Permission::AccessCheck, Permission::Read, Permission::Write];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::AccessCheck => "access:check",
            Permission::Read => "read",
            Permission::Write => "write",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == raw.trim())
            .ok_or_else(|| InvalidValue::NotOneOf {
                got: raw.trim().to_owned(),
                allowed: "access:check, read, write",
            })
    }
}

/// A key's permissions: at least one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Permissions {
    access_check: bool,
    read: bool,
    write: bool,
}

impl Permissions {
    /// From the chosen permissions; none chosen is refused.
    pub fn parse<'a>(chosen: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidValue> {
        let mut permissions = Permissions::default();
        for raw in chosen {
            if raw.trim().is_empty() {
                continue;
            }
            permissions.grant(Permission::parse(raw)?);
        }
        if permissions.iter().next().is_none() {
            return Err(InvalidValue::Required);
        }
        Ok(permissions)
    }

    /// Stored as the comma-separated permission names.
    pub fn from_stored(stored: &str) -> Result<Self, InvalidValue> {
        Self::parse(stored.split(','))
    }

    pub fn to_stored(self) -> String {
        self.to_string()
    }

    fn grant(&mut self, permission: Permission) {
        match permission {
            Permission::AccessCheck => self.access_check = true,
            Permission::Read => self.read = true,
            Permission::Write => self.write = true,
        }
    }

    pub fn has(self, permission: Permission) -> bool {
        match permission {
            Permission::AccessCheck => self.access_check,
            Permission::Read => self.read,
            Permission::Write => self.write,
        }
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |&p| self.has(p))
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.iter().map(Permission::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// Whether a key works at `now`: not revoked and not past its expiry.
pub fn usable(expires_at: Option<Timestamp>, revoked: bool, now: Timestamp) -> bool {
    !revoked && expires_at.is_none_or(|e| now < e)
}

/// An expiry chosen for a new key must lie ahead.
pub fn check_expiry(expires_at: Timestamp, now: Timestamp) -> Result<Timestamp, InvalidValue> {
    if expires_at > now {
        Ok(expires_at)
    } else {
        Err(InvalidValue::InThePast)
    }
}

/// An expiry as typed: empty for none, an instant (`2027-01-01T00:00:00Z`) or a date, which
/// means its first instant in UTC.
pub fn parse_expiry(raw: &str) -> Result<Option<Timestamp>, InvalidValue> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let shown = || InvalidValue::NotAnInstant(raw.chars().take(40).collect());
    if let Ok(instant) = raw.parse::<Timestamp>() {
        return Ok(Some(instant));
    }
    let date: jiff::civil::Date = raw.parse().map_err(|_| shown())?;
    date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map(|z| Some(z.timestamp()))
        .map_err(|_| shown())
}

/// What starts every key, so a leaked one is recognisable (e.g. by secret scanners).
pub const KEY_START: &str = "sl_";
/// Characters of the visible prefix.
pub const PREFIX_LEN: usize = 12;
/// Characters of the secret part (hex of 32 random bytes).
pub const SECRET_LEN: usize = 64;

/// The prefix of a presented key, if it has a key's shape at all.
pub fn prefix_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_START)?;
    let (prefix, secret) = rest.split_once('_')?;
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    (prefix.len() == PREFIX_LEN && secret.len() == SECRET_LEN && hex(prefix) && hex(secret))
        .then_some(prefix)
}

/// The key made of `prefix` and `secret` (both lowercase hex of the right lengths).
pub fn compose(prefix: &str, secret: &str) -> String {
    format!("{KEY_START}{prefix}_{secret}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_from_a_list_and_round_trip_through_storage() {
        let p = Permissions::parse(["read", " write", ""]).unwrap();
        assert!(p.has(Permission::Read) && p.has(Permission::Write));
        assert!(!p.has(Permission::AccessCheck));
        assert_eq!(p.to_stored(), "read,write");
        assert_eq!(Permissions::from_stored("read,write").unwrap(), p);
        assert_eq!(
            Permissions::parse(["admin"]),
            Err(InvalidValue::NotOneOf {
                got: "admin".into(),
                allowed: "access:check, read, write"
            })
        );
        assert_eq!(Permissions::parse([""]), Err(InvalidValue::Required));
    }

    #[test]
    fn a_key_works_until_it_expires_or_is_revoked() {
        let now: Timestamp = "2026-11-26T09:00:00Z".parse().unwrap();
        assert!(usable(None, false, now));
        assert!(usable(
            Some(now + jiff::SignedDuration::from_secs(1)),
            false,
            now
        ));
        assert!(!usable(Some(now), false, now));
        assert!(!usable(None, true, now));
        assert_eq!(check_expiry(now, now), Err(InvalidValue::InThePast));
    }

    #[test]
    fn an_expiry_is_an_instant_or_a_date_in_utc() {
        assert_eq!(parse_expiry(" "), Ok(None));
        assert_eq!(
            parse_expiry("2027-01-01"),
            Ok(Some("2027-01-01T00:00:00Z".parse().unwrap()))
        );
        assert_eq!(
            parse_expiry("2027-01-01T10:00:00+01:00"),
            Ok(Some("2027-01-01T09:00:00Z".parse().unwrap()))
        );
        assert_eq!(
            parse_expiry("next year"),
            Err(InvalidValue::NotAnInstant("next year".into()))
        );
    }

    #[test]
    fn only_a_well_formed_key_yields_its_prefix() {
        let key = compose("0123456789ab", &"f".repeat(SECRET_LEN));
        assert_eq!(prefix_of(&key), Some("0123456789ab"));
        for bad in [
            "",
            "sl_",
            "sl_0123456789ab",
            &key[..key.len() - 1],
            &key.replace("sl_", "xx_"),
            &key.to_uppercase(),
        ] {
            assert_eq!(prefix_of(bad), None, "{bad}");
        }
    }
}
