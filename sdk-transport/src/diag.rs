//! SDK diagnostics: what the SDK says about itself when `debug` is on.
//!
//! Off by default. When on, messages go to stderr prefixed with `[sentry]`, so a user can see
//! why an event was dropped or a request failed. Every crate of the SDK logs through here.

use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);

/// Turns SDK diagnostics on or off for the whole process.
pub fn set_debug(enabled: bool) {
    DEBUG.store(enabled, Ordering::Relaxed);
}

/// Whether SDK diagnostics are on.
#[inline]
pub fn is_debug() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// The name of the delivery worker's threads.
pub const WORKER_THREAD_NAME: &str = "sentry-transport";

/// Whether the current thread is one of the SDK's own delivery threads. The panic integration
/// uses it to leave panics there to the worker (which catches them and counts what was lost)
/// instead of capturing them and flushing from the very thread that would have to do the
/// sending.
pub fn on_sdk_thread() -> bool {
    std::thread::current().name() == Some(WORKER_THREAD_NAME)
}

/// Writes one diagnostic line to stderr when diagnostics are on. Prefer the [`sdk_debug!`](crate::sdk_debug)
/// macro, which does not format its arguments when diagnostics are off.
pub fn log(args: std::fmt::Arguments<'_>) {
    if is_debug() {
        eprintln!("[sentry] {args}");
    }
}

/// Logs an SDK diagnostic (formatted like `format!`) when diagnostics are on.
///
/// ```
/// sdk_transport::diag::set_debug(true);
/// sdk_transport::sdk_debug!("dropping event {}: {}", 1, "before_send returned None");
/// ```
#[macro_export]
macro_rules! sdk_debug {
    ($($arg:tt)*) => {
        if $crate::diag::is_debug() {
            $crate::diag::log(format_args!($($arg)*));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggles() {
        set_debug(true);
        assert!(is_debug());
        set_debug(false);
        assert!(!is_debug());
    }

    #[test]
    fn worker_threads_are_recognised() {
        assert!(!on_sdk_thread());
        let on_worker = std::thread::Builder::new()
            .name(WORKER_THREAD_NAME.into())
            .spawn(on_sdk_thread)
            .unwrap()
            .join()
            .unwrap();
        assert!(on_worker);
    }
}
