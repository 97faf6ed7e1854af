//! The clock spans, transactions and breadcrumbs are timed with.
//!
//! A transaction takes its wall-clock start from the monotonic clock and the thread's last
//! wall-clock read (re-read every 100 ms, see [`now_with_wall`]); every later time (span starts
//! and ends, the transaction's end) is an offset from a monotonic reading taken then, so a span
//! costs two monotonic reads and no wall-clock read. A breadcrumb's "now" ([`wall_now`]) is the
//! same derived wall-clock time (on the TSC path: the anchor's wall-clock time plus the scaled
//! ticks since).
//!
//! # Where a monotonic reading comes from
//!
//! On Linux and Android a monotonic reading is `clock_gettime(CLOCK_MONOTONIC)` through
//! `rustix` (the vDSO, as `Instant::now` uses), kept as plain nanoseconds. Elsewhere it is an
//! `Instant` against a process-wide anchor.
//!
//! On x86 and x86_64 Linux, when the kernel itself keeps time with the CPU's time-stamp
//! counter (`/sys/devices/system/clocksource/clocksource0/current_clocksource` is `tsc`, read
//! at first use and every 10 s after, so that a kernel leaving an unstable TSC takes us along),
//! a reading is instead one `rdtsc` scaled from the calling thread's anchor, a
//! (TSC, vDSO nanoseconds) pair taken at most 100 ms of TSC time ago: about half the cost of
//! the vDSO read, which does the same `rdtsc` behind a fence and a sequence lock. The scale
//! (nanoseconds per tick) is learnt passively, without a busy-wait: the first vDSO read of
//! the process leaves a (TSC, nanoseconds) pair, and the first read at least 20 ms later
//! derives the scale from the two; until then every reading is a vDSO read. Every later
//! re-anchor (each thread, every 100 ms) refines the scale over the whole, ever longer
//! baseline. A scale that changes by more than 1 % (a suspended and resumed machine, a
//! migrated VM) restarts the calibration, and the vDSO is used meanwhile.
//!
//! Error bounds: within an anchor's 100 ms a reading is off from the vDSO by the scale error
//! times the time since the anchor. The pair for the scale is bracketed by two vDSO reads at
//! most 2 µs apart, so after 20 ms the scale is right to 1e-4 (10 µs over 100 ms) and after
//! 2 s to 1e-6 (0.1 µs); NTP slews the monotonic clock by at most 500 ppm, which after
//! calibration the TSC does not follow within an anchor: at most 50 µs per 100 ms, in
//! practice under 1 µs (NTP corrects by a few ppm). A re-anchor never moves a thread's
//! readings backwards: each thread keeps a floor, the latest reading its previous anchor could
//! have returned, so readings on one thread never decrease (they may stand still for up to
//! that error after a re-anchor). Different threads have their own anchors and may disagree by
//! the same bound; a span finished on another thread than it started on is clamped to a
//! non-negative length by its caller.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::{Duration, SystemTime};

/// Nanoseconds on the monotonic clock from the kernel (an arbitrary origin; only differences
/// mean anything).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
// `tv_nsec` is an `i64` on 64-bit targets but a `c_long` (`i32`) on some 32-bit ones.
#[allow(clippy::useless_conversion)]
fn vdso_nanos() -> i64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(t.tv_nsec))
}

/// Nanoseconds on the monotonic clock (an arbitrary origin; only differences mean anything).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[inline]
fn vdso_nanos() -> i64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    i64::try_from(origin.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

/// The time-stamp counter where the kernel can tell us whether it keeps time with it.
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    any(target_os = "linux", target_os = "android")
))]
mod tsc {
    /// Whether this target has a TSC and a way to learn the kernel's clock source.
    pub(super) const SUPPORTED: bool = true;

    /// The counter (not serialising: it may be read a few instructions early or late).
    #[inline]
    pub(super) fn read() -> u64 {
        safe_arch::read_timestamp_counter()
    }

    /// What the kernel times with.
    pub(super) fn clocksource() -> std::io::Result<String> {
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    }
}

/// No TSC here (or no way to learn whether the kernel trusts it): always the vDSO.
#[cfg(not(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    any(target_os = "linux", target_os = "android")
)))]
mod tsc {
    /// Whether this target has a TSC and a way to learn the kernel's clock source.
    pub(super) const SUPPORTED: bool = false;

    /// Never called for a reading (the mode is never [`super::MODE_TSC`]).
    #[inline]
    pub(super) fn read() -> u64 {
        0
    }

