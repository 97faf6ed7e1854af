//! Trace propagation headers: `sentry-trace`, W3C `traceparent` and the propagation context
//! built from incoming headers (PROTOCOL.md §5.5).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::baggage::{merge_baggage, Baggage};
use super::dsc::DynamicSamplingContext;
use super::sampling::{sample_rand_for_decision, sample_rand_from_trace_id};
use super::sink::TracingConfig;
use crate::ids::{SpanId, TraceId};

/// Name of the Sentry trace header.
pub const SENTRY_TRACE_HEADER: &str = "sentry-trace";
/// Name of the W3C baggage header.
pub const BAGGAGE_HEADER: &str = "baggage";
/// Name of the W3C trace context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Error for a trace header that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTraceHeader {
    header: &'static str,
    reason: &'static str,
}

impl fmt::Display for InvalidTraceHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let form = match self.header {
            SENTRY_TRACE_HEADER => "{32 hex trace_id}-{16 hex span_id}[-{0|1}]",
            _ => "00-{32 hex trace_id}-{16 hex span_id}-{2 hex flags}",
        };
        write!(
            f,
            "invalid `{}` header: {}; expected {form}",
            self.header, self.reason
        )
    }
}

impl std::error::Error for InvalidTraceHeader {}

/// The `sentry-trace` header: `trace_id-span_id[-sampled]`.
///
/// ```
/// use sdk_core::performance::SentryTrace;
/// let t: SentryTrace = "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1".parse().unwrap();
/// assert_eq!(t.sampled, Some(true));
/// assert_eq!(t.to_string(), "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentryTrace {
    /// The trace id.
    pub trace_id: TraceId,
    /// The sender's span id (the parent of our spans).
    pub span_id: SpanId,
    /// The sender's decision: `None` when deferred.
    pub sampled: Option<bool>,
}

impl FromStr for SentryTrace {
    type Err = InvalidTraceHeader;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| InvalidTraceHeader {
            header: SENTRY_TRACE_HEADER,
            reason,
        };
        let mut parts = s.trim().split('-');
        let trace_id = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| err("the trace id is not 32 hex digits"))?;
        let span_id = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| err("the span id is not 16 hex digits"))?;
        let sampled = match parts.next() {
            None => None,
            Some("1") => Some(true),
            Some("0") => Some(false),
            Some(_) => return Err(err("the sampled flag is not 0 or 1")),
        };
        if parts.next().is_some() {
            return Err(err("too many parts"));
        }
        let parsed = SentryTrace {
            trace_id,
            span_id,
            sampled,
        };
        if trace_id.is_nil() || span_id.is_nil() {
            return Err(err("the ids must not be all zeros"));
        }
        Ok(parsed)
    }
}

impl fmt::Display for SentryTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.trace_id, self.span_id)?;
        match self.sampled {
            Some(true) => f.write_str("-1"),
            Some(false) => f.write_str("-0"),
            None => Ok(()),
        }
    }
}

/// The W3C `traceparent` header: `00-trace_id-span_id-flags`.
///
/// ```
/// use sdk_core::performance::TraceParent;
/// let t: TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".parse().unwrap();
/// assert!(t.sampled);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace id.
    pub trace_id: TraceId,
    /// The parent span id.
    pub span_id: SpanId,
    /// The `sampled` flag (bit 0 of the flags).
    pub sampled: bool,
}

impl FromStr for TraceParent {
    type Err = InvalidTraceHeader;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| InvalidTraceHeader {
            header: TRACEPARENT_HEADER,
            reason,
        };
        let mut parts = s.trim().split('-');
        let version = parts.next().unwrap_or("");
        if version.len() != 2 || !version.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("the version is not 2 hex digits"));
        }
        if version.eq_ignore_ascii_case("ff") {
            return Err(err("version ff is invalid"));
        }
        let trace_id: TraceId = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| err("the trace id is not 32 hex digits"))?;
        let span_id: SpanId = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| err("the parent id is not 16 hex digits"))?;
        let flags = parts
            .next()
            .filter(|p| p.len() == 2)
            .and_then(|p| u8::from_str_radix(p, 16).ok())
            .ok_or_else(|| err("the flags are not 2 hex digits"))?;
        // Version 00 has exactly four parts; later versions may append more.
        if version == "00" && parts.next().is_some() {
            return Err(err("too many parts for version 00"));
        }
        if trace_id.is_nil() || span_id.is_nil() {
            return Err(err("the ids must not be all zeros"));
        }
        Ok(TraceParent {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }
}

