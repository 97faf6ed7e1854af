//! Severity levels of events and breadcrumbs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How severe an event or breadcrumb is. Written lowercase on the wire.
///
/// ```
/// use sdk_core::protocol::Level;
/// assert_eq!("warning".parse::<Level>().unwrap(), Level::Warning);
/// assert_eq!(Level::Error.to_string(), "error");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    /// Diagnostic detail.
    Debug,
    /// Informational; the default for breadcrumbs and messages.
    Info,
    /// Something unexpected that the program handled.
    Warning,
    /// An error; the default for events.
    #[default]
    Error,
    /// A crash or an error the program cannot recover from.
    Fatal,
}

impl Level {
    /// The wire name (`debug`, `info`, `warning`, `error`, `fatal`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a string that names no [`Level`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLevelError(String);

impl fmt::Display for ParseLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a level: use debug, info, warning, error or fatal",
            self.0
        )
    }
}

impl std::error::Error for ParseLevelError {}

impl FromStr for Level {
    type Err = ParseLevelError;

    /// Parses a level case-insensitively; also accepts the aliases Relay knows (`warn`, `log`,
    /// `critical`, `trace`).
    fn from_str(s: &str) -> Result<Level, ParseLevelError> {
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "debug" | "trace" => Level::Debug,
            "info" | "log" => Level::Info,
            "warning" | "warn" => Level::Warning,
            "error" => Level::Error,
            "fatal" | "critical" => Level::Fatal,
            _ => return Err(ParseLevelError(s.chars().take(64).collect())),
        })
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_lowercase_and_parses_aliases() {
        assert_eq!(
            serde_json::to_string(&Level::Warning).unwrap(),
            "\"warning\""
        );
        let l: Level = serde_json::from_str("\"critical\"").unwrap();
        assert_eq!(l, Level::Fatal);
        assert_eq!("WARN".parse::<Level>().unwrap(), Level::Warning);
        let err = "loud".parse::<Level>().unwrap_err();
        assert!(err.to_string().contains("`loud` is not a level"));
        assert!(serde_json::from_str::<Level>("\"loud\"").is_err());
    }
}
