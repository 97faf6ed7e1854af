//! Caller-side cost of the layer (WORKLOAD.md workload 7, modern variant's shape: one layer,
//! global subscriber) with a transport that only counts envelopes.
//!
//! Run: `cargo run --release -p sdk-tracing --example layer_harness`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sdk_core::transport::{DataCategory, DiscardReason, Envelope, Transport};
use sdk_core::ClientOptions;
use tracing_subscriber::prelude::*;

#[derive(Default)]
struct Counting {
    envelopes: AtomicU64,
}

impl Transport for Counting {
    fn send_envelope(&self, envelope: Envelope) {
        std::hint::black_box(envelope);
        self.envelopes.fetch_add(1, Ordering::Relaxed);
    }
    fn flush(&self, _: Duration) -> bool {
        true
    }
    fn record_discard(&self, _: DiscardReason, _: DataCategory, _: u64) {}
}

#[inline(never)]
fn measure(label: &str, n: usize, mut op: impl FnMut()) {
    let n = n / scale();
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
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label:<32} median {:>7.0} ns/op",
        samples[samples.len() / 2]
    );
}

/// `SCALE=20` divides the iteration counts (for callgrind).
fn scale() -> usize {
    std::env::var("SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn main() {
    let bind = std::env::args().nth(1).as_deref() != Some("nobind");
    let only = std::env::args().nth(2);
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let counting = Arc::new(Counting::default());
    let transport: Arc<dyn Transport> = counting.clone();
    let _guard = sdk_core::init(
        ClientOptions::new()
            .dsn("https://public@o1.ingest.example.com/1")
            .release("peer-bench@0.1.0")
            .traces_sample_rate(1.0)
            .transport(transport),
    );
    let layer = sdk_tracing::layer().bind_spans_to_scope(bind);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .expect("first subscriber");
    for _ in 0..2 {
        if run("event") {
            measure("tracing_layer.event", 200_000, || {
                tracing::info!(user_id = 42u64, path = "/api/items", "request handled");
            });
        }
        if run("span") {
            measure("tracing_layer.span", 50_000, || {
                let s = tracing::info_span!("peer.span", user_id = 42u64, path = "/api/items");
                let _e = s.enter();
            });
        }
        if !run("tree") {
            continue;
        }
        measure("tracing_layer.span_tree", 10_000, || {
            let root = tracing::info_span!("request", method = "GET", route = "/api/items");
            let _r = root.enter();
            for i in 0..10u64 {
                let q = tracing::info_span!("query", table = "items", row_id = i);
                let _q = q.enter();
            }
        });
    }
    println!("envelopes {}", counting.envelopes.load(Ordering::Relaxed));
}
