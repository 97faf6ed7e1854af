//! Reading a span's or event's fields: the message, Sentry's special fields, and the rest as
//! data.

use std::fmt::{self, Write as _};

use sdk_core::protocol::{CrumbStr, DataValue, Exception};
use sdk_core::Breadcrumb;
use serde_json::Value;
use tracing_core::field::{Field, Visit};

/// Sentry's special span fields: they set a span's operation, name or incoming trace and are
/// never data (an event's are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    /// `sentry.op`: the span's operation.
    Op,
    /// `sentry.name` / `otel.name`: the span's (or transaction's) name.
    Name,
    /// `sentry.trace` / `sentry_trace`: an incoming `sentry-trace` header to continue.
    Trace,
}

impl Special {
    /// Which special field `name` is, if any.
    #[inline(always)]
    pub(crate) fn of(name: &str) -> Option<Special> {
        match name {
            "sentry.op" => Some(Special::Op),
            "sentry.name" | "otel.name" => Some(Special::Name),
            "sentry.trace" | "sentry_trace" => Some(Special::Trace),
            _ => None,
        }
    }
}

/// The fields of one event (an error event or a log): the message, an error's chain and the
/// rest as data; Sentry's special span fields are left out.
#[derive(Default)]
pub(crate) struct Fields {
    /// The `message` field (an event's formatted message).
    pub(crate) message: Option<String>,
    /// A field recorded as an error: its `source()` chain.
    pub(crate) exceptions: Option<Vec<Exception>>,
    /// Every other field.
    pub(crate) data: serde_json::Map<String, Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => {
                self.message = Some(match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
            }
            name if Special::of(name).is_some() => {}
            name => {
                self.data.insert(name.to_owned(), value);
            }
        }
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        self.put(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.exceptions = Some(sdk_core::error_chain::exceptions_from_error(value));
        self.put(
            field,
            Value::String(sdk_core::error_chain::display_lossy(value)),
        );
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `format!` would panic if the user's `Debug` returns `Err`; keep what it wrote.
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.put(field, Value::String(text));
    }
}

/// Writes an event's fields straight into the breadcrumb it becomes: the `message` field as
/// its message, every other field into its data under the field's `&'static` name (no key
/// copied), strings and formatted values inline when short. Sentry's special span fields
/// ([`Special`]) are left out, as [`Fields`] does.
pub(crate) struct CrumbFields<'a>(pub(crate) &'a mut Breadcrumb);

impl CrumbFields<'_> {
    /// Where the value of `field` goes: the message, the data entry named after the field, or
    /// nowhere (Sentry's special span fields).
    #[inline(always)]
    fn target(&mut self, field: &Field) -> Target<'_> {
        match field.name() {
            "message" => Target::Message(self.0.message.get_or_insert(CrumbStr::EMPTY)),
            name if Special::of(name).is_some() => Target::Nowhere,
            name => Target::Data(self.0.data.value_mut(name)),
        }
    }

    /// A scalar: into the data as is; as the message, its JSON text (as `Fields` does).
    #[inline(always)]
    fn put(&mut self, field: &Field, value: DataValue) {
        match self.target(field) {
            Target::Message(message) => *message = CrumbStr::from(value.to_value().to_string()),
            Target::Data(slot) => *slot = value,
            Target::Nowhere => {}
        }
    }
}

/// See [`CrumbFields::target`]. Values are written in place (no intermediate copy).
enum Target<'a> {
    Message(&'a mut CrumbStr),
    Data(&'a mut DataValue),
    Nowhere,
}

impl Visit for CrumbFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, DataValue::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, DataValue::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, DataValue::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, DataValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match self.target(field) {
            Target::Message(message) => message.set_copied(value),
            Target::Data(slot) => slot.set_str_copied(value),
            Target::Nowhere => {}
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(
            field,
            DataValue::from(sdk_core::error_chain::display_lossy(value)),
        );
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // A `Debug` that returns `Err` keeps what it wrote (no panic).
        match self.target(field) {
            Target::Message(message) => message.set_fmt(format_args!("{value:?}")),
            Target::Data(slot) => slot.set_fmt(format_args!("{value:?}")),
            Target::Nowhere => {}
        }
    }
}
