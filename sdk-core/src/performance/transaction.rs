//! Transactions: the root of a tree of spans, sampled once and sent when finished.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use sdk_transport::{DataCategory, DiscardReason};

use super::baggage::merge_baggage;
use super::data::SpanData;
use super::dsc::{format_rand, format_rate, DynamicSamplingContext};
use super::propagation::{
    PropagationContext, SentryTrace, TraceParent, BAGGAGE_HEADER, SENTRY_TRACE_HEADER,
    TRACEPARENT_HEADER,
};
use super::protocol::FinishedTransaction;
use super::sampling::{sample_rand_from_trace_id, DecisionSource, SamplingDecision};
use super::sink::TransactionSink;
use super::span::{
    lock, record_span_overflow, take_tx_handle, CodeLocation, Measurement, Span, SpanRecord,
    SpanRepr, SpanStart, SLOT_NONE, SLOT_OWNED,
};
use crate::ids::{SpanId, TraceId};
use crate::protocol::{SpanStatus, TraceContext};

/// How a transaction's name was made (`transaction_info.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TransactionSource {
    /// Set by the user (default).
    #[default]
    Custom,
    /// A raw URL (high cardinality; never put into the DSC).
    Url,
    /// A parametrised route.
    Route,
    /// A view or handler name.
    View,
    /// A component name.
    Component,
    /// A background task name.
    Task,
}

impl TransactionSource {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionSource::Custom => "custom",
            TransactionSource::Url => "url",
            TransactionSource::Route => "route",
            TransactionSource::View => "view",
            TransactionSource::Component => "component",
            TransactionSource::Task => "task",
        }
    }
}

impl fmt::Display for TransactionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a transaction starts from: its name and operation, and the trace it belongs to.
///
/// ```
/// use sdk_core::performance::{TransactionContext, TransactionSource};
/// let ctx = TransactionContext::new("GET /users/{id}", "http.server")
///     .with_source(TransactionSource::Route)
///     .with_origin("auto.http.axum");
/// assert_eq!(ctx.name(), "GET /users/{id}");
/// ```
#[derive(Debug, Clone)]
pub struct TransactionContext {
    name: Cow<'static, str>,
    op: Cow<'static, str>,
    source: TransactionSource,
    origin: Option<Cow<'static, str>>,
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    parent_sampled: Option<bool>,
    sampled: Option<bool>,
    sample_rand: f64,
    dsc: Option<Arc<DynamicSamplingContext>>,
    code: Option<&'static CodeLocation>,
    data: SpanData,
}

/// A new trace's id and its root span's id, both non-zero, from one access to the thread's
/// generator. Full-range draws: a bounded one (`1..`) costs a 128-bit multiply and a 128-bit
/// division per id; a zero (one chance in 2^64 or 2^128) is simply drawn again.
#[inline]
fn fresh_ids() -> (TraceId, SpanId) {
    let mut rng = fastrand::Rng::new();
    let trace = loop {
        let n = rng.u128(..);
        if n != 0 {
            break n;
        }
    };
    let span = loop {
        let n = rng.u64(..);
        if n != 0 {
            break n;
        }
    };
    (
        TraceId::from_bytes(trace.to_le_bytes()),
        SpanId::from_bytes(span.to_le_bytes()),
    )
}

impl TransactionContext {
    /// A context for a new trace.
    // Always inlined, like the `with_*` setters: a context built with a chain of them is then
    // written once, in place, instead of being copied (160 bytes) at every step.
    #[inline(always)]
    pub fn new(name: impl Into<Cow<'static, str>>, op: impl Into<Cow<'static, str>>) -> Self {
        let (trace_id, span_id) = fresh_ids();
        TransactionContext {
            name: name.into(),
            op: op.into(),
            source: TransactionSource::Custom,
            origin: None,
            trace_id,
            span_id,
            parent_span_id: None,
            parent_sampled: None,
            sampled: None,
            sample_rand: sample_rand_from_trace_id(trace_id),
            dsc: None,
            code: None,
            data: SpanData::new(),
        }
    }

    /// A context that continues the trace of `propagation` (from incoming headers, or the
    /// scope's propagation context so that earlier errors and this transaction share a trace).
    pub fn from_propagation_context(
        name: impl Into<Cow<'static, str>>,
        op: impl Into<Cow<'static, str>>,
        propagation: &PropagationContext,
    ) -> Self {
        let mut ctx = TransactionContext::new(name, op);
        ctx.trace_id = propagation.trace_id;
        ctx.parent_span_id = propagation.parent_span_id;
        ctx.parent_sampled = propagation.parent_sampled;
        ctx.sample_rand = propagation.sample_rand;
        ctx.dsc = propagation.dsc.clone();
        ctx
    }

