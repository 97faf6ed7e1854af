//! The SDK's core: what applications and libraries call.
#![forbid(unsafe_code)]

pub mod ids;

pub use ids::{SpanId, TraceId};
pub use sdk_transport as transport;
