//! Stack traces: recorded cheaply on the caller's thread, symbolised later on the worker.
//!
//! [`RawStacktrace::capture`] stores only instruction addresses. [`RawStacktrace::resolve`]
//! turns them into protocol [`Stacktrace`]s. Without the `backtrace` feature captures are empty.

use std::sync::Arc;

use crate::protocol::{Addr, Frame, Stacktrace};

/// Rules that decide which frames are the application's own (`in_app`).
///
/// Module prefixes in `include` mark frames in-app and win over everything; prefixes in
/// `exclude` mark them not in-app. Frames matching neither follow the built-in rules: std,
/// core, alloc, the SDK's crates and common runtime crates are not in-app, everything else is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InAppRules {
    /// Module prefixes that are in-app (e.g. `my_app`).
    pub include: Vec<String>,
    /// Module prefixes that are not in-app (e.g. `my_vendored_lib`).
    pub exclude: Vec<String>,
}

/// The instruction addresses of a stack, recorded but not yet symbolised.
///
/// Cheap to clone (one `Arc`), `Send` and `Sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawStacktrace {
    /// Instruction addresses, innermost (most recent call) first, as the unwinder yields them.
    ips: Arc<[usize]>,
}

impl RawStacktrace {
    /// A raw stack trace from instruction addresses, innermost first.
    pub fn from_addresses(ips: Vec<usize>) -> RawStacktrace {
        RawStacktrace { ips: ips.into() }
    }

    /// The recorded addresses, innermost first.
    pub fn addresses(&self) -> &[usize] {
        &self.ips
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// Records the current thread's stack, skipping `skip` frames below the caller.
    pub fn capture(skip: usize) -> RawStacktrace {
        let _ = skip;
        RawStacktrace::default()
    }

    /// Symbolises the stack: frames oldest first, marked in-app by `rules`.
    pub fn resolve(&self, rules: &InAppRules) -> Stacktrace {
        let _ = rules;
        Stacktrace {
            frames: self
                .ips
                .iter()
                .rev()
                .map(|ip| Frame {
                    instruction_addr: Some(Addr::from(*ip)),
                    ..Frame::default()
                })
                .collect(),
            ..Stacktrace::default()
        }
    }
}
