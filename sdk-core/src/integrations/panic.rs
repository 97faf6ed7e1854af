//! The panic integration: a chaining panic hook that captures every panic (on any thread) as a
//! fatal, unhandled event with the panic message, location and a stack trace, then flushes.

use std::cell::Cell;
use std::panic::PanicHookInfo;
use std::sync::Once;

use crate::client::blank_event;
use crate::hub::{is_active, Hub};
use crate::integrations::Integration;
use crate::options::ClientOptions;
use crate::protocol::{Event, Level, Values};
use crate::stacktrace::RawStacktrace;

static INSTALLED: Once = Once::new();

thread_local! {
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Captures panics. Installed by default; the previous panic hook still runs afterwards.
#[derive(Debug, Default)]
pub struct PanicIntegration {
    _private: (),
}

impl PanicIntegration {
    /// The integration.
    pub fn new() -> Self {
        PanicIntegration { _private: () }
    }
}

impl Integration for PanicIntegration {
    fn name(&self) -> &'static str {
        "panic"
    }

    fn setup(&self, _options: &mut ClientOptions) {
        install_hook();
    }
}

/// Installs the chaining panic hook once per process (later calls do nothing).
pub fn install_hook() {
    if std::thread::panicking() {
        // take_hook/set_hook must not be called while panicking
        return;
    }
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            panic_handler(info);
            previous(info);
        }));
    });
}

/// What the hook does: capture the panic on the current hub and flush, bounded by the client's
/// `shutdown_timeout`. Does nothing when no client is bound, when called from inside itself, or
/// for a panic in a user callback the SDK runs (which the SDK catches, drops and counts).
pub fn panic_handler(info: &PanicHookInfo<'_>) {
    if !is_active() || IN_HOOK.with(Cell::get) {
        return;
    }
    if crate::callback::in_callback() {
        // a user callback run by the SDK panicked: the SDK catches it, drops and counts what
        // the callback was given; capturing a fatal event and flushing here would block the
        // caller for nothing
        sdk_transport::sdk_debug!("a callback run by the SDK panicked; not capturing it");
        return;
    }
    if sdk_transport::diag::on_sdk_thread() {
        // the delivery worker catches panics on its threads and counts what they cost;
        // capturing here would flush from the thread that does the sending
        sdk_transport::sdk_debug!("a delivery thread panicked; the worker recovers from it");
        return;
    }
    IN_HOOK.with(|h| h.set(true));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_HOOK.with(|h| h.set(false));
        }
    }
    let _reset = Reset;
    let event = event_from_panic_info(info);
    Hub::with_current(|hub| {
        let id = hub.capture_event(event);
        if !id.is_nil() {
            if let Some(client) = hub.client() {
                client.flush(None);
            }
        }
    });
}

/// The panic message: the `&str` or `String` payload, or a placeholder.
pub fn message_from_panic_info<'a>(info: &'a PanicHookInfo<'_>) -> &'a str {
    if let Some(s) = info.payload().downcast_ref::<&str>() {
        s
    } else if let Some(s) = info.payload().downcast_ref::<String>() {
        s.as_str()
    } else {
        "Box<dyn Any>"
    }
}

/// Builds the event of a panic: level fatal, one exception (type `panic`, mechanism `panic`,
/// handled false) with the message, the location and the panicking thread's stack trace.
pub fn event_from_panic_info(info: &PanicHookInfo<'_>) -> Event {
    let message = message_from_panic_info(info);
    let mut exception = crate::error_chain::exception_from_panic(message, info.location());
    exception.raw_stacktrace = Some(RawStacktrace::capture(2));
    let mut event = blank_event(Level::Fatal);
    event.exception = Values::from(vec![exception]);
    event
}
