//! The event payload (PROTOCOL.md §4.1).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::breadcrumb::Breadcrumb;
use super::contexts::Contexts;
use super::debug_meta::DebugMeta;
use super::exception::Exception;
use super::frames::Thread;
use super::level::Level;
use super::request::Request;
use super::sdk::SdkInfo;
use super::serde_helpers::{timestamp, timestamp_opt, uuid_simple};
use super::user::User;
use crate::stacktrace::{InAppRules, RawStacktrace};

/// A list written as `{"values": [...]}` (breadcrumbs, exceptions, threads). Reads the bare
/// array form too.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Values<T> {
    /// The entries.
    pub values: Vec<T>,
}

impl<T> Default for Values<T> {
    fn default() -> Self {
        Values { values: Vec::new() }
    }
}

impl<T> Values<T> {
    /// An empty list.
    pub fn new() -> Self {
        Values::default()
    }

    /// Whether the list is empty (it is then left out of the JSON).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Appends one entry.
    pub fn push(&mut self, value: T) {
        self.values.push(value);
    }

    /// The entries in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.values.iter()
    }
}

impl<T> From<Vec<T>> for Values<T> {
    fn from(values: Vec<T>) -> Self {
        Values { values }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Values<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Wrapped {
                #[serde(default = "Vec::new")]
                values: Vec<T>,
            },
            Bare(Vec<T>),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Wrapped { values } | Raw::Bare(values) => Values { values },
        })
    }
}

/// A message with optional parameters (`logentry`), for messages built from a template.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogEntry {
    /// The template, e.g. `user %s logged in`.
    pub message: String,
    /// The message with the parameters filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// The parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<serde_json::Value>,
}

/// An event: an error, a message, or (with `type: transaction`) a transaction.
///
/// Absent fields are left out of the JSON. `Event::new()` (and `default()`) fills a random
/// `event_id`, the current time, `platform: "native"` and level `error`.
///
/// ```
/// use sdk_core::protocol::{Event, Level};
/// let event = Event {
///     message: Some("disk almost full".into()),
///     level: Level::Warning,
///     ..Event::new()
/// };
/// let json = serde_json::to_value(&event).unwrap();
/// assert_eq!(json["message"], "disk almost full");
/// assert_eq!(json["platform"], "native");
/// assert!(json.get("user").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event's id (32 hex digits on the wire).
    #[serde(with = "uuid_simple")]
    pub event_id: Uuid,
    /// Severity; `error` unless set.
    #[serde(default)]
    pub level: Level,
    /// A plain message, as the official SDK sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A templated message (use instead of, or as well as, `message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logentry: Option<LogEntry>,
    /// `native` for Rust (the protocol has no `rust` platform).
    #[serde(default = "default_platform")]
    pub platform: Cow<'static, str>,
    /// When the event happened (seconds since the epoch on the wire).
    #[serde(with = "timestamp")]
    pub timestamp: SystemTime,
    /// `transaction` for transactions; absent for errors.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// When a transaction started.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "timestamp_opt"
    )]
    pub start_timestamp: Option<SystemTime>,
    /// The logger that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    /// The route or handler active when it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<String>,
    /// The host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// The release, e.g. `my-app@1.2.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The build variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dist: Option<String>,
    /// The environment, e.g. `production`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The affected user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// The HTTP request it happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// Contexts (os, rust, device, trace, ...).
    #[serde(default, skip_serializing_if = "Contexts::is_empty")]
    pub contexts: Contexts,
    /// Breadcrumbs, oldest first.
    #[serde(default, skip_serializing_if = "Values::is_empty")]
    pub breadcrumbs: Values<Breadcrumb>,
    /// Exceptions, innermost cause first, the outermost error last.
    #[serde(default, skip_serializing_if = "Values::is_empty")]
    pub exception: Values<Exception>,
    /// Threads.
    #[serde(default, skip_serializing_if = "Values::is_empty")]
    pub threads: Values<Thread>,
    /// Tags: short strings Sentry indexes for search.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Arbitrary extra data.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// Grouping override; `{{ default }}` stands for the default grouping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprint: Vec<String>,
    /// Installed packages and their versions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, String>,
    /// The SDK that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<SdkInfo>,
    /// Loaded images, for symbolication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_meta: Option<DebugMeta>,
}

fn default_platform() -> Cow<'static, str> {
    Cow::Borrowed("native")
}

impl Default for Event {
    fn default() -> Event {
        Event {
            event_id: crate::ids::new_event_id(),
            level: Level::Error,
            message: None,
            logentry: None,
            platform: default_platform(),
            timestamp: crate::api::timestamp_now(),
            ty: None,
            start_timestamp: None,
            logger: None,
            transaction: None,
            server_name: None,
            release: None,
            dist: None,
            environment: None,
            user: None,
            request: None,
            contexts: Contexts::default(),
            breadcrumbs: Values::new(),
            exception: Values::new(),
            threads: Values::new(),
            tags: BTreeMap::new(),
            extra: serde_json::Map::new(),
            fingerprint: Vec::new(),
            modules: BTreeMap::new(),
            sdk: None,
            debug_meta: None,
        }
    }
}

impl Event {
    /// A new event: random id, now, platform `native`, level `error`.
    pub fn new() -> Event {
        Event::default()
    }

    /// Symbolises every recorded but unresolved stack trace (on exceptions and threads) into
    /// `stacktrace`, marking frames in-app with `rules`. Run this on the delivery worker, not
    /// on the caller's thread. Stack traces already present are kept.
    pub fn resolve_stacktraces(&mut self, rules: &InAppRules) {
        for exc in &mut self.exception.values {
            RawStacktrace::resolve_into(&mut exc.raw_stacktrace, &mut exc.stacktrace, rules);
        }
        for thread in &mut self.threads.values {
            RawStacktrace::resolve_into(&mut thread.raw_stacktrace, &mut thread.stacktrace, rules);
        }
    }
}
