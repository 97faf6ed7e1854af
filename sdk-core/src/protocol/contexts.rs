//! Contexts: structured data about the environment of an event (PROTOCOL.md §4.5, §5.2).
//!
//! Each context is written as an object with a `type` key (`os`, `runtime`, `device`, `app`,
//! `trace`, or anything for [`Context::Other`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{SpanId, TraceId};

type Map = serde_json::Map<String, serde_json::Value>;

/// The operating system (key `os`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OsContext {
    /// e.g. `Linux`, `macOS`, `Windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// e.g. the kernel release on Linux (`6.1.0-18-amd64`) or `14.2.1` on macOS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Build number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The kernel's version string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<String>,
    /// Whether the device is rooted/jailbroken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooted: Option<bool>,
    /// Unparsed description of the OS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_description: Option<String>,
    /// Linux distribution (`name`, `version`, `pretty_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<OsDistribution>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map,
}

/// A Linux distribution, from `/etc/os-release`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OsDistribution {
    /// `ID`, e.g. `debian`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `VERSION_ID`, e.g. `12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `PRETTY_NAME`, e.g. `Debian GNU/Linux 12 (bookworm)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
}

/// A language runtime; for Rust the compiler (key `rust`, type `runtime`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RuntimeContext {
    /// e.g. `rustc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// e.g. `1.85.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Release channel: `stable`, `beta`, `nightly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Unparsed description, e.g. `rustc 1.85.0 (4d91de4e4 2025-02-17)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_description: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map,
}

/// The machine (key `device`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeviceContext {
    /// Device name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Family, e.g. `Desktop`, `Server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// CPU architecture, e.g. `x86_64`, `aarch64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Total memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_size: Option<u64>,
    /// Free memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_memory: Option<u64>,
    /// Number of logical CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor_count: Option<u64>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map,
}

/// The application (key `app`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AppContext {
    /// When the app started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_start_time: Option<String>,
    /// Bundle or package identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_identifier: Option<String>,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Build identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_build: Option<String>,
    /// Build type, e.g. `debug`, `release`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_type: Option<String>,
    /// Memory used by the app in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_memory: Option<u64>,
    /// Other fields.
    #[serde(flatten)]
    pub other: Map,
}

/// The status of a span or transaction (gRPC-style names on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanStatus {
    /// Success (2xx).
    Ok,
    /// Cancelled by the caller (499).
    Cancelled,
    /// Unknown error (500).
    Unknown,
    /// Unknown error; the older spelling of `unknown`.
    UnknownError,
    /// Bad input (400).
    InvalidArgument,
    /// Timed out (504).
    DeadlineExceeded,
    /// Not found (404).
    NotFound,
    /// Already exists (409).
    AlreadyExists,
    /// Not allowed (403).
    PermissionDenied,
    /// Out of quota or rate-limited (429).
    ResourceExhausted,
    /// The system was not in the required state (400).
    FailedPrecondition,
    /// Aborted, e.g. a conflict (409).
    Aborted,
    /// Out of range (400).
    OutOfRange,
    /// Not implemented (501).
    Unimplemented,
    /// Internal error (500).
    InternalError,
    /// Unavailable (503).
    Unavailable,
    /// Data lost (500).
    DataLoss,
    /// Not authenticated (401).
    Unauthenticated,
}

impl SpanStatus {
    /// The wire name, e.g. `deadline_exceeded`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SpanStatus::Ok => "ok",
            SpanStatus::Cancelled => "cancelled",
            SpanStatus::Unknown => "unknown",
            SpanStatus::UnknownError => "unknown_error",
            SpanStatus::InvalidArgument => "invalid_argument",
            SpanStatus::DeadlineExceeded => "deadline_exceeded",
            SpanStatus::NotFound => "not_found",
            SpanStatus::AlreadyExists => "already_exists",
            SpanStatus::PermissionDenied => "permission_denied",
            SpanStatus::ResourceExhausted => "resource_exhausted",
            SpanStatus::FailedPrecondition => "failed_precondition",
            SpanStatus::Aborted => "aborted",
            SpanStatus::OutOfRange => "out_of_range",
            SpanStatus::Unimplemented => "unimplemented",
            SpanStatus::InternalError => "internal_error",
            SpanStatus::Unavailable => "unavailable",
            SpanStatus::DataLoss => "data_loss",
            SpanStatus::Unauthenticated => "unauthenticated",
        }
    }

    /// The status matching an HTTP response code.
    pub fn from_http_status(code: u16) -> SpanStatus {
        match code {
            200..=299 => SpanStatus::Ok,
            401 => SpanStatus::Unauthenticated,
            403 => SpanStatus::PermissionDenied,
            404 => SpanStatus::NotFound,
            409 => SpanStatus::AlreadyExists,
            429 => SpanStatus::ResourceExhausted,
            499 => SpanStatus::Cancelled,
            501 => SpanStatus::Unimplemented,
            503 => SpanStatus::Unavailable,
            504 => SpanStatus::DeadlineExceeded,
            400..=498 => SpanStatus::InvalidArgument,
            500..=599 => SpanStatus::InternalError,
            _ => SpanStatus::Unknown,
        }
    }
}

