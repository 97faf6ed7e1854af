//! Caller-side cost of transactions and spans (WORKLOAD.md workload 6), measured without a
//! client: a sink that builds the envelope and counts it, as a counting transport would.
//!
//! Run: `cargo run --release -p sdk-core --example perf_harness`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use sdk_core::performance::{
    FinishedTransaction, SamplingOptions, TracingConfig, Transaction, TransactionContext,
    TransactionSink,
};
use sdk_core::transport::{DataCategory, DiscardReason};

struct CountingSink {
    config: TracingConfig,
    envelopes: AtomicU64,
    discards: AtomicU64,
}

impl TransactionSink for CountingSink {
    fn config(&self) -> &TracingConfig {
        &self.config
    }
    fn send(&self, transaction: Arc<FinishedTransaction>) {
        let envelope = transaction.into_envelope();
        std::hint::black_box(envelope);
        self.envelopes.fetch_add(1, Ordering::Relaxed);
    }
    fn record_discard(&self, _: DiscardReason, _: DataCategory, quantity: u64) {
        self.discards.fetch_add(quantity, Ordering::Relaxed);
    }
}

fn run(label: &str, rate: f64, n: usize) {
    let sink = Arc::new(CountingSink {
        config: TracingConfig {
            sampling: SamplingOptions::with_rate(rate),
            ..Default::default()
        },
        envelopes: AtomicU64::new(0),
        discards: AtomicU64::new(0),
    });
    let sink_dyn: Arc<dyn TransactionSink> = sink.clone();
    let mut samples = Vec::with_capacity(n / 100);
    for batch in 0..n / 100 {
        let t = Instant::now();
        for _ in 0..100 {
            let tx = Transaction::start(
                TransactionContext::new("GET /api/items", "http.server"),
                sink_dyn.clone(),
            );
            for _ in 0..10 {
                let span = tx.start_child("db.query", "SELECT * FROM items WHERE id = ?");
                span.finish();
            }
            tx.finish();
        }
        if batch > 5 {
            samples.push(t.elapsed().as_nanos() as f64 / 100.0);
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let median = samples[samples.len() / 2];
    println!(
        "{label}: median {median:.0} ns per transaction with 10 spans ({} envelopes, {} discards)",
        sink.envelopes.load(Ordering::Relaxed),
        sink.discards.load(Ordering::Relaxed)
    );
}

fn clock(n: usize) {
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(Instant::now());
    }
    println!(
        "Instant::now: {:.1} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}

fn main() {
    clock(1_000_000);
    run("sampled", 1.0, 20_000);
    run("unsampled", 0.0, 20_000);
    run("sampled", 1.0, 20_000);
}
