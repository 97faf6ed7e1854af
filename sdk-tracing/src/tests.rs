//! The layer's mapping, checked on what reaches an in-memory transport.

use sdk_core::transport::{Envelope, ItemType};
use sdk_core::ClientOptions;
use serde_json::Value;
use tracing_subscriber::prelude::*;

use super::*;
use crate::test_support::{capture, envelope_texts, first_body};

fn bodies(envelopes: &[Envelope], ty: ItemType) -> Vec<(Value, Value)> {
    envelope_texts(envelopes, ty)
        .iter()
        .map(|text| {
            let header = serde_json::from_str(text.lines().next().expect("header")).expect("json");
            let body = serde_json::from_str(first_body(text)).expect("json");
            (header, body)
        })
        .collect()
}

#[test]
fn nested_spans_become_a_transaction_with_a_span_tree() {
    let envelopes = capture(layer(), || {
        let root = tracing::info_span!("request", method = "GET", route = "/api/items");
        let _r = root.enter();
        for i in 0..3u64 {
            let q = tracing::info_span!("query", table = "items", row_id = i);
            let _q = q.enter();
            let inner = tracing::info_span!("decode", sentry.op = "serialize");
            drop(inner);
        }
    });
    let txs = bodies(&envelopes, ItemType::Transaction);
    assert_eq!(txs.len(), 1);
    let (header, tx) = &txs[0];
    assert_eq!(tx["transaction"], "request");
    let trace = &tx["contexts"]["trace"];
    assert_eq!(trace["op"], "sdk_tracing::tests::request");
    assert_eq!(trace["data"]["route"], "/api/items");
    assert_eq!(header["trace"]["trace_id"], trace["trace_id"]);
    let spans = tx["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 6);
    let queries: Vec<&Value> = spans
        .iter()
        .filter(|s| s["description"] == "query")
        .collect();
    assert_eq!(queries.len(), 3);
    for q in &queries {
        assert_eq!(q["parent_span_id"], trace["span_id"]);
        assert_eq!(q["data"]["table"], "items");
        assert!(q["start_timestamp"].as_f64() <= q["timestamp"].as_f64());
    }
    assert_eq!(queries[0]["data"]["row_id"], 0);
    assert_eq!(
        queries[0]["data"]["code.file.path"],
        "sdk-tracing/src/tests.rs"
    );
    assert_eq!(queries[0]["data"]["code.module.name"], "sdk_tracing::tests");
    assert_eq!(
        queries[0]["data"]["sentry.tracing.target"],
        "sdk_tracing::tests"
    );
    assert!(queries[0]["data"]["code.line.number"].as_u64().is_some());
    let decodes: Vec<&Value> = spans.iter().filter(|s| s["op"] == "serialize").collect();
    assert_eq!(decodes.len(), 3);
    for d in decodes {
        assert!(queries.iter().any(|q| q["span_id"] == d["parent_span_id"]));
    }
}

#[test]
fn info_events_are_breadcrumbs_and_errors_are_linked_events() {
    let envelopes = capture(layer(), || {
        tracing::debug!("not recorded");
        tracing::info!(user_id = 42u64, path = "/api/items", "request handled");
        let root = tracing::info_span!("job");
        let _r = root.enter();
        tracing::warn!("slow");
        tracing::error!(attempt = 3u64, "gave up");
    });
    let events = bodies(&envelopes, ItemType::Event);
    assert_eq!(events.len(), 1);
    let (header, event) = &events[0];
    assert_eq!(event["message"], "gave up");
    assert_eq!(event["level"], "error");
    assert_eq!(event["extra"]["attempt"], 3);
    let crumbs = event["breadcrumbs"]["values"].as_array().expect("crumbs");
    assert_eq!(crumbs.len(), 2, "{crumbs:?}");
    assert_eq!(crumbs[0]["type"], "log");
    assert_eq!(crumbs[0]["category"], "sdk_tracing::tests");
    assert_eq!(crumbs[0]["message"], "request handled");
    assert_eq!(crumbs[0]["data"]["user_id"], 42);
    assert_eq!(crumbs[0]["data"]["path"], "/api/items");
    assert_eq!(crumbs[1]["level"], "warning");
    let txs = bodies(&envelopes, ItemType::Transaction);
    let trace_id = &txs[0].1["contexts"]["trace"]["trace_id"];
    assert_eq!(&event["contexts"]["trace"]["trace_id"], trace_id);
    assert_eq!(
        event["contexts"]["trace"]["span_id"],
        txs[0].1["contexts"]["trace"]["span_id"]
    );
    assert_eq!(&header["trace"]["trace_id"], trace_id);
}

#[test]
fn errors_captured_directly_inside_an_entered_span_are_linked() {
    let envelopes = capture(layer(), || {
        let root = tracing::info_span!("job");
        let _r = root.enter();
        let step = tracing::info_span!("step");
        let _s = step.enter();
        sdk_core::capture_message("direct", Level::Error);
    });
    let events = bodies(&envelopes, ItemType::Event);
    let txs = bodies(&envelopes, ItemType::Transaction);
    let step = &txs[0].1["spans"][0];
    assert_eq!(events[0].1["contexts"]["trace"]["span_id"], step["span_id"]);
    assert_eq!(
        events[0].1["contexts"]["trace"]["trace_id"],
        step["trace_id"]
    );
}

#[test]
fn filters_decide_what_is_recorded() {
    let layer = layer()
        .event_filter(|md| {
            if md.target().ends_with("tests") && *md.level() == tracing_core::Level::WARN {
                EventFilter::Event
            } else {
                EventFilter::Ignore
            }
        })
        .span_filter(|md| md.name() != "hidden");
    let envelopes = capture(layer, || {
        let root = tracing::info_span!("root");
        let _r = root.enter();
        let hidden = tracing::info_span!("hidden");
        let _h = hidden.enter();
        let shown = tracing::info_span!("shown");
        drop(shown);
        tracing::info!("ignored");
        tracing::warn!("promoted");
    });
    let events = bodies(&envelopes, ItemType::Event);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1["message"], "promoted");
    assert!(events[0].1.get("breadcrumbs").is_none());
    let txs = bodies(&envelopes, ItemType::Transaction);
    let spans = txs[0].1["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0]["description"], "shown");
    assert_eq!(
        spans[0]["parent_span_id"],
        txs[0].1["contexts"]["trace"]["span_id"]
    );
}

#[test]
fn a_sentry_trace_field_continues_the_incoming_trace() {
    let envelopes = capture(layer(), || {
        let root = tracing::info_span!(
            "handle",
            sentry.trace = "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1"
        );
        drop(root);
    });
    let txs = bodies(&envelopes, ItemType::Transaction);
    let trace = &txs[0].1["contexts"]["trace"];
    assert_eq!(trace["trace_id"], "771a43a4192642f0b136d5159a501700");
    assert_eq!(trace["parent_span_id"], "b0e6f15b45c36b12");
}

#[test]
fn recorded_values_and_errors_arrive() {
    #[derive(Debug)]
    struct Boom;
    impl std::fmt::Display for Boom {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("boom")
        }
    }
    impl std::error::Error for Boom {}

    let envelopes = capture(layer(), || {
        let root = tracing::info_span!("job", status = tracing::field::Empty);
        let _r = root.enter();
        root.record("status", "done");
        let err: &(dyn std::error::Error + 'static) = &Boom;
        tracing::error!(error = err, "failed");
    });
    let txs = bodies(&envelopes, ItemType::Transaction);
    assert_eq!(txs[0].1["contexts"]["trace"]["data"]["status"], "done");
    let events = bodies(&envelopes, ItemType::Event);
    assert_eq!(events[0].1["exception"]["values"][0]["value"], "boom");
}

// A global subscriber, as applications install it: with a thread-scoped one, a parent whose
// last child closes on another thread never learns that it closed (tracing-subscriber looks
// the subscriber up on the closing thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrumented_tasks_keep_their_parent_across_threads() {
    use tracing::Instrument;
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer()))
        .expect("the only global subscriber of this test binary");
    let transport = sdk_core::testing::TestTransport::new();
    let shared: Arc<dyn sdk_core::transport::Transport> = transport.clone();
    // The process's client, so that every worker thread's hub sees it.
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn("https://key@o1.ingest.example.com/1")
            .traces_sample_rate(1.0)
            .transport(shared),
    );
    let root = tracing::info_span!("root");
    let mut handles = Vec::new();
    for i in 0..4u64 {
        let child = tracing::info_span!(parent: &root, "task", i = i);
        handles.push(tokio::spawn(
            async move {
                tokio::task::yield_now().await;
                let inner = tracing::info_span!("inner", i = i);
                drop(inner);
            }
            .instrument(child),
        ));
    }
    for h in handles {
        h.await.expect("task ran");
    }
    drop(root);
    drop(guard);
    let envelopes = transport.fetch_and_clear_envelopes();
    let txs = bodies(&envelopes, ItemType::Transaction);
    assert_eq!(txs.len(), 1);
    let spans = txs[0].1["spans"].as_array().expect("spans");
    let tasks: Vec<&Value> = spans
        .iter()
        .filter(|s| s["description"] == "task")
        .collect();
    let inners: Vec<&Value> = spans
        .iter()
        .filter(|s| s["description"] == "inner")
        .collect();
    assert_eq!((tasks.len(), inners.len()), (4, 4));
    for inner in inners {
        // Its own task (the one with the same `i`), not just some task.
        let own_task = tasks
            .iter()
            .find(|t| t["data"]["i"] == inner["data"]["i"])
            .expect("each inner has the task of its i");
        assert!(own_task["span_id"].is_string());
        assert_eq!(inner["parent_span_id"], own_task["span_id"]);
    }
}