    /// No clock source to read.
    pub(super) fn clocksource() -> std::io::Result<String> {
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

/// Whether the kernel's clock source (the content of `current_clocksource`) is the TSC, so
/// that the counter is synchronised across CPUs and runs at a constant rate.
fn selects_tsc(clocksource: std::io::Result<String>) -> bool {
    matches!(clocksource, Ok(name) if name.trim() == "tsc")
}

/// How long (in nanoseconds) a thread derives times from its last anchor: the TSC path
/// re-reads the vDSO (and the wall clock) after this much TSC time, the wall-clock anchor is
/// re-read after this much monotonic time. Both bound the drift (see the module docs); a
/// step of the wall clock (set by hand, a leap second) shows within this time.
const REANCHOR_NANOS: i64 = 100_000_000;

/// The shortest baseline (nanoseconds) the TSC scale is derived from.
const MIN_CALIBRATION_NANOS: i64 = 20_000_000;

/// The longest gap between the two vDSO reads around a TSC or wall-clock read for the pair to
/// be kept (longer: the thread was interrupted between them).
const PAIR_MAX_GAP_NANOS: i64 = 2_000;

/// After an interrupted pair, how long (nanoseconds) a thread reads the vDSO before it tries to
/// anchor again (so that a thread that is always interrupted, or a machine where the vDSO is
/// slow, pays one vDSO read per reading and not a whole re-anchor).
const RETRY_NANOS: i64 = 1_000_000;

/// Fixed-point shift of the scale: nanoseconds per tick times 2^32.
const SCALE_SHIFT: u32 = 32;

/// Plausible TSC rates: 50 MHz to 20 GHz, as scales (ns per tick << 32).
const MIN_SCALE: u64 = (1u64 << SCALE_SHIFT) / 20;
const MAX_SCALE: u64 = 20 << SCALE_SHIFT;

/// Not yet decided whether to read the TSC.
const MODE_UNKNOWN: u8 = 0;
/// Read the TSC (the kernel's clock source is `tsc`).
const MODE_TSC: u8 = 1;
/// Read the vDSO only.
const MODE_VDSO: u8 = 2;

/// How often (nanoseconds of monotonic time) the kernel's clock source is read again while
/// the TSC is used: the kernel switches away from the TSC when its watchdog finds the
/// counter unstable, and so do we (within this time plus one re-anchor).
const SOURCE_RECHECK_NANOS: i64 = 10_000_000_000;

/// A process's clock: which source it reads and the TSC scale learnt so far.
struct Clock {
    /// What the kernel times with (the sysfs file; tests inject others).
    source: fn() -> std::io::Result<String>,
    /// [`MODE_UNKNOWN`], [`MODE_TSC`] or [`MODE_VDSO`].
    mode: AtomicU8,
    /// The TSC scale (ns per tick << [`SCALE_SHIFT`]); 0 until calibrated.
    scale: AtomicU64,
    /// The monotonic time from which an uncalibrated reading should try to calibrate.
    calibrate_at: AtomicI64,
    /// The calibration's state (taken with `try_lock` only: a busy lock skips a step).
    calibration: Mutex<Calibration>,
}

/// What the scale is derived from.
struct Calibration {
    /// The first (TSC, nanoseconds) pair (`None` before the first).
    base: Option<(u64, i64)>,
    /// When the clock source was last read (monotonic nanoseconds).
    source_read_at: i64,
}

impl Clock {
    /// A clock that reads the kernel's clock source at first use.
    const fn new() -> Clock {
        Clock::with_source(tsc::clocksource)
    }

    /// A clock that learns the clock source from `source` (the kernel's, or a test's).
    const fn with_source(source: fn() -> std::io::Result<String>) -> Clock {
        Clock {
            source,
            mode: AtomicU8::new(MODE_UNKNOWN),
            scale: AtomicU64::new(0),
            calibrate_at: AtomicI64::new(i64::MIN),
            calibration: Mutex::new(Calibration {
                base: None,
                source_read_at: i64::MIN,
            }),
        }
    }

    /// Whether the clock source says to read the TSC.
    fn source_is_tsc(&self) -> bool {
        tsc::SUPPORTED && selects_tsc((self.source)())
    }

    /// Whether to read the TSC (decided at the first call, re-checked while calibrating).
    fn uses_tsc(&self) -> bool {
        match self.mode.load(Ordering::Relaxed) {
            MODE_TSC => true,
            MODE_VDSO => false,
            _ => {
                let tsc = self.source_is_tsc();
                self.mode
                    .store(if tsc { MODE_TSC } else { MODE_VDSO }, Ordering::Relaxed);
                tsc
            }
        }
    }

    /// Takes a (TSC, nanoseconds) pair into the calibration; returns the scale to use (0: not
    /// calibrated yet, or no longer the TSC).
    fn observe(&self, tsc: u64, nanos: i64) -> u64 {
        let mut cal = match self.calibration.try_lock() {
            Ok(cal) => cal,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // Another thread is calibrating: use what there is.
            Err(TryLockError::WouldBlock) => return self.scale.load(Ordering::Relaxed),
        };
        if cal.source_read_at == i64::MIN {
            // `uses_tsc` read it just before.
            cal.source_read_at = nanos;
        } else if nanos.saturating_sub(cal.source_read_at) >= SOURCE_RECHECK_NANOS {
            cal.source_read_at = nanos;
            if !self.source_is_tsc() {
                // The kernel left the TSC: so do we, for good.
                self.mode.store(MODE_VDSO, Ordering::Relaxed);
                self.scale.store(0, Ordering::Relaxed);
                cal.base = None;
                return 0;
            }
        }
        let Some((base_tsc, base_nanos)) = cal.base else {
            cal.base = Some((tsc, nanos));
            self.calibrate_at.store(
                nanos.saturating_add(MIN_CALIBRATION_NANOS),
                Ordering::Relaxed,
            );
            return 0;
        };
        let current = self.scale.load(Ordering::Relaxed);
        let elapsed = nanos.saturating_sub(base_nanos);
        if (0..MIN_CALIBRATION_NANOS).contains(&elapsed) {
            return current;
        }
        let ticks = tsc.wrapping_sub(base_tsc);
        let scale = if elapsed > 0 && ticks > 0 && ticks < 1 << 63 {
            // `elapsed` < 2^63, so the shifted value fits a u128.
            u64::try_from((u128::from(elapsed.unsigned_abs()) << SCALE_SHIFT) / u128::from(ticks))
                .unwrap_or(0)
        } else {
            0
        };
        let plausible = (MIN_SCALE..=MAX_SCALE).contains(&scale)
            && (current == 0 || scale.abs_diff(current) <= current / 100);
        if plausible {
            self.scale.store(scale, Ordering::Relaxed);
            scale
        } else {
            // The counter and the clock disagree (the machine slept, the VM moved, the TSC
            // was reset): start over from this pair, on the vDSO meanwhile.
            cal.base = Some((tsc, nanos));
            self.scale.store(0, Ordering::Relaxed);
            self.calibrate_at.store(
                nanos.saturating_add(MIN_CALIBRATION_NANOS),
                Ordering::Relaxed,
            );
            0
        }
    }
}

/// The process's clock.
static CLOCK: Clock = Clock::new();

/// A thread's anchor: the pairs its readings are derived from.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    /// The TSC at `mono`.
    tsc: u64,
    /// Readings come from the TSC while `now - tsc` is below this many ticks (0: read the
    /// vDSO).
    span_ticks: u64,
    /// The scale (ns per tick << [`SCALE_SHIFT`]).
    scale: u64,
    /// Monotonic nanoseconds at `tsc`.
    mono: i64,
    /// No reading on this thread is below this: the latest its previous anchor could give.
    floor: i64,
    /// Wall-clock nanoseconds since the Unix epoch minus monotonic nanoseconds.
    wall_offset: i64,
    /// The wall-clock pair is used while the monotonic reading is below this.
    wall_until: i64,
    /// The wall-clock time at `tsc` (at most: read after it, less the pair's gap), for
    /// [`wall_now`] on the TSC path; `None` when the anchor has no TSC part.
    wall_at_tsc: Option<SystemTime>,
    /// After an interrupted pair: no new TSC anchor is tried before this monotonic time.
    retry_at: i64,
}

impl Anchor {
    /// No anchor yet.
    const EMPTY: Anchor = Anchor {
        tsc: 0,
        span_ticks: 0,
        scale: 0,
        mono: 0,
        floor: i64::MIN,
        wall_offset: 0,
        wall_until: i64::MIN,
        wall_at_tsc: None,
        retry_at: i64::MIN,
    };

