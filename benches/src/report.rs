//! The final tables: per workload, the median over runs of each SDK's per-run median, the ratio
//! ours / sentry, the issue-6 target and whether it is met.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use crate::harness::median;

/// Issue-6 hot-path targets for our SDK in ns/op (and sentry 0.49.5's reference figure).
const TARGETS: &[(&str, f64, f64)] = &[
    ("disabled.capture_message", 3.0, 21.0),
    ("capture_message", 500.0, 1710.0),
    ("capture_message.with_serialize", 2600.0, 4190.0),
    ("capture_message.full_scope", 5000.0, 24500.0),
    ("capture_error", 10000.0, 84500.0),
    ("breadcrumb", 50.0, 162.0),
    ("scope.with_scope", 100.0, 371.0),
    ("scope.configure_scope_set_tag", 60.0, 208.0),
    ("transaction", 1000.0, 3250.0),
    ("tracing_layer.event", 100.0, 269.0),
    ("tracing_layer.span", 600.0, 2460.0),
];

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn fmt_ns(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// Renders the markdown tables for all lines (JSON objects from the job processes).
pub fn tables(lines: &[Value]) -> String {
    // workload -> sdk -> lines (one per run), keeping first-seen workload order.
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for l in lines {
        let (Some(w), Some(s)) = (
            l.get("workload").and_then(Value::as_str),
            l.get("sdk").and_then(Value::as_str),
        ) else {
            continue;
        };
        if !order.iter().any(|o| o == w) {
            order.push(w.to_string());
        }
        by.entry((w.to_string(), s.to_string()))
            .or_default()
            .push(l);
    }
    let get = |w: &str, s: &str| by.get(&(w.to_string(), s.to_string())).cloned();
    let med_of = |ls: &Option<Vec<&Value>>, key: &str| -> f64 {
        ls.as_ref().map_or(f64::NAN, |ls| {
            median(&ls.iter().filter_map(|l| num(l, key)).collect::<Vec<_>>())
        })
    };
    let mut out = String::new();
    let runs = lines
        .iter()
        .filter_map(|l| l.get("run").and_then(Value::as_u64))
        .max()
        .map_or(1, |r| r + 1);
    let _ = writeln!(
        out,
        "\nEach figure: median over {runs} run(s) of the per-run median ns/op (R batches of N)."
    );
    let _ = writeln!(
        out,
        "\n| workload | sentry ns/op | ours ns/op | ours/sentry | target | met abs / by ratio | allocs/op sentry / ours | notes |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|:-:|---:|---|");
    for w in order.iter().filter(|w| !w.starts_with("e2e_http")) {
        let s = get(w, "sentry-rust");
        let o = get(w, "ours");
        let (sm, om) = (
            med_of(&s, "ns_per_op_median"),
            med_of(&o, "ns_per_op_median"),
        );
        let ratio = if sm > 0.0 && om.is_finite() {
            format!("{:.2}", om / sm)
        } else {
            "-".into()
        };
        let target = TARGETS.iter().find(|(t, _, _)| t == w);
        // The target is absolute (issue 6, on the reference machine). On a slower or busier
        // machine the ratio is the fairer test: target / sentry's reference figure.
        let (tgt, met) = match target {
            Some((_, t, r)) if om.is_finite() => {
                let abs = if om <= *t { "yes" } else { "NO" };
                let by_ratio = if sm > 0.0 && om / sm <= t / r {
                    "yes"
                } else {
                    "NO"
                };
                (
                    format!("≤ {} (ratio ≤ {:.2})", fmt_ns(*t), t / r),
                    format!("{abs} / {by_ratio}"),
                )
            }
            Some((_, t, r)) => (
                format!("≤ {} (ratio ≤ {:.2})", fmt_ns(*t), t / r),
                "-".to_string(),
            ),
            None => (String::new(), String::new()),
        };
        let allocs = format!(
            "{} / {}",
            fmt_ns(med_of(&s, "allocs_per_op")),
            fmt_ns(med_of(&o, "allocs_per_op"))
        );
        let mut notes: Vec<String> = Vec::new();
        for ls in [&s, &o].into_iter().flatten() {
            for l in ls {
                if let Some(kept) = l.get("rule_kept").and_then(Value::as_bool) {
                    let c = format!(
                        "{}: flush {} ms, close {} ms{}",
                        l.get("sdk").and_then(Value::as_str).unwrap_or("?"),
                        num(l, "flush_ms").unwrap_or(f64::NAN),
                        num(l, "close_ms").unwrap_or(f64::NAN),
                        if kept { "" } else { " (HUNG: watched 10 s)" }
                    );
                    notes.push(c);
                }
                for key in ["check", "status", "note"] {
                    if let Some(c) = l.get(key).and_then(Value::as_str) {
                        let c = format!(
                            "{}: {c}",
                            l.get("sdk").and_then(Value::as_str).unwrap_or("?")
                        );
                        if !c.ends_with(": ok") && !notes.contains(&c) {
                            notes.push(c);
                        }
                    }
                }
            }
        }
        let shape_of = |ls: &Option<Vec<&Value>>| {
            ls.as_ref()
                .and_then(|ls| {
                    ls.iter()
                        .find_map(|l| l.get("shape").filter(|v| !v.is_null()))
                })
                .cloned()
        };
        if let (Some(ss), Some(os)) = (shape_of(&s), shape_of(&o)) {
            notes.push(crate::harness::shape_diff(&ss, &os));
        }
        if let Some(n) = crate::ours::note(w) {
            notes.push(n.to_string());
        }
        let _ = writeln!(
            out,
            "| {w} | {} | {} | {ratio} | {tgt} | {met} | {allocs} | {} |",
            if s.is_some() { fmt_ns(sm) } else { "-".into() },
            if o.is_some() { fmt_ns(om) } else { "-".into() },
            notes.join("; ")
        );
    }
    let e2e: Vec<&String> = order.iter().filter(|w| w.starts_with("e2e_http")).collect();
    if !e2e.is_empty() {
        let _ = writeln!(
            out,
            "\n| e2e workload | sdk | caller ns/op | p99 ns | received / sent | dropped | drops in client reports | delivered ev/s | deliver ms | CPU µs/delivered ev | wire B/ev | encoding | peak RSS MiB | targets (ours) |"
        );
        let _ = writeln!(
            out,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"
        );
        for w in e2e {
            for sdk in ["sentry-rust", "ours"] {
                let Some(ls) = get(w, sdk) else { continue };
                let ls = Some(ls);
                if ls
                    .as_ref()
                    .is_some_and(|l| l.iter().all(|l| l.get("status").is_some()))
                {
                    let _ = writeln!(
                        out,
                        "| {w} | {sdk} | n/a (not built yet) | | | | | | | | | | | |"
                    );
                    continue;
                }
                let sent = med_of(&ls, "events_sent");
                let recv = med_of(&ls, "events_received_median");
                let rss = med_of(&ls, "peak_rss_kb") / 1024.0;
                let evs = med_of(&ls, "delivered_events_per_sec_median");
                let enc = ls
                    .as_ref()
                    .and_then(|l| l.first())
                    .and_then(|l| l.get("content_encoding"))
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string();
                let targets = if sdk == "ours" {
                    let pct = if sent > 0.0 { recv / sent * 100.0 } else { 0.0 };
                    format!(
                        "≥99% {}; RSS≤64MiB {}; ≥40k/s {}",
                        if pct >= 99.0 { "yes" } else { "NO" },
                        if rss <= 64.0 { "yes" } else { "NO" },
                        if evs >= 40_000.0 { "yes" } else { "NO" }
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "| {w} | {sdk} | {} | {} | {recv:.0} / {sent:.0} | {:.0} | {:.0} | {evs:.0} | {:.0} | {:.1} | {:.0} | {enc} | {rss:.1} | {targets} |",
                    fmt_ns(med_of(&ls, "ns_per_op_median")),
                    fmt_ns(med_of(&ls, "call_latency_ns_p99_median")),
                    med_of(&ls, "events_dropped_median"),
                    med_of(&ls, "client_report_discarded_median"),
                    med_of(&ls, "deliver_ms_median"),
                    med_of(&ls, "cpu_us_per_delivered_event_median"),
                    med_of(&ls, "wire_bytes_per_event_median"),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(sdk: &str, w: &str, ns: f64, run: u64) -> Value {
        json!({"sdk": sdk, "workload": w, "ns_per_op_median": ns, "run": run, "check": "ok"})
    }

    #[test]
    fn ratio_and_targets_from_medians_of_runs() {
        let lines = vec![
            line("sentry-rust", "capture_message", 2000.0, 0),
            line("ours", "capture_message", 400.0, 0),
            line("sentry-rust", "capture_message", 1800.0, 1),
            line("ours", "capture_message", 900.0, 1),
            line("sentry-rust", "capture_message", 1900.0, 2),
            line("ours", "capture_message", 450.0, 2),
        ];
        let t = tables(&lines);
        assert!(t.contains("median over 3 run(s)"), "{t}");
        // medians: sentry 1900, ours 450 -> ratio 0.24, both checks met
        assert!(
            t.contains(
                "| capture_message | 1900 | 450 | 0.24 | ≤ 500 (ratio ≤ 0.29) | yes / yes |"
            ),
            "{t}"
        );
    }

    #[test]
    fn failed_checks_show_in_the_notes() {
        let mut bad = line("ours", "breadcrumb", 60.0, 0);
        bad["check"] = json!("FAILED: envelopes sent: expected 0, got 3");
        let t = tables(&[line("sentry-rust", "breadcrumb", 160.0, 0), bad]);
        assert!(t.contains("ours: FAILED: envelopes sent"), "{t}");
        assert!(t.contains("NO / NO"), "{t}");
    }
}
