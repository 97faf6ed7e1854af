//! The SDK's core: what applications and libraries call.
#![forbid(unsafe_code)]

pub mod ids;
pub mod performance;

pub use ids::{SpanId, TraceId};
pub use performance::{
    PropagationContext, Span, SpanStatus, Transaction, TransactionContext, TransactionOrSpan,
};
pub use sdk_transport as transport;
