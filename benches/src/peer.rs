//! The `sentry` 0.49.5 side of every workload: the counting transport and the exact client
//! setup of WORKLOAD.md.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sentry::protocol::{Breadcrumb, EnvelopeItem, Level, Map, User, Value};
use sentry::{ClientOptions, Envelope, TransactionContext, Transport, TransportFactory};
use serde_json::json;

use crate::harness::{emit, expect_eq, measure, Opts, Sdk};
use crate::payload::*;

const SDK: Sdk = Sdk::Sentry;

/// The counting transport: counts envelopes and items and drops the envelope on the caller's
/// thread. Optionally serialises it into a reused buffer, or keeps the last one.
#[derive(Default)]
pub struct Counting {
    envelopes: AtomicU64,
    items: AtomicU64,
    events: AtomicU64,
    transactions: AtomicU64,
    spans: AtomicU64,
    log_envelopes: AtomicU64,
    logs: AtomicU64,
    other: AtomicU64,
    serialized_bytes: AtomicU64,
    serialize: AtomicBool,
    keep: AtomicBool,
    buf: Mutex<Vec<u8>>,
    kept: Mutex<Option<Envelope>>,
}

impl Counting {
    fn new(serialize: bool, keep: bool) -> Arc<Counting> {
        let c = Counting::default();
        c.serialize.store(serialize, Relaxed);
        c.keep.store(keep, Relaxed);
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
}

impl Transport for Counting {
    fn send_envelope(&self, envelope: Envelope) {
        self.envelopes.fetch_add(1, Relaxed);
        let mut log_env = false;
        for item in envelope.items() {
            self.items.fetch_add(1, Relaxed);
            match item {
                EnvelopeItem::Event(_) => {
                    self.events.fetch_add(1, Relaxed);
                }
                EnvelopeItem::Transaction(tx) => {
                    self.transactions.fetch_add(1, Relaxed);
                    self.spans.fetch_add(tx.spans.len() as u64, Relaxed);
                }
                EnvelopeItem::ItemContainer(c) => {
                    log_env = true;
                    self.logs.fetch_add(c.len() as u64, Relaxed);
                }
                _ => {
                    self.other.fetch_add(1, Relaxed);
                }
            }
        }
        if log_env {
            self.log_envelopes.fetch_add(1, Relaxed);
        }
        if self.serialize.load(Relaxed) {
            if let Ok(mut buf) = self.buf.lock() {
                buf.clear();
                if envelope.to_writer(&mut *buf).is_ok() {
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
}

impl Counting {
    /// Runs `op` once with keeping on and returns the shape of the event or transaction it sent.
    pub(crate) fn shape_of(&self, op: impl FnOnce()) -> serde_json::Value {
        self.keep.store(true, Relaxed);
        op();
        self.keep.store(false, Relaxed);
        let kept = self.kept.lock().ok().and_then(|mut k| k.take());
        let payload = kept.as_ref().and_then(|env| {
            env.items().find_map(|i| match i {
                EnvelopeItem::Event(e) => serde_json::to_value(e).ok(),
                EnvelopeItem::Transaction(t) => serde_json::to_value(t).ok(),
                _ => None,
            })
        });
        match payload {
            Some(p) => {
                let bytes = serde_json::to_vec(&p).map_or(0, |b| b.len());
                crate::harness::shape(&p, bytes)
            }
            None => serde_json::Value::Null,
        }
    }
}

fn base_options(transport: &Arc<Counting>) -> ClientOptions {
    ClientOptions::new()
        .dsn(DSN)
        .release(RELEASE)
        .environment(ENVIRONMENT)
        .transport(transport.clone())
}

fn init(opts: ClientOptions) -> sentry::ClientInitGuard {
    sentry::init(opts)
}

/// The fixed breadcrumb, built as a user writes it.
#[inline]
fn breadcrumb() -> Breadcrumb {
    let mut data = Map::new();
    data.insert("user_id".to_string(), Value::from(42));
    data.insert("path".to_string(), Value::from("/api/items"));
    Breadcrumb {
        ty: "default".into(),
        category: Some(CRUMB_CATEGORY.into()),
        message: Some(CRUMB_MESSAGE.into()),
        level: Level::Info,
        timestamp: std::time::SystemTime::now(),
        data,
    }
}

fn user() -> User {
    User {
        id: Some("42".into()),
        email: Some("user@example.com".into()),
        ..Default::default()
    }
}

/// Runs one job of the `sentry` side in this process.
pub fn run(job: &str, opts: &Opts) -> Result<(), String> {
    match job {
        "disabled" => disabled(opts),
        "capture_message" => capture_message(opts),
        "capture_error" => capture_error(opts),
        "breadcrumb" => breadcrumb_job(opts),
        "scope" => scope(opts),
        "transaction" => transaction(opts),
        "tracing_layer" => crate::peer_tracing::run(opts, false),
        "tracing_layer_legacy" => crate::peer_tracing::run(opts, true),
        // sentry's default transport factory is its reqwest transport.
        "e2e_http.default" => e2e_named(opts, false, false, "e2e_http.default"),
        "e2e_http.reqwest" => e2e(opts, false, false),
        "e2e_http.ureq" => e2e(opts, true, false),
        "e2e_http.reqwest.big_queue" => e2e(opts, false, true),
        "e2e_http.ureq.big_queue" => e2e(opts, true, true),
        "serialize_baseline" => crate::baseline::run(opts),
        "stall_probe.default" | "stall_probe.reqwest" | "stall_probe.ureq" => {
            stall(opts, job == "stall_probe.ureq", job)
        }
        "dump" => dump(),
        other => Err(format!("unknown job {other}")),
    }
}

fn disabled(opts: &Opts) -> Result<(), String> {
    if sentry::Hub::current().client().is_some() {
        return Err("a client is bound before the disabled workloads".into());
    }
    if opts.wants("disabled.capture_message") {
        let m = measure(opts.n(5_000_000), opts.reps, || {
            black_box(sentry::capture_message(black_box(MESSAGE), Level::Info));
        });
        emit(SDK, "disabled.capture_message", &m, Ok(()), json!({}));
    }
    if opts.wants("disabled.add_breadcrumb") {
        let m = measure(opts.n(1_000_000), opts.reps, || {
            sentry::add_breadcrumb(black_box(breadcrumb()));
        });
        emit(SDK, "disabled.add_breadcrumb", &m, Ok(()), json!({}));
    }
    if opts.wants("disabled.add_breadcrumb_lazy") {
        let ran = AtomicU64::new(0);
        let m = measure(opts.n(5_000_000), opts.reps, || {
            sentry::add_breadcrumb(|| {
                ran.fetch_add(1, Relaxed);
                breadcrumb()
            });
        });
        let check = expect_eq("lazy breadcrumb closures run", ran.load(Relaxed), 0);
        emit(SDK, "disabled.add_breadcrumb_lazy", &m, check, json!({}));
    }
    if opts.wants("disabled.configure_scope_set_tag") {
        let m = measure(opts.n(5_000_000), opts.reps, || {
            sentry::configure_scope(|s| s.set_tag(black_box("tenant"), black_box("acme")));
        });
        emit(
            SDK,
            "disabled.configure_scope_set_tag",
            &m,
            Ok(()),
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
        let t = Counting::new(serialize, false);
        let guard = init(base_options(&t));
        if full {
            sentry::configure_scope(|s| {
                s.set_tag("tenant", "acme");
                s.set_user(Some(user()));
            });
            for _ in 0..100 {
                sentry::add_breadcrumb(breadcrumb());
            }
        }
        let m = measure(opts.n(n), opts.reps, || {
            black_box(sentry::capture_message(black_box(MESSAGE), Level::Info));
        });
        let bytes = t.serialized_bytes.load(Relaxed);
        let per_event = bytes / t.events().max(1);
        let shape = t.shape_of(|| {
            sentry::capture_message(MESSAGE, Level::Info);
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
    let t = Counting::new(false, false);
    let _guard = init(base_options(&t).attach_stacktrace(true));
    if opts.wants("capture_error") {
        let m = measure(opts.n(2_000), opts.reps, || {
            let err = black_box(error_chain());
            black_box(sentry::capture_error(&err));
        });
        let shape = t.shape_of(|| {
            sentry::capture_error(&error_chain());
        });
        let check = expect_eq("events sent", t.events(), m.calls + 1);
        emit(SDK, "capture_error", &m, check, json!({ "shape": shape }));
    }
    Ok(())
}

fn breadcrumb_job(opts: &Opts) -> Result<(), String> {
    let t = Counting::new(false, false);
    let _guard = init(base_options(&t).max_breadcrumbs(100));
    if opts.wants("breadcrumb") {
        let m = measure(opts.n(500_000), opts.reps, || {
            sentry::add_breadcrumb(black_box(breadcrumb()));
        });
        let check = expect_eq("envelopes sent", t.envelopes(), 0);
        emit(SDK, "breadcrumb", &m, check, json!({}));
    }
    Ok(())
}

fn scope(opts: &Opts) -> Result<(), String> {
    let t = Counting::new(false, false);
    let _guard = init(base_options(&t));
    if opts.wants("scope.with_scope") {
        let m = measure(opts.n(500_000), opts.reps, || {
            sentry::with_scope(
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
            sentry::configure_scope(|s| s.set_tag(black_box("tenant"), black_box("acme")));
        });
        let check = expect_eq("envelopes sent", t.envelopes(), 0);
        emit(SDK, "scope.configure_scope_set_tag", &m, check, json!({}));
    }
    Ok(())
}

fn transaction(opts: &Opts) -> Result<(), String> {
    if opts.wants("transaction") {
        let t = Counting::new(false, false);
        let _guard = init(base_options(&t).traces_sample_rate(1.0));
        let m = measure(opts.n(20_000), opts.reps, || {
            let tx = sentry::start_transaction(TransactionContext::new(TX_NAME, TX_OP));
            for _ in 0..10 {
                let span = tx.start_child(black_box(SPAN_OP), black_box(SPAN_DESC));
                span.finish();
            }
            tx.finish();
        });
        let check = expect_eq("transactions sent", t.transactions(), m.calls)
            .and_then(|()| expect_eq("spans sent", t.spans.load(Relaxed), m.calls * 10));
        let shape = t.shape_of(|| {
            let tx = sentry::start_transaction(TransactionContext::new(TX_NAME, TX_OP));
            for _ in 0..10 {
                tx.start_child(SPAN_OP, SPAN_DESC).finish();
            }
            tx.finish();
        });
        emit(SDK, "transaction", &m, check, json!({ "shape": shape }));
    }
    if opts.wants("transaction.unsampled") {
        // The same calls with traces_sample_rate 0.0: nothing may be sent.
        let t = Counting::new(false, false);
        let _guard = init(base_options(&t).traces_sample_rate(0.0));
        let m = measure(opts.n(20_000), opts.reps, || {
            let tx = sentry::start_transaction(TransactionContext::new(TX_NAME, TX_OP));
            for _ in 0..10 {
                let span = tx.start_child(black_box(SPAN_OP), black_box(SPAN_DESC));
                span.finish();
            }
            tx.finish();
        });
        let check = expect_eq("envelopes sent", t.envelopes(), 0);
        emit(SDK, "transaction.unsampled", &m, check, json!({}));
    }
    Ok(())
}

/// Shared with `peer_tracing`: a client for the tracing workloads.
pub(crate) fn tracing_client() -> (Arc<Counting>, sentry::ClientInitGuard) {
    let t = Counting::new(false, false);
    let guard = init(
        base_options(&t)
            .traces_sample_rate(1.0)
            .max_breadcrumbs(100),
    );
    (t, guard)
}

/// Counters read by `peer_tracing`.
pub(crate) fn counts(t: &Counting) -> (u64, u64, u64, u64, u64) {
    (
        t.events(),
        t.transactions(),
        t.spans.load(Relaxed),
        t.logs.load(Relaxed),
        t.log_envelopes.load(Relaxed),
    )
}

/// Captures the workload-2 event once through a keeping transport and returns its envelope.
pub(crate) fn workload2_envelope() -> Option<Envelope> {
    let t = Counting::new(false, true);
    let guard = init(base_options(&t));
    sentry::capture_message(MESSAGE, Level::Info);
    drop(guard);
    let kept = t.kept.lock().ok()?.take();
    kept
}

struct UreqFactory;
impl TransportFactory for UreqFactory {
    fn create_transport_with_options(
        &self,
        options: sentry::TransportOptions,
    ) -> Arc<dyn Transport> {
        Arc::new(sentry::transports::UreqHttpTransportOptions::from(options).build())
    }
}

fn e2e(opts: &Opts, ureq: bool, big_queue: bool) -> Result<(), String> {
    let workload = format!(
        "e2e_http.{}{}",
        if ureq { "ureq" } else { "reqwest" },
        if big_queue { ".big_queue" } else { "" }
    );
    e2e_named(opts, ureq, big_queue, &workload)
}

fn e2e_named(opts: &Opts, ureq: bool, big_queue: bool, workload: &str) -> Result<(), String> {
    let n = opts.n(20_000);
    let mut reps = Vec::new();
    let rss_before = crate::harness::proc_status_kb("VmRSS");
    for _ in 0..opts.e2e_reps {
        let sink = crate::sink::Sink::start().map_err(|e| format!("sink: {e}"))?;
        let mut options = ClientOptions::new()
            .dsn(&format!("http://public@127.0.0.1:{}/1", sink.port()))
            .release(RELEASE)
            .environment(ENVIRONMENT)
            .shutdown_timeout(Duration::from_secs(120));
        if ureq {
            options = options.transport(UreqFactory);
        }
        if big_queue {
            options.transport_channel_capacity = NonZeroUsize::new(n as usize + 16);
        }
        let guard = init(options);
        let client = sentry::Hub::current().client();
        let rep = crate::e2e::burst(
            n,
            &sink,
            || {
                black_box(sentry::capture_message(black_box(MESSAGE), Level::Info));
            },
            || {
                client
                    .as_ref()
                    .is_some_and(|c| c.flush(Some(Duration::from_secs(120))))
            },
            move || drop(guard),
        );
        reps.push(rep);
    }
    crate::e2e::emit_e2e(SDK, workload, n, rss_before, &reps);
    let _ = Instant::now();
    Ok(())
}

fn stall(opts: &Opts, ureq: bool, workload: &str) -> Result<(), String> {
    let n = opts.iters.unwrap_or(100);
    let sink = crate::sink::Sink::start_with(true).map_err(|e| format!("sink: {e}"))?;
    let mut options = ClientOptions::new()
        .dsn(&format!("http://public@127.0.0.1:{}/1", sink.port()))
        .release(RELEASE)
        .environment(ENVIRONMENT)
        .shutdown_timeout(Duration::from_secs(2));
    if ureq {
        options = options.transport(UreqFactory);
    }
    let guard = init(options);
    let client = sentry::Hub::current().client();
    crate::e2e::stall_probe(
        SDK,
        workload,
        n,
        || {
            black_box(sentry::capture_message(black_box(MESSAGE), Level::Info));
        },
        move || client.is_some_and(|c| c.flush(Some(Duration::from_secs(2)))),
        move || drop(guard),
    );
    // A transport thread may still be stuck on the hung socket: leave without joining it.
    std::process::exit(0);
}

/// `dump`: prints the envelopes of the workload-2 message and the workload-3 error (stdout).
fn dump() -> Result<(), String> {
    let t = Counting::new(false, true);
    let guard = init(base_options(&t).attach_stacktrace(true));
    let mut out = Vec::new();
    sentry::capture_message(MESSAGE, Level::Info);
    if let Some(env) = t.kept.lock().ok().and_then(|mut k| k.take()) {
        env.to_writer(&mut out).map_err(|e| e.to_string())?;
    }
    sentry::capture_error(&error_chain());
    if let Some(env) = t.kept.lock().ok().and_then(|mut k| k.take()) {
        env.to_writer(&mut out).map_err(|e| e.to_string())?;
    }
    drop(guard);
    println!("{}", String::from_utf8_lossy(&out));
    Ok(())
}
