//! Spans: child operations of a transaction, their status and their finished records.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use sdk_transport::{DataCategory, DiscardReason};
use serde::Serialize;

use super::data::SpanData;
use super::propagation::{
    SentryTrace, TraceParent, BAGGAGE_HEADER, SENTRY_TRACE_HEADER, TRACEPARENT_HEADER,
};
use super::transaction::{Transaction, TxShared};
use crate::ids::{SpanId, TraceId};
use crate::protocol::{SpanStatus, TraceContext};

/// Locks a mutex, taking the data even if a thread panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where spans were created in the code: one value per instrumentation point (e.g. a
/// `tracing` callsite), shared by every span made there. It costs a span nothing but a
/// pointer; its entries are written into the span's `data` (as `code.file.path`,
/// `code.line.number`, `code.module.name` and `sentry.tracing.target`) when the transaction is
/// serialised on the delivery worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodeLocation {
    /// The source file.
    pub file: Option<&'static str>,
    /// The line in the file.
    pub line: Option<u32>,
    /// The module path.
    pub module: Option<&'static str>,
    /// The `tracing` target.
    pub target: Option<&'static str>,
}

impl CodeLocation {
    /// The entries as data keys and values.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, serde_json::Value)> {
        [
            ("code.file.path", self.file.map(serde_json::Value::from)),
            ("code.line.number", self.line.map(serde_json::Value::from)),
            ("code.module.name", self.module.map(serde_json::Value::from)),
            (
                "sentry.tracing.target",
                self.target.map(serde_json::Value::from),
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
    }
}

/// A measurement on a transaction (`measurements.{name}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// The value.
    pub value: f64,
    /// The unit, e.g. `millisecond`, `byte`, `none`.
    pub unit: Cow<'static, str>,
}

/// A finished span as it is sent inside its transaction.
///
/// A span that is cloned or changed while open has its record built in place in its
/// transaction's state (the span's setters write into it); any other span's record is built
/// once, when it finishes. The record is kept within 128 bytes (its rarely set parts, the
/// origin, tags and data, sit behind one pointer), so it is copied inline, without a
/// `memcpy` call.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// The span's id.
    pub span_id: SpanId,
    /// Its parent: the transaction's root span or another span.
    pub parent_span_id: SpanId,
    /// The operation, e.g. `db.query`.
    pub op: Cow<'static, str>,
    /// What the span did, e.g. the query.
    pub description: Option<Cow<'static, str>>,
    /// The status, when one was set.
    pub status: Option<SpanStatus>,
    /// Where in the code the span was created (written into `data`).
    pub code: Option<&'static CodeLocation>,
    /// When the span started.
    pub start_timestamp: SystemTime,
    /// When the span finished.
    pub timestamp: SystemTime,
    /// Origin, tags and data, absent when the span has none (see [`SpanRecord::origin`],
    /// [`SpanRecord::tags`] and [`SpanRecord::data`]): a plain span carries and drops no
    /// empty maps.
    extras: Option<Box<SpanExtras>>,
    /// 0 while the span is open, then its place in the transaction's finish order (from 1):
    /// spans are sent in the order they finished.
    seq: u32,
    /// Whether [`Span::set_start_once`] moved the start.
    start_moved: bool,
}

impl PartialEq for SpanRecord {
    fn eq(&self, other: &Self) -> bool {
        // `seq` is bookkeeping, not content.
        self.span_id == other.span_id
            && self.parent_span_id == other.parent_span_id
            && self.op == other.op
            && self.description == other.description
            && self.status == other.status
            && self.origin() == other.origin()
            && self.code == other.code
            && self.start_timestamp == other.start_timestamp
            && self.timestamp == other.timestamp
            && self.tags() == other.tags()
            && self.data() == other.data()
    }
}

impl SpanRecord {
    /// The origin: `None` for `manual` (the default), else e.g. `auto.db.sqlx`.
    pub fn origin(&self) -> Option<&str> {
        self.extras.as_ref().and_then(|e| e.origin.as_deref())
    }

    /// Sets the origin (e.g. in `before_send_transaction`; `None`: `manual`).
    pub fn set_origin(&mut self, origin: Option<Cow<'static, str>>) {
        match origin {
            Some(origin) => self.extras.get_or_insert_with(Box::default).origin = Some(origin),
            None => {
                if let Some(extras) = &mut self.extras {
                    extras.origin = None;
                }
            }
        }
    }

