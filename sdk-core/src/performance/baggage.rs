//! The W3C `baggage` header (PROTOCOL.md §5.6): parse, emit and merge.
//!
//! Sentry's entries are the members whose key starts with `sentry-`; they make up the dynamic
//! sampling context. Every other member belongs to another vendor: it is kept as received (so a
//! user can read it) but the SDK never forwards it on outgoing requests.

use std::fmt::Write as _;

/// The most bytes a `baggage` header may have (W3C limit).
pub const MAX_BAGGAGE_BYTES: usize = 8192;
/// The most list members a `baggage` header may have (W3C limit).
pub const MAX_BAGGAGE_MEMBERS: usize = 180;
/// The prefix of Sentry's members.
pub const SENTRY_PREFIX: &str = "sentry-";

/// A parsed `baggage` header: Sentry's entries (prefix stripped, values decoded) and other
/// vendors' members (raw, as received).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baggage {
    sentry: Vec<(String, String)>,
    third_party: Vec<String>,
}

impl Baggage {
    /// Parses one `baggage` header value. Parsing is lenient: members that are not
    /// `key=value` are skipped, properties after `;` are ignored for Sentry members, and
    /// nothing beyond [`MAX_BAGGAGE_MEMBERS`] members or [`MAX_BAGGAGE_BYTES`] bytes is read.
    ///
    /// ```
    /// use sdk_core::performance::Baggage;
    /// let b = Baggage::parse("other=foo,sentry-release=app%401.0, sentry-sampled=true");
    /// assert_eq!(b.sentry_value("release"), Some("app@1.0"));
    /// assert_eq!(b.third_party(), ["other=foo"]);
    /// ```
    pub fn parse(header: &str) -> Baggage {
        let mut baggage = Baggage::default();
        baggage.extend_from(header);
        baggage
    }

    /// Adds the members of another `baggage` header (requests may carry several).
    pub fn extend_from(&mut self, header: &str) {
        let mut bytes = self.approximate_len();
        for member in header.split(',') {
            if self.sentry.len() + self.third_party.len() >= MAX_BAGGAGE_MEMBERS {
                break;
            }
            let member = member.trim();
            if member.is_empty() {
                continue;
            }
            bytes += member.len() + 1;
            if bytes > MAX_BAGGAGE_BYTES {
                break;
            }
            let Some((key, value)) = member.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            match key.strip_prefix(SENTRY_PREFIX) {
                Some(sentry_key) if !sentry_key.is_empty() => {
                    let value = value.split(';').next().unwrap_or("").trim();
                    let (Some(k), Some(v)) = (percent_decode(sentry_key), percent_decode(value))
                    else {
                        continue;
                    };
                    // The first occurrence wins, as for any W3C list member.
                    if !self.sentry.iter().any(|(existing, _)| *existing == k) {
                        self.sentry.push((k, v));
                    }
                }
                _ => self.third_party.push(member.to_owned()),
            }
        }
    }

    fn approximate_len(&self) -> usize {
        self.third_party.iter().map(|m| m.len() + 1).sum::<usize>()
            + self
                .sentry
                .iter()
                .map(|(k, v)| SENTRY_PREFIX.len() + k.len() + v.len() + 2)
                .sum::<usize>()
    }

    /// Sentry's entries: keys without the `sentry-` prefix, values decoded.
    pub fn sentry_entries(&self) -> &[(String, String)] {
        &self.sentry
    }

