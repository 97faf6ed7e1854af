//! The wire end to end: the ureq transport against the mock ingest server on loopback.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sdk_transport::http::HttpTransport;
use sdk_transport::{
    default_http_client, DataCategory, DiscardReason, Dsn, Envelope, EnvelopeItem, ItemType,
    MockServer, Payload, RetryPolicy, Transport, TransportOptions,
};

const WAIT: Duration = Duration::from_secs(60);

fn transport(server: &MockServer, options: TransportOptions) -> HttpTransport {
    let dsn: Dsn = server.dsn().parse().expect("the mock server's DSN parses");
    let client = default_http_client(&options).expect("the ureq feature is on");
    HttpTransport::new(&dsn, options, client).expect("the transport starts")
}

/// Envelope `n`: an event with a payload unique to `n`, every 7th one large enough to be
/// gzipped, and every 5th one with a binary attachment (newlines and zero bytes included).
fn envelope(n: u32) -> (uuid::Uuid, Envelope, Vec<Vec<u8>>) {
    let id = uuid::Uuid::from_u128(0x5e17_0000_0000_4000_8000_0000_0000_0000 | u128::from(n));
    let padding = if n % 7 == 0 {
        "x".repeat(20_000)
    } else {
        String::new()
    };
    let event = serde_json::json!({
        "event_id": id.simple().to_string(),
        "level": "error",
        "message": format!("event number {n}"),
        "extra": {"n": n, "padding": padding, "text": "line one\nline two \u{1F980}"},
    });
    let event_bytes = serde_json::to_vec(&event).expect("JSON serialises");
    let mut envelope = Envelope::with_event_id(id);
    envelope.add_item(
        EnvelopeItem::new(ItemType::Event, Payload::bytes(event_bytes.clone()))
            .with_content_type("application/json"),
    );
    let mut payloads = vec![event_bytes];
    if n % 5 == 0 {
        let attachment: Vec<u8> = (0..=255u8).cycle().take(300 + n as usize).collect();
        envelope.add_item(
            EnvelopeItem::new(ItemType::Attachment, Payload::bytes(attachment.clone()))
                .with_filename(format!("blob-{n}.bin")),
        );
        payloads.push(attachment);
    }
    (id, envelope, payloads)
}

#[test]
fn a_thousand_envelopes_arrive_intact() {
    let server = MockServer::start();
    let transport = transport(&server, TransportOptions::default());
    let mut expected: HashMap<uuid::Uuid, Vec<Vec<u8>>> = HashMap::new();
    for n in 0..1_000 {
        let (id, envelope, payloads) = envelope(n);
        expected.insert(id, payloads);
        transport.send_envelope(envelope);
    }
    assert!(transport.flush(WAIT), "flush did not finish");
    assert!(server.wait_for_items("event", 1_000, WAIT));

    let rejected = server.rejected();
    assert!(rejected.is_empty(), "the server rejected: {rejected:?}");
    let mut seen = 0;
    for arrived in server.envelopes() {
        let Some(id) = arrived.headers.event_id else {
            // Only client reports travel without an event id, and nothing was dropped.
            panic!("unexpected envelope without event_id: {:?}", arrived.items);
        };
        let payloads = expected
            .remove(&id)
            .unwrap_or_else(|| panic!("envelope {id} arrived twice or was never sent"));
        let got: Vec<Vec<u8>> = arrived
            .items
            .iter()
            .map(|item| item.payload.as_bytes().expect("parsed").to_vec())
            .collect();
        assert_eq!(got, payloads, "payloads of {id} changed on the way");
        if arrived.items.len() == 2 {
            assert_eq!(arrived.items[1].item_type, ItemType::Attachment);
            assert!(arrived.items[1]
                .filename
                .as_deref()
                .unwrap_or("")
                .starts_with("blob-"));
        }
        seen += 1;
    }
    assert_eq!(seen, 1_000);
    assert!(
        expected.is_empty(),
        "{} envelopes never arrived",
        expected.len()
    );
    assert_eq!(server.item_count("attachment"), 200);

    // What each request carried: the key, our user agent, gzip for the large bodies only.
    let requests = server.requests();
    assert!(requests.iter().all(|r| r
        .header("x-sentry-auth")
        .is_some_and(|auth| auth.contains(&format!("sentry_key={}", server.key())))));
    assert!(requests.iter().all(|r| r
        .header("user-agent")
        .is_some_and(|ua| ua.starts_with(sdk_transport::SDK_NAME))));
    let gzipped = requests
        .iter()
        .filter(|r| r.header("content-encoding") == Some("gzip"))
        .count();
    assert_eq!(
        gzipped, 143,
        "envelopes 0, 7, 14, ... (143 of them) are over the threshold"
    );
    assert!(transport.shutdown(Duration::from_secs(5)));
}

#[test]
fn flush_with_the_server_down_returns_false_in_time_and_nothing_is_lost_silently() {
    let server = MockServer::start();
    let options = TransportOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(200),
            cap: Duration::from_millis(400),
            jitter: 0.0,
        },
        ..TransportOptions::default()
    };
    let transport = transport(&server, options);
    server.stop();
    for n in 0..10 {
        transport.send_envelope(envelope(n).1);
    }
    let timeout = Duration::from_secs(2);
    let start = Instant::now();
    assert!(
        !transport.flush(timeout),
        "nothing can be delivered to a stopped server"
    );
    let waited = start.elapsed();
    assert!(waited >= timeout, "flush returned early: {waited:?}");
    assert!(
        waited < timeout + Duration::from_millis(1_500),
        "flush waited {waited:?}"
    );

    // Back up: what was not delivered was counted, and the count reaches the server as a
    // client report.
    server.restart().expect("the port is free again");
    assert!(
        transport.flush(WAIT),
        "flush after the restart did not finish"
    );
    let arrived = server.item_count("event") as u64;
    let lost = transport.discarded_count(DiscardReason::NetworkError, DataCategory::Error);
    assert_eq!(arrived + lost, 10, "arrived {arrived}, counted lost {lost}");
    assert_eq!(server.discarded("network_error", "error"), lost);
}

#[test]
fn flush_with_a_server_that_never_answers_returns_false_in_time() {
    let server = MockServer::start();
    server.set_hang(true);
    let transport = Arc::new(transport(&server, TransportOptions::default()));
    for n in 0..10 {
        transport.send_envelope(envelope(n).1);
    }
    let timeout = Duration::from_secs(1);
    let start = Instant::now();
    assert!(
        !transport.flush(timeout),
        "nothing can be delivered to a hung server"
    );
    let waited = start.elapsed();
    assert!(waited >= timeout, "flush returned early: {waited:?}");
    assert!(
        waited < timeout + Duration::from_millis(1_500),
        "flush waited {waited:?}"
    );
    let start = Instant::now();
    let _ = transport.shutdown(timeout);
    assert!(start.elapsed() < timeout + Duration::from_millis(1_500));
    server.stop();
}
