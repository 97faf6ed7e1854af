//! Moving a span's or transaction's start (instrumentation that creates spans before their
//! work begins), and `traceparent` in outgoing headers.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;

fn secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[test]
fn explicit_start_timestamps_are_what_arrives() {
    let sink = Arc::new(RecordingSink::with_sample_rate(1.0));
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let tx = Transaction::start(TransactionContext::new("job", "task"), sink.clone());
    tx.set_start_timestamp(t0);
    let span = tx.start_child("step", "one");
    span.set_start_timestamp(t0 + Duration::from_millis(250));
    span.finish_at(t0 + Duration::from_millis(400));
    tx.finish_at(t0 + Duration::from_secs(1));
    let sent = &sink.transactions()[0];
    assert_eq!(secs(sent.start_timestamp), secs(t0));
    assert_eq!(secs(sent.timestamp), secs(t0 + Duration::from_secs(1)));
    let span = &sent.spans[0];
    assert_eq!(
        secs(span.start_timestamp),
        secs(t0 + Duration::from_millis(250))
    );
    assert_eq!(secs(span.timestamp), secs(t0 + Duration::from_millis(400)));
}

#[test]
fn a_start_moved_to_now_is_later_than_the_creation() {
    let sink = Arc::new(RecordingSink::with_sample_rate(1.0));
    let tx = Transaction::start(TransactionContext::new("job", "task"), sink.clone());
    let span = tx.start_child("step", "one");
    let untouched = tx.start_child("step", "two");
    let created = SystemTime::now();
    std::thread::sleep(Duration::from_millis(20));
    TransactionOrSpan::from(tx.clone()).set_start_now();
    TransactionOrSpan::from(span.clone()).set_start_now();
    span.finish();
    untouched.finish();
    tx.finish();
    let sent = &sink.transactions()[0];
    let after = secs(created) + 0.015;
    assert!(secs(sent.start_timestamp) >= after, "the transaction moved");
    assert!(
        secs(sent.spans[0].start_timestamp) >= after,
        "the span moved"
    );
    // Compared as `SystemTime`s: as `f64` seconds two times ~200 ns apart can be equal.
    assert!(
        sent.spans[1].start_timestamp <= created,
        "a span not moved keeps its creation time"
    );
    assert!(sent.timestamp >= sent.start_timestamp);
    assert!(sent.spans[0].timestamp >= sent.spans[0].start_timestamp);
}

fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// `traceparent` carries the same trace and span as `sentry-trace`, sampled as `01`/`00`.
fn assert_traceparent_matches(headers: &[(&'static str, String)], flags: &str) {
    let sentry = header(headers, "sentry-trace").expect("sentry-trace is always sent");
    let mut ids = sentry.split('-');
    let (trace, span) = (ids.next().unwrap_or(""), ids.next().unwrap_or(""));
    let parent = header(headers, "traceparent").expect("traceparent is sent");
    assert_eq!(parent, format!("00-{trace}-{span}-{flags}"));
    assert!(
        parent.parse::<TraceParent>().is_ok(),
        "{parent} parses back"
    );
}

fn sink_with_traceparent(on: bool) -> Arc<RecordingSink> {
    Arc::new(RecordingSink::new(TracingConfig {
        sampling: SamplingOptions::with_rate(1.0),
        propagate_traceparent: on,
        ..Default::default()
    }))
}

#[test]
fn transactions_and_spans_send_traceparent_only_when_the_option_is_on() {
    let tx = Transaction::start(
        TransactionContext::new("job", "task"),
        sink_with_traceparent(true),
    );
    let span = tx.start_child("http.client", "GET /");
    let from_tx: Vec<_> = tx.iter_headers().collect();
    let from_span: Vec<_> = span.iter_headers().collect();
    let from_either: Vec<_> = TransactionOrSpan::from(span.clone())
        .iter_headers()
        .collect();
    assert_traceparent_matches(&from_tx, "01");
    assert_traceparent_matches(&from_span, "01");
    assert_eq!(from_span, from_either);
    assert!(
        header(&from_span, "baggage").is_some(),
        "baggage still goes along"
    );
    assert_eq!(
        header(&from_span, "traceparent"),
        Some(span.traceparent().to_string().as_str())
    );

    let off = Transaction::start(
        TransactionContext::new("job", "task"),
        sink_with_traceparent(false),
    );
    let headers: Vec<_> = off.iter_headers().collect();
    assert!(header(&headers, "sentry-trace").is_some());
    assert_eq!(header(&headers, "traceparent"), None, "off by default");
}

#[test]
fn an_unsampled_trace_sends_traceparent_flags_00() {
    let sink = Arc::new(RecordingSink::new(TracingConfig {
        sampling: SamplingOptions::with_rate(0.0),
        propagate_traceparent: true,
        ..Default::default()
    }));
    let tx = Transaction::start(TransactionContext::new("job", "task"), sink);
    let headers: Vec<_> = tx.start_child("a", "b").iter_headers().collect();
    assert_traceparent_matches(&headers, "00");
}

#[test]
fn propagation_contexts_send_traceparent_when_asked() {
    let continued = PropagationContext::from_headers([(
        "sentry-trace",
        "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
    )]);
    let headers: Vec<_> = continued.outgoing_headers_with(true).collect();
    assert_traceparent_matches(&headers, "01");
    assert!(header(&headers, "traceparent")
        .is_some_and(|t| t.starts_with("00-771a43a4192642f0b136d5159a501700-")));
    let plain: Vec<_> = continued.outgoing_headers().collect();
    assert_eq!(header(&plain, "traceparent"), None);
    // A trace we started, decision deferred: W3C has no "deferred", so not sampled.
    let fresh: Vec<_> = PropagationContext::new()
        .outgoing_headers_with(true)
        .collect();
    assert_traceparent_matches(&fresh, "00");
}

#[test]
fn the_hub_sends_traceparent_with_and_without_a_span_when_the_option_is_on() {
    use crate::testing::with_captured_envelopes_options;
    use crate::ClientOptions;
    let dsn = "https://abc123@o17.ingest.example.com/7";
    let mut without_span = Vec::new();
    let mut with_span = Vec::new();
    let mut default_off = Vec::new();
    with_captured_envelopes_options(
        || {
            without_span = iter_trace_propagation_headers().collect();
            let tx = start_transaction(TransactionContext::new("job", "task"));
            enter_span(tx.clone().into());
            with_span = iter_trace_propagation_headers().collect();
            exit_span(tx.span_id());
            tx.finish();
        },
        ClientOptions::new()
            .dsn(dsn)
            .traces_sample_rate(1.0)
            .propagate_traceparent(true),
    );
    with_captured_envelopes_options(
        || default_off = iter_trace_propagation_headers().collect(),
        ClientOptions::new().dsn(dsn).traces_sample_rate(1.0),
    );
    assert_traceparent_matches(&without_span, "00");
    assert!(header(&without_span, "baggage").is_some());
    assert_traceparent_matches(&with_span, "01");
    assert!(header(&default_off, "sentry-trace").is_some());
    assert_eq!(header(&default_off, "traceparent"), None);
}
