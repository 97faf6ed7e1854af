//! Rate limits sent by the server (`X-Sentry-Rate-Limits`, `Retry-After` on 429), per data
//! category (PROTOCOL.md §8).
//!
//! [`RateLimits`] keeps one "disabled until" deadline per category plus one for all categories,
//! in atomics, so checking a category costs two loads and never takes a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::category::DataCategory;

/// How long to back off on a 429 that carries neither header.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Number of [`DataCategory`] variants (the size of the per-category tables).
pub(crate) const CATEGORY_COUNT: usize = 15;

/// Every category in index order (the inverse of [`category_index`]).
pub(crate) const ALL_CATEGORIES: [DataCategory; CATEGORY_COUNT] = [
    DataCategory::Error,
    DataCategory::Transaction,
    DataCategory::Span,
    DataCategory::Attachment,
    DataCategory::Session,
    DataCategory::Profile,
    DataCategory::ProfileChunk,
    DataCategory::Replay,
    DataCategory::Monitor,
    DataCategory::LogItem,
    DataCategory::LogByte,
    DataCategory::TraceMetric,
    DataCategory::Feedback,
    DataCategory::Internal,
    DataCategory::Default,
];

/// The position of `category` in per-category tables.
pub(crate) fn category_index(category: DataCategory) -> usize {
    match category {
        DataCategory::Error => 0,
        DataCategory::Transaction => 1,
        DataCategory::Span => 2,
        DataCategory::Attachment => 3,
        DataCategory::Session => 4,
        DataCategory::Profile => 5,
        DataCategory::ProfileChunk => 6,
        DataCategory::Replay => 7,
        DataCategory::Monitor => 8,
        DataCategory::LogItem => 9,
        DataCategory::LogByte => 10,
        DataCategory::TraceMetric => 11,
        DataCategory::Feedback => 12,
        DataCategory::Internal => 13,
        DataCategory::Default => 14,
    }
}

/// One parsed limit of an `X-Sentry-Rate-Limits` header.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// How long the limit lasts.
    pub retry_after: Duration,
    /// The limited categories; empty means every category.
    pub categories: Vec<DataCategory>,
}

/// Parses an `X-Sentry-Rate-Limits` value: `retry_after:categories:scope[:reason[:namespaces]]`
/// limits separated by commas. Limits that fail to parse are skipped, unknown categories are
/// skipped, and a limit whose categories are all unknown is dropped (it concerns data this SDK
/// does not send). Scope, reason code and namespaces are ignored.
///
/// ```
/// use sdk_transport::rate_limit::parse_rate_limits;
/// use sdk_transport::DataCategory;
///
/// let limits = parse_rate_limits("60:transaction:key, 2700:default;error;security:organization");
/// assert_eq!(limits.len(), 2);
/// assert_eq!(limits[0].categories, vec![DataCategory::Transaction]);
/// assert_eq!(limits[1].categories, vec![DataCategory::Default, DataCategory::Error]);
/// assert!(parse_rate_limits("60::organization")[0].categories.is_empty()); // all categories
/// ```
pub fn parse_rate_limits(header: &str) -> Vec<RateLimit> {
    let mut limits = Vec::new();
    for limit in header.split(',') {
        let limit = limit.trim();
        if limit.is_empty() {
            continue;
        }
        let mut fields = limit.split(':');
        let Some(retry_after) = fields.next().and_then(parse_seconds) else {
            continue;
        };
        let names = fields.next().unwrap_or("").trim();
        let mut categories = Vec::new();
        let mut unknown = 0usize;
        for name in names.split(';').map(str::trim).filter(|n| !n.is_empty()) {
            match DataCategory::from_name(name) {
                Some(category) if !categories.contains(&category) => categories.push(category),
                Some(_) => {}
                None => unknown += 1,
            }
        }
        if categories.is_empty() && unknown > 0 {
            continue;
        }
        limits.push(RateLimit {
            retry_after,
            categories,
        });
    }
    limits
}

/// Parses a number of seconds (integer or float, rounded up); `None` for anything else.
fn parse_seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // Cap at a day: a bogus huge value must not disable the SDK for the process lifetime.
    Some(Duration::from_secs(secs.ceil().min(86_400.0) as u64))
}

