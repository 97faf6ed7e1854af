//! Running a user callback (`before_send`, `before_breadcrumb`, event processors, integrations,
//! `traces_sampler`, `before_send_transaction`) inside the SDK.
//!
//! Every such call goes through [`call`]: it catches a panic, and marks the thread as "inside an
//! SDK callback" while the callback runs, so that the panic hook (which fires *before* the
//! unwinding reaches our `catch_unwind`) neither captures a fatal event nor flushes on the
//! caller's thread. The caller drops (and counts) what the callback was given.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    /// How many SDK-run user callbacks are on this thread's stack.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Runs a user callback, catching a panic (`Err`), with the thread marked as inside an SDK
/// callback for its duration (also while it unwinds).
pub(crate) fn call<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    struct Mark;
    impl Drop for Mark {
        fn drop(&mut self) {
            let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
        }
    }
    let _ = DEPTH.try_with(|d| d.set(d.get().saturating_add(1)));
    let _mark = Mark;
    catch_unwind(AssertUnwindSafe(f))
}

/// Whether this thread is running a user callback for the SDK (a panic there is the SDK's to
/// catch and count, not a crash of the application).
#[cfg_attr(not(feature = "panic"), allow(dead_code))]
pub(crate) fn in_callback() -> bool {
    DEPTH.try_with(|d| d.get() > 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_thread_while_the_callback_runs_and_catches_its_panic() {
        assert!(!in_callback());
        assert_eq!(call(in_callback).ok(), Some(true));
        let nested = call(|| call(in_callback).ok() == Some(true) && in_callback());
        assert_eq!(nested.ok(), Some(true));
        let caught = call(|| -> u8 { panic!("user callback fails") });
        assert!(caught.is_err());
        assert!(!in_callback(), "the mark is removed after a panic too");
    }
}