impl From<SentryTrace> for TraceParent {
    /// The same trace and span; a deferred decision is sent as not sampled (`00`), as W3C
    /// has no "deferred".
    fn from(trace: SentryTrace) -> Self {
        TraceParent {
            trace_id: trace.trace_id,
            span_id: trace.span_id,
            sampled: trace.sampled == Some(true),
        }
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{}",
            self.trace_id,
            self.span_id,
            if self.sampled { "01" } else { "00" }
        )
    }
}

/// The trace an event or a new transaction belongs to when there is no span: either a new
/// trace started by this SDK or one continued from incoming headers.
///
/// Errors captured with no transaction carry its `trace_id`/`span_id`, so that they link up
/// with the rest of the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct PropagationContext {
    /// The trace id.
    pub trace_id: TraceId,
    /// Our own span id (what errors report as `contexts.trace.span_id`).
    pub span_id: SpanId,
    /// The incoming span id, when continuing a trace.
    pub parent_span_id: Option<SpanId>,
    /// The incoming sampling decision, when continuing a trace that had one.
    pub parent_sampled: Option<bool>,
    /// The trace's random value in [0, 1) that sampling decisions compare against.
    pub sample_rand: f64,
    /// The frozen DSC: the incoming one, or ours once it left the SDK.
    pub dsc: Option<Arc<DynamicSamplingContext>>,
    /// Other vendors' baggage members received with the trace (never forwarded).
    pub third_party_baggage: Option<String>,
}

impl Default for PropagationContext {
    fn default() -> Self {
        PropagationContext::new()
    }
}

impl PropagationContext {
    /// A new trace with random ids.
    pub fn new() -> PropagationContext {
        let trace_id = TraceId::random();
        PropagationContext {
            trace_id,
            span_id: SpanId::random(),
            parent_span_id: None,
            parent_sampled: None,
            sample_rand: sample_rand_from_trace_id(trace_id),
            dsc: None,
            third_party_baggage: None,
        }
    }

    /// Continues the trace carried by incoming headers (`sentry-trace`, else `traceparent`,
    /// plus `baggage`); names are matched case-insensitively. Without a valid trace header
    /// this starts a new trace. An incoming `sentry-trace` without Sentry baggage (an older
    /// SDK upstream) freezes an empty DSC, as the protocol asks.
    ///
    /// ```
    /// use sdk_core::performance::PropagationContext;
    /// let ctx = PropagationContext::from_headers([
    ///     ("Sentry-Trace", "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1"),
    ///     ("baggage", "sentry-sample_rand=0.250000,sentry-sample_rate=0.5,other=1"),
    /// ]);
    /// assert_eq!(ctx.trace_id.to_string(), "771a43a4192642f0b136d5159a501700");
    /// assert_eq!(ctx.parent_sampled, Some(true));
    /// assert_eq!(ctx.sample_rand, 0.25);
    /// assert_eq!(ctx.third_party_baggage.as_deref(), Some("other=1"));
    /// ```
    pub fn from_headers<'a, I, K, V>(headers: I) -> PropagationContext
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str> + 'a,
        V: AsRef<str> + 'a,
    {
        let mut sentry_trace: Option<SentryTrace> = None;
        let mut traceparent: Option<TraceParent> = None;
        let mut baggage: Option<Baggage> = None;
        for (name, value) in headers {
            let name = name.as_ref();
            let value = value.as_ref();
            if name.eq_ignore_ascii_case(SENTRY_TRACE_HEADER) {
                if sentry_trace.is_none() {
                    sentry_trace = value.parse().ok();
                }
            } else if name.eq_ignore_ascii_case(TRACEPARENT_HEADER) {
                if traceparent.is_none() {
                    traceparent = value.parse().ok();
                }
            } else if name.eq_ignore_ascii_case(BAGGAGE_HEADER) {
                baggage
                    .get_or_insert_with(Baggage::default)
                    .extend_from(value);
            }
        }
        let incoming = sentry_trace.or_else(|| {
            traceparent.map(|t| SentryTrace {
                trace_id: t.trace_id,
                span_id: t.span_id,
                sampled: Some(t.sampled),
            })
        });
        let third_party_baggage = baggage.as_ref().and_then(Baggage::third_party_header);
        let Some(incoming) = incoming else {
            let mut ctx = PropagationContext::new();
            ctx.third_party_baggage = third_party_baggage;
            return ctx;
        };
        let dsc = baggage
            .as_ref()
            .and_then(DynamicSamplingContext::from_baggage)
            .unwrap_or_default();
        let sample_rand = dsc.sample_rand_f64().unwrap_or_else(|| {
            match (dsc.sample_rate_f64(), incoming.sampled) {
                (Some(rate), Some(sampled)) => sample_rand_for_decision(rate, sampled),
                _ => sample_rand_from_trace_id(incoming.trace_id),
            }
        });
        PropagationContext {
            trace_id: incoming.trace_id,
            span_id: SpanId::random(),
            parent_span_id: Some(incoming.span_id),
            parent_sampled: incoming.sampled,
            sample_rand,
            dsc: Some(Arc::new(dsc)),
            third_party_baggage,
        }
    }

