//! HTTP delivery: the [`HttpClient`] seam, the [`HttpTransport`] that runs the delivery worker
//! on top of any client, and the clients for `ureq` (blocking) and `reqwest` (async on tokio).
//!
//! All delivery logic (queue, rate limits, retries, client reports, spool, gzip) lives once in
//! the delivery worker behind [`HttpTransport`]; a client only moves bytes: it sends one request and reports
//! the status and the two headers that matter.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::category::{DataCategory, DiscardReason};
use crate::client_report::DiscardedCount;
use crate::dsn::Dsn;
use crate::envelope::Envelope;
use crate::options::TransportOptions;
use crate::spool::SpoolError;
use crate::transport::Transport;
use crate::worker::Worker;

pub mod plain;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "ureq")]
pub mod ureq;

/// One request of the delivery worker: a `POST` of an envelope body.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The envelope endpoint URL.
    pub url: &'a str,
    /// Request headers (auth, content type, encoding, user agent).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body, possibly gzipped (then a `Content-Encoding` header is among `headers`).
    pub body: &'a [u8],
}

/// What the worker needs from a response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `X-Sentry-Rate-Limits` header, if present.
    pub rate_limits: Option<String>,
    /// The `Retry-After` header, if present.
    pub retry_after: Option<String>,
    /// For a refused request, why: the `X-Sentry-Error` header, else the start of the body
    /// (shown in debug mode).
    pub detail: Option<String>,
}

/// At most 512 bytes of a server's error text, on one line, for debug messages.
pub fn error_detail(header: Option<&str>, body: &[u8]) -> Option<String> {
    let text = match header {
        Some(header) if !header.trim().is_empty() => header.to_owned(),
        _ => String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
    };
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl HttpResponse {
    /// A response with `status` and no headers.
    pub fn status(status: u16) -> Self {
        HttpResponse {
            status,
            ..HttpResponse::default()
        }
    }
}

/// A request that got no HTTP response. Every kind is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// No connection could be made (refused, unreachable, DNS).
    Connect(String),
    /// The connect or request timeout passed.
    Timeout(String),
    /// The connection failed while sending or receiving.
    Io(String),
    /// Anything else the HTTP client reported.
    Other(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Connect(m) => write!(f, "cannot connect to the ingest endpoint: {m}"),
            HttpError::Timeout(m) => write!(f, "request timed out: {m}"),
            HttpError::Io(m) => write!(f, "connection failed during the request: {m}"),
            HttpError::Other(m) => write!(f, "request failed: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// An HTTP client the delivery worker sends through. Implementations block the calling worker
/// thread until the response (or an error) arrives and must honour the timeouts they were built
/// with; they keep connections alive between calls.
///
/// Any HTTP stack plugs in this way and gets all of the worker's logic (queue, rate limits,
/// retries, client reports, spool):
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use sdk_transport::{
///     Dsn, Envelope, EnvelopeItem, HttpClient, HttpError, HttpRequest, HttpResponse,
///     HttpTransport, ItemType, Payload, Transport, TransportOptions,
/// };
///
/// /// Answers 200 and counts the bodies it was given.
/// #[derive(Default)]
/// struct Counting(Mutex<usize>);
///
/// impl HttpClient for Counting {
///     fn send(&self, request: HttpRequest<'_>) -> Result<HttpResponse, HttpError> {
///         assert!(request.url.ends_with("/api/42/envelope/"));
///         *self.0.lock().unwrap() += 1;
///         Ok(HttpResponse::status(200))
///     }
/// }
///
/// let dsn: Dsn = "https://public@o1.ingest.sentry.io/42".parse().unwrap();
/// let client = Arc::new(Counting::default());
/// let transport = HttpTransport::new(&dsn, TransportOptions::default(), client.clone()).unwrap();
/// let mut envelope = Envelope::new();
/// envelope.add_item(EnvelopeItem::new(ItemType::Event, Payload::bytes(r#"{"message":"hi"}"#)));
/// transport.send_envelope(envelope);
/// assert!(transport.flush(Duration::from_secs(5)));
/// assert_eq!(*client.0.lock().unwrap(), 1);
/// assert!(transport.shutdown(Duration::from_secs(5)));
/// ```
pub trait HttpClient: Send + Sync + 'static {
    /// Sends one request.
    fn send(&self, request: HttpRequest<'_>) -> Result<HttpResponse, HttpError>;
}

/// Why a transport could not be created.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// The spool directory cannot be used.
    Spool(SpoolError),
    /// No HTTP client feature (`ureq` or `reqwest`) is enabled.
    NoHttpClient,
    /// The HTTP client could not be built.
    Client(String),
    /// A worker thread could not be started.
    Thread(std::io::Error),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Spool(err) => write!(f, "{err}"),
            TransportError::NoHttpClient => write!(
                f,
                "no HTTP transport is compiled in: enable the `ureq` or the `reqwest` feature"
            ),
            TransportError::Client(m) => write!(f, "cannot build the HTTP client: {m}"),
            TransportError::Thread(err) => {
                write!(f, "cannot start the transport thread: {err}")
            }
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransportError::Spool(err) => Some(err),
            TransportError::Thread(err) => Some(err),
            _ => None,
        }
    }
}

impl From<SpoolError> for TransportError {
    fn from(err: SpoolError) -> Self {
        TransportError::Spool(err)
    }
}

/// A snapshot of a transport's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Envelopes waiting in the queue.
    pub queued: usize,
    /// Requests in flight (or spool writes under way).
    pub in_flight: usize,
    /// Envelopes waiting for a retry.
    pub retrying: usize,
    /// Envelopes in the offline spool.
    pub spooled: usize,
    /// Envelopes the server accepted (2xx).
    pub delivered: u64,
    /// Requests sent (retries included).
    pub requests: u64,
}

