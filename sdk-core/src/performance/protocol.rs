//! The finished transaction as it goes on the wire (PROTOCOL.md §5.1–5.3), serialised on the
//! delivery worker, and its envelope (transaction item + `trace` header).

use std::any::Any;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use sdk_transport::time::epoch_seconds;
use sdk_transport::{Envelope, EnvelopeItem, ItemPayload, ItemType, Payload, PayloadError};
use serde::Serialize;
use uuid::Uuid;

use super::data::SpanData;
use super::dsc::DynamicSamplingContext;
use super::span::{CodeLocation, Measurement, SpanRecord};
use super::transaction::TransactionSource;
use crate::ids::{SpanId, TraceId};
use crate::protocol::SpanStatus;

/// A finished, sampled transaction: what a [`TransactionSink`](super::TransactionSink)
/// receives. Its JSON is written only when the envelope is serialised (on the worker).
#[derive(Debug, Clone)]
pub struct FinishedTransaction {
    /// The event id (also the envelope's `event_id`).
    pub event_id: Uuid,
    /// The trace id.
    pub trace_id: TraceId,
    /// The root span's id.
    pub span_id: SpanId,
    /// The incoming parent span id, when the trace was continued.
    pub parent_span_id: Option<SpanId>,
    /// The transaction name.
    pub name: Cow<'static, str>,
    /// The operation.
    pub op: Cow<'static, str>,
    /// How the name was made.
    pub source: TransactionSource,
    /// The origin (`manual` when `None`).
    pub origin: Option<Cow<'static, str>>,
    /// Where in the code it was started (written into `contexts.trace.data`).
    pub code: Option<&'static CodeLocation>,
    /// The status.
    pub status: Option<SpanStatus>,
    /// When it started.
    pub start_timestamp: SystemTime,
    /// When it finished.
    pub timestamp: SystemTime,
    /// The finished child spans.
    pub spans: Vec<SpanRecord>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Root span data (`contexts.trace.data`).
    pub data: SpanData,
    /// Measurements.
    pub measurements: BTreeMap<String, Measurement>,
    /// The release.
    pub release: Option<Arc<str>>,
    /// The environment.
    pub environment: Option<Arc<str>>,
    /// The rate it was sampled with.
    pub sample_rate: Option<f64>,
    /// The transaction's shared state: the trace's DSC is frozen from it (see
    /// [`FinishedTransaction::dsc`]) when the envelope is written, on the delivery worker,
    /// unless an outgoing request or an incoming trace froze it before.
    pub(crate) trace: Arc<super::transaction::TxShared>,
    /// More top-level event fields the client adds (`server_name`, `user`, `sdk`, `dist`,
    /// ...). A `contexts` object here is merged with `contexts.trace`; keys this type writes
    /// itself are ignored.
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// Fields the client adds to every transaction (written after `extra`, which wins).
    pub shared_fields: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
    /// The scope the transaction finished in: its tags, user, extra and contexts are written
    /// under the transaction's own.
    pub scope: Option<crate::scope::Scope>,
}

const OWN_KEYS: [&str; 14] = [
    "type",
    "event_id",
    "platform",
    "transaction",
    "transaction_info",
    "start_timestamp",
    "timestamp",
    "release",
    "environment",
    "tags",
    "contexts",
    "measurements",
    "spans",
    "sdk",
];

struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonWriter<'a> {
    fn object(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        JsonWriter { out, first: true }
    }

    fn key(&mut self, key: &str) -> Result<&mut Vec<u8>, PayloadError> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        serde_json::to_writer(&mut *self.out, key)?;
        self.out.push(b':');
        Ok(self.out)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), PayloadError> {
        let out = self.key(key)?;
        serde_json::to_writer(out, value)?;
        Ok(())
    }

    fn raw(&mut self, key: &str, raw: &[u8]) -> Result<(), PayloadError> {
        self.key(key)?.extend_from_slice(raw);
        Ok(())
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

fn write_id(out: &mut Vec<u8>, id: impl std::fmt::Display) {
    use std::io::Write;
    out.push(b'"');
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{id}");
    out.push(b'"');
}

/// Writes `,"key":value` into an object that already has an entry.
fn write_entry<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    key: &str,
    value: &T,
) -> Result<(), PayloadError> {
    out.push(b',');
    serde_json::to_writer(&mut *out, key)?;
    out.push(b':');
    serde_json::to_writer(&mut *out, value)?;
    Ok(())
}

