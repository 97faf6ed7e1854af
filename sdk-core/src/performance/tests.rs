//! Transactions and spans end to end against a recording sink.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sdk_transport::{DataCategory, DiscardReason, ItemType};

use super::*;

fn sink(rate: f64) -> Arc<RecordingSink> {
    Arc::new(RecordingSink::with_sample_rate(rate))
}

/// A transaction named "t" with op "op", sending to `sink`.
fn start_tx(sink: &Arc<RecordingSink>) -> Transaction {
    Transaction::start(TransactionContext::new("t", "op"), sink.clone())
}

fn json(tx: &FinishedTransaction) -> serde_json::Value {
    tx.to_json().unwrap()
}

#[test]
fn span_tree_arrives_with_parents_ops_and_statuses() {
    let sink = sink(1.0);
    let tx = Transaction::start(
        TransactionContext::new("checkout", "http.server"),
        sink.clone(),
    );
    let a = tx.start_child("db.query", "SELECT 1");
    let b = tx.start_child("service", "charge");
    let b1 = b.start_child("http.client", "POST /charge");
    b1.set_status(SpanStatus::DeadlineExceeded);
    b1.set_data("http.status_code", 504);
    b1.set_tag("retry", "yes");
    b1.finish();
    b.set_status(SpanStatus::InternalError);
    b.finish();
    a.finish();
    tx.set_status(SpanStatus::Ok);
    tx.finish();

    let sent = sink.transactions();
    assert_eq!(sent.len(), 1);
    let v = json(&sent[0]);
    assert_eq!(v["type"], "transaction");
    assert_eq!(v["transaction"], "checkout");
    assert_eq!(v["transaction_info"]["source"], "custom");
    let trace = &v["contexts"]["trace"];
    assert_eq!(trace["op"], "http.server");
    assert_eq!(trace["status"], "ok");
    let root = trace["span_id"].as_str().unwrap();
    let spans = v["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    let by_op = |op: &str| spans.iter().find(|s| s["op"] == op).unwrap();
    assert_eq!(by_op("db.query")["parent_span_id"], root);
    assert_eq!(by_op("service")["parent_span_id"], root);
    assert_eq!(by_op("service")["status"], "internal_error");
    let client = by_op("http.client");
    assert_eq!(client["parent_span_id"], by_op("service")["span_id"]);
    assert_eq!(client["status"], "deadline_exceeded");
    assert_eq!(client["data"]["http.status_code"], 504);
    assert_eq!(client["tags"]["retry"], "yes");
    assert_eq!(client["description"], "POST /charge");
    for span in spans {
        assert_eq!(span["trace_id"], trace["trace_id"]);
        assert!(span["start_timestamp"].as_f64() <= span["timestamp"].as_f64());
        assert!(span["start_timestamp"].as_f64() >= v["start_timestamp"].as_f64());
        assert!(span["timestamp"].as_f64() <= v["timestamp"].as_f64());
    }
}

#[test]
fn explicit_times_are_kept() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let start = sink.transactions().len(); // 0; keeps the borrow checker honest below
    assert_eq!(start, 0);
    let span = tx.start_child("work", "step");
    let end = SystemTime::now() + Duration::from_millis(250);
    span.finish_at(end);
    tx.finish_at(end + Duration::from_millis(50));
    let sent = &sink.transactions()[0];
    let span = &sent.spans[0];
    let ms = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    assert_eq!(ms(span.timestamp), ms(end));
    assert_eq!(ms(sent.timestamp), ms(end) + 50);
}

#[test]
fn spans_over_max_spans_are_dropped_and_counted() {
    let config = TracingConfig {
        sampling: SamplingOptions::with_rate(1.0),
        max_spans: 5,
        ..Default::default()
    };
    let sink = Arc::new(RecordingSink::new(config));
    let tx = start_tx(&sink);
    for _ in 0..8 {
        tx.start_child("s", "d").finish();
    }
    tx.finish();
    assert_eq!(sink.transactions()[0].spans.len(), 5);
    assert_eq!(
        sink.discarded(DiscardReason::BufferOverflow, DataCategory::Span),
        3
    );
}

