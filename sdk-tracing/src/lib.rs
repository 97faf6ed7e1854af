//! A `tracing-subscriber` layer for the SDK.
//!
//! [`SentryLayer`] maps `tracing` onto Sentry:
//! - a root span (no Sentry span above it) starts a transaction, nested spans become child
//!   spans; the op is the span's `sentry.op` field or `target::name`, the description its
//!   `sentry.name` / `otel.name` field or its name, other fields become span data, and the
//!   timing runs from the span's first enter (its creation, if it is never entered) to its
//!   close;
//! - events become breadcrumbs (`info` and `warn` by default) or error events (`error`), with
//!   the trace context of the span they happened in;
//! - optionally ([`SentryLayer::enable_logs`], off by default), events at chosen levels are
//!   also sent as Sentry structured logs (`log` items with the event's message, fields, code
//!   location and trace);
//! - a root span with a `sentry.trace` (or `sentry_trace`) field holding an incoming
//!   `sentry-trace` header continues that trace;
//! - while a span is entered it is the thread's active span, so errors captured with
//!   `sdk_core::capture_error` inside it link to it too.
//!
//! Parents come from `tracing`'s own span tree, so `.instrument()`ed futures keep the right
//! parent whatever thread polls them.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let subscriber = tracing_subscriber::registry().with(sdk_tracing::layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     let root = tracing::info_span!("request", route = "/items");
//!     let _entered = root.enter();
//!     tracing::info!(user_id = 42u64, "request handled"); // a breadcrumb
//! });
//! ```
#![forbid(unsafe_code)]

mod fields;
mod logs;
mod span_fields;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use sdk_core::performance::CodeLocation;
use sdk_core::protocol::{Context as EventContext, Values};
use sdk_core::{Breadcrumb, Event, Level, TransactionContext, TransactionOrSpan};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event as TracingEvent, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use fields::CrumbFields;
use fields::Fields;
use span_fields::SpanFields;

/// What the layer does with a `tracing` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFilter {
    /// Nothing.
    Ignore,
    /// Record it as a breadcrumb on the current scope.
    Breadcrumb,
    /// Capture it as a Sentry event (with the trace context of its span).
    Event,
}