    /// A context that continues the trace of incoming request headers (`sentry-trace` or
    /// `traceparent`, and `baggage`); a new trace when they carry none.
    ///
    /// ```
    /// use sdk_core::performance::TransactionContext;
    /// let ctx = TransactionContext::continue_from_headers(
    ///     "GET /", "http.server",
    ///     [("sentry-trace", "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-0")],
    /// );
    /// assert_eq!(ctx.trace_id().to_string(), "771a43a4192642f0b136d5159a501700");
    /// assert_eq!(ctx.parent_sampled(), Some(false));
    /// ```
    pub fn continue_from_headers<'a, I, K, V>(
        name: impl Into<Cow<'static, str>>,
        op: impl Into<Cow<'static, str>>,
        headers: I,
    ) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str> + 'a,
        V: AsRef<str> + 'a,
    {
        let propagation = PropagationContext::from_headers(headers);
        TransactionContext::from_propagation_context(name, op, &propagation)
    }

    /// A context that continues the trace of a parent span or transaction of this process
    /// (e.g. a transaction started on another thread for work the span hands off).
    pub fn continue_from_span(
        name: impl Into<Cow<'static, str>>,
        op: impl Into<Cow<'static, str>>,
        parent: &super::span::TransactionOrSpan,
    ) -> Self {
        let tx = parent.transaction();
        let mut ctx = TransactionContext::new(name, op);
        ctx.trace_id = parent.trace_id();
        ctx.parent_span_id = Some(parent.span_id());
        ctx.parent_sampled = Some(parent.is_sampled());
        ctx.sample_rand = tx.shared.decision.sample_rand;
        ctx.dsc = Some(tx.dsc());
        ctx
    }

    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the operation.
    pub fn with_op(mut self, op: impl Into<Cow<'static, str>>) -> Self {
        self.op = op.into();
        self
    }

    /// Sets how the name was made.
    pub fn with_source(mut self, source: TransactionSource) -> Self {
        self.source = source;
        self
    }

    /// Sets the origin (`manual` when unset).
    pub fn with_origin(mut self, origin: impl Into<Cow<'static, str>>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Sets where in the code the transaction is started (see
    /// [`Transaction::set_code_location`]); takes a `&'static CodeLocation` or an `Option` of
    /// one (`None` leaves it unset), so instrumentation that may not know it sets it in one
    /// call.
    #[inline(always)]
    pub fn with_code_location(mut self, code: impl Into<Option<&'static CodeLocation>>) -> Self {
        self.code = code.into();
        self
    }

    /// Sets the transaction's data (`contexts.trace.data`) from the start (see
    /// [`Transaction::set_data`]).
    ///
    /// ```
    /// use sdk_core::performance::{SpanData, TransactionContext};
    /// let data: SpanData = [("route", "/items")].into_iter().collect();
    /// let ctx = TransactionContext::new("GET /items", "http.server").with_data(data);
    /// # drop(ctx);
    /// ```
    #[inline(always)]
    pub fn with_data(mut self, data: impl Into<SpanData>) -> Self {
        self.data = data.into();
        self
    }

    /// Forces the sampling decision (`None`: let the sampler and rate decide).
    pub fn with_sampled(mut self, sampled: Option<bool>) -> Self {
        self.sampled = sampled;
        self
    }

    /// Sets the parent's decision, as if it came in with the trace.
    pub fn with_parent_sampled(mut self, parent_sampled: Option<bool>) -> Self {
        self.parent_sampled = parent_sampled;
        self
    }

    /// Sets the trace's random value (in [0, 1); out-of-range values are ignored).
    pub fn with_sample_rand(mut self, sample_rand: f64) -> Self {
        if (0.0..1.0).contains(&sample_rand) {
            self.sample_rand = sample_rand;
        }
        self
    }

    /// Sets the trace id, starting a new trace with that id.
    pub fn with_trace_id(mut self, trace_id: TraceId) -> Self {
        self.trace_id = trace_id;
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operation.
    pub fn op(&self) -> &str {
        &self.op
    }

    /// The name's source.
    pub fn source(&self) -> TransactionSource {
        self.source
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id the transaction's root span will have.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The incoming parent span id, when continuing a trace.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.parent_span_id
    }

    /// The parent's decision.
    pub fn parent_sampled(&self) -> Option<bool> {
        self.parent_sampled
    }

    /// The parent's sample rate from the incoming DSC.
    pub fn parent_sample_rate(&self) -> Option<f64> {
        self.dsc.as_ref().and_then(|d| d.sample_rate_f64())
    }

    /// The explicit decision, if any.
    pub fn sampled(&self) -> Option<bool> {
        self.sampled
    }

    /// The trace's random value.
    pub fn sample_rand(&self) -> f64 {
        self.sample_rand
    }

    /// The incoming DSC, when continuing a trace.
    pub fn dynamic_sampling_context(&self) -> Option<&DynamicSamplingContext> {
        self.dsc.as_deref()
    }

    /// Forgets the incoming trace and starts a new one (untrusted org id).
    fn restart_trace(&mut self) {
        self.trace_id = TraceId::random();
        self.parent_span_id = None;
        self.parent_sampled = None;
        self.sample_rand = sample_rand_from_trace_id(self.trace_id);
        self.dsc = None;
    }
}

#[derive(Debug, Default)]
pub(crate) struct TxState {
    name: Cow<'static, str>,
    op: Cow<'static, str>,
    source: TransactionSource,
    origin: Option<Cow<'static, str>>,
    code: Option<&'static CodeLocation>,
    status: Option<SpanStatus>,
    /// Absent until a tag is set: a transaction without tags drops no empty map.
    tags: Option<BTreeMap<String, String>>,
    data: SpanData,
    /// Absent until a measurement is set.
    measurements: Option<BTreeMap<String, Measurement>>,
    /// Recorded spans, at most `max_spans` of them: a span whose handle kept its start data
    /// is pushed closed when it finishes (so in finish order); a span cloned, changed or
    /// started with data is pushed open when that happens (its slot is its index) and closed
    /// in place.
    spans: Vec<SpanRecord>,
    /// Spans finished so far (the last one's place in the finish order).
    finished_spans: u32,
    /// Whether any record was pushed open: only then can `spans` hold open records or be out
    /// of finish order.
    pushed_open: bool,
    finished: bool,
}

/// Why a span's record was not taken into its transaction's state.
enum Refused {
    /// The transaction already finished.
    Finished,
    /// The transaction holds `max_spans` records (counted as a discard by the caller, once
    /// the lock is released).
    Overflow,
}

impl TxState {
    /// The slot the next span record takes, when the transaction may still record one; the
    /// first record allocates room for 16 directly (not `reserve`'s growth path).
    fn next_slot(&mut self, max_spans: usize) -> Result<usize, Refused> {
        if self.finished {
            return Err(Refused::Finished);
        }
        let slot = self.spans.len();
        if slot >= max_spans || slot >= SLOT_NONE as usize {
            return Err(Refused::Overflow);
        }
        if self.spans.capacity() == 0 {
            self.spans = Vec::with_capacity(16);
        }
        Ok(slot)
    }
}

/// What a transaction and all its spans share.
pub(crate) struct TxShared {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    parent_span_id: Option<SpanId>,
    pub(crate) sampled: bool,
    decision: SamplingDecision,
    pub(crate) sink: Arc<dyn TransactionSink>,
    start_wall: SystemTime,
    start_mono: super::clock::Start,
    /// Spans started in an unsampled transaction, for client reports (a sampled one counts
    /// its spans under its lock).
    children: AtomicUsize,
    /// Nanoseconds after `start_wall` where the transaction starts (0 unless moved by
    /// [`Transaction::set_start_now`] / [`Transaction::set_start_timestamp`]): an atomic, so
    /// that moving it (the `tracing` layer does at a span's first enter) takes no lock.
    start_offset: AtomicI64,
    /// Whether [`Transaction::set_start_once`] moved the start.
    start_moved: AtomicBool,
    max_spans: usize,
    dsc: OnceLock<Arc<DynamicSamplingContext>>,
    state: Mutex<TxState>,
}

impl fmt::Debug for TxShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("sampled", &self.sampled)
            .finish_non_exhaustive()
    }
}