    /// String tags.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.extras.as_ref().map_or(&EMPTY, |e| &e.tags)
    }

    /// Span data (attributes).
    pub fn data(&self) -> &SpanData {
        static EMPTY: SpanData = SpanData::new();
        self.extras.as_ref().map_or(&EMPTY, |e| &e.data)
    }

    /// The tags, to change them (e.g. in `before_send_transaction`).
    pub fn tags_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.extras.get_or_insert_with(Box::default).tags
    }

    /// The data, to change it (e.g. in `before_send_transaction`).
    pub fn data_mut(&mut self) -> &mut SpanData {
        &mut self.extras.get_or_insert_with(Box::default).data
    }
}

/// What a span starts with.
pub(crate) struct SpanStart {
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) op: Cow<'static, str>,
    pub(crate) description: Option<Cow<'static, str>>,
    pub(crate) code: Option<&'static CodeLocation>,
    pub(crate) data: SpanData,
}

/// The parts of a span most spans never set.
#[derive(Debug, Clone, Default, PartialEq)]
struct SpanExtras {
    origin: Option<Cow<'static, str>>,
    tags: BTreeMap<String, String>,
    data: SpanData,
}

impl SpanRecord {
    /// A new open record: a span started at `start_timestamp` (its end is set when it
    /// finishes).
    #[inline]
    pub(crate) fn open(start: SpanStart, start_timestamp: SystemTime) -> SpanRecord {
        let extras = (!start.data.is_empty()).then(|| {
            Box::new(SpanExtras {
                origin: None,
                tags: BTreeMap::new(),
                data: start.data,
            })
        });
        SpanRecord {
            span_id: start.span_id,
            parent_span_id: start.parent_span_id,
            op: start.op,
            description: start.description,
            status: None,
            code: start.code,
            start_timestamp,
            timestamp: start_timestamp,
            extras,
            seq: 0,
            start_moved: false,
        }
    }

    /// Whether the span is still open.
    pub(crate) fn is_open(&self) -> bool {
        self.seq == 0
    }

    /// Its place in the finish order (0 while open).
    pub(crate) fn finish_seq(&self) -> u32 {
        self.seq
    }

    /// Closes the record: the span ended at `end` (never before its start), as the
    /// transaction's `seq`-th finished span.
    pub(crate) fn close(&mut self, end: SystemTime, seq: u32) {
        self.timestamp = end.max(self.start_timestamp);
        self.seq = seq.max(1);
        if self
            .extras
            .as_ref()
            .is_some_and(|e| e.origin.is_none() && e.tags.is_empty() && e.data.is_empty())
        {
            self.extras = None;
        }
    }
}

/// A span's `slot` while the handle itself holds the span's start data (no record in the
/// transaction's state yet).
pub(crate) const SLOT_OWNED: u32 = u32::MAX;
/// A span's `slot` when it records nothing (unsampled, over `max_spans`, or its transaction
/// finished before the span was recorded).
pub(crate) const SLOT_NONE: u32 = u32::MAX - 1;

#[derive(Debug)]
pub(crate) struct SpanRepr {
    pub(crate) tx: Arc<TxShared>,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    /// Where the span's record is: [`SLOT_OWNED`] while this handle holds the start data
    /// below and the transaction has no record of the span (a span that is started, finished
    /// and never cloned or changed in between takes the transaction's lock once, at its
    /// finish); [`SLOT_NONE`] when it records nothing; else the index of its record in the
    /// transaction's state, where the span's clones and setters find it. Written only under
    /// the transaction's lock (and read again there), so a plain load suffices outside it.
    pub(crate) slot: AtomicU32,
    /// The start data while `slot` is [`SLOT_OWNED`] (left empty otherwise). Only spans
    /// whose op and description are `&'static str` keep them in the handle (which keeps the
    /// handle small); others have their record in the transaction from the start.
    pub(crate) op: &'static str,
    pub(crate) description: Option<&'static str>,
    /// Nanoseconds after the transaction's start where the span starts.
    pub(crate) start: i64,
}

impl SpanRepr {
    /// The span's record slot (`None` when it records nothing), after giving the record to
    /// the transaction's state if this handle still holds it.
    fn shared_slot(&self) -> Option<usize> {
        match self.slot.load(Ordering::Relaxed) {
            SLOT_NONE => None,
            SLOT_OWNED => self.tx.share_span(self),
            slot => Some(slot as usize),
        }
    }
}

