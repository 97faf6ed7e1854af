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
    assert!(
        secs(sent.spans[1].start_timestamp) < secs(created),
        "a span not moved keeps its creation time"
    );
    assert!(sent.timestamp >= sent.start_timestamp);
    assert!(sent.spans[0].timestamp >= sent.spans[0].start_timestamp);
}
