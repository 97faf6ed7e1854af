//! End-to-end delivery: the real HTTP transports (ureq, reqwest) against the mock server with
//! faults: rate limits, retries, client reports, bursts, outages with the spool, stalls.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sdk_transport::http::plain::PlainHttpClient;
use sdk_transport::http::reqwest::ReqwestClient;
use sdk_transport::http::ureq::UreqClient;
use sdk_transport::{
    DataCategory, DiscardReason, Dsn, Envelope, EnvelopeItem, HttpClient, HttpTransport, ItemType,
    MockServer, Payload, RetryPolicy, SpoolOptions, Transport, TransportOptions,
};

fn event(text: &str) -> Envelope {
    let id = uuid::Uuid::new_v4();
    let mut envelope = Envelope::with_event_id(id);
    let payload = serde_json::json!({
        "event_id": id.simple().to_string(),
        "message": text,
        "level": "info",
        "platform": "native",
    });
    envelope.add_item(
        EnvelopeItem::new(ItemType::Event, Payload::json(&payload).unwrap())
            .with_content_type("application/json"),
    );
    envelope
}

fn transaction(name: &str) -> Envelope {
    let id = uuid::Uuid::new_v4();
    let mut envelope = Envelope::with_event_id(id);
    let payload = serde_json::json!({
        "event_id": id.simple().to_string(),
        "type": "transaction",
        "transaction": name,
        "start_timestamp": 1.0,
        "timestamp": 2.0,
        "spans": [],
    });
    envelope.add_item(
        EnvelopeItem::new(ItemType::Transaction, Payload::json(&payload).unwrap())
            .with_content_type("application/json"),
    );
    envelope
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(100),
        jitter: 0.0,
    }
}

fn dsn(server: &MockServer) -> Dsn {
    server.dsn().parse().expect("the mock server's DSN parses")
}

/// The blocking clients every flow is checked with: ureq (https and proxies) and the built-in
/// HTTP/1.1 client `default_transport` picks for `http://` DSNs.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Ureq,
    Plain,
}

const KINDS: [Kind; 2] = [Kind::Ureq, Kind::Plain];

fn transport(kind: Kind, server: &MockServer, options: TransportOptions) -> HttpTransport {
    let client: Arc<dyn HttpClient> = match kind {
        Kind::Ureq => Arc::new(UreqClient::new(&options)),
        Kind::Plain => Arc::new(PlainHttpClient::new(&options)),
    };
    HttpTransport::new(&dsn(server), options, client).expect("transport starts")
}

fn messages(server: &MockServer) -> Vec<String> {
    server
        .events()
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sdk-e2e-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn spool_files(dir: &PathBuf) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|ext| ext == "envelope"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_thousand_envelopes_arrive_intact() {
    for kind in KINDS {
        let server = MockServer::start();
        let transport = transport(kind, &server, TransportOptions::default());
        for n in 0..1_000 {
            transport.send_envelope(event(&format!("event {n}")));
        }
        assert!(transport.flush(Duration::from_secs(30)));
        let mut got = messages(&server);
        assert_eq!(got.len(), 1_000);
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 1_000, "no duplicates");
        assert!(server.rejected().is_empty(), "{:?}", server.rejected());
        let request = &server.requests()[0];
        assert!(request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("sentry.rust.sdk/")));
        assert!(transport.shutdown(Duration::from_secs(5)));
    }
}

#[test]
fn big_bodies_are_gzipped_and_arrive_intact() {
    for kind in KINDS {
        let server = MockServer::start();
        let options = TransportOptions::default().gzip(1_000, 1).concurrency(1);
        let transport = transport(kind, &server, options);
        let long = "y".repeat(5_000);
        transport.send_envelope(event(&long));
        transport.send_envelope(event("short"));
        assert!(transport.flush(Duration::from_secs(10)));
        let requests = server.requests();
        assert_eq!(requests[0].header("content-encoding"), Some("gzip"));
        assert!(
            requests[0].body_len < 1_000,
            "5 KB of one letter compresses"
        );
        assert_eq!(requests[1].header("content-encoding"), None);
        assert_eq!(messages(&server), vec![long, "short".to_owned()]);
    }
}