/// A child span of a transaction or of another span. Cheap to clone (clones share the span).
///
/// Start one with [`Transaction::start_child`] or [`Span::start_child`]; call
/// [`Span::finish`] when the work is done. A span of an unsampled transaction records nothing
/// (it still has ids for propagating the trace).
///
/// A span that is started and finished without being cloned or changed in between keeps its
/// start data in the handle and hands its finished record to the transaction in one step;
/// cloning it or calling a setter moves the record into the transaction first (one lock).
#[derive(Debug)]
pub struct Span {
    repr: SpanRepr,
}

impl Clone for Span {
    /// A handle on the same span: the span's record moves to its transaction first (one
    /// lock), where every handle finds it.
    fn clone(&self) -> Span {
        let slot = self
            .repr
            .shared_slot()
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(SLOT_NONE);
        Span {
            repr: SpanRepr {
                tx: tx_handle(&self.repr.tx),
                span_id: self.repr.span_id,
                parent_span_id: self.repr.parent_span_id,
                slot: AtomicU32::new(slot),
                op: "",
                description: None,
                start: self.repr.start,
            },
        }
    }
}

impl Span {
    /// Starts a child span under `parent_span_id` of the transaction `tx`.
    pub(crate) fn start(
        tx: &Arc<TxShared>,
        parent_span_id: SpanId,
        op: Cow<'static, str>,
        description: Option<Cow<'static, str>>,
    ) -> Span {
        Span::start_with(tx, parent_span_id, op, description, None, SpanData::new())
    }

    /// Starts a child span with its code location and data set from the start (one lock when
    /// either is given, none otherwise).
    #[inline]
    pub(crate) fn start_with(
        tx: &Arc<TxShared>,
        parent_span_id: SpanId,
        op: Cow<'static, str>,
        description: Option<Cow<'static, str>>,
        code: Option<&'static CodeLocation>,
        data: SpanData,
    ) -> Span {
        // One generator call, never zero (cheaper than filling bytes until non-zero).
        let span_id = SpanId::from_bytes(fastrand::u64(1..).to_le_bytes());
        if !tx.sampled {
            // Records nothing: only counted for the client report.
            tx.count_unsampled_span();
            return Span {
                repr: SpanRepr {
                    tx: tx_handle(tx),
                    span_id,
                    parent_span_id,
                    slot: AtomicU32::new(SLOT_NONE),
                    op: "",
                    description: None,
                    start: 0,
                },
            };
        }
        let start = tx.now_offset();
        let (op, description) = if data.is_empty() && code.is_none() {
            match (op, description) {
                (Cow::Borrowed(op), None) => {
                    return Span::owned(tx, span_id, parent_span_id, op, None, start)
                }
                (Cow::Borrowed(op), Some(Cow::Borrowed(description))) => {
                    return Span::owned(tx, span_id, parent_span_id, op, Some(description), start)
                }
                other => other,
            }
        } else {
            (op, description)
        };
        // A span started with data or a code location (instrumentation, which usually clones
        // the span at once), or with a name that is not static, has its record in the
        // transaction from the start: one lock now, and its data is never copied.
        let slot = tx
            .open_span(
                SpanStart {
                    span_id,
                    parent_span_id,
                    op,
                    description,
                    code,
                    data,
                },
                start,
            )
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(SLOT_NONE);
        Span {
            repr: SpanRepr {
                tx: tx_handle(tx),
                span_id,
                parent_span_id,
                slot: AtomicU32::new(slot),
                op: "",
                description: None,
                start,
            },
        }
    }

    /// A span whose handle keeps its start data until it finishes: no lock now.
    #[inline]
    fn owned(
        tx: &Arc<TxShared>,
        span_id: SpanId,
        parent_span_id: SpanId,
        op: &'static str,
        description: Option<&'static str>,
        start: i64,
    ) -> Span {
        Span {
            repr: SpanRepr {
                tx: tx_handle(tx),
                span_id,
                parent_span_id,
                slot: AtomicU32::new(SLOT_OWNED),
                op,
                description,
                start,
            },
        }
    }

    fn tx(&self) -> &Arc<TxShared> {
        &self.repr.tx
    }