impl fmt::Display for SpanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a string that names no [`SpanStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseSpanStatusError(String);

impl fmt::Display for ParseSpanStatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a span status: use a name like ok, not_found or internal_error",
            self.0
        )
    }
}

impl std::error::Error for ParseSpanStatusError {}

impl FromStr for SpanStatus {
    type Err = ParseSpanStatusError;

    fn from_str(s: &str) -> Result<SpanStatus, ParseSpanStatusError> {
        serde_json::from_value(serde_json::Value::String(s.trim().to_owned()))
            .map_err(|_| ParseSpanStatusError(s.chars().take(64).collect()))
    }
}

/// The trace an event belongs to (key `trace`); required on transactions, sent on every event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceContext {
    /// The trace id.
    pub trace_id: TraceId,
    /// The active span's id.
    pub span_id: SpanId,
    /// The parent span's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    /// The operation, e.g. `http.server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// The span's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SpanStatus>,
    /// What created the span: `manual` or `auto.<category>.<integration>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Span data.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map,
}

/// One context value.
#[derive(Debug, Clone, PartialEq)]
pub enum Context {
    /// `type: os`.
    Os(Box<OsContext>),
    /// `type: runtime` (the Rust compiler under key `rust`).
    Runtime(Box<RuntimeContext>),
    /// `type: device`.
    Device(Box<DeviceContext>),
    /// `type: app`.
    App(Box<AppContext>),
    /// `type: trace`.
    Trace(Box<TraceContext>),
    /// Any other context: written as the map it is (give it a `type` key if it has a known type).
    Other(Map),
}

impl Context {
    /// The context's type name (`os`, `runtime`, ..., or the `type` key of an `Other` map,
    /// `default` when it has none).
    pub fn type_name(&self) -> &str {
        match self {
            Context::Os(_) => "os",
            Context::Runtime(_) => "runtime",
            Context::Device(_) => "device",
            Context::App(_) => "app",
            Context::Trace(_) => "trace",
            Context::Other(map) => map
                .get("type")
                .and_then(|v| v.as_str())
                .unwrap_or("default"),
        }
    }
}

impl From<OsContext> for Context {
    fn from(c: OsContext) -> Context {
        Context::Os(Box::new(c))
    }
}
impl From<RuntimeContext> for Context {
    fn from(c: RuntimeContext) -> Context {
        Context::Runtime(Box::new(c))
    }
}
impl From<DeviceContext> for Context {
    fn from(c: DeviceContext) -> Context {
        Context::Device(Box::new(c))
    }
}
impl From<AppContext> for Context {
    fn from(c: AppContext) -> Context {
        Context::App(Box::new(c))
    }
}
impl From<TraceContext> for Context {
    fn from(c: TraceContext) -> Context {
        Context::Trace(Box::new(c))
    }
}
impl From<Map> for Context {
    fn from(c: Map) -> Context {
        Context::Other(c)
    }
}

