//! The clock spans are timed with.
//!
//! A transaction reads the wall clock once when it starts; every later time (span starts and
//! ends, the transaction's end) is an offset from a monotonic reading taken then. The monotonic
//! source is the CPU's time-stamp counter through `quanta` once it is calibrated (a read costs
//! about half of `Instant::now()`, which matters with two reads per span), and `Instant`
//! until then: calibration runs on a background thread started with the first client that
//! has tracing on, so no caller ever waits for it.

use std::sync::OnceLock;
use std::time::Instant;

static TSC: OnceLock<quanta::Clock> = OnceLock::new();
static CALIBRATING: OnceLock<()> = OnceLock::new();

/// Starts calibrating the fast clock in the background (once per process).
pub(crate) fn warm_up() {
    CALIBRATING.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("sentry-clock".into())
            .spawn(|| {
                TSC.get_or_init(quanta::Clock::new);
            });
        if let Err(err) = spawned {
            sdk_transport::sdk_debug!(
                "clock calibration thread not started ({err}); using Instant"
            );
        }
    });
}

/// A monotonic start point: offsets from it are nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// The calibrated counter's raw reading.
    Tsc(&'static quanta::Clock, u64),
    /// `Instant`, before calibration finished.
    Std(Instant),
}

impl Start {
    /// Now, from the fastest clock ready.
    #[inline]
    pub(crate) fn now() -> Start {
        match TSC.get() {
            Some(clock) => Start::Tsc(clock, clock.raw()),
            None => Start::Std(Instant::now()),
        }
    }

    /// A start point for transactions that never read the clock (unsampled).
    pub(crate) fn unused() -> Start {
        static ANCHOR: OnceLock<Instant> = OnceLock::new();
        Start::Std(*ANCHOR.get_or_init(Instant::now))
    }

    /// Nanoseconds since this start point.
    #[inline]
    pub(crate) fn elapsed_nanos(&self) -> i64 {
        let nanos = match self {
            Start::Tsc(clock, start) => u128::from(clock.delta_as_nanos(*start, clock.raw())),
            Start::Std(start) => start.elapsed().as_nanos(),
        };
        i64::try_from(nanos).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sources_measure_the_same_interval() {
        warm_up();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while TSC.get().is_none() && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let fast = Start::now();
        let slow = Start::Std(Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (a, b) = (fast.elapsed_nanos(), slow.elapsed_nanos());
        assert!(a >= 19_000_000 && b >= 19_000_000, "{a} {b}");
        assert!((a - b).abs() < 5_000_000, "{a} vs {b}");
    }
}
