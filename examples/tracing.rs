//! The `tracing` integration in a tokio app: `#[instrument]`ed functions become a transaction
//! with nested spans, `info!` events become breadcrumbs (and, with `enable_logs`, structured
//! logs), and an `error!` becomes an error event linked to the trace.
//!
//! `cargo run --example tracing` sends to `SENTRY_DSN` when it is set; without it, the example
//! starts the in-process mock ingest server, sends there, and prints what arrived.

use std::time::Duration;

use example_support::Destination;
use sdk_core::ClientOptions;
use tracing::{error, info, instrument};
use tracing_subscriber::prelude::*;

#[instrument]
async fn load_user(user_id: u64) -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    info!(user_id, "user loaded");
    format!("user-{user_id}")
}

#[instrument]
async fn load_order(order_id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(3)).await;
    order_id * 10
}

#[instrument(fields(orders = tracing::field::Empty))]
async fn load_orders(user: &str) -> Vec<u64> {
    // Two lookups running concurrently on the runtime keep their parent.
    let (a, b) = tokio::join!(
        tokio::spawn(tracing::Instrument::in_current_span(load_order(1))),
        tokio::spawn(tracing::Instrument::in_current_span(load_order(2))),
    );
    let orders: Vec<u64> = [a, b].into_iter().filter_map(Result::ok).collect();
    tracing::Span::current().record("orders", orders.len());
    orders
}

#[instrument(fields(route = "/users/{id}/orders"))]
async fn handle_request(user_id: u64) {
    let user = load_user(user_id).await;
    let orders = load_orders(&user).await;
    if orders.iter().sum::<u64>() > 20 {
        error!(user = %user, total = orders.iter().sum::<u64>(), "order total over the limit");
    }
}

#[tokio::main]
async fn main() {
    // SENTRY_DSN, or (without it) an in-process mock server whose summary we print at the end.
    let destination = Destination::from_env();
    let options = destination.configure(
        ClientOptions::new()
            .release(sdk_core::release_name!())
            .traces_sample_rate(1.0),
    );
    let guard = sdk_core::init(options);
    // Events at `info` and above also go out as structured logs (off by default).
    let subscriber =
        tracing_subscriber::registry().with(sdk_tracing::layer().enable_logs(tracing::Level::INFO));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("another global tracing subscriber is installed");
    }

    handle_request(42).await;

    let delivered = sdk_core::flush(Duration::from_secs(5));
    println!("flushed: {delivered}");
    drop(guard);

    if let Some(server) = destination.print_summary("transaction", 1) {
        let txs = server.transactions();
        for tx in &txs {
            println!(
                "transaction {} (trace {}):",
                tx["transaction"], tx["contexts"]["trace"]["trace_id"]
            );
            let text = |v: &_| -> String { format!("{v}") };
            // (span id, parent span id, description) of every span, in arrival order.
            let spans: Vec<(String, String, String)> = tx["spans"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        text(&s["span_id"]),
                        text(&s["parent_span_id"]),
                        s["description"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            print_children(&spans, &text(&tx["contexts"]["trace"]["span_id"]), 1);
        }
        for log in server
            .items("log")
            .iter()
            .flat_map(|c| c["items"].as_array().cloned().unwrap_or_default())
        {
            println!(
                "log [{}] {:?} in trace {}",
                log["level"].as_str().unwrap_or(""),
                log["body"].as_str().unwrap_or(""),
                log["trace_id"]
            );
        }
        for event in server.events() {
            println!(
                "error {:?} linked to trace {}",
                event["message"].as_str().unwrap_or(""),
                event["contexts"]["trace"]["trace_id"]
            );
        }
    }
}

/// Prints the spans whose parent is `parent`, each followed by its own children, indented by
/// depth (so every span appears under its real parent, whatever order the spans arrived in).
fn print_children(spans: &[(String, String, String)], parent: &str, depth: usize) {
    // Bounded depth: a malformed tree (a cycle) cannot recurse forever.
    if depth > 32 {
        return;
    }
    for (id, _, description) in spans.iter().filter(|(_, p, _)| p == parent) {
        println!("{}{description}", "  ".repeat(depth));
        print_children(spans, id, depth + 1);
    }
}
