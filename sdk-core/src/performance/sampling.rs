//! Sampling decisions for transactions (PROTOCOL.md §5.4).
//!
//! Precedence for a root transaction: an explicit `sampled` on the context, then the
//! `traces_sampler`, then the parent's decision, then `traces_sample_rate`. A decision compares
//! the trace's propagated `sample_rand` against the rate: sampled ⇔ `sample_rand < rate`, so
//! every service of a trace that uses the same rate agrees.

use std::fmt;
use std::sync::Arc;

use super::transaction::TransactionContext;
use crate::ids::TraceId;

/// What a `traces_sampler` is given.
#[derive(Debug)]
pub struct SamplingContext<'a> {
    /// The context the transaction is started with (name, op, ...).
    pub transaction_context: &'a TransactionContext,
    /// The parent's decision, when the trace came in with one.
    pub parent_sampled: Option<bool>,
    /// The parent's sample rate, when the incoming DSC carried one.
    pub parent_sample_rate: Option<f64>,
}

/// A function that returns the sample rate (in [0, 1]) for a new transaction.
pub type TracesSampler = Arc<dyn Fn(&SamplingContext<'_>) -> f64 + Send + Sync>;

/// The sampling options of a client.
#[derive(Clone, Default)]
pub struct SamplingOptions {
    /// The share of transactions to send, in [0, 1]. `None` (and no sampler) means tracing is
    /// off: transactions are not sent but traces still propagate. `Some(0.0)` is not `None`.
    pub traces_sample_rate: Option<f64>,
    /// A function that decides the rate per transaction; it takes precedence over the rate.
    pub traces_sampler: Option<TracesSampler>,
}

impl fmt::Debug for SamplingOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SamplingOptions")
            .field("traces_sample_rate", &self.traces_sample_rate)
            .field("traces_sampler", &self.traces_sampler.is_some())
            .finish()
    }
}

/// Where a sampling decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionSource {
    /// `sampled` was set on the transaction context.
    Explicit,
    /// The `traces_sampler` returned the rate.
    Sampler,
    /// Inherited from the incoming trace.
    Parent,
    /// `traces_sample_rate`.
    SampleRate,
    /// Neither a rate nor a sampler is configured: nothing is sent, nothing is counted.
    TracingDisabled,
}

/// The outcome of sampling one transaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingDecision {
    /// Whether the transaction is recorded and sent.
    pub sampled: bool,
    /// The rate used, when there was one (it goes into the DSC as `sample_rate`).
    pub sample_rate: Option<f64>,
    /// The trace's random value the rate was compared against.
    pub sample_rand: f64,
    /// Where the decision came from.
    pub source: DecisionSource,
}

impl SamplingOptions {
    /// Options with a fixed `traces_sample_rate`.
    pub fn with_rate(rate: f64) -> SamplingOptions {
        SamplingOptions {
            traces_sample_rate: Some(rate),
            traces_sampler: None,
        }
    }

    /// Sets the `traces_sampler`.
    pub fn traces_sampler(
        mut self,
        sampler: impl Fn(&SamplingContext<'_>) -> f64 + Send + Sync + 'static,
    ) -> Self {
        self.traces_sampler = Some(Arc::new(sampler));
        self
    }

    /// Whether transactions can be sent at all (a rate or a sampler is set).
    pub fn is_tracing_enabled(&self) -> bool {
        self.traces_sample_rate.is_some() || self.traces_sampler.is_some()
    }

    /// Decides whether the transaction started with `ctx` is sampled.
    ///
    /// ```
    /// use sdk_core::performance::{SamplingOptions, TransactionContext};
    /// let opts = SamplingOptions::with_rate(0.5);
    /// let ctx = TransactionContext::new("GET /", "http.server").with_sample_rand(0.25);
    /// assert!(opts.decide(&ctx).sampled);
    /// let ctx = TransactionContext::new("GET /", "http.server").with_sample_rand(0.75);
    /// assert!(!opts.decide(&ctx).sampled);
    /// ```
    pub fn decide(&self, ctx: &TransactionContext) -> SamplingDecision {
        let sample_rand = ctx.sample_rand();
        let decided = |sampled: bool, rate: Option<f64>, source| SamplingDecision {
            sampled,
            sample_rate: rate,
            sample_rand,
            source,
        };
        if !self.is_tracing_enabled() {
            return decided(false, None, DecisionSource::TracingDisabled);
        }
        if let Some(sampled) = ctx.sampled() {
            let rate = if sampled { 1.0 } else { 0.0 };
            return decided(sampled, Some(rate), DecisionSource::Explicit);
        }
        if let Some(sampler) = &self.traces_sampler {
            let sampling_ctx = SamplingContext {
                transaction_context: ctx,
                parent_sampled: ctx.parent_sampled(),
                parent_sample_rate: ctx.parent_sample_rate(),
            };
            let rate = match crate::callback::call(|| sampler(&sampling_ctx)) {
                Ok(rate) => rate,
                Err(_) => {
                    sdk_transport::sdk_debug!(
                        "traces_sampler panicked for transaction `{}`; not sampling it",
                        ctx.name()
                    );
                    return decided(false, Some(0.0), DecisionSource::Sampler);
                }
            };
            return match valid_rate(rate) {
                Some(rate) => decided(sample_rand < rate, Some(rate), DecisionSource::Sampler),
                None => {
                    sdk_transport::sdk_debug!(
                        "traces_sampler returned {rate}, which is not in [0, 1]; not sampling"
                    );
                    decided(false, Some(0.0), DecisionSource::Sampler)
                }
            };
        }
        if let Some(sampled) = ctx.parent_sampled() {
            return decided(sampled, ctx.parent_sample_rate(), DecisionSource::Parent);
        }
        let rate = self.traces_sample_rate.unwrap_or(0.0);
        match valid_rate(rate) {
            Some(rate) => decided(sample_rand < rate, Some(rate), DecisionSource::SampleRate),
            None => {
                sdk_transport::sdk_debug!(
                    "traces_sample_rate {rate} is not in [0, 1]; not sampling"
                );
                decided(false, Some(0.0), DecisionSource::SampleRate)
            }
        }
    }
}

fn valid_rate(rate: f64) -> Option<f64> {
    (0.0..=1.0).contains(&rate).then_some(rate)
}

/// Rounds down to 6 decimals so that the printed value is the value compared.
fn six_decimals(x: f64) -> f64 {
    let r = (x * 1_000_000.0).floor() / 1_000_000.0;
    r.clamp(0.0, 0.999_999)
}

/// The `sample_rand` of a new trace, derived from its id (so every service that starts from
/// the same id agrees): a value in [0, 1) with 6 decimals.
pub fn sample_rand_from_trace_id(trace_id: TraceId) -> f64 {
    let bytes = trace_id.to_bytes();
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&bytes[8..]);
    let n = u64::from_be_bytes(tail) >> 11; // 53 random bits
    six_decimals(n as f64 / (1u64 << 53) as f64)
}