#[test]
fn flush_with_the_server_down_returns_false_within_its_timeout() {
    for kind in KINDS {
        let server = MockServer::start();
        server.stop();
        let transport = transport(kind, &server, TransportOptions::default());
        transport.send_envelope(event("nobody listens"));
        let start = Instant::now();
        assert!(!transport.flush(Duration::from_millis(500)));
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

#[test]
fn a_429_with_categories_stops_only_those_categories_until_the_time_passes() {
    for kind in KINDS {
        let server = MockServer::start();
        let transport = transport(
            kind,
            &server,
            TransportOptions::default().retry(fast_retry()),
        );
        server.respond_with_status(429, 1);
        server.add_response_headers(&[("X-Sentry-Rate-Limits", "1:transaction:key")], 1);
        transport.send_envelope(transaction("first"));
        assert!(transport.flush(Duration::from_secs(10)));
        assert_eq!(server.request_count(), 1);
        assert!(server.transactions().is_empty());

        transport.send_envelope(transaction("limited"));
        transport.send_envelope(event("errors still flow"));
        assert!(transport.flush(Duration::from_secs(10)));
        assert_eq!(messages(&server), vec!["errors still flow"]);
        assert!(server.transactions().is_empty());
        assert_eq!(
            transport.discarded_count(DiscardReason::RatelimitBackoff, DataCategory::Transaction),
            1
        );
        // The 429 itself is never reported (Relay counted it) and never retried.
        assert_eq!(
            transport.discarded_count(DiscardReason::SendError, DataCategory::Transaction),
            0
        );

        std::thread::sleep(Duration::from_millis(1_100));
        transport.send_envelope(transaction("after the limit"));
        assert!(transport.flush(Duration::from_secs(10)));
        let transactions = server.transactions();
        assert_eq!(transactions.len(), 1);
        assert_eq!(transactions[0]["transaction"], "after the limit");
        assert_eq!(server.discarded("ratelimit_backoff", "transaction"), 1);
    }
}

#[test]
fn retries_deliver_after_two_503s() {
    for kind in KINDS {
        let server = MockServer::start();
        let transport = transport(
            kind,
            &server,
            TransportOptions::default().retry(fast_retry()),
        );
        server.respond_with_status(503, 2);
        transport.send_envelope(event("third time lucky"));
        assert!(transport.flush(Duration::from_secs(10)));
        assert_eq!(messages(&server), vec!["third time lucky"]);
        assert_eq!(server.request_count(), 3);
        assert!(transport.discarded().is_empty());
    }
}

#[test]
fn dropped_connections_are_retried() {
    for kind in KINDS {
        let server = MockServer::start();
        let transport = transport(
            kind,
            &server,
            TransportOptions::default().retry(fast_retry()),
        );
        server.drop_connections(2);
        transport.send_envelope(event("survives resets"));
        assert!(transport.flush(Duration::from_secs(10)));
        assert_eq!(messages(&server), vec!["survives resets"]);
    }
}

#[test]
fn a_4xx_is_not_retried_and_is_reported_as_send_error() {
    for kind in KINDS {
        let server = MockServer::start();
        let transport = transport(
            kind,
            &server,
            TransportOptions::default().retry(fast_retry()),
        );
        server.respond_with_status(413, 1);
        transport.send_envelope(event("too big"));
        assert!(transport.flush(Duration::from_secs(10)));
        // One refused request, then the client report on its own.
        assert_eq!(server.request_count(), 2);
        assert_eq!(server.discarded("send_error", "error"), 1);
    }
}

#[test]
fn a_client_report_with_the_right_reasons_and_counts_arrives() {
    for kind in KINDS {
        let server = MockServer::start();
        let transport = transport(kind, &server, TransportOptions::default());
        // What the core would report: sampling and before_send drops.
        transport.record_discard(DiscardReason::SampleRate, DataCategory::Transaction, 4);
        transport.record_discard(DiscardReason::BeforeSend, DataCategory::Error, 2);
        // What the transport drops itself: rate-limited errors.
        server.add_response_headers(&[("X-Sentry-Rate-Limits", "60:error:key")], 1);
        transport.send_envelope(event("sets the limit"));
        assert!(transport.flush(Duration::from_secs(10)));
        for n in 0..3 {
            transport.send_envelope(event(&format!("limited {n}")));
        }
        assert!(transport.flush(Duration::from_secs(10)));
        assert_eq!(server.discarded("sample_rate", "transaction"), 4);
        assert_eq!(server.discarded("before_send", "error"), 2);
        assert_eq!(server.discarded("ratelimit_backoff", "error"), 3);
        assert_eq!(messages(&server), vec!["sets the limit"]);
        let report = &server.client_reports()[0];
        assert!(report["timestamp"].is_string());
    }
}

#[test]
fn a_burst_of_10_000_against_a_slow_server_never_blocks_and_every_drop_is_counted() {
    for kind in KINDS {
        let server = MockServer::start();
        server.set_store(false);
        server.set_delay(Duration::from_millis(500));
        let options = TransportOptions::default().queue_limits(1_000, usize::MAX);
        let transport = transport(kind, &server, options);
        let envelopes: Vec<Envelope> = (0..10_000).map(|n| event(&format!("burst {n}"))).collect();
        let mut slowest = Duration::ZERO;
        let start = Instant::now();
        for envelope in envelopes {
            let call = Instant::now();
            transport.send_envelope(envelope);
            slowest = slowest.max(call.elapsed());
        }
        let total = start.elapsed();
        // Never waits for the server (every request takes 500 ms).
        assert!(
            slowest < Duration::from_millis(250),
            "slowest call {slowest:?}"
        );
        assert!(
            total / 10_000 < Duration::from_micros(50),
            "mean call {:?}",
            total / 10_000
        );
        let overflow = transport.discarded_count(DiscardReason::QueueOverflow, DataCategory::Error);
        assert!(
            overflow >= 8_900,
            "queue of 1,000: most of the burst overflows ({overflow})"
        );

        server.set_delay(Duration::ZERO);
        assert!(transport.flush(Duration::from_secs(60)));
        let delivered = server.item_count("event") as u64;
        assert_eq!(
            delivered + overflow,
            10_000,
            "every envelope delivered or counted"
        );
        server.set_store(true);
        assert!(transport.flush(Duration::from_secs(5)));
        // The report of the drops reached the server (on the flush that ended the burst).
        assert_eq!(transport.stats().delivered, delivered + 1);
    }
}

#[test]
fn outage_with_the_spool_delivers_every_envelope_exactly_once_after_a_restart() {
    for kind in KINDS {
        let server = MockServer::start();
        let dir = temp_dir("outage");
        server.stop();
        let options = TransportOptions::default()
            .retry(fast_retry())
            .spool(Some(SpoolOptions::new(&dir)));
        {
            let transport = transport(kind, &server, options.clone());
            for n in 0..500 {
                transport.send_envelope(event(&format!("offline {n}")));
            }
            assert!(
                transport.shutdown(Duration::from_secs(10)),
                "everything spooled"
            );
            assert_eq!(transport.stats().spooled, 500);
            assert!(
                transport.discarded().is_empty(),
                "{:?}",
                transport.discarded()
            );
        }
        assert!(spool_files(&dir) >= 1);

        // "The next process": a new transport on the same spool, the server back.
        server.restart().expect("the port is free again");
        let transport = transport(kind, &server, options);
        assert!(transport.flush(Duration::from_secs(60)));
        let got = messages(&server);
        assert_eq!(got.len(), 500, "each arrives exactly once");
        let distinct: HashSet<&String> = got.iter().collect();
        assert_eq!(distinct.len(), 500);
        assert_eq!(spool_files(&dir), 0);
        assert!(transport.shutdown(Duration::from_secs(5)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_spool_is_drained_when_the_server_comes_back_while_running() {
    for kind in KINDS {
        let server = MockServer::start();
        let dir = temp_dir("comeback");
        let options = TransportOptions::default()
            .retry(fast_retry())
            .spool(Some(SpoolOptions::new(&dir)));
        let transport = transport(kind, &server, options);
        server.stop();
        for n in 0..50 {
            transport.send_envelope(event(&format!("while down {n}")));
        }
        assert!(!transport.flush(Duration::from_millis(500)));
        server.restart().expect("the port is free again");
        assert!(transport.flush(Duration::from_secs(30)));
        assert_eq!(server.item_count("event"), 50);
        assert_eq!(spool_files(&dir), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn stalled_server_flush_and_shutdown_return_in_time() {
    // Each client with 10 and with 1,000 queued, side by side (each case takes ~4 s).
    let cases: Vec<_> = KINDS
        .iter()
        .flat_map(|kind| [(*kind, 10usize), (*kind, 1_000)])
        .map(|(kind, queued)| std::thread::spawn(move || stall_case(kind, queued)))
        .collect();
    for case in cases {
        case.join().expect("stall case");
    }
}

fn stall_case(kind: Kind, queued: usize) {
    let server = MockServer::start();
    server.set_hang(true);
    let transport = transport(kind, &server, TransportOptions::default());
    for n in 0..queued {
        transport.send_envelope(event(&format!("stalled {n}")));
    }
    let start = Instant::now();
    assert!(!transport.flush(Duration::from_secs(2)));
    let flush = start.elapsed();
    assert!(
        flush < Duration::from_millis(2_500),
        "{kind:?}, {queued} queued: flush took {flush:?}"
    );

    let start = Instant::now();
    assert!(!transport.shutdown(Duration::from_secs(2)));
    let shutdown = start.elapsed();
    assert!(
        shutdown < Duration::from_millis(2_500),
        "{kind:?}, {queued} queued: shutdown took {shutdown:?}"
    );
    // What never left is counted, not silently lost (the hung requests excepted).
    let lost = transport.discarded_count(DiscardReason::NetworkError, DataCategory::Error);
    let hung = transport.stats().in_flight as u64;
    assert_eq!(
        lost + hung,
        queued as u64,
        "{kind:?}, {queued} queued, {lost} counted, {hung} hung"
    );
}

fn reqwest_round_trip(server: &MockServer, label: &str) {
    let options = TransportOptions::default();
    let client = Arc::new(ReqwestClient::new(&options).expect("reqwest client"));
    let transport = HttpTransport::new(&dsn(server), options, client).expect("transport");
    for n in 0..50 {
        transport.send_envelope(event(&format!("{label} {n}")));
    }
    assert!(transport.flush(Duration::from_secs(30)), "{label}");
    assert!(transport.shutdown(Duration::from_secs(5)), "{label}");
}

#[test]
fn reqwest_transport_outside_a_runtime() {
    let server = MockServer::start();
    reqwest_round_trip(&server, "plain thread");
    assert_eq!(server.item_count("event"), 50);
}

#[test]
fn reqwest_transport_inside_tokio_runtimes() {
    let server = MockServer::start();
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    current.block_on(async { reqwest_round_trip(&server, "current-thread runtime") });
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    multi.block_on(async {
        // Created on a runtime thread, dropped inside the runtime as well.
        reqwest_round_trip(&server, "multi-thread runtime")
    });
    assert_eq!(server.item_count("event"), 100);
}

/// The 20,000-event burst of WORKLOAD.md §8 with DEFAULT options, for measuring (run with
/// `cargo test --release -p e2e-tests --test delivery -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement, not a check; run it in release mode"]
fn burst_of_20_000_with_default_options() {
    let server = MockServer::start();
    server.set_store(false);
    let payload = serde_json::json!({
        "message": "x".repeat(1_800),
        "level": "info",
        "platform": "native",
        "contexts": {"os": {"name": "Linux", "version": "6.1"}, "rust": {"version": "1.95.0"}},
    });
    let mut options = TransportOptions::default();
    // Knobs for comparing settings by hand; the defaults are what is measured.
    if let Some(n) = std::env::var("BURST_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        options = options.concurrency(n);
    }
    if let Some(t) = std::env::var("BURST_GZIP_THRESHOLD")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        options.gzip_threshold = t;
    }
    // The client `default_transport` picks for this http:// DSN, unless BURST_CLIENT=ureq.
    let kind = match std::env::var("BURST_CLIENT").as_deref() {
        Ok("ureq") => Kind::Ureq,
        _ => Kind::Plain,
    };
    let transport = transport(kind, &server, options);
    let envelopes: Vec<Envelope> = (0..20_000)
        .map(|_| {
            let mut envelope = Envelope::with_event_id(uuid::Uuid::new_v4());
            envelope.add_item(EnvelopeItem::new(
                ItemType::Event,
                Payload::json(&payload).unwrap(),
            ));
            envelope
        })
        .collect();
    let mut latencies = Vec::with_capacity(20_000);
    let start = Instant::now();
    for envelope in envelopes {
        let call = Instant::now();
        transport.send_envelope(envelope);
        latencies.push(call.elapsed());
    }
    let loop_time = start.elapsed();
    assert!(transport.flush(Duration::from_secs(120)));
    let deliver = start.elapsed();
    latencies.sort();
    let delivered = server.item_count("event");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    println!(
        "burst 20k ({kind:?}): caller {:.0} ns/op, p99 {:?}, max {:?}; delivered {delivered} in {:?} = {:.0}/s; dropped {}; {hwm}",
        loop_time.as_nanos() as f64 / 20_000.0,
        latencies[latencies.len() * 99 / 100],
        latencies[latencies.len() - 1],
        deliver,
        delivered as f64 / deliver.as_secs_f64(),
        transport.discarded().iter().map(|d| d.quantity).sum::<u64>(),
    );
    assert!(delivered >= 19_800);
}

/// 20,000 events during an outage with the spool on, then the next start drains them (run
/// with `cargo test --release -p e2e-tests --test delivery outage_burst -- --ignored
/// --nocapture`).
#[test]
#[ignore = "a measurement, not a check; run it in release mode"]
fn outage_burst_of_20_000_through_the_spool() {
    let server = MockServer::start();
    let dir = temp_dir("outage-burst");
    server.stop();
    let options = TransportOptions::default()
        .retry(fast_retry())
        .spool(Some(SpoolOptions::new(&dir)));
    let start = Instant::now();
    {
        let transport = transport(Kind::Plain, &server, options.clone());
        for n in 0..20_000 {
            transport.send_envelope(event(&format!("offline {n}")));
        }
        let captured = start.elapsed();
        let safe = transport.shutdown(Duration::from_secs(30));
        println!(
            "outage: 20,000 captured in {captured:?}; shutdown {:?} after start, all safe: {safe}, spooled {}, dropped {:?}",
            start.elapsed(),
            transport.stats().spooled,
            transport.discarded()
        );
    }
    println!("spool files: {}", spool_files(&dir));
    server.restart().expect("port free");
    let start = Instant::now();
    let transport = transport(Kind::Plain, &server, options);
    assert!(transport.flush(Duration::from_secs(120)));
    println!(
        "restart: {} events and {} client report(s) (cache_overflow error: {}) delivered from the spool in {:?}",
        server.item_count("event"),
        server.item_count("client_report"),
        server.discarded("cache_overflow", "error"),
        start.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Through the SDK's front door (`init`, `capture_message`, the guard): a stalled ingest does
/// not hold `flush` or the guard's drop past their timeouts, and an outage is survived through
/// the spool across two "processes". One test, because `init` binds the process-wide client.
#[test]
fn through_init_stalls_are_bounded_and_outages_survived() {
    use sdk_core::{ClientOptions, Level};

    // Stall: the server reads requests and never answers.
    for queued in [10, 1_000] {
        let server = MockServer::start();
        server.set_hang(true);
        let guard = sdk_core::init(
            ClientOptions::new()
                .dsn(server.dsn())
                .shutdown_timeout(Duration::from_secs(2)),
        );
        assert!(guard.is_enabled());
        for n in 0..queued {
            sdk_core::capture_message(&format!("stalled {n}"), Level::Info);
        }
        let start = Instant::now();
        assert!(!sdk_core::flush(Duration::from_secs(2)));
        let flush = start.elapsed();
        assert!(
            flush < Duration::from_millis(2_500),
            "{queued}: flush {flush:?}"
        );
        let start = Instant::now();
        drop(guard);
        let close = start.elapsed();
        assert!(
            close < Duration::from_millis(2_500),
            "{queued}: guard drop {close:?}"
        );
    }

    // Outage: 500 events while the server is down, the "process" ends; the next one starts
    // with the server back and the first one's events arrive, each once.
    let server = MockServer::start();
    let dir = temp_dir("init-outage");
    let options = || {
        ClientOptions::new()
            .dsn(server.dsn())
            .shutdown_timeout(Duration::from_secs(10))
            .transport_options(
                TransportOptions::default()
                    .retry(fast_retry())
                    .spool(Some(SpoolOptions::new(&dir))),
            )
    };
    server.stop();
    {
        let _guard = sdk_core::init(options());
        for n in 0..500 {
            sdk_core::capture_message(&format!("outage {n}"), Level::Warning);
        }
    }
    server.restart().expect("the port is free again");
    {
        let _guard = sdk_core::init(options());
        assert!(sdk_core::flush(Duration::from_secs(60)));
    }
    let messages: Vec<String> = server
        .events()
        .iter()
        .filter_map(|e| {
            e["message"]["formatted"]
                .as_str()
                .or_else(|| e["message"].as_str())
                .or_else(|| e["logentry"]["formatted"].as_str())
                .map(str::to_owned)
        })
        .filter(|m| m.starts_with("outage "))
        .collect();
    assert_eq!(messages.len(), 500);
    let distinct: HashSet<&String> = messages.iter().collect();
    assert_eq!(distinct.len(), 500, "each exactly once");
    assert_eq!(spool_files(&dir), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