#[test]
fn spans_of_one_callsite_share_their_op_instead_of_formatting_it() {
    let envelopes = capture(layer(), || {
        let root = tracing::info_span!("root");
        let _r = root.enter();
        for _ in 0..2 {
            drop(tracing::info_span!("query"));
        }
    });
    let item = envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .find(|i| i.item_type == ItemType::Transaction)
        .expect("a transaction");
    let tx = item
        .payload
        .as_lazy()
        .and_then(|l| {
            l.as_any()
                .downcast_ref::<sdk_core::performance::FinishedTransaction>()
        })
        .expect("a lazy transaction");
    let ops: Vec<&str> = tx.spans.iter().map(|s| &*s.op).collect();
    assert_eq!(
        ops,
        ["sdk_tracing::tests::query", "sdk_tracing::tests::query"]
    );
    for span in &tx.spans {
        assert!(
            matches!(span.op, Cow::Borrowed(_)),
            "interned, not formatted per span"
        );
    }
    assert!(std::ptr::eq(ops[0].as_ptr(), ops[1].as_ptr()));
}

#[test]
fn breadcrumb_fields_keep_their_types_and_special_fields_stay_out() {
    #[derive(Debug)]
    struct Point {
        #[allow(dead_code)] // read by Debug only
        x: i32,
    }
    let long = "a string field that is longer than the inline room of a breadcrumb string";
    let envelopes = capture(layer(), || {
        tracing::info!(
            n = -3i64,
            ratio = 0.5f64,
            ok = true,
            point = ?Point { x: 1 },
            text = long,
            sentry.op = "dropped",
            "formatted {}",
            7
        );
        tracing::info!(message = 5u64);
        sdk_core::capture_message("carrier", Level::Info);
    });
    let events = bodies(&envelopes, ItemType::Event);
    let crumbs = events[0].1["breadcrumbs"]["values"]
        .as_array()
        .expect("crumbs");
    assert_eq!(crumbs.len(), 2, "{crumbs:?}");
    assert_eq!(crumbs[0]["message"], "formatted 7");
    assert_eq!(
        crumbs[0]["data"],
        serde_json::json!({
            "n": -3,
            "ratio": 0.5,
            "ok": true,
            "point": "Point { x: 1 }",
            "text": long,
        })
    );
    // a non-string message is its JSON text, as for error events
    assert_eq!(crumbs[1]["message"], "5");
    assert!(crumbs[1].get("data").is_none());
}