    /// Whether this context continues a trace started elsewhere.
    pub fn is_continued(&self) -> bool {
        self.parent_span_id.is_some()
    }

    /// The DSC, built from `config` and frozen when this context is the head of its trace and
    /// none exists yet (call it before the DSC first leaves the SDK).
    pub fn freeze_dsc(&mut self, config: &TracingConfig) -> Arc<DynamicSamplingContext> {
        if let Some(dsc) = &self.dsc {
            return dsc.clone();
        }
        let dsc = Arc::new(DynamicSamplingContext {
            trace_id: Some(self.trace_id),
            public_key: config.public_key.clone(),
            sample_rand: Some(super::dsc::format_rand(self.sample_rand)),
            release: config.release.clone(),
            environment: config.environment.clone(),
            org_id: config.org_id.clone(),
            ..Default::default()
        });
        self.dsc = Some(dsc.clone());
        dsc
    }

    /// The `sentry-trace` value for outgoing requests (deferred decision unless one came in).
    pub fn sentry_trace(&self) -> SentryTrace {
        SentryTrace {
            trace_id: self.trace_id,
            span_id: self.span_id,
            sampled: self.parent_sampled,
        }
    }

    /// The W3C `traceparent` value for outgoing requests (same ids as
    /// [`PropagationContext::sentry_trace`]; a deferred decision is sent as `00`).
    pub fn traceparent(&self) -> TraceParent {
        TraceParent::from(self.sentry_trace())
    }

    /// Headers for an outgoing request: `sentry-trace` and, when a DSC is frozen, `baggage`
    /// (Sentry members only: other vendors' incoming members are never forwarded). To add to
    /// a request that already has `baggage`, use [`merge_baggage`]. For W3C `traceparent`
    /// too, see [`PropagationContext::outgoing_headers_with`].
    pub fn outgoing_headers(&self) -> impl Iterator<Item = (&'static str, String)> {
        self.outgoing_headers_with(false)
    }

