//! Quickstart: initialise the SDK, describe the user and the request on the scope, leave a
//! breadcrumb, send a message and an error chain.
//!
//! `cargo run --example quickstart` sends to `SENTRY_DSN` when it is set; without it, the example
//! starts the in-process mock ingest server, sends there, and prints what arrived.

use std::fmt;
use std::time::Duration;

use example_support::Destination;
use sdk_core::{Breadcrumb, ClientOptions, Level, User};

/// A low-level failure.
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

/// The error the application reports, caused by a [`ConnectionError`].
#[derive(Debug)]
struct CheckoutError {
    source: ConnectionError,
}

impl fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("checkout failed")
    }
}

impl std::error::Error for CheckoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn main() {
    // SENTRY_DSN, or (without it) an in-process mock server whose summary we print at the end.
    let destination = Destination::from_env();
    let options = destination.configure(ClientOptions::new().release(sdk_core::release_name!()));
    let guard = sdk_core::init(options);
    if !guard.is_enabled() {
        eprintln!("the SDK is disabled (check SENTRY_DSN)");
    }

    sdk_core::configure_scope(|scope| {
        scope.set_user(Some(User {
            id: Some("42".into()),
            email: Some("jane@example.com".into()),
            ..Default::default()
        }));
        scope.set_tag("tenant", "acme");
        scope.set_tag("plan", "pro");
    });
    sdk_core::add_breadcrumb(
        Breadcrumb::new("user clicked the checkout button")
            .with_category("ui.click")
            .with_data("cart_items", 3),
    );

    let id = sdk_core::capture_message("quickstart: hello from the SDK", Level::Info);
    println!("sent message {id}");
    let error = CheckoutError {
        source: ConnectionError { os_code: 104 },
    };
    let id = sdk_core::capture_error(&error);
    println!("sent error {id}");

    // The guard flushes on drop; flushing explicitly lets us print the result first.
    let delivered = sdk_core::flush(Duration::from_secs(5));
    println!("flushed: {delivered}");
    drop(guard);

    destination.print_summary("event", 2);
}
