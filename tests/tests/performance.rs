//! End-to-end: transactions, spans and linked errors through the real ureq transport to the
//! mock server.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sdk_core::transport::{Envelope, ItemType, MockServer};
use sdk_core::{Client, ClientOptions, Hub, Level, SpanStatus, TransactionContext};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

fn hub_for(server: &MockServer, options: ClientOptions) -> (Arc<Hub>, Arc<Client>) {
    let client = Arc::new(Client::new(options.dsn(server.dsn())));
    assert!(client.is_enabled(), "the ureq transport is available");
    (Arc::new(Hub::with_client(client.clone())), client)
}

fn trace_header(envelope: &Envelope) -> Value {
    let bytes = envelope
        .headers
        .trace
        .as_ref()
        .and_then(|p| p.to_vec().ok())
        .expect("a trace header");
    serde_json::from_slice(&bytes).expect("json")
}

fn envelope_with(server: &MockServer, ty: ItemType) -> Envelope {
    server
        .envelopes()
        .into_iter()
        .find(|e| e.items.iter().any(|i| i.item_type == ty))
        .expect("an envelope with that item")
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

#[test]
fn the_span_tree_timings_and_statuses_arrive_and_the_error_links_to_them() {
    let server = MockServer::start();
    let (hub, client) = hub_for(
        &server,
        ClientOptions::new()
            .release("perf-e2e@1.0")
            .traces_sample_rate(1.0),
    );
    let t0 = SystemTime::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut ids = None;
    Hub::run(hub.clone(), || {
        let tx =
            sdk_core::start_transaction(TransactionContext::new("POST /checkout", "http.server"));
        let load = tx.start_child("db.query", "SELECT * FROM carts WHERE id = ?");
        load.set_status(SpanStatus::Ok);
        load.finish_at(at(20));
        let charge = tx.start_child("payment", "charge card");
        let call = charge.start_child("http.client", "POST https://psp.example/charge");
        call.set_status(SpanStatus::DeadlineExceeded);
        call.set_data("http.response.status_code", 504);
        sdk_core::configure_scope(|s| s.set_span(Some(call.clone().into())));
        let error_id = sdk_core::capture_message("payment provider timed out", Level::Error);
        sdk_core::configure_scope(|s| s.set_span(None));
        let call_id = call.span_id();
        call.finish_at(at(80));
        charge.set_status(SpanStatus::InternalError);
        charge.finish_at(at(90));
        tx.set_status(SpanStatus::InternalError);
        tx.set_measurement("cart.items", 3.0, "none");
        ids = Some((tx.trace_id(), call_id, error_id));
        tx.finish_at(at(100));
    });
    assert!(client.flush(Some(WAIT)));
    assert!(server.wait_for_items("transaction", 1, WAIT));
    assert!(server.wait_for_items("event", 1, WAIT));
    let (trace_id, call_id, error_id) = ids.expect("ran");

    let tx = &server.transactions()[0];
    assert_eq!(tx["transaction"], "POST /checkout");
    assert_eq!(tx["release"], "perf-e2e@1.0");
    let root = &tx["contexts"]["trace"];
    assert_eq!(root["trace_id"], trace_id.to_string());
    assert_eq!(root["status"], "internal_error");
    assert_eq!(tx["measurements"]["cart.items"]["value"], 3.0);
    let start = tx["start_timestamp"].as_f64().expect("start");
    let end = tx["timestamp"].as_f64().expect("end");
    assert!((end - secs(at(100))).abs() < 0.001, "{end}");
    assert!(start <= secs(t0) + 0.001 && start >= secs(t0) - 1.0);

    let spans = tx["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 3);
    let by_op = |op: &str| spans.iter().find(|s| s["op"] == op).expect(op);
    let (load, charge, call) = (by_op("db.query"), by_op("payment"), by_op("http.client"));
    assert_eq!(load["parent_span_id"], root["span_id"]);
    assert_eq!(charge["parent_span_id"], root["span_id"]);
    assert_eq!(call["parent_span_id"], charge["span_id"]);
    assert_eq!(call["span_id"], call_id.to_string());
    assert_eq!(load["status"], "ok");
    assert_eq!(charge["status"], "internal_error");
    assert_eq!(call["status"], "deadline_exceeded");
    assert_eq!(call["data"]["http.response.status_code"], 504);
    for (span, ms) in [(load, 20), (call, 80), (charge, 90)] {
        let ts = span["timestamp"].as_f64().expect("end");
        assert!((ts - secs(at(ms))).abs() < 0.001, "{span}");
        assert!(span["start_timestamp"].as_f64().expect("start") >= start);
    }
    let tx_envelope = envelope_with(&server, ItemType::Transaction);
    let header = trace_header(&tx_envelope);
    assert_eq!(header["trace_id"], trace_id.to_string());
    assert_eq!(header["sampled"], "true");
    assert_eq!(header["release"], "perf-e2e@1.0");

    let event = &server.events()[0];
    assert_eq!(event["event_id"], error_id.simple().to_string());
    assert_eq!(event["contexts"]["trace"]["trace_id"], trace_id.to_string());
    assert_eq!(event["contexts"]["trace"]["span_id"], call_id.to_string());
    assert_eq!(event["transaction"], "POST /checkout");
    let event_header = trace_header(&envelope_with(&server, ItemType::Event));
    assert_eq!(
        event_header, header,
        "the error carries the transaction's DSC"
    );
}

#[test]
fn an_incoming_trace_is_continued_and_unsampled_transactions_are_reported() {
    let server = MockServer::start();
    let (hub, client) = hub_for(
        &server,
        ClientOptions::new().traces_sampler(|ctx| {
            if ctx.transaction_context.name() == "GET /health" {
                0.0
            } else {
                ctx.parent_sampled
                    .map_or(1.0, |p| if p { 1.0 } else { 0.0 })
            }
        }),
    );
    let incoming = [
        ("sentry-trace", "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1"),
        (
            "baggage",
            "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-public_key=upstream,sentry-sample_rate=0.5,sentry-sample_rand=0.250000,sentry-sampled=true,vendor=x",
        ),
    ];
    let mut outgoing = Vec::new();
    Hub::run(hub, || {
        let ctx = TransactionContext::continue_from_headers("GET /items", "http.server", incoming);
        let tx = sdk_core::start_transaction(ctx);
        let call = tx.start_child("http.client", "GET /inventory");
        outgoing = call.iter_headers().collect::<Vec<_>>();
        call.finish();
        tx.finish();
        for _ in 0..3 {
            let health =
                sdk_core::start_transaction(TransactionContext::new("GET /health", "http.server"));
            health.start_child("noop", "noop").finish();
            health.finish();
        }
    });
    assert!(client.flush(Some(WAIT)));
    assert!(server.wait_for_items("transaction", 1, WAIT));
    let txs = server.transactions();
    assert_eq!(txs.len(), 1, "the health checks were sampled out");
    let tx = &txs[0];
    assert_eq!(
        tx["contexts"]["trace"]["trace_id"],
        "771a43a4192642f0b136d5159a501700"
    );
    assert_eq!(
        tx["contexts"]["trace"]["parent_span_id"],
        "b0e6f15b45c36b12"
    );
    let header = trace_header(&envelope_with(&server, ItemType::Transaction));
    assert_eq!(
        header["public_key"], "upstream",
        "the incoming DSC is forwarded unchanged"
    );
    assert_eq!(header["sample_rand"], "0.250000");
    assert!(outgoing[0]
        .1
        .starts_with("771a43a4192642f0b136d5159a501700-"));
    assert!(outgoing[0].1.ends_with("-1"));
    assert!(outgoing[1].1.contains("sentry-public_key=upstream"));
    assert!(
        !outgoing[1].1.contains("vendor"),
        "third-party baggage is not forwarded"
    );
    // The client report with the sampled-out health checks arrives on a later request.
    let deadline = std::time::Instant::now() + WAIT;
    while server.discarded("sample_rate", "transaction") < 3 && std::time::Instant::now() < deadline
    {
        sdk_core::Hub::run(Arc::new(Hub::with_client(client.clone())), || {
            sdk_core::capture_message("nudge", Level::Info);
        });
        client.flush(Some(Duration::from_secs(2)));
    }
    assert_eq!(server.discarded("sample_rate", "transaction"), 3);
    assert_eq!(server.discarded("sample_rate", "span"), 6);
}

#[test]
fn tracing_spans_arrive_as_a_transaction_and_error_events_link_to_it() {
    use tracing_subscriber::prelude::*;

    let server = MockServer::start();
    let (hub, client) = hub_for(&server, ClientOptions::new().traces_sample_rate(1.0));
    let subscriber = tracing_subscriber::registry().with(sdk_tracing::layer());
    Hub::run(hub, || {
        tracing::subscriber::with_default(subscriber, || {
            let root = tracing::info_span!("request", route = "/api/items");
            let _root = root.enter();
            for i in 0..3u64 {
                let query = tracing::info_span!("query", table = "items", row_id = i);
                let _query = query.enter();
                tracing::info!(row_id = i, "row loaded");
            }
            tracing::error!(code = 17u64, "inventory out of sync");
        });
    });
    assert!(client.flush(Some(WAIT)));
    assert!(server.wait_for_items("transaction", 1, WAIT));
    assert!(server.wait_for_items("event", 1, WAIT));
    let tx = &server.transactions()[0];
    assert_eq!(tx["transaction"], "request");
    assert_eq!(tx["contexts"]["trace"]["data"]["route"], "/api/items");
    let spans = tx["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 3);
    for (i, span) in spans.iter().enumerate() {
        assert_eq!(span["description"], "query");
        assert_eq!(span["data"]["row_id"], i);
        assert_eq!(span["parent_span_id"], tx["contexts"]["trace"]["span_id"]);
    }
    let event = &server.events()[0];
    assert_eq!(event["message"], "inventory out of sync");
    assert_eq!(
        event["contexts"]["trace"]["trace_id"],
        tx["contexts"]["trace"]["trace_id"]
    );
    let crumbs = event["breadcrumbs"]["values"]
        .as_array()
        .expect("breadcrumbs");
    assert_eq!(crumbs.len(), 3);
    assert_eq!(crumbs[2]["data"]["row_id"], 2);
}
