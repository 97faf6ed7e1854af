//! The span callbacks: entering and exiting make the Sentry span the thread's active one.

use sdk_core::performance::entered_span;
use sdk_core::testing::with_captured_envelopes_options;
use sdk_core::ClientOptions;
use tracing_subscriber::prelude::*;

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
