//! A panicking user callback run by the SDK is caught, its input dropped and counted; the panic
//! hook neither captures a fatal "panic" event for it nor flushes on the caller's thread.
#![cfg(feature = "panic")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sdk_core::transport::{DataCategory, DiscardReason, Envelope, Transport};
use sdk_core::{Breadcrumb, Client, ClientOptions, Hub, Level};

/// Keeps envelopes and discards, and counts flushes (a flush from the panic hook would block
/// the caller for up to `shutdown_timeout`).
#[derive(Default)]
struct Recorder {
    envelopes: Mutex<Vec<Envelope>>,
    discards: Mutex<Vec<(DiscardReason, DataCategory, u64)>>,
    flushes: AtomicUsize,
}

impl Transport for Recorder {
    fn send_envelope(&self, envelope: Envelope) {
        self.envelopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(envelope);
    }

    fn flush(&self, _timeout: Duration) -> bool {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        true
    }

    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        self.discards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((reason, category, quantity));
    }
}

fn run_with(options: ClientOptions, f: impl FnOnce()) -> Arc<Recorder> {
    let recorder = Arc::new(Recorder::default());
    let shared: Arc<dyn Transport> = recorder.clone();
    let client = Arc::new(Client::new(options.transport(shared)));
    let hub = Arc::new(Hub::new_from_top(&Hub::current()));
    hub.bind_client(Some(client));
    Hub::run(hub, f);
    recorder
}

#[test]
fn a_panicking_before_send_drops_and_counts_without_a_fatal_event_or_a_flush() {
    let options = ClientOptions::new().before_send(|_event| panic!("before_send is broken"));
    let recorder = run_with(options, || {
        let id = sdk_core::capture_message("dropped by a panicking before_send", Level::Error);
        assert!(id.is_nil(), "a dropped event has no id");
    });
    assert_eq!(
        recorder.envelopes.lock().unwrap().len(),
        0,
        "neither the message nor a fatal `panic` event is sent"
    );
    assert_eq!(
        recorder.flushes.load(Ordering::SeqCst),
        0,
        "the panic hook must not flush on the caller's thread"
    );
    assert_eq!(
        *recorder.discards.lock().unwrap(),
        vec![(DiscardReason::BeforeSend, DataCategory::Error, 1)]
    );
}

#[test]
fn a_panicking_before_breadcrumb_or_event_processor_sends_no_fatal_event() {
    let options = ClientOptions::new().before_breadcrumb(|_crumb| panic!("before_breadcrumb"));
    let recorder = run_with(options, || {
        sdk_core::add_breadcrumb(Breadcrumb {
            message: Some("never recorded".into()),
            ..Default::default()
        });
        sdk_core::configure_scope(|scope| {
            scope.add_event_processor(|_event| panic!("an event processor is broken"))
        });
        sdk_core::capture_message("dropped by a panicking processor", Level::Error);
    });
    assert_eq!(recorder.envelopes.lock().unwrap().len(), 0);
    assert_eq!(recorder.flushes.load(Ordering::SeqCst), 0);
    assert_eq!(
        *recorder.discards.lock().unwrap(),
        vec![(DiscardReason::EventProcessor, DataCategory::Error, 1)]
    );
}

#[test]
fn a_real_panic_is_still_captured_and_flushed() {
    let recorder = run_with(ClientOptions::new(), || {
        let result = std::panic::catch_unwind(|| panic!("the application's own panic"));
        assert!(result.is_err());
    });
    assert_eq!(recorder.envelopes.lock().unwrap().len(), 1);
    assert_eq!(recorder.flushes.load(Ordering::SeqCst), 1);
}
