//! Caller-side cost of transactions and spans (WORKLOAD.md workload 6) through a real client
//! with a transport that only counts envelopes.
//!
//! Run: `cargo run --release -p sdk-core --example perf_harness`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sdk_core::transport::{DataCategory, DiscardReason, Envelope, Transport};
use sdk_core::{ClientOptions, TransactionContext};

#[derive(Default)]
struct Counting {
    envelopes: AtomicU64,
    discards: AtomicU64,
}

impl Transport for Counting {
    fn send_envelope(&self, envelope: Envelope) {
        std::hint::black_box(envelope);
        self.envelopes.fetch_add(1, Ordering::Relaxed);
    }
    fn flush(&self, _: Duration) -> bool {
        true
    }
    fn record_discard(&self, _: DiscardReason, _: DataCategory, quantity: u64) {
        self.discards.fetch_add(quantity, Ordering::Relaxed);
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

#[inline(never)]
fn measure(label: &str, n: usize, mut op: impl FnMut()) {
    let n = n / std::env::var("SCALE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1);
    let batch = 100;
    let mut samples = Vec::with_capacity(n / batch);
    for i in 0..n / batch {
        let t = Instant::now();
        for _ in 0..batch {
            op();
        }
        if i >= 5 {
            samples.push(t.elapsed().as_nanos() as f64 / batch as f64);
        }
    }
    println!("{label:<40} median {:>7.0} ns/op", median(samples));
}

fn main() {
    let counting = Arc::new(Counting::default());
    let transport: Arc<dyn Transport> = counting.clone();
    let rate: f32 = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(1.0);
    let _guard = sdk_core::init(
        ClientOptions::new()
            .dsn("https://public@o1.ingest.example.com/1")
            .release("peer-bench@0.1.0")
            .traces_sample_rate(rate)
            .transport(transport),
    );
    let t = Instant::now();
    for _ in 0..100_000 {
        std::hint::black_box(Instant::now());
    }
    println!(
        "{:<40} {:>7.1} ns",
        "Instant::now",
        t.elapsed().as_nanos() as f64 / 1e5
    );
    for _ in 0..2 {
        measure("transaction + 10 spans (workload 6)", 20_000, || {
            let tx = sdk_core::start_transaction(TransactionContext::new(
                "GET /api/items",
                "http.server",
            ));
            for _ in 0..10 {
                let span = tx.start_child("db.query", "SELECT * FROM items WHERE id = ?");
                span.finish();
            }
            tx.finish();
        });
        if std::env::var_os("ONLY_SPANS").is_some() {
            continue;
        }
        measure("transaction, no spans", 20_000, || {
            sdk_core::start_transaction(TransactionContext::new("GET /api/items", "http.server"))
                .finish();
        });
    }
    println!(
        "envelopes {} discards {}",
        counting.envelopes.load(Ordering::Relaxed),
        counting.discards.load(Ordering::Relaxed)
    );
}
