//! The wire layer of the SDK.
//!
//! Everything the SDK captures leaves the process through this crate: the [`Dsn`] says where to,
//! an [`Envelope`] is what is sent, a [`Transport`] sends it. It knows nothing of events: items
//! carry a type name and a payload that serialises itself when the delivery worker writes it.
//!
//! Delivery: [`default_transport`] gives an [`HttpTransport`], a bounded queue in front of one
//! delivery worker that handles rate limits ([`rate_limit`]), retries ([`RetryPolicy`]),
//! client reports ([`client_report`]), gzip and the offline spool ([`spool`]) for every HTTP
//! client ([`HttpClient`]: the built-in one for `http://`, ureq, reqwest). [`TransportOptions`]
//! configures it all.
#![forbid(unsafe_code)]

pub mod category;
pub mod client_report;
pub mod diag;
pub mod dsn;
pub mod envelope;
pub mod gzip;
pub mod http;
#[cfg(feature = "mock-server")]
pub mod mock_server;
pub mod options;
pub mod parse;
pub mod queue;
pub mod rate_limit;
pub mod retry;
pub mod spool;
pub mod time;
pub mod transport;
mod worker;

pub use category::{DataCategory, DiscardReason};
pub use client_report::{ClientReports, DiscardedCount};
pub use dsn::{Dsn, DsnError, Scheme};
pub use envelope::{
    Envelope, EnvelopeHeaders, EnvelopeItem, ItemPayload, ItemType, Payload, PayloadError,
};
pub use http::{
    default_http_client, default_transport, HttpClient, HttpError, HttpRequest, HttpResponse,
    HttpTransport, TransportError, TransportStats,
};
#[cfg(feature = "mock-server")]
pub use mock_server::MockServer;
pub use options::{RetryPolicy, SpoolOptions, TransportOptions};
pub use parse::{parse_envelope, ParseError};
pub use rate_limit::RateLimits;
pub use spool::{Spool, SpoolError};
pub use transport::Transport;

/// The SDK's name as sent in `sdk.name`, the auth header and the user agent.
pub const SDK_NAME: &str = "sentry.rust.sdk";
/// The SDK's version.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
