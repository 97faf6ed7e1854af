//! Parsing envelope bytes back into an [`Envelope`] (PROTOCOL.md §3.1).
//!
//! The parser reads what any SDK may send: items with an explicit `length` and
//! newline-delimited items without one, with or without a final newline, and envelopes that
//! hold only a header. Malformed input is rejected with a [`ParseError`] that says where and
//! what is wrong; no input makes it panic. Payloads become [`Payload::Bytes`], so a parsed
//! envelope can be written again with [`Envelope::to_vec`] (the mock server, the offline spool
//! and the tests rely on this).
//!
//! ```
//! use sdk_transport::{Envelope, ItemType};
//!
//! let bytes = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
//! {\"type\":\"event\",\"length\":16}\n{\"message\":\"hi\"}\n";
//! let envelope = Envelope::from_slice(bytes).unwrap();
//! assert_eq!(envelope.items.len(), 1);
//! assert_eq!(envelope.items[0].item_type, ItemType::Event);
//! assert_eq!(envelope.items[0].payload.as_bytes(), Some(&b"{\"message\":\"hi\"}"[..]));
//! // Written again, it is the same bytes.
//! assert_eq!(envelope.to_vec().unwrap(), bytes);
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::envelope::{Envelope, EnvelopeHeaders, EnvelopeItem, ItemType, Payload};

/// Which header line of an envelope an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The first line: the envelope header.
    EnvelopeHeader,
    /// The header of the item at this index (0-based).
    ItemHeader(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::EnvelopeHeader => f.write_str("the envelope header"),
            Location::ItemHeader(index) => write!(f, "the header of item {index}"),
        }
    }
}

/// Why envelope bytes could not be parsed. Each message says what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The input has no bytes at all; an envelope needs at least a header line (`{}`).
    Empty,
    /// A header line is not valid UTF-8.
    NotUtf8 {
        /// The line.
        location: Location,
    },
    /// A header line is not valid JSON.
    BadJson {
        /// The line.
        location: Location,
        /// What the JSON parser said.
        message: String,
    },
    /// A header line is valid JSON but not an object.
    NotAnObject {
        /// The line.
        location: Location,
    },
    /// An item header has no `type` key.
    MissingType {
        /// Index of the item.
        item: usize,
    },
    /// A known header key has a value of the wrong type or form (`type` not a string,
    /// `length` not a non-negative integer, `event_id` not a UUID, `sent_at` not a date...).
    BadHeaderValue {
        /// The line.
        location: Location,
        /// The header key.
        key: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// An item's `length` runs past the end of the input.
    LengthBeyondEnd {
        /// Index of the item.
        item: usize,
        /// The declared length.
        length: u64,
        /// The bytes that were left.
        available: usize,
    },
    /// The `length` bytes of an item's payload are followed by something other than a newline.
    MissingNewline {
        /// Index of the item.
        item: usize,
        /// The byte found where `\n` was expected.
        found: u8,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str(
                "the envelope is empty: it must start with a JSON header line such as `{}`",
            ),
            ParseError::NotUtf8 { location } => {
                write!(f, "{location} is not valid UTF-8: header lines must be UTF-8 JSON")
            }
            ParseError::BadJson { location, message } => {
                write!(f, "{location} is not valid JSON ({message}): each header is one line of JSON")
            }
            ParseError::NotAnObject { location } => {
                write!(f, "{location} is not a JSON object: headers must be `{{...}}`")
            }
            ParseError::MissingType { item } => write!(
                f,
                "the header of item {item} has no `type`: every item header needs one, e.g. {{\"type\":\"event\"}}"
            ),
            ParseError::BadHeaderValue {
                location,
                key,
                expected,
            } => write!(f, "`{key}` in {location} must be {expected}"),
            ParseError::LengthBeyondEnd {
                item,
                length,
                available,
            } => write!(
                f,
                "item {item} declares `length` {length} but only {available} bytes follow its header: the envelope is truncated or the length is wrong"
            ),
            ParseError::MissingNewline { item, found } => write!(
                f,
                "the payload of item {item} is followed by byte 0x{found:02x} instead of a newline: its `length` does not match the payload"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

impl Envelope {
    /// Parses envelope bytes (see the [module documentation](crate::parse)).
    pub fn from_slice(bytes: &[u8]) -> Result<Envelope, ParseError> {
        parse_envelope(bytes)
    }
}

impl Payload {
    /// The bytes of a [`Payload::Bytes`] payload (parsed envelopes only have these); `None` for
    /// a lazy payload, which has no bytes until it is written.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Payload::Bytes(bytes) => Some(bytes),
            Payload::Lazy(_) => None,
        }
    }
}

/// Parses envelope bytes into an [`Envelope`] whose payloads are [`Payload::Bytes`].
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let (line, mut rest) = split_line(bytes);
    let headers = parse_envelope_headers(line)?;
    let mut items = Vec::new();
    while !rest.is_empty() {
        let index = items.len();
        let (line, after_header) = split_line(rest);
        let (item, after_item) = parse_item(index, line, after_header)?;
        items.push(item);
        rest = after_item;
    }
    Ok(Envelope { headers, items })
}

