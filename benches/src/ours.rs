//! Our SDK's side of every workload, with the same calls, payloads and client setup as
//! `peer.rs`. Workloads whose API has not landed yet print "n/a (not built yet)" rather than
//! faking anything.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use sdk_core::transport::{Envelope, ItemType, Transport};
use sdk_core::{Breadcrumb, ClientOptions, Level, User};
use serde_json::{json, Value};

use crate::harness::{emit, emit_na, expect_eq, measure, Opts, Sdk};
use crate::payload::*;

const SDK: Sdk = Sdk::Ours;

/// The counting transport: counts envelopes and items and drops the envelope on the caller's
/// thread. Optionally serialises it (`Envelope::write_to` into a reused buffer) or keeps it.
#[derive(Default)]
pub struct Counting {
    envelopes: AtomicU64,
    events: AtomicU64,
    transactions: AtomicU64,
    logs: AtomicU64,
    other: AtomicU64,
    discards: AtomicU64,
    serialized_bytes: AtomicU64,
    serialize: AtomicBool,
    keep: AtomicBool,
    buf: Mutex<(Vec<u8>, Vec<u8>)>,
    kept: Mutex<Option<Envelope>>,
}

impl Counting {
    fn new(serialize: bool) -> Arc<Counting> {
        let c = Counting::default();
        c.serialize.store(serialize, Relaxed);
        Arc::new(c)
    }
    fn events(&self) -> u64 {
        self.events.load(Relaxed)
    }
    fn transactions(&self) -> u64 {
        self.transactions.load(Relaxed)
    }
    fn envelopes(&self) -> u64 {
        self.envelopes.load(Relaxed)
    }

    /// Runs `op` once with keeping on and returns the kept envelope.
    fn keep_one(&self, op: impl FnOnce()) -> Option<Envelope> {
        self.keep.store(true, Relaxed);
        op();
        self.keep.store(false, Relaxed);
        self.kept.lock().ok().and_then(|mut k| k.take())
    }

    /// Runs `op` once and returns the shape of the event or transaction it sent.
    fn shape_of(&self, op: impl FnOnce()) -> Value {
        let Some(env) = self.keep_one(op) else {
            return Value::Null;
        };
        env.items
            .iter()
            .find(|i| matches!(i.item_type, ItemType::Event | ItemType::Transaction))
            .and_then(|i| i.payload.to_vec().ok())
            .and_then(|bytes| {
                let v: Value = serde_json::from_slice(&bytes).ok()?;
                Some(crate::harness::shape(&v, bytes.len()))
            })
            .unwrap_or(Value::Null)
    }
}

impl Transport for Counting {
    fn send_envelope(&self, envelope: Envelope) {
        self.envelopes.fetch_add(1, Relaxed);
        for item in &envelope.items {
            let counter = match item.item_type {
                ItemType::Event => &self.events,
                ItemType::Transaction => &self.transactions,
                ItemType::Log => &self.logs,
                _ => &self.other,
            };
            counter.fetch_add(1, Relaxed);
        }
        if self.serialize.load(Relaxed) {
            if let Ok(mut guard) = self.buf.lock() {
                let (buf, scratch) = &mut *guard;
                buf.clear();
                if envelope.write_to_with_scratch(buf, scratch, None).is_ok() {
                    self.serialized_bytes.fetch_add(buf.len() as u64, Relaxed);
                }
            }
        }
        if self.keep.load(Relaxed) {
            if let Ok(mut k) = self.kept.lock() {
                *k = Some(envelope);
            }
        }
        // Otherwise the envelope is dropped here, on the caller's thread.
    }

    fn flush(&self, _timeout: std::time::Duration) -> bool {
        true
    }

    fn record_discard(
        &self,
        _reason: sdk_core::transport::DiscardReason,
        _category: sdk_core::transport::DataCategory,
        quantity: u64,
    ) {
        self.discards.fetch_add(quantity, Relaxed);
    }
}

