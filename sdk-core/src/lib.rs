//! The SDK's core: what applications and libraries call.
//!
//! ```
//! use sdk_core::{ClientOptions, Level};
//!
//! // SENTRY_DSN (or `.dsn(...)`) says where events go; without one, everything is a no-op.
//! let _guard = sdk_core::init(ClientOptions::new().release(sdk_core::release_name!()));
//! sdk_core::configure_scope(|scope| scope.set_tag("tenant", "acme"));
//! sdk_core::capture_message("hello", Level::Info);
//! ```
#![forbid(unsafe_code)]

pub mod api;
pub mod breadcrumbs;
pub mod client;
pub mod contexts;
pub mod debug_images;
pub mod error_chain;
pub mod event_payload;
pub mod hub;
pub mod ids;
pub mod integrations;
pub mod options;
pub mod performance;
pub mod protocol;
pub mod scope;
pub mod stacktrace;
#[cfg(any(test, feature = "test"))]
pub mod testing;

pub use api::{
    add_breadcrumb, capture_error, capture_event, capture_message, configure_scope, flush, init,
    last_event_id, push_scope, with_scope, ClientInitGuard, SentryFuture, SentryFutureExt,
};
pub use client::Client;
pub use hub::{configure_global_scope, Hub, IntoBreadcrumbs, ScopeGuard};
pub use ids::{SpanId, TraceId};
pub use integrations::Integration;
pub use options::{BeforeBreadcrumb, BeforeSend, ClientOptions, TransportFactory};
pub use performance::{
    iter_trace_propagation_headers, start_transaction, PropagationContext, Span, SpanStatus,
    Transaction, TransactionContext, TransactionOrSpan,
};
pub use protocol::{Breadcrumb, Event, Level, User};
pub use scope::{EventProcessor, Scope};
pub use sdk_transport as transport;
pub use stacktrace::{InAppRules, RawStacktrace};
pub use uuid::Uuid;
