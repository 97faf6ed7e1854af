//! Whole-event tests: round trips, omitted fields, and the shape of real sample envelopes.

use std::collections::BTreeSet;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};

use super::*;

/// The event payload (third line) of a sample envelope sent by sentry 0.49.5
/// (`/work/shared/bench-samples/*.envelope`, copied into `testdata/`).
fn sample_event(name: &str) -> Value {
    let text = match name {
        "capture_message" => include_str!("testdata/capture_message.json"),
        "capture_error" => include_str!("testdata/capture_error.json"),
        "message_with_scope_and_breadcrumbs" => {
            include_str!("testdata/message_with_scope_and_breadcrumbs.json")
        }
        "transaction" => include_str!("testdata/transaction.json"),
        other => panic!("no sample named {other}"),
    };
    serde_json::from_str(text).expect("sample is valid JSON")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn a_bare_event_has_only_required_fields() {
    let event = Event {
        timestamp: UNIX_EPOCH + Duration::from_millis(1_500),
        event_id: "53541d09d0e2455d8b08edf5b2b9b404".parse().unwrap(),
        ..Event::new()
    };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(
        json,
        json!({
            "event_id": "53541d09d0e2455d8b08edf5b2b9b404",
            "level": "error",
            "platform": "native",
            "timestamp": 1.5
        })
    );
    assert!(!serde_json::to_string(&event).unwrap().contains("null"));
}

#[test]
fn full_event_round_trips() {
    let mut event = Event {
        level: Level::Warning,
        message: Some("peer-bench message".into()),
        logger: Some("app::db".into()),
        transaction: Some("GET /api/items".into()),
        server_name: Some("vm".into()),
        release: Some("peer-bench@0.1.0".into()),
        dist: Some("x86".into()),
        environment: Some("production".into()),
        user: Some(User {
            id: Some("42".into()),
            email: Some("user@example.com".into()),
            ip_address: Some(IpAddress::Auto),
            ..User::default()
        }),
        request: Some(Request {
            url: Some("https://example.com/api".into()),
            method: Some("GET".into()),
            ..Request::default()
        }),
        fingerprint: vec!["{{ default }}".into(), "db-timeout".into()],
        sdk: Some(SdkInfo::current(vec!["panic".into()])),
        ..Event::new()
    };
    event.tags.insert("tenant".into(), "acme".into());
    event.extra.insert("attempt".into(), json!(3));
    event.modules.insert("serde".into(), "1.0.0".into());
    event.breadcrumbs.push(
        Breadcrumb::new("clicked")
            .with_category("ui.click")
            .with_data("user_id", 42),
    );
    event.exception.push(Exception {
        ty: "QueryError".into(),
        value: Some("query failed".into()),
        mechanism: Some(Mechanism {
            handled: Some(true),
            exception_id: Some(0),
            ..Mechanism::new("generic")
        }),
        stacktrace: Some(Stacktrace {
            frames: vec![Frame {
                function: Some("app::main".into()),
                lineno: Some(10),
                in_app: Some(true),
                instruction_addr: Some(Addr(0x1000)),
                ..Frame::default()
            }],
            ..Stacktrace::default()
        }),
        ..Exception::default()
    });
    event.threads.push(Thread {
        id: Some(ThreadId::from("1")),
        name: Some("main".into()),
        current: Some(true),
        ..Thread::default()
    });
    event.contexts.insert(
        "trace",
        TraceContext {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            op: Some("http.server".into()),
            ..TraceContext::default()
        },
    );
    event.debug_meta = Some(DebugMeta {
        images: vec![DebugImage {
            ty: "elf".into(),
            code_file: Some("/srv/app".into()),
            image_addr: Some(Addr(0x5617_4c76_2000)),
            image_size: Some(6_251_376),
            ..DebugImage::default()
        }],
    });

    let text = serde_json::to_string(&event).unwrap();
    assert!(
        !text.contains("null"),
        "absent fields must be omitted: {text}"
    );
    let back: Event = serde_json::from_str(&text).unwrap();
    // Timestamps go through f64 seconds: compare to the microsecond.
    let diff = match back.timestamp.duration_since(event.timestamp) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(
        diff < Duration::from_micros(1),
        "timestamp drifted by {diff:?}"
    );
    let mut back = back;
    back.timestamp = event.timestamp;
    back.breadcrumbs.values[0].timestamp = event.breadcrumbs.values[0].timestamp;
    assert_eq!(back, event);
}

#[test]
fn reads_the_official_sdks_events() {
    for name in [
        "capture_message",
        "capture_error",
        "message_with_scope_and_breadcrumbs",
        "transaction",
    ] {
        let sample = sample_event(name);
        let event: Event =
            serde_json::from_value(sample.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            event.event_id.simple().to_string(),
            sample["event_id"].as_str().unwrap()
        );
        assert_eq!(event.platform, "native");
    }
}

#[test]
fn shape_matches_the_capture_error_sample() {
    let sample = sample_event("capture_error");
    let mut event: Event = serde_json::from_value(sample.clone()).unwrap();
    assert_eq!(event.exception.len(), 3);
    assert_eq!(event.exception.values[0].ty, "ConnectionError");
    assert_eq!(event.exception.values[2].ty, "RequestError");
    let st = event.threads.values[0].stacktrace.as_ref().unwrap();
    assert_eq!(st.frames[1].function.as_deref(), Some("_start"));
    assert_eq!(st.frames[1].instruction_addr, Some(Addr(0x5617_4c90_0951)));
    assert_eq!(
        event.contexts.trace().map(|t| t.span_id.to_string()),
        Some("ab85381b3fbdeac5".to_owned())
    );

    // Our debug images have their own (elf) shape; leave them out of the comparison.
    event.debug_meta = None;
    let ours = serde_json::to_value(&event).unwrap();
    let mut expected = keys(&sample);
    expected.remove("debug_meta");
    let mut got = keys(&ours);
    // We always write the level (`error`), which the official SDK leaves implicit.
    got.remove("level");
    assert_eq!(got, expected);
    for key in ["contexts", "sdk"] {
        assert_eq!(ours[key], sample[key], "{key} differs");
    }
    assert_eq!(ours["exception"], sample["exception"]);
    assert_eq!(ours["threads"], sample["threads"]);
}

#[test]
fn shape_matches_the_message_samples() {
    for name in ["capture_message", "message_with_scope_and_breadcrumbs"] {
        let sample = sample_event(name);
        let mut event: Event = serde_json::from_value(sample.clone()).unwrap();
        event.debug_meta = None;
        let ours = serde_json::to_value(&event).unwrap();
        let mut expected = keys(&sample);
        expected.remove("debug_meta");
        assert_eq!(keys(&ours), expected, "{name}");
        for key in ["contexts", "user", "tags", "sdk", "level", "message"] {
            assert_eq!(ours.get(key), sample.get(key), "{name}: {key} differs");
        }
        if let Some(crumbs) = sample.get("breadcrumbs") {
            let ours_crumbs = &ours["breadcrumbs"]["values"];
            for (a, b) in ours_crumbs
                .as_array()
                .unwrap()
                .iter()
                .zip(crumbs["values"].as_array().unwrap())
            {
                assert_eq!(keys(a), keys(b));
                assert_eq!(a["data"], b["data"]);
                let (ta, tb) = (
                    a["timestamp"].as_f64().unwrap(),
                    b["timestamp"].as_f64().unwrap(),
                );
                assert!((ta - tb).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn bare_arrays_and_rfc3339_timestamps_are_read() {
    let event: Event = serde_json::from_value(json!({
        "event_id": "8c9a0216-6c7a-4dc8-aa61-0fe1e8610f98",
        "timestamp": "2026-11-24T21:34:48.316903981Z",
        "exception": [{"type": "E", "value": "v"}],
        "breadcrumbs": [{"timestamp": 1795556088, "message": "m"}],
        "user": {"id": 42, "geo": {"city": "Vienna"}}
    }))
    .unwrap();
    assert_eq!(event.exception.values[0].ty, "E");
    assert_eq!(event.level, Level::Error);
    assert_eq!(event.platform, "native");
    let user = event.user.unwrap();
    assert_eq!(user.id.as_deref(), Some("42"));
    assert_eq!(user.other["geo"]["city"], "Vienna");
    assert_eq!(
        event
            .timestamp
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        1_795_556_088
    );
}

#[test]
fn bad_input_gets_a_clear_error() {
    let err = serde_json::from_value::<Event>(json!({
        "event_id": "not-a-uuid", "timestamp": 1.0
    }))
    .unwrap_err();
    assert!(err.to_string().contains("bad event id"), "{err}");
    let err = serde_json::from_value::<Event>(json!({
        "event_id": "8c9a02166c7a4dc8aa610fe1e8610f98", "timestamp": "yesterday"
    }))
    .unwrap_err();
    assert!(err.to_string().contains("RFC 3339"), "{err}");
    let err = serde_json::from_value::<User>(json!({"ip_address": "somewhere"})).unwrap_err();
    assert!(err.to_string().contains("not an IP address"), "{err}");
}

#[test]
fn user_ip_address_forms() {
    let auto = serde_json::to_value(User {
        ip_address: Some(IpAddress::Auto),
        ..User::default()
    })
    .unwrap();
    assert_eq!(auto, json!({"ip_address": "{{auto}}"}));
    let exact: User = serde_json::from_value(json!({"ip_address": "10.0.0.1"})).unwrap();
    assert_eq!(
        exact.ip_address,
        Some(IpAddress::Exact("10.0.0.1".parse().unwrap()))
    );
}

#[test]
fn resolving_fills_stacktraces_and_keeps_existing_ones() {
    let mut event = Event::new();
    let existing = Stacktrace {
        frames: vec![Frame {
            function: Some("kept".into()),
            ..Frame::default()
        }],
        ..Stacktrace::default()
    };
    event.exception.push(Exception {
        ty: "A".into(),
        raw_stacktrace: Some(crate::stacktrace::RawStacktrace::from_addresses(vec![
            0x10, 0x20,
        ])),
        ..Exception::default()
    });
    event.exception.push(Exception {
        ty: "B".into(),
        stacktrace: Some(existing.clone()),
        raw_stacktrace: Some(crate::stacktrace::RawStacktrace::from_addresses(vec![0x30])),
        ..Exception::default()
    });
    event.threads.push(Thread {
        raw_stacktrace: Some(crate::stacktrace::RawStacktrace::from_addresses(vec![0x40])),
        ..Thread::default()
    });
    // Unresolved stacks are never written.
    let before = serde_json::to_value(&event).unwrap();
    assert!(before["exception"]["values"][0].get("stacktrace").is_none());
    assert!(!before.to_string().contains("raw_stacktrace"));

    event.resolve_stacktraces(&crate::stacktrace::InAppRules::default());
    let a = event.exception.values[0]
        .stacktrace
        .as_ref()
        .expect("resolved");
    let addrs: Vec<_> = a.frames.iter().map(|f| f.instruction_addr).collect();
    assert_eq!(addrs, [Some(Addr(0x20)), Some(Addr(0x10))], "oldest first");
    assert!(event.exception.values[0].raw_stacktrace.is_none());
    assert_eq!(
        event.exception.values[1].stacktrace.as_ref(),
        Some(&existing)
    );
    assert!(event.threads.values[0].stacktrace.is_some());
}

/// An error event assembled from this crate's own parts, as the client builds it, has the
/// shape of the official SDK's `capture_error` event.
#[test]
fn an_assembled_error_event_has_the_samples_shape() {
    use std::fmt;

    #[derive(Debug)]
    struct ConnectionError;
    impl fmt::Display for ConnectionError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("connection reset by peer (os error 104)")
        }
    }
    impl std::error::Error for ConnectionError {}
    #[derive(Debug)]
    struct QueryError(ConnectionError);
    impl fmt::Display for QueryError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("query on table `items` failed")
        }
    }
    impl std::error::Error for QueryError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    #[derive(Debug)]
    struct RequestError(QueryError);
    impl fmt::Display for RequestError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("handling request GET /api/items failed")
        }
    }
    impl std::error::Error for RequestError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    let sample = sample_event("capture_error");
    let err = RequestError(QueryError(ConnectionError));
    let mut event = Event {
        exception: crate::error_chain::exceptions_from_error(&err).into(),
        server_name: Some("vm".into()),
        release: Some("peer-bench@0.1.0".into()),
        environment: Some("production".into()),
        contexts: crate::contexts::default_contexts().clone(),
        sdk: Some(SdkInfo::current(vec!["panic".into()])),
        debug_meta: Some(DebugMeta {
            images: vec![DebugImage {
                ty: "elf".into(),
                ..DebugImage::default()
            }],
        }),
        ..Event::new()
    };
    event.contexts.insert(
        "trace",
        TraceContext {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            ..TraceContext::default()
        },
    );
    event.threads.push(Thread {
        id: Some("1".into()),
        name: Some("main".into()),
        current: Some(true),
        raw_stacktrace: Some(crate::stacktrace::RawStacktrace::capture(0)),
        ..Thread::default()
    });
    event.resolve_stacktraces(&crate::stacktrace::InAppRules::default());
    let ours = serde_json::to_value(&event).unwrap();

    let mut got = keys(&ours);
    got.remove("level");
    assert_eq!(got, keys(&sample));
    if cfg!(feature = "contexts") {
        assert_eq!(keys(&ours["contexts"]), keys(&sample["contexts"]));
        for ctx in ["os", "rust", "device", "trace"] {
            assert_eq!(
                ours["contexts"][ctx]["type"],
                sample["contexts"][ctx]["type"]
            );
        }
    }
    let types = |v: &Value| -> Vec<String> {
        v["exception"]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(types(&ours), types(&sample));
    for (a, b) in ours["exception"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .zip(sample["exception"]["values"].as_array().unwrap())
    {
        assert_eq!(a["value"], b["value"]);
    }
    assert_eq!(keys(&ours["sdk"]), keys(&sample["sdk"]));
}

mod properties {
    use std::time::{Duration, UNIX_EPOCH};

    use proptest::prelude::*;

    use super::super::*;

    proptest! {
        #[test]
        fn rfc3339_round_trips_with_the_transport_formatter(millis in 0u64..8_000_000_000_000) {
            let t = UNIX_EPOCH + Duration::from_millis(millis);
            let text = sdk_transport::time::format_rfc3339(t);
            prop_assert_eq!(parse_rfc3339(&text), Some(t));
        }

        #[test]
        fn text_parsers_never_panic(s in "\\PC{0,40}") {
            let _ = parse_rfc3339(&s);
            let _ = s.parse::<Level>();
            let _ = s.parse::<Addr>();
            let _ = s.parse::<IpAddress>();
            let _ = s.parse::<SpanStatus>();
        }

        #[test]
        fn rfc3339_shaped_garbage_never_panics(
            s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2}|\\PC{0,3})"
        ) {
            let _ = parse_rfc3339(&s);
        }

        #[test]
        fn addresses_round_trip(v in any::<u64>()) {
            let json = serde_json::to_string(&Addr(v)).unwrap();
            prop_assert!(json.starts_with("\"0x"));
            let back: Addr = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, Addr(v));
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_event_reader(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = serde_json::from_slice::<Event>(&bytes);
            let _ = serde_json::from_slice::<Contexts>(&bytes);
        }

        #[test]
        fn event_shaped_json_never_panics(
            ty in "[a-z]{0,8}",
            ts in prop_oneof![Just(serde_json::json!(-1.0)), Just(serde_json::json!(1e300)),
                              Just(serde_json::json!("2026-11-24T21:34:48Z")), Just(serde_json::json!(null)),
                              Just(serde_json::json!([])), any::<u32>().prop_map(|n| serde_json::json!(n))],
            addr in "\\PC{0,20}",
        ) {
            let value = serde_json::json!({
                "event_id": "8c9a02166c7a4dc8aa610fe1e8610f98",
                "timestamp": ts,
                "contexts": {"x": {"type": ty, "trace_id": "zz"}, "os": {"name": 5}},
                "threads": {"values": [{"id": 1, "stacktrace": {"frames": [{"instruction_addr": addr}]}}]},
            });
            let _ = serde_json::from_value::<Event>(value);
        }
    }
}
