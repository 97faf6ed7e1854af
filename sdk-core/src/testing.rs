//! Helpers for testing code that captures: run it against an in-memory transport and look at
//! what it sent, with no network. Enabled by the `test` feature.
//!
//! ```
//! use sdk_core::testing::with_captured_events;
//! use sdk_core::Level;
//!
//! let events = with_captured_events(|| {
//!     sdk_core::configure_scope(|scope| scope.set_tag("component", "billing"));
//!     sdk_core::capture_message("invoice failed", Level::Error);
//! });
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].message.as_deref(), Some("invoice failed"));
//! assert_eq!(events[0].tags["component"], "billing");
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sdk_transport::{DataCategory, DiscardReason, Envelope, ItemType, Payload, Transport};

use crate::client::Client;
use crate::event_payload::EventPayload;
use crate::hub::Hub;
use crate::options::ClientOptions;
use crate::protocol::Event;

/// A transport that keeps every envelope in memory (and every recorded discard).
#[derive(Default)]
pub struct TestTransport {
    envelopes: Mutex<Vec<Envelope>>,
    discards: Mutex<Vec<(DiscardReason, DataCategory, u64)>>,
}

impl std::fmt::Debug for TestTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestTransport")
            .field(
                "envelopes",
                &self.envelopes.lock().map(|e| e.len()).unwrap_or(0),
            )
            .finish()
    }
}

impl TestTransport {
    /// A new, empty transport, shared by `Arc`.
    pub fn new() -> Arc<TestTransport> {
        Arc::new(TestTransport::default())
    }

    /// Takes the envelopes received so far.
    pub fn fetch_and_clear_envelopes(&self) -> Vec<Envelope> {
        std::mem::take(
            &mut *self
                .envelopes
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Takes the events received so far (complete, as they would be written).
    pub fn fetch_and_clear_events(&self) -> Vec<Event> {
        events_of(&self.fetch_and_clear_envelopes())
    }

    /// The discards recorded so far: (reason, category, quantity).
    pub fn discards(&self) -> Vec<(DiscardReason, DataCategory, u64)> {
        self.discards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Transport for TestTransport {
    fn send_envelope(&self, envelope: Envelope) {
        self.envelopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(envelope);
    }

    fn flush(&self, _timeout: Duration) -> bool {
        true
    }

    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        self.discards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((reason, category, quantity));
    }
}

/// The events in `envelopes` as complete [`Event`]s (lazy payloads are materialised, byte
/// payloads parsed).
pub fn events_of(envelopes: &[Envelope]) -> Vec<Event> {
    envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .filter(|item| item.item_type == ItemType::Event)
        .filter_map(|item| match &item.payload {
            Payload::Lazy(lazy) => match lazy.as_any().downcast_ref::<EventPayload>() {
                Some(payload) => Some(payload.to_event()),
                None => item
                    .payload
                    .to_vec()
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok()),
            },
            Payload::Bytes(bytes) => serde_json::from_slice(bytes).ok(),
        })
        .collect()
}

/// Runs `f` with a client that records into memory, bound to a hub forked from the current one
/// for the duration of `f`, and returns every envelope sent.
pub fn with_captured_envelopes<F: FnOnce()>(f: F) -> Vec<Envelope> {
    with_captured_envelopes_options(f, ClientOptions::new())
}

/// Like [`with_captured_envelopes`] with the given options (their transport is replaced).
pub fn with_captured_envelopes_options<F, O>(f: F, options: O) -> Vec<Envelope>
where
    F: FnOnce(),
    O: Into<ClientOptions>,
{
    let transport = TestTransport::new();
    let mut options = options.into();
    let shared: Arc<dyn Transport> = transport.clone();
    options.transport = Some(Arc::new(shared));
    let client = Arc::new(Client::new(options));
    let hub = Arc::new(Hub::new_from_top(&Hub::current()));
    hub.bind_client(Some(client.clone()));
    Hub::run(hub, f);
    client.flush(None);
    transport.fetch_and_clear_envelopes()
}

/// Runs `f` with an in-memory client and returns the events it captured.
pub fn with_captured_events<F: FnOnce()>(f: F) -> Vec<Event> {
    events_of(&with_captured_envelopes(f))
}

/// Like [`with_captured_events`] with the given options (their transport is replaced).
pub fn with_captured_events_options<F, O>(f: F, options: O) -> Vec<Event>
where
    F: FnOnce(),
    O: Into<ClientOptions>,
{
    events_of(&with_captured_envelopes_options(f, options))
}
