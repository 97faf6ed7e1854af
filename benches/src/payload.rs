//! The fixed payloads and client settings of WORKLOAD.md, shared by both SDKs' harnesses.

use std::fmt;

/// The loopback DSN of the capturing workloads (never contacted).
pub const DSN: &str = "http://public@127.0.0.1:9/1";
/// The release every client is set up with.
pub const RELEASE: &str = "peer-bench@0.1.0";
/// The environment every client is set up with.
pub const ENVIRONMENT: &str = "production";
/// The message of `capture_message` (62 ASCII bytes, level info).
pub const MESSAGE: &str = "peer-bench message: the quick brown fox jumps over the lazy dog";
/// Breadcrumb category.
pub const CRUMB_CATEGORY: &str = "peer.bench";
/// Breadcrumb message.
pub const CRUMB_MESSAGE: &str = "user clicked the checkout button";
/// Transaction name and op, child span op and description (workload 6).
pub const TX_NAME: &str = "GET /api/items";
/// Transaction op.
pub const TX_OP: &str = "http.server";
/// Child span op.
pub const SPAN_OP: &str = "db.query";
/// Child span description.
pub const SPAN_DESC: &str = "SELECT * FROM items WHERE id = ?";

/// Environment variables removed before anything runs, so that neither the event shape nor the
/// loopback traffic depends on the machine.
pub const SCRUBBED_ENV: &[&str] = &[
    "SENTRY_DSN",
    "SENTRY_RELEASE",
    "SENTRY_ENVIRONMENT",
    "SSL_VERIFY",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Level 1 of the error chain.
#[derive(Debug)]
pub struct RequestError {
    /// The route that failed.
    pub route: &'static str,
    /// Level 2.
    pub source: QueryError,
}

/// Level 2 of the error chain.
#[derive(Debug)]
pub struct QueryError {
    /// The table queried.
    pub table: &'static str,
    /// Level 3.
    pub source: ConnectionError,
}

/// Level 3 of the error chain (no source).
#[derive(Debug)]
pub struct ConnectionError {
    /// The OS error code.
    pub os_code: i32,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handling request {} failed", self.route)
    }
}
impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query on table `{}` failed", self.table)
    }
}
impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection reset by peer (os error {})", self.os_code)
    }
}
impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
impl std::error::Error for ConnectionError {}

/// Builds the 3-level error chain (no allocation).
#[inline]
pub fn error_chain() -> RequestError {
    RequestError {
        route: "GET /api/items",
        source: QueryError {
            table: "items",
            source: ConnectionError { os_code: 104 },
        },
    }
}
