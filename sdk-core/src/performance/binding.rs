//! Transactions bound to the rest of the SDK: the [`Client`] is the [`TransactionSink`], the
//! [`Hub`] starts transactions, the [`Scope`] holds the active span so that errors captured
//! inside it carry its trace, and outgoing requests get the trace headers.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use sdk_transport::{DataCategory, DiscardReason, Dsn, ItemPayload, Payload};

use super::dsc::{format_rand, DynamicSamplingContext};
use super::propagation::{
    PropagationContext, SentryTrace, TraceParent, BAGGAGE_HEADER, SENTRY_TRACE_HEADER,
    TRACEPARENT_HEADER,
};
use super::protocol::FinishedTransaction;
use super::sampling::{sample_rand_from_trace_id, SamplingOptions};
use super::sink::{TracingConfig, TransactionSink};
use super::span::TransactionOrSpan;
use super::transaction::{Transaction, TransactionContext};
use crate::client::{Client, ClientConstants};
use crate::hub::{is_active, Hub};
use crate::options::ClientOptions;
use crate::protocol::{Context, Event};
use crate::scope::Scope;

/// A `before_send_transaction` callback: sees every sampled transaction before it is sent;
/// `None` drops it (counted as a `before_send` discard, with its spans).
pub type BeforeSendTransaction =
    Arc<dyn Fn(FinishedTransaction) -> Option<FinishedTransaction> + Send + Sync>;

/// What a client keeps for tracing: its config and the event fields every transaction
/// shares (contexts, sdk, server name, dist), built once.
pub(crate) struct ClientTracing {
    pub(crate) config: TracingConfig,
    pub(crate) constant_fields: Arc<serde_json::Map<String, serde_json::Value>>,
}

/// An `f32` option as the `f64` a person wrote (0.1, not 0.10000000149).
fn widen(rate: f32) -> f64 {
    format!("{rate}").parse().unwrap_or(f64::from(rate))
}

impl ClientTracing {
    pub(crate) fn new(
        options: &ClientOptions,
        dsn: Option<&Dsn>,
        constants: &ClientConstants,
    ) -> Self {
        let rate = options.traces_sample_rate;
        let sampler = options.traces_sampler.clone();
        // `traces_sample_rate` 0.0 with no sampler is the core's "tracing off".
        let traces_sample_rate = (rate > 0.0 || sampler.is_some()).then(|| widen(rate));
        let config = TracingConfig {
            sampling: SamplingOptions {
                traces_sample_rate,
                traces_sampler: sampler,
            },
            max_spans: options.max_spans,
            public_key: dsn.map(|d| Arc::from(d.public_key())),
            release: options.release.as_deref().map(Arc::from),
            environment: options.environment.as_deref().map(Arc::from),
            org_id: options.org_id.as_deref().map(Arc::from).or_else(|| {
                dsn.and_then(Dsn::org_id)
                    .map(|id| Arc::from(id.to_string()))
            }),
            strict_trace_continuation: options.strict_trace_continuation,
            propagate_traceparent: options.propagate_traceparent,
        };
        let mut fields = serde_json::Map::new();
        if let Ok(sdk) = serde_json::to_value(&constants.sdk) {
            fields.insert("sdk".into(), sdk);
        }
        if let Some(server_name) = &constants.server_name {
            fields.insert("server_name".into(), server_name.clone().into());
        }
        if let Some(dist) = &constants.dist {
            fields.insert("dist".into(), dist.clone().into());
        }
        if let Ok(contexts) = serde_json::to_value(&constants.contexts) {
            if contexts.as_object().is_some_and(|c| !c.is_empty()) {
                fields.insert("contexts".into(), contexts);
            }
        }
        ClientTracing {
            config,
            constant_fields: Arc::new(fields),
        }
    }
}

impl TransactionSink for Client {
    fn config(&self) -> &TracingConfig {
        &self.tracing().config
    }

