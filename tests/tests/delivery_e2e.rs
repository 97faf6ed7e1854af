//! Issue 4's "Done means", at the level the issue states: through `sdk_core::init`, the real
//! HTTP transport and the mock server (and, for the outage, two real processes).
//!
//! `init` sets the process-wide client, so the tests here take turns (`serial()`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sdk_core::transport::http::reqwest::ReqwestClient;
use sdk_core::transport::{
    DataCategory, DiscardReason, Dsn, HttpTransport, MockServer, Transport, TransportOptions,
};
use sdk_core::{ClientOptions, Level};

static SERIAL: Mutex<()> = Mutex::new(());

/// One test at a time: they all use the process-wide client.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "delivery-e2e-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Envelopes in the spool files of `dir`.
fn spooled_envelopes(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "envelope"))
        .filter_map(|path| sdk_core::transport::spool::read_file(&path).ok())
        .map(|envelopes| envelopes.len())
        .sum()
}

/// The message numbers ("<prefix> N") of the events that arrived.
fn numbers(server: &MockServer, prefix: &str) -> (usize, BTreeSet<u64>) {
    let events = server.events();
    let numbers = events
        .iter()
        .filter_map(|event| {
            let message = event["message"]
                .as_str()
                .or_else(|| event["message"]["formatted"].as_str())
                .or_else(|| event["logentry"]["message"].as_str())?;
            message.strip_prefix(prefix)?.trim().parse().ok()
        })
        .collect();
    (events.len(), numbers)
}

/// Where a test finds the `HttpTransport` its `init` created.
type TransportSlot = Arc<Mutex<Option<Arc<HttpTransport>>>>;

/// A transport factory that also hands the test the `HttpTransport` (for its counters).
fn keep_transport(
    client: impl Fn(&TransportOptions) -> Arc<dyn sdk_core::transport::HttpClient>
        + Send
        + Sync
        + 'static,
) -> (
    TransportSlot,
    impl Fn(&ClientOptions) -> Arc<dyn Transport> + Send + Sync + 'static,
) {
    let slot: TransportSlot = Arc::default();
    let keep = Arc::clone(&slot);
    let factory = move |options: &ClientOptions| {
        let dsn: Dsn = options
            .dsn
            .as_deref()
            .unwrap_or_default()
            .parse()
            .expect("the test's DSN parses");
        let transport_options = options.transport_options.clone();
        let http = client(&transport_options);
        let transport =
            Arc::new(HttpTransport::new(&dsn, transport_options, http).expect("an HTTP transport"));
        *keep.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&transport));
        transport as Arc<dyn Transport>
    };
    (slot, factory)
}

fn plain_client(options: &TransportOptions) -> Arc<dyn sdk_core::transport::HttpClient> {
    Arc::new(sdk_core::transport::http::plain::PlainHttpClient::new(
        options,
    ))
}

fn reqwest_client(options: &TransportOptions) -> Arc<dyn sdk_core::transport::HttpClient> {
    Arc::new(ReqwestClient::new(options).expect("a reqwest client"))
}

#[test]
fn a_burst_of_10000_captures_against_a_slow_server_never_blocks_and_every_drop_is_counted() {
    let _serial = serial();
    let server = MockServer::start();
    server.set_delay(Duration::from_millis(100));
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn(server.dsn())
            .default_integrations(false)
            // A queue smaller than the burst: some captures are dropped, and must be counted.
            .transport_options(TransportOptions::default().queue_limits(2_000, 64 << 20)),
    );
    assert!(guard.is_enabled());

    const CAPTURES: usize = 10_000;
    let mut took = Vec::with_capacity(CAPTURES);
    for number in 0..CAPTURES {
        let started = Instant::now();
        sdk_core::capture_message(&format!("burst {number}"), Level::Info);
        took.push(started.elapsed());
    }
    let mut slowest: Vec<(Duration, usize)> = took.iter().copied().zip(0..).collect();
    slowest.sort();
    eprintln!(
        "slowest captures (duration, index): {:?}",
        &slowest[CAPTURES - 5..]
    );
    took.sort();
    let max = took[CAPTURES - 1];
    let p99 = took[CAPTURES * 99 / 100];
    let median = took[CAPTURES / 2];
    eprintln!("capture_message: median {median:?}, p99 {p99:?}, max {max:?}");
    // Generous for a debug build on a loaded 2-core machine (a capture preempted for a time
    // slice takes 10-20 ms there), yet below one request to the slow server (100 ms): a
    // capture that waited on the network would break the first bound, one that serialised or
    // did I/O on the caller's thread the second.
    assert!(max < Duration::from_millis(50), "slowest capture {max:?}");
    assert!(p99 < Duration::from_micros(200), "p99 capture {p99:?}");

    server.clear_faults();
    assert!(
        guard.flush(Some(Duration::from_secs(30))),
        "{}",
        server.summary()
    );
    let (arrived, distinct) = numbers(&server, "burst ");
    assert_eq!(arrived, distinct.len(), "no event arrived twice");
    let dropped = server.discarded("queue_overflow", "error");
    assert!(dropped > 0, "the burst overflowed the queue");
    assert_eq!(
        arrived as u64 + dropped,
        CAPTURES as u64,
        "every capture arrived or was reported dropped"
    );
    drop(guard);
}

