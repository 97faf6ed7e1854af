//! `tracing` events as Sentry structured logs: one `log` envelope item (a container of logs,
//! PROTOCOL.md §11) per event, serialised by the transport's worker, not the logging thread.

use std::any::Any;
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use sdk_core::transport::{
    Envelope, EnvelopeItem, ItemPayload, ItemType, Payload, PayloadError, SDK_NAME, SDK_VERSION,
};
use sdk_core::{Hub, SpanId, TraceId, TransactionOrSpan};
use serde_json::{json, Map, Value};
use tracing_core::Metadata;

use crate::fields::Fields;

/// The `content_type` of a `log` container item.
pub(crate) const LOG_CONTENT_TYPE: &str = "application/vnd.sentry.items.log+json";

/// One log, kept as captured until the worker writes it.
struct LogRecord {
    timestamp: SystemTime,
    trace_id: TraceId,
    span_id: Option<SpanId>,
    level: &'static str,
    body: String,
    attributes: Vec<(Cow<'static, str>, Value)>,
}

/// A `tracing` level as a log level.
fn level_name(level: &tracing_core::Level) -> &'static str {
    match *level {
        tracing_core::Level::ERROR => "error",
        tracing_core::Level::WARN => "warn",
        tracing_core::Level::INFO => "info",
        tracing_core::Level::DEBUG => "debug",
        _ => "trace",
    }
}

/// A field value as a typed log attribute (`string`, `boolean`, `integer`, `double`); u64
/// values above `i64::MAX`, and anything else, as strings.
fn typed(value: &Value) -> Value {
    match value {
        Value::String(s) => json!({"type": "string", "value": s}),
        Value::Bool(b) => json!({"type": "boolean", "value": b}),
        Value::Number(n) => match (n.as_i64(), n.is_f64()) {
            (Some(i), _) => json!({"type": "integer", "value": i}),
            (None, true) => json!({"type": "double", "value": n}),
            (None, false) => json!({"type": "string", "value": n.to_string()}),
        },
        other => json!({"type": "string", "value": other.to_string()}),
    }
}

impl LogRecord {
    fn to_json(&self) -> Value {
        let timestamp = self
            .timestamp
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let attributes: Map<String, Value> = self
            .attributes
            .iter()
            .map(|(k, v)| (k.to_string(), typed(v)))
            .collect();
        let mut log = json!({
            "timestamp": timestamp,
            "trace_id": self.trace_id.to_string(),
            "level": self.level,
            "body": self.body,
            "attributes": attributes,
        });
        if let (Some(span_id), Some(map)) = (self.span_id, log.as_object_mut()) {
            map.insert("span_id".into(), span_id.to_string().into());
        }
        log
    }
}

/// The payload of a `log` item: `{"items":[...]}`.
struct LogContainer(Vec<LogRecord>);

impl ItemPayload for LogContainer {
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        let items: Vec<Value> = self.0.iter().map(LogRecord::to_json).collect();
        serde_json::to_writer(out, &json!({ "items": items }))?;
        Ok(())
    }

    fn size_hint(&self) -> usize {
        self.0
            .iter()
            .map(|log| {
                let attributes: usize = log
                    .attributes
                    .iter()
                    .map(|(k, v)| k.len() + 40 + v.as_str().map_or(24, str::len))
                    .sum();
                160 + log.body.len() + attributes
            })
            .sum::<usize>()
            + 16
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Sends a `tracing` event as a log with the current hub's client, linked to `span` (the
/// event's span) or else to the active span or the scope's trace. Without an enabled client
/// it does nothing; a full queue drops and counts it (category `log_item`).
pub(crate) fn send_log(
    metadata: &'static Metadata<'static>,
    fields: Fields,
    span: Option<TransactionOrSpan>,
) {
    let hub = Hub::current();
    let Some(client) = hub.client().filter(|c| c.is_enabled()) else {
        return;
    };
    let Some(transport) = client.transport() else {
        return;
    };
    let (trace_id, span_id) = match span.or_else(|| hub.current_span()) {
        Some(span) => (span.trace_id(), Some(span.span_id())),
        None => (hub.scope_snapshot().trace_id(), None),
    };
    let options = client.options();
    let mut attributes: Vec<(Cow<'static, str>, Value)> =
        Vec::with_capacity(fields.data.len() + 10);
    attributes.push((Cow::Borrowed("sentry.sdk.name"), SDK_NAME.into()));
    attributes.push((Cow::Borrowed("sentry.sdk.version"), SDK_VERSION.into()));
    attributes.push((Cow::Borrowed("sentry.origin"), "auto.log.tracing".into()));
    if let Some(environment) = &options.environment {
        attributes.push((
            Cow::Borrowed("sentry.environment"),
            environment.to_string().into(),
        ));
    }
    if let Some(release) = &options.release {
        attributes.push((Cow::Borrowed("sentry.release"), release.to_string().into()));
    }
    if let Some(server) = &options.server_name {
        attributes.push((Cow::Borrowed("server.address"), server.to_string().into()));
    }
    if let Some(file) = metadata.file() {
        attributes.push((Cow::Borrowed("code.file.path"), file.into()));
    }
    if let Some(line) = metadata.line() {
        attributes.push((Cow::Borrowed("code.line.number"), line.into()));
    }
    if let Some(module) = metadata.module_path() {
        attributes.push((Cow::Borrowed("code.module.name"), module.into()));
    }
    attributes.push((
        Cow::Borrowed("sentry.tracing.target"),
        metadata.target().into(),
    ));
    attributes.extend(fields.data.into_iter().map(|(k, v)| (Cow::Owned(k), v)));
    let record = LogRecord {
        timestamp: sdk_core::timestamp_now(),
        trace_id,
        span_id,
        level: level_name(metadata.level()),
        body: fields.message.unwrap_or_default(),
        attributes,
    };
    let mut item = EnvelopeItem::new(ItemType::Log, Payload::lazy(LogContainer(vec![record])))
        .with_content_type(LOG_CONTENT_TYPE);
    item.item_count = Some(1);
    item.quantity = 1;
    let mut envelope = Envelope::new();
    envelope.add_item(item);
    transport.send_envelope(envelope);
}