#[test]
fn spans_finished_after_their_transaction_are_not_sent() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let early = tx.start_child("s", "early");
    let late = tx.start_child("s", "late");
    early.finish();
    let weak_probe = tx.clone();
    tx.finish();
    late.finish();
    assert_eq!(sink.transactions()[0].spans.len(), 1);
    assert_eq!(
        sink.transactions()[0].spans[0].description.as_deref(),
        Some("early")
    );
    // The transaction's shared state holds no spans once finished: nothing leaks.
    assert_eq!(weak_probe.pending_spans(), 0);
}

#[test]
fn unsampled_transactions_record_nothing_and_count_their_spans() {
    let sink = sink(0.0);
    let tx = start_tx(&sink);
    assert!(!tx.is_sampled());
    let span = tx.start_child("s", "d");
    assert!(!span.is_recording());
    let child = span.start_child("s", "d");
    assert_eq!(child.trace_id(), tx.trace_id());
    assert_eq!(child.sentry_trace().sampled, Some(false));
    child.finish();
    span.finish();
    tx.finish();
    assert!(sink.transactions().is_empty());
    assert_eq!(
        sink.discarded(DiscardReason::SampleRate, DataCategory::Transaction),
        1
    );
    assert_eq!(
        sink.discarded(DiscardReason::SampleRate, DataCategory::Span),
        3
    );
}

#[test]
fn with_tracing_off_nothing_is_sent_or_counted_but_the_trace_propagates() {
    let sink = Arc::new(RecordingSink::new(TracingConfig::default()));
    let tx = start_tx(&sink);
    let headers: Vec<_> = tx.iter_headers().collect();
    assert_eq!(headers[0].1, format!("{}-{}", tx.trace_id(), tx.span_id()));
    assert!(!headers[1].1.contains("sentry-sampled"), "{}", headers[1].1);
    tx.finish();
    assert!(sink.transactions().is_empty());
    assert!(sink.discards().is_empty());
}

#[test]
fn continued_trace_keeps_ids_and_forwards_the_incoming_dsc() {
    let sink = sink(0.0);
    let ctx = TransactionContext::continue_from_headers(
        "GET /",
        "http.server",
        [
            (
                "sentry-trace",
                "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
            ),
            (
                "baggage",
                "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-sample_rate=0.5,sentry-sampled=true,sentry-public_key=upstream",
            ),
        ],
    );
    let tx = Transaction::start(ctx, sink.clone());
    assert!(
        tx.is_sampled(),
        "the parent's decision wins over our rate of 0"
    );
    tx.finish();
    let sent = &sink.transactions()[0];
    let v = json(sent);
    assert_eq!(v["contexts"]["trace"]["parent_span_id"], "b0e6f15b45c36b12");
    assert_eq!(sent.dsc().public_key.as_deref(), Some("upstream"));
    let envelope = sent.clone().into_envelope();
    let text = String::from_utf8(envelope.to_vec().unwrap()).unwrap();
    let header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["trace"]["public_key"], "upstream");
    assert_eq!(header["trace"]["sample_rate"], "0.5");
    assert_eq!(header["event_id"], v["event_id"]);
}