    fn send(&self, transaction: Arc<FinishedTransaction>) {
        let Some(transport) = self.transport().filter(|_| self.is_enabled()) else {
            return;
        };
        let spans = transaction.spans.len() as u64;
        let mut transaction = match &self.options().before_send_transaction {
            None => transaction,
            Some(callback) => {
                let owned = Arc::try_unwrap(transaction).unwrap_or_else(|tx| (*tx).clone());
                let id = owned.event_id;
                let callback = callback.clone();
                let result = crate::callback::call(move || callback(owned));
                match result {
                    Ok(Some(tx)) => Arc::new(tx),
                    Ok(None) | Err(_) => {
                        if result.is_err() {
                            eprintln!(
                                "[sentry] before_send_transaction panicked; transaction {id} was dropped"
                            );
                        } else {
                            sdk_transport::sdk_debug!(
                                "transaction {id} dropped by before_send_transaction"
                            );
                        }
                        TransactionSink::record_discard(
                            self,
                            DiscardReason::BeforeSend,
                            DataCategory::Transaction,
                            1,
                        );
                        TransactionSink::record_discard(
                            self,
                            DiscardReason::BeforeSend,
                            DataCategory::Span,
                            spans + 1,
                        );
                        return;
                    }
                }
            }
        };
        if let Some(tx) = Arc::get_mut(&mut transaction) {
            tx.shared_fields = Some(self.tracing().constant_fields.clone());
            tx.scope = finishing_scope(self);
        }
        let mut envelope = transaction.into_envelope();
        envelope.headers.sdk = Some(self.constants().sdk_header.clone());
        transport.send_envelope(envelope);
    }

    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        if let Some(transport) = self.transport() {
            transport.record_discard(reason, category, quantity);
        }
    }
}

/// The scope a transaction finishes in (the current hub's, under the global scope), when it
/// holds anything a transaction carries (tags, user, extra, contexts). Without a global scope
/// the current scope is looked at first, and copied only when it carries something.
fn finishing_scope(client: &Client) -> Option<Scope> {
    fn carries(scope: &Scope) -> bool {
        scope.tags.is_some()
            || scope.user.is_some()
            || scope.extra.is_some()
            || scope.contexts.is_some()
    }
    if let Some(global) = crate::hub::global_scope() {
        let scope = Hub::with_current(|hub| hub.scope_snapshot())?;
        let scope = global.merged_with(&scope, client.options().max_breadcrumbs);
        return carries(&scope).then_some(scope);
    }
    // No scope ever carried any of it: nothing to look at (no hub lock).
    if !SCOPE_DATA_EVER_SET.load(Ordering::Relaxed) {
        return None;
    }
    // Looked at first (no copy of the scope moves through the `Option`s when it carries
    // nothing), then snapshot.
    let carried = Hub::with_current(|hub| hub.peek_scope(carries)).flatten()?;
    if !carried {
        return None;
    }
    Hub::with_current(|hub| hub.scope_snapshot()).filter(carries)
}

/// The sink of transactions started with no client: tracing off, nothing sent.
struct NoopSink(TracingConfig);

impl TransactionSink for NoopSink {
    fn config(&self) -> &TracingConfig {
        &self.0
    }
    fn send(&self, _transaction: Arc<FinishedTransaction>) {}
    fn record_discard(&self, _: DiscardReason, _: DataCategory, _: u64) {}
}

fn noop_sink() -> Arc<dyn TransactionSink> {
    static NOOP: OnceLock<Arc<NoopSink>> = OnceLock::new();
    NOOP.get_or_init(|| Arc::new(NoopSink(TracingConfig::default())))
        .clone()
}

impl Hub {
    /// Starts a transaction with this hub's client (sampled by its options). With no client,
    /// the transaction records nothing but still propagates its trace.
    ///
    /// The transaction is not bound to the scope: bind it with
    /// [`Scope::set_span`] so that errors and child spans see it.
    #[inline]
    pub fn start_transaction(&self, ctx: TransactionContext) -> Transaction {
        Transaction::start(ctx, self.transaction_sink())
    }

    /// Where this hub's transactions go: its client, or a sink that records nothing. The
    /// process's client is read without locking the hub when none is bound to it.
    #[inline]
    fn transaction_sink(&self) -> Arc<dyn TransactionSink> {
        let client = if is_active() {
            self.using_client(Arc::clone)
        } else {
            None
        };
        match client {
            Some(client) => client,
            None => noop_sink(),
        }
    }

    /// The active span: the innermost one [entered](enter_span) on this thread, else the one
    /// bound to the current scope.
    pub fn current_span(&self) -> Option<TransactionOrSpan> {
        entered_span().or_else(|| self.scope_snapshot().get_span().cloned())
    }

