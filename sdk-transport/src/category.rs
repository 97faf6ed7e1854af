//! Data categories (what rate limits and client reports count) and discard reasons.

use std::fmt;

/// The data category of an envelope item, as Relay names it for rate limits and client reports
/// (PROTOCOL.md §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DataCategory {
    /// Error events (`event` items).
    Error,
    /// Transactions.
    Transaction,
    /// Spans (a dropped transaction also counts its spans + 1 here).
    Span,
    /// Attachments, counted in bytes.
    Attachment,
    /// Release-health sessions (`session` and `sessions` items).
    Session,
    /// Transaction-based profiles.
    Profile,
    /// Continuous-profiling chunks.
    ProfileChunk,
    /// Session replays.
    Replay,
    /// Cron check-ins (`check_in` items).
    Monitor,
    /// Structured logs, counted per log.
    LogItem,
    /// Structured logs, counted in bytes.
    LogByte,
    /// Trace metrics.
    TraceMetric,
    /// User feedback.
    Feedback,
    /// SDK-internal items such as client reports; never rate limited by category.
    Internal,
    /// Items of an unknown type.
    Default,
}

impl DataCategory {
    /// The name Relay uses for this category.
    pub fn as_str(self) -> &'static str {
        match self {
            DataCategory::Error => "error",
            DataCategory::Transaction => "transaction",
            DataCategory::Span => "span",
            DataCategory::Attachment => "attachment",
            DataCategory::Session => "session",
            DataCategory::Profile => "profile",
            DataCategory::ProfileChunk => "profile_chunk",
            DataCategory::Replay => "replay",
            DataCategory::Monitor => "monitor",
            DataCategory::LogItem => "log_item",
            DataCategory::LogByte => "log_byte",
            DataCategory::TraceMetric => "trace_metric",
            DataCategory::Feedback => "feedback",
            DataCategory::Internal => "internal",
            DataCategory::Default => "default",
        }
    }

    /// Parses a category name as it appears in `X-Sentry-Rate-Limits`; `None` for names the SDK
    /// does not send (indexed/billing categories), which rate limiting ignores.
    pub fn from_name(name: &str) -> Option<DataCategory> {
        Some(match name {
            "error" => DataCategory::Error,
            "transaction" => DataCategory::Transaction,
            "span" => DataCategory::Span,
            "attachment" => DataCategory::Attachment,
            "session" => DataCategory::Session,
            "profile" => DataCategory::Profile,
            "profile_chunk" => DataCategory::ProfileChunk,
            "replay" => DataCategory::Replay,
            "monitor" => DataCategory::Monitor,
            "log_item" => DataCategory::LogItem,
            "log_byte" => DataCategory::LogByte,
            "trace_metric" => DataCategory::TraceMetric,
            "feedback" | "user_report_v2" => DataCategory::Feedback,
            "internal" => DataCategory::Internal,
            "default" => DataCategory::Default,
            _ => return None,
        })
    }
}

impl fmt::Display for DataCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an item was discarded before it reached the server (PROTOCOL.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DiscardReason {
    /// The transport queue was full.
    QueueOverflow,
    /// The offline spool was full and the oldest envelope was evicted.
    CacheOverflow,
    /// An internal buffer (breadcrumbs, logs, spans per transaction) was full.
    BufferOverflow,
    /// Dropped locally because a rate limit is active.
    RatelimitBackoff,
    /// A network failure that retries (and the spool, if any) could not overcome.
    NetworkError,
    /// The server answered with a 4xx/5xx other than 429.
    SendError,
    /// Sampled out by `sample_rate` / `traces_sample_rate` / a sampler.
    SampleRate,
    /// Dropped by a `before_send*` callback (or the callback panicked).
    BeforeSend,
    /// Dropped by an event processor or an ignore rule.
    EventProcessor,
    /// The SDK failed to process or serialise the item.
    InternalSdkError,
    /// Dropped by backpressure handling.
    Backpressure,
    /// Dropped by a deny list such as `ignore_spans`.
    Ignored,
    /// Failed validation.
    Invalid,
}

impl DiscardReason {
    /// The name used in the `client_report` payload.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscardReason::QueueOverflow => "queue_overflow",
            DiscardReason::CacheOverflow => "cache_overflow",
            DiscardReason::BufferOverflow => "buffer_overflow",
            DiscardReason::RatelimitBackoff => "ratelimit_backoff",
            DiscardReason::NetworkError => "network_error",
            DiscardReason::SendError => "send_error",
            DiscardReason::SampleRate => "sample_rate",
            DiscardReason::BeforeSend => "before_send",
            DiscardReason::EventProcessor => "event_processor",
            DiscardReason::InternalSdkError => "internal_sdk_error",
            DiscardReason::Backpressure => "backpressure",
            DiscardReason::Ignored => "ignored",
            DiscardReason::Invalid => "invalid",
        }
    }
}

impl fmt::Display for DiscardReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