    /// The decoded value of Sentry's entry `key` (without the prefix).
    pub fn sentry_value(&self, key: &str) -> Option<&str> {
        self.sentry
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the header had any `sentry-` member.
    pub fn has_sentry_entries(&self) -> bool {
        !self.sentry.is_empty()
    }

    /// Other vendors' members, raw (`key=value;properties`).
    pub fn third_party(&self) -> &[String] {
        &self.third_party
    }

    /// Other vendors' members joined back into a header value, or `None` when there are none.
    pub fn third_party_header(&self) -> Option<String> {
        if self.third_party.is_empty() {
            None
        } else {
            Some(self.third_party.join(","))
        }
    }
}

/// Whether `b` may appear unencoded in a baggage key or value.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends `value` to `out` percent-encoded (everything but `A-Z a-z 0-9 - . _ ~`).
pub fn percent_encode_into(value: &str, out: &mut String) {
    for b in value.bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Decodes `%XX` escapes. `None` when an escape is malformed or the result is not UTF-8.
pub fn percent_decode(value: &str) -> Option<String> {
    if !value.contains('%') {
        return Some(value.to_owned());
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Merges Sentry's members (`sentry_members`, already encoded, e.g. from
/// [`DynamicSamplingContext::to_baggage`](super::DynamicSamplingContext::to_baggage)) into an
/// outgoing request's existing `baggage` value: the existing non-Sentry members are kept first,
/// any existing `sentry-` members are replaced, and members that would break the W3C limits are
/// left out. Returns `None` when the result is empty.
///
/// ```
/// use sdk_core::performance::merge_baggage;
/// let merged = merge_baggage(Some("vendor=1,sentry-release=old"), "sentry-release=new");
/// assert_eq!(merged.as_deref(), Some("vendor=1,sentry-release=new"));
/// ```
pub fn merge_baggage(existing: Option<&str>, sentry_members: &str) -> Option<String> {
    let mut out = String::new();
    let mut members = 0usize;
    let mut push = |member: &str, out: &mut String| {
        let extra = member.len() + usize::from(!out.is_empty());
        if members >= MAX_BAGGAGE_MEMBERS || out.len() + extra > MAX_BAGGAGE_BYTES {
            return;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(member);
        members += 1;
    };
    for member in existing.unwrap_or("").split(',') {
        let member = member.trim();
        if member.is_empty() || member.starts_with(SENTRY_PREFIX) {
            continue;
        }
        push(member, &mut out);
    }
    for member in sentry_members.split(',') {
        let member = member.trim();
        if !member.is_empty() {
            push(member, &mut out);
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_protocol_example_and_keeps_third_party_members() {
        let b = Baggage::parse(
            "other=foo, sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-public_key=49d0f7386ad645858ae85020e393bef3,sentry-sample_rate=0.01337,sentry-sample_rand=0.123456,sentry-sampled=true,sentry-release=app%401.0,sentry-environment=production,sentry-transaction=GET%20%2Fusers",
        );
        assert_eq!(
            b.sentry_value("trace_id"),
            Some("771a43a4192642f0b136d5159a501700")
        );
        assert_eq!(b.sentry_value("release"), Some("app@1.0"));
        assert_eq!(b.sentry_value("transaction"), Some("GET /users"));
        assert_eq!(b.sentry_value("sample_rand"), Some("0.123456"));
        assert_eq!(b.third_party(), ["other=foo"]);
        assert_eq!(b.sentry_entries().len(), 8);
    }

    #[test]
    fn skips_malformed_members_without_failing() {
        let b = Baggage::parse(",,novalue, =x,sentry-bad=%zz,sentry-=1,k=v;prop=1,sentry-ok=1;p");
        assert_eq!(b.sentry_entries(), [("ok".to_owned(), "1".to_owned())]);
        // `sentry-=1` has no Sentry key: it is somebody else's member.
        assert_eq!(b.third_party(), ["sentry-=1", "k=v;prop=1"]);
    }

    #[test]
    fn stops_at_the_member_limit() {
        let header: Vec<String> = (0..300).map(|i| format!("k{i}=v")).collect();
        let b = Baggage::parse(&header.join(","));
        assert_eq!(b.third_party().len(), MAX_BAGGAGE_MEMBERS);
    }

    #[test]
    fn encodes_and_decodes_round_trip() {
        let mut s = String::new();
        percent_encode_into("GET /users?a=b,c;d é", &mut s);
        assert!(!s.contains([',', ';', '=', ' ']));
        assert_eq!(percent_decode(&s).as_deref(), Some("GET /users?a=b,c;d é"));
        assert_eq!(percent_decode("%4"), None);
    }

    #[test]
    fn merge_replaces_sentry_members_and_respects_the_byte_limit() {
        let existing = format!("big={}", "x".repeat(MAX_BAGGAGE_BYTES - 10));
        let merged = merge_baggage(Some(&existing), "sentry-trace_id=abc").unwrap();
        assert_eq!(
            merged, existing,
            "the Sentry member did not fit and was left out"
        );
        assert_eq!(merge_baggage(None, ""), None);
        assert_eq!(
            merge_baggage(None, "sentry-a=1,sentry-b=2").as_deref(),
            Some("sentry-a=1,sentry-b=2")
        );
    }
}