#[test]
fn strict_continuation_refuses_a_foreign_org() {
    let config = TracingConfig {
        sampling: SamplingOptions::with_rate(1.0),
        org_id: Some("1".into()),
        strict_trace_continuation: true,
        ..Default::default()
    };
    let sink = Arc::new(RecordingSink::new(config));
    let headers = [
        (
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-0",
        ),
        ("baggage", "sentry-org_id=2"),
    ];
    let tx = Transaction::start(
        TransactionContext::continue_from_headers("t", "op", headers),
        sink.clone(),
    );
    assert_ne!(
        tx.trace_id().to_string(),
        "771a43a4192642f0b136d5159a501700"
    );
    assert!(
        tx.is_sampled(),
        "the foreign decision (0) was not inherited"
    );
    let same_org = [headers[0], ("baggage", "sentry-org_id=1")];
    let tx2 = Transaction::start(
        TransactionContext::continue_from_headers("t", "op", same_org),
        sink.clone(),
    );
    assert_eq!(
        tx2.trace_id().to_string(),
        "771a43a4192642f0b136d5159a501700"
    );
    let no_org = [headers[0]];
    let tx3 = Transaction::start(
        TransactionContext::continue_from_headers("t", "op", no_org),
        sink,
    );
    assert_ne!(
        tx3.trace_id().to_string(),
        "771a43a4192642f0b136d5159a501700"
    );
}

#[test]
fn head_dsc_is_frozen_at_first_use() {
    let config = TracingConfig {
        sampling: SamplingOptions::with_rate(1.0),
        public_key: Some("pk".into()),
        release: Some("app@1.0".into()),
        environment: Some("prod".into()),
        ..Default::default()
    };
    let sink = Arc::new(RecordingSink::new(config));
    let tx = Transaction::start(TransactionContext::new("first", "op"), sink.clone());
    let headers: Vec<_> = tx.iter_headers().collect();
    assert!(headers[0].1.ends_with("-1"));
    let baggage = &headers[1].1;
    assert!(baggage.contains("sentry-transaction=first"), "{baggage}");
    assert!(baggage.contains("sentry-release=app%401.0"), "{baggage}");
    assert!(baggage.contains("sentry-sampled=true"), "{baggage}");
    tx.set_name("renamed");
    tx.finish();
    let sent = &sink.transactions()[0];
    assert_eq!(sent.name, "renamed");
    assert_eq!(sent.dsc().transaction.as_deref(), Some("first"));
    let v = json(sent);
    assert_eq!(v["release"], "app@1.0");
    assert_eq!(v["environment"], "prod");
}

#[test]
fn url_names_stay_out_of_the_dsc() {
    let sink = sink(1.0);
    let ctx =
        TransactionContext::new("/users/123", "http.server").with_source(TransactionSource::Url);
    let tx = Transaction::start(ctx, sink.clone());
    tx.finish();
    let sent = &sink.transactions()[0];
    assert_eq!(sent.dsc().transaction, None);
    assert_eq!(json(sent)["transaction_info"]["source"], "url");
}

#[test]
fn measurements_tags_data_and_extra_fields_are_written() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    tx.set_measurement("memory", 1024.0, "byte");
    tx.set_tag("region", "eu");
    tx.set_data("thread", "main");
    tx.finish();
    let mut sent = (*sink.transactions()[0]).clone();
    sent.extra
        .insert("server_name".into(), serde_json::json!("host-1"));
    sent.extra.insert(
        "contexts".into(),
        serde_json::json!({"os": {"name": "Linux"}, "trace": {"bogus": 1}}),
    );
    sent.extra.insert("type".into(), serde_json::json!("event"));
    let v = json(&sent);
    assert_eq!(v["measurements"]["memory"]["value"], 1024.0);
    assert_eq!(v["measurements"]["memory"]["unit"], "byte");
    assert_eq!(v["tags"]["region"], "eu");
    assert_eq!(v["contexts"]["trace"]["data"]["thread"], "main");
    assert_eq!(v["contexts"]["os"]["name"], "Linux");
    assert_eq!(v["contexts"]["trace"]["type"], "trace");
    assert_eq!(v["server_name"], "host-1");
    assert_eq!(v["type"], "transaction");
    assert_eq!(v["platform"], "native");
    assert_eq!(v["sdk"]["name"], sdk_transport::SDK_NAME);
}

