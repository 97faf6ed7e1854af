//! The protocol types: what an event looks like on the wire (PROTOCOL.md §4, §5.2).
//!
//! Every type serialises to the JSON Sentry and Relay accept, leaves absent fields out (never
//! `null`), and reads its JSON back (tests and the mock server use that).

mod breadcrumb;
mod contexts;
mod crumb_str;
mod debug_meta;
mod event;
mod exception;
mod frames;
mod level;
pub mod limits;
mod request;
mod sdk;
pub(crate) mod serde_helpers;
mod user;

pub use breadcrumb::{Breadcrumb, BreadcrumbData, DataIntoIter, BREADCRUMB_DATA_INLINE};
pub use contexts::{
    AppContext, Context, Contexts, DeviceContext, OsContext, OsDistribution, ParseSpanStatusError,
    RuntimeContext, SpanStatus, TraceContext,
};
pub use crumb_str::{CrumbStr, DataValue, CRUMB_STR_INLINE};
pub use debug_meta::{DebugImage, DebugMeta};
pub use event::{Event, LogEntry, Values};
pub use exception::{Exception, Mechanism};
pub use frames::{Addr, Frame, ParseAddrError, Stacktrace, Thread, ThreadId};
pub use level::{Level, ParseLevelError};
pub use request::Request;
pub use sdk::{SdkInfo, SdkPackage};
pub use user::{IpAddress, ParseIpAddressError, User};

pub use crate::ids::{SpanId, TraceId};
pub use uuid::Uuid;

/// Formats a timestamp as seconds since the epoch, as events carry it.
pub fn timestamp_to_epoch(time: std::time::SystemTime) -> f64 {
    serde_helpers::to_epoch_f64(time)
}

/// Reads an RFC 3339 timestamp (as transactions and sessions may carry), `None` if malformed.
pub fn parse_rfc3339(s: &str) -> Option<std::time::SystemTime> {
    serde_helpers::parse_rfc3339(s)
}

#[cfg(test)]
mod tests;
