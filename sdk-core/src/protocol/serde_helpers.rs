//! Serde adapters for the wire forms the protocol uses: timestamps as epoch seconds (or RFC 3339
//! when read), UUIDs as 32 hex digits without dashes, addresses as `0x…` strings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;
use uuid::Uuid;

/// Seconds since the epoch as `f64`, or `0.0` for times before it.
pub(crate) fn to_epoch_f64(time: SystemTime) -> f64 {
    sdk_transport::time::epoch_seconds(time)
}

/// The time `secs` seconds after the epoch, or `None` if negative or not finite.
pub(crate) fn from_epoch_f64(secs: f64) -> Option<SystemTime> {
    if !secs.is_finite() || !(0.0..=1.0e12).contains(&secs) {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs_f64(secs))
}

/// Parses an RFC 3339 timestamp (`2026-11-24T21:34:48.316903981Z`, an offset like `+02:00`
/// is also accepted). Returns `None` for anything else.
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = num(0..4)?;
    let month = num(5..7)?;
    let day = num(8..10)?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut idx = 19;
    let mut nanos: u64 = 0;
    if b.get(idx) == Some(&b'.') {
        idx += 1;
        let start = idx;
        while idx < b.len() && b[idx].is_ascii_digit() {
            if idx - start < 9 {
                nanos = nanos * 10 + u64::from(b[idx] - b'0');
            }
            idx += 1;
        }
        let digits = idx - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset_secs: i64 = match b.get(idx) {
        Some(b'Z') | Some(b'z') if idx + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if idx + 6 == b.len() && b[idx + 3] == b':' => {
            let h = num(idx + 1..idx + 3)?;
            let m = num(idx + 4..idx + 6)?;
            let off = h * 3600 + m * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    if secs < 0 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::new(secs as u64, nanos as u32))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = SystemTime;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a timestamp: seconds since the epoch or an RFC 3339 string")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<SystemTime, E> {
        from_epoch_f64(v).ok_or_else(|| E::custom(format!("timestamp {v} is out of range")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SystemTime, E> {
        self.visit_f64(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SystemTime, E> {
        self.visit_f64(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SystemTime, E> {
        parse_rfc3339(v).ok_or_else(|| E::custom(format!("`{v}` is not an RFC 3339 timestamp")))
    }
}

/// `SystemTime` as epoch seconds (float); reads numbers or RFC 3339 strings.
pub(crate) mod timestamp {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(to_epoch_f64(*time))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        d.deserialize_any(TimestampVisitor)
    }
}

/// `Option<SystemTime>` like [`timestamp`]; use with `skip_serializing_if = "Option::is_none"`
/// and `default`.
pub(crate) mod timestamp_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        time: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(t) => s.serialize_f64(to_epoch_f64(*t)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        struct OptVisitor;
        impl<'de> Visitor<'de> for OptVisitor {
            type Value = Option<SystemTime>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a timestamp or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_any(TimestampVisitor).map(Some)
            }
        }
        d.deserialize_option(OptVisitor)
    }
}

/// `Uuid` as 32 lowercase hex digits without dashes; reads any form `Uuid` parses.
pub(crate) mod uuid_simple {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(id: &Uuid, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
        s.serialize_str(id.simple().encode_lower(&mut buf))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Uuid::parse_str(&s).map_err(|e| de::Error::custom(format!("bad event id `{s}`: {e}")))
    }

    use serde::Deserialize;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_forms() {
        let t = parse_rfc3339("2026-11-24T21:34:48.316903981Z").unwrap();
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(d.as_secs(), 1_795_556_088);
        assert_eq!(d.subsec_nanos(), 316_903_981);
        let plain = parse_rfc3339("1970-01-01T00:00:00Z").unwrap();
        assert_eq!(plain, UNIX_EPOCH);
        let offset = parse_rfc3339("1970-01-01T02:00:00+02:00").unwrap();
        assert_eq!(offset, UNIX_EPOCH);
        let leap = parse_rfc3339("2000-02-29T00:00:00.5Z").unwrap();
        assert_eq!(
            leap.duration_since(UNIX_EPOCH).unwrap(),
            Duration::from_millis(951_782_400_500)
        );
    }

    #[test]
    fn rejects_malformed_rfc3339() {
        for bad in [
            "",
            "2026-11-24",
            "2026-11-24T21:34:48",
            "2026-13-24T21:34:48Z",
            "2026-11-24T21:34:48.Z",
            "2026-11-24T21:34:48Zjunk",
            "20x6-11-24T21:34:48Z",
            "2026-11-24T21:34:48+0200",
            "ü026-11-24T21:34:48Z",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad} should be rejected");
        }
    }

    #[test]
    fn epoch_floats_out_of_range_are_rejected() {
        assert!(from_epoch_f64(-1.0).is_none());
        assert!(from_epoch_f64(f64::NAN).is_none());
        assert!(from_epoch_f64(f64::INFINITY).is_none());
        assert!(from_epoch_f64(1_795_556_088.5).is_some());
    }
}