#[test]
fn envelope_has_one_transaction_item_with_its_span_count() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    for _ in 0..10 {
        tx.start_child("db.query", "SELECT").finish();
    }
    tx.finish();
    let envelope = sink.transactions()[0].clone().into_envelope();
    assert_eq!(envelope.items.len(), 1);
    assert_eq!(envelope.items[0].item_type, ItemType::Transaction);
    assert_eq!(envelope.items[0].span_count, 10);
    let text = String::from_utf8(envelope.to_vec().unwrap()).unwrap();
    assert!(!text.contains("span_count"), "span_count is Relay-internal");
    let lines: Vec<&str> = text.lines().collect();
    let item_header: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(item_header["length"], lines[2].len());
    let body: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(body["spans"].as_array().unwrap().len(), 10);
}

#[test]
fn finishing_twice_sends_once_and_setters_after_finish_are_ignored() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let clone = tx.clone();
    tx.finish();
    clone.set_tag("late", "1");
    clone.finish();
    assert_eq!(sink.transactions().len(), 1);
    assert!(sink.transactions()[0].tags.is_empty());
}

#[test]
fn transaction_or_span_binds_either() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let bound: TransactionOrSpan = tx.clone().into();
    let span = bound.start_child("a", "b");
    let bound_span: TransactionOrSpan = span.clone().into();
    assert_eq!(bound_span.trace_id(), tx.trace_id());
    let ctx = bound_span.trace_context();
    assert_eq!(ctx.span_id, span.span_id());
    assert_eq!(ctx.parent_span_id, Some(tx.span_id()));
    assert_eq!(ctx.op.as_deref(), Some("a"));
    let follow = TransactionContext::continue_from_span("next", "task", &bound_span);
    assert_eq!(follow.trace_id(), tx.trace_id());
    assert_eq!(follow.parent_span_id(), Some(span.span_id()));
    bound_span.finish();
    bound.finish();
    assert_eq!(sink.transactions()[0].spans.len(), 1);
}

#[test]
fn code_locations_are_written_into_data_without_overriding_fields() {
    static HERE: CodeLocation = CodeLocation {
        file: Some("src/db.rs"),
        line: Some(42),
        module: Some("app::db"),
        target: Some("app::db"),
    };
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    tx.set_code_location(&HERE);
    let span = tx.start_child("db.query", "SELECT");
    span.set_code_location(&HERE);
    span.set_data("code.line.number", 7);
    span.finish();
    tx.finish();
    let v = json(&sink.transactions()[0]);
    let data = &v["spans"][0]["data"];
    assert_eq!(data["code.file.path"], "src/db.rs");
    assert_eq!(data["code.module.name"], "app::db");
    assert_eq!(data["sentry.tracing.target"], "app::db");
    assert_eq!(data["code.line.number"], 7, "recorded data wins");
    assert_eq!(v["contexts"]["trace"]["data"]["code.line.number"], 42);
}

#[test]
fn absurd_explicit_times_do_not_panic_and_keep_start_before_end() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let span = tx.start_child("a", "b");
    span.finish_at(SystemTime::UNIX_EPOCH);
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(400 * 365 * 86_400);
    tx.finish_at(far);
    let sent = &sink.transactions()[0];
    assert!(sent.start_timestamp <= sent.timestamp);
    assert!(sent.spans[0].start_timestamp <= sent.spans[0].timestamp);
}

#[test]
fn span_records_expose_and_edit_their_tags_and_data() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let plain = tx.start_child("plain", "p");
    plain.finish();
    let rich = tx.start_child("rich", "r");
    rich.set_tag("k", "v");
    rich.set_data("n", 1);
    rich.finish();
    tx.finish();
    let mut sent = (*sink.transactions()[0]).clone();
    assert!(sent.spans[0].tags().is_empty() && sent.spans[0].data().is_empty());
    assert_eq!(sent.spans[1].tags()["k"], "v");
    assert_eq!(sent.spans[1].data()["n"], 1);
    sent.spans[0].data_mut().insert("added", "later");
    sent.spans[1].tags_mut().remove("k");
    let v = json(&sent);
    assert_eq!(v["spans"][0]["data"]["added"], "later");
    assert!(v["spans"][1].get("tags").is_none());
}