    /// Runs `f` on the span's record while it is open (one lock; the record moves to the
    /// transaction first if this handle holds it).
    fn with_state(&self, f: impl FnOnce(&mut SpanRecord)) {
        match self.repr.slot.load(Ordering::Relaxed) {
            SLOT_NONE => {}
            _ => self.repr.tx.edit_span(&self.repr, f),
        }
    }

    /// Starts a span nested under this one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sdk_core::performance::{RecordingSink, Transaction, TransactionContext};
    /// let sink = Arc::new(RecordingSink::with_sample_rate(1.0));
    /// let tx = Transaction::start(TransactionContext::new("checkout", "http.server"), sink.clone());
    /// let outer = tx.start_child("service", "charge card");
    /// let inner = outer.start_child("http.client", "POST /charge");
    /// inner.finish();
    /// outer.finish();
    /// tx.finish();
    /// let sent = &sink.transactions()[0];
    /// assert_eq!(sent.spans[0].parent_span_id, sent.spans[1].span_id);
    /// ```
    pub fn start_child(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Span {
        Span::start(
            self.tx(),
            self.span_id(),
            op.into(),
            Some(description.into()),
        )
    }

    /// Starts a span nested under this one with its code location and data set from the start
    /// (for instrumentation: one lock instead of one per setter).
    pub fn start_child_with(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
        code: Option<&'static CodeLocation>,
        data: impl Into<SpanData>,
    ) -> Span {
        Span::start_with(
            self.tx(),
            self.span_id(),
            op.into(),
            Some(description.into()),
            code,
            data.into(),
        )
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.tx().trace_id
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.repr.span_id
    }

    /// The parent span id.
    pub fn parent_span_id(&self) -> SpanId {
        self.repr.parent_span_id
    }

    /// Whether the span's transaction is sampled.
    pub fn is_sampled(&self) -> bool {
        self.tx().sampled
    }

    /// Whether this span is recorded: sampled, and not known to be over the transaction's
    /// `max_spans` (a span whose start data the handle still holds is counted against the
    /// limit when it finishes, or when it is cloned or changed).
    pub fn is_recording(&self) -> bool {
        self.repr.slot.load(Ordering::Relaxed) != SLOT_NONE
    }

    /// The transaction this span belongs to.
    pub fn transaction(&self) -> Transaction {
        Transaction::from_shared(self.tx().clone())
    }

    /// Sets the status.
    pub fn set_status(&self, status: SpanStatus) {
        self.with_state(|s| s.status = Some(status));
    }

    /// Sets the operation.
    pub fn set_op(&self, op: impl Into<Cow<'static, str>>) {
        self.with_state(|s| s.op = op.into());
    }

    /// Sets the description.
    pub fn set_description(&self, description: impl Into<Cow<'static, str>>) {
        self.with_state(|s| s.description = Some(description.into()));
    }

    /// Sets the origin (`manual` when unset; integrations use `auto.<category>.<name>`).
    pub fn set_origin(&self, origin: impl Into<Cow<'static, str>>) {
        self.with_state(|s| s.set_origin(Some(origin.into())));
    }

    /// Sets a data attribute.
    pub fn set_data(&self, key: impl Into<Cow<'static, str>>, value: impl Into<serde_json::Value>) {
        self.with_state(|s| {
            s.data_mut().insert(key.into(), value.into());
        });
    }

    /// Sets a tag.
    pub fn set_tag(&self, key: impl Into<String>, value: impl Into<String>) {
        self.with_state(|s| {
            s.tags_mut().insert(key.into(), value.into());
        });
    }

    /// Sets several data attributes at once (one lock).
    pub fn extend_data<K, V>(&self, data: impl IntoIterator<Item = (K, V)>)
    where
        K: Into<Cow<'static, str>>,
        V: Into<serde_json::Value>,
    {
        self.with_state(|s| s.data_mut().extend(data));
    }

    /// Sets where in the code the span was created.
    pub fn set_code_location(&self, code: &'static CodeLocation) {
        self.with_state(|s| s.code = Some(code));
    }

    /// Sets several data attributes at once, taking the map as it is when the span has none
    /// yet (no re-insertion).
    pub fn set_data_map(&self, data: impl Into<SpanData>) {
        let data = data.into();
        self.with_state(|s| {
            let current = s.data_mut();
            if current.is_empty() {
                *current = data;
            } else {
                current.extend(data);
            }
        });
    }

    /// The status set so far.
    pub fn status(&self) -> Option<SpanStatus> {
        if self.repr.slot.load(Ordering::Relaxed) == SLOT_OWNED {
            // No setter ran yet: no status.
            return None;
        }
        let mut status = None;
        self.with_state(|s| status = s.status);
        status
    }

    /// Moves the span's start to now: for instrumentation that creates a span before its work
    /// begins (the `tracing` layer times a span from its first enter). Does nothing once the
    /// span finished, or for a span that records nothing.
    pub fn set_start_now(&self) {
        if self.is_recording() {
            let now = self.repr.tx.time_at(self.repr.tx.now_offset());
            self.with_state(|s| s.start_timestamp = now);
        }
    }

    /// Moves the span's start to now the first time it is called; later calls do nothing
    /// (instrumentation that may see the first enter of a span more than once, e.g. on
    /// several threads).
    pub fn set_start_once(&self) {
        if self.is_recording() {
            let now = self.repr.tx.time_at(self.repr.tx.now_offset());
            self.with_state(|s| {
                if !s.start_moved {
                    s.start_moved = true;
                    s.start_timestamp = now;
                }
            });
        }
    }

    /// Sets the span's start time explicitly (see [`Span::finish_at`] for its end).
    pub fn set_start_timestamp(&self, timestamp: SystemTime) {
        self.with_state(|s| s.start_timestamp = timestamp);
    }

    /// Finishes the span now. Finishing twice, or after the transaction finished, does
    /// nothing (a span finished after its transaction is not sent).
    pub fn finish(self) {
        let end = match self.repr.slot.load(Ordering::Relaxed) {
            SLOT_NONE => None,
            _ => Some(self.repr.tx.time_at(self.repr.tx.now_offset())),
        };
        self.finish_recording(end);
    }

    /// Finishes the span with an explicit end time.
    pub fn finish_at(self, timestamp: SystemTime) {
        self.finish_recording(Some(timestamp));
    }

    /// The `sentry-trace` header value for requests made inside this span.
    pub fn sentry_trace(&self) -> SentryTrace {
        let tx = self.tx();
        SentryTrace {
            trace_id: tx.trace_id,
            span_id: self.span_id(),
            sampled: tx.propagated_sampled(),
        }
    }

    /// The W3C `traceparent` value for requests made inside this span (a deferred decision
    /// is `00`).
    pub fn traceparent(&self) -> TraceParent {
        TraceParent::from(self.sentry_trace())
    }

    /// Headers to add to an outgoing request made inside this span (`sentry-trace`,
    /// `baggage`, and `traceparent` with the `propagate_traceparent` option; freezes the
    /// trace's DSC).
    pub fn iter_headers(&self) -> impl Iterator<Item = (&'static str, String)> {
        let trace = (SENTRY_TRACE_HEADER, self.sentry_trace().to_string());
        let baggage = self.tx().dsc_baggage().map(|b| (BAGGAGE_HEADER, b));
        let parent = self
            .tx()
            .sink
            .config()
            .propagate_traceparent
            .then(|| (TRACEPARENT_HEADER, self.traceparent().to_string()));
        std::iter::once(trace).chain(baggage).chain(parent)
    }

    /// The trace context for events captured inside this span.
    pub fn trace_context(&self) -> TraceContext {
        let mut op = None;
        let mut status = None;
        if self.repr.slot.load(Ordering::Relaxed) == SLOT_OWNED {
            // No setter ran yet: the handle's own start data, no lock.
            op = Some(self.repr.op.to_owned());
        } else {
            self.with_state(|s| {
                op = Some(s.op.to_string());
                status = s.status;
            });
        }
        TraceContext {
            trace_id: self.trace_id(),
            span_id: self.span_id(),
            parent_span_id: Some(self.parent_span_id()),
            op,
            status,
            ..TraceContext::default()
        }
    }
}

impl Span {
    /// Closes the span's record in its transaction, or hands it over closed when this handle
    /// holds it (one lock either way); nothing when it already finished or its transaction
    /// did, or when it records nothing (`end` is `None` then). The handle's reference on the
    /// transaction is kept for the thread's next span (see [`tx_handle`]).
    fn finish_recording(self, end: Option<SystemTime>) {
        let Span {
            repr:
                SpanRepr {
                    tx,
                    span_id,
                    parent_span_id,
                    slot,
                    op,
                    description,
                    start,
                },
        } = self;
        let done = match (slot.into_inner(), end) {
            (SLOT_NONE, _) | (_, None) => true,
            (SLOT_OWNED, Some(end)) => tx.push_finished_span(
                SpanStart {
                    span_id,
                    parent_span_id,
                    op: Cow::Borrowed(op),
                    description: description.map(Cow::Borrowed),
                    code: None,
                    data: SpanData::new(),
                },
                start,
                end,
            ),
            (slot, Some(end)) => tx.close_span(slot as usize, end),
        };
        if !done {
            sdk_transport::sdk_debug!(
                "span {span_id} finished twice or after its transaction; it is not sent again"
            );
        }
        keep_tx_handle(tx);
    }
}

thread_local! {
    /// The reference on a transaction that the last span finished on this thread held, kept
    /// for the thread's next span of that transaction: starting and finishing a span then
    /// changes no reference count (two locked instructions fewer per span). At most one per
    /// thread; a transaction finishing on this thread takes it over (see [`take_tx_handle`]).
    static SPARE_TX: Cell<Option<Arc<TxShared>>> = const { Cell::new(None) };
}

/// A reference on `tx` for a new span: the one this thread kept when it is `tx`'s, else a
/// new one.
#[inline]
fn tx_handle(tx: &Arc<TxShared>) -> Arc<TxShared> {
    // Another transaction's reference is left for its own next span.
    take_tx_handle(tx).unwrap_or_else(|| tx.clone())
}

/// Keeps a finished span's reference on its transaction for the thread's next span (the
/// reference kept before, if any, is released).
#[inline]
fn keep_tx_handle(tx: Arc<TxShared>) {
    let mut tx = Some(tx);
    let previous = SPARE_TX.try_with(|spare| spare.replace(tx.take()));
    // Released outside the thread-local's access (a drop never reaches back into it).
    drop(previous);
    drop(tx);
}

/// Takes the reference this thread keeps on `tx`, if any (its transaction is finishing: no
/// more spans are recorded, and the reference serves the finished transaction instead).
pub(crate) fn take_tx_handle(tx: &Arc<TxShared>) -> Option<Arc<TxShared>> {
    SPARE_TX
        .try_with(|spare| {
            let kept = spare.take()?;
            if Arc::ptr_eq(&kept, tx) {
                Some(kept)
            } else {
                spare.set(Some(kept));
                None
            }
        })
        .ok()
        .flatten()
}

/// The number of references on `tx` this thread keeps (0 or 1; a test probe).
#[cfg(test)]
pub(crate) fn kept_tx_handles(tx: &Arc<TxShared>) -> usize {
    SPARE_TX
        .try_with(|spare| {
            let kept = spare.take();
            let n = usize::from(kept.as_ref().is_some_and(|k| Arc::ptr_eq(k, tx)));
            spare.set(kept);
            n
        })
        .unwrap_or(0)
}

/// Either a transaction or a span: what the scope binds and what new spans nest under.
#[derive(Debug, Clone)]
pub enum TransactionOrSpan {
    /// A transaction.
    Transaction(Transaction),
    /// A span.
    Span(Span),
}

impl From<Transaction> for TransactionOrSpan {
    fn from(tx: Transaction) -> Self {
        TransactionOrSpan::Transaction(tx)
    }
}

impl From<Span> for TransactionOrSpan {
    fn from(span: Span) -> Self {
        TransactionOrSpan::Span(span)
    }
}

impl TransactionOrSpan {
    /// Starts a child span under this transaction or span.
    pub fn start_child(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Span {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.start_child(op, description),
            TransactionOrSpan::Span(span) => span.start_child(op, description),
        }
    }