/// Writes a `data` object: the recorded attributes, then the code location's entries that the
/// attributes do not override.
fn write_data(
    out: &mut Vec<u8>,
    data: &SpanData,
    code: Option<&CodeLocation>,
) -> Result<(), PayloadError> {
    let mut w = JsonWriter::object(out);
    for (key, value) in data.sorted() {
        w.field(key, value)?;
    }
    if let Some(code) = code {
        for (key, value) in code.entries() {
            if !data.contains_key(key) {
                w.field(key, &value)?;
            }
        }
    }
    w.end();
    Ok(())
}

fn write_span(span: &SpanRecord, trace_id: TraceId, out: &mut Vec<u8>) -> Result<(), PayloadError> {
    let mut w = JsonWriter::object(out);
    write_id(w.key("span_id")?, span.span_id);
    write_id(w.key("trace_id")?, trace_id);
    write_id(w.key("parent_span_id")?, span.parent_span_id);
    w.field("op", &span.op)?;
    if let Some(description) = &span.description {
        w.field("description", description)?;
    }
    if let Some(status) = span.status {
        w.field("status", status.as_str())?;
    }
    w.field("origin", span.origin().unwrap_or("manual"))?;
    w.field("start_timestamp", &epoch_seconds(span.start_timestamp))?;
    w.field("timestamp", &epoch_seconds(span.timestamp))?;
    if !span.tags().is_empty() {
        w.field("tags", span.tags())?;
    }
    if !span.data().is_empty() || span.code.is_some() {
        write_data(w.key("data")?, span.data(), span.code)?;
    }
    w.end();
    Ok(())
}

impl FinishedTransaction {
    /// The trace's dynamic sampling context (the envelope header `trace`), frozen from now on:
    /// the one an incoming trace or an outgoing request froze, else one made from this
    /// transaction (its trace, sampling decision, name and the client's keys).
    pub fn dsc(&self) -> Arc<DynamicSamplingContext> {
        self.trace.dsc()
    }

    fn write_trace_context(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        let mut w = JsonWriter::object(out);
        w.field("type", "trace")?;
        write_id(w.key("trace_id")?, self.trace_id);
        write_id(w.key("span_id")?, self.span_id);
        if let Some(parent) = self.parent_span_id {
            write_id(w.key("parent_span_id")?, parent);
        }
        w.field("op", &self.op)?;
        if let Some(status) = self.status {
            w.field("status", status.as_str())?;
        }
        w.field("origin", self.origin.as_deref().unwrap_or("manual"))?;
        if !self.data.is_empty() || self.code.is_some() {
            write_data(w.key("data")?, &self.data, self.code)?;
        }
        if let Some(rate) = self.sample_rate {
            w.field("client_sample_rate", &rate)?;
        }
        w.end();
        Ok(())
    }

    /// A top-level field added by the user (`extra`) or the client (`shared_fields`).
    fn field(&self, key: &str) -> Option<&serde_json::Value> {
        self.extra
            .get(key)
            .or_else(|| self.shared_fields.as_ref().and_then(|f| f.get(key)))
    }

    /// The transaction in an envelope: `event_id` header, the DSC as header `trace`, one
    /// `transaction` item (its `span_count`, not written to the wire, is the number of spans).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sdk_core::performance::{RecordingSink, Transaction, TransactionContext};
    /// let sink = Arc::new(RecordingSink::with_sample_rate(1.0));
    /// Transaction::start(TransactionContext::new("job", "task"), sink.clone()).finish();
    /// let envelope = sink.transactions()[0].clone().into_envelope();
    /// let text = String::from_utf8(envelope.to_vec().unwrap()).unwrap();
    /// assert!(text.contains("\"trace\":{\"trace_id\""));
    /// assert!(text.contains("{\"type\":\"transaction\""));
    /// ```
    pub fn into_envelope(self: Arc<Self>) -> Envelope {
        let mut envelope = Envelope::with_event_id(self.event_id);
        // The DSC is frozen and written by the worker (the transaction's shared state writes
        // it), not built on the finishing thread.
        let trace: Arc<dyn ItemPayload> = self.trace.clone();
        envelope.headers.trace = Some(Payload::Lazy(trace));
        let span_count = u32::try_from(self.spans.len()).unwrap_or(u32::MAX);
        let payload: Arc<dyn ItemPayload> = self;
        let mut item = EnvelopeItem::new(ItemType::Transaction, Payload::Lazy(payload))
            .with_content_type("application/json");
        item.span_count = span_count;
        envelope.add_item(item);
        envelope
    }

