//! Performance monitoring: a checkout transaction with spans two levels deep, a measurement,
//! and an error captured inside a span (linked to the trace).
//!
//! `cargo run --example performance` sends to `SENTRY_DSN` when it is set; without it, the
//! example starts the in-process mock ingest server, sends there, and prints what arrived.

use std::thread::sleep;
use std::time::Duration;

use example_support::Destination;
use sdk_core::{ClientOptions, Level, SpanStatus, TransactionContext, TransactionOrSpan};

/// Runs `f` with `span` bound to the scope, so errors captured inside carry its trace.
fn in_span<R>(span: &sdk_core::Span, f: impl FnOnce() -> R) -> R {
    let previous = sdk_core::configure_scope(|scope| {
        let previous = scope.get_span().cloned();
        scope.set_span(Some(span.clone().into()));
        previous
    });
    let result = f();
    sdk_core::configure_scope(|scope| scope.set_span(previous));
    result
}

fn main() {
    // SENTRY_DSN, or (without it) an in-process mock server whose summary we print at the end.
    let destination = Destination::from_env();
    let options = destination.configure(
        ClientOptions::new()
            .release(sdk_core::release_name!())
            .traces_sample_rate(1.0),
    );
    let guard = sdk_core::init(options);

    let tx = sdk_core::start_transaction(
        TransactionContext::new("POST /checkout", "http.server")
            .with_source(sdk_core::performance::TransactionSource::Route),
    );
    sdk_core::configure_scope(|scope| scope.set_span(Some(TransactionOrSpan::from(tx.clone()))));

    // Level 1: validate the cart, with two lookups under it (level 2).
    let validate = tx.start_child("function", "validate cart");
    let load = validate.start_child("db.query", "SELECT * FROM carts WHERE id = $1");
    load.set_data("db.system", "postgresql");
    sleep(Duration::from_millis(8));
    load.set_status(SpanStatus::Ok);
    load.finish();
    let prices = validate.start_child("cache.get", "prices:cart:42");
    prices.set_data("cache.hit", true);
    sleep(Duration::from_millis(2));
    prices.finish();
    validate.finish();

    // Level 1: charge the card; the provider call under it times out and is reported.
    let charge = tx.start_child("function", "charge card");
    let call = charge.start_child("http.client", "POST https://psp.example/charge");
    sleep(Duration::from_millis(15));
    call.set_status(SpanStatus::DeadlineExceeded);
    call.set_data("http.response.status_code", 504);
    let error_id = in_span(&call, || {
        sdk_core::capture_message("payment provider timed out", Level::Error)
    });
    call.finish();
    charge.set_status(SpanStatus::InternalError);
    charge.finish();

    let render = tx.start_child("template.render", "checkout_failed.html");
    sleep(Duration::from_millis(3));
    render.finish();

    tx.set_measurement("cart.items", 3.0, "none");
    tx.set_status(SpanStatus::InternalError);
    let trace_id = tx.trace_id();
    sdk_core::configure_scope(|scope| scope.set_span(None));
    tx.finish();
    println!("trace {trace_id}: transaction with 6 spans, error {error_id}");

    let delivered = sdk_core::flush(Duration::from_secs(5));
    println!("flushed: {delivered}");
    drop(guard);

    if let Some(server) = destination.print_summary("transaction", 1) {
        for tx in server.transactions() {
            println!(
                "transaction {} ({} spans, trace {})",
                tx["transaction"],
                tx["spans"].as_array().map_or(0, Vec::len),
                tx["contexts"]["trace"]["trace_id"]
            );
            for span in tx["spans"].as_array().into_iter().flatten() {
                let ms = (span["timestamp"].as_f64().unwrap_or(0.0)
                    - span["start_timestamp"].as_f64().unwrap_or(0.0))
                    * 1000.0;
                println!(
                    "  {:<16} {:<40} {:>6.1} ms {}",
                    span["op"].as_str().unwrap_or(""),
                    span["description"].as_str().unwrap_or(""),
                    ms,
                    span["status"].as_str().unwrap_or("")
                );
            }
        }
        for event in server.events() {
            println!(
                "error {:?} in trace {}",
                event["message"].as_str().unwrap_or(""),
                event["contexts"]["trace"]["trace_id"]
            );
        }
    }
}
