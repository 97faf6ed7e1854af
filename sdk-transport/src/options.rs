//! Options of the HTTP transports and their delivery worker.

use std::path::PathBuf;
use std::time::Duration;

/// How failed requests are retried: capped exponential backoff with jitter.
///
/// Attempt `n` (1-based) that failed with a connection error, a timeout or a 5xx waits
/// `min(cap, base * 2^(n-1))`, reduced by up to `jitter` (a fraction from 0 to 1) at random,
/// before the next attempt. After `max_attempts` attempts the envelope goes to the spool (when
/// one is configured) or is dropped and counted.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per envelope, the first one included (`1` = no retries).
    pub max_attempts: u32,
    /// Wait after the first failure.
    pub base: Duration,
    /// Longest wait between attempts.
    pub cap: Duration,
    /// Fraction (0.0 to 1.0) of each wait that is randomised away, so that many clients do not
    /// retry in lockstep.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

/// The offline spool: where envelopes that could not be delivered wait on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct SpoolOptions {
    /// The directory (created when missing). One spool directory per DSN/process is expected.
    pub dir: PathBuf,
    /// Most envelopes kept; the oldest are dropped (and counted as `cache_overflow`) first.
    pub max_envelopes: usize,
    /// Most bytes kept, file headers included.
    pub max_bytes: u64,
}

impl SpoolOptions {
    /// A spool in `dir` with the default bounds (10,000 envelopes, 64 MiB: a burst during an
    /// outage fits; the oldest go first beyond that).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolOptions {
            dir: dir.into(),
            max_envelopes: 10_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Options of the HTTP transports (ureq and reqwest) and of their delivery worker.
///
/// ```
/// use std::time::Duration;
/// use sdk_transport::TransportOptions;
///
/// let options = TransportOptions::default()
///     .queue_limits(5_000, 16 * 1024 * 1024)
///     .request_timeout(Duration::from_secs(10))
///     .spool_dir("/var/tmp/my-app-sentry");
/// assert_eq!(options.max_queue_envelopes, 5_000);
/// assert!(options.spool.is_some());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TransportOptions {
    /// Most envelopes waiting in memory; a new envelope beyond it is dropped and counted
    /// (`queue_overflow`). Default 30,000 (a burst of 20,000 events fits).
    pub max_queue_envelopes: usize,
    /// Most estimated bytes ([`crate::Envelope::size_hint`]) waiting in memory. Default 64 MiB:
    /// size hints count what an event serialises to (~2.6 KB for a message with the default
    /// contexts), more than it occupies while queued, and a 20,000-event burst must fit.
    pub max_queue_bytes: usize,
    /// Bodies of at least this many bytes are gzipped. Default 8 KiB: smaller events cost more
    /// CPU to compress (8-17 µs per 2.4 KB) than they save on the wire.
    pub gzip_threshold: usize,
    /// gzip level 0-9. Default 1 (fastest; most of the gain of level 6 at a third of the cost).
    pub gzip_level: u32,
    /// Time allowed to establish a connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request (connect, send, response). Default 15 s.
    pub request_timeout: Duration,
    /// Retries of connection errors, timeouts and 5xx.
    pub retry: RetryPolicy,
    /// Requests in flight at once (sender threads of the worker, each with a keep-alive
    /// connection). Default 4: on loopback 2 to 4 are alike, over a WAN each in-flight request
    /// waits a round trip, so more requests in flight deliver more events per second.
    pub concurrency: usize,
    /// Send `client_report` items counting what was dropped. Default `true`.
    pub send_client_reports: bool,
    /// How often a pending client report rides along with an outgoing envelope (it is always
    /// sent on flush and shutdown). Default 30 s.
    pub client_report_interval: Duration,
    /// The offline spool; `None` (default) keeps nothing on disk.
    pub spool: Option<SpoolOptions>,
    /// The `User-Agent` header. Default `sentry.rust.sdk/VERSION`.
    pub user_agent: String,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            max_queue_envelopes: 30_000,
            max_queue_bytes: 64 * 1024 * 1024,
            gzip_threshold: 8 * 1024,
            gzip_level: 1,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            concurrency: 4,
            send_client_reports: true,
            client_report_interval: Duration::from_secs(30),
            spool: None,
            user_agent: format!("{}/{}", crate::SDK_NAME, crate::SDK_VERSION),
        }
    }
}

impl TransportOptions {
    /// Sets the queue bounds: most envelopes and most estimated bytes held in memory.
    pub fn queue_limits(mut self, max_envelopes: usize, max_bytes: usize) -> Self {
        self.max_queue_envelopes = max_envelopes;
        self.max_queue_bytes = max_bytes;
        self
    }

    /// Sets the gzip threshold (bytes) and level (0-9, clamped).
    pub fn gzip(mut self, threshold: usize, level: u32) -> Self {
        self.gzip_threshold = threshold;
        self.gzip_level = level.min(9);
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout of a whole request.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets how many requests may be in flight at once (at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Turns client reports on or off.
    pub fn send_client_reports(mut self, enabled: bool) -> Self {
        self.send_client_reports = enabled;
        self
    }

    /// Sets how often a pending client report rides along with an outgoing envelope.
    pub fn client_report_interval(mut self, interval: Duration) -> Self {
        self.client_report_interval = interval;
        self
    }

    /// Turns the offline spool on in `dir` with default bounds.
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool = Some(SpoolOptions::new(dir));
        self
    }

    /// Sets the offline spool (or turns it off with `None`).
    pub fn spool(mut self, spool: Option<SpoolOptions>) -> Self {
        self.spool = spool;
        self
    }

    /// Sets the `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }
}