    /// Headers for an outgoing request: from the bound span, else from the scope's
    /// propagation context: `sentry-trace`, `baggage` and, with the `propagate_traceparent`
    /// option, W3C `traceparent`.
    pub fn iter_trace_propagation_headers(&self) -> std::vec::IntoIter<(&'static str, String)> {
        let scope = self.scope_snapshot();
        let span = entered_span().or_else(|| scope.get_span().cloned());
        let headers: Vec<(&'static str, String)> = match span {
            Some(span) => span.iter_headers().collect(),
            None => {
                let incoming = scope.incoming_trace.as_ref();
                let trace = SentryTrace {
                    trace_id: scope.trace_id(),
                    span_id: scope.span_id(),
                    sampled: incoming.and_then(|i| i.parent_sampled),
                };
                let mut out = vec![(SENTRY_TRACE_HEADER, trace.to_string())];
                let baggage = match incoming.and_then(|i| i.dsc.as_ref()) {
                    Some(dsc) => Some(dsc.to_baggage()),
                    None => self
                        .client()
                        .map(|client| scope_dsc(&scope, client.config()).to_baggage()),
                };
                if let Some(baggage) = baggage.filter(|b| !b.is_empty()) {
                    out.push((BAGGAGE_HEADER, baggage));
                }
                if self
                    .client()
                    .is_some_and(|client| client.config().propagate_traceparent)
                {
                    let parent = TraceParent::from(trace);
                    out.push((TRACEPARENT_HEADER, parent.to_string()));
                }
                out
            }
        };
        headers.into_iter()
    }
}

/// The DSC of errors captured outside a transaction: the scope's trace, our own keys.
fn scope_dsc(scope: &Scope, config: &TracingConfig) -> DynamicSamplingContext {
    DynamicSamplingContext {
        trace_id: Some(scope.trace_id()),
        public_key: config.public_key.clone(),
        sample_rand: Some(format_rand(sample_rand_from_trace_id(scope.trace_id()))),
        release: config.release.clone(),
        environment: config.environment.clone(),
        org_id: config.org_id.clone(),
        ..Default::default()
    }
}

/// What the scope keeps of a continued trace besides its ids.
#[derive(Debug, Clone)]
pub(crate) struct IncomingTrace {
    pub(crate) parent_sampled: Option<bool>,
    pub(crate) dsc: Option<Arc<DynamicSamplingContext>>,
}

impl Scope {
    /// Makes `ctx` this scope's propagation context: errors captured in the scope outside a
    /// transaction carry its trace id, their envelopes its (incoming, frozen) DSC, and
    /// outgoing requests continue it. Use it for requests that start no transaction.
    ///
    /// ```
    /// use sdk_core::{PropagationContext, Scope};
    /// let incoming = PropagationContext::from_headers([(
    ///     "sentry-trace",
    ///     "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
    /// )]);
    /// let mut scope = Scope::new();
    /// scope.set_propagation(&incoming);
    /// assert_eq!(scope.trace_id().to_string(), "771a43a4192642f0b136d5159a501700");
    /// ```
    pub fn set_propagation(&mut self, ctx: &PropagationContext) {
        self.set_propagation_context(ctx.trace_id, ctx.span_id);
        self.incoming_trace = Some(IncomingTrace {
            parent_sampled: ctx.parent_sampled,
            dsc: ctx.dsc.clone(),
        });
    }

    /// The scope's propagation context (its trace, and the incoming DSC if it continues one).
    pub fn propagation_context(&self) -> PropagationContext {
        let incoming = self.incoming_trace.as_ref();
        PropagationContext {
            trace_id: self.trace_id(),
            span_id: self.span_id(),
            parent_span_id: None,
            parent_sampled: incoming.and_then(|i| i.parent_sampled),
            sample_rand: incoming
                .and_then(|i| i.dsc.as_ref())
                .and_then(|d| d.sample_rand_f64())
                .unwrap_or_else(|| sample_rand_from_trace_id(self.trace_id())),
            dsc: incoming.and_then(|i| i.dsc.clone()),
            third_party_baggage: None,
        }
    }

    /// Binds a transaction or span to this scope (`None` unbinds): errors captured in the
    /// scope carry its trace context and its trace's DSC, and integrations start their spans
    /// under it.
    ///
    /// ```
    /// use sdk_core::{Hub, TransactionContext};
    /// let tx = Hub::current().start_transaction(TransactionContext::new("job", "task"));
    /// sdk_core::configure_scope(|scope| scope.set_span(Some(tx.clone().into())));
    /// tx.finish();
    /// ```
    pub fn set_span(&mut self, span: Option<TransactionOrSpan>) {
        if span.is_some() && !SCOPE_SPAN_EVER_SET.load(Ordering::Relaxed) {
            SCOPE_SPAN_EVER_SET.store(true, Ordering::Relaxed);
        }
        self.span = span;
    }

    /// The bound transaction or span.
    pub fn get_span(&self) -> Option<&TransactionOrSpan> {
        self.span.as_ref()
    }
}

/// Starts a transaction with the current hub's client (see [`Hub::start_transaction`]).
///
/// ```
/// use sdk_core::TransactionContext;
/// let tx = sdk_core::start_transaction(TransactionContext::new("GET /items", "http.server"));
/// let span = tx.start_child("db.query", "SELECT * FROM items");
/// span.finish();
/// tx.finish();
/// ```
#[inline]
pub fn start_transaction(ctx: TransactionContext) -> Transaction {
    // Only the sink is looked up through the current hub (borrowed, not counted): the context
    // stays where the caller built it and is moved once, into the transaction.
    let sink = if is_active() {
        Hub::with_current(|hub| hub.transaction_sink())
            .unwrap_or_else(|| Hub::current().transaction_sink())
    } else {
        noop_sink()
    };
    Transaction::start(ctx, sink)
}