    /// The reading at TSC `now`, if this anchor covers it.
    #[inline]
    fn tsc_reading(&self, now: u64) -> Option<i64> {
        let ticks = now.wrapping_sub(self.tsc);
        if ticks < self.span_ticks {
            // `ticks * scale` < 2^32 * REANCHOR_NANOS < 2^59 (see `span_ticks_for`).
            let nanos = (ticks * self.scale) >> SCALE_SHIFT;
            // `nanos` < REANCHOR_NANOS: fits an i64.
            Some(self.mono.saturating_add(nanos as i64).max(self.floor))
        } else {
            None
        }
    }

    /// The latest reading this anchor could have given by TSC `now`.
    fn latest_reading(&self, now: u64) -> i64 {
        if self.span_ticks == 0 {
            return self.floor;
        }
        let ticks = now.wrapping_sub(self.tsc);
        // Counter read on a CPU a few ticks behind: nothing later than the anchor itself.
        let ticks = if ticks >= 1 << 63 {
            0
        } else {
            ticks.min(self.span_ticks)
        };
        let nanos = (ticks * self.scale) >> SCALE_SHIFT;
        self.mono.saturating_add(nanos as i64).max(self.floor)
    }
}

/// The number of ticks an anchor covers at `scale`: [`REANCHOR_NANOS`] worth, so that
/// `ticks * scale` stays below `REANCHOR_NANOS << SCALE_SHIFT` (no overflow).
fn span_ticks_for(scale: u64) -> u64 {
    (REANCHOR_NANOS.unsigned_abs() << SCALE_SHIFT)
        .checked_div(scale)
        .unwrap_or(0)
}

thread_local! {
    /// This thread's anchor.
    static ANCHOR: Cell<Anchor> = const { Cell::new(Anchor::EMPTY) };
}

/// A fresh anchor: the vDSO, the TSC and the wall clock read together. Returns the wall-clock
/// time read, the monotonic reading paired with it, and the new anchor.
#[cold]
fn reanchor(clock: &Clock, old: Anchor) -> (SystemTime, i64, Anchor) {
    reanchor_within(clock, old, PAIR_MAX_GAP_NANOS)
}

/// [`reanchor`] with the longest gap allowed between the pair's vDSO reads (tests make every
/// pair "interrupted" with 0).
fn reanchor_within(clock: &Clock, old: Anchor, max_gap: i64) -> (SystemTime, i64, Anchor) {
    let before = vdso_nanos();
    let tsc = if clock.uses_tsc() { tsc::read() } else { 0 };
    let wall = SystemTime::now();
    let after = vdso_nanos();
    let mut anchor = old;
    anchor.floor = old.latest_reading(tsc);
    anchor.span_ticks = 0;
    anchor.wall_at_tsc = None;
    // Kept only when the reads were not interrupted (a preempted thread reads again next
    // time). The wall clock is paired with the later read, so that derived wall-clock times
    // are never later than a wall-clock read would be (by at most the time of one read).
    if !(0..max_gap).contains(&after.saturating_sub(before)) {
        anchor.retry_at = after.saturating_add(RETRY_NANOS);
    } else {
        if let Ok(since_epoch) = wall.duration_since(SystemTime::UNIX_EPOCH) {
            if let Ok(wall_nanos) = i64::try_from(since_epoch.as_nanos()) {
                anchor.wall_offset = wall_nanos.saturating_sub(after);
                anchor.wall_until = after.saturating_add(REANCHOR_NANOS);
            }
        }
        if clock.uses_tsc() {
            let scale = clock.observe(tsc, before);
            if scale != 0 {
                anchor.tsc = tsc;
                anchor.mono = before;
                anchor.scale = scale;
                anchor.span_ticks = span_ticks_for(scale);
                // The wall clock was read after the counter, by less than the pair's gap.
                let gap = Duration::from_nanos(after.saturating_sub(before).unsigned_abs());
                anchor.wall_at_tsc = wall.checked_sub(gap);
            }
        }
    }
    (wall, after.max(anchor.floor), anchor)
}

/// A monotonic reading on `clock` for a thread whose anchor does not cover now.
#[cold]
fn monotonic_slow(clock: &Clock) -> i64 {
    let Ok(old) = ANCHOR.try_with(Cell::get) else {
        return vdso_nanos();
    };
    if !clock.uses_tsc() {
        return vdso_nanos().max(old.floor);
    }
    let now = vdso_nanos();
    // Not calibrated (the vDSO until the calibration's baseline is long enough), or the last
    // pair was interrupted a moment ago.
    let calibrating = clock.scale.load(Ordering::Relaxed) == 0
        && now < clock.calibrate_at.load(Ordering::Relaxed);
    if calibrating || now < old.retry_at {
        return now.max(old.floor);
    }
    let (_, mono, anchor) = reanchor(clock, old);
    let _ = ANCHOR.try_with(|cell| cell.set(anchor));
    mono
}

/// Nanoseconds on the monotonic clock (an arbitrary origin; only differences mean anything).
#[inline]
fn monotonic_nanos_on(clock: &Clock) -> i64 {
    // Only the fields the TSC path needs are loaded; everything else is in the cold path.
    let fast = ANCHOR.try_with(|cell| {
        let anchor = cell.get();
        if anchor.span_ticks == 0 {
            return None;
        }
        anchor.tsc_reading(tsc::read())
    });
    match fast {
        Ok(Some(nanos)) => nanos,
        _ => monotonic_slow(clock),
    }
}

/// Nanoseconds on the monotonic clock (an arbitrary origin; only differences mean anything).
#[inline]
fn monotonic_nanos() -> i64 {
    monotonic_nanos_on(&CLOCK)
}

/// The wall-clock time `nanos` after the Unix epoch.
#[inline]
fn wall_from_nanos(nanos: i64) -> Option<SystemTime> {
    let nanos = u64::try_from(nanos).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
}

/// Now on both clocks from `clock`.
#[inline]
fn now_with_wall_on(clock: &Clock) -> (SystemTime, Start) {
    // The TSC path: one counter read gives both clocks.
    let fast = ANCHOR.try_with(|cell| {
        let anchor = cell.get();
        if anchor.span_ticks == 0 {
            return None;
        }
        let mono = anchor.tsc_reading(tsc::read())?;
        if mono >= anchor.wall_until {
            return None;
        }
        Some((mono, mono.saturating_add(anchor.wall_offset)))
    });
    if let Ok(Some((mono, wall_nanos))) = fast {
        if let Some(wall) = wall_from_nanos(wall_nanos) {
            return (wall, Start(mono));
        }
    }
    now_with_wall_slow(clock)
}

/// [`now_with_wall_on`] off the TSC path: the vDSO, or a new anchor.
#[cold]
fn now_with_wall_slow(clock: &Clock) -> (SystemTime, Start) {
    let mono = monotonic_nanos_on(clock);
    let Ok(anchor) = ANCHOR.try_with(Cell::get) else {
        return (SystemTime::now(), Start(mono));
    };
    if mono < anchor.wall_until {
        if let Some(wall) = wall_from_nanos(mono.saturating_add(anchor.wall_offset)) {
            return (wall, Start(mono));
        }
    }
    let (wall, mono, anchor) = reanchor(clock, anchor);
    let _ = ANCHOR.try_with(|cell| cell.set(anchor));
    (wall, Start(mono))
}

/// Now on both clocks: a monotonic start point, and the wall-clock time it is. Reads one clock,
/// not two: the wall-clock time is derived from the thread's last wall-clock read when that is
/// recent (see [`REANCHOR_NANOS`]).
pub(crate) fn now_with_wall() -> (SystemTime, Start) {
    now_with_wall_on(&CLOCK)
}

/// The wall-clock time now, derived like [`now_with_wall`]'s (a real wall-clock time, read at
/// most 100 ms ago and advanced by the monotonic clock since, at nanosecond resolution).
#[inline]
pub(crate) fn wall_now() -> SystemTime {
    // The TSC path: the anchor's wall-clock time plus the ticks since, scaled (under 100 ms,
    // so a `Duration` without a division).
    let fast = ANCHOR.try_with(|cell| {
        let anchor = cell.get();
        if anchor.span_ticks == 0 {
            return None;
        }
        let ticks = tsc::read().wrapping_sub(anchor.tsc);
        if ticks >= anchor.span_ticks {
            return None;
        }
        // Below REANCHOR_NANOS (see `span_ticks_for`): fits a u32 of nanoseconds.
        let nanos = (ticks * anchor.scale) >> SCALE_SHIFT;
        anchor
            .wall_at_tsc?
            .checked_add(Duration::new(0, u32::try_from(nanos).ok()?))
    });
    match fast {
        Ok(Some(now)) => now,
        _ => now_with_wall_on(&CLOCK).0,
    }
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

    /// Nanoseconds since this start point (never negative).
    #[inline]
    pub(crate) fn elapsed_nanos(&self) -> i64 {
        monotonic_nanos().saturating_sub(self.0).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Whether this machine takes the TSC path (the kernel times with the TSC).
    fn machine_uses_tsc() -> bool {
        tsc::SUPPORTED && selects_tsc(tsc::clocksource())
    }

    /// Runs `f` on a fresh thread (a fresh anchor) and returns its result.
    fn on_new_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().expect("test thread panicked")
    }

    fn anchor() -> Anchor {
        ANCHOR.with(Cell::get)
    }

    /// Whether reads on `clock` over the next 200 ms anchor this thread to the TSC (a read
    /// whose vDSO pair was interrupted leaves the anchoring to a later one).
    fn anchors_the_tsc(clock: &Clock) -> bool {
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            let _ = monotonic_nanos_on(clock);
            if anchor().span_ticks != 0 {
                return true;
            }
        }
        false
    }

