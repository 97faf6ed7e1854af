//! The queue bounds its memory by each envelope's `size_hint`: for an event it must be close to
//! the JSON that is written (within 2x), whatever part of the event is large.

use std::sync::Arc;

use sdk_core::protocol::{Context, Event, Request};
use sdk_core::testing::TestTransport;
use sdk_core::transport::{ItemType, Transport};
use sdk_core::{Breadcrumb, Client, ClientOptions, Hub, Level};

/// (size_hint, written JSON length) of every event `f` captures, with and without a
/// `before_send` (which makes the client build the full event on the caller's thread).
fn hints_and_sizes(f: impl Fn()) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for with_before_send in [false, true] {
        let keep = TestTransport::new();
        let shared: Arc<dyn Transport> = keep.clone();
        let mut options = ClientOptions::new()
            .transport(shared)
            .attach_stacktrace(true);
        if with_before_send {
            options = options.before_send(Some);
        }
        let hub = Arc::new(Hub::new_from_top(&Hub::current()));
        hub.bind_client(Some(Arc::new(Client::new(options))));
        Hub::run(hub, &f);
        let envelopes = keep.fetch_and_clear_envelopes();
        for item in envelopes.iter().flat_map(|e| e.items.iter()) {
            if item.item_type == ItemType::Event {
                let written = item.payload.to_vec().expect("the event serialises").len();
                out.push((item.payload.size_hint(), written));
            }
        }
    }
    assert!(!out.is_empty());
    out
}

fn assert_within_2x(what: &str, f: impl Fn()) {
    for (hint, written) in hints_and_sizes(f) {
        eprintln!("{what}: hint {hint}, written {written}");
        assert!(
            hint * 2 >= written && hint <= written * 2,
            "{what}: size_hint {hint} is not within 2x of the {written} bytes written"
        );
    }
}

fn kilobyte(n: usize) -> String {
    format!("{n:04}-").repeat(205)
}

#[test]
fn a_megabyte_of_extra_is_counted() {
    assert_within_2x("1 MB of extra", || {
        let mut event = Event::default();
        for n in 0..1000 {
            event.extra.insert(format!("key{n}"), kilobyte(n).into());
        }
        sdk_core::capture_event(event);
    });
}

#[test]
fn a_large_request_and_contexts_are_counted() {
    assert_within_2x("request and contexts", || {
        let mut event = Event {
            request: Some(Request {
                url: Some("https://example.com/upload".into()),
                data: Some(serde_json::json!({ "body": kilobyte(1).repeat(200) })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut map = serde_json::Map::new();
        for n in 0..100 {
            map.insert(format!("k{n}"), serde_json::json!([kilobyte(n), n, true]));
        }
        event.contexts.insert("big", Context::Other(map));
        sdk_core::capture_event(event);
    });
}

#[test]
fn scope_data_and_breadcrumbs_are_counted() {
    assert_within_2x("a full scope", || {
        sdk_core::configure_scope(|scope| {
            for n in 0..50 {
                scope.set_tag(
                    format!("tag{n}"),
                    kilobyte(n).get(..200).unwrap_or("").to_owned(),
                );
                scope.set_extra(&format!("extra{n}"), kilobyte(n).into());
            }
        });
        for n in 0..100 {
            let mut crumb = Breadcrumb::new(kilobyte(n));
            crumb.data.insert("n", kilobyte(n));
            sdk_core::add_breadcrumb(crumb);
        }
        sdk_core::capture_message("with a full scope", Level::Warning);
    });
}

#[test]
fn small_events_and_errors_with_stack_traces_are_close_too() {
    assert_within_2x("a short message", || {
        sdk_core::capture_message("short", Level::Info);
    });
    assert_within_2x("an error with a stack trace", || {
        let err = std::io::Error::other("disk on fire");
        sdk_core::capture_error(&err);
    });
}