/// Borrowed view used to write a typed context with its `type` key.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum TypedRef<'a> {
    Os(&'a OsContext),
    Runtime(&'a RuntimeContext),
    Device(&'a DeviceContext),
    App(&'a AppContext),
    Trace(&'a TraceContext),
}

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Context::Os(c) => TypedRef::Os(c).serialize(s),
            Context::Runtime(c) => TypedRef::Runtime(c).serialize(s),
            Context::Device(c) => TypedRef::Device(c).serialize(s),
            Context::App(c) => TypedRef::App(c).serialize(s),
            Context::Trace(c) => TypedRef::Trace(c).serialize(s),
            Context::Other(map) => map.serialize(s),
        }
    }
}

impl Context {
    /// Reads a context from its JSON map; `default_type` is used when the map has no `type`
    /// (the protocol allows omitting it when the key equals the type).
    fn from_map(mut map: Map, default_type: Option<&str>) -> Result<Context, serde_json::Error> {
        let ty = match map.get("type").and_then(|v| v.as_str()) {
            Some(t) => t.to_owned(),
            None => default_type.unwrap_or("default").to_owned(),
        };
        let known = matches!(ty.as_str(), "os" | "runtime" | "device" | "app" | "trace");
        if !known {
            return Ok(Context::Other(map));
        }
        map.remove("type");
        let value = serde_json::Value::Object(map);
        Ok(match ty.as_str() {
            "os" => Context::Os(Box::new(serde_json::from_value(value)?)),
            "runtime" => Context::Runtime(Box::new(serde_json::from_value(value)?)),
            "device" => Context::Device(Box::new(serde_json::from_value(value)?)),
            "app" => Context::App(Box::new(serde_json::from_value(value)?)),
            _ => Context::Trace(Box::new(serde_json::from_value(value)?)),
        })
    }
}

impl<'de> Deserialize<'de> for Context {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Context, D::Error> {
        let map = Map::deserialize(d)?;
        Context::from_map(map, None).map_err(serde::de::Error::custom)
    }
}

/// The contexts of an event, by key (`os`, `rust`, `device`, `trace`, or any name).
///
/// ```
/// use sdk_core::protocol::{Contexts, OsContext};
/// let mut contexts = Contexts::default();
/// contexts.insert("os", OsContext { name: Some("Linux".into()), ..Default::default() });
/// let json = serde_json::to_value(&contexts).unwrap();
/// assert_eq!(json["os"]["type"], "os");
/// assert_eq!(json["os"]["name"], "Linux");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct Contexts(pub BTreeMap<String, Context>);

impl Contexts {
    /// Sets the context under `key`, replacing any previous one.
    pub fn insert(&mut self, key: impl Into<String>, context: impl Into<Context>) {
        self.0.insert(key.into(), context.into());
    }

    /// The context under `key`.
    pub fn get(&self, key: &str) -> Option<&Context> {
        self.0.get(key)
    }

    /// Removes the context under `key`.
    pub fn remove(&mut self, key: &str) -> Option<Context> {
        self.0.remove(key)
    }

    /// Whether there are no contexts.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of contexts.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The contexts in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Context)> {
        self.0.iter()
    }

    /// The trace context under key `trace`, if it is one.
    pub fn trace(&self) -> Option<&TraceContext> {
        match self.0.get("trace") {
            Some(Context::Trace(t)) => Some(t),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Contexts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Contexts, D::Error> {
        let raw = BTreeMap::<String, Map>::deserialize(d)?;
        let mut out = BTreeMap::new();
        for (key, map) in raw {
            let ctx = Context::from_map(map, Some(&key)).map_err(serde::de::Error::custom)?;
            out.insert(key, ctx);
        }
        Ok(Contexts(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_contexts_carry_their_type_and_read_back() {
        let mut contexts = Contexts::default();
        contexts.insert(
            "rust",
            RuntimeContext {
                name: Some("rustc".into()),
                version: Some("1.95.0".into()),
                channel: Some("stable".into()),
                ..Default::default()
            },
        );
        let trace = TraceContext {
            trace_id: "30bb4cb52cf64fe89de19113c831adc9".parse().unwrap(),
            span_id: "ab85381b3fbdeac5".parse().unwrap(),
            status: Some(SpanStatus::DeadlineExceeded),
            ..Default::default()
        };
        contexts.insert("trace", trace.clone());
        let json = serde_json::to_value(&contexts).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "rust": {"type": "runtime", "name": "rustc", "version": "1.95.0", "channel": "stable"},
                "trace": {"type": "trace", "trace_id": "30bb4cb52cf64fe89de19113c831adc9",
                          "span_id": "ab85381b3fbdeac5", "status": "deadline_exceeded"}
            })
        );
        let back: Contexts = serde_json::from_value(json).unwrap();
        assert_eq!(back, contexts);
        assert_eq!(back.trace(), Some(&trace));
    }

    #[test]
    fn type_defaults_to_key_and_unknown_types_stay_maps() {
        let back: Contexts = serde_json::from_value(serde_json::json!({
            "os": {"name": "Linux"},
            "gpu": {"type": "gpu", "name": "x"},
            "custom": {"answer": 42}
        }))
        .unwrap();
        match back.get("os") {
            Some(Context::Os(os)) => assert_eq!(os.name.as_deref(), Some("Linux")),
            other => panic!("os context read as {other:?}"),
        }
        assert_eq!(back.get("gpu").map(Context::type_name), Some("gpu"));
        let custom = serde_json::to_value(back.get("custom").unwrap()).unwrap();
        assert_eq!(custom, serde_json::json!({"answer": 42}));
    }

    #[test]
    fn span_status_names() {
        assert_eq!(
            "not_found".parse::<SpanStatus>().unwrap(),
            SpanStatus::NotFound
        );
        assert!("nope".parse::<SpanStatus>().is_err());
        assert_eq!(SpanStatus::from_http_status(503), SpanStatus::Unavailable);
        assert_eq!(
            SpanStatus::from_http_status(418),
            SpanStatus::InvalidArgument
        );
        assert_eq!(
            SpanStatus::ResourceExhausted.to_string(),
            "resource_exhausted"
        );
    }
}