/// A `sample_rand` consistent with an incoming decision that came without one: drawn from
/// `[0, rate)` when sampled, `[rate, 1)` when not.
pub fn sample_rand_for_decision(rate: f64, sampled: bool) -> f64 {
    let u = fastrand::f64();
    let value = if sampled {
        u * rate
    } else {
        rate + u * (1.0 - rate)
    };
    let value = six_decimals(value);
    // Rounding must not move the value across the rate.
    if sampled && value >= rate {
        six_decimals((rate - 0.000_001).max(0.0))
    } else if !sampled && value < rate {
        ((rate * 1_000_000.0).ceil() / 1_000_000.0).min(0.999_999)
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(rand: f64) -> TransactionContext {
        TransactionContext::new("t", "op").with_sample_rand(rand)
    }

    #[test]
    fn no_rate_and_no_sampler_means_tracing_is_off() {
        let d = SamplingOptions::default().decide(&ctx(0.0));
        assert!(!d.sampled);
        assert_eq!(d.source, DecisionSource::TracingDisabled);
    }

    #[test]
    fn rate_is_compared_against_sample_rand() {
        let opts = SamplingOptions::with_rate(0.3);
        assert!(opts.decide(&ctx(0.299_999)).sampled);
        assert!(!opts.decide(&ctx(0.3)).sampled);
        assert!(!SamplingOptions::with_rate(0.0).decide(&ctx(0.0)).sampled);
        assert!(
            SamplingOptions::with_rate(1.0)
                .decide(&ctx(0.999_999))
                .sampled
        );
        let d = SamplingOptions::with_rate(7.0).decide(&ctx(0.1));
        assert!(!d.sampled, "an invalid rate samples nothing");
    }

    #[test]
    fn explicit_beats_sampler_beats_parent_beats_rate() {
        let opts = SamplingOptions::with_rate(1.0).traces_sampler(|c| {
            if c.transaction_context.name() == "health" {
                0.0
            } else {
                c.parent_sampled.map_or(1.0, |p| if p { 1.0 } else { 0.0 })
            }
        });
        let d = opts.decide(&TransactionContext::new("health", "op").with_sampled(Some(true)));
        assert_eq!((d.sampled, d.source), (true, DecisionSource::Explicit));
        let d = opts.decide(&ctx(0.5).with_name("health"));
        assert_eq!((d.sampled, d.source), (false, DecisionSource::Sampler));
        let parented = ctx(0.5).with_parent_sampled(Some(false));
        assert!(
            !opts.decide(&parented).sampled,
            "the sampler saw the parent"
        );
        let plain = SamplingOptions::with_rate(1.0);
        let d = plain.decide(&parented);
        assert_eq!((d.sampled, d.source), (false, DecisionSource::Parent));
    }

    #[test]
    fn a_panicking_or_invalid_sampler_samples_nothing() {
        let opts = SamplingOptions::default().traces_sampler(|_| panic!("boom"));
        assert!(!opts.decide(&ctx(0.0)).sampled);
        let opts = SamplingOptions::default().traces_sampler(|_| f64::NAN);
        assert!(!opts.decide(&ctx(0.0)).sampled);
    }

    #[test]
    fn sample_rand_is_in_range_and_stable_per_trace() {
        for _ in 0..1000 {
            let id = TraceId::random();
            let r = sample_rand_from_trace_id(id);
            assert!((0.0..1.0).contains(&r));
            assert_eq!(r, sample_rand_from_trace_id(id));
            assert_eq!(format!("{r:.6}").parse::<f64>().unwrap(), r);
        }
        for rate in [0.0, 0.000_001, 0.3, 0.999_999, 1.0] {
            for _ in 0..200 {
                let s = sample_rand_for_decision(rate, true);
                let n = sample_rand_for_decision(rate, false);
                if rate > 0.0 {
                    assert!(s < rate, "{s} !< {rate}");
                }
                if rate < 1.0 {
                    assert!(n >= rate && n < 1.0, "{n} for {rate}");
                }
            }
        }
    }
}