impl TxShared {
    /// Nanoseconds since the transaction started.
    pub(crate) fn now_offset(&self) -> i64 {
        self.start_mono.elapsed_nanos()
    }

    /// Nanoseconds between the transaction's start and `time` (negative when before).
    pub(crate) fn offset_of(&self, time: SystemTime) -> i64 {
        match time.duration_since(self.start_wall) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
        }
    }

    /// The wall-clock time of an offset.
    pub(crate) fn time_at(&self, offset: i64) -> SystemTime {
        if offset >= 0 {
            self.start_wall
                .checked_add(Duration::from_nanos(offset as u64))
                .unwrap_or(self.start_wall)
        } else {
            self.start_wall
                .checked_sub(Duration::from_nanos(offset.unsigned_abs()))
                .unwrap_or(self.start_wall)
        }
    }

    /// Starts recording a span that started at offset `start` with its record in the state:
    /// its record's slot, or `None` when it must not be recorded (over `max_spans` (counted
    /// as a discard), or the transaction already finished). One lock, no allocation but the
    /// transaction's first span's.
    pub(crate) fn open_span(&self, span: SpanStart, start: i64) -> Option<usize> {
        let start = self.time_at(start);
        let mut state = lock(&self.state);
        match state.next_slot(self.max_spans) {
            Ok(slot) => {
                state.spans.push(SpanRecord::open(span, start));
                state.pushed_open = true;
                Some(slot)
            }
            Err(Refused::Finished) => None,
            Err(Refused::Overflow) => {
                drop(state);
                record_span_overflow(self);
                None
            }
        }
    }

    /// The slot of the span's record in `state` (under the lock), moving the record there
    /// first when the handle `repr` still holds it; `None` when the span records nothing
    /// (`overflow` is set when that is because of `max_spans`, for the caller to count once
    /// the lock is released).
    fn span_slot(
        &self,
        state: &mut TxState,
        repr: &SpanRepr,
        overflow: &mut bool,
    ) -> Option<usize> {
        // Read again under the lock: another thread sharing the handle may have moved the
        // record in the meantime.
        match repr.slot.load(Ordering::Relaxed) {
            SLOT_NONE => return None,
            SLOT_OWNED => {}
            slot => return Some(slot as usize),
        }
        let slot = match state.next_slot(self.max_spans) {
            Ok(slot) => slot,
            Err(refused) => {
                *overflow = matches!(refused, Refused::Overflow);
                repr.slot.store(SLOT_NONE, Ordering::Relaxed);
                return None;
            }
        };
        let record = SpanRecord::open(
            SpanStart {
                span_id: repr.span_id,
                parent_span_id: repr.parent_span_id,
                op: Cow::Borrowed(repr.op),
                description: repr.description.map(Cow::Borrowed),
                code: None,
                data: SpanData::new(),
            },
            self.time_at(repr.start),
        );
        state.spans.push(record);
        state.pushed_open = true;
        repr.slot.store(slot as u32, Ordering::Relaxed);
        Some(slot)
    }

    /// Moves a span's record from its handle into the state (one lock), for its clones:
    /// the record's slot, `None` when it records nothing.
    pub(crate) fn share_span(&self, repr: &SpanRepr) -> Option<usize> {
        let mut overflow = false;
        let slot = self.span_slot(&mut lock(&self.state), repr, &mut overflow);
        if overflow {
            record_span_overflow(self);
        }
        slot
    }

    /// Counts a span of an unsampled transaction (for its client report).
    pub(crate) fn count_unsampled_span(&self) {
        self.children.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs `f` on an open span's record (moved into the state first when the handle holds
    /// it); nothing once it (or the transaction) finished. One lock.
    pub(crate) fn edit_span(&self, repr: &SpanRepr, f: impl FnOnce(&mut SpanRecord)) {
        let mut overflow = false;
        {
            let mut state = lock(&self.state);
            if let Some(slot) = self.span_slot(&mut state, repr, &mut overflow) {
                if let Some(span) = state.spans.get_mut(slot).filter(|s| s.is_open()) {
                    f(span);
                }
            }
        }
        if overflow {
            record_span_overflow(self);
        }
    }

    /// Finishes a span whose handle holds its start data: its closed record goes to the
    /// end of the state's records (which are in finish order), under one lock. `false` when
    /// the transaction already finished.
    pub(crate) fn push_finished_span(&self, span: SpanStart, start: i64, end: SystemTime) -> bool {
        let start_timestamp = self.time_at(start);
        let mut state = lock(&self.state);
        match state.next_slot(self.max_spans) {
            Ok(_) => {
                let seq = state.finished_spans.saturating_add(1);
                state.finished_spans = seq;
                let mut record = SpanRecord::open(span, start_timestamp);
                record.close(end, seq);
                state.spans.push(record);
                true
            }
            Err(Refused::Finished) => false,
            Err(Refused::Overflow) => {
                drop(state);
                record_span_overflow(self);
                true
            }
        }
    }

    /// Closes an open span's record, ending it at `end`; `false` when it already finished
    /// or the transaction did.
    pub(crate) fn close_span(&self, slot: usize, end: SystemTime) -> bool {
        let mut state = lock(&self.state);
        let seq = state.finished_spans.saturating_add(1);
        let Some(span) = state.spans.get_mut(slot).filter(|s| s.is_open()) else {
            return false;
        };
        span.close(end, seq);
        state.finished_spans = seq;
        true
    }

    /// The sampling decision as propagated (`None`, deferred, when tracing is off).
    pub(crate) fn propagated_sampled(&self) -> Option<bool> {
        match self.decision.source {
            DecisionSource::TracingDisabled => None,
            _ => Some(self.sampled),
        }
    }

    /// The frozen DSC, built the first time it is asked for. Takes the name as a `Cow` so
    /// that a static name is shared, not copied.
    #[allow(clippy::ptr_arg)]
    fn dsc_with(
        &self,
        name: &Cow<'static, str>,
        source: TransactionSource,
    ) -> Arc<DynamicSamplingContext> {
        self.dsc
            .get_or_init(|| {
                let config = self.sink.config();
                Arc::new(DynamicSamplingContext {
                    trace_id: Some(self.trace_id),
                    public_key: config.public_key.clone(),
                    sample_rate: self.decision.sample_rate.map(format_rate),
                    sample_rand: Some(format_rand(self.decision.sample_rand)),
                    sampled: self.propagated_sampled(),
                    release: config.release.clone(),
                    environment: config.environment.clone(),
                    transaction: (source != TransactionSource::Url && !name.is_empty())
                        .then(|| name.clone()),
                    org_id: config.org_id.clone(),
                    ..Default::default()
                })
            })
            .clone()
    }

    pub(crate) fn dsc(&self) -> Arc<DynamicSamplingContext> {
        if let Some(dsc) = self.dsc.get() {
            return dsc.clone();
        }
        let (name, source) = {
            let state = lock(&self.state);
            (state.name.clone(), state.source)
        };
        self.dsc_with(&name, source)
    }

    /// Sentry's `baggage` members for outgoing requests (freezes the DSC).
    pub(crate) fn dsc_baggage(&self) -> Option<String> {
        merge_baggage(None, &self.dsc().to_baggage())
    }
}

