//! What every example shares: where its events go, and the summary it prints.
//!
//! With `SENTRY_DSN` set, events go there (the SDK reads the variable itself). Without it, the
//! example starts the in-process mock ingest server, sends there, and prints what arrived, so
//! it works on a fresh clone with no configuration. `SENTRY_DEBUG=1` shows the SDK's own
//! diagnostics.
#![forbid(unsafe_code)]

use std::time::Duration;

use sdk_core::transport::MockServer;
use sdk_core::ClientOptions;

/// Where an example sends its events: the user's `SENTRY_DSN`, or an in-process mock server.
pub struct Destination {
    mock: Option<MockServer>,
}

impl Destination {
    /// `SENTRY_DSN` when it is set and not blank; otherwise a freshly started mock server.
    pub fn from_env() -> Destination {
        let mock = match std::env::var("SENTRY_DSN") {
            Ok(dsn) if !dsn.trim().is_empty() => None,
            _ => Some(MockServer::start()),
        };
        Destination { mock }
    }

    /// Points `options` at the destination (the mock server's DSN when there is one) and turns
    /// SDK diagnostics on when `SENTRY_DEBUG` is set.
    pub fn configure(&self, options: ClientOptions) -> ClientOptions {
        let options = options.debug(std::env::var_os("SENTRY_DEBUG").is_some());
        match &self.mock {
            Some(server) => options.dsn(server.dsn()),
            None => options,
        }
    }

    /// The mock server, when the example runs without `SENTRY_DSN`.
    pub fn mock(&self) -> Option<&MockServer> {
        self.mock.as_ref()
    }

    /// With the mock server: waits (at most 5 s) until `count` items of `item_type` arrived,
    /// prints the server's summary and returns the server for more detail. Without it, does
    /// nothing and returns `None`.
    pub fn print_summary(&self, item_type: &str, count: usize) -> Option<&MockServer> {
        let server = self.mock.as_ref()?;
        if !server.wait_for_items(item_type, count, Duration::from_secs(5)) {
            println!("(still waiting for {count} {item_type} item(s) after 5 s)");
        }
        print!("{}", server.summary());
        Some(server)
    }
}
