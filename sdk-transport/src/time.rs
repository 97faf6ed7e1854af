//! Timestamps in the formats the protocol uses.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Formats `time` as RFC 3339 in UTC with millisecond precision, e.g.
/// `2025-01-01T00:00:00.000Z`. Times before 1970 are written as the epoch.
pub fn format_rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `start + duration`, saturating: when the sum does not fit in an [`Instant`] (e.g. a timeout
/// of [`Duration::MAX`], meaning "wait as long as it takes"), an instant about a century later
/// (or as late as the platform allows). Use it wherever a caller's duration becomes a deadline:
/// `Instant + Duration` panics on overflow.
///
/// ```
/// use std::time::{Duration, Instant};
/// use sdk_transport::time::instant_after;
///
/// let now = Instant::now();
/// assert_eq!(instant_after(now, Duration::from_secs(2)), now + Duration::from_secs(2));
/// assert!(instant_after(now, Duration::MAX) > now + Duration::from_secs(365 * 86_400));
/// ```
pub fn instant_after(start: Instant, duration: Duration) -> Instant {
    if let Some(at) = start.checked_add(duration) {
        return at;
    }
    const YEAR: u64 = 365 * 86_400;
    [100 * YEAR, YEAR, 86_400, 1]
        .into_iter()
        .find_map(|secs| start.checked_add(Duration::from_secs(secs)))
        .unwrap_or(start)
}

/// Seconds since the Unix epoch as a float, the compact timestamp form events may use.
pub fn epoch_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(_) => 0.0,
    }
}

/// Converts days since 1970-01-01 into (year, month, day) of the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_556_088_316);
        assert_eq!(format_rfc3339(t), "2026-11-24T21:34:48.316Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(format_rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
