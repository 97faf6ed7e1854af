//! Retry decisions: which outcomes are retried and how long to wait.

use std::time::Duration;

pub use crate::options::RetryPolicy;

/// What the worker does with the outcome of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: delivered.
    Delivered,
    /// 429: the server dropped it and counted it; never retried, no client report.
    RateLimited,
    /// A 4xx other than 429 (or a non-retryable status): dropped, counted as `send_error`.
    Rejected,
    /// 5xx: retried; counted as `send_error` when attempts run out.
    ServerError,
    /// Connection error or timeout: retried; counted as `network_error` when attempts run out.
    NetworkError,
}

impl Outcome {
    /// Classifies an HTTP status.
    pub fn from_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Delivered,
            429 => Outcome::RateLimited,
            500..=599 => Outcome::ServerError,
            _ => Outcome::Rejected,
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Outcome::ServerError | Outcome::NetworkError)
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based), before jitter:
    /// `min(cap, base * 2^(attempt-1))`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        self.base
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// [`RetryPolicy::backoff`] reduced by a random part of up to `jitter` of it.
    pub fn backoff_with_jitter(&self, attempt: u32) -> Duration {
        let wait = self.backoff(attempt);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // `mul_f64` panics when the product does not fit (a cap near `Duration::MAX`): take
        // the random part off with checked conversions instead.
        let cut = Duration::try_from_secs_f64(wait.as_secs_f64() * jitter * fastrand::f64())
            .unwrap_or(Duration::ZERO);
        wait.saturating_sub(cut)
    }

    /// Whether an envelope that failed `attempts` times gets another attempt.
    pub fn should_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(500),
            jitter: 0.0,
        };
        let waits: Vec<_> = (1..=5).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 500, 500]);
        assert_eq!(policy.backoff(1_000), Duration::from_millis(500));
        assert_eq!(policy.backoff_with_jitter(2), Duration::from_millis(200));
    }

    #[test]
    fn jitter_only_shortens() {
        let policy = RetryPolicy {
            jitter: 0.5,
            ..RetryPolicy::default()
        };
        for _ in 0..100 {
            let wait = policy.backoff_with_jitter(2);
            assert!(wait <= policy.backoff(2));
            assert!(wait >= policy.backoff(2) / 2);
        }
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy::default();
        assert!(policy.should_retry(1));
        assert!(policy.should_retry(2));
        assert!(!policy.should_retry(3));
        assert!(!RetryPolicy::never().should_retry(1));
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(Outcome::from_status(200), Outcome::Delivered);
        assert_eq!(Outcome::from_status(202), Outcome::Delivered);
        assert_eq!(Outcome::from_status(429), Outcome::RateLimited);
        assert_eq!(Outcome::from_status(413), Outcome::Rejected);
        assert_eq!(Outcome::from_status(400), Outcome::Rejected);
        assert_eq!(Outcome::from_status(503), Outcome::ServerError);
        assert!(Outcome::from_status(503).is_retryable());
        assert!(!Outcome::from_status(400).is_retryable());
        assert!(!Outcome::RateLimited.is_retryable());
        assert!(Outcome::NetworkError.is_retryable());
    }
}
