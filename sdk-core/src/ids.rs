//! Trace and span ids: random, written as lowercase hex (PROTOCOL.md §5.2).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A fresh event id: a random (v4) UUID from a fast per-thread generator, so creating one costs
/// no system call. Events, transactions and check-ins all take their ids from here.
pub fn new_event_id() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid()
}

/// Error for a string that is not a valid trace or span id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    expected_len: usize,
    input: String,
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an id: expected {} hex digits",
            self.input, self.expected_len
        )
    }
}

impl std::error::Error for InvalidId {}

fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], InvalidId> {
    let err = || InvalidId {
        expected_len: N * 2,
        input: s.chars().take(64).collect(),
    };
    let bytes = s.as_bytes();
    if bytes.len() != N * 2 {
        return Err(err());
    }
    let mut out = [0u8; N];
    for (i, chunk) in bytes.chunks_exact(2).enumerate() {
        let hi = (chunk[0] as char).to_digit(16).ok_or_else(err)?;
        let lo = (chunk[1] as char).to_digit(16).ok_or_else(err)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Ok(out)
}

fn write_hex(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        buf[i * 2] = HEX[(b >> 4) as usize];
        buf[i * 2 + 1] = HEX[(b & 0xf) as usize];
    }
    // Only ASCII hex digits were written.
    f.write_str(std::str::from_utf8(&buf[..bytes.len() * 2]).map_err(|_| fmt::Error)?)
}

macro_rules! hex_id {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name([u8; $len]);

        impl $name {
            /// A new random, non-zero id.
            pub fn random() -> Self {
                let mut bytes = [0u8; $len];
                loop {
                    fastrand::fill(&mut bytes);
                    if bytes.iter().any(|b| *b != 0) {
                        return $name(bytes);
                    }
                }
            }

            /// The id from its bytes.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                $name(bytes)
            }

            /// The id's bytes.
            pub const fn to_bytes(self) -> [u8; $len] {
                self.0
            }

            /// Whether every byte is zero (an invalid id on the wire).
            pub fn is_nil(&self) -> bool {
                self.0.iter().all(|b| *b == 0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                write_hex(&self.0, f)?;
                f.write_str(")")
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                parse_hex::<$len>(s.trim()).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(
    /// A trace id: 16 random bytes, 32 lowercase hex digits on the wire.
    TraceId,
    16
);
hex_id!(
    /// A span id: 8 random bytes, 16 lowercase hex digits on the wire.
    SpanId,
    8
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_lowercase_hex() {
        let id: TraceId = "771A43A4192642F0B136D5159A501700".parse().unwrap();
        assert_eq!(id.to_string(), "771a43a4192642f0b136d5159a501700");
        let span: SpanId = "b0e6f15b45c36b12".parse().unwrap();
        assert_eq!(span.to_string(), "b0e6f15b45c36b12");
        assert_eq!(
            serde_json::to_string(&span).unwrap(),
            "\"b0e6f15b45c36b12\""
        );
        let back: SpanId = serde_json::from_str("\"b0e6f15b45c36b12\"").unwrap();
        assert_eq!(back, span);
    }

    #[test]
    fn rejects_wrong_length_and_non_hex() {
        assert!("abc".parse::<TraceId>().is_err());
        assert!("zz0e6f15b45c36b1".parse::<SpanId>().is_err());
        assert!("b0e6f15b45c36b12ff".parse::<SpanId>().is_err());
    }

    #[test]
    fn random_ids_are_distinct_and_non_nil() {
        let a = TraceId::random();
        let b = TraceId::random();
        assert_ne!(a, b);
        assert!(!a.is_nil());
        assert_eq!(SpanId::random().to_string().len(), 16);
    }
}