fn base_options(t: &Arc<Counting>) -> ClientOptions {
    let t = t.clone();
    ClientOptions::new()
        .dsn(DSN)
        .release(RELEASE)
        .environment(ENVIRONMENT)
        .transport(move |_: &ClientOptions| t.clone() as Arc<dyn Transport>)
}

/// The fixed breadcrumb, built as a user writes it: a default one (stamped now) filled in.
#[inline]
// Filled in place on purpose: `Breadcrumb { data, ..Default::default() }` builds a second
// breadcrumb and drops its (empty) data, and `Breadcrumb::new(..)` is a call returning ~220 bytes.
#[allow(clippy::field_reassign_with_default)]
fn breadcrumb() -> Breadcrumb {
    // Literal keys and values, an integer: nothing here allocates.
    let mut crumb = Breadcrumb::default();
    crumb.ty = Some("default".into());
    crumb.category = Some(CRUMB_CATEGORY.into());
    crumb.message = Some(CRUMB_MESSAGE.into());
    crumb.level = Some(Level::Info);
    crumb.data.insert("user_id", 42);
    crumb.data.insert("path", "/api/items");
    crumb
}

fn user() -> User {
    User {
        id: Some("42".into()),
        email: Some("user@example.com".into()),
        ..Default::default()
    }
}

/// Runs one job of our side in this process.
pub fn run(job: &str, opts: &Opts) -> Result<(), String> {
    match job {
        "disabled" => disabled(opts),
        "capture_message" => capture_message(opts),
        "capture_error" => capture_error(opts),
        "breadcrumb" => breadcrumb_job(opts),
        "scope" => scope(opts),
        "transaction" => transaction(opts),
        "tracing_layer" => tracing_layer(opts),
        "e2e_http.default" => e2e(opts, None, false),
        "e2e_http.reqwest" => e2e(opts, Some(false), false),
        "e2e_http.ureq" => e2e(opts, Some(true), false),
        "e2e_http.reqwest.big_queue" => e2e(opts, Some(false), true),
        "e2e_http.ureq.big_queue" => e2e(opts, Some(true), true),
        "stall_probe.default" => stall(opts, None),
        "stall_probe.reqwest" => stall(opts, Some(false)),
        "stall_probe.ureq" => stall(opts, Some(true)),
        "dump" => dump(),
        "serialize_baseline" => {
            serialize_baseline(opts);
            Ok(())
        }
        "tracing_layer_legacy" => {
            for w in crate::workloads_of(job) {
                emit_na(
                    SDK,
                    w,
                    "by design: our layer has no combined breadcrumb+log default; see tracing_layer.*",
                );
            }
            Ok(())
        }
        _ => {
            for w in crate::workloads_of(job) {
                emit_na(SDK, w, "not built yet");
            }
            Ok(())
        }
    }
}

fn disabled(opts: &Opts) -> Result<(), String> {
    if sdk_core::hub::is_active() {
        return Err("a client is bound before the disabled workloads".into());
    }
    if opts.wants("disabled.capture_message") {
        let m = measure(opts.n(5_000_000), opts.reps, || {
            black_box(sdk_core::capture_message(black_box(MESSAGE), Level::Info));
        });
        emit(SDK, "disabled.capture_message", &m, Ok(()), json!({}));
    }
    if opts.wants("disabled.add_breadcrumb") {
        let m = measure(opts.n(1_000_000), opts.reps, || {
            sdk_core::add_breadcrumb(black_box(breadcrumb()));
        });
        emit(SDK, "disabled.add_breadcrumb", &m, Ok(()), json!({}));
    }
    if opts.wants("disabled.add_breadcrumb_lazy") {
        let ran = AtomicU64::new(0);
        let m = measure(opts.n(5_000_000), opts.reps, || {
            sdk_core::add_breadcrumb(|| {
                ran.fetch_add(1, Relaxed);
                breadcrumb()
            });
        });
        let check = expect_eq("lazy breadcrumb closures run", ran.load(Relaxed), 0);
        emit(SDK, "disabled.add_breadcrumb_lazy", &m, check, json!({}));
    }
    if opts.wants("disabled.configure_scope_set_tag") {
        let ran = AtomicU64::new(0);
        let m = measure(opts.n(5_000_000), opts.reps, || {
            sdk_core::configure_scope(|s| {
                ran.fetch_add(1, Relaxed);
                s.set_tag(black_box("tenant"), black_box("acme"))
            });
        });
        let check = expect_eq("configure_scope closures run", ran.load(Relaxed), 0);
        emit(
            SDK,
            "disabled.configure_scope_set_tag",
            &m,
            check,
            json!({}),
        );
    }
    Ok(())
}

