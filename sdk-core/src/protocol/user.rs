//! The user an event concerns (PROTOCOL.md §4.3).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A user's IP address, or `{{auto}}` to let Sentry use the connection's address.
///
/// Only set [`IpAddress::Auto`] when `send_default_pii` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpAddress {
    /// `{{auto}}`: the ingest fills in the address the event came from.
    Auto,
    /// A concrete address.
    Exact(IpAddr),
}

impl IpAddress {
    /// The wire value of [`IpAddress::Auto`].
    pub const AUTO: &'static str = "{{auto}}";
}

impl fmt::Display for IpAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpAddress::Auto => f.write_str(IpAddress::AUTO),
            IpAddress::Exact(ip) => write!(f, "{ip}"),
        }
    }
}

impl From<IpAddr> for IpAddress {
    fn from(ip: IpAddr) -> IpAddress {
        IpAddress::Exact(ip)
    }
}

/// Error for a string that is neither an IP address nor `{{auto}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIpAddressError(String);

impl fmt::Display for ParseIpAddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an IP address: use an IPv4/IPv6 address or `{{{{auto}}}}`",
            self.0
        )
    }
}

impl std::error::Error for ParseIpAddressError {}

impl FromStr for IpAddress {
    type Err = ParseIpAddressError;

    fn from_str(s: &str) -> Result<IpAddress, ParseIpAddressError> {
        let t = s.trim();
        if t == IpAddress::AUTO {
            return Ok(IpAddress::Auto);
        }
        t.parse()
            .map(IpAddress::Exact)
            .map_err(|_| ParseIpAddressError(s.chars().take(64).collect()))
    }
}

impl Serialize for IpAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IpAddress, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The user affected by an event. Give at least one of `id`, `email`, `ip_address`,
/// `username`.
///
/// The string fields are `Cow<'static, str>`: a literal (`Some("42".into())`) is stored without
/// allocating, a `String` (`Some(id.to_string().into())`) is moved in.
///
/// ```
/// use sdk_core::protocol::{IpAddress, User};
/// let user = User {
///     id: Some("42".into()),
///     ip_address: Some(IpAddress::Auto),
///     ..User::default()
/// };
/// let json = serde_json::to_value(&user).unwrap();
/// assert_eq!(json["ip_address"], "{{auto}}");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct User {
    /// The user's id in the application.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub id: Option<Cow<'static, str>>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Cow<'static, str>>,
    /// IP address, or `{{auto}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<IpAddress>,
    /// User name (login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<Cow<'static, str>>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'static, str>>,
    /// Any other fields, kept as they are (`geo`, `segment`, `data`, ...).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// Reads an id that may be a string or a number (the protocol stringifies numbers).
fn string_or_number<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'static, str>>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(Cow::Owned(s)),
        Some(serde_json::Value::Number(n)) => Some(Cow::Owned(n.to_string())),
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "user id must be a string or number, got {other}"
            )))
        }
    })
}