/// Headers for an outgoing request made now (see [`Hub::iter_trace_propagation_headers`]).
pub fn iter_trace_propagation_headers() -> std::vec::IntoIter<(&'static str, String)> {
    Hub::current().iter_trace_propagation_headers()
}

/// Whether any scope ever had a span bound ([`Scope::set_span`]): until then
/// [`scope_span`] need not look at the scope.
static SCOPE_SPAN_EVER_SET: AtomicBool = AtomicBool::new(false);

/// Whether any scope was ever given what a finishing transaction takes from it (tags, a user,
/// extra or contexts): until then a transaction finishes without locking the hub to look.
static SCOPE_DATA_EVER_SET: AtomicBool = AtomicBool::new(false);

/// Notes that a scope was given tags, a user, extra or contexts (the scope's setters call it).
#[inline]
pub(crate) fn note_scope_data() {
    if !SCOPE_DATA_EVER_SET.load(Ordering::Relaxed) {
        SCOPE_DATA_EVER_SET.store(true, Ordering::Relaxed);
    }
}

/// The span bound to the current scope ([`Scope::set_span`]), if any. Cheap (one atomic
/// load) in programs that never bind a span to a scope, e.g. those traced through the
/// `tracing` layer only.
///
/// ```
/// // Instrumentation that starts spans under whatever the scope carries:
/// let span = match sdk_core::performance::scope_span() {
///     Some(parent) => Some(parent.start_child("db.query", "SELECT 1")),
///     None => None, // nothing bound (and no client here): start a transaction instead
/// };
/// assert!(span.is_none());
/// ```
pub fn scope_span() -> Option<TransactionOrSpan> {
    if !SCOPE_SPAN_EVER_SET.load(Ordering::Relaxed) {
        return None;
    }
    crate::configure_scope(|scope| scope.get_span().cloned())
}

thread_local! {
    /// Spans entered on this thread (innermost last), each with the key it was entered with
    /// (0 for [`enter_span`]), see [`enter_span`] and [`enter_span_keyed`].
    static ENTERED: RefCell<Vec<(u64, TransactionOrSpan)>> = const { RefCell::new(Vec::new()) };
}

/// Makes `span` the active span of this thread until [`exit_span`]: errors captured on this
/// thread meanwhile carry its trace, and outgoing requests its headers. It takes precedence
/// over the span bound to the scope. Instrumentation such as the `tracing` layer calls this
/// when a span is entered (a thread-local push: much cheaper than changing the scope).
///
/// ```
/// use sdk_core::performance::{enter_span, exit_span};
/// use sdk_core::TransactionContext;
/// let tx = sdk_core::start_transaction(TransactionContext::new("job", "task"));
/// enter_span(tx.clone().into());
/// // ... work; errors captured here link to `tx`
/// exit_span(tx.span_id());
/// tx.finish();
/// ```
pub fn enter_span(span: TransactionOrSpan) {
    enter_span_keyed(0, span);
}

/// [`enter_span`] under a key of the caller's (e.g. a `tracing` span id, not 0), so that
/// [`exit_span_keyed`] can end it knowing only the key.
///
/// ```
/// use sdk_core::performance::{enter_span_keyed, entered_span, exit_span_keyed};
/// use sdk_core::TransactionContext;
/// let tx = sdk_core::start_transaction(TransactionContext::new("job", "task"));
/// enter_span_keyed(7, tx.clone().into());
/// assert_eq!(entered_span().map(|s| s.span_id()), Some(tx.span_id()));
/// exit_span_keyed(7);
/// assert!(entered_span().is_none());
/// tx.finish();
/// ```
pub fn enter_span_keyed(key: u64, span: TransactionOrSpan) {
    let _ = ENTERED.try_with(|stack| {
        if let Ok(mut stack) = stack.try_borrow_mut() {
            stack.push((key, span));
        }
    });
}

/// Ends the [`enter_span`] of the span with `span_id` on this thread (the innermost such
/// entry; exits out of order are tolerated).
pub fn exit_span(span_id: crate::ids::SpanId) {
    drop(exit_where(|(_, s)| s.span_id() == span_id));
}