/// A finished transaction's state writes the trace's DSC as its envelope's `trace` header
/// (freezing it first), on the delivery worker.
impl sdk_transport::ItemPayload for TxShared {
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), sdk_transport::PayloadError> {
        self.dsc().write_to(out)
    }

    fn size_hint(&self) -> usize {
        256
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A transaction: the root span of a trace in this service, with its child spans. Cheap to
/// clone (clones share it).
///
/// ```
/// use std::sync::Arc;
/// use sdk_core::performance::{RecordingSink, SpanStatus, Transaction, TransactionContext};
/// let sink = Arc::new(RecordingSink::with_sample_rate(1.0));
/// let tx = Transaction::start(TransactionContext::new("GET /api/items", "http.server"), sink.clone());
/// let span = tx.start_child("db.query", "SELECT * FROM items");
/// span.set_status(SpanStatus::Ok);
/// span.finish();
/// tx.set_measurement("items", 3.0, "none");
/// tx.finish();
/// let sent = sink.transactions();
/// assert_eq!(sent[0].name, "GET /api/items");
/// assert_eq!(sent[0].spans[0].op, "db.query");
/// ```
#[derive(Debug, Clone)]
pub struct Transaction {
    pub(crate) shared: Arc<TxShared>,
}

impl Transaction {
    /// Starts a transaction: samples it with the sink's config and records its start time.
    /// An unsampled transaction records nothing but still propagates its trace.
    pub fn start(mut ctx: TransactionContext, sink: Arc<dyn TransactionSink>) -> Transaction {
        let config = sink.config();
        if ctx.parent_span_id.is_some() {
            let incoming_org = ctx.dsc.as_ref().and_then(|d| d.org_id.as_deref());
            if !config.may_continue_from(incoming_org) {
                sdk_transport::sdk_debug!(
                    "not continuing trace {}: its org id does not match ours",
                    ctx.trace_id
                );
                ctx.restart_trace();
            }
        }
        let decision = config.sampling.decide(&ctx);
        let max_spans = config.max_spans;
        // An unsampled transaction never reports a time: it reads no clock.
        let (start_wall, start_mono) = if decision.sampled {
            super::clock::now_with_wall()
        } else {
            (SystemTime::UNIX_EPOCH, super::clock::Start::unused())
        };
        let dsc = OnceLock::new();
        if let Some(incoming) = ctx.dsc.take() {
            let _ = dsc.set(incoming);
        }
        let shared = TxShared {
            trace_id: ctx.trace_id,
            span_id: ctx.span_id,
            parent_span_id: ctx.parent_span_id,
            sampled: decision.sampled,
            decision,
            sink,
            start_wall,
            start_mono,
            children: AtomicUsize::new(0),
            start_offset: AtomicI64::new(0),
            start_moved: AtomicBool::new(false),
            max_spans,
            dsc,
            state: Mutex::new(TxState {
                name: ctx.name,
                op: ctx.op,
                source: ctx.source,
                origin: ctx.origin,
                code: ctx.code,
                data: ctx.data,
                ..TxState::default()
            }),
        };
        Transaction {
            shared: Arc::new(shared),
        }
    }

    /// Spans held by the transaction (test probe for leaks).
    #[cfg(test)]
    pub(crate) fn pending_spans(&self) -> usize {
        lock(&self.shared.state).spans.len()
    }

    pub(crate) fn from_shared(shared: Arc<TxShared>) -> Transaction {
        Transaction { shared }
    }

    fn with_state(&self, f: impl FnOnce(&mut TxState)) {
        if !self.shared.sampled {
            return;
        }
        let mut state = lock(&self.shared.state);
        if !state.finished {
            f(&mut state);
        }
    }

    /// Starts a child span.
    pub fn start_child(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Span {
        Span::start(
            &self.shared,
            self.shared.span_id,
            op.into(),
            Some(description.into()),
        )
    }

    /// Starts a child span with its code location and data set from the start (for
    /// instrumentation: one lock instead of one per setter).
    pub fn start_child_with(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
        code: Option<&'static CodeLocation>,
        data: impl Into<SpanData>,
    ) -> Span {
        Span::start_with(
            &self.shared,
            self.shared.span_id,
            op.into(),
            Some(description.into()),
            code,
            data.into(),
        )
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.shared.trace_id
    }

    /// The root span's id.
    pub fn span_id(&self) -> SpanId {
        self.shared.span_id
    }

    /// The incoming parent span id, when the trace was continued.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.shared.parent_span_id
    }

    /// Whether the transaction is sampled (recorded and sent).
    pub fn is_sampled(&self) -> bool {
        self.shared.sampled
    }

    /// The sampling decision it was started with.
    pub fn sampling_decision(&self) -> SamplingDecision {
        self.shared.decision
    }

    /// The current name.
    pub fn name(&self) -> String {
        lock(&self.shared.state).name.to_string()
    }

    /// Renames the transaction.
    pub fn set_name(&self, name: impl Into<Cow<'static, str>>) {
        self.with_state(|s| s.name = name.into());
    }

    /// Sets how the name was made.
    pub fn set_source(&self, source: TransactionSource) {
        self.with_state(|s| s.source = source);
    }

    /// Sets the operation.
    pub fn set_op(&self, op: impl Into<Cow<'static, str>>) {
        self.with_state(|s| s.op = op.into());
    }

    /// Sets the origin.
    pub fn set_origin(&self, origin: impl Into<Cow<'static, str>>) {
        self.with_state(|s| s.origin = Some(origin.into()));
    }

    /// Sets the status.
    pub fn set_status(&self, status: SpanStatus) {
        self.with_state(|s| s.status = Some(status));
    }

    /// The status set so far.
    pub fn status(&self) -> Option<SpanStatus> {
        lock(&self.shared.state).status
    }

    /// Sets a data attribute (`contexts.trace.data`).
    pub fn set_data(&self, key: impl Into<Cow<'static, str>>, value: impl Into<serde_json::Value>) {
        self.with_state(|s| {
            s.data.insert(key.into(), value.into());
        });
    }

    /// Sets several data attributes at once (one lock).
    pub fn extend_data<K, V>(&self, data: impl IntoIterator<Item = (K, V)>)
    where
        K: Into<Cow<'static, str>>,
        V: Into<serde_json::Value>,
    {
        self.with_state(|s| s.data.extend(data));
    }

    /// Sets where in the code the transaction was started.
    pub fn set_code_location(&self, code: &'static CodeLocation) {
        self.with_state(|s| s.code = Some(code));
    }

    /// Sets several data attributes at once, taking the map as it is when there is none yet.
    pub fn set_data_map(&self, data: impl Into<SpanData>) {
        let data = data.into();
        self.with_state(|s| {
            if s.data.is_empty() {
                s.data = data;
            } else {
                s.data.extend(data);
            }
        });
    }

    /// Sets a tag.
    pub fn set_tag(&self, key: impl Into<String>, value: impl Into<String>) {
        self.with_state(|s| {
            s.tags
                .get_or_insert_with(BTreeMap::new)
                .insert(key.into(), value.into());
        });
    }

    /// Sets a measurement (unit e.g. `millisecond`, `byte`, `none`).
    pub fn set_measurement(
        &self,
        name: impl Into<String>,
        value: f64,
        unit: impl Into<Cow<'static, str>>,
    ) {
        self.with_state(|s| {
            s.measurements.get_or_insert_with(BTreeMap::new).insert(
                name.into(),
                Measurement {
                    value,
                    unit: unit.into(),
                },
            );
        });
    }

    /// The trace's DSC, frozen from now on.
    pub fn dsc(&self) -> Arc<DynamicSamplingContext> {
        self.shared.dsc()
    }

    /// The `sentry-trace` value for outgoing requests.
    pub fn sentry_trace(&self) -> SentryTrace {
        SentryTrace {
            trace_id: self.shared.trace_id,
            span_id: self.shared.span_id,
            sampled: self.shared.propagated_sampled(),
        }
    }

    /// The W3C `traceparent` value for outgoing requests (a deferred decision is `00`).
    pub fn traceparent(&self) -> TraceParent {
        TraceParent::from(self.sentry_trace())
    }

    /// Headers to add to an outgoing request (`sentry-trace`, `baggage`, and `traceparent`
    /// with the `propagate_traceparent` option).
    pub fn iter_headers(&self) -> impl Iterator<Item = (&'static str, String)> {
        let trace = (SENTRY_TRACE_HEADER, self.sentry_trace().to_string());
        let baggage = self.shared.dsc_baggage().map(|b| (BAGGAGE_HEADER, b));
        let parent = self
            .shared
            .sink
            .config()
            .propagate_traceparent
            .then(|| (TRACEPARENT_HEADER, self.traceparent().to_string()));
        std::iter::once(trace).chain(baggage).chain(parent)
    }

    /// The trace context for events captured inside the transaction.
    pub fn trace_context(&self) -> TraceContext {
        let state = lock(&self.shared.state);
        TraceContext {
            trace_id: self.shared.trace_id,
            span_id: self.shared.span_id,
            parent_span_id: self.shared.parent_span_id,
            op: Some(state.op.to_string()),
            status: state.status,
            ..TraceContext::default()
        }
    }

    /// Moves the transaction's start to now: for instrumentation that creates a transaction
    /// before its work begins (the `tracing` layer times a span from its first enter). Spans
    /// already started keep their times. Does nothing once finished or when not sampled.
    pub fn set_start_now(&self) {
        if self.shared.sampled {
            let offset = self.shared.now_offset();
            self.shared.start_offset.store(offset, Ordering::Relaxed);
        }
    }

    /// Moves the transaction's start to now the first time it is called; later calls do
    /// nothing (a plain load and store, no lock: two threads calling it at once both move the
    /// start, to about the same time).
    pub fn set_start_once(&self) {
        if self.shared.sampled && !self.shared.start_moved.load(Ordering::Relaxed) {
            self.shared.start_moved.store(true, Ordering::Relaxed);
            self.set_start_now();
        }
    }

    /// Sets the transaction's start time explicitly (see [`Transaction::finish_at`] for its
    /// end).
    pub fn set_start_timestamp(&self, timestamp: SystemTime) {
        if self.shared.sampled {
            let offset = self.shared.offset_of(timestamp);
            self.shared.start_offset.store(offset, Ordering::Relaxed);
        }
    }

    /// Finishes the transaction now and hands it to the sink when sampled. Spans finished
    /// later are not sent. Finishing twice does nothing.
    pub fn finish(self) {
        let end = self.shared.sampled.then(|| self.shared.now_offset());
        self.finish_with(end);
    }

    /// Finishes the transaction with an explicit end time.
    pub fn finish_at(self, timestamp: SystemTime) {
        let end = self.shared.offset_of(timestamp);
        self.finish_with(Some(end));
    }

    fn finish_with(self, end: Option<i64>) {
        let Transaction { shared } = self;
        // A reference this thread kept for the next span serves the finished transaction
        // (no new one), or is released.
        let kept = take_tx_handle(&shared);
        // The parts that are sent are taken field by field (not the whole state swapped for a
        // default one): what is left behind is empty and dropped with the transaction.
        let state = {
            let mut guard = lock(&shared.state);
            if guard.finished {
                return;
            }
            guard.finished = true;
            let g = &mut *guard;
            TakenState {
                // Kept in the state too: the DSC, frozen later from the state, names the
                // transaction (a static name costs nothing to clone).
                name: g.name.clone(),
                op: std::mem::take(&mut g.op),
                source: g.source,
                origin: g.origin.take(),
                code: g.code,
                status: g.status,
                start_offset: shared.start_offset.load(Ordering::Relaxed),
                spans: std::mem::take(&mut g.spans),
                pushed_open: g.pushed_open,
                tags: g.tags.take().unwrap_or_default(),
                data: std::mem::take(&mut g.data),
                measurements: g.measurements.take().unwrap_or_default(),
            }
        };
        if !shared.sampled {
            if shared.decision.source != DecisionSource::TracingDisabled {
                let spans = shared.children.load(Ordering::Relaxed) as u64;
                shared
                    .sink
                    .record_discard(DiscardReason::SampleRate, DataCategory::Transaction, 1);
                shared.sink.record_discard(
                    DiscardReason::SampleRate,
                    DataCategory::Span,
                    spans + 1,
                );
            }
            return;
        }
        // Records all pushed closed are in finish order already: nothing to look at.
        let spans = if state.pushed_open {
            finished_in_order(state.spans)
        } else {
            state.spans
        };
        let config = shared.sink.config();
        // Never before the start (offset 0 unless the start was moved).
        let end = end
            .unwrap_or_else(|| shared.now_offset())
            .max(state.start_offset);
        let finished = FinishedTransaction {
            event_id: new_event_id(),
            trace_id: shared.trace_id,
            span_id: shared.span_id,
            parent_span_id: shared.parent_span_id,
            name: state.name,
            op: state.op,
            source: state.source,
            origin: state.origin,
            code: state.code,
            status: state.status,
            start_timestamp: shared.time_at(state.start_offset),
            timestamp: shared.time_at(end),
            spans,
            tags: state.tags,
            data: state.data,
            measurements: state.measurements,
            release: config.release.clone(),
            environment: config.environment.clone(),
            sample_rate: shared.decision.sample_rate,
            extra: serde_json::Map::new(),
            shared_fields: None,
            scope: None,
            trace: kept.unwrap_or_else(|| shared.clone()),
        };
        shared.sink.send(Arc::new(finished));
    }
}

/// What a finishing transaction takes out of its state.
struct TakenState {
    name: Cow<'static, str>,
    op: Cow<'static, str>,
    source: TransactionSource,
    origin: Option<Cow<'static, str>>,
    code: Option<&'static CodeLocation>,
    status: Option<SpanStatus>,
    start_offset: i64,
    spans: Vec<SpanRecord>,
    pushed_open: bool,
    tags: BTreeMap<String, String>,
    data: SpanData,
    measurements: BTreeMap<String, Measurement>,
}

/// The finished spans in the order they finished; spans still open are dropped (not sent).
/// Spans that finish in the order they started (the usual case) are not moved.
fn finished_in_order(mut spans: Vec<SpanRecord>) -> Vec<SpanRecord> {
    if spans.iter().any(SpanRecord::is_open) {
        spans.retain(|s| !s.is_open());
    }
    if !spans.is_sorted_by_key(SpanRecord::finish_seq) {
        spans.sort_unstable_by_key(SpanRecord::finish_seq);
    }
    spans
}

pub(crate) use crate::ids::new_event_id;
