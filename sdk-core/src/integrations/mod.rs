//! Integrations: pieces that hook into the client when it is created (e.g. the panic hook) and
//! may process every event.
//!
//! The default integrations (`ClientOptions::default_integrations`, on by default) are:
//! `attach-stacktrace` (the `attach_stacktrace` option), `contexts` (os, rust and device
//! contexts, server name), `debug-images` (loaded modules for server-side symbolication),
//! `process-stacktrace` (frames resolved on the worker, in-app rules) and `panic` (captures
//! panics; feature `panic`).

use std::sync::Arc;

use crate::options::ClientOptions;
use crate::protocol::Event;

#[cfg(feature = "panic")]
pub mod panic;

/// An integration: named, set up once per client, and optionally processing every event.
///
/// ```
/// use sdk_core::{ClientOptions, Integration, protocol::Event};
///
/// struct AddRegion;
/// impl Integration for AddRegion {
///     fn name(&self) -> &'static str { "add-region" }
///     fn processes_events(&self) -> bool { true }
///     fn process_event(&self, mut event: Event, _: &ClientOptions) -> Option<Event> {
///         event.tags.insert("region".into(), "eu".into());
///         Some(event)
///     }
/// }
/// let opts = ClientOptions::new().integration(AddRegion);
/// assert_eq!(opts.integrations.len(), 1);
/// ```
pub trait Integration: Send + Sync + 'static {
    /// The name listed in `sdk.integrations`.
    fn name(&self) -> &'static str;

    /// Called once when a client is created, with its options (which it may change).
    fn setup(&self, options: &mut ClientOptions) {
        let _ = options;
    }

    /// Whether [`Integration::process_event`] must see every event. Returning `true` makes the
    /// client build the full event on the capturing thread, which costs time: only integrations
    /// that change events should.
    fn processes_events(&self) -> bool {
        false
    }

    /// Processes an event (after scope data and event processors); `None` drops it (counted as
    /// an `event_processor` discard).
    fn process_event(&self, event: Event, options: &ClientOptions) -> Option<Event> {
        let _ = options;
        Some(event)
    }
}

/// An integration that only names a built-in behaviour (contexts, debug images, stack trace
/// processing): its work is done by the client itself.
struct Marker(&'static str);

impl Integration for Marker {
    fn name(&self) -> &'static str {
        self.0
    }
}

/// The default integrations of the enabled features.
pub(crate) fn defaults() -> Vec<Arc<dyn Integration>> {
    let mut out: Vec<Arc<dyn Integration>> = Vec::new();
    if cfg!(feature = "backtrace") {
        out.push(Arc::new(Marker("attach-stacktrace")));
    }
    if cfg!(feature = "contexts") {
        out.push(Arc::new(Marker("contexts")));
    }
    if cfg!(feature = "debug-images") {
        out.push(Arc::new(Marker("debug-images")));
    }
    if cfg!(feature = "backtrace") {
        out.push(Arc::new(Marker("process-stacktrace")));
    }
    #[cfg(feature = "panic")]
    out.push(Arc::new(panic::PanicIntegration::new()));
    out
}