    /// A reading between two `Instant`s.
    fn bracketed<T>(read: impl FnOnce() -> T) -> (Instant, T, Instant) {
        let before = Instant::now();
        let value = read();
        (before, value, Instant::now())
    }

    /// How far an interval may be off `Instant`'s (the scale error over the test's sleeps,
    /// anchors of different threads): generous, the clock is right to a few microseconds.
    const TOLERANCE_NANOS: i64 = 100_000;

    /// Checks that `nanos`, measured from a reading bracketed by `start` to one bracketed by
    /// `end`, is an interval `Instant` agrees with (robust to preemption: a bracket only
    /// widens).
    fn assert_interval(nanos: i64, start: (Instant, Instant), end: (Instant, Instant)) {
        let shortest = end.0.saturating_duration_since(start.1).as_nanos() as i64;
        let longest = end.1.duration_since(start.0).as_nanos() as i64;
        assert!(
            nanos >= shortest - TOLERANCE_NANOS && nanos <= longest + TOLERANCE_NANOS,
            "{nanos} ns, Instant says {shortest}..={longest}"
        );
    }

    /// Checks that readings on `clock` advance with `Instant` over sleeps, on this thread.
    fn agrees_with_instant(clock: &Clock) {
        for sleep_ms in [0u64, 1, 5, 30, 120, 3] {
            let (s0, start, s1) = bracketed(|| monotonic_nanos_on(clock));
            std::thread::sleep(Duration::from_millis(sleep_ms));
            let (e0, end, e1) = bracketed(|| monotonic_nanos_on(clock));
            assert_interval(end - start, (s0, s1), (e0, e1));
        }
    }

