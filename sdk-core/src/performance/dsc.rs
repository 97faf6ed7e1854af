//! The dynamic sampling context (DSC, PROTOCOL.md §5.6).
//!
//! The head of a trace builds it the first time it leaves the SDK (outgoing request or
//! envelope) and freezes it; an incoming DSC is frozen at once and forwarded unchanged. It
//! travels as `sentry-` members of `baggage` and as the envelope header `trace`.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

use sdk_transport::{ItemPayload, PayloadError};

use super::baggage::{percent_encode_into, Baggage, SENTRY_PREFIX};
use crate::ids::TraceId;

/// The dynamic sampling context. All values are strings on the wire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DynamicSamplingContext {
    /// `trace_id`: must equal the transaction's trace id.
    pub trace_id: Option<TraceId>,
    /// `public_key`: the DSN public key of the head SDK.
    pub public_key: Option<Arc<str>>,
    /// `sample_rate`: the rate the head used, as a string (e.g. `"0.25"`).
    pub sample_rate: Option<Cow<'static, str>>,
    /// `sample_rand`: the trace's random value in [0, 1), 6 decimals.
    pub sample_rand: Option<String>,
    /// `sampled`: the head's decision; `None` when deferred.
    pub sampled: Option<bool>,
    /// `release`.
    pub release: Option<Arc<str>>,
    /// `environment`.
    pub environment: Option<Arc<str>>,
    /// `transaction`: only when the name's source is not `url`.
    pub transaction: Option<Cow<'static, str>>,
    /// `org_id`.
    pub org_id: Option<Arc<str>>,
    /// `replay_id`.
    pub replay_id: Option<String>,
    /// Other `sentry-` keys received from upstream, forwarded unchanged.
    pub other: Vec<(String, String)>,
}

/// Formats a sample rate the way the DSC carries it (`1`, `0.25`).
pub(crate) fn format_rate(rate: f64) -> Cow<'static, str> {
    if rate == 1.0 {
        Cow::Borrowed("1")
    } else if rate == 0.0 {
        Cow::Borrowed("0")
    } else {
        Cow::Owned(format!("{rate}"))
    }
}

/// Formats a `sample_rand` in [0, 1) with 6 decimals (without the float formatter: this runs
/// when a transaction finishes).
pub(crate) fn format_rand(rand: f64) -> String {
    if !(0.0..1.0).contains(&rand) {
        return format!("{rand:.6}");
    }
    let mut micros = (rand * 1_000_000.0).round() as u32;
    if micros >= 1_000_000 {
        micros = 999_999;
    }
    let mut out = String::with_capacity(8);
    out.push_str("0.");
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    for d in digits {
        out.push(d as char);
    }
    out
}

impl DynamicSamplingContext {
    /// The DSC carried by an incoming `baggage` header, or `None` when it has no `sentry-`
    /// members.
    pub fn from_baggage(baggage: &Baggage) -> Option<DynamicSamplingContext> {
        if !baggage.has_sentry_entries() {
            return None;
        }
        let mut dsc = DynamicSamplingContext::default();
        for (key, value) in baggage.sentry_entries() {
            match key.as_str() {
                "trace_id" => match value.parse() {
                    Ok(id) => dsc.trace_id = Some(id),
                    Err(_) => dsc.other.push((key.clone(), value.clone())),
                },
                "public_key" => dsc.public_key = Some(Arc::from(value.as_str())),
                "sample_rate" => dsc.sample_rate = Some(Cow::Owned(value.clone())),
                "sample_rand" => dsc.sample_rand = Some(value.clone()),
                "sampled" => match value.as_str() {
                    "true" => dsc.sampled = Some(true),
                    "false" => dsc.sampled = Some(false),
                    _ => dsc.other.push((key.clone(), value.clone())),
                },
                "release" => dsc.release = Some(Arc::from(value.as_str())),
                "environment" => dsc.environment = Some(Arc::from(value.as_str())),
                "transaction" => dsc.transaction = Some(Cow::Owned(value.clone())),
                "org_id" => dsc.org_id = Some(Arc::from(value.as_str())),
                "replay_id" => dsc.replay_id = Some(value.clone()),
                _ => dsc.other.push((key.clone(), value.clone())),
            }
        }
        Some(dsc)
    }