#[test]
fn spans_left_open_do_not_leak_into_the_next_transaction_on_the_thread() {
    let sink = sink(1.0);
    let first = Transaction::start(TransactionContext::new("first", "op"), sink.clone());
    let left_open = first.start_child("s", "left open");
    first.start_child("s", "done").finish();
    first.finish();
    let second = Transaction::start(TransactionContext::new("second", "op"), sink.clone());
    let a = second.start_child("s", "a");
    let b = second.start_child("s", "b");
    b.set_status(SpanStatus::Ok);
    // Finishing the first transaction's stale span must not touch the second's spans.
    left_open.set_status(SpanStatus::InternalError);
    left_open.finish();
    b.finish();
    a.finish();
    second.finish();
    let sent = sink.transactions();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].spans.len(), 1);
    let descriptions: Vec<_> = sent[1]
        .spans
        .iter()
        .map(|s| s.description.as_deref())
        .collect();
    assert_eq!(descriptions, [Some("b"), Some("a")]);
    assert_eq!(sent[1].spans[0].status, Some(SpanStatus::Ok));
    assert_eq!(sent[1].spans[1].status, None);
}

#[test]
fn spans_arrive_in_finish_order_and_open_ones_are_left_out() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let first = tx.start_child("s", "first started");
    let open = tx.start_child("s", "never finished");
    let third = tx.start_child("s", "third started");
    third.set_data("rows", 3);
    third.finish();
    first.set_status(SpanStatus::Ok);
    first.finish();
    open.set_description("renamed but still open");
    tx.finish();
    let sent = &sink.transactions()[0];
    let descriptions: Vec<_> = sent
        .spans
        .iter()
        .map(|s| s.description.as_deref())
        .collect();
    assert_eq!(descriptions, [Some("third started"), Some("first started")]);
    assert_eq!(sent.spans[0].data()["rows"], 3);
    assert_eq!(sent.spans[1].status, Some(SpanStatus::Ok));
    assert!(sent.spans[1].data().is_empty());
    for span in &sent.spans {
        assert!(span.timestamp >= span.start_timestamp);
    }
    // The open span's handle finishing later changes nothing that was sent.
    open.finish();
    assert_eq!(sink.transactions()[0].spans.len(), 2);
}

#[test]
fn the_envelope_trace_header_is_the_dsc_frozen_when_it_is_written() {
    let sink = sink(1.0);
    let tx = Transaction::start(TransactionContext::new("checkout", "op"), sink.clone());
    tx.start_child("s", "d").finish();
    tx.finish();
    let sent = sink.transactions()[0].clone();
    let envelope = sent.clone().into_envelope();
    let bytes = envelope.to_vec().expect("the envelope serialises");
    let header_line = bytes.split(|b| *b == b'\n').next().expect("a header line");
    let header: serde_json::Value = serde_json::from_slice(header_line).expect("header JSON");
    let trace = &header["trace"];
    assert_eq!(trace["trace_id"], sent.trace_id.to_string());
    assert_eq!(trace["transaction"], "checkout");
    assert_eq!(trace["sampled"], "true");
    assert_eq!(trace["sample_rate"], "1");
    // Frozen by the write: the transaction's own view is the same DSC.
    let dsc = sent.dsc();
    assert_eq!(dsc.transaction.as_deref(), Some("checkout"));
    assert_eq!(
        trace["sample_rand"],
        dsc.sample_rand.clone().expect("sample_rand")
    );
}

