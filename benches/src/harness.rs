//! Timing, allocation counting and the JSON line of one workload (WORKLOAD.md "Timing" and
//! "Output format").

use std::hint::black_box;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::alloc;

/// Options every job gets from the command line.
#[derive(Debug, Clone)]
pub struct Opts {
    /// `--iters N`: overrides every workload's N.
    pub iters: Option<u64>,
    /// `--quick`: divides N by 20.
    pub quick: bool,
    /// `--reps R`: timed batches per workload (7).
    pub reps: usize,
    /// `--e2e-reps R`: repetitions of the e2e burst per process (3).
    pub e2e_reps: usize,
    /// `--only WORKLOAD`: run only this workload of a job (for profiling).
    pub only: Option<String>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            iters: None,
            quick: false,
            reps: 7,
            e2e_reps: 3,
            only: None,
        }
    }
}

impl Opts {
    /// Whether `workload` should run (`--only` not given, or naming it).
    pub fn wants(&self, workload: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o == workload)
    }

    /// The batch size for a workload whose default N is `default`.
    pub fn n(&self, default: u64) -> u64 {
        let n = self.iters.unwrap_or(default);
        if self.quick {
            (n / 20).max(1)
        } else {
            n.max(1)
        }
    }
}

/// What one workload measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Batch size N.
    pub n: u64,
    /// ns per op of each timed batch.
    pub per_op_ns: Vec<f64>,
    /// Every call made (warm-up, timed batches, the allocation batch).
    pub calls: u64,
    /// Allocations per op (all threads), from an extra untimed batch.
    pub allocs_per_op: f64,
    /// Bytes requested per op (all threads), from the same batch.
    pub alloc_bytes_per_op: f64,
}

/// Runs one warm-up batch of `max(N/5, 1)` calls, `reps` timed batches of `n` calls, then one
/// untimed batch of `max(N/5, 1)` calls with allocation counting on.
pub fn measure(n: u64, reps: usize, mut op: impl FnMut()) -> Measured {
    let warm = (n / 5).max(1);
    for _ in 0..warm {
        op();
    }
    let mut per_op_ns = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        for _ in 0..n {
            op();
        }
        per_op_ns.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    alloc::start();
    for _ in 0..warm {
        op();
    }
    let (count, bytes) = alloc::stop();
    black_box(&mut op);
    Measured {
        n,
        per_op_ns,
        calls: warm * 2 + n * reps as u64,
        allocs_per_op: count as f64 / warm as f64,
        alloc_bytes_per_op: bytes as f64 / warm as f64,
    }
}

/// Median of a list (the mean of the two middle values for even lengths); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Rounds to 0.1 for the JSON output.
pub fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A `key: value` line of `/proc/self/status` in kB (`VmHWM`, `VmRSS`); 0 when unknown.
pub fn proc_status_kb(key: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(key)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .unwrap_or(0)
}

/// Identifies the SDK a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdk {
    /// The official `sentry` crate.
    Sentry,
    /// Our SDK.
    Ours,
}

impl Sdk {
    /// The `sdk` field of the JSON line.
    pub fn name(self) -> &'static str {
        match self {
            Sdk::Sentry => "sentry-rust",
            Sdk::Ours => "ours",
        }
    }
    /// The `version` field of the JSON line.
    pub fn version(self) -> &'static str {
        match self {
            Sdk::Sentry => "0.49.5",
            Sdk::Ours => env!("CARGO_PKG_VERSION"),
        }
    }
    /// Parses `sentry` / `ours`.
    pub fn parse(s: &str) -> Option<Sdk> {
        match s {
            "sentry" | "sentry-rust" | "peer" => Some(Sdk::Sentry),
            "ours" | "our" | "sdk" => Some(Sdk::Ours),
            _ => None,
        }
    }
}

/// Prints one JSON line for a measured workload. `check` is `Ok(())` when the workload's
/// count check passed, or the reason it failed (the line then says `"check":"FAILED: ..."`).
pub fn emit(sdk: Sdk, workload: &str, m: &Measured, check: Result<(), String>, extra: Value) {
    let med = median(&m.per_op_ns);
    let min = m.per_op_ns.iter().copied().fold(f64::INFINITY, f64::min);
    let max = m.per_op_ns.iter().copied().fold(0.0, f64::max);
    let mut line = Map::new();
    line.insert("sdk".into(), json!(sdk.name()));
    line.insert("version".into(), json!(sdk.version()));
    line.insert("workload".into(), json!(workload));
    line.insert("ns_per_op_median".into(), json!(r1(med)));
    line.insert("ns_per_op_min".into(), json!(r1(min)));
    line.insert("ns_per_op_max".into(), json!(r1(max)));
    line.insert("iters".into(), json!(m.n));
    line.insert("reps".into(), json!(m.per_op_ns.len()));
    line.insert(
        "ops_per_sec_median".into(),
        json!(if med > 0.0 { (1e9 / med).round() } else { 0.0 }),
    );
    line.insert("calls".into(), json!(m.calls));
    line.insert("allocs_per_op".into(), json!(r1(m.allocs_per_op)));
    line.insert("alloc_bytes_per_op".into(), json!(r1(m.alloc_bytes_per_op)));
    line.insert(
        "check".into(),
        json!(match &check {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("FAILED: {e}"),
        }),
    );
    if let Value::Object(extra) = extra {
        line.extend(extra);
    }
    line.insert("peak_rss_kb".into(), json!(proc_status_kb("VmHWM")));
    print_line(&Value::Object(line));
}

