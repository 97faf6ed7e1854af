//! The init guard's drop: it flushes what is queued (so a slow server loses nothing), and it
//! accepts any `shutdown_timeout`, even `Duration::MAX`. One test function: `init` is
//! process-wide.
#![cfg(feature = "ureq")]

use std::time::Duration;

use sdk_core::transport::MockServer;
use sdk_core::{ClientOptions, Level};

#[test]
fn the_guard_flushes_on_drop_and_takes_any_timeout() {
    // 1. a server that answers each request after 150 ms: a drop that did not flush would
    //    return before the events were recorded
    let server = MockServer::start();
    server.set_delay(Duration::from_millis(150));
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn(server.dsn())
            .shutdown_timeout(Duration::from_secs(10)),
    );
    for n in 0..3 {
        sdk_core::capture_message(&format!("queued before drop {n}"), Level::Info);
    }
    drop(guard);
    let mut messages: Vec<String> = server
        .events()
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        [
            "queued before drop 0",
            "queued before drop 1",
            "queued before drop 2"
        ],
        "every event arrived before the guard's drop returned"
    );

    // 2. Duration::MAX as shutdown_timeout and as flush timeout: no overflow panic
    server.clear();
    server.set_delay(Duration::ZERO);
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn(server.dsn())
            .shutdown_timeout(Duration::MAX),
    );
    sdk_core::capture_message("flushed with Duration::MAX", Level::Info);
    assert!(sdk_core::flush(Duration::MAX), "everything was delivered");
    assert!(guard.flush(None), "the guard's flush uses shutdown_timeout");
    sdk_core::capture_message("sent by the guard's drop", Level::Info);
    drop(guard);
    let events = server.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["message"], "sent by the guard's drop");
}
