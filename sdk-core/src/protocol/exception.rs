//! Exceptions and their mechanism (PROTOCOL.md §4.7).

use serde::{Deserialize, Serialize};

use super::frames::{Stacktrace, ThreadId};
use crate::stacktrace::RawStacktrace;

/// How an exception was captured and how it relates to the others of the same event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Mechanism {
    /// What captured it: `generic` when unknown, `panic` for panics, or an integration's name.
    #[serde(rename = "type")]
    pub ty: String,
    /// `false` when the program did not handle it (a crash); marks the session crashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<bool>,
    /// Whether the exception type is a generic wrapper rather than a meaningful name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<bool>,
    /// Human-readable description of the mechanism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A link to documentation about the mechanism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_link: Option<String>,
    /// Where in the parent the exception came from (e.g. `source`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Whether this exception groups others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_exception_group: Option<bool>,
    /// This exception's number within the event: the outermost (last in the list) is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_id: Option<u32>,
    /// The `exception_id` of the exception this one caused (its wrapper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<u32>,
    /// Arbitrary extra data.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl Mechanism {
    /// A mechanism of the given type with nothing else set.
    pub fn new(ty: impl Into<String>) -> Mechanism {
        Mechanism {
            ty: ty.into(),
            ..Mechanism::default()
        }
    }
}

/// One exception value of an event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Exception {
    /// The exception's type, e.g. `QueryError` or `panic`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The message (the error's `Display`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The module of the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The thread (in `threads`) it happened on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<ThreadId>,
    /// Where it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Stacktrace>,
    /// A stack trace recorded but not yet symbolised; [`crate::protocol::Event::resolve_stacktraces`]
    /// turns it into `stacktrace`. Never serialised.
    #[serde(skip)]
    pub raw_stacktrace: Option<RawStacktrace>,
    /// How it was captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<Mechanism>,
}