#[test]
fn code_location_and_data_given_at_the_start_arrive() {
    static CODE: CodeLocation = CodeLocation {
        file: Some("src/jobs.rs"),
        line: Some(7),
        module: Some("app::jobs"),
        target: Some("app"),
    };
    let sink = sink(1.0);
    let root: SpanData = [("route", "/items")].into_iter().collect();
    let tx = Transaction::start(
        TransactionContext::new("t", "op")
            .with_code_location(&CODE)
            .with_data(root),
        sink.clone(),
    );
    let child: SpanData = [("rows", 3)].into_iter().collect();
    let span = tx.start_child_with("db.query", "SELECT 1", Some(&CODE), child);
    span.set_data("cached", false);
    span.finish();
    tx.start_child_with("plain", "no data", None, SpanData::new())
        .finish();
    tx.finish();
    let sent = &sink.transactions()[0];
    assert_eq!(sent.data["route"], "/items");
    assert_eq!(sent.code, Some(&CODE));
    assert_eq!(sent.spans[0].data()["rows"], 3);
    assert_eq!(sent.spans[0].data()["cached"], false);
    assert_eq!(sent.spans[0].code, Some(&CODE));
    assert!(sent.spans[1].data().is_empty() && sent.spans[1].code.is_none());
    let json = sent.to_json().expect("serialises");
    assert_eq!(json["contexts"]["trace"]["data"]["code.line.number"], 7);
    assert_eq!(json["spans"][0]["data"]["code.file.path"], "src/jobs.rs");
}

#[test]
fn a_span_neither_cloned_nor_changed_reaches_its_transaction_only_when_it_finishes() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let span = tx.start_child("db.query", "SELECT 1");
    assert!(span.is_recording());
    // The handle holds the start data: the transaction has no record of the span yet.
    assert_eq!(tx.pending_spans(), 0);
    assert_eq!(span.trace_context().op.as_deref(), Some("db.query"));
    assert_eq!(span.status(), None);
    assert_eq!(tx.pending_spans(), 0, "reading it moves nothing");
    span.finish();
    assert_eq!(tx.pending_spans(), 1);
    tx.finish();
    let sent = &sink.transactions()[0];
    assert_eq!(sent.spans.len(), 1);
    assert_eq!(sent.spans[0].op, "db.query");
    assert_eq!(sent.spans[0].description.as_deref(), Some("SELECT 1"));
    assert!(sent.spans[0].start_timestamp >= sent.start_timestamp);
    assert!(sent.spans[0].timestamp >= sent.spans[0].start_timestamp);
}

#[test]
fn cloning_or_changing_a_span_moves_its_record_into_the_transaction_once() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let cloned = tx.start_child("s", "cloned");
    let other = cloned.clone();
    assert_eq!(tx.pending_spans(), 1, "the clone shares one record");
    let third = other.clone();
    assert_eq!(tx.pending_spans(), 1, "cloning again adds no record");
    let changed = tx.start_child("s", "changed");
    changed.set_tag("k", "v");
    changed.set_status(SpanStatus::Ok);
    assert_eq!(tx.pending_spans(), 2);
    assert_eq!(changed.status(), Some(SpanStatus::Ok));
    third.set_status(SpanStatus::Cancelled);
    assert_eq!(
        cloned.status(),
        Some(SpanStatus::Cancelled),
        "handles share it"
    );
    // Finishing every handle of a span sends it once.
    other.finish();
    cloned.finish();
    third.finish();
    changed.finish();
    tx.finish();
    let sent = &sink.transactions()[0];
    let descriptions: Vec<_> = sent
        .spans
        .iter()
        .map(|s| s.description.as_deref())
        .collect();
    assert_eq!(descriptions, [Some("cloned"), Some("changed")]);
    assert_eq!(sent.spans[0].status, Some(SpanStatus::Cancelled));
    assert_eq!(sent.spans[1].tags()["k"], "v");
    assert_eq!(sent.spans[1].status, Some(SpanStatus::Ok));
}

