//! The clock spans are timed with.
//!
//! A transaction takes its wall-clock start from the monotonic clock and the thread's last
//! wall-clock read (re-read every 100 ms, see [`now_with_wall`]); every later time (span starts and
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

use std::cell::Cell;
use std::time::{Duration, SystemTime};

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

/// How long a thread derives wall-clock times from its last (wall, monotonic) pair before it
/// reads the wall clock again. Both clocks run at the same (NTP-adjusted) rate, so a derived
/// time equals a wall-clock read but for a step of the wall clock (set by hand or at a leap
/// second), which shows within this time.
const ANCHOR_MAX_AGE_NANOS: i64 = 100_000_000;

/// The longest gap between the two monotonic reads around a wall-clock read for the pair to
/// be kept (longer: the thread was interrupted between them).
const ANCHOR_MAX_GAP_NANOS: i64 = 2_000;

thread_local! {
    /// This thread's last wall-clock read and the monotonic reading taken with it.
    static ANCHOR: Cell<Option<(SystemTime, i64)>> = const { Cell::new(None) };
}

/// Now on both clocks: a monotonic start point, and the wall-clock time it is. A transaction
/// starting reads one clock, not two: the wall-clock time is derived from the thread's last
/// wall-clock read when that is recent (see [`ANCHOR_MAX_AGE_NANOS`]).
pub(crate) fn now_with_wall() -> (SystemTime, Start) {
    let mono = monotonic_nanos();
    if let Ok(Some((wall, at))) = ANCHOR.try_with(Cell::get) {
        let age = mono.saturating_sub(at);
        if (0..ANCHOR_MAX_AGE_NANOS).contains(&age) {
            if let Some(now) = wall.checked_add(Duration::from_nanos(age.unsigned_abs())) {
                return (now, Start(mono));
            }
        }
    }
    // A new pair: the wall clock read between two monotonic reads, paired with the second,
    // so that derived times are never later than a wall-clock read would be (by at most the
    // time of one read). Kept only when the reads were not interrupted (a preempted thread
    // reads the wall clock again next time).
    let wall = SystemTime::now();
    let after = monotonic_nanos();
    if (0..ANCHOR_MAX_GAP_NANOS).contains(&after.saturating_sub(mono)) {
        let _ = ANCHOR.try_with(|anchor| anchor.set(Some((wall, after))));
    }
    (wall, Start(after))
}

/// A monotonic start point: offsets from it are nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start(i64);

impl Start {
    /// Now.
    #[cfg(test)]
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
