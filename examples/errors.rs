//! Errors: a three-level error chain, an event tagged inside `with_scope`, a fingerprinted
//! event, and a panic on a spawned thread that is captured while the process keeps going.
//!
//! `cargo run --example errors` sends to `SENTRY_DSN` when it is set; without it, the example
//! starts the in-process mock ingest server, sends there, and prints what arrived.

use std::fmt;
use std::time::Duration;

use example_support::Destination;
use sdk_core::ClientOptions;

/// Innermost cause.
#[derive(Debug)]
struct ConnectionError {
    os_code: i32,
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection reset by peer (os error {})", self.os_code)
    }
}

impl std::error::Error for ConnectionError {}

/// Middle of the chain.
#[derive(Debug)]
struct QueryError {
    table: &'static str,
    source: ConnectionError,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query on table `{}` failed", self.table)
    }
}

impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The error the handler returns.
#[derive(Debug)]
struct RequestError {
    route: &'static str,
    source: QueryError,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handling request {} failed", self.route)
    }
}

impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn load_items() -> Result<(), RequestError> {
    Err(RequestError {
        route: "GET /api/items",
        source: QueryError {
            table: "items",
            source: ConnectionError { os_code: 104 },
        },
    })
}

fn main() {
    // SENTRY_DSN, or (without it) an in-process mock server whose summary we print at the end.
    let destination = Destination::from_env();
    let options = destination.configure(
        ClientOptions::new()
            .release(sdk_core::release_name!())
            .attach_stacktrace(true),
    );
    let _guard = sdk_core::init(options);

    // 1. a three-level error chain: arrives as three linked exceptions, innermost first
    if let Err(err) = load_items() {
        sdk_core::capture_error(&err);
    }

    // 2. tags that apply to one event only
    sdk_core::with_scope(
        |scope| {
            scope.set_tag("job", "nightly-report");
            scope.set_level(Some(sdk_core::Level::Warning));
        },
        || {
            sdk_core::capture_message(
                "nightly report took 3x longer than usual",
                sdk_core::Level::Info,
            )
        },
    );

    // 3. a custom fingerprint groups all timeouts of this query into one issue
    sdk_core::with_scope(
        |scope| scope.set_fingerprint(Some(&["{{ default }}", "items-query-timeout"])),
        || sdk_core::capture_message("items query timed out", sdk_core::Level::Error),
    );

    // 4. a panic on another thread: captured (handled = false), the process keeps going
    let worker = std::thread::Builder::new().name("worker".into()).spawn(|| {
        let shards: Vec<u32> = std::hint::black_box(Vec::new());
        let first = shards.first().copied();
        first.expect("the shard list should never be empty")
    });
    match worker.map(|handle| handle.join()) {
        Ok(Err(_)) => println!("the worker thread panicked; the process continues"),
        Ok(Ok(_)) => println!("the worker thread did not panic"),
        Err(err) => println!("could not spawn the worker: {err}"),
    }

    let delivered = sdk_core::flush(Duration::from_secs(5));
    println!("flushed: {delivered}");
    destination.print_summary("event", 4);
}