type EventFilterFn = dyn Fn(&Metadata<'_>) -> EventFilter + Send + Sync;
type SpanFilterFn = dyn Fn(&Metadata<'_>) -> bool + Send + Sync;

/// The default event filter: `error` → event, `warn` and `info` → breadcrumb, the rest ignored.
pub fn default_event_filter(metadata: &Metadata<'_>) -> EventFilter {
    match *metadata.level() {
        tracing_core::Level::ERROR => EventFilter::Event,
        tracing_core::Level::WARN | tracing_core::Level::INFO => EventFilter::Breadcrumb,
        _ => EventFilter::Ignore,
    }
}

/// The default span filter: every span but `trace`-level ones.
pub fn default_span_filter(metadata: &Metadata<'_>) -> bool {
    *metadata.level() != tracing_core::Level::TRACE
}

/// The layer (see the crate docs). Build it with [`layer()`] and its setters.
pub struct SentryLayer {
    event_filter: Arc<EventFilterFn>,
    span_filter: Arc<SpanFilterFn>,
    bind_spans: bool,
    /// Which events are also sent as logs (`None`: logs off).
    log_filter: Option<Arc<SpanFilterFn>>,
}

impl fmt::Debug for SentryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryLayer")
            .field("bind_spans", &self.bind_spans)
            .field("logs", &self.log_filter.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for SentryLayer {
    fn default() -> Self {
        SentryLayer {
            event_filter: Arc::new(default_event_filter),
            span_filter: Arc::new(default_span_filter),
            bind_spans: true,
            log_filter: None,
        }
    }
}

/// A layer with the default filters.
pub fn layer() -> SentryLayer {
    SentryLayer::default()
}

impl SentryLayer {
    /// Decides per event what it becomes (by level, target, ...).
    ///
    /// ```
    /// use sdk_tracing::EventFilter;
    /// let layer = sdk_tracing::layer().event_filter(|md| match *md.level() {
    ///     tracing_core::Level::ERROR => EventFilter::Event,
    ///     _ if md.target().starts_with("noisy") => EventFilter::Ignore,
    ///     _ => EventFilter::Breadcrumb,
    /// });
    /// # drop(layer);
    /// ```
    pub fn event_filter(
        mut self,
        filter: impl Fn(&Metadata<'_>) -> EventFilter + Send + Sync + 'static,
    ) -> Self {
        self.event_filter = Arc::new(filter);
        self
    }

    /// Decides per span whether it becomes a Sentry span (or transaction).
    pub fn span_filter(
        mut self,
        filter: impl Fn(&Metadata<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.span_filter = Arc::new(filter);
        self
    }

    /// Also sends events at `min_level` and more severe as Sentry structured logs (off by
    /// default). A log is one `log` envelope item carrying the message as its body, the
    /// event's fields, its code location, the SDK, release and environment as attributes, and
    /// the trace (and span) it happened in. It is independent of [`SentryLayer::event_filter`]:
    /// an event can be a breadcrumb and a log.
    ///
    /// ```
    /// let layer = sdk_tracing::layer().enable_logs(tracing_core::Level::INFO);
    /// # drop(layer);
    /// ```
    pub fn enable_logs(self, min_level: tracing_core::Level) -> Self {
        // `tracing`'s order: ERROR < WARN < INFO < DEBUG < TRACE.
        self.log_filter(move |md| *md.level() <= min_level)
    }

    /// Sends the events `filter` accepts as Sentry structured logs (by level, target, ...);
    /// see [`SentryLayer::enable_logs`].
    pub fn log_filter(
        mut self,
        filter: impl Fn(&Metadata<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.log_filter = Some(Arc::new(filter));
        self
    }

    /// Whether an entered span becomes the thread's active span
    /// ([`sdk_core::performance::enter_span`]), so that errors captured directly with the SDK
    /// inside it carry its trace (default `true`).
    pub fn bind_spans_to_scope(mut self, bind: bool) -> Self {
        self.bind_spans = bind;
        self
    }
}

/// What the layer keeps in a `tracing` span's extensions.
struct SentrySpan {
    span: TransactionOrSpan,
    /// Whether the span was entered yet: its first enter is its start.
    entered: AtomicBool,
}

fn level_of(level: &tracing_core::Level) -> Level {
    match *level {
        tracing_core::Level::ERROR => Level::Error,
        tracing_core::Level::WARN => Level::Warning,
        tracing_core::Level::INFO => Level::Info,
        _ => Level::Debug,
    }
}

/// The most callsites whose data is interned; spans of further callsites format their op
/// each time and carry no code location.
const MAX_INTERNED_CALLSITES: usize = 4096;

/// What every span of one callsite shares: its default op (`target::name`) and its code
/// location, made once per callsite (callsites are static and few) instead of per span.
struct Callsite {
    op: &'static str,
    code: CodeLocation,
}

type CallsiteMap = RwLock<HashMap<usize, &'static Callsite>>;

fn callsite(metadata: &'static Metadata<'static>) -> Option<&'static Callsite> {
    static CALLSITES: OnceLock<CallsiteMap> = OnceLock::new();
    thread_local! {
        /// The last callsite this thread asked for (spans made in a loop share one).
        static LAST: std::cell::Cell<Option<(usize, &'static Callsite)>> =
            const { std::cell::Cell::new(None) };
    }
    let key = metadata as *const Metadata<'static> as usize;
    if let Ok(Some((last, site))) = LAST.try_with(std::cell::Cell::get) {
        if last == key {
            return Some(site);
        }
    }
    let site = interned_callsite(CALLSITES.get_or_init(Default::default), key, metadata)?;
    let _ = LAST.try_with(|last| last.set(Some((key, site))));
    Some(site)
}

fn interned_callsite(
    callsites: &CallsiteMap,
    key: usize,
    metadata: &'static Metadata<'static>,
) -> Option<&'static Callsite> {
    if let Some(site) = callsites.read().ok().and_then(|m| m.get(&key).copied()) {
        return Some(site);
    }
    let mut map = callsites.write().ok()?;
    if let Some(site) = map.get(&key) {
        return Some(site);
    }
    if map.len() >= MAX_INTERNED_CALLSITES {
        return None;
    }
    let op = format!("{}::{}", metadata.target(), metadata.name());
    let site: &'static Callsite = Box::leak(Box::new(Callsite {
        op: Box::leak(op.into_boxed_str()),
        code: CodeLocation {
            file: metadata.file(),
            line: metadata.line(),
            module: metadata.module_path(),
            target: Some(metadata.target()),
        },
    }));
    map.insert(key, site);
    Some(site)
}

/// A Sentry span held by this thread under its `tracing` id (0: none; `tracing` ids are never
/// 0). The id is looked at before the span is touched, so that a miss moves nothing.
struct Held {
    key: std::cell::Cell<u64>,
    span: std::cell::Cell<Option<TransactionOrSpan>>,
}

impl Held {
    const fn new() -> Held {
        Held {
            key: std::cell::Cell::new(0),
            span: std::cell::Cell::new(None),
        }
    }

    /// The span when it is the one of `key`.
    #[inline]
    fn take_if(&self, key: u64) -> Option<TransactionOrSpan> {
        if self.key.get() != key || key == 0 {
            return None;
        }
        self.key.set(0);
        self.span.take()
    }

    /// Whatever it holds (to be dropped by the caller, outside the thread-local's access).
    #[inline]
    fn take(&self) -> Option<TransactionOrSpan> {
        if self.key.get() == 0 {
            return None;
        }
        self.key.set(0);
        self.span.take()
    }

    /// Holds `span` under `key`; gives back what it held before.
    #[inline]
    fn replace(&self, key: u64, span: TransactionOrSpan) -> Option<TransactionOrSpan> {
        self.key.set(key);
        self.span.replace(Some(span))
    }
}

/// The Sentry spans this thread holds so that the usual create, enter, exit, close sequence
/// looks a span up in the registry only once, when it is created.
struct ThreadSpans {
    /// The last span this thread created, until it is first entered here: the enter needs no
    /// registry lookup.
    pending: Held,
    /// The last span this thread exited (the entry its exit took off the entered stack), until
    /// it closes here: the close needs no registry lookup.
    exited: Held,
}

thread_local! {
    static THREAD_SPANS: ThreadSpans = const {
        ThreadSpans {
            pending: Held::new(),
            exited: Held::new(),
        }
    };
}

/// Takes this thread's pending Sentry span when it is the one of the `tracing` span `key`.
#[inline]
fn take_pending(key: u64) -> Option<TransactionOrSpan> {
    THREAD_SPANS
        .try_with(|held| held.pending.take_if(key))
        .ok()
        .flatten()
}

/// A new span is being created on this thread: the spans held here are no longer the last
/// ones created or exited (a held span whose id is later reused by another span could
/// otherwise be taken for it).
#[inline]
fn clear_held() {
    let old = THREAD_SPANS
        .try_with(|held| (held.pending.take(), held.exited.take()))
        .ok();
    drop(old);
}

/// Makes `span` this thread's pending span, under the `tracing` id `key`.
#[inline]
fn set_pending(key: u64, span: TransactionOrSpan) {
    let old = THREAD_SPANS
        .try_with(|held| held.pending.replace(key, span))
        .ok();
    drop(old);
}

/// Keeps `span`, just exited, until it closes on this thread.
#[inline]
fn set_exited(key: u64, span: TransactionOrSpan) {
    let old = THREAD_SPANS
        .try_with(|held| held.exited.replace(key, span))
        .ok();
    drop(old);
}

/// Takes the Sentry span of the `tracing` span `key` that closes, when this thread holds it
/// (last exited here, or created here and never entered).
#[inline]
fn take_closing(key: u64) -> Option<TransactionOrSpan> {
    THREAD_SPANS
        .try_with(|held| {
            held.exited
                .take_if(key)
                .or_else(|| held.pending.take_if(key))
        })
        .ok()
        .flatten()
}

/// The Sentry span of the nearest ancestor-or-self of the span `id` that has one.
fn sentry_span_of<S>(ctx: &Context<'_, S>, id: &Id) -> Option<TransactionOrSpan>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(id)?;
    span.scope()
        .find_map(|s| s.extensions().get::<SentrySpan>().map(|d| d.span.clone()))
}

impl<S> Layer<S> for SentryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Whatever happens next, the spans this thread holds are not its last ones.
        clear_held();
        if !sdk_core::hub::is_active() {
            return;
        }
        let metadata = attrs.metadata();
        if !(self.span_filter)(metadata) {
            return;
        }
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        // Taken apart: every part moves on, nothing is left to drop.
        let SpanFields {
            op,
            name,
            trace,
            data,
        } = fields;
        let site = callsite(metadata);
        let op: Cow<'static, str> = match (op, site) {
            (Some(op), _) => Cow::Owned(op),
            (None, Some(site)) => Cow::Borrowed(site.op),
            (None, None) => Cow::Owned(format!("{}::{}", metadata.target(), metadata.name())),
        };
        let description: Cow<'static, str> = match name {
            Some(name) => Cow::Owned(name),
            None => Cow::Borrowed(metadata.name()),
        };
        let parent = span_ref.parent().and_then(|p| {
            p.scope()
                .find_map(|s| s.extensions().get::<SentrySpan>().map(|d| d.span.clone()))
        });
        // No Sentry span above it in `tracing`: a span bound to the scope by hand (or by an
        // integration) is the parent, else this starts a transaction.
        let parent = parent
            .or_else(sdk_core::performance::entered_span)
            .or_else(sdk_core::performance::scope_span);
        // The code location and the fields go in with the start (no lock per setter).
        let code = site.map(|site| &site.code);
        let span: TransactionOrSpan = match parent {
            Some(parent) => parent.start_child_with(op, description, code, data).into(),
            // Each arm builds its context in the argument slot it is started from (no
            // intermediate moves of the context).
            None => match trace {
                Some(header) => sdk_core::start_transaction(
                    TransactionContext::continue_from_headers(
                        description,
                        op,
                        [("sentry-trace", header)],
                    )
                    .with_code_location(code)
                    .with_data(data),
                ),
                None => sdk_core::start_transaction(
                    TransactionContext::new(description, op)
                        .with_code_location(code)
                        .with_data(data),
                ),
            }
            .into(),
        };
        let pending = span.clone();
        span_ref.extensions_mut().insert(SentrySpan {
            span,
            entered: AtomicBool::new(false),
        });
        set_pending(id.into_u64(), pending);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let extensions = span_ref.extensions();
        let Some(data) = extensions.get::<SentrySpan>() else {
            return;
        };
        let mut fields = SpanFields::default();
        values.record(&mut fields);
        if let Some(name) = fields.name.take() {
            if let TransactionOrSpan::Transaction(tx) = &data.span {
                tx.set_name(name);
            }
        }
        if !fields.data.is_empty() {
            data.span.extend_data(fields.data);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        // The work starts at the first enter (a span may be created well before, e.g. an
        // `.instrument()`ed future that waits to be polled); `set_start_once` moves the start
        // only the first time, whichever path sees that enter.
        let key = id.into_u64();
        if let Some(span) = take_pending(key) {
            // Entered on the thread that created it, before it created another span.
            span.set_start_once();
            if self.bind_spans {
                sdk_core::performance::enter_span_keyed(key, span);
            }
            return;
        }
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let extensions = span_ref.extensions();
        if let Some(data) = extensions.get::<SentrySpan>() {
            // A plain load and store, no locked swap: later enters (every poll of a future)
            // skip the start.
            if !data.entered.load(Ordering::Relaxed) {
                data.entered.store(true, Ordering::Relaxed);
                data.span.set_start_once();
            }
            if self.bind_spans {
                sdk_core::performance::enter_span_keyed(key, data.span.clone());
            }
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        if !self.bind_spans {
            return;
        }
        // Keyed by the `tracing` id at enter: no registry lookup (a span that has no Sentry
        // span was never entered here, and this does nothing). The entry is kept for the
        // span's close.
        let key = id.into_u64();
        if let Some(span) = sdk_core::performance::exit_span_keyed(key) {
            set_exited(key, span);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // Last exited on this thread, or created here and never entered: finished without a
        // registry lookup. The copy in the span's extensions is dropped with them when the
        // registry releases the span.
        if let Some(span) = take_closing(id.into_u64()) {
            span.finish();
            return;
        }
        let Some(span_ref) = ctx.span(&id) else {
            return;
        };
        let data = span_ref.extensions_mut().remove::<SentrySpan>();
        if let Some(data) = data {
            data.span.finish();
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: Context<'_, S>) {
        if !sdk_core::hub::is_active() {
            return;
        }
        let metadata = event.metadata();
        if self
            .log_filter
            .as_ref()
            .is_some_and(|accepts| accepts(metadata))
        {
            let mut fields = Fields::default();
            event.record(&mut fields);
            let span = ctx
                .event_span(event)
                .and_then(|s| sentry_span_of(&ctx, &s.id()));
            logs::send_log(metadata, fields, span);
        }
        match (self.event_filter)(metadata) {
            EventFilter::Ignore => {}
            EventFilter::Breadcrumb => {
                // Built by the SDK only once it knows a breadcrumb is wanted, in the slot it is
                // moved from into the scope's ring; the fields are written straight into it (no
                // intermediate map, no key copies, short strings inline).
                sdk_core::add_breadcrumb(|| {
                    // every field spelled out (no `..Default::default()` copied over)
                    let mut crumb = Breadcrumb {
                        timestamp: sdk_core::timestamp_now(),
                        ty: Some(Cow::Borrowed("log")),
                        category: Some(Cow::Borrowed(metadata.target())),
                        message: None,
                        data: sdk_core::protocol::BreadcrumbData::new(),
                        level: match level_of(metadata.level()) {
                            Level::Info => None,
                            other => Some(other),
                        },
                        origin: None,
                    };
                    event.record(&mut CrumbFields(&mut crumb));
                    crumb
                });
            }
            EventFilter::Event => {
                let mut fields = Fields::default();
                event.record(&mut fields);
                let mut sentry_event = Event::new();
                sentry_event.level = level_of(metadata.level());
                sentry_event.logger = Some(metadata.target().to_owned());
                sentry_event.message = fields.message;
                sentry_event.extra = fields.data;
                if let Some(exceptions) = fields.exceptions {
                    sentry_event.exception = Values::from(exceptions);
                }
                let span = ctx
                    .event_span(event)
                    .and_then(|s| sentry_span_of(&ctx, &s.id()));
                match span {
                    Some(span) => {
                        sentry_event
                            .contexts
                            .insert("trace", EventContext::Trace(Box::new(span.trace_context())));
                        // Active for the capture, so the envelope carries the trace's DSC.
                        let span_id = span.span_id();
                        sdk_core::performance::enter_span(span);
                        sdk_core::capture_event(sentry_event);
                        sdk_core::performance::exit_span(span_id);
                    }
                    None => {
                        sdk_core::capture_event(sentry_event);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fixperf_tests;

#[cfg(test)]
mod span_tests;