/// Prints a line for a workload our SDK cannot run yet.
pub fn emit_na(sdk: Sdk, workload: &str, why: &str) {
    print_line(&json!({
        "sdk": sdk.name(), "version": sdk.version(), "workload": workload,
        "ns_per_op_median": null, "ns_per_op_min": null, "iters": 0,
        "status": format!("n/a ({why})"),
    }));
}

/// Prints a JSON value as one line on stdout.
pub fn print_line(v: &Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// `Ok(())` when `got == want`, else a message naming `what`.
pub fn expect_eq(what: &str, got: u64, want: u64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: expected {want}, got {got}"))
    }
}

/// A summary of an event or transaction payload, so the table can say where one SDK's events
/// carry more or less data than the other's: JSON size, top-level keys, context names and the
/// sizes of the lists that matter.
pub fn shape(payload: &Value, bytes: usize) -> Value {
    let keys: Vec<&str> = payload
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let contexts: Vec<&str> = payload
        .get("contexts")
        .and_then(Value::as_object)
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let len = |ptr: &str| {
        payload
            .pointer(ptr)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let frames = payload
        .pointer("/threads/values/0/stacktrace/frames")
        .or_else(|| payload.pointer("/exception/values/0/stacktrace/frames"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    json!({
        "bytes": bytes,
        "keys": keys,
        "contexts": contexts,
        "images": len("/debug_meta/images"),
        "exceptions": len("/exception/values"),
        "frames": frames,
        "breadcrumbs": len("/breadcrumbs/values"),
        "spans": len("/spans"),
        "tags": payload.get("tags").and_then(Value::as_object).map_or(0, |t| t.len()),
        "sdk_integrations": len("/sdk/integrations"),
    })
}

/// Compares two shapes (ours against sentry's) in words; empty when they match.
pub fn shape_diff(sentry: &Value, ours: &Value) -> String {
    let set = |v: &Value, k: &str| -> Vec<String> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut parts = Vec::new();
    for k in ["keys", "contexts"] {
        let (s, o) = (set(sentry, k), set(ours, k));
        let missing: Vec<&String> = s.iter().filter(|x| !o.contains(x)).collect();
        let extra: Vec<&String> = o.iter().filter(|x| !s.contains(x)).collect();
        if !missing.is_empty() {
            parts.push(format!(
                "ours lacks {}{}",
                if k == "contexts" { "contexts " } else { "" },
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        if !extra.is_empty() {
            parts.push(format!(
                "ours adds {}{}",
                if k == "contexts" { "contexts " } else { "" },
                extra
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
    }
    for k in [
        "images",
        "exceptions",
        "frames",
        "breadcrumbs",
        "spans",
        "tags",
        "sdk_integrations",
    ] {
        let (s, o) = (
            sentry.get(k).and_then(Value::as_u64).unwrap_or(0),
            ours.get(k).and_then(Value::as_u64).unwrap_or(0),
        );
        if s != o {
            parts.push(format!("{k} {o} vs {s}"));
        }
    }
    let (s, o) = (
        sentry.get("bytes").and_then(Value::as_u64).unwrap_or(0),
        ours.get("bytes").and_then(Value::as_u64).unwrap_or(0),
    );
    parts.push(format!("JSON {o} B vs {s} B"));
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn quick_divides_n_by_20_and_never_reaches_zero() {
        let mut o = Opts::default();
        assert_eq!(o.n(50_000), 50_000);
        o.quick = true;
        assert_eq!(o.n(50_000), 2_500);
        assert_eq!(o.n(10), 1);
        o.iters = Some(400);
        assert_eq!(o.n(50_000), 20);
    }

    #[test]
    fn measure_counts_every_call() {
        let mut calls = 0u64;
        let m = measure(10, 3, || calls += 1);
        // warm-up 2, 3 batches of 10, allocation batch 2
        assert_eq!(m.calls, 34);
        assert_eq!(calls, 34);
        assert_eq!(m.per_op_ns.len(), 3);
    }

    #[test]
    fn shape_diff_names_missing_and_extra_parts() {
        let sentry = shape(
            &json!({"a": 1, "contexts": {"os": {}, "rust": {}}, "debug_meta": {"images": [1, 2]}}),
            100,
        );
        let ours = shape(&json!({"a": 1, "b": 2, "contexts": {"os": {}}}), 80);
        let d = shape_diff(&sentry, &ours);
        assert!(d.contains("ours lacks debug_meta"), "{d}");
        assert!(d.contains("ours adds b"), "{d}");
        assert!(d.contains("ours lacks contexts rust"), "{d}");
        assert!(d.contains("images 0 vs 2"), "{d}");
        assert!(d.contains("JSON 80 B vs 100 B"), "{d}");
    }
}
