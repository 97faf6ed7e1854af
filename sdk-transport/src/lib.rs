//! The wire layer of the SDK.
//!
//! Everything the SDK captures leaves the process through this crate: the [`Dsn`] says where to,
//! an [`Envelope`] is what is sent, a [`Transport`] sends it. It knows nothing of events: items
//! carry a type name and a payload that serialises itself when the delivery worker writes it.
#![forbid(unsafe_code)]

pub mod category;
pub mod diag;
pub mod dsn;
pub mod envelope;
#[cfg(feature = "mock-server")]
pub mod mock_server;
pub mod parse;
pub mod time;
pub mod transport;

pub use category::{DataCategory, DiscardReason};
pub use dsn::{Dsn, DsnError, Scheme};
pub use envelope::{
    Envelope, EnvelopeHeaders, EnvelopeItem, ItemPayload, ItemType, Payload, PayloadError,
};
#[cfg(feature = "mock-server")]
pub use mock_server::MockServer;
pub use parse::{parse_envelope, ParseError};
pub use transport::Transport;

/// The SDK's name as sent in `sdk.name`, the auth header and the user agent.
pub const SDK_NAME: &str = "sentry.rust.sdk";
/// The SDK's version.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
