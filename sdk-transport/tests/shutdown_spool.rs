//! Shutdown with a spool against a server that never answers: it returns within its timeout
//! (plus a small margin), having written the queue to the spool during the timeout; what it
//! could not write is counted. A later transport sends what was spooled.

use std::any::Any;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sdk_transport::envelope::{ItemPayload, PayloadError};
use sdk_transport::http::plain::PlainHttpClient;
use sdk_transport::{
    DataCategory, DiscardReason, Dsn, Envelope, EnvelopeItem, HttpTransport, ItemType, MockServer,
    Payload, Transport, TransportOptions,
};

/// An event that serialises itself on the worker, like the SDK's events (~2.5 KB of JSON).
struct LazyEvent {
    number: usize,
}

impl ItemPayload for LazyEvent {
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        let frames: Vec<serde_json::Value> = (0..20)
            .map(|i| {
                serde_json::json!({
                    "function": format!("app::module::function_{i}"),
                    "filename": "src/module.rs", "lineno": i, "in_app": true,
                })
            })
            .collect();
        let event = serde_json::json!({
            "message": format!("stalled {}", self.number),
            "level": "error",
            "platform": "native",
            "tags": {"number": self.number.to_string()},
            "contexts": {"os": {"name": "Linux"}, "rust": {"version": "1.90"}},
            "threads": {"values": [{"stacktrace": {"frames": frames}}]},
        });
        serde_json::to_writer(out, &event).map_err(PayloadError::from)
    }

    fn size_hint(&self) -> usize {
        2_500
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn event(number: usize) -> Envelope {
    let mut envelope = Envelope::new();
    envelope.add_item(EnvelopeItem::new(
        ItemType::Event,
        Payload::lazy(LazyEvent { number }),
    ));
    envelope
}

fn spool_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sdk-transport-{name}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn transport(server: &MockServer, dir: &PathBuf) -> HttpTransport {
    let dsn: Dsn = server.dsn().parse().expect("the mock server's DSN parses");
    let options = TransportOptions::default().spool_dir(dir);
    let client = PlainHttpClient::new(&options);
    HttpTransport::new(&dsn, options, Arc::new(client)).expect("a transport with a spool")
}

/// Captures `queued` events against a hung server, shuts down with a 2 s timeout, then sends
/// the spool to a live server. Returns (spooled, counted).
fn stalled_shutdown_then_resend(queued: usize) -> (usize, u64) {
    let dir = spool_dir(&format!("stall-{queued}"));
    let hung = MockServer::start();
    hung.set_hang(true);
    let first = transport(&hung, &dir);
    for number in 0..queued {
        first.send_envelope(event(number));
    }
    // The senders are stuck in requests that get no answer.
    let waiting = Instant::now();
    while first.stats().in_flight == 0 && waiting.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(first.stats().in_flight > 0, "{:?}", first.stats());

    let started = Instant::now();
    first.shutdown(Duration::from_secs(2));
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2_500),
        "shutdown(2 s) with {queued} queued took {took:?}"
    );
    let spooled = first.stats().spooled;
    let counted: u64 = first
        .discarded()
        .iter()
        .filter(|count| count.category == DataCategory::Error)
        .map(|count| count.quantity)
        .sum();
    assert_eq!(
        spooled as u64 + counted,
        queued as u64,
        "every queued event is spooled or counted: {:?}",
        first.discarded()
    );
    assert_eq!(
        counted,
        first.discarded_count(DiscardReason::NetworkError, DataCategory::Error),
        "what could not be spooled is counted as network_error"
    );
    eprintln!("{queued} queued: shutdown took {took:?}, {spooled} spooled, {counted} counted");
    // The requests that never got an answer fail now; their copies are already spooled.
    hung.stop();
    drop(first);

    let live = MockServer::start();
    let second = transport(&live, &dir);
    assert!(second.flush(Duration::from_secs(30)), "{}", live.summary());
    let numbers: BTreeSet<String> = live
        .events()
        .iter()
        .filter_map(|event| event["tags"]["number"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        live.events().len(),
        spooled,
        "each spooled event arrives once"
    );
    assert_eq!(numbers.len(), spooled, "the spooled events are distinct");
    second.shutdown(Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);
    (spooled, counted)
}

#[test]
fn shutdown_against_a_hung_server_spools_10_in_time() {
    let (spooled, counted) = stalled_shutdown_then_resend(10);
    assert_eq!(
        (spooled, counted),
        (10, 0),
        "nothing is lost with 10 queued"
    );
}

#[test]
fn shutdown_against_a_hung_server_spools_1000_in_time() {
    let (spooled, counted) = stalled_shutdown_then_resend(1_000);
    assert_eq!(
        (spooled, counted),
        (1_000, 0),
        "nothing is lost with 1,000 queued"
    );
}

#[test]
fn shutdown_against_a_hung_server_with_5000_queued_returns_in_time() {
    let (spooled, _counted) = stalled_shutdown_then_resend(5_000);
    assert!(
        spooled > 0,
        "most of the queue is spooled during the timeout"
    );
}

#[test]
fn dropping_a_transport_without_shutdown_spools_for_at_most_about_a_second() {
    let dir = spool_dir("drop");
    let hung = MockServer::start();
    hung.set_hang(true);
    let transport = transport(&hung, &dir);
    const QUEUED: usize = 5_000;
    for number in 0..QUEUED {
        transport.send_envelope(event(number));
    }
    let started = Instant::now();
    drop(transport);
    let took = started.elapsed();
    // Writing all 5,000 takes seconds in a debug build; the drop stops after about one.
    assert!(took < Duration::from_millis(1_500), "drop took {took:?}");
    hung.stop();

    let spool = sdk_transport::Spool::open(&sdk_transport::SpoolOptions::new(&dir))
        .expect("the spool opens");
    assert!(!spool.is_empty(), "the drop spooled what it had time for");
    assert!(spool.len() <= QUEUED);
    let _ = std::fs::remove_dir_all(&dir);
}
