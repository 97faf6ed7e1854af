//! The `sentry` side of workload 7 (`tracing_layer` and `tracing_layer_legacy`): a global
//! subscriber with sentry-tracing's layers.

use std::hint::black_box;

use serde_json::json;
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::prelude::*;

use crate::harness::{emit, expect_eq, measure, Opts, Sdk};

const SDK: Sdk = Sdk::Sentry;

/// Runs the three tracing workloads in this process (one variant).
pub fn run(opts: &Opts, legacy: bool) -> Result<(), String> {
    use sentry::integrations::tracing as st;
    let (t, _guard) = crate::peer::tracing_client();
    let set = if legacy {
        #[allow(deprecated)]
        let layer = st::layer();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
    } else {
        let sub = tracing_subscriber::registry()
            .with(st::SpanLayer::new().with_filter(LevelFilter::INFO))
            .with(st::BreadcrumbLayer::new().with_filter(filter_fn(|m| {
                matches!(*m.level(), tracing::Level::WARN | tracing::Level::INFO)
            })))
            .with(st::ErrorLayer::new().with_filter(LevelFilter::ERROR));
        tracing::subscriber::set_global_default(sub)
    };
    set.map_err(|e| format!("global subscriber: {e}"))?;
    let prefix = if legacy {
        "tracing_layer_legacy"
    } else {
        "tracing_layer"
    };

    if opts.wants(&format!("{prefix}.event")) {
        let before = crate::peer::counts(&t);
        let m = measure(opts.n(200_000), opts.reps, || {
            tracing::info!(user_id = 42u64, path = "/api/items", "request handled");
        });
        let after = crate::peer::counts(&t);
        let check = expect_eq("error events sent", after.0 - before.0, 0);
        emit(
            SDK,
            &format!("{prefix}.event"),
            &m,
            check,
            json!({ "logs_sent": after.3 - before.3, "log_envelopes_sent": after.4 - before.4,
                    "note": if legacy { "breadcrumb + structured log per event" } else { "breadcrumb per event" } }),
        );
    }

    if opts.wants(&format!("{prefix}.span")) {
        let before = crate::peer::counts(&t);
        let m = measure(opts.n(50_000), opts.reps, || {
            let s = tracing::info_span!("peer.span", user_id = 42u64, path = "/api/items");
            let _e = s.enter();
            black_box(&_e);
        });
        let after = crate::peer::counts(&t);
        let check = expect_eq("transactions sent", after.1 - before.1, m.calls);
        emit(SDK, &format!("{prefix}.span"), &m, check, json!({}));
    }

    if opts.wants(&format!("{prefix}.span_tree")) {
        let before = crate::peer::counts(&t);
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
        let after = crate::peer::counts(&t);
        let check = expect_eq("transactions sent", after.1 - before.1, m.calls)
            .and_then(|()| expect_eq("spans sent", after.2 - before.2, m.calls * 10));
        let shape = t.shape_of(tree);
        emit(
            SDK,
            &format!("{prefix}.span_tree"),
            &m,
            check,
            json!({ "shape": shape }),
        );
    }
    Ok(())
}
