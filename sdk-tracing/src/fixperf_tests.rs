//! Layer fixes from the review: field values whose formatting fails, per-thread span binding,
//! span start times, logs.

use std::fmt;

use sdk_core::testing::with_captured_envelopes_options;
use sdk_core::transport::{Envelope, ItemType};
use sdk_core::ClientOptions;
use serde_json::Value;
use tracing_subscriber::prelude::*;

use super::*;
use crate::test_support::{capture, envelope_texts, first_body};

fn bodies(envelopes: &[Envelope], ty: ItemType) -> Vec<Value> {
    envelope_texts(envelopes, ty)
        .iter()
        .map(|text| serde_json::from_str(first_body(text)).expect("json"))
        .collect()
}

/// A user type whose `Debug` and `Display` write a little, then fail.
struct Broken;

impl fmt::Debug for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Broken{")?;
        Err(fmt::Error)
    }
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("half a message")?;
        Err(fmt::Error)
    }
}

impl std::error::Error for Broken {}

#[test]
fn fields_whose_formatting_fails_keep_what_was_written_instead_of_panicking() {
    let envelopes = capture(layer(), || {
        let root = tracing::info_span!("job", state = ?Broken);
        let _r = root.enter();
        let err: &(dyn std::error::Error + 'static) = &Broken;
        tracing::error!(error = err, detail = ?Broken, "failed");
    });
    let txs = bodies(&envelopes, ItemType::Transaction);
    assert_eq!(txs.len(), 1, "the span still became a transaction");
    assert_eq!(txs[0]["contexts"]["trace"]["data"]["state"], "Broken{");
    let events = bodies(&envelopes, ItemType::Event);
    assert_eq!(events.len(), 1, "the error event still arrived");
    assert_eq!(events[0]["extra"]["error"], "half a message");
    assert_eq!(events[0]["extra"]["detail"], "Broken{");
    assert_eq!(
        events[0]["exception"]["values"][0]["value"],
        "half a message"
    );
}

/// The span id (in the arrived transaction) of the span described `description`.
fn span_id_of(tx: &Value, description: &str) -> Value {
    tx["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["description"] == description)
        .map(|s| s["span_id"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn two_threads_entering_the_same_span_each_get_their_own_span_back_on_exit() {
    use std::sync::Barrier;
    let subscriber = tracing_subscriber::registry().with(layer());
    let dispatch = tracing::Dispatch::new(subscriber);
    let envelopes = with_captured_envelopes_options(
        || {
            let hub = sdk_core::Hub::current();
            tracing::dispatcher::with_default(&dispatch, || {
                let root = tracing::info_span!("root");
                let shared = tracing::info_span!(parent: &root, "shared");
                let outers = [
                    tracing::info_span!(parent: &root, "outer_a"),
                    tracing::info_span!(parent: &root, "outer_b"),
                ];
                let entered = Barrier::new(2);
                let first_done = Barrier::new(2);
                std::thread::scope(|s| {
                    for (i, outer) in outers.iter().enumerate() {
                        let (hub, dispatch) = (hub.clone(), dispatch.clone());
                        let (shared, entered, first_done) = (&shared, &entered, &first_done);
                        s.spawn(move || {
                            sdk_core::Hub::run(hub, || {
                                tracing::dispatcher::with_default(&dispatch, || {
                                    let _outer = outer.enter();
                                    let inner = shared.enter();
                                    // Both threads are inside `shared` now.
                                    entered.wait();
                                    if i == 1 {
                                        first_done.wait();
                                    }
                                    drop(inner);
                                    let name = if i == 0 { "after_a" } else { "after_b" };
                                    sdk_core::capture_message(name, sdk_core::Level::Error);
                                    if i == 0 {
                                        first_done.wait();
                                    }
                                });
                            });
                        });
                    }
                });
                drop(outers);
                drop(shared);
                drop(root);
            });
        },
        ClientOptions::new()
            .dsn("https://key@o1.ingest.example.com/1")
            .traces_sample_rate(1.0),
    );
    let txs = bodies(&envelopes, ItemType::Transaction);
    assert_eq!(txs.len(), 1);
    let events = bodies(&envelopes, ItemType::Event);
    assert_eq!(events.len(), 2);
    for (message, outer) in [("after_a", "outer_a"), ("after_b", "outer_b")] {
        let event = events
            .iter()
            .find(|e| e["message"]["formatted"] == message || e["message"] == message)
            .expect("both events arrived");
        assert!(span_id_of(&txs[0], outer).is_string(), "{outer} arrived");
        assert_eq!(
            event["contexts"]["trace"]["span_id"],
            span_id_of(&txs[0], outer),
            "{message} is linked to its own thread's span, not the other thread's"
        );
    }
}

fn seconds(v: &Value) -> f64 {
    v.as_f64().expect("a timestamp in seconds")
}

#[test]
fn a_span_starts_at_its_first_enter_and_one_never_entered_at_its_creation() {
    let mut created = 0.0;
    let envelopes = capture(layer(), || {
        let root = tracing::info_span!("root");
        let entered_later = tracing::info_span!(parent: &root, "entered_later");
        let never_entered = tracing::info_span!(parent: &root, "never_entered");
        created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let _r = root.enter();
        entered_later.in_scope(|| {});
        // Entered again later: the first enter stays its start.
        std::thread::sleep(std::time::Duration::from_millis(5));
        entered_later.in_scope(|| {});
        drop(entered_later);
        drop(never_entered);
    });
    let txs = bodies(&envelopes, ItemType::Transaction);
    assert_eq!(txs.len(), 1);
    let tx = &txs[0];
    let after_gap = created + 0.015;
    assert!(
        seconds(&tx["start_timestamp"]) >= after_gap,
        "the transaction starts when its root span is entered"
    );
    let span = |name: &str| {
        tx["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["description"] == name)
            .cloned()
            .expect("the span arrived")
    };
    let later = span("entered_later");
    assert!(seconds(&later["start_timestamp"]) >= after_gap);
    assert!(
        seconds(&later["timestamp"]) - seconds(&later["start_timestamp"]) >= 0.004,
        "the second enter did not move the start"
    );
    let never = span("never_entered");
    assert!(seconds(&never["start_timestamp"]) <= created);
}

/// Every `log` item: (its item header, its payload).
fn log_items(envelopes: &[Envelope]) -> Vec<(Value, Value)> {
    envelopes
        .iter()
        .filter(|e| e.items.iter().any(|i| i.item_type == ItemType::Log))
        .map(|e| {
            let text = String::from_utf8(e.to_vec().expect("writes")).expect("utf8");
            let mut lines = text.lines().skip(1);
            let header = serde_json::from_str(lines.next().expect("item header")).expect("json");
            let body = serde_json::from_str(lines.next().expect("payload")).expect("json");
            (header, body)
        })
        .collect()
}

#[test]
fn logs_are_off_by_default() {
    let envelopes = capture(layer(), || {
        tracing::warn!("not a log");
        tracing::error!("an event, not a log");
    });
    assert!(log_items(&envelopes).is_empty());
    assert_eq!(bodies(&envelopes, ItemType::Event).len(), 1);
}

#[test]
fn events_at_the_chosen_levels_arrive_as_logs_with_their_trace_fields_and_location() {
    let envelopes = capture(layer().enable_logs(tracing_core::Level::INFO), || {
        let root = tracing::info_span!("request");
        let _r = root.enter();
        tracing::info!(
            user_id = 42u64,
            big = u64::MAX,
            ratio = 0.5,
            ok = true,
            name = "ann",
            "user {} logged in",
            42
        );
        tracing::debug!("below the chosen level");
        tracing::error!(code = -7i64, "it failed");
    });
    let logs = log_items(&envelopes);
    assert_eq!(logs.len(), 2, "info and error, not debug");
    for (header, body) in &logs {
        assert_eq!(header["type"], "log");
        assert_eq!(
            header["content_type"],
            "application/vnd.sentry.items.log+json"
        );
        assert_eq!(header["item_count"], 1);
        assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    }
    let txs = bodies(&envelopes, ItemType::Transaction);
    let trace = &txs[0]["contexts"]["trace"];
    let info = &logs[0].1["items"][0];
    assert_eq!(info["level"], "info");
    assert_eq!(info["body"], "user 42 logged in");
    assert_eq!(info["trace_id"], trace["trace_id"]);
    assert_eq!(info["span_id"], trace["span_id"]);
    assert!(info["timestamp"].as_f64().is_some_and(|t| t > 1.6e9));
    let attrs = &info["attributes"];
    assert_eq!(
        attrs["user_id"],
        serde_json::json!({"type": "integer", "value": 42})
    );
    assert_eq!(
        attrs["big"],
        serde_json::json!({"type": "string", "value": u64::MAX.to_string()})
    );
    assert_eq!(
        attrs["ratio"],
        serde_json::json!({"type": "double", "value": 0.5})
    );
    assert_eq!(
        attrs["ok"],
        serde_json::json!({"type": "boolean", "value": true})
    );
    assert_eq!(attrs["name"]["value"], "ann");
    assert_eq!(
        attrs["sentry.sdk.name"]["value"],
        sdk_core::transport::SDK_NAME
    );
    assert_eq!(
        attrs["sentry.sdk.version"]["value"],
        sdk_core::transport::SDK_VERSION
    );
    assert_eq!(attrs["sentry.origin"]["value"], "auto.log.tracing");
    assert_eq!(
        attrs["code.file.path"]["value"],
        "sdk-tracing/src/fixperf_tests.rs"
    );
    assert_eq!(attrs["code.line.number"]["type"], "integer");
    assert_eq!(
        attrs["code.module.name"]["value"],
        "sdk_tracing::fixperf_tests"
    );
    let error = &logs[1].1["items"][0];
    assert_eq!(error["level"], "error");
    assert_eq!(error["attributes"]["code"]["value"], -7);
    assert_eq!(
        bodies(&envelopes, ItemType::Event).len(),
        1,
        "the error is still an event too"
    );
}

#[test]
fn a_log_outside_any_span_carries_the_scope_trace_and_the_release_and_environment() {
    let mut scope_trace = String::new();
    let subscriber =
        tracing_subscriber::registry().with(layer().log_filter(|md| md.target() == "audit"));
    let envelopes = with_captured_envelopes_options(
        || {
            tracing::subscriber::with_default(subscriber, || {
                tracing::warn!(target: "audit", "kept");
                tracing::warn!(target: "other", "filtered out by target");
            });
            scope_trace = sdk_core::Hub::current()
                .scope_snapshot()
                .trace_id()
                .to_string();
        },
        ClientOptions::new()
            .dsn("https://key@o1.ingest.example.com/1")
            .release("app@2.0")
            .environment("staging"),
    );
    let logs = log_items(&envelopes);
    assert_eq!(logs.len(), 1);
    let log = &logs[0].1["items"][0];
    assert_eq!(log["body"], "kept");
    assert_eq!(log["level"], "warn");
    assert_eq!(log["trace_id"], scope_trace.as_str());
    assert!(log.get("span_id").is_none(), "no span: no span_id");
    assert_eq!(log["attributes"]["sentry.release"]["value"], "app@2.0");
    assert_eq!(log["attributes"]["sentry.environment"]["value"], "staging");
}