#[test]
fn spans_in_and_out_of_their_handles_arrive_in_finish_order() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let shared = tx.start_child("s", "shared first");
    let bound = shared.clone();
    let plain = tx.start_child("s", "plain second");
    let data: SpanData = [("rows", 1)].into_iter().collect();
    let with_data = tx.start_child_with("s", "data third", None, data);
    // Finished in the order third, second, first.
    with_data.finish();
    plain.finish();
    bound.finish();
    drop(shared);
    tx.finish();
    let sent = &sink.transactions()[0];
    let descriptions: Vec<_> = sent
        .spans
        .iter()
        .map(|s| s.description.as_deref())
        .collect();
    assert_eq!(
        descriptions,
        [
            Some("data third"),
            Some("plain second"),
            Some("shared first")
        ]
    );
}

#[test]
fn max_spans_counts_spans_when_they_are_recorded_and_each_excess_span_once() {
    let config = TracingConfig {
        sampling: SamplingOptions::with_rate(1.0),
        max_spans: 3,
        ..Default::default()
    };
    let sink = Arc::new(RecordingSink::new(config));
    let tx = start_tx(&sink);
    // All open at once, finished later (last started first): the first three to be
    // recorded, at their finish, are kept.
    let spans: Vec<_> = ["0", "1", "2", "3", "4"]
        .into_iter()
        .map(|d| tx.start_child("s", d))
        .collect();
    assert_eq!(tx.pending_spans(), 0);
    for span in spans.into_iter().rev() {
        span.finish();
    }
    // An excess span that is cloned and changed is counted once, when it is first shared.
    let excess = tx.start_child("s", "excess");
    let clone = excess.clone();
    assert!(!excess.is_recording() && !clone.is_recording());
    clone.set_status(SpanStatus::Ok);
    clone.finish();
    excess.finish();
    tx.finish();
    let sent = &sink.transactions()[0];
    let descriptions: Vec<_> = sent
        .spans
        .iter()
        .map(|s| s.description.as_deref())
        .collect();
    assert_eq!(descriptions, [Some("4"), Some("3"), Some("2")]);
    assert_eq!(
        sink.discarded(DiscardReason::BufferOverflow, DataCategory::Span),
        3
    );
}

#[test]
fn a_span_cloned_on_another_thread_is_sent_once() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let span = tx.start_child("s", "threads");
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let span = &span;
            scope.spawn(move || {
                let clone = span.clone();
                clone.set_data("seen", true);
                clone.finish();
            });
        }
    });
    span.finish();
    tx.finish();
    let sent = &sink.transactions()[0];
    assert_eq!(sent.spans.len(), 1);
    assert_eq!(sent.spans[0].data()["seen"], true);
}

#[test]
fn spans_started_and_finished_in_turn_reuse_one_reference_on_their_transaction() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let weak = Arc::downgrade(&tx.shared);
    tx.start_child("s", "first").finish();
    // The finished span's reference is kept by the thread for the next span...
    assert_eq!(span::kept_tx_handles(&tx.shared), 1);
    assert_eq!(Arc::strong_count(&tx.shared), 2);
    let second = tx.start_child("s", "second");
    // ...which takes it: no new reference.
    assert_eq!(span::kept_tx_handles(&tx.shared), 0);
    assert_eq!(Arc::strong_count(&tx.shared), 2);
    second.finish();
    // Another transaction's span finishing on this thread releases the kept reference.
    let other = Transaction::start(TransactionContext::new("other", "op"), sink.clone());
    other.start_child("s", "other").finish();
    assert_eq!(span::kept_tx_handles(&tx.shared), 0);
    assert_eq!(Arc::strong_count(&tx.shared), 1);
    tx.start_child("s", "third").finish();
    // Finishing the transaction releases what the thread kept: only the finished transaction
    // (held by the sink until it is delivered) refers to its state.
    tx.finish();
    other.finish();
    assert_eq!(sink.transactions()[0].spans.len(), 3);
    assert_eq!(weak.strong_count(), 1);
}