    /// Checks that readings on `clock` never decrease on this thread over `millis` of time,
    /// crossing several re-anchors; returns how many readings were taken.
    fn monotone_for(clock: &Clock, millis: u64) -> u64 {
        let until = Instant::now() + Duration::from_millis(millis);
        let mut last = monotonic_nanos_on(clock);
        let mut reads = 0u64;
        while Instant::now() < until {
            for _ in 0..1000 {
                let now = monotonic_nanos_on(clock);
                assert!(now >= last, "went back from {last} to {now}");
                last = now;
                reads += 1;
            }
        }
        reads
    }

    #[test]
    fn measures_an_interval() {
        let (s0, start, s1) = bracketed(Start::now);
        std::thread::sleep(Duration::from_millis(20));
        let (e0, nanos, e1) = bracketed(|| start.elapsed_nanos());
        assert!(nanos >= 19_000_000, "{nanos}");
        assert_interval(nanos, (s0, s1), (e0, e1));
    }

    #[test]
    fn the_clock_source_decides() {
        assert!(selects_tsc(Ok("tsc\n".to_string())));
        assert!(selects_tsc(Ok("tsc".to_string())));
        assert!(!selects_tsc(Ok("kvm-clock\n".to_string())));
        assert!(!selects_tsc(Ok("hpet\n".to_string())));
        assert!(!selects_tsc(Ok("tsc-early\n".to_string())));
        assert!(!selects_tsc(Ok(String::new())));
        assert!(!selects_tsc(Err(std::io::Error::from(
            std::io::ErrorKind::NotFound
        ))));
    }

