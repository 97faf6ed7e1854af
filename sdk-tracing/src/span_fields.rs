//! Reading a span's fields: Sentry's special fields, and the rest as span data keyed by the
//! field's own `&'static str` name (no key is copied).

use std::fmt::{self, Write as _};

use sdk_core::performance::SpanData;

use crate::fields::Special;
use serde_json::Value;
use tracing_core::field::{Field, Visit};

/// The fields of one span (at creation or in a later `record`).
#[derive(Default)]
pub(crate) struct SpanFields {
    /// `sentry.op`: the span's operation.
    pub(crate) op: Option<String>,
    /// `sentry.name` / `otel.name`: the span's (or transaction's) name.
    pub(crate) name: Option<String>,
    /// `sentry.trace` / `sentry_trace`: an incoming `sentry-trace` header to continue.
    pub(crate) trace: Option<String>,
    /// Every other field but `message`.
    pub(crate) data: SpanData,
}

impl SpanFields {
    /// Files one field. Generic over the value, so that a data value is converted to JSON
    /// inside `SpanData::insert`, in place, instead of being built here and moved through the
    /// calls.
    #[inline(always)]
    fn put<V: Into<Value>>(&mut self, field: &Field, value: V) {
        let name = field.name();
        let slot = match Special::of(name) {
            Some(Special::Op) => &mut self.op,
            Some(Special::Name) => &mut self.name,
            Some(Special::Trace) => &mut self.trace,
            // A span's `message` field is not data (as for events, where it is the message).
            None if name == "message" => return,
            None => {
                if self.data.is_empty() {
                    // Spans usually carry a few fields: one allocation for all of them.
                    self.data = SpanData::with_capacity(4);
                }
                self.data.insert(name, value);
                return;
            }
        };
        *slot = Some(match value.into() {
            Value::String(s) => s,
            other => other.to_string(),
        });
    }
}

impl Visit for SpanFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        self.put(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, sdk_core::error_chain::display_lossy(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            return;
        }
        // `format!` would panic if the user's `Debug` returns `Err`; keep what it wrote.
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.put(field, text);
    }
}

#[cfg(test)]
mod tests {
    use sdk_core::transport::ItemType;

    use crate::test_support::{capture, envelope_texts, first_body};

    /// The sent transaction's body: raw text and parsed.
    fn transaction_body(f: impl FnOnce()) -> (String, serde_json::Value) {
        let texts = envelope_texts(&capture(crate::layer(), f), ItemType::Transaction);
        let raw = first_body(texts.first().expect("a transaction was sent")).to_owned();
        let body = serde_json::from_str(&raw).expect("json");
        (raw, body)
    }

    #[test]
    fn span_fields_arrive_as_data_sorted_by_name_without_special_fields() {
        let (raw, body) = transaction_body(|| {
            let span = tracing::info_span!(
                "work",
                zone = "eu",
                attempts = 3u64,
                ratio = 0.5f64,
                ok = true,
                delta = -2i64,
                shape = ?(1, 2),
                sentry.op = "job",
            );
            span.record("attempts", 4u64);
            let _e = span.enter();
        });
        let value = &body["contexts"]["trace"]["data"];
        assert_eq!(value["attempts"], 4);
        assert_eq!(value["zone"], "eu");
        assert_eq!(value["ratio"], 0.5);
        assert_eq!(value["ok"], true);
        assert_eq!(value["delta"], -2);
        assert_eq!(value["shape"], "(1, 2)");
        assert!(value.get("sentry.op").is_none(), "{value}");
        assert!(value.get("message").is_none(), "{value}");
        // On the wire the fields are written in name order (as a JSON map writes them).
        let at = |key: &str| raw.find(&format!("\"{key}\":")).expect(key);
        let order = ["attempts", "delta", "ok", "ratio", "shape", "zone"].map(at);
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{raw}");
    }
}