    /// Starts a child span with its code location and data set from the start (see
    /// [`Span::start_child_with`]).
    pub fn start_child_with(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
        code: Option<&'static CodeLocation>,
        data: impl Into<SpanData>,
    ) -> Span {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.start_child_with(op, description, code, data),
            TransactionOrSpan::Span(span) => span.start_child_with(op, description, code, data),
        }
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.trace_id(),
            TransactionOrSpan::Span(span) => span.trace_id(),
        }
    }

    /// The span id (the root span's for a transaction).
    pub fn span_id(&self) -> SpanId {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.span_id(),
            TransactionOrSpan::Span(span) => span.span_id(),
        }
    }

    /// Whether the trace is sampled.
    pub fn is_sampled(&self) -> bool {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.is_sampled(),
            TransactionOrSpan::Span(span) => span.is_sampled(),
        }
    }

    /// The transaction (itself, or the span's).
    pub fn transaction(&self) -> Transaction {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.clone(),
            TransactionOrSpan::Span(span) => span.transaction(),
        }
    }

    /// Sets the status.
    pub fn set_status(&self, status: SpanStatus) {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.set_status(status),
            TransactionOrSpan::Span(span) => span.set_status(status),
        }
    }

    /// Sets a data attribute.
    pub fn set_data(&self, key: impl Into<Cow<'static, str>>, value: impl Into<serde_json::Value>) {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.set_data(key, value),
            TransactionOrSpan::Span(span) => span.set_data(key, value),
        }
    }

    /// Sets a tag.
    pub fn set_tag(&self, key: impl Into<String>, value: impl Into<String>) {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.set_tag(key, value),
            TransactionOrSpan::Span(span) => span.set_tag(key, value),
        }
    }

    /// Sets several data attributes at once.
    pub fn extend_data<K, V>(&self, data: impl IntoIterator<Item = (K, V)>)
    where
        K: Into<Cow<'static, str>>,
        V: Into<serde_json::Value>,
    {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.extend_data(data),
            TransactionOrSpan::Span(span) => span.extend_data(data),
        }
    }

    /// Sets where in the code it was created.
    pub fn set_code_location(&self, code: &'static CodeLocation) {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.set_code_location(code),
            TransactionOrSpan::Span(span) => span.set_code_location(code),
        }
    }

    /// Sets several data attributes at once, taking the map as it is when there is none yet.
    pub fn set_data_map(&self, data: impl Into<SpanData>) {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.set_data_map(data),
            TransactionOrSpan::Span(span) => span.set_data_map(data),
        }
    }

    /// Finishes it now.
    pub fn finish(self) {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.finish(),
            TransactionOrSpan::Span(span) => span.finish(),
        }
    }

    /// Finishes it with an explicit end time.
    pub fn finish_at(self, timestamp: SystemTime) {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.finish_at(timestamp),
            TransactionOrSpan::Span(span) => span.finish_at(timestamp),
        }
    }

    /// The trace context for events captured inside it.
    pub fn trace_context(&self) -> TraceContext {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.trace_context(),
            TransactionOrSpan::Span(span) => span.trace_context(),
        }
    }

    /// The `sentry-trace` value for outgoing requests.
    pub fn sentry_trace(&self) -> SentryTrace {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.sentry_trace(),
            TransactionOrSpan::Span(span) => span.sentry_trace(),
        }
    }

    /// Moves the start to now (see [`Span::set_start_now`], [`Transaction::set_start_now`]).
    pub fn set_start_now(&self) {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.set_start_now(),
            TransactionOrSpan::Span(span) => span.set_start_now(),
        }
    }

    /// Moves the start to now the first time it is called (see [`Span::set_start_once`],
    /// [`Transaction::set_start_once`]).
    pub fn set_start_once(&self) {
        match self {
            TransactionOrSpan::Transaction(tx) => tx.set_start_once(),
            TransactionOrSpan::Span(span) => span.set_start_once(),
        }
    }

    /// The W3C `traceparent` value for outgoing requests.
    pub fn traceparent(&self) -> TraceParent {
        TraceParent::from(self.sentry_trace())
    }

    /// Headers for outgoing requests (`sentry-trace`, `baggage`, and `traceparent` with the
    /// `propagate_traceparent` option).
    pub fn iter_headers(&self) -> Box<dyn Iterator<Item = (&'static str, String)>> {
        match self {
            TransactionOrSpan::Transaction(tx) => Box::new(tx.iter_headers()),
            TransactionOrSpan::Span(span) => Box::new(span.iter_headers()),
        }
    }
}

/// Records a discard on the transaction's sink (spans over the limit).
pub(crate) fn record_span_overflow(tx: &TxShared) {
    tx.sink
        .record_discard(DiscardReason::BufferOverflow, DataCategory::Span, 1);
}