/// Splits at the first `\n`: (line without the newline, the rest after it).
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

fn parse_object(line: &[u8], location: Location) -> Result<Map<String, Value>, ParseError> {
    let text = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8 { location })?;
    let value: Value = serde_json::from_str(text).map_err(|err| ParseError::BadJson {
        location,
        message: err.to_string(),
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ParseError::NotAnObject { location }),
    }
}

fn parse_envelope_headers(line: &[u8]) -> Result<EnvelopeHeaders, ParseError> {
    let location = Location::EnvelopeHeader;
    let bad = |key: &'static str, expected: &'static str| ParseError::BadHeaderValue {
        location,
        key,
        expected,
    };
    let mut map = parse_object(line, location)?;
    let mut headers = EnvelopeHeaders::default();
    match map.remove("event_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            headers.event_id =
                Some(Uuid::parse_str(&s).map_err(|_| bad("event_id", "a UUID (32 hex digits)"))?);
        }
        Some(_) => return Err(bad("event_id", "a UUID string")),
    }
    match map.remove("dsn") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => headers.dsn = Some(s),
        Some(_) => return Err(bad("dsn", "a string")),
    }
    match map.remove("sent_at") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            headers.sent_at = Some(parse_rfc3339(&s).ok_or_else(|| {
                bad(
                    "sent_at",
                    "an RFC 3339 date such as 2025-01-01T00:00:00.000Z",
                )
            })?);
        }
        Some(Value::Number(n)) => {
            headers.sent_at = Some(
                n.as_f64()
                    .and_then(epoch_to_system_time)
                    .ok_or_else(|| bad("sent_at", "a non-negative number of seconds"))?,
            );
        }
        Some(_) => return Err(bad("sent_at", "an RFC 3339 date string")),
    }
    for (key, slot) in [("sdk", &mut headers.sdk), ("trace", &mut headers.trace)] {
        match map.remove(key) {
            None | Some(Value::Null) => {}
            Some(value @ Value::Object(_)) => {
                // Re-serialising a parsed `Value` cannot fail (all keys are strings).
                *slot = Some(Payload::bytes(value.to_string().into_bytes()));
            }
            Some(_) => {
                return Err(bad(
                    if key == "sdk" { "sdk" } else { "trace" },
                    "a JSON object",
                ))
            }
        }
    }
    // The writer keeps milliseconds; so does the parser, so that a parsed envelope writes and
    // parses again to the same `sent_at`.
    headers.sent_at = headers.sent_at.map(truncate_to_millis);
    headers.other = map;
    Ok(headers)
}