fn capture_message(opts: &Opts) -> Result<(), String> {
    for (workload, serialize, full, n) in [
        ("capture_message", false, false, 50_000),
        ("capture_message.with_serialize", true, false, 50_000),
        ("capture_message.full_scope", false, true, 20_000),
    ] {
        if !opts.wants(workload) {
            continue;
        }
        let t = Counting::new(serialize);
        let guard = sdk_core::init(base_options(&t).max_breadcrumbs(100));
        if full {
            sdk_core::configure_scope(|s| {
                s.set_tag("tenant", "acme");
                s.set_user(Some(user()));
            });
            for _ in 0..100 {
                sdk_core::add_breadcrumb(breadcrumb());
            }
        }
        let m = measure(opts.n(n), opts.reps, || {
            black_box(sdk_core::capture_message(black_box(MESSAGE), Level::Info));
        });
        let per_event = t.serialized_bytes.load(Relaxed) / t.events().max(1);
        let shape = t.shape_of(|| {
            sdk_core::capture_message(MESSAGE, Level::Info);
        });
        let check = expect_eq("events sent", t.events(), m.calls + 1);
        let extra = if serialize {
            json!({ "serialized_bytes_per_event": per_event, "shape": shape })
        } else {
            json!({ "shape": shape })
        };
        emit(SDK, workload, &m, check, extra);
        drop(guard);
    }
    Ok(())
}

fn capture_error(opts: &Opts) -> Result<(), String> {
    let t = Counting::new(false);
    let _guard = sdk_core::init(base_options(&t).attach_stacktrace(true));
    if opts.wants("capture_error") {
        let m = measure(opts.n(2_000), opts.reps, || {
            let err = black_box(error_chain());
            black_box(sdk_core::capture_error(&err));
        });
        let shape = t.shape_of(|| {
            sdk_core::capture_error(&error_chain());
        });
        let check = expect_eq("events sent", t.events(), m.calls + 1);
        emit(SDK, "capture_error", &m, check, json!({ "shape": shape }));
    }
    Ok(())
}

fn breadcrumb_job(opts: &Opts) -> Result<(), String> {
    let t = Counting::new(false);
    let _guard = sdk_core::init(base_options(&t).max_breadcrumbs(100));
    if opts.wants("breadcrumb") {
        let m = measure(opts.n(500_000), opts.reps, || {
            sdk_core::add_breadcrumb(black_box(breadcrumb()));
        });
        let check = expect_eq("envelopes sent", t.envelopes(), 0);
        emit(SDK, "breadcrumb", &m, check, json!({}));
    }
    Ok(())
}