#[test]
fn a_span_record_is_small_enough_to_be_copied_inline() {
    // Within 128 bytes, a record moves with inline vector stores, not a `memcpy` call (it is
    // moved once per span, into its transaction).
    assert!(
        std::mem::size_of::<SpanRecord>() <= 128,
        "{}",
        std::mem::size_of::<SpanRecord>()
    );
}

#[test]
fn span_origins_arrive_and_default_to_manual() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let auto = tx.start_child("db.query", "SELECT 1");
    auto.set_origin("auto.db.sqlx");
    auto.finish();
    tx.start_child("s", "plain").finish();
    tx.finish();
    let mut sent = (*sink.transactions()[0]).clone();
    assert_eq!(sent.spans[0].origin(), Some("auto.db.sqlx"));
    assert_eq!(sent.spans[1].origin(), None);
    let v = json(&sent);
    assert_eq!(v["spans"][0]["origin"], "auto.db.sqlx");
    assert_eq!(v["spans"][1]["origin"], "manual");
    // Editable like the other parts (e.g. in `before_send_transaction`).
    sent.spans[0].set_origin(None);
    sent.spans[1].set_origin(Some("auto.test".into()));
    let v = json(&sent);
    assert_eq!(v["spans"][0]["origin"], "manual");
    assert_eq!(v["spans"][1]["origin"], "auto.test");
}

#[test]
fn a_span_started_with_a_code_location_or_data_is_in_its_transaction_from_the_start() {
    static CODE: CodeLocation = CodeLocation {
        file: Some("src/lib.rs"),
        line: Some(1),
        module: None,
        target: None,
    };
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let with_code = tx.start_child_with("s", "code", Some(&CODE), SpanData::new());
    assert_eq!(tx.pending_spans(), 1);
    let data: SpanData = [("rows", 1)].into_iter().collect();
    let with_data = tx.start_child_with("s", "data", None, data);
    assert_eq!(tx.pending_spans(), 2);
    // Cloning them (as instrumentation does at once) adds nothing.
    let clones = (with_code.clone(), with_data.clone());
    assert_eq!(tx.pending_spans(), 2);
    drop(clones);
    with_code.finish();
    with_data.finish();
    tx.finish();
    let sent = &sink.transactions()[0];
    assert_eq!(sent.spans[0].code, Some(&CODE));
    assert_eq!(sent.spans[1].data()["rows"], 1);
}

#[test]
fn a_span_named_at_run_time_is_in_its_transaction_from_the_start_and_arrives() {
    let sink = sink(1.0);
    let tx = start_tx(&sink);
    let owned = tx.start_child("db.query", format!("SELECT {}", 1));
    assert_eq!(tx.pending_spans(), 1);
    let static_op_owned = tx.start_child(String::from("cache.get"), "key");
    assert_eq!(tx.pending_spans(), 2);
    static_op_owned.finish();
    owned.finish();
    tx.finish();
    let sent = &sink.transactions()[0];
    let names: Vec<_> = sent
        .spans
        .iter()
        .map(|s| (s.op.as_ref(), s.description.as_deref()))
        .collect();
    assert_eq!(
        names,
        [("cache.get", Some("key")), ("db.query", Some("SELECT 1"))]
    );
}

#[test]
fn a_span_handle_stays_small() {
    // Handles are moved around by instrumentation (`TransactionOrSpan` in `tracing`
    // extensions and the entered-span stack): the start data a handle holds is kept to the
    // op, description and start offset.
    assert!(
        std::mem::size_of::<Span>() <= 88,
        "{}",
        std::mem::size_of::<Span>()
    );
    assert!(
        std::mem::size_of::<TransactionOrSpan>() <= 88,
        "{}",
        std::mem::size_of::<TransactionOrSpan>()
    );
}
