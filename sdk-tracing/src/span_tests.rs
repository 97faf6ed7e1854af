//! The span callbacks: entering and exiting make the Sentry span the thread's active one.

use sdk_core::performance::entered_span;
use sdk_core::testing::with_captured_envelopes_options;
use sdk_core::transport::ItemType;
use sdk_core::ClientOptions;
use tracing_subscriber::prelude::*;

use crate::test_support::{capture, envelope_texts, first_body};

#[test]
fn entered_spans_are_active_until_exited_innermost_first() {
    let subscriber = tracing_subscriber::registry().with(crate::layer());
    let mut seen = Vec::new();
    with_captured_envelopes_options(
        || {
            tracing::subscriber::with_default(subscriber, || {
                let active = || entered_span().map(|s| s.span_id());
                seen.push(("before", active()));
                let outer = tracing::info_span!("outer");
                let outer_entered = outer.enter();
                let outer_id = active();
                seen.push(("outer", outer_id));
                {
                    let inner = tracing::info_span!("inner");
                    let _inner_entered = inner.enter();
                    seen.push(("inner", active()));
                    // A span the layer ignores (trace level) changes nothing when it exits.
                    let ignored = tracing::trace_span!("ignored");
                    drop(ignored.enter());
                    seen.push(("after ignored", active()));
                }
                seen.push(("inner exited", active()));
                assert_eq!(active(), outer_id);
                drop(outer_entered);
                seen.push(("outer exited", active()));
            });
        },
        ClientOptions::new()
            .dsn("https://key@o1.ingest.example.com/1")
            .traces_sample_rate(1.0),
    );
    let get = |label: &str| {
        seen.iter()
            .find(|(l, _)| *l == label)
            .map(|(_, id)| *id)
            .expect(label)
    };
    assert_eq!(get("before"), None);
    assert!(get("outer").is_some());
    assert!(get("inner").is_some());
    assert_ne!(get("inner"), get("outer"));
    assert_eq!(get("after ignored"), get("inner"));
    assert_eq!(get("inner exited"), get("outer"));
    assert_eq!(get("outer exited"), None);
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The transactions sent by `f`, as JSON bodies.
fn transactions(f: impl FnOnce()) -> Vec<serde_json::Value> {
    envelope_texts(&capture(crate::layer(), f), ItemType::Transaction)
        .iter()
        .map(|text| serde_json::from_str(first_body(text)).expect("json"))
        .collect()
}

fn secs(v: &serde_json::Value) -> f64 {
    v.as_f64().expect("seconds")
}

#[test]
fn created_then_entered_spans_start_at_their_first_enter_only() {
    let mut marks = (0.0, 0.0);
    let txs = transactions(|| {
        let root = tracing::info_span!("root");
        std::thread::sleep(std::time::Duration::from_millis(20));
        marks.0 = now_secs();
        let _r = root.enter();
        let child = tracing::info_span!("child");
        std::thread::sleep(std::time::Duration::from_millis(20));
        marks.1 = now_secs();
        child.in_scope(|| {});
        std::thread::sleep(std::time::Duration::from_millis(10));
        // A second enter does not move the start.
        child.in_scope(|| {});
    });
    let tx = &txs[0];
    assert!(secs(&tx["start_timestamp"]) >= marks.0 - 0.001, "{tx}");
    let child = &tx["spans"][0];
    assert!(
        secs(&child["start_timestamp"]) >= marks.1 - 0.001,
        "{child}"
    );
    assert!(
        secs(&child["timestamp"]) - secs(&child["start_timestamp"]) >= 0.009,
        "{child}"
    );
}

#[test]
fn a_span_first_entered_on_another_thread_starts_there() {
    let mut entered_at = 0.0;
    let txs = transactions(|| {
        let root = tracing::info_span!("moved");
        std::thread::sleep(std::time::Duration::from_millis(20));
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        entered_at = std::thread::scope(|s| {
            s.spawn(|| {
                tracing::dispatcher::with_default(&dispatch, || {
                    let at = now_secs();
                    root.in_scope(|| {});
                    at
                })
            })
            .join()
            .expect("the thread ran")
        });
        // Entered again on the creating thread: still the first enter's start.
        std::thread::sleep(std::time::Duration::from_millis(10));
        root.in_scope(|| {});
    });
    let tx = &txs[0];
    let start = secs(&tx["start_timestamp"]);
    assert!(start >= entered_at - 0.001, "{start} vs {entered_at}");
    assert!(secs(&tx["timestamp"]) - start >= 0.009, "{tx}");
}

#[test]
fn a_pending_span_replaced_or_closed_unentered_is_still_timed_and_sent() {
    let txs = transactions(|| {
        // `first` stops being this thread's pending span when `second` is created; it is
        // entered later through the registry.
        let first = tracing::info_span!("first");
        let second = tracing::info_span!("second");
        first.in_scope(|| {});
        // Closed without ever being entered: the pending slot is cleared for its id.
        drop(second);
        let third = tracing::info_span!("third");
        third.in_scope(|| {});
    });
    let mut names: Vec<&str> = txs
        .iter()
        .map(|t| t["transaction"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["first", "second", "third"]);
    for tx in &txs {
        assert!(
            secs(&tx["timestamp"]) >= secs(&tx["start_timestamp"]),
            "{tx}"
        );
    }
    // Nothing stays active on this thread.
    assert!(entered_span().is_none());
}

/// The `tracing` id this thread holds as its last exited span (0: none).
fn held_exited_key() -> u64 {
    crate::THREAD_SPANS
        .try_with(|held| held.exited.key.get())
        .unwrap_or(0)
}

#[test]
fn an_exited_span_is_held_until_it_closes_here_and_is_sent_once() {
    let mut held_after_exit = (0, 0);
    let mut held_after_close = u64::MAX;
    let txs = transactions(|| {
        let span = tracing::info_span!("held");
        let id = span.id().map_or(0, |id| id.into_u64());
        span.in_scope(|| {});
        // The close will find it here, without a registry lookup.
        held_after_exit = (id, held_exited_key());
        drop(span);
        held_after_close = held_exited_key();
    });
    assert_ne!(held_after_exit.0, 0);
    assert_eq!(held_after_exit.0, held_after_exit.1);
    assert_eq!(held_after_close, 0);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0]["transaction"], "held");
}

#[test]
fn a_span_exited_here_and_closed_on_another_thread_is_sent_once() {
    let txs = transactions(|| {
        let span = tracing::info_span!("moved");
        span.in_scope(|| {});
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        std::thread::scope(|s| {
            s.spawn(|| tracing::dispatcher::with_default(&dispatch, || drop(span)))
                .join()
                .expect("the thread ran");
        });
        // This thread still holds the span it exited; the next span it creates lets it go, and
        // that span (which may get the same id) is sent on its own.
        let next = tracing::info_span!("next");
        assert_eq!(held_exited_key(), 0);
        next.in_scope(|| {});
    });
    let mut names: Vec<&str> = txs
        .iter()
        .map(|t| t["transaction"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["moved", "next"]);
}