/// Entry point of the child processes of the outage test; does nothing in a normal run.
#[test]
fn outage_child_process() {
    let Ok(role) = std::env::var("DELIVERY_E2E_ROLE") else {
        return;
    };
    let dsn = std::env::var("DELIVERY_E2E_DSN").expect("DELIVERY_E2E_DSN");
    let spool = std::env::var("DELIVERY_E2E_SPOOL").expect("DELIVERY_E2E_SPOOL");
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn(dsn)
            .default_integrations(false)
            .shutdown_timeout(Duration::from_secs(5))
            .transport_options(TransportOptions::default().spool_dir(spool)),
    );
    assert!(guard.is_enabled());
    match role.as_str() {
        "capture" => {
            for number in 0..500 {
                sdk_core::capture_message(&format!("outage {number}"), Level::Error);
            }
        }
        "resend" => {
            assert!(sdk_core::flush(Duration::from_secs(20)), "the spool drains");
        }
        other => panic!("unknown role {other}"),
    }
    // The process exits through the guard's drop, as an application would.
    drop(guard);
}

fn run_child(role: &str, dsn: &str, spool: &Path) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([
            "--exact",
            "outage_child_process",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("DELIVERY_E2E_ROLE", role)
        .env("DELIVERY_E2E_DSN", dsn)
        .env("DELIVERY_E2E_SPOOL", spool)
        .output()
        .expect("the child process runs");
    assert!(
        output.status.success(),
        "child {role} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child ran its test"
    );
}

#[test]
fn outage_500_events_survive_a_process_restart_and_arrive_exactly_once() {
    let _serial = serial();
    let spool = temp_dir("outage");
    let server = MockServer::start();
    let dsn = server.dsn();
    server.stop();

    run_child("capture", &dsn, &spool);
    assert_eq!(server.envelope_count(), 0);
    assert_eq!(
        spooled_envelopes(&spool),
        500,
        "the first process spooled every event"
    );

    server.restart().expect("the server comes back on its port");
    run_child("resend", &dsn, &spool);
    let (arrived, distinct) = numbers(&server, "outage ");
    assert_eq!(arrived, 500, "{}", server.summary());
    assert_eq!(
        distinct,
        (0..500).collect::<BTreeSet<u64>>(),
        "each event exactly once"
    );
    assert_eq!(spooled_envelopes(&spool), 0, "the spool is empty again");
    let _ = std::fs::remove_dir_all(&spool);
}

/// Against a server that never answers: `flush(2 s)` and the guard's drop each return in under
/// 2.5 s; with a spool, what was captured is spooled or counted.
fn stall(captured: usize, with_spool: bool) {
    let _serial = serial();
    let server = MockServer::start();
    server.set_hang(true);
    let spool = temp_dir(&format!("stall-{captured}"));
    let mut transport_options = TransportOptions::default();
    if with_spool {
        transport_options = transport_options.spool_dir(&spool);
    }
    let (transport, factory) = keep_transport(plain_client);
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn(server.dsn())
            .default_integrations(false)
            .shutdown_timeout(Duration::from_secs(2))
            .transport_options(transport_options)
            .transport(factory),
    );
    for number in 0..captured {
        sdk_core::capture_message(&format!("stall {number}"), Level::Error);
    }

    let started = Instant::now();
    let flushed = sdk_core::flush(Duration::from_secs(2));
    let flush_took = started.elapsed();
    assert!(!flushed, "nothing can be delivered");
    assert!(
        flush_took < Duration::from_millis(2_500),
        "flush(2 s) with {captured} captured took {flush_took:?}"
    );

    let started = Instant::now();
    drop(guard);
    let drop_took = started.elapsed();
    eprintln!("stall {captured} (spool: {with_spool}): flush {flush_took:?}, drop {drop_took:?}");
    assert!(
        drop_took < Duration::from_millis(2_500),
        "the guard's drop with {captured} captured took {drop_took:?}"
    );

    let transport = transport
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("init created the transport");
    let counted = transport.discarded_count(DiscardReason::NetworkError, DataCategory::Error);
    server.stop();
    if with_spool {
        let spooled = spooled_envelopes(&spool);
        assert_eq!(
            spooled as u64 + counted,
            captured as u64,
            "every event is spooled or counted"
        );
        assert_eq!(counted, 0, "{captured} events fit in the spool in time");
    }
    let _ = std::fs::remove_dir_all(&spool);
}

