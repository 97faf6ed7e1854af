//! The SDK's core: what applications and libraries call.
#![forbid(unsafe_code)]

pub mod error_chain;
pub mod ids;
pub mod protocol;
pub mod stacktrace;

pub use ids::{SpanId, TraceId};
pub use protocol::{Breadcrumb, Event, Level, User};
pub use sdk_transport as transport;
pub use stacktrace::{InAppRules, RawStacktrace};
