//! Stack traces, frames and threads (PROTOCOL.md §4.8).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::stacktrace::RawStacktrace;

/// A memory address, written as a `0x…` hex string (instruction and image addresses).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Addr(pub u64);

impl Addr {
    /// The address as an integer.
    pub const fn value(self) -> u64 {
        self.0
    }
}

impl From<u64> for Addr {
    fn from(v: u64) -> Addr {
        Addr(v)
    }
}

impl From<usize> for Addr {
    fn from(v: usize) -> Addr {
        Addr(v as u64)
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Addr({:#x})", self.0)
    }
}

/// Error for a string that is not a `0x…` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseAddrError(String);

impl fmt::Display for ParseAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an address: expected hex digits after `0x`, or a decimal number",
            self.0
        )
    }
}

impl std::error::Error for ParseAddrError {}

impl FromStr for Addr {
    type Err = ParseAddrError;

    fn from_str(s: &str) -> Result<Addr, ParseAddrError> {
        let t = s.trim();
        let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => t.parse::<u64>(),
        };
        parsed
            .map(Addr)
            .map_err(|_| ParseAddrError(s.chars().take(64).collect()))
    }
}

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Addr, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Num(u64),
            #[serde(borrow)]
            Str(std::borrow::Cow<'a, str>),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(Addr(n)),
            Raw::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// One stack frame.
///
/// Each frame needs at least one of `function`, `filename` or `instruction_addr`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Frame {
    /// The function's name, demangled, without the `::h0123…` hash suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The function's original name when `function` was shortened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_function: Option<String>,
    /// The mangled symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// The module path, e.g. `my_app::db`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The crate or library the frame belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The source file, relative when possible (stable across builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The source file's absolute path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs_path: Option<String>,
    /// 1-based line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineno: Option<u32>,
    /// 1-based column number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colno: Option<u32>,
    /// Source lines before `context_line`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_context: Vec<String>,
    /// The source line of the frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_line: Option<String>,
    /// Source lines after `context_line`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_context: Vec<String>,
    /// Whether the frame belongs to the application (as opposed to std, the SDK or libraries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
    /// Local variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// The instruction address, for server-side symbolication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction_addr: Option<Addr>,
    /// The start address of the symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol_addr: Option<Addr>,
    /// The load address of the image containing the frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_addr: Option<Addr>,
}

/// A stack trace: frames oldest (caller) first, the crashing frame last.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Stacktrace {
    /// The frames, oldest first.
    #[serde(default)]
    pub frames: Vec<Frame>,
    /// Register values at the time of the crash, as `0x…` strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub registers: BTreeMap<String, Addr>,
}

impl Stacktrace {
    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// A thread id: a number or a string on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ThreadId {
    /// A numeric id.
    Int(u64),
    /// A string id.
    String(String),
}

impl From<u64> for ThreadId {
    fn from(v: u64) -> ThreadId {
        ThreadId::Int(v)
    }
}

impl From<String> for ThreadId {
    fn from(v: String) -> ThreadId {
        ThreadId::String(v)
    }
}

impl From<&str> for ThreadId {
    fn from(v: &str) -> ThreadId {
        ThreadId::String(v.to_owned())
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadId::Int(n) => write!(f, "{n}"),
            ThreadId::String(s) => f.write_str(s),
        }
    }
}

/// A thread of the process, optionally with its stack trace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Thread {
    /// The thread's id (required on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ThreadId>,
    /// The thread's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The thread's stack trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Stacktrace>,
    /// A stack trace recorded but not yet symbolised; [`crate::protocol::Event::resolve_stacktraces`]
    /// turns it into `stacktrace`. Never serialised.
    #[serde(skip)]
    pub raw_stacktrace: Option<RawStacktrace>,
    /// Whether this thread crashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crashed: Option<bool>,
    /// Whether this thread was the one running when the event was captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<bool>,
    /// Whether this is the main thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<bool>,
    /// The thread's state, e.g. `Runnable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr_is_a_hex_string() {
        assert_eq!(
            serde_json::to_string(&Addr(0x5617_4c90_0951)).unwrap(),
            "\"0x56174c900951\""
        );
        let a: Addr = serde_json::from_str("\"0x7fe825245305\"").unwrap();
        assert_eq!(a, Addr(0x7fe8_2524_5305));
        let n: Addr = serde_json::from_str("4096").unwrap();
        assert_eq!(n, Addr(4096));
        assert!(serde_json::from_str::<Addr>("\"0xnope\"").is_err());
    }

    #[test]
    fn empty_frame_fields_are_omitted() {
        let frame = Frame {
            function: Some("my_app::main".into()),
            in_app: Some(true),
            ..Frame::default()
        };
        assert_eq!(
            serde_json::to_string(&frame).unwrap(),
            r#"{"function":"my_app::main","in_app":true}"#
        );
    }
}