/// Parses one item whose header line is `line`; `rest` is what follows the header's newline.
/// Returns the item and what follows it.
fn parse_item<'a>(
    index: usize,
    line: &[u8],
    rest: &'a [u8],
) -> Result<(EnvelopeItem, &'a [u8]), ParseError> {
    let location = Location::ItemHeader(index);
    let bad = |key: &'static str, expected: &'static str| ParseError::BadHeaderValue {
        location,
        key,
        expected,
    };
    let mut map = parse_object(line, location)?;
    let item_type = match map.remove("type") {
        None | Some(Value::Null) => return Err(ParseError::MissingType { item: index }),
        Some(Value::String(s)) => ItemType::from_name(&s),
        Some(_) => return Err(bad("type", "a string")),
    };
    let length = match map.remove("length") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| bad("length", "a non-negative integer"))?,
        ),
        Some(_) => return Err(bad("length", "a non-negative integer")),
    };
    let mut take_string = |key: &'static str| -> Result<Option<String>, ParseError> {
        match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(key, "a string")),
        }
    };
    let content_type = take_string("content_type")?;
    let filename = take_string("filename")?;
    let attachment_type = take_string("attachment_type")?;
    let platform = take_string("platform")?;
    let item_count = match map.remove("item_count") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad("item_count", "a non-negative 32-bit integer"))?,
        ),
        Some(_) => return Err(bad("item_count", "a non-negative integer")),
    };

    let (payload, after) = match length {
        Some(length) => {
            let len = usize::try_from(length)
                .ok()
                .filter(|&len| len <= rest.len())
                .ok_or(ParseError::LengthBeyondEnd {
                    item: index,
                    length,
                    available: rest.len(),
                })?;
            let (payload, after) = rest.split_at(len);
            let after = match after.first() {
                None => after,
                Some(b'\n') => &after[1..],
                Some(&found) => return Err(ParseError::MissingNewline { item: index, found }),
            };
            (payload, after)
        }
        None => split_line(rest),
    };

    let mut item = EnvelopeItem::new(item_type, Payload::bytes(payload));
    item.content_type = content_type.map(Cow::Owned);
    item.filename = filename;
    item.attachment_type = attachment_type;
    item.platform = platform;
    item.item_count = item_count;
    item.other_headers = map;
    if let Some(count) = item_count {
        if matches!(
            item.item_type,
            ItemType::Log | ItemType::Span | ItemType::TraceMetric
        ) {
            item.quantity = count;
        }
    }
    if item.item_type == ItemType::Transaction {
        item.span_count = count_spans(payload);
    }
    Ok((item, after))
}

/// Counts the entries of a transaction's `spans` array without building them; 0 when the
/// payload is not a JSON object with such an array.
fn count_spans(payload: &[u8]) -> u32 {
    use serde::de::{Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};

    struct SpanCount(u32);

    impl<'de> Deserialize<'de> for SpanCount {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct CountVisitor;
            impl<'de> Visitor<'de> for CountVisitor {
                type Value = SpanCount;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an array of spans")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpanCount, A::Error> {
                    let mut count = 0u32;
                    while seq.next_element::<IgnoredAny>()?.is_some() {
                        count = count.saturating_add(1);
                    }
                    Ok(SpanCount(count))
                }
            }
            deserializer.deserialize_seq(CountVisitor)
        }
    }

    #[derive(serde::Deserialize)]
    struct Transaction {
        #[serde(default)]
        spans: Option<SpanCount>,
    }

    serde_json::from_slice::<Transaction>(payload)
        .ok()
        .and_then(|t| t.spans)
        .map_or(0, |c| c.0)
}

fn truncate_to_millis(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => UNIX_EPOCH + Duration::from_millis(since.as_millis() as u64),
        Err(_) => UNIX_EPOCH,
    }
}

fn epoch_to_system_time(secs: f64) -> Option<SystemTime> {
    if !(0.0..=1e12).contains(&secs) {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::from_secs_f64(secs))
}

