//! The e2e burst (WORKLOAD.md workload 8), shared by both SDKs: timing of the capture loop,
//! flush and close, and the JSON line built from the sink's counters.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::harness::{median, print_line, proc_status_kb, r1, Sdk};
use crate::sink::{Sink, SinkStats};

/// One repetition's figures.
#[derive(Debug, Clone)]
pub struct Rep {
    /// Sum of the per-call latencies (ns).
    pub loop_ns: f64,
    /// Per-call latency percentiles (ns): p50, p99, p99.9, max.
    pub lat: [f64; 4],
    /// t0 until flush returned (ms).
    pub deliver_ms: f64,
    /// Whether flush said the queue drained.
    pub flush_ok: bool,
    /// t0 until the sink finished reading the last envelope (ms).
    pub last_envelope_ms: f64,
    /// Flush return until the guard's drop returned (ms).
    pub close_ms: f64,
    /// What the sink counted after close.
    pub stats: SinkStats,
    /// CPU time of the whole process (all threads, user + system) from t0 to close, in ms.
    pub cpu_ms: f64,
}

/// User + system CPU time of this process so far, in ms (from `/proc/self/stat`, clock ticks
/// of 10 ms); NaN when unavailable.
pub fn process_cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) * 10.0,
        _ => f64::NAN,
    }
}

/// Runs one repetition: `n` captures with a clock read after each, then `flush`, then `close`.
pub fn burst(
    n: u64,
    sink: &Sink,
    mut capture: impl FnMut(),
    flush: impl FnOnce() -> bool,
    close: impl FnOnce(),
) -> Rep {
    let mut lats: Vec<u64> = Vec::with_capacity(n as usize);
    let cpu0 = process_cpu_ms();
    let t0 = Instant::now();
    let mut prev = t0;
    for _ in 0..n {
        capture();
        let now = Instant::now();
        lats.push((now - prev).as_nanos() as u64);
        prev = now;
    }
    let loop_ns = (prev - t0).as_nanos() as f64;
    let flush_ok = flush();
    let t_flush = Instant::now();
    close();
    let t_close = Instant::now();
    let cpu_ms = process_cpu_ms() - cpu0;
    let stats = sink.stats();
    lats.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lats.is_empty() {
            return 0.0;
        }
        let idx = ((lats.len() as f64 * p).ceil() as usize).clamp(1, lats.len()) - 1;
        lats[idx] as f64
    };
    Rep {
        loop_ns,
        lat: [
            pct(0.5),
            pct(0.99),
            pct(0.999),
            lats.last().copied().unwrap_or(0) as f64,
        ],
        deliver_ms: (t_flush - t0).as_secs_f64() * 1e3,
        flush_ok,
        last_envelope_ms: stats.last_envelope_at.map_or(f64::NAN, |t| {
            t.saturating_duration_since(t0).as_secs_f64() * 1e3
        }),
        close_ms: (t_close - t_flush).as_secs_f64() * 1e3,
        stats,
        cpu_ms,
    }
}