    /// The transaction's JSON as a value (for tests and `before_send_transaction` users).
    pub fn to_json(&self) -> Result<serde_json::Value, PayloadError> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write_to(&mut out)?;
        Ok(serde_json::from_slice(&out)?)
    }
}

impl ItemPayload for FinishedTransaction {
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        let mut w = JsonWriter::object(out);
        w.field("type", "transaction")?;
        w.field("event_id", &self.event_id.simple())?;
        w.field("platform", "native")?;
        w.field("transaction", &self.name)?;
        w.raw("transaction_info", b"{\"source\":")?;
        serde_json::to_writer(&mut *w.out, self.source.as_str())?;
        w.out.push(b'}');
        w.field("start_timestamp", &epoch_seconds(self.start_timestamp))?;
        w.field("timestamp", &epoch_seconds(self.timestamp))?;
        if let Some(release) = &self.release {
            w.field("release", &**release)?;
        }
        if let Some(environment) = &self.environment {
            w.field("environment", &**environment)?;
        }
        match self.field("sdk") {
            Some(sdk) => w.field("sdk", sdk)?,
            None => {
                let out = w.key("sdk")?;
                out.extend_from_slice(b"{\"name\":");
                serde_json::to_writer(&mut *out, sdk_transport::SDK_NAME)?;
                out.extend_from_slice(b",\"version\":");
                serde_json::to_writer(&mut *out, sdk_transport::SDK_VERSION)?;
                out.push(b'}');
            }
        }
        let scope = self.scope.as_ref();
        let scope_tags = scope.and_then(|s| s.tags.as_deref());
        if !self.tags.is_empty() || scope_tags.is_some_and(|t| !t.is_empty()) {
            let mut tags = JsonWriter::object(w.key("tags")?);
            for (key, value) in &self.tags {
                tags.field(key, value)?;
            }
            for (key, value) in scope_tags.into_iter().flat_map(|t| t.iter()) {
                if !self.tags.contains_key(key) {
                    tags.field(key, value)?;
                }
            }
            tags.end();
        }
        if let Some(user) = scope.and_then(|s| s.user()) {
            if !self.extra.contains_key("user") {
                w.field("user", user)?;
            }
        }
        if let Some(extra) = scope.and_then(|s| s.extra.as_deref()) {
            if !extra.is_empty() && !self.extra.contains_key("extra") {
                let mut out = JsonWriter::object(w.key("extra")?);
                for (key, value) in extra.iter() {
                    out.field(key, value)?;
                }
                out.end();
            }
        }
        {
            let out = w.key("contexts")?;
            out.extend_from_slice(b"{\"trace\":");
            self.write_trace_context(out)?;
            let own = match self.extra.get("contexts") {
                Some(serde_json::Value::Object(own)) => Some(own),
                _ => None,
            };
            let shared = match self.shared_fields.as_ref().and_then(|f| f.get("contexts")) {
                Some(serde_json::Value::Object(shared)) => Some(shared),
                _ => None,
            };
            let scoped = scope.and_then(|s| s.contexts.as_deref());
            let not_own = |key: &str| own.is_none_or(|own| !own.contains_key(key));
            for (key, value) in own.into_iter().flatten() {
                if key != "trace" {
                    write_entry(out, key, value)?;
                }
            }
            for (key, value) in scoped.into_iter().flat_map(|c| c.iter()) {
                if key != "trace" && not_own(key) {
                    write_entry(out, key, value)?;
                }
            }
            for (key, value) in shared.into_iter().flatten() {
                let in_scope = scoped.is_some_and(|c| c.contains_key(key));
                if key != "trace" && not_own(key) && !in_scope {
                    write_entry(out, key, value)?;
                }
            }
            out.push(b'}');
        }
        if !self.measurements.is_empty() {
            w.field("measurements", &self.measurements)?;
        }
        {
            let out = w.key("spans")?;
            out.push(b'[');
            for (i, span) in self.spans.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_span(span, self.trace_id, out)?;
            }
            out.push(b']');
        }
        for (key, value) in &self.extra {
            if OWN_KEYS.contains(&key.as_str()) {
                continue;
            }
            w.field(key, value)?;
        }
        if let Some(shared) = &self.shared_fields {
            for (key, value) in shared.iter() {
                if OWN_KEYS.contains(&key.as_str()) || self.extra.contains_key(key) {
                    continue;
                }
                w.field(key, value)?;
            }
        }
        w.end();
        Ok(())
    }

    fn size_hint(&self) -> usize {
        512 + self.spans.len() * 320
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