#[test]
fn stall_10_events_without_a_spool() {
    stall(10, false);
}

#[test]
fn stall_1000_events_without_a_spool() {
    stall(1_000, false);
}

#[test]
fn stall_10_events_with_a_spool() {
    stall(10, true);
}

#[test]
fn stall_1000_events_with_a_spool() {
    stall(1_000, true);
}

/// `init` with the reqwest client, a few captures, a flush, and the guard dropped where the
/// caller is (inside or outside a runtime).
fn capture_with_reqwest(server: &MockServer, label: &str) {
    let (_transport, factory) = keep_transport(reqwest_client);
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn(server.dsn())
            .default_integrations(false)
            .transport(factory),
    );
    assert!(guard.is_enabled());
    for number in 0..5 {
        sdk_core::capture_message(&format!("{label} {number}"), Level::Info);
    }
    assert!(
        sdk_core::flush(Duration::from_secs(10)),
        "{}",
        server.summary()
    );
    drop(guard);
}

#[test]
fn init_with_reqwest_works_inside_and_outside_tokio_runtimes() {
    let _serial = serial();
    let server = MockServer::start();

    capture_with_reqwest(&server, "outside");

    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    current.block_on(async { capture_with_reqwest(&server, "current-thread") });

    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-thread runtime");
    multi.block_on(async {
        let server_dsn = server.dsn();
        // From a task on a worker thread of the runtime, too.
        let task = tokio::spawn(async move {
            let (_transport, factory) = keep_transport(reqwest_client);
            let guard = sdk_core::init(
                ClientOptions::new()
                    .dsn(server_dsn)
                    .default_integrations(false)
                    .transport(factory),
            );
            for number in 0..5 {
                sdk_core::capture_message(&format!("multi-thread {number}"), Level::Info);
            }
            assert!(sdk_core::flush(Duration::from_secs(10)));
            drop(guard);
        });
        task.await
            .expect("the task neither panics nor is cancelled");
    });

    for label in ["outside ", "current-thread ", "multi-thread "] {
        let (_, distinct) = numbers(&server, label);
        assert_eq!(distinct.len(), 5, "{label}: {}", server.summary());
    }
    assert_eq!(server.events().len(), 15);
}

#[test]
fn flush_and_the_guard_accept_duration_max() {
    let _serial = serial();
    let server = MockServer::start();
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn(server.dsn())
            .default_integrations(false)
            .shutdown_timeout(Duration::MAX),
    );
    sdk_core::capture_message("forever 0", Level::Info);
    assert!(sdk_core::flush(Duration::MAX), "{}", server.summary());
    sdk_core::capture_message("forever 1", Level::Info);
    // Shuts down with a timeout of Duration::MAX: drains, no overflow panic in Drop.
    drop(guard);
    let (_, distinct) = numbers(&server, "forever ");
    assert_eq!(distinct, BTreeSet::from([0, 1]));
}
