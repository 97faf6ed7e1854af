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
//!
//! # Scopes: which data goes with which event
//!
//! - **Global scope** ([`configure_global_scope`]): data for every event of the process.
//! - **Isolation scope** (a [`Hub`]): one per thread by default; a new thread starts from a fork
//!   of the process hub's scope. Give each request or task its own, so that what one request
//!   sets never shows up on another's events.
//! - **Current scope** ([`with_scope`], [`push_scope`]): a fork for one block of code.
//!
//! One isolation scope per request on a thread pool:
//!
//! ```
//! use std::sync::Arc;
//! use sdk_core::Hub;
//!
//! fn handle(request_id: u64) {
//!     let hub = Arc::new(Hub::new_from_top(&Hub::current()));
//!     Hub::run(hub, || {
//!         sdk_core::configure_scope(|scope| scope.set_tag("request_id", request_id));
//!         // ... everything captured here carries request_id ...
//!     });
//! }
//! handle(7);
//! ```
//!
//! One isolation scope per async task, following it across `.await` and executor threads
//! (`tokio::spawn(fut.in_current_scope())` in a tokio application):
//!
//! ```
//! use sdk_core::SentryFutureExt;
//!
//! async fn handle(request_id: u64) {
//!     sdk_core::configure_scope(|scope| scope.set_tag("request_id", request_id));
//! }
//! let task = handle(7).in_current_scope(); // hand this to your executor
//! # drop(task);
//! ```
//!
//! `init()` may come after threads and runtimes were started: hubs do not keep a copy of the
//! client, they look the process's client up when they capture.
#![forbid(unsafe_code)]

pub mod api;
pub mod breadcrumbs;
mod callback;
pub mod client;
pub mod contexts;
pub mod debug_images;
pub mod error_chain;
pub mod event_payload;
mod event_size;
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
    last_event_id, push_scope, timestamp_now, with_scope, ClientInitGuard, SentryFuture,
    SentryFutureExt,
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
pub use scope::{EventProcessor, IntoTagValue, Scope};
pub use sdk_transport as transport;
pub use stacktrace::{InAppRules, RawStacktrace};
pub use uuid::Uuid;