    #[test]
    fn the_process_clock_agrees_with_instant_and_takes_the_tsc_path_when_the_kernel_does() {
        on_new_thread(|| {
            // Calibrated after 20 ms of process time at the latest: the sleeps cover it.
            agrees_with_instant(&CLOCK);
            std::thread::sleep(Duration::from_millis(25));
            assert_eq!(
                anchors_the_tsc(&CLOCK),
                machine_uses_tsc(),
                "{:?}",
                anchor()
            );
            agrees_with_instant(&CLOCK);
        });
    }

    #[test]
    fn the_vdso_fallback_agrees_with_instant_and_never_anchors_the_tsc() {
        // The kernel times with something else: the selection reads the injected source.
        static FALLBACK: Clock = Clock::with_source(|| Ok("kvm-clock\n".to_string()));
        on_new_thread(|| {
            agrees_with_instant(&FALLBACK);
            assert!(monotone_for(&FALLBACK, 120) > 0);
            let _ = now_with_wall_on(&FALLBACK);
            assert_eq!(anchor().span_ticks, 0);
            assert_eq!(FALLBACK.scale.load(Ordering::Relaxed), 0);
        });
    }

    #[test]
    fn readings_are_right_before_calibration_and_calibrate_passively() {
        // A clock of its own, so that the process's calibration does not interfere.
        static FRESH: Clock = Clock::new();
        if !machine_uses_tsc() {
            return;
        }
        on_new_thread(|| {
            let (s0, start, s1) = bracketed(|| monotonic_nanos_on(&FRESH));
            // The first read only leaves the calibration's first pair.
            assert_eq!(FRESH.scale.load(Ordering::Relaxed), 0);
            assert_eq!(anchor().span_ticks, 0);
            std::thread::sleep(Duration::from_millis(2));
            let (e0, early, e1) = bracketed(|| monotonic_nanos_on(&FRESH));
            assert_interval(early - start, (s0, s1), (e0, e1));
            // Still too short a baseline (2 ms of 20).
            assert_eq!(anchor().span_ticks, 0);
            std::thread::sleep(Duration::from_millis(25));
            let (e0, late, e1) = bracketed(|| monotonic_nanos_on(&FRESH));
            assert_interval(late - start, (s0, s1), (e0, e1));
            // Calibrated by a read after 20 ms (a read whose pair was interrupted leaves it to
            // the next one).
            assert!(anchors_the_tsc(&FRESH), "{:?}", anchor());
            assert_ne!(FRESH.scale.load(Ordering::Relaxed), 0);
            agrees_with_instant(&FRESH);
        });
    }

    #[test]
    fn readings_never_go_back_on_a_thread_across_reanchors() {
        let reads = on_new_thread(|| monotone_for(&CLOCK, 350));
        assert!(reads > 1000, "{reads}");
    }