/// Parses an RFC 3339 date-time (`2025-01-01T00:00:00.123Z`, `...+02:00`); `None` if invalid.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        digits
            .iter()
            .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut nanos = 0u32;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            if pos - start < 9 {
                nanos = nanos * 10 + u32::from(b[pos] - b'0');
            }
            pos += 1;
        }
        if pos == start {
            return None;
        }
        for _ in (pos - start)..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match b.get(pos)? {
        b'Z' | b'z' if pos + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if pos + 6 == b.len() && b[pos + 3] == b':' => {
            let (h, m) = (num(pos + 1..pos + 3)?, num(pos + 4..pos + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = h * 3600 + m * 60;
            if *sign == b'+' {
                offset
            } else {
                -offset
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    fn parse(bytes: &[u8]) -> Result<Envelope, ParseError> {
        parse_envelope(bytes)
    }

    fn payload(item: &EnvelopeItem) -> &[u8] {
        item.payload.as_bytes().expect("parsed payloads are bytes")
    }

    const EXAMPLE: &[u8] = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"sent_at\":\"2025-01-01T00:00:00.000Z\",\"sdk\":{\"name\":\"sentry.rust\",\"version\":\"0.1.0\"}}\n\
{\"type\":\"attachment\",\"length\":10,\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}\n\
\xef\xbb\xbfHello\r\n\n\
{\"type\":\"event\",\"length\":41,\"content_type\":\"application/json\"}\n\
{\"message\":\"hello world\",\"level\":\"error\"}\n";

    #[test]
    fn parses_the_protocol_example() {
        let envelope = parse(EXAMPLE).unwrap();
        assert_eq!(
            envelope.headers.event_id.unwrap().simple().to_string(),
            "9ec79c33ec9942ab8353589fcb2e04dc"
        );
        assert_eq!(
            format_rfc3339(envelope.headers.sent_at.unwrap()),
            "2025-01-01T00:00:00.000Z"
        );
        let sdk = envelope.headers.sdk.as_ref().unwrap().as_bytes().unwrap();
        assert_eq!(sdk, br#"{"name":"sentry.rust","version":"0.1.0"}"#);
        assert_eq!(envelope.items.len(), 2);
        let attachment = &envelope.items[0];
        assert_eq!(attachment.item_type, ItemType::Attachment);
        assert_eq!(attachment.filename.as_deref(), Some("hello.txt"));
        assert_eq!(attachment.content_type.as_deref(), Some("text/plain"));
        assert_eq!(payload(attachment), b"\xef\xbb\xbfHello\r\n");
        assert_eq!(attachment.quantity, 10);
        let event = &envelope.items[1];
        assert_eq!(event.item_type, ItemType::Event);
        assert_eq!(
            payload(event),
            br#"{"message":"hello world","level":"error"}"#
        );
    }

    #[test]
    fn round_trips_with_the_writer() {
        let envelope = parse(EXAMPLE).unwrap();
        assert_eq!(envelope.to_vec().unwrap(), EXAMPLE);
    }

    #[test]
    fn reads_items_without_length() {
        let bytes =
            b"{}\n{\"type\":\"session\"}\n{\"sid\":\"a\"}\n{\"type\":\"session\"}\n{\"sid\":\"b\"}";
        let envelope = parse(bytes).unwrap();
        assert_eq!(envelope.items.len(), 2);
        assert_eq!(payload(&envelope.items[0]), br#"{"sid":"a"}"#);
        assert_eq!(payload(&envelope.items[1]), br#"{"sid":"b"}"#);
    }

    #[test]
    fn tolerates_missing_final_newline_and_header_only_envelopes() {
        let envelope = parse(b"{}\n{\"type\":\"event\",\"length\":2}\n{}").unwrap();
        assert_eq!(payload(&envelope.items[0]), b"{}");
        assert!(parse(b"{}").unwrap().items.is_empty());
        assert!(parse(b"{}\n").unwrap().items.is_empty());
        let envelope = parse(b"{\"event_id\":\"9ec79c33-ec99-42ab-8353-589fcb2e04dc\"}").unwrap();
        assert!(envelope.headers.event_id.is_some());
    }

    #[test]
    fn empty_payloads() {
        let envelope =
            parse(b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"x\"}\n").unwrap();
        assert_eq!(envelope.items.len(), 2);
        assert_eq!(payload(&envelope.items[0]), b"");
        assert_eq!(payload(&envelope.items[1]), b"");
        assert_eq!(envelope.items[1].item_type, ItemType::Other("x".into()));
        // A header at the very end with length 0 is an empty payload too.
        let envelope = parse(b"{}\n{\"type\":\"attachment\",\"length\":0}").unwrap();
        assert_eq!(payload(&envelope.items[0]), b"");
    }

    #[test]
    fn keeps_unknown_headers_and_rewrites_them() {
        let bytes =
            b"{\"custom\":{\"a\":1}}\n{\"type\":\"weird\",\"length\":1,\"extra\":true}\nx\n";
        let envelope = parse(bytes).unwrap();
        assert_eq!(
            envelope.headers.other["custom"],
            serde_json::json!({"a": 1})
        );
        assert_eq!(envelope.items[0].other_headers["extra"], Value::Bool(true));
        assert_eq!(envelope.to_vec().unwrap(), bytes);
    }

    #[test]
    fn counts_spans_and_container_items() {
        let tx = br#"{"type":"transaction","spans":[{"span_id":"a"},{"span_id":"b"},{}]}"#;
        let mut bytes = format!(
            "{{}}\n{{\"type\":\"transaction\",\"length\":{}}}\n",
            tx.len()
        )
        .into_bytes();
        bytes.extend_from_slice(tx);
        bytes.extend_from_slice(b"\n{\"type\":\"log\",\"item_count\":3,\"length\":2}\n{}\n");
        let envelope = parse(&bytes).unwrap();
        assert_eq!(envelope.items[0].span_count, 3);
        assert_eq!(envelope.items[1].item_count, Some(3));
        assert_eq!(envelope.items[1].quantity, 3);
    }

    #[test]
    fn each_malformed_case_has_its_error() {
        use Location::*;
        let err = |bytes: &[u8]| parse(bytes).err();
        assert_eq!(err(b""), Some(ParseError::Empty));
        assert!(matches!(
            err(b"{not json}\n"),
            Some(ParseError::BadJson {
                location: EnvelopeHeader,
                ..
            })
        ));
        assert_eq!(
            err(b"[1,2]\n"),
            Some(ParseError::NotAnObject {
                location: EnvelopeHeader
            })
        );
        assert_eq!(
            err(b"{\"a\":\"\xff\xfe\"}\n"),
            Some(ParseError::NotUtf8 {
                location: EnvelopeHeader
            })
        );
        assert_eq!(
            err(b"{}\n{\"type\":\"\xc3\x28\"}\n"),
            Some(ParseError::NotUtf8 {
                location: ItemHeader(0)
            })
        );
        assert_eq!(
            err(b"{}\n\"event\"\n{}\n"),
            Some(ParseError::NotAnObject {
                location: ItemHeader(0)
            })
        );
        assert!(matches!(
            err(b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n{oops\n"),
            Some(ParseError::BadJson {
                location: ItemHeader(1),
                ..
            })
        ));
        assert!(matches!(
            err(b"{}\n\n"),
            Some(ParseError::BadJson {
                location: ItemHeader(0),
                ..
            })
        ));
        assert_eq!(
            err(b"{}\n{\"length\":2}\n{}\n"),
            Some(ParseError::MissingType { item: 0 })
        );
        assert_eq!(
            err(b"{}\n{\"type\":7}\n{}\n"),
            Some(ParseError::BadHeaderValue {
                location: ItemHeader(0),
                key: "type",
                expected: "a string"
            })
        );
        assert!(matches!(
            err(b"{}\n{\"type\":\"event\",\"length\":-1}\n{}\n"),
            Some(ParseError::BadHeaderValue { key: "length", .. })
        ));
        assert!(matches!(
            err(b"{}\n{\"type\":\"event\",\"length\":\"2\"}\n{}\n"),
            Some(ParseError::BadHeaderValue { key: "length", .. })
        ));
        assert_eq!(
            err(b"{}\n{\"type\":\"event\",\"length\":10}\n{}\n"),
            Some(ParseError::LengthBeyondEnd {
                item: 0,
                length: 10,
                available: 3
            })
        );
        assert_eq!(
            err(b"{}\n{\"type\":\"event\",\"length\":18446744073709551615}\n{}"),
            Some(ParseError::LengthBeyondEnd {
                item: 0,
                length: u64::MAX,
                available: 2
            })
        );
        assert_eq!(
            err(b"{}\n{\"type\":\"event\",\"length\":1}\n{}\n"),
            Some(ParseError::MissingNewline {
                item: 0,
                found: b'}'
            })
        );
        assert!(matches!(
            err(b"{\"event_id\":\"nope\"}\n"),
            Some(ParseError::BadHeaderValue {
                location: EnvelopeHeader,
                key: "event_id",
                ..
            })
        ));
        assert!(matches!(
            err(b"{\"sent_at\":\"yesterday\"}\n"),
            Some(ParseError::BadHeaderValue { key: "sent_at", .. })
        ));
        assert!(matches!(
            err(b"{\"sdk\":\"x\"}\n"),
            Some(ParseError::BadHeaderValue { key: "sdk", .. })
        ));
        assert!(matches!(
            err(b"{}\n{\"type\":\"attachment\",\"filename\":3}\n"),
            Some(ParseError::BadHeaderValue {
                key: "filename",
                ..
            })
        ));
        assert!(matches!(
            err(b"{}\n{\"type\":\"log\",\"item_count\":5000000000}\n"),
            Some(ParseError::BadHeaderValue {
                key: "item_count",
                ..
            })
        ));
    }

    #[test]
    fn error_messages_say_what_to_fix() {
        let err = parse(b"{}\n{\"type\":\"event\",\"length\":10}\n{}").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("item 0") && text.contains("length"), "{text}");
        let text = parse(b"{}\n{\"length\":2}\n{}\n").unwrap_err().to_string();
        assert!(text.contains("`type`"), "{text}");
    }

    #[test]
    fn sent_at_keeps_milliseconds_like_the_writer() {
        for header in [
            &b"{\"sent_at\":\"2025-01-01T00:00:00.123456789Z\"}"[..],
            b"{\"sent_at\":1735689600.1234567}",
        ] {
            let envelope = parse(header).unwrap();
            let again = parse(&envelope.to_vec().unwrap()).unwrap();
            assert_eq!(again.headers.sent_at, envelope.headers.sent_at);
            assert_eq!(
                format_rfc3339(envelope.headers.sent_at.unwrap()),
                "2025-01-01T00:00:00.123Z"
            );
        }
    }

    #[test]
    fn rfc3339_forms() {
        let t = |s: &str| parse_rfc3339(s).map(format_rfc3339);
        assert_eq!(
            t("2025-01-01T00:00:00Z").as_deref(),
            Some("2025-01-01T00:00:00.000Z")
        );
        assert_eq!(
            t("2000-02-29T23:59:59.123456789Z").as_deref(),
            Some("2000-02-29T23:59:59.123Z")
        );
        assert_eq!(
            t("2025-01-01T02:30:00.5+02:30").as_deref(),
            Some("2025-01-01T00:00:00.500Z")
        );
        assert_eq!(
            t("2024-12-31T23:00:00-01:00").as_deref(),
            Some("2025-01-01T00:00:00.000Z")
        );
        assert_eq!(
            t("2026-11-24T21:34:48.316Z").as_deref(),
            Some("2026-11-24T21:34:48.316Z")
        );
        for bad in [
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00.Z",
            "2025-01-01T00:00:00Zjunk",
            "1969-12-31T23:59:59Z",
            "２025-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
