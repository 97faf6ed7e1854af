//! Offline: events captured while the ingest is unreachable wait in the spool on disk and are
//! sent on the next start.
//!
//! With `SENTRY_DSN` set, one run captures a few events with the spool in `SENTRY_SPOOL_DIR`
//! (default: `sentry-spool` in the temp directory) and exits. Run it once against a dead DSN
//! (`SENTRY_DSN=http://public@127.0.0.1:9/1`), then again against a live one: the first run's
//! events arrive with the second run's.
//!
//! Without `SENTRY_DSN`, it plays both runs itself against the in-process mock server: the
//! server goes down, the first "process" captures and exits (its events go to the spool), the
//! server comes back, the second "process" starts and the spooled events arrive.
//!
//! `cargo run --example offline`

use std::path::{Path, PathBuf};
use std::time::Duration;

use sdk_core::transport::{MockServer, RetryPolicy, SpoolOptions, TransportOptions};
use sdk_core::{ClientOptions, Level};

const EVENTS_PER_RUN: usize = 20;

/// The files waiting in the spool directory.
fn spooled_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|ext| ext == "envelope"))
                .count()
        })
        .unwrap_or(0)
}

/// One "process": init with the spool on, capture, flush briefly, shut down.
fn run(dsn: &str, spool_dir: &Path, label: &str) -> bool {
    let transport = TransportOptions::default()
        .spool(Some(SpoolOptions::new(spool_dir)))
        // Give up on a dead server quickly so the example does not linger.
        .retry(RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
            jitter: 0.2,
        })
        .connect_timeout(Duration::from_secs(2));
    let options = ClientOptions::new()
        .dsn(dsn)
        .release(sdk_core::release_name!())
        .shutdown_timeout(Duration::from_secs(5))
        .debug(std::env::var_os("SENTRY_DEBUG").is_some())
        .transport_options(transport);
    let guard = sdk_core::init(options);
    if !guard.is_enabled() {
        eprintln!("the SDK is disabled: check SENTRY_DSN");
        return false;
    }
    for n in 0..EVENTS_PER_RUN {
        sdk_core::capture_message(&format!("{label}: event {n}"), Level::Info);
    }
    // Delivered (and the spool drained) within 3 s, or not: either way nothing is lost.
    let delivered = sdk_core::flush(Duration::from_secs(3));
    drop(guard); // shuts down: what could not be sent goes to the spool
    delivered
}

fn main() {
    let spool_dir = std::env::var_os("SENTRY_SPOOL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("sentry-spool"));

    if let Ok(dsn) = std::env::var("SENTRY_DSN") {
        if !dsn.trim().is_empty() {
            let waiting = spooled_files(&spool_dir);
            let delivered = run(&dsn, &spool_dir, "offline example");
            println!(
                "spool {}: {waiting} file(s) waiting at start, {} after this run; {}",
                spool_dir.display(),
                spooled_files(&spool_dir),
                if delivered {
                    "everything was delivered"
                } else {
                    "the ingest did not take everything: run again when it is reachable"
                }
            );
            return;
        }
    }

    // The in-process demonstration: a fresh spool directory of our own.
    let spool_dir = spool_dir.join(format!("demo-{}", std::process::id()));
    let server = MockServer::start();
    let dsn = server.dsn();

    println!("1. the ingest is down; the first process captures {EVENTS_PER_RUN} events and exits");
    server.stop();
    let delivered = run(&dsn, &spool_dir, "while offline");
    println!(
        "   delivered: {delivered}; spool {} holds {} file(s)",
        spool_dir.display(),
        spooled_files(&spool_dir)
    );

    println!("2. the ingest is back; the next process starts and captures {EVENTS_PER_RUN} more");
    if let Err(err) = server.restart() {
        eprintln!("could not restart the mock server: {err}");
        return;
    }
    let delivered = run(&dsn, &spool_dir, "back online");
    server.wait_for_items("event", 2 * EVENTS_PER_RUN, Duration::from_secs(10));

    let messages: Vec<String> = server
        .events()
        .iter()
        .filter_map(|event| {
            event["message"]["formatted"]
                .as_str()
                .or_else(|| event["message"].as_str())
                .or_else(|| event["logentry"]["formatted"].as_str())
                .map(str::to_owned)
        })
        .collect();
    let offline = messages
        .iter()
        .filter(|m| m.starts_with("while offline"))
        .count();
    let online = messages
        .iter()
        .filter(|m| m.starts_with("back online"))
        .count();
    println!(
        "   delivered: {delivered}; the server received {} events: {offline} captured while offline, {online} after; spool files left: {}",
        server.item_count("event"),
        spooled_files(&spool_dir)
    );
    println!("{}", server.summary());
    let _ = std::fs::remove_dir_all(&spool_dir);
}