    /// [`PropagationContext::outgoing_headers`], plus W3C `traceparent` when `traceparent`
    /// is true (pass the client's `propagate_traceparent` option).
    ///
    /// ```
    /// use sdk_core::performance::PropagationContext;
    /// let ctx = PropagationContext::from_headers([(
    ///     "sentry-trace",
    ///     "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
    /// )]);
    /// let headers: Vec<_> = ctx.outgoing_headers_with(true).collect();
    /// let (name, value) = &headers[headers.len() - 1];
    /// assert_eq!(*name, "traceparent");
    /// assert!(value.starts_with("00-771a43a4192642f0b136d5159a501700-"));
    /// assert!(value.ends_with("-01"));
    /// ```
    pub fn outgoing_headers_with(
        &self,
        traceparent: bool,
    ) -> impl Iterator<Item = (&'static str, String)> {
        let trace = (SENTRY_TRACE_HEADER, self.sentry_trace().to_string());
        let baggage = self
            .dsc
            .as_ref()
            .and_then(|dsc| merge_baggage(None, &dsc.to_baggage()))
            .map(|b| (BAGGAGE_HEADER, b));
        let parent = traceparent.then(|| (TRACEPARENT_HEADER, self.traceparent().to_string()));
        std::iter::once(trace).chain(baggage).chain(parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "771a43a4192642f0b136d5159a501700";
    const SPAN: &str = "b0e6f15b45c36b12";

    #[test]
    fn sentry_trace_parses_all_forms_and_rejects_garbage() {
        let deferred: SentryTrace = format!(" {TRACE}-{SPAN} ").parse().unwrap();
        assert_eq!(deferred.sampled, None);
        assert_eq!(deferred.to_string(), format!("{TRACE}-{SPAN}"));
        let unsampled: SentryTrace = format!("{TRACE}-{SPAN}-0").parse().unwrap();
        assert_eq!(unsampled.sampled, Some(false));
        for bad in [
            "".to_owned(),
            TRACE.to_owned(),
            format!("{TRACE}-{SPAN}-2"),
            format!("{TRACE}-{SPAN}-1-1"),
            format!("{TRACE}x-{SPAN}"),
            format!("{}-{SPAN}", "0".repeat(32)),
        ] {
            let err = bad.parse::<SentryTrace>().unwrap_err();
            assert!(err.to_string().contains("sentry-trace"), "{err}");
        }
    }

    #[test]
    fn traceparent_parses_and_emits() {
        let t: TraceParent = format!("00-{TRACE}-{SPAN}-01").parse().unwrap();
        assert!(t.sampled);
        assert_eq!(t.to_string(), format!("00-{TRACE}-{SPAN}-01"));
        let t: TraceParent = format!("00-{TRACE}-{SPAN}-00").parse().unwrap();
        assert!(!t.sampled);
        assert!(format!("ff-{TRACE}-{SPAN}-01")
            .parse::<TraceParent>()
            .is_err());
        assert!(format!("00-{TRACE}-{SPAN}-1")
            .parse::<TraceParent>()
            .is_err());
        assert!(format!("00-{TRACE}-{SPAN}-01-x")
            .parse::<TraceParent>()
            .is_err());
        // A future version may carry more parts.
        assert!(format!("01-{TRACE}-{SPAN}-01-x")
            .parse::<TraceParent>()
            .is_ok());
    }

    #[test]
    fn continues_an_incoming_trace_with_its_dsc() {
        let baggage = format!("sentry-trace_id={TRACE},sentry-sample_rate=0.5,sentry-sampled=true,sentry-sample_rand=0.123456,vendor=a;p=1");
        let ctx = PropagationContext::from_headers([
            ("SENTRY-TRACE", format!("{TRACE}-{SPAN}-1")),
            ("Baggage", baggage),
        ]);
        assert!(ctx.is_continued());
        assert_eq!(ctx.trace_id.to_string(), TRACE);
        assert_eq!(ctx.parent_span_id.unwrap().to_string(), SPAN);
        assert_ne!(ctx.span_id.to_string(), SPAN);
        assert_eq!(ctx.sample_rand, 0.123456);
        assert_eq!(ctx.third_party_baggage.as_deref(), Some("vendor=a;p=1"));
        let headers: Vec<_> = ctx.outgoing_headers().collect();
        assert_eq!(headers[0].0, "sentry-trace");
        assert!(headers[0].1.starts_with(TRACE) && headers[0].1.ends_with("-1"));
        // The incoming DSC is forwarded unchanged; the other vendor's member is not.
        assert_eq!(
            headers[1],
            (
                "baggage",
                format!("sentry-trace_id={TRACE},sentry-sample_rate=0.5,sentry-sample_rand=0.123456,sentry-sampled=true")
            )
        );
    }

    #[test]
    fn an_old_upstream_sdk_freezes_an_empty_dsc() {
        let ctx = PropagationContext::from_headers([("sentry-trace", format!("{TRACE}-{SPAN}"))]);
        assert_eq!(ctx.dsc.as_deref(), Some(&DynamicSamplingContext::default()));
        assert_eq!(ctx.outgoing_headers().count(), 1, "no empty baggage header");
    }

    #[test]
    fn traceparent_is_used_when_sentry_trace_is_missing_or_invalid() {
        let ctx = PropagationContext::from_headers([
            ("sentry-trace", "garbage"),
            ("traceparent", &format!("00-{TRACE}-{SPAN}-00")),
        ]);
        assert_eq!(ctx.trace_id.to_string(), TRACE);
        assert_eq!(ctx.parent_sampled, Some(false));
    }

    #[test]
    fn missing_sample_rand_is_drawn_consistent_with_the_decision() {
        for _ in 0..50 {
            let ctx = PropagationContext::from_headers([
                ("sentry-trace", format!("{TRACE}-{SPAN}-1")),
                ("baggage", "sentry-sample_rate=0.3".to_owned()),
            ]);
            assert!(ctx.sample_rand < 0.3);
            let ctx = PropagationContext::from_headers([
                ("sentry-trace", format!("{TRACE}-{SPAN}-0")),
                ("baggage", "sentry-sample_rate=0.3".to_owned()),
            ]);
            assert!((0.3..1.0).contains(&ctx.sample_rand));
        }
    }

    #[test]
    fn no_headers_start_a_new_trace() {
        let ctx = PropagationContext::from_headers(Vec::<(&str, &str)>::new());
        assert!(!ctx.is_continued());
        assert!(ctx.dsc.is_none());
        assert!((0.0..1.0).contains(&ctx.sample_rand));
        let mut ctx = ctx;
        let config = TracingConfig {
            public_key: Some("pk".into()),
            ..Default::default()
        };
        let dsc = ctx.freeze_dsc(&config);
        assert_eq!(dsc.trace_id, Some(ctx.trace_id));
        assert_eq!(dsc.public_key.as_deref(), Some("pk"));
        let headers: Vec<_> = ctx.outgoing_headers().collect();
        assert_eq!(headers.len(), 2);
        assert!(headers[1].1.contains("sentry-public_key=pk"));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// No header value, however broken, panics the parsers; whatever is parsed emits
        /// headers that parse back to the same trace.
        #[test]
        fn arbitrary_headers_never_panic(
            trace in ".{0,80}",
            parent in ".{0,80}",
            baggage in "[a-z=,%; 0-9A-F-]{0,300}",
        ) {
            let _ = trace.parse::<SentryTrace>();
            let _ = parent.parse::<TraceParent>();
            let _ = Baggage::parse(&baggage);
            let ctx = PropagationContext::from_headers([
                ("sentry-trace", trace.as_str()),
                ("traceparent", parent.as_str()),
                ("baggage", baggage.as_str()),
            ]);
            prop_assert!((0.0..1.0).contains(&ctx.sample_rand));
            for (name, value) in ctx.outgoing_headers() {
                if name == SENTRY_TRACE_HEADER {
                    let back: SentryTrace = value.parse().expect("our own header parses");
                    prop_assert_eq!(back.trace_id, ctx.trace_id);
                } else {
                    let back = Baggage::parse(&value);
                    prop_assert!(back.third_party().is_empty());
                }
            }
        }

        /// Valid ids with any flag round-trip.
        #[test]
        fn valid_sentry_trace_round_trips(t in any::<[u8; 16]>(), s in any::<[u8; 8]>(), flag in 0u8..3) {
            prop_assume!(t.iter().any(|b| *b != 0) && s.iter().any(|b| *b != 0));
            let header = SentryTrace {
                trace_id: TraceId::from_bytes(t),
                span_id: SpanId::from_bytes(s),
                sampled: [None, Some(false), Some(true)][flag as usize],
            };
            prop_assert_eq!(header.to_string().parse::<SentryTrace>().expect("parses"), header);
        }
    }
}
