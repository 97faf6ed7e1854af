//! The clock spans are timed with.
//!
//! A transaction reads the wall clock once when it starts; every later time (span starts and
//! ends, the transaction's end) is an offset from a monotonic `Instant` taken then, so a span
//! costs two monotonic reads and no wall-clock read.
//!
//! A TSC clock (`quanta`) was tried: a read is about half of `Instant::now()`, but it must be
//! calibrated first, which spins a core for up to 200 ms; on a loaded 2-core machine that
//! cost more than it saved (and a monitoring SDK must not burn CPU at start-up).

use std::sync::OnceLock;
use std::time::Instant;

/// A monotonic start point: offsets from it are nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start(Instant);

impl Start {
    /// Now.
    #[inline]
    pub(crate) fn now() -> Start {
        Start(Instant::now())
    }

    /// A start point for transactions that never read the clock (unsampled).
    pub(crate) fn unused() -> Start {
        static ANCHOR: OnceLock<Instant> = OnceLock::new();
        Start(*ANCHOR.get_or_init(Instant::now))
    }

    /// Nanoseconds since this start point.
    #[inline]
    pub(crate) fn elapsed_nanos(&self) -> i64 {
        i64::try_from(self.0.elapsed().as_nanos()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_an_interval() {
        let start = Start::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let nanos = start.elapsed_nanos();
        assert!(nanos >= 19_000_000, "{nanos}");
    }
}