fn scope(opts: &Opts) -> Result<(), String> {
    let t = Counting::new(false);
    let _guard = sdk_core::init(base_options(&t));
    if opts.wants("scope.with_scope") {
        let m = measure(opts.n(500_000), opts.reps, || {
            sdk_core::with_scope(
                |s| {
                    s.set_tag(black_box("tenant"), black_box("acme"));
                    s.set_user(Some(user()));
                },
                || (),
            );
        });
        let check = expect_eq("envelopes sent", t.envelopes(), 0);
        emit(SDK, "scope.with_scope", &m, check, json!({}));
    }
    if opts.wants("scope.configure_scope_set_tag") {
        let m = measure(opts.n(500_000), opts.reps, || {
            sdk_core::configure_scope(|s| s.set_tag(black_box("tenant"), black_box("acme")));
        });
        let check = expect_eq("envelopes sent", t.envelopes(), 0);
        emit(SDK, "scope.configure_scope_set_tag", &m, check, json!({}));
    }
    Ok(())
}

/// Our envelope writer on the workload-2 event (a reference beside `sentry`'s `to_writer`).
pub fn serialize_baseline(opts: &Opts) {
    let t = Counting::new(false);
    let guard = sdk_core::init(base_options(&t));
    let env = t.keep_one(|| {
        sdk_core::capture_message(MESSAGE, Level::Info);
    });
    drop(guard);
    let Some(env) = env else {
        emit_na(
            SDK,
            "serialize_baseline.ours_envelope_write_to",
            "no envelope captured",
        );
        return;
    };
    let (mut buf, mut scratch) = (Vec::new(), Vec::new());
    let mut failed = false;
    if opts.wants("serialize_baseline.ours_envelope_write_to") {
        let m = measure(opts.n(100_000), opts.reps, || {
            buf.clear();
            failed |= black_box(&env)
                .write_to_with_scratch(&mut buf, &mut scratch, None)
                .is_err();
            black_box(&buf);
        });
        let check = if failed {
            Err("Envelope::write_to failed".to_string())
        } else {
            Ok(())
        };
        emit(
            SDK,
            "serialize_baseline.ours_envelope_write_to",
            &m,
            check,
            json!({ "bytes": buf.len() }),
        );
    }
}

/// Where our events carry more or less data than `sentry`'s for a workload, beyond what the
/// shape comparison shows (shown in the table).
pub fn note(workload: &str) -> Option<&'static str> {
    match workload {
        "capture_message" => Some("ours: constant parts shared, serialised by the worker"),
        _ => None,
    }
}

/// Builds our HTTP transport with an explicit client: ureq or reqwest.
struct HttpFactory {
    ureq: bool,
}

impl sdk_core::TransportFactory for HttpFactory {
    fn create_transport(&self, options: &ClientOptions) -> Option<Arc<dyn Transport>> {
        use sdk_core::transport::{http, HttpClient, HttpTransport};
        let dsn: sdk_core::transport::Dsn = options.dsn.as_deref()?.parse().ok()?;
        let topts = options.transport_options.clone();
        let client: Arc<dyn HttpClient> = if self.ureq {
            Arc::new(http::ureq::UreqClient::new(&topts))
        } else {
            match http::reqwest::ReqwestClient::new(&topts) {
                Ok(c) => Arc::new(c),
                Err(e) => {
                    eprintln!("reqwest client: {e}");
                    return None;
                }
            }
        };
        match HttpTransport::new(&dsn, topts, client) {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                eprintln!("http transport: {e}");
                None
            }
        }
    }
}

/// `ureq`: `Some(true)` ureq, `Some(false)` reqwest, `None` what `init()` picks by default
/// (`sdk_transport::default_transport`).
fn e2e_options(port: u16, ureq: Option<bool>, queue: Option<usize>) -> ClientOptions {
    let mut options = ClientOptions::new()
        .dsn(format!("http://public@127.0.0.1:{port}/1"))
        .release(RELEASE)
        .environment(ENVIRONMENT);
    if let Some(ureq) = ureq {
        options = options.transport(HttpFactory { ureq });
    }
    if let Some(q) = queue {
        let bytes = options.transport_options.max_queue_bytes;
        options.transport_options = options.transport_options.clone().queue_limits(q, bytes);
    }
    options
}