/// Ends the [`enter_span_keyed`] with `key` on this thread (the innermost such entry) and
/// gives back the span it held; does nothing and gives `None` when there is none (e.g. a span
/// that had no Sentry span to enter). Instrumentation may keep the span it gets back, e.g. to
/// finish it when it closes without looking it up again.
pub fn exit_span_keyed(key: u64) -> Option<TransactionOrSpan> {
    exit_where(|(k, _)| *k == key)
}

#[inline]
fn exit_where(matches: impl Fn(&(u64, TransactionOrSpan)) -> bool) -> Option<TransactionOrSpan> {
    // The entry is given back after the borrow ends (a span's drop never re-enters this
    // stack).
    ENTERED
        .try_with(|stack| {
            let mut stack = stack.try_borrow_mut().ok()?;
            // Usually the innermost one: popped, nothing shifts.
            if stack.last().is_some_and(&matches) {
                return stack.pop();
            }
            let pos = stack.iter().rposition(&matches)?;
            Some(stack.remove(pos))
        })
        .ok()
        .flatten()
        .map(|(_, span)| span)
}

/// The innermost span entered on this thread.
pub fn entered_span() -> Option<TransactionOrSpan> {
    ENTERED
        .try_with(|stack| stack.try_borrow().ok()?.last().map(|(_, s)| s.clone()))
        .ok()
        .flatten()
}

/// Whether a span is active for a capture with `scope` (entered on this thread or bound to
/// the scope).
pub(crate) fn has_active_span(scope: &Scope) -> bool {
    scope.get_span().is_some()
        || ENTERED
            .try_with(|stack| stack.try_borrow().is_ok_and(|s| !s.is_empty()))
            .unwrap_or(false)
}

/// Gives an error event captured with `scope` the trace context (and transaction name) of the
/// scope's span, unless the event has its own.
pub(crate) fn apply_span(event: &mut Event, scope: &Scope) {
    let entered = entered_span();
    let Some(span) = entered.as_ref().or_else(|| scope.get_span()) else {
        return;
    };
    if event.contexts.get("trace").is_none() {
        event
            .contexts
            .insert("trace", Context::Trace(Box::new(span.trace_context())));
    }
    if event.transaction.is_none() && scope.transaction().is_none() {
        let name = span.transaction().name();
        if !name.is_empty() {
            event.transaction = Some(name);
        }
    }
}

