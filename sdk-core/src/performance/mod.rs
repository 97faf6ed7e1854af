//! Performance monitoring: transactions and spans, sampling, and trace propagation.
//!
//! A [`Transaction`] is the root of a tree of [`Span`]s in this service; it is sampled once
//! when it starts ([`SamplingOptions`]) and, when sampled, handed to a [`TransactionSink`]
//! (the client) when it finishes. Unsampled transactions record nothing. Traces cross
//! services through the `sentry-trace`, `baggage` and `traceparent` headers
//! ([`PropagationContext`]); the [`DynamicSamplingContext`] travels in `baggage` and in the
//! envelope header `trace`.
//!
//! ```
//! use std::sync::Arc;
//! use sdk_core::performance::{RecordingSink, Transaction, TransactionContext};
//!
//! let sink = Arc::new(RecordingSink::with_sample_rate(1.0));
//! let ctx = TransactionContext::continue_from_headers(
//!     "GET /api/items",
//!     "http.server",
//!     [("sentry-trace", "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1")],
//! );
//! let tx = Transaction::start(ctx, sink.clone());
//! let query = tx.start_child("db.query", "SELECT * FROM items");
//! query.finish();
//! let outgoing: Vec<_> = tx.iter_headers().collect();
//! assert_eq!(outgoing[0].0, "sentry-trace");
//! tx.finish();
//! assert_eq!(sink.transactions()[0].trace_id.to_string(), "771a43a4192642f0b136d5159a501700");
//! ```

pub mod baggage;
pub mod binding;
pub(crate) mod clock;
pub mod data;
pub mod dsc;
pub mod propagation;
pub mod protocol;
pub mod sampling;
pub mod sink;
pub mod span;
pub mod transaction;

#[cfg(test)]
mod tests;

pub use crate::protocol::{SpanStatus, TraceContext};
pub use baggage::{merge_baggage, Baggage};
pub use binding::{
    enter_span, enter_span_keyed, entered_span, exit_span, exit_span_keyed,
    iter_trace_propagation_headers, scope_span, start_transaction, BeforeSendTransaction,
};
pub use data::SpanData;
pub use dsc::DynamicSamplingContext;
pub use propagation::{InvalidTraceHeader, PropagationContext, SentryTrace, TraceParent};
pub use protocol::FinishedTransaction;
pub use sampling::{
    DecisionSource, SamplingContext, SamplingDecision, SamplingOptions, TracesSampler,
};
pub use sink::{RecordingSink, TracingConfig, TransactionSink, DEFAULT_MAX_SPANS};
pub use span::{CodeLocation, Measurement, Span, SpanRecord, TransactionOrSpan};
pub use transaction::{Transaction, TransactionContext, TransactionSource};

#[cfg(test)]
mod fixperf_tests;