    #[test]
    fn threads_have_their_own_anchors_and_agree() {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(30 + 7 * i));
                    let (s0, start, s1) = bracketed(Start::now);
                    assert!(monotone_for(&CLOCK, 130) > 0);
                    (start, (s0, s1), anchor())
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("thread panicked"))
            .collect();
        // A start taken on one thread and measured on this one agrees with `Instant`.
        for (start, bracket, _) in &results {
            let (e0, nanos, e1) = bracketed(|| start.elapsed_nanos());
            assert_interval(nanos, *bracket, (e0, e1));
        }
        if machine_uses_tsc() {
            // Each thread anchored itself (at its own moment).
            let mut anchors: Vec<u64> = results.iter().map(|(_, _, a)| a.tsc).collect();
            assert!(anchors.iter().all(|&t| t != 0), "{anchors:?}");
            anchors.sort_unstable();
            anchors.dedup();
            assert_eq!(anchors.len(), 4);
        }
    }

    #[test]
    fn the_derived_wall_clock_agrees_with_the_system_clock() {
        on_new_thread(|| {
            for sleep_ms in [0u64, 1, 30, 110, 2, 60, 0] {
                std::thread::sleep(Duration::from_millis(sleep_ms));
                let before = SystemTime::now();
                let derived = wall_now();
                let after = SystemTime::now();
                let tolerance = Duration::from_micros(500);
                assert!(derived + tolerance >= before, "{derived:?} < {before:?}");
                assert!(derived <= after + tolerance, "{derived:?} > {after:?}");
            }
            // The readings above took the TSC path where the kernel does.
            assert_eq!(
                anchor().wall_at_tsc.is_some(),
                machine_uses_tsc(),
                "{:?}",
                anchor()
            );
        });
    }

    #[test]
    fn derived_wall_clock_times_never_go_back_on_a_thread() {
        on_new_thread(|| {
            let until = Instant::now() + Duration::from_millis(250);
            let mut last = wall_now();
            while Instant::now() < until {
                let now = wall_now();
                // Only a step of the system clock itself could move it back; allow none here
                // beyond the re-anchor's own error.
                assert!(
                    now + Duration::from_micros(100) >= last,
                    "{last:?} -> {now:?}"
                );
                last = now;
            }
        });
    }

    #[test]
    fn an_anchor_scales_ticks_and_clamps_to_its_floor() {
        // 1 ns per tick (a 1 GHz counter).
        let scale = 1u64 << SCALE_SHIFT;
        let a = Anchor {
            tsc: 1_000,
            span_ticks: span_ticks_for(scale),
            scale,
            mono: 5_000_000,
            floor: i64::MIN,
            wall_offset: 0,
            wall_until: i64::MIN,
            wall_at_tsc: None,
            retry_at: i64::MIN,
        };
        assert_eq!(a.span_ticks, REANCHOR_NANOS as u64);
        assert_eq!(a.tsc_reading(1_000), Some(5_000_000));
        assert_eq!(a.tsc_reading(1_250), Some(5_000_250));
        // Past the anchor's span, or a counter behind the anchor: read the vDSO instead.
        assert_eq!(a.tsc_reading(1_000 + REANCHOR_NANOS as u64), None);
        assert_eq!(a.tsc_reading(999), None);
        // The latest reading the anchor could have given.
        assert_eq!(a.latest_reading(999), 5_000_000);
        assert_eq!(
            a.latest_reading(u64::MAX),
            5_000_000,
            "a counter behind the anchor"
        );
        assert_eq!(
            a.latest_reading(1_000 + 10 * REANCHOR_NANOS as u64),
            5_000_000 + REANCHOR_NANOS
        );
        // A floor above the scaled reading wins.
        let clamped = Anchor {
            floor: 5_000_100,
            ..a
        };
        assert_eq!(clamped.tsc_reading(1_050), Some(5_000_100));
        assert_eq!(clamped.tsc_reading(1_150), Some(5_000_150));
    }

    #[test]
    fn the_largest_span_cannot_overflow_at_any_plausible_rate() {
        for scale in [MIN_SCALE, 1 << SCALE_SHIFT, MAX_SCALE] {
            let a = Anchor {
                tsc: u64::MAX - 10,
                span_ticks: span_ticks_for(scale),
                scale,
                mono: i64::MAX - REANCHOR_NANOS,
                ..Anchor::EMPTY
            };
            let last = a.tsc.wrapping_add(a.span_ticks - 1);
            let reading = a.tsc_reading(last).expect("inside the span");
            assert!(reading > a.mono, "{reading}");
            assert!(a.span_ticks.checked_mul(scale).is_some());
        }
    }

    #[test]
    fn calibration_needs_a_baseline_and_restarts_on_a_jump() {
        let clock = Clock::with_source(|| Ok("tsc\n".to_string()));
        // 3 ticks per ns (a 3 GHz counter).
        assert_eq!(clock.observe(1_000_000, 1_000), 0);
        assert_eq!(
            clock.calibrate_at.load(Ordering::Relaxed),
            1_000 + 20_000_000
        );
        assert_eq!(clock.observe(1_000_000 + 30_000_000, 1_000 + 10_000_000), 0);
        let scale = clock.observe(1_000_000 + 60_000_000, 1_000 + 20_000_000);
        let expected = (1u64 << SCALE_SHIFT) / 3;
        assert!(scale.abs_diff(expected) <= 1, "{scale} vs {expected}");
        // A longer baseline refines it.
        let refined = clock.observe(1_000_000 + 3_000_000_000, 1_000 + 1_000_000_000);
        assert!(refined.abs_diff(expected) <= 1, "{refined} vs {expected}");
        // The counter ran 10 % slow against the clock (a suspend): start over.
        assert_eq!(
            clock.observe(1_000_000 + 6_000_000_000, 1_000 + 2_200_000_000),
            0
        );
        assert_eq!(clock.scale.load(Ordering::Relaxed), 0);
        assert_eq!(
            clock.calibrate_at.load(Ordering::Relaxed),
            1_000 + 2_200_000_000 + 20_000_000
        );
        // A counter that went back: implausible, start over again.
        assert_eq!(clock.observe(5, 1_000 + 3_000_000_000), 0);
    }

    #[test]
    fn leaves_the_tsc_when_the_kernel_does() {
        use std::sync::atomic::AtomicBool;
        static KERNEL_ON_TSC: AtomicBool = AtomicBool::new(true);
        fn source() -> std::io::Result<String> {
            let name = if KERNEL_ON_TSC.load(Ordering::SeqCst) {
                "tsc\n"
            } else {
                "hpet\n"
            };
            Ok(name.to_string())
        }
        let clock = Clock::with_source(source);
        if !tsc::SUPPORTED {
            assert!(!clock.uses_tsc());
            return;
        }
        assert!(clock.uses_tsc());
        // 3 ticks per ns.
        let at = |nanos: i64| (1_000_000 + 3 * (nanos - 1_000) as u64, nanos);
        let (t, n) = at(1_000);
        assert_eq!(clock.observe(t, n), 0);
        let (t, n) = at(20_001_000);
        assert_ne!(clock.observe(t, n), 0);
        // Re-read after 10 s: still the TSC.
        let (t, n) = at(10_000_002_000);
        assert_ne!(clock.observe(t, n), 0);
        KERNEL_ON_TSC.store(false, Ordering::SeqCst);
        // Not read again before another 10 s.
        let (t, n) = at(15_000_000_000);
        assert_ne!(clock.observe(t, n), 0);
        assert!(clock.uses_tsc());
        let (t, n) = at(20_000_003_000);
        assert_eq!(clock.observe(t, n), 0);
        assert!(!clock.uses_tsc());
        assert_eq!(clock.scale.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_default_breadcrumb_is_stamped_with_the_derived_wall_clock() {
        on_new_thread(|| {
            for sleep_ms in [0u64, 25, 110] {
                std::thread::sleep(Duration::from_millis(sleep_ms));
                let before = SystemTime::now();
                let crumb = crate::protocol::Breadcrumb {
                    message: Some("m".into()),
                    ..Default::default()
                };
                let after = SystemTime::now();
                let tolerance = Duration::from_micros(500);
                assert!(
                    crumb.timestamp + tolerance >= before,
                    "{crumb:?} < {before:?}"
                );
                assert!(
                    crumb.timestamp <= after + tolerance,
                    "{crumb:?} > {after:?}"
                );
            }
        });
    }

    #[test]
    fn an_interrupted_pair_is_not_kept_and_is_retried_after_a_while() {
        on_new_thread(|| {
            // Make sure the process clock is calibrated (or known not to use the TSC).
            let _ = anchors_the_tsc(&CLOCK);
            ANCHOR.with(|cell| cell.set(Anchor::EMPTY));
            // Every pair "interrupted": no anchor, no wall-clock pair, a retry time.
            let (_, mono, a) = reanchor_within(&CLOCK, Anchor::EMPTY, 0);
            assert_eq!(a.span_ticks, 0);
            assert_eq!(a.wall_at_tsc, None);
            assert_eq!(a.wall_until, i64::MIN);
            assert_eq!(a.retry_at, mono + RETRY_NANOS);
            ANCHOR.with(|cell| cell.set(a));
            // Meanwhile readings come from the vDSO and stay right.
            let (s0, start, s1) = bracketed(|| monotonic_nanos_on(&CLOCK));
            assert_eq!(anchor().span_ticks, 0, "anchored before the retry time");
            std::thread::sleep(Duration::from_millis(2));
            let (e0, end, e1) = bracketed(|| monotonic_nanos_on(&CLOCK));
            assert_interval(end - start, (s0, s1), (e0, e1));
            // After it, the thread anchors again.
            assert_eq!(
                anchors_the_tsc(&CLOCK),
                machine_uses_tsc(),
                "{:?}",
                anchor()
            );
        });
    }
}
