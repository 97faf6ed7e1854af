//! The SDK's core: what applications and libraries call.
#![forbid(unsafe_code)]

pub mod contexts;
pub mod error_chain;
pub mod ids;
pub mod performance;
pub mod protocol;
pub mod stacktrace;

pub use ids::{SpanId, TraceId};
pub use performance::{
    PropagationContext, Span, Transaction, TransactionContext, TransactionOrSpan,
};
pub use protocol::{Breadcrumb, Event, Level, User};
pub use sdk_transport as transport;
pub use stacktrace::{InAppRules, RawStacktrace};
