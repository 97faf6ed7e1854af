//! The clock spans are timed with.
//!
//! A transaction reads the wall clock once when it starts; every later time (span starts and
//! ends, the transaction's end) is an offset from a monotonic reading taken then, so a span
//! costs two monotonic reads and no wall-clock read.
//!
//! On Linux and Android a monotonic reading is `clock_gettime(CLOCK_MONOTONIC)` through
//! `rustix` (the vDSO, as `Instant::now` uses), kept as plain nanoseconds: an offset is one
//! subtraction, where `Instant::elapsed` costs a checked `timespec` subtraction and a
//! `Duration` to `u128` conversion on top of the same read (about 85 instructions per reading,
//! ~1,800 per transaction with 10 spans). Elsewhere it is an `Instant` against a process-wide
//! anchor.
//!
//! A TSC clock (`quanta`) was tried: a read is about half of `Instant::now()`, but it must be
//! calibrated first, which spins a core for up to 200 ms; on a loaded 2-core machine that
//! cost more than it saved (and a monitoring SDK must not burn CPU at start-up).

/// Nanoseconds on the monotonic clock (an arbitrary origin; only differences mean anything).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
// `tv_nsec` is an `i64` on 64-bit targets but a `c_long` (`i32`) on some 32-bit ones.
#[allow(clippy::useless_conversion)]
fn monotonic_nanos() -> i64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(t.tv_nsec))
}

/// Nanoseconds on the monotonic clock (an arbitrary origin; only differences mean anything).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[inline]
fn monotonic_nanos() -> i64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ANCHOR: OnceLock<Instant> = OnceLock::new();
    let anchor = *ANCHOR.get_or_init(Instant::now);
    i64::try_from(anchor.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

/// A monotonic start point: offsets from it are nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start(i64);

impl Start {
    /// Now.
    #[inline]
    pub(crate) fn now() -> Start {
        Start(monotonic_nanos())
    }

    /// A start point for transactions that never read the clock (unsampled).
    pub(crate) fn unused() -> Start {
        Start(0)
    }

    /// Nanoseconds since this start point (never negative: the clock is monotonic).
    #[inline]
    pub(crate) fn elapsed_nanos(&self) -> i64 {
        monotonic_nanos().saturating_sub(self.0).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_an_interval() {
        let start = Start::now();
        let std_start = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let nanos = start.elapsed_nanos();
        let std_nanos = std_start.elapsed().as_nanos() as i64;
        assert!(nanos >= 19_000_000, "{nanos}");
        // The same clock as `Instant`: the two intervals agree to well under a millisecond.
        assert!(
            (nanos - std_nanos).abs() < 1_000_000,
            "{nanos} vs {std_nanos}"
        );
    }
}
