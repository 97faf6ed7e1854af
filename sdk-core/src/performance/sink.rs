//! Where finished transactions go: the [`TransactionSink`] the client implements, its
//! [`TracingConfig`], and a [`RecordingSink`] for tests.

use std::sync::{Arc, Mutex};

use sdk_transport::{DataCategory, DiscardReason};

use super::protocol::FinishedTransaction;
use super::sampling::SamplingOptions;

/// The default most spans a transaction records; the rest are dropped and counted.
pub const DEFAULT_MAX_SPANS: usize = 1000;

/// The tracing settings a transaction reads when it starts and finishes.
#[derive(Debug, Clone)]
pub struct TracingConfig {
    /// `traces_sample_rate` and `traces_sampler`.
    pub sampling: SamplingOptions,
    /// The most child spans one transaction records (default 1,000).
    pub max_spans: usize,
    /// The DSN's public key (DSC `public_key`).
    pub public_key: Option<Arc<str>>,
    /// The release (DSC and transaction `release`).
    pub release: Option<Arc<str>>,
    /// The environment (DSC and transaction `environment`).
    pub environment: Option<Arc<str>>,
    /// The organisation id (from the DSN or the `org_id` option).
    pub org_id: Option<Arc<str>>,
    /// Continue incoming traces only when their `org_id` equals ours (both present).
    pub strict_trace_continuation: bool,
    /// Outgoing headers include W3C `traceparent` (the `propagate_traceparent` option).
    pub propagate_traceparent: bool,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            sampling: SamplingOptions::default(),
            max_spans: DEFAULT_MAX_SPANS,
            public_key: None,
            release: None,
            environment: None,
            org_id: None,
            strict_trace_continuation: false,
            propagate_traceparent: false,
        }
    }
}

impl TracingConfig {
    /// Whether a trace coming from organisation `incoming` may be continued (PROTOCOL.md
    /// §5.5): differing org ids never continue; when only one side has one, continue unless
    /// `strict_trace_continuation` is on.
    pub fn may_continue_from(&self, incoming: Option<&str>) -> bool {
        match (incoming, self.org_id.as_deref()) {
            (Some(theirs), Some(ours)) => theirs == ours,
            (None, None) => true,
            _ => !self.strict_trace_continuation,
        }
    }
}

/// What a transaction hands its data to: the client implements it (applying
/// `before_send_transaction`, building the envelope and queueing it).
pub trait TransactionSink: Send + Sync + 'static {
    /// The settings transactions are sampled and described with.
    fn config(&self) -> &TracingConfig;

    /// Takes a finished, sampled transaction. Must not block on I/O.
    fn send(&self, transaction: Arc<FinishedTransaction>);

    /// Counts items dropped before they were sent (unsampled transactions, spans over the
    /// limit), for client reports.
    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64);
}

/// A sink that keeps what it gets, for tests.
///
/// ```
/// use std::sync::Arc;
/// use sdk_core::performance::{RecordingSink, Transaction, TransactionContext};
/// let sink = Arc::new(RecordingSink::with_sample_rate(1.0));
/// let tx = Transaction::start(TransactionContext::new("job", "task"), sink.clone());
/// tx.start_child("db.query", "SELECT 1").finish();
/// tx.finish();
/// assert_eq!(sink.transactions()[0].spans.len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct RecordingSink {
    config: TracingConfig,
    sent: Mutex<Vec<Arc<FinishedTransaction>>>,
    discards: Mutex<Vec<(DiscardReason, DataCategory, u64)>>,
}

impl RecordingSink {
    /// A sink with the given config.
    pub fn new(config: TracingConfig) -> RecordingSink {
        RecordingSink {
            config,
            sent: Mutex::default(),
            discards: Mutex::default(),
        }
    }

    /// A sink whose config has only `traces_sample_rate = rate`.
    pub fn with_sample_rate(rate: f64) -> RecordingSink {
        RecordingSink::new(TracingConfig {
            sampling: SamplingOptions::with_rate(rate),
            ..TracingConfig::default()
        })
    }

    /// The transactions sent so far.
    pub fn transactions(&self) -> Vec<Arc<FinishedTransaction>> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The discards recorded so far.
    pub fn discards(&self) -> Vec<(DiscardReason, DataCategory, u64)> {
        self.discards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The total quantity discarded for `reason` and `category`.
    pub fn discarded(&self, reason: DiscardReason, category: DataCategory) -> u64 {
        self.discards()
            .iter()
            .filter(|(r, c, _)| *r == reason && *c == category)
            .map(|(_, _, q)| q)
            .sum()
    }
}

impl TransactionSink for RecordingSink {
    fn config(&self) -> &TracingConfig {
        &self.config
    }

    fn send(&self, transaction: Arc<FinishedTransaction>) {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(transaction);
    }

    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        self.discards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((reason, category, quantity));
    }
}