/// Parses a `Retry-After` value: seconds or an HTTP date (relative to `now_wall`).
pub fn parse_retry_after(value: &str, now_wall: SystemTime) -> Option<Duration> {
    if let Some(secs) = parse_seconds(value) {
        return Some(secs);
    }
    let date = httpdate::parse_http_date(value.trim()).ok()?;
    Some(date.duration_since(now_wall).unwrap_or(Duration::ZERO))
}

/// The active rate limits of one transport.
#[derive(Debug)]
pub struct RateLimits {
    base: Instant,
    /// Deadlines as milliseconds since `base` (0 = no limit), for all categories.
    all: AtomicU64,
    per_category: [AtomicU64; CATEGORY_COUNT],
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::new()
    }
}

impl RateLimits {
    /// No limits.
    pub fn new() -> Self {
        RateLimits {
            base: Instant::now(),
            all: AtomicU64::new(0),
            per_category: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn to_millis(&self, at: Instant) -> u64 {
        // +1 so that a deadline at `base` is still distinguishable from "none".
        at.saturating_duration_since(self.base).as_millis() as u64 + 1
    }

    /// Whether `category` is limited at `now`. Client reports (`internal`) are only stopped by
    /// an all-categories limit.
    pub fn is_limited(&self, category: DataCategory, now: Instant) -> bool {
        let now = self.to_millis(now);
        if self.all.load(Ordering::Relaxed) > now {
            return true;
        }
        if category == DataCategory::Internal {
            return false;
        }
        self.per_category[category_index(category)].load(Ordering::Relaxed) > now
    }

    /// Whether every category is limited at `now`.
    pub fn is_all_limited(&self, now: Instant) -> bool {
        self.all.load(Ordering::Relaxed) > self.to_millis(now)
    }

    /// When the limit of `category` (or of all categories) ends, if it is limited at `now`.
    pub fn limited_until(&self, category: DataCategory, now: Instant) -> Option<Instant> {
        let now_ms = self.to_millis(now);
        let mut until = self.all.load(Ordering::Relaxed);
        if category != DataCategory::Internal {
            until = until.max(self.per_category[category_index(category)].load(Ordering::Relaxed));
        }
        (until > now_ms).then(|| self.base + Duration::from_millis(until - 1))
    }

    /// Limits `category` (`None` = every category) until `now + duration`, keeping a later
    /// deadline that is already set.
    pub fn limit(&self, category: Option<DataCategory>, duration: Duration, now: Instant) {
        let until = self.to_millis(crate::time::instant_after(now, duration));
        let slot = match category {
            None => &self.all,
            Some(category) => &self.per_category[category_index(category)],
        };
        slot.fetch_max(until, Ordering::Relaxed);
    }

    /// Applies the headers of a response (PROTOCOL.md §8.2): `X-Sentry-Rate-Limits` on any
    /// status; otherwise on 429 `Retry-After` or 60 s, for all categories.
    pub fn update_from_response(
        &self,
        status: u16,
        rate_limits: Option<&str>,
        retry_after: Option<&str>,
        now: Instant,
    ) {
        if let Some(header) = rate_limits {
            for limit in parse_rate_limits(header) {
                if limit.categories.is_empty() {
                    self.limit(None, limit.retry_after, now);
                }
                for category in limit.categories {
                    self.limit(Some(category), limit.retry_after, now);
                }
            }
        } else if status == 429 {
            let duration = retry_after
                .and_then(|value| parse_retry_after(value, SystemTime::now()))
                .unwrap_or(DEFAULT_RETRY_AFTER);
            self.limit(None, duration, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_tables_agree() {
        for (index, category) in ALL_CATEGORIES.iter().enumerate() {
            assert_eq!(category_index(*category), index);
        }
    }

    #[test]
    fn parses_every_documented_form() {
        let limits = parse_rate_limits(
            "60:transaction:key, 2700:default;error;security:organization,\
             10::organization:quota_exceeded, 2700:metric_bucket:organization:quota_exceeded:custom,\
             1.2:session;log_item:project:reason:ns:extra, garbage, :error:key",
        );
        assert_eq!(
            limits,
            vec![
                RateLimit {
                    retry_after: Duration::from_secs(60),
                    categories: vec![DataCategory::Transaction]
                },
                RateLimit {
                    retry_after: Duration::from_secs(2700),
                    categories: vec![DataCategory::Default, DataCategory::Error]
                },
                RateLimit {
                    retry_after: Duration::from_secs(10),
                    categories: vec![]
                },
                RateLimit {
                    retry_after: Duration::from_secs(2),
                    categories: vec![DataCategory::Session, DataCategory::LogItem]
                },
            ]
        );
    }

    #[test]
    fn bad_limits_are_skipped() {
        assert!(parse_rate_limits("").is_empty());
        assert!(parse_rate_limits("-5:error:key").is_empty());
        assert!(parse_rate_limits("NaN:error").is_empty());
        assert!(parse_rate_limits("abc").is_empty());
        assert_eq!(
            parse_rate_limits("5:error")[0].categories,
            vec![DataCategory::Error]
        );
    }

    #[test]
    fn limits_expire_per_category() {
        let limits = RateLimits::new();
        let now = Instant::now();
        limits.update_from_response(
            200,
            Some("60:transaction:key, 5:error;attachment:org"),
            None,
            now,
        );
        assert!(limits.is_limited(DataCategory::Transaction, now));
        assert!(limits.is_limited(DataCategory::Error, now));
        assert!(limits.is_limited(DataCategory::Attachment, now));
        assert!(!limits.is_limited(DataCategory::Session, now));
        assert!(!limits.is_limited(DataCategory::Internal, now));
        let later = now + Duration::from_secs(6);
        assert!(!limits.is_limited(DataCategory::Error, later));
        assert!(limits.is_limited(DataCategory::Transaction, later));
        assert!(!limits.is_limited(DataCategory::Transaction, now + Duration::from_secs(61)));
    }

    #[test]
    fn all_categories_limit_stops_client_reports_too() {
        let limits = RateLimits::new();
        let now = Instant::now();
        limits.update_from_response(200, Some("30::organization"), None, now);
        assert!(limits.is_limited(DataCategory::Internal, now));
        assert!(limits.is_all_limited(now));
        assert!(limits.is_limited(DataCategory::Span, now));
        assert!(!limits.is_limited(DataCategory::Span, now + Duration::from_secs(31)));
    }

    #[test]
    fn later_deadline_wins() {
        let limits = RateLimits::new();
        let now = Instant::now();
        limits.update_from_response(200, Some("100:error"), None, now);
        limits.update_from_response(200, Some("10:error"), None, now);
        assert!(limits.is_limited(DataCategory::Error, now + Duration::from_secs(50)));
        let until = limits.limited_until(DataCategory::Error, now).unwrap();
        assert!(until >= now + Duration::from_secs(99));
    }

    #[test]
    fn status_429_uses_retry_after_or_60_seconds() {
        let now = Instant::now();
        let limits = RateLimits::new();
        limits.update_from_response(429, None, Some("7"), now);
        assert!(limits.is_limited(DataCategory::Error, now + Duration::from_secs(6)));
        assert!(!limits.is_limited(DataCategory::Error, now + Duration::from_secs(8)));

        let limits = RateLimits::new();
        limits.update_from_response(429, None, None, now);
        assert!(limits.is_limited(DataCategory::Monitor, now + Duration::from_secs(59)));
        assert!(!limits.is_limited(DataCategory::Monitor, now + Duration::from_secs(61)));

        // The rate-limit header wins over Retry-After.
        let limits = RateLimits::new();
        limits.update_from_response(429, Some("5:error"), Some("600"), now);
        assert!(!limits.is_limited(DataCategory::Transaction, now));
        assert!(limits.is_limited(DataCategory::Error, now));

        // A 200 without the header changes nothing.
        let limits = RateLimits::new();
        limits.update_from_response(200, None, Some("600"), now);
        assert!(!limits.is_limited(DataCategory::Error, now));
    }

    proptest::proptest! {
        #[test]
        fn any_header_parses_without_panicking(header in "\\PC{0,200}") {
            let limits = RateLimits::new();
            let now = Instant::now();
            limits.update_from_response(429, Some(&header), Some(&header), now);
            let _ = parse_retry_after(&header, SystemTime::now());
        }
    }

    #[test]
    fn retry_after_accepts_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480.
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("2.5", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