    /// The `sample_rate` as a number, when present and valid.
    pub fn sample_rate_f64(&self) -> Option<f64> {
        self.sample_rate
            .as_deref()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|r| (0.0..=1.0).contains(r))
    }

    /// The `sample_rand` as a number, when present and in [0, 1).
    pub fn sample_rand_f64(&self) -> Option<f64> {
        self.sample_rand
            .as_deref()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|r| (0.0..1.0).contains(r))
    }

    /// The `(key, value)` pairs in wire order, values as strings.
    pub fn entries(&self) -> Vec<(&str, String)> {
        let mut out: Vec<(&str, String)> = Vec::with_capacity(10 + self.other.len());
        if let Some(id) = self.trace_id {
            out.push(("trace_id", id.to_string()));
        }
        let strs: [(&str, Option<&str>); 2] = [
            ("public_key", self.public_key.as_deref()),
            ("sample_rate", self.sample_rate.as_deref()),
        ];
        for (key, value) in strs {
            if let Some(value) = value {
                out.push((key, value.to_owned()));
            }
        }
        if let Some(rand) = &self.sample_rand {
            out.push(("sample_rand", rand.clone()));
        }
        if let Some(sampled) = self.sampled {
            out.push(("sampled", if sampled { "true" } else { "false" }.to_owned()));
        }
        let rest: [(&str, Option<&str>); 5] = [
            ("release", self.release.as_deref()),
            ("environment", self.environment.as_deref()),
            ("transaction", self.transaction.as_deref()),
            ("org_id", self.org_id.as_deref()),
            ("replay_id", self.replay_id.as_deref()),
        ];
        for (key, value) in rest {
            if let Some(value) = value {
                out.push((key, value.to_owned()));
            }
        }
        for (key, value) in &self.other {
            out.push((key.as_str(), value.clone()));
        }
        out
    }

    /// Sentry's `baggage` members (`sentry-key=value`, encoded, comma-separated); empty for an
    /// empty DSC.
    ///
    /// ```
    /// use sdk_core::performance::DynamicSamplingContext;
    /// let dsc = DynamicSamplingContext {
    ///     release: Some("app@1.0".into()),
    ///     sampled: Some(true),
    ///     ..Default::default()
    /// };
    /// assert_eq!(dsc.to_baggage(), "sentry-sampled=true,sentry-release=app%401.0");
    /// ```
    pub fn to_baggage(&self) -> String {
        let mut out = String::with_capacity(256);
        for (key, value) in self.entries() {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(SENTRY_PREFIX);
            percent_encode_into(key, &mut out);
            out.push('=');
            percent_encode_into(&value, &mut out);
        }
        out
    }

    /// The DSC as the JSON object of the envelope header `trace`.
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .entries()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
            .collect();
        serde_json::Value::Object(map)
    }
}

impl ItemPayload for DynamicSamplingContext {
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        out.push(b'{');
        for (i, (key, value)) in self.entries().into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, key)?;
            out.push(b':');
            serde_json::to_writer(&mut *out, &value)?;
        }
        out.push(b'}');
        Ok(())
    }

    fn size_hint(&self) -> usize {
        256
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming_baggage_round_trips_unchanged() {
        let header = "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-public_key=49d0f7386ad645858ae85020e393bef3,sentry-sample_rate=0.01337,sentry-sample_rand=0.123456,sentry-sampled=false,sentry-release=app%401.0,sentry-environment=production,sentry-transaction=GET%20%2Fusers,sentry-org_id=17,sentry-future_key=x";
        let dsc = DynamicSamplingContext::from_baggage(&Baggage::parse(header)).unwrap();
        assert_eq!(dsc.sampled, Some(false));
        assert_eq!(dsc.sample_rate_f64(), Some(0.01337));
        assert_eq!(dsc.sample_rand_f64(), Some(0.123456));
        assert_eq!(dsc.org_id.as_deref(), Some("17"));
        assert_eq!(dsc.other, [("future_key".to_owned(), "x".to_owned())]);
        assert_eq!(dsc.to_baggage(), header);
    }

    #[test]
    fn writes_the_trace_header_with_string_values() {
        let dsc = DynamicSamplingContext {
            trace_id: Some("139a497ecaf5d3a69647835310429e47".parse().unwrap()),
            public_key: Some("public".into()),
            sample_rate: Some(format_rate(1.0)),
            sample_rand: Some(format_rand(0.5)),
            sampled: Some(true),
            ..Default::default()
        };
        let mut out = Vec::new();
        dsc.write_to(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "trace_id": "139a497ecaf5d3a69647835310429e47",
                "public_key": "public",
                "sample_rate": "1",
                "sample_rand": "0.500000",
                "sampled": "true",
            })
        );
        assert_eq!(v, dsc.to_json());
    }

    #[test]
    fn numbers_are_formatted_as_the_protocol_shows_them() {
        assert_eq!(format_rand(0.5), "0.500000");
        assert_eq!(format_rand(0.123456), "0.123456");
        assert_eq!(format_rand(0.000001), "0.000001");
        assert_eq!(format_rand(0.999999), "0.999999");
        assert_eq!(format_rate(1.0), "1");
        assert_eq!(format_rate(0.0), "0");
        assert_eq!(format_rate(0.25), "0.25");
    }

    #[test]
    fn baggage_without_sentry_members_is_no_dsc() {
        assert!(DynamicSamplingContext::from_baggage(&Baggage::parse("a=b")).is_none());
    }
}