fn client_name(ureq: Option<bool>) -> &'static str {
    match ureq {
        Some(true) => "ureq",
        Some(false) => "reqwest",
        None => "default",
    }
}

fn e2e(opts: &Opts, ureq: Option<bool>, big_queue: bool) -> Result<(), String> {
    let n = opts.n(20_000);
    let workload = format!(
        "e2e_http.{}{}",
        client_name(ureq),
        if big_queue { ".big_queue" } else { "" }
    );
    let mut reps = Vec::new();
    let rss_before = crate::harness::proc_status_kb("VmRSS");
    for _ in 0..opts.e2e_reps {
        let sink = crate::sink::Sink::start().map_err(|e| format!("sink: {e}"))?;
        let options = e2e_options(sink.port(), ureq, big_queue.then_some(n as usize + 16))
            .shutdown_timeout(std::time::Duration::from_secs(120));
        let guard = sdk_core::init(options);
        if !guard.is_enabled() {
            return Err("our client is not enabled (no HTTP transport)".into());
        }
        let client = guard.client().cloned();
        let rep = crate::e2e::burst(
            n,
            &sink,
            || {
                black_box(sdk_core::capture_message(black_box(MESSAGE), Level::Info));
            },
            || {
                client
                    .as_ref()
                    .is_some_and(|c| c.flush(Some(std::time::Duration::from_secs(120))))
            },
            move || drop(guard),
        );
        reps.push(rep);
    }
    crate::e2e::emit_e2e(SDK, &workload, n, rss_before, &reps);
    Ok(())
}

fn stall(opts: &Opts, ureq: Option<bool>) -> Result<(), String> {
    let name = format!("stall_probe.{}", client_name(ureq));
    // WORKLOAD.md: our harness runs the probe with N = 10 (the queue does not fill) and with
    // N = 100 (more than sentry's 30-slot queue); `--iters` replaces the second.
    for (n, suffix) in [(10, ".n10"), (opts.iters.unwrap_or(100), "")] {
        let sink = crate::sink::Sink::start_with(true).map_err(|e| format!("sink: {e}"))?;
        let options = e2e_options(sink.port(), ureq, None)
            .shutdown_timeout(std::time::Duration::from_secs(2));
        let guard = sdk_core::init(options);
        let client = guard.client().cloned();
        crate::e2e::stall_probe(
            SDK,
            &format!("{name}{suffix}"),
            n,
            || {
                black_box(sdk_core::capture_message(black_box(MESSAGE), Level::Info));
            },
            move || client.is_some_and(|c| c.flush(Some(std::time::Duration::from_secs(2)))),
            move || drop(guard),
        );
        // Leave the hung connections open: the next probe gets a fresh sink.
        std::mem::forget(sink);
    }
    std::process::exit(0);
}