/// The envelope header `trace` for an event captured with `scope`: the span's trace DSC when
/// a span is bound, else the incoming DSC the scope's propagation context continues.
pub(crate) fn span_trace_header(scope: &Scope) -> Option<Payload> {
    let entered = entered_span();
    let dsc: Arc<dyn ItemPayload> = match entered.as_ref().or_else(|| scope.get_span()) {
        Some(span) => span.transaction().dsc(),
        None => scope.incoming_trace.as_ref()?.dsc.clone()?,
    };
    Some(Payload::Lazy(dsc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Level;
    use crate::testing::{with_captured_envelopes_options, TestTransport};
    use sdk_transport::{Envelope, ItemType, Transport};

    const DSN: &str = "https://abc123@o17.ingest.example.com/7";

    #[test]
    fn new_contexts_have_fresh_non_zero_ids_and_a_matching_sample_rand() {
        let contexts: Vec<TransactionContext> = (0..64)
            .map(|_| TransactionContext::new("job", "task"))
            .collect();
        for ctx in &contexts {
            assert!(!ctx.trace_id().is_nil(), "{:?}", ctx.trace_id());
            assert!(!ctx.span_id().is_nil(), "{:?}", ctx.span_id());
            assert_eq!(ctx.sample_rand(), sample_rand_from_trace_id(ctx.trace_id()));
        }
        let traces: std::collections::HashSet<_> =
            contexts.iter().map(|c| c.trace_id().to_string()).collect();
        let spans: std::collections::HashSet<_> =
            contexts.iter().map(|c| c.span_id().to_string()).collect();
        assert_eq!((traces.len(), spans.len()), (64, 64));
    }

    #[test]
    fn the_free_start_transaction_uses_the_current_hubs_client() {
        let envelopes = with_captured_envelopes_options(
            || {
                let tx = crate::start_transaction(
                    TransactionContext::new("GET /items", "http.server")
                        .with_code_location(None)
                        .with_data(
                            [("route", "/items")]
                                .into_iter()
                                .collect::<crate::performance::SpanData>(),
                        ),
                );
                assert!(tx.is_sampled());
                tx.finish();
            },
            crate::ClientOptions::new().dsn(DSN).traces_sample_rate(1.0),
        );
        let sent: Vec<_> = envelopes
            .iter()
            .filter(|e| e.items.iter().any(|i| i.item_type == ItemType::Transaction))
            .collect();
        assert_eq!(sent.len(), 1);
        let body = &lines(sent[0])[2];
        assert_eq!(body["transaction"], "GET /items");
        assert_eq!(body["contexts"]["trace"]["data"]["route"], "/items");
    }

    #[test]
    fn keyed_exits_in_and_out_of_order_leave_the_right_span_active() {
        let a = crate::start_transaction(TransactionContext::new("a", "task"));
        let b = crate::start_transaction(TransactionContext::new("b", "task"));
        enter_span_keyed(1, a.clone().into());
        enter_span_keyed(2, b.clone().into());
        enter_span_keyed(3, a.clone().into());
        // Out of order: the middle one.
        let exited = exit_span_keyed(2).map(|s| s.span_id());
        assert_eq!(exited, Some(b.span_id()));
        assert_eq!(entered_span().map(|s| s.span_id()), Some(a.span_id()));
        // Innermost: popped.
        assert_eq!(exit_span_keyed(3).map(|s| s.span_id()), Some(a.span_id()));
        assert_eq!(entered_span().map(|s| s.span_id()), Some(a.span_id()));
        assert!(exit_span_keyed(9).is_none());
        assert!(exit_span_keyed(1).is_some());
        assert!(entered_span().is_none());
    }

    fn lines(envelope: &Envelope) -> Vec<serde_json::Value> {
        let bytes = envelope.to_vec().expect("writes");
        String::from_utf8(bytes)
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    fn of_type(envelopes: &[Envelope], ty: ItemType) -> Vec<&Envelope> {
        envelopes
            .iter()
            .filter(|e| e.items.iter().any(|i| i.item_type == ty))
            .collect()
    }

    #[test]
    fn a_sampled_transaction_reaches_the_transport_with_its_dsc_and_client_fields() {
        let envelopes = with_captured_envelopes_options(
            || {
                let tx = start_transaction(TransactionContext::new("GET /items", "http.server"));
                tx.start_child("db.query", "SELECT").finish();
                tx.finish();
            },
            ClientOptions::new()
                .dsn(DSN)
                .release("app@1.0")
                .environment("prod")
                .traces_sample_rate(1.0),
        );
        let txs = of_type(&envelopes, ItemType::Transaction);
        assert_eq!(txs.len(), 1);
        let l = lines(txs[0]);
        assert_eq!(l[0]["trace"]["public_key"], "abc123");
        assert_eq!(l[0]["trace"]["sample_rate"], "1");
        assert_eq!(l[0]["trace"]["sampled"], "true");
        assert_eq!(l[0]["trace"]["org_id"], "17");
        assert_eq!(l[0]["trace"]["transaction"], "GET /items");
        assert_eq!(l[0]["sdk"]["name"], sdk_transport::SDK_NAME);
        let body = &l[2];
        assert_eq!(body["type"], "transaction");
        assert_eq!(body["release"], "app@1.0");
        assert_eq!(body["environment"], "prod");
        assert_eq!(body["spans"][0]["op"], "db.query");
        assert!(body["sdk"]["integrations"].is_array(), "{}", body["sdk"]);
        assert_eq!(
            l[0]["trace"]["trace_id"],
            body["contexts"]["trace"]["trace_id"]
        );
    }

    #[test]
    fn scope_span_is_the_span_bound_to_the_current_scope() {
        let mut seen = None;
        with_captured_envelopes_options(
            || {
                let tx = start_transaction(TransactionContext::new("job", "task"));
                crate::configure_scope(|s| s.set_span(Some(tx.clone().into())));
                let bound = super::scope_span().map(|s| s.span_id());
                crate::configure_scope(|s| s.set_span(None));
                let unbound = super::scope_span().map(|s| s.span_id());
                seen = Some((bound, unbound, tx.span_id()));
                tx.finish();
            },
            ClientOptions::new().dsn(DSN).traces_sample_rate(1.0),
        );
        let (bound, unbound, span_id) = seen.expect("ran");
        assert_eq!(bound, Some(span_id));
        assert_eq!(unbound, None);
    }

    #[test]
    fn errors_inside_a_bound_span_carry_its_trace() {
        let mut ids = None;
        let envelopes = with_captured_envelopes_options(
            || {
                let tx = start_transaction(TransactionContext::new("job", "task"));
                let span = tx.start_child("step", "one");
                crate::configure_scope(|s| s.set_span(Some(span.clone().into())));
                crate::capture_message("inside", Level::Error);
                crate::configure_scope(|s| s.set_span(None));
                ids = Some((tx.trace_id(), span.span_id()));
                span.finish();
                tx.finish();
            },
            ClientOptions::new().dsn(DSN).traces_sample_rate(1.0),
        );
        let (trace_id, span_id) = ids.expect("ran");
        let events = of_type(&envelopes, ItemType::Event);
        let l = lines(events[0]);
        assert_eq!(l[2]["contexts"]["trace"]["trace_id"], trace_id.to_string());
        assert_eq!(l[2]["contexts"]["trace"]["span_id"], span_id.to_string());
        assert_eq!(l[2]["contexts"]["trace"]["op"], "step");
        assert_eq!(l[2]["transaction"], "job");
        assert_eq!(l[0]["trace"]["trace_id"], trace_id.to_string());
        assert_eq!(l[0]["trace"]["sampled"], "true");
        let txs = of_type(&envelopes, ItemType::Transaction);
        assert_eq!(
            lines(txs[0])[2]["contexts"]["trace"]["trace_id"],
            trace_id.to_string()
        );
    }

    #[test]
    fn before_send_transaction_modifies_drops_and_counts() {
        let transport = TestTransport::new();
        let shared: Arc<dyn Transport> = transport.clone();
        let client = Arc::new(Client::new(
            ClientOptions::new()
                .dsn(DSN)
                .traces_sample_rate(1.0)
                .transport(shared)
                .before_send_transaction(|mut tx| match &*tx.name {
                    "drop" => None,
                    "panic" => panic!("bug in the callback"),
                    _ => {
                        tx.name = "renamed".into();
                        Some(tx)
                    }
                }),
        ));
        let hub = Hub::with_client(client);
        for name in ["keep", "drop", "panic"] {
            let tx = hub.start_transaction(TransactionContext::new(name, "op"));
            tx.start_child("a", "b").finish();
            tx.finish();
        }
        let envelopes = transport.fetch_and_clear_envelopes();
        assert_eq!(envelopes.len(), 1);
        assert_eq!(lines(&envelopes[0])[2]["transaction"], "renamed");
        let discards = transport.discards();
        let total = |cat| {
            discards
                .iter()
                .filter(|(r, c, _)| *r == DiscardReason::BeforeSend && *c == cat)
                .map(|(_, _, q)| q)
                .sum::<u64>()
        };
        assert_eq!(total(DataCategory::Transaction), 2);
        assert_eq!(total(DataCategory::Span), 4);
    }

    #[test]
    fn sampler_decides_and_unsampled_are_counted() {
        let transport = TestTransport::new();
        let shared: Arc<dyn Transport> = transport.clone();
        let client = Arc::new(Client::new(
            ClientOptions::new()
                .dsn(DSN)
                .transport(shared)
                .traces_sampler(|ctx| {
                    if ctx.transaction_context.name() == "health" {
                        0.0
                    } else {
                        1.0
                    }
                }),
        ));
        let hub = Hub::with_client(client);
        hub.start_transaction(TransactionContext::new("health", "op"))
            .finish();
        hub.start_transaction(TransactionContext::new("work", "op"))
            .finish();
        let envelopes = transport.fetch_and_clear_envelopes();
        assert_eq!(envelopes.len(), 1);
        assert_eq!(lines(&envelopes[0])[2]["transaction"], "work");
        assert!(transport.discards().contains(&(
            DiscardReason::SampleRate,
            DataCategory::Transaction,
            1
        )));
    }

    #[test]
    fn with_tracing_off_nothing_is_sent_but_headers_propagate() {
        let mut headers = Vec::new();
        let envelopes = with_captured_envelopes_options(
            || {
                let tx = start_transaction(TransactionContext::new("t", "op"));
                crate::configure_scope(|s| s.set_span(Some(tx.clone().into())));
                headers = iter_trace_propagation_headers().collect();
                crate::configure_scope(|s| s.set_span(None));
                tx.finish();
            },
            ClientOptions::new().dsn(DSN),
        );
        assert!(of_type(&envelopes, ItemType::Transaction).is_empty());
        assert_eq!(headers[0].0, "sentry-trace");
        assert_eq!(headers[0].1.len(), 32 + 1 + 16, "deferred: no sampled flag");
        assert!(headers[1].1.contains("sentry-public_key=abc123"));
    }

    #[test]
    fn without_a_span_headers_come_from_the_scope() {
        let mut headers = Vec::new();
        let mut trace_id = None;
        with_captured_envelopes_options(
            || {
                headers = iter_trace_propagation_headers().collect();
                trace_id = Some(Hub::current().scope_snapshot().trace_id());
            },
            ClientOptions::new().dsn(DSN).release("r@1"),
        );
        let trace_id = trace_id.expect("ran").to_string();
        assert!(headers[0].1.starts_with(&trace_id));
        assert!(headers[1]
            .1
            .contains(&format!("sentry-trace_id={trace_id}")));
        assert!(headers[1].1.contains("sentry-release=r%401"));
    }

    #[test]
    fn a_continued_propagation_context_links_errors_and_forwards_the_dsc() {
        let mut headers = Vec::new();
        let envelopes = with_captured_envelopes_options(
            || {
                let incoming = PropagationContext::from_headers([
                    (
                        "sentry-trace",
                        "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
                    ),
                    ("baggage", "sentry-public_key=upstream,sentry-sampled=true"),
                ]);
                crate::configure_scope(|s| s.set_propagation(&incoming));
                crate::capture_message("no transaction here", Level::Error);
                headers = iter_trace_propagation_headers().collect();
            },
            ClientOptions::new().dsn(DSN),
        );
        let l = lines(&envelopes[0]);
        assert_eq!(
            l[2]["contexts"]["trace"]["trace_id"],
            "771a43a4192642f0b136d5159a501700"
        );
        assert_eq!(l[0]["trace"]["public_key"], "upstream");
        assert!(headers[0]
            .1
            .starts_with("771a43a4192642f0b136d5159a501700-"));
        assert!(headers[0].1.ends_with("-1"));
        assert_eq!(
            headers[1].1,
            "sentry-public_key=upstream,sentry-sampled=true"
        );
    }

    #[test]
    fn an_entered_span_wins_over_the_scope_until_it_exits() {
        let mut ids = None;
        let envelopes = with_captured_envelopes_options(
            || {
                let tx = start_transaction(TransactionContext::new("job", "task"));
                let scoped = tx.start_child("scoped", "s");
                let entered = tx.start_child("entered", "e");
                crate::configure_scope(|s| s.set_span(Some(scoped.clone().into())));
                enter_span(entered.clone().into());
                crate::capture_message("inside", Level::Error);
                exit_span(entered.span_id());
                crate::capture_message("after", Level::Error);
                ids = Some((entered.span_id(), scoped.span_id()));
                crate::configure_scope(|s| s.set_span(None));
                assert!(entered_span().is_none());
            },
            ClientOptions::new().dsn(DSN).traces_sample_rate(1.0),
        );
        let (entered, scoped) = ids.expect("ran");
        let events = of_type(&envelopes, ItemType::Event);
        let span_of = |e: &Envelope| lines(e)[2]["contexts"]["trace"]["span_id"].clone();
        assert_eq!(span_of(events[0]), entered.to_string());
        assert_eq!(span_of(events[1]), scoped.to_string());
    }

    #[test]
    fn transactions_are_serialised_by_the_worker_not_the_caller() {
        let envelopes = with_captured_envelopes_options(
            || {
                let tx = start_transaction(TransactionContext::new("t", "op"));
                tx.start_child("a", "b").finish();
                tx.finish();
            },
            ClientOptions::new().dsn(DSN).traces_sample_rate(1.0),
        );
        let item = &envelopes[0].items[0];
        let lazy = item.payload.as_lazy().expect("a lazy payload");
        let tx = lazy
            .as_any()
            .downcast_ref::<FinishedTransaction>()
            .expect("the finished transaction itself, not bytes");
        assert_eq!(tx.spans.len(), 1);
        assert!(
            matches!(tx.spans[0].op, std::borrow::Cow::Borrowed(_)),
            "a static op is not copied"
        );
        assert!(envelopes[0]
            .headers
            .trace
            .as_ref()
            .is_some_and(|t| t.as_lazy().is_some()));
    }

    #[test]
    fn transactions_carry_the_scope_they_finish_in() {
        let envelopes = with_captured_envelopes_options(
            || {
                crate::configure_scope(|s| {
                    s.set_tag("tenant", "acme");
                    s.set_tag("region", "scope");
                    s.set_user(Some(crate::User {
                        id: Some("42".into()),
                        ..Default::default()
                    }));
                    s.set_extra("attempt", serde_json::json!(3));
                });
                let tx = start_transaction(TransactionContext::new("t", "op"));
                tx.set_tag("region", "tx");
                tx.finish();
            },
            ClientOptions::new().dsn(DSN).traces_sample_rate(1.0),
        );
        let body = &lines(&envelopes[0])[2];
        assert_eq!(body["tags"]["tenant"], "acme");
        assert_eq!(
            body["tags"]["region"], "tx",
            "the transaction's own tag wins"
        );
        assert_eq!(body["user"]["id"], "42");
        assert_eq!(body["extra"]["attempt"], 3);
        assert_eq!(body["contexts"]["trace"]["op"], "op");
    }

    #[test]
    fn without_a_client_transactions_are_inert() {
        let hub = Hub::new();
        let tx = hub.start_transaction(TransactionContext::new("t", "op"));
        assert!(!tx.is_sampled());
        tx.start_child("a", "b").finish();
        tx.finish();
    }
}
