//! End-to-end: `tracing` events as structured logs (`log` container items) through the real
//! ureq transport to the mock server, and logs dropped on a full queue counted.

use std::sync::Arc;
use std::time::Duration;

use sdk_core::transport::{MockServer, TransportOptions};
use sdk_core::{Client, ClientOptions, Hub};
use tracing_subscriber::prelude::*;

const WAIT: Duration = Duration::from_secs(10);

fn hub_for(server: &MockServer, options: ClientOptions) -> (Arc<Hub>, Arc<Client>) {
    let client = Arc::new(Client::new(options.dsn(server.dsn())));
    assert!(client.is_enabled(), "the ureq transport is available");
    (Arc::new(Hub::with_client(client.clone())), client)
}

#[test]
fn logs_arrive_as_valid_log_items_linked_to_their_transaction() {
    let server = MockServer::start();
    let (hub, client) = hub_for(
        &server,
        ClientOptions::new()
            .release("shop@3.1")
            .environment("e2e")
            .traces_sample_rate(1.0),
    );
    let subscriber =
        tracing_subscriber::registry().with(sdk_tracing::layer().enable_logs(tracing::Level::INFO));
    Hub::run(hub, || {
        tracing::subscriber::with_default(subscriber, || {
            let root = tracing::info_span!("checkout");
            let _r = root.enter();
            tracing::info!(order_id = 7u64, "order {} placed", 7);
            tracing::warn!(retries = 2i64, "payment slow");
        });
    });
    assert!(client.flush(Some(WAIT)));
    assert!(server.wait_for_items("log", 2, WAIT));
    assert!(server.wait_for_items("transaction", 1, WAIT));
    assert!(server.rejected().is_empty(), "{:?}", server.rejected());
    for item in server.raw_items("log") {
        assert_eq!(
            item.content_type.as_deref(),
            Some("application/vnd.sentry.items.log+json")
        );
        assert_eq!(item.item_count, Some(1));
    }
    let logs: Vec<serde_json::Value> = server
        .items("log")
        .into_iter()
        .flat_map(|c| c["items"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(logs.len(), 2);
    let tx = &server.transactions()[0];
    let trace = &tx["contexts"]["trace"];
    let placed = logs
        .iter()
        .find(|l| l["body"] == "order 7 placed")
        .expect("the info log arrived");
    assert_eq!(placed["level"], "info");
    assert_eq!(placed["trace_id"], trace["trace_id"]);
    assert_eq!(placed["span_id"], trace["span_id"]);
    let attrs = &placed["attributes"];
    assert_eq!(
        attrs["order_id"],
        serde_json::json!({"type": "integer", "value": 7})
    );
    assert_eq!(attrs["sentry.release"]["value"], "shop@3.1");
    assert_eq!(attrs["sentry.environment"]["value"], "e2e");
    assert_eq!(
        attrs["sentry.sdk.name"]["value"],
        sdk_core::transport::SDK_NAME
    );
    assert_eq!(attrs["code.file.path"]["value"], "tests/tests/logs.rs");
    let slow = logs
        .iter()
        .find(|l| l["body"] == "payment slow")
        .expect("the warn log arrived");
    assert_eq!(slow["level"], "warn");
    assert_eq!(slow["attributes"]["retries"]["value"], 2);
}

#[test]
fn logs_dropped_on_a_full_queue_are_counted_as_log_items() {
    let server = MockServer::start();
    server.set_hang(true);
    let (hub, client) = hub_for(
        &server,
        ClientOptions::new().transport_options(
            TransportOptions::default()
                .queue_limits(2, 1 << 20)
                .concurrency(1)
                .request_timeout(Duration::from_millis(300)),
        ),
    );
    let subscriber =
        tracing_subscriber::registry().with(sdk_tracing::layer().enable_logs(tracing::Level::INFO));
    let total = 50u64;
    Hub::run(hub, || {
        tracing::subscriber::with_default(subscriber, || {
            for n in 0..total {
                tracing::info!(n, "log {n}");
            }
        });
    });
    server.clear_faults();
    client.flush(Some(WAIT));
    // The client report rides along with what is sent next, or goes on its own at close.
    client.close(Some(WAIT));
    let dropped = server.discarded("queue_overflow", "log_item");
    assert!(dropped > 0, "the queue of 2 overflowed");
    let arrived: u64 = server
        .items("log")
        .iter()
        .map(|c| c["items"].as_array().map_or(0, Vec::len) as u64)
        .sum();
    let lost_in_flight =
        server.discarded("network_error", "log_item") + server.discarded("send_error", "log_item");
    assert_eq!(
        arrived + dropped + lost_in_flight,
        total,
        "every log arrived or was counted"
    );
}
