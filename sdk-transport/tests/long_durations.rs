//! Durations as long as `Duration::MAX` ("wait as long as it takes") are accepted everywhere a
//! user's duration becomes a deadline: `Instant + Duration` would panic on overflow.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sdk_transport::{
    default_transport, DataCategory, DiscardReason, Dsn, Envelope, EnvelopeItem, HttpTransport,
    ItemType, MockServer, Payload, RateLimits, RetryPolicy, Transport, TransportOptions,
};

fn event(n: usize) -> Envelope {
    let mut envelope = Envelope::new();
    let body = format!(r#"{{"message":"long durations {n}"}}"#);
    envelope.add_item(EnvelopeItem::new(ItemType::Event, Payload::bytes(body)));
    envelope
}

fn transport(server: &MockServer, options: TransportOptions) -> Arc<dyn Transport> {
    let dsn: Dsn = server.dsn().parse().expect("the mock server's DSN parses");
    default_transport(&dsn, options).expect("a transport for the mock server")
}

#[test]
fn flush_and_shutdown_accept_duration_max() {
    let server = MockServer::start();
    let transport = transport(&server, TransportOptions::default());
    transport.send_envelope(event(1));
    assert!(
        transport.flush(Duration::MAX),
        "flush(MAX) waits until delivered"
    );
    assert_eq!(server.events().len(), 1);
    transport.send_envelope(event(2));
    assert!(transport.shutdown(Duration::MAX), "shutdown(MAX) drains");
    assert_eq!(server.events().len(), 2);
}

#[test]
fn a_request_timeout_of_duration_max_still_delivers() {
    let server = MockServer::start();
    let options = TransportOptions::default()
        .request_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX);
    let transport = transport(&server, options);
    transport.send_envelope(event(1));
    assert!(transport.flush(Duration::from_secs(10)));
    assert_eq!(server.events().len(), 1);
    transport.shutdown(Duration::from_secs(1));
}

#[test]
fn a_retry_cap_of_duration_max_pauses_without_panicking_the_worker() {
    let server = MockServer::start();
    server.always_respond_with_status(503);
    server.add_response_headers(&[("Retry-After", "3600")], usize::MAX);
    let retry = RetryPolicy {
        max_attempts: 3,
        base: Duration::MAX,
        cap: Duration::MAX,
        jitter: 0.0,
    };
    let dsn: Dsn = server.dsn().parse().expect("the mock server's DSN parses");
    let client = sdk_transport::http::plain::PlainHttpClient::new(&TransportOptions::default());
    let transport = HttpTransport::new(
        &dsn,
        TransportOptions::default().retry(retry),
        Arc::new(client),
    )
    .expect("a transport");
    transport.send_envelope(event(1));
    assert!(server.wait_for_requests(1, Duration::from_secs(10)));
    // The failure pauses sending (for "ever"); the envelope waits for its retry.
    let started = Instant::now();
    while transport.stats().retrying == 0 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(transport.stats().retrying, 1, "{:?}", transport.stats());
    assert_eq!(
        transport.discarded_count(DiscardReason::InternalSdkError, DataCategory::Default),
        0,
        "no worker thread panicked"
    );
    assert!(!transport.flush(Duration::from_millis(100)));
    assert!(!transport.shutdown(Duration::from_millis(100)));
    assert_eq!(
        transport.discarded_count(DiscardReason::NetworkError, DataCategory::Error),
        1,
        "the envelope that could not be sent is counted"
    );
}

#[test]
fn a_rate_limit_of_duration_max_saturates() {
    let limits = RateLimits::new();
    let now = Instant::now();
    limits.limit(Some(DataCategory::Error), Duration::MAX, now);
    assert!(limits.is_limited(DataCategory::Error, now));
    assert!(limits.is_limited(DataCategory::Error, now + Duration::from_secs(365 * 86_400)));
    assert!(!limits.is_limited(DataCategory::Transaction, now));
    assert!(limits.limited_until(DataCategory::Error, now).is_some());
}

#[test]
fn the_mock_server_accepts_duration_max() {
    let server = MockServer::start();
    let transport = transport(&server, TransportOptions::default());
    transport.send_envelope(event(1));
    assert!(server.wait_for(1, Duration::MAX));
    transport.shutdown(Duration::from_secs(1));
}