/// Prints the e2e JSON line of one process.
pub fn emit_e2e(sdk: Sdk, workload: &str, n: u64, rss_before: u64, reps: &[Rep]) {
    let col = |f: &dyn Fn(&Rep) -> f64| -> Vec<f64> { reps.iter().map(f).collect() };
    let min = |v: Vec<f64>| v.into_iter().fold(f64::INFINITY, f64::min);
    let per_op = col(&|r| r.loop_ns / n as f64);
    let received = col(&|r| r.stats.events as f64);
    let dropped = col(&|r| n as f64 - r.stats.events as f64);
    let reported = col(&|r| r.stats.discarded.values().sum::<u64>() as f64);
    let mut reasons: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in reps {
        for k in r.stats.discarded.keys() {
            reasons.entry(k.clone()).or_default();
        }
    }
    for (k, v) in reasons.iter_mut() {
        *v = reps
            .iter()
            .map(|r| r.stats.discarded.get(k).copied().unwrap_or(0) as f64)
            .collect();
    }
    let reasons: Map<String, Value> = reasons
        .into_iter()
        .map(|(k, v)| (k, json!(median(&v))))
        .collect();
    let first = reps.first().map(|r| &r.stats);
    let line = json!({
        "sdk": sdk.name(),
        "version": sdk.version(),
        "workload": workload,
        "ns_per_op_median": r1(median(&per_op)),
        "ns_per_op_min": r1(min(per_op.clone())),
        "iters": n,
        "reps": reps.len(),
        "capture_loop_ms_median": r1(median(&col(&|r| r.loop_ns / 1e6))),
        "call_latency_ns_p50_median": median(&col(&|r| r.lat[0])),
        "call_latency_ns_p99_median": median(&col(&|r| r.lat[1])),
        "call_latency_ns_p999_median": median(&col(&|r| r.lat[2])),
        "call_latency_ns_max_median": median(&col(&|r| r.lat[3])),
        "deliver_ms_median": r1(median(&col(&|r| r.deliver_ms))),
        "flush_returned_true": reps.iter().filter(|r| r.flush_ok).count(),
        "last_envelope_ms_median": r1(median(&col(&|r| r.last_envelope_ms))),
        "close_ms_median": r1(median(&col(&|r| r.close_ms))),
        "events_sent": n,
        "events_received_median": median(&received),
        "events_received_per_rep": received,
        "events_dropped_median": median(&dropped),
        "client_report_discarded_median": median(&reported),
        "client_report_reasons_median": reasons,
        "drops_accounted_by_client_reports": reps.iter().all(|r| {
            r.stats.discarded.values().sum::<u64>() >= n.saturating_sub(r.stats.events)
        }),
        "delivered_events_per_sec_median": median(&col(&|r| {
            if r.deliver_ms > 0.0 { (r.stats.events as f64 / (r.deliver_ms / 1e3)).round() } else { 0.0 }
        })),
        "wire_bytes_per_event_median": r1(median(&col(&|r| {
            r.stats.wire_bytes as f64 / r.stats.events.max(1) as f64
        }))),
        "decoded_bytes_per_event_median": r1(median(&col(&|r| {
            r.stats.decoded_bytes as f64 / r.stats.events.max(1) as f64
        }))),
        "requests_median": median(&col(&|r| r.stats.requests as f64)),
        "envelopes_median": median(&col(&|r| r.stats.envelopes as f64)),
        "parse_errors": reps.iter().map(|r| r.stats.parse_errors + r.stats.unknown_encoding).sum::<u64>(),
        "content_encoding": first.and_then(|s| s.first_content_encoding.clone()),
        "request_header_names": first.map(|s| s.first_header_names.clone()).unwrap_or_default(),
        "cpu_ms_median": r1(median(&col(&|r| r.cpu_ms))),
        "cpu_us_per_delivered_event_median": r1(median(&col(&|r| {
            r.cpu_ms * 1e3 / r.stats.events.max(1) as f64
        }))),
        "peak_rss_kb": proc_status_kb("VmHWM"),
        "rss_before_kb": rss_before,
    });
    print_line(&line);
}

/// `stall_probe`: `n` captures against a sink that never answers, then `flush` and `close` on
/// helper threads, each watched for 10 s. Prints one JSON line.
pub fn stall_probe(
    sdk: Sdk,
    workload: &str,
    n: u64,
    mut capture: impl FnMut(),
    flush: impl FnOnce() -> bool + Send + 'static,
    close: impl FnOnce() + Send + 'static,
) {
    use std::sync::mpsc;
    use std::time::Duration;
    let t = Instant::now();
    for _ in 0..n {
        capture();
    }
    let capture_ns = t.elapsed().as_nanos() as f64 / n.max(1) as f64;
    std::thread::sleep(Duration::from_millis(200));
    let watch = |f: Box<dyn FnOnce() -> bool + Send>| -> (Option<bool>, f64) {
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        let _ = std::thread::Builder::new()
            .name("stall-watch".into())
            .spawn(move || {
                let r = f();
                let _ = tx.send(r);
            });
        let r = rx.recv_timeout(Duration::from_secs(10)).ok();
        (r, start.elapsed().as_secs_f64() * 1e3)
    };
    let (flushed, flush_ms) = watch(Box::new(flush));
    let (closed, close_ms) = watch(Box::new(move || {
        close();
        true
    }));
    print_line(&json!({
        "sdk": sdk.name(), "version": sdk.version(), "workload": workload,
        "ns_per_op_median": r1(capture_ns), "ns_per_op_min": r1(capture_ns), "iters": n,
        "flush_returned": flushed.is_some(), "flush_result": flushed, "flush_ms": r1(flush_ms),
        "close_returned": closed.is_some(), "close_ms": r1(close_ms),
        "rule_kept": flushed.is_some() && closed.is_some() && flush_ms < 2500.0 && close_ms < 2500.0,
    }));
}