/// The HTTP transport: a bounded queue in front of the delivery worker's threads
/// ("sentry-transport"), which send through an [`HttpClient`].
///
/// `send_envelope` never blocks: it pushes into the queue or, when the queue is full, drops the
/// envelope and counts its items as `queue_overflow`. `flush` and `shutdown` wait at most their
/// timeout, whatever the server does.
///
/// ```no_run
/// use std::time::Duration;
/// use sdk_transport::{default_transport, Dsn, Transport, TransportOptions};
///
/// let dsn: Dsn = "https://public@o1.ingest.sentry.io/42".parse().unwrap();
/// let transport = default_transport(&dsn, TransportOptions::default()).unwrap();
/// // transport.send_envelope(envelope);
/// assert!(transport.flush(Duration::from_secs(2)));
/// transport.shutdown(Duration::from_secs(2));
/// ```
pub struct HttpTransport {
    worker: Worker,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("stats", &self.stats())
            .finish()
    }
}

impl HttpTransport {
    /// A transport that sends to `dsn`'s envelope endpoint through `client`. Opens the spool
    /// (if configured; its files are re-sent first) and starts the worker threads.
    pub fn new(
        dsn: &Dsn,
        options: TransportOptions,
        client: Arc<dyn HttpClient>,
    ) -> Result<HttpTransport, TransportError> {
        let auth = dsn.auth_header(&format!("{}/{}", crate::SDK_NAME, crate::SDK_VERSION));
        let worker = Worker::start(dsn.envelope_url().to_owned(), auth, options, client)?;
        Ok(HttpTransport { worker })
    }

    /// The transport's counters now.
    pub fn stats(&self) -> TransportStats {
        self.worker.stats()
    }

    /// Everything dropped since the transport started, by reason and category (whether or not
    /// it has been reported yet).
    pub fn discarded(&self) -> Vec<DiscardedCount> {
        self.worker.shared.reports.totals()
    }

    /// Items dropped since the transport started for one reason and category.
    pub fn discarded_count(&self, reason: DiscardReason, category: DataCategory) -> u64 {
        self.worker.shared.reports.total(reason, category)
    }
}

impl Transport for HttpTransport {
    fn send_envelope(&self, envelope: Envelope) {
        self.worker.enqueue(envelope);
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.worker.flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        self.worker.shutdown(timeout)
    }

    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        self.worker
            .shared
            .reports
            .record(reason, category, quantity);
    }
}

/// The HTTP client the enabled features provide: ureq when the `ureq` feature is on, else
/// reqwest.
pub fn default_http_client(
    options: &TransportOptions,
) -> Result<Arc<dyn HttpClient>, TransportError> {
    #[cfg(feature = "ureq")]
    {
        Ok(Arc::new(ureq::UreqClient::new(options)))
    }
    #[cfg(all(not(feature = "ureq"), feature = "reqwest"))]
    {
        Ok(Arc::new(reqwest::ReqwestClient::new(options)?))
    }
    #[cfg(not(any(feature = "ureq", feature = "reqwest")))]
    {
        let _ = options;
        Err(TransportError::NoHttpClient)
    }
}

/// The HTTP transport for `dsn`. This is what `init()` uses.
///
/// The client: for an `http://` DSN (a Relay next to the application, the mock server) the
/// built-in [`plain::PlainHttpClient`] (one write per request, keep-alive; unless `HTTP_PROXY`
/// or `ALL_PROXY` is set); otherwise ureq when the `ureq` feature is on, else reqwest.
pub fn default_transport(
    dsn: &Dsn,
    options: TransportOptions,
) -> Result<Arc<dyn Transport>, TransportError> {
    let client: Arc<dyn HttpClient> =
        if dsn.scheme() == crate::dsn::Scheme::Http && !plain::proxy_configured() {
            Arc::new(plain::PlainHttpClient::new(&options))
        } else {
            default_http_client(&options)?
        };
    Ok(Arc::new(HttpTransport::new(dsn, options, client)?))
}