/// `dump`: prints the envelopes of the workload-2 message and the workload-3 error (stdout).
fn dump() -> Result<(), String> {
    let t = Counting::new(false);
    let guard = sdk_core::init(base_options(&t).attach_stacktrace(true));
    let mut out = Vec::new();
    for env in [
        t.keep_one(|| {
            sdk_core::capture_message(MESSAGE, Level::Info);
        }),
        t.keep_one(|| {
            sdk_core::capture_error(&error_chain());
        }),
    ]
    .into_iter()
    .flatten()
    {
        env.write_to(&mut out, None).map_err(|e| e.to_string())?;
    }
    drop(guard);
    println!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

/// Workload 6's operation: a transaction with 10 child spans, not bound to the scope.
fn transaction_with_10_spans() {
    let tx = sdk_core::start_transaction(sdk_core::TransactionContext::new(TX_NAME, TX_OP));
    for _ in 0..10 {
        let span = tx.start_child(black_box(SPAN_OP), black_box(SPAN_DESC));
        span.finish();
    }
    tx.finish();
}

fn transaction(opts: &Opts) -> Result<(), String> {
    if opts.wants("transaction") {
        let t = Counting::new(false);
        let _guard = sdk_core::init(base_options(&t).traces_sample_rate(1.0));
        let m = measure(opts.n(20_000), opts.reps, transaction_with_10_spans);
        let shape = t.shape_of(transaction_with_10_spans);
        let spans = shape.get("spans").and_then(Value::as_u64).unwrap_or(0);
        let check = expect_eq("transactions sent", t.transactions(), m.calls + 1)
            .and_then(|()| expect_eq("spans in the last transaction", spans, 10));
        emit(SDK, "transaction", &m, check, json!({ "shape": shape }));
    }
    if opts.wants("transaction.unsampled") {
        // The same calls with traces_sample_rate 0.0: nothing may be sent.
        let t = Counting::new(false);
        let _guard = sdk_core::init(base_options(&t).traces_sample_rate(0.0));
        let m = measure(opts.n(20_000), opts.reps, transaction_with_10_spans);
        let check = expect_eq("envelopes sent", t.envelopes(), 0);
        emit(SDK, "transaction.unsampled", &m, check, json!({}));
    }
    Ok(())
}

fn tracing_layer(opts: &Opts) -> Result<(), String> {
    use tracing_subscriber::prelude::*;
    let t = Counting::new(false);
    let _guard = sdk_core::init(
        base_options(&t)
            .traces_sample_rate(1.0)
            .max_breadcrumbs(100),
    );
    // Our layer with its defaults: INFO/WARN events become breadcrumbs, ERROR events become
    // events, spans become transactions / child spans (the "modern" variant's mapping).
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(sdk_tracing::layer()),
    )
    .map_err(|e| format!("global subscriber: {e}"))?;

    if opts.wants("tracing_layer.event") {
        let before = (t.events(), t.envelopes());
        let m = measure(opts.n(200_000), opts.reps, || {
            tracing::info!(user_id = 42u64, path = "/api/items", "request handled");
        });
        let check = expect_eq("envelopes sent", t.envelopes() - before.1, 0);
        // The breadcrumb the event left, as the next message carries it.
        let shape = t.shape_of(|| {
            sdk_core::capture_message(MESSAGE, Level::Info);
        });
        let crumbs = shape
            .get("breadcrumbs")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let check = check.and_then(|()| expect_eq("breadcrumbs on the next event", crumbs, 100));
        emit(
            SDK,
            "tracing_layer.event",
            &m,
            check,
            json!({ "note": "breadcrumb per event" }),
        );
    }

    if opts.wants("tracing_layer.span") {
        let before = t.transactions();
        let m = measure(opts.n(50_000), opts.reps, || {
            let s = tracing::info_span!("peer.span", user_id = 42u64, path = "/api/items");
            let _e = s.enter();
            black_box(&_e);
        });
        let check = expect_eq("transactions sent", t.transactions() - before, m.calls);
        emit(SDK, "tracing_layer.span", &m, check, json!({}));
    }

    if opts.wants("tracing_layer.span_tree") {
        let before = t.transactions();
        let tree = || {
            let root = tracing::info_span!("request", method = "GET", route = "/api/items");
            let _r = root.enter();
            for i in 0..10u64 {
                let q = tracing::info_span!("query", table = "items", row_id = i);
                let _q = q.enter();
                black_box(&_q);
            }
        };
        let m = measure(opts.n(10_000), opts.reps, tree);
        let shape = t.shape_of(tree);
        let spans = shape.get("spans").and_then(Value::as_u64).unwrap_or(0);
        let check = expect_eq("transactions sent", t.transactions() - before, m.calls + 1)
            .and_then(|()| expect_eq("spans in the last transaction", spans, 10));
        emit(
            SDK,
            "tracing_layer.span_tree",
            &m,
            check,
            json!({ "shape": shape }),
        );
    }
    Ok(())
}
