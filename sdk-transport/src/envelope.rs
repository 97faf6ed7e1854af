//! Envelopes: the unit the SDK sends to `POST /api/{project_id}/envelope/` (PROTOCOL.md §3).
//!
//! An [`Envelope`] is built on the caller's thread without serialising anything: JSON payloads
//! are carried as [`ItemPayload`] trait objects and write themselves when the delivery worker
//! serialises the envelope ([`Envelope::write_to`]). Parsing lives in [`crate::parse`].

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use uuid::Uuid;

use crate::category::DataCategory;
use crate::time::format_rfc3339;

/// Error raised when a payload cannot be written.
#[derive(Debug)]
pub struct PayloadError {
    message: String,
}

impl PayloadError {
    /// Creates an error with a message that says what failed.
    pub fn new(message: impl Into<String>) -> Self {
        PayloadError {
            message: message.into(),
        }
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not serialise envelope payload: {}", self.message)
    }
}

impl std::error::Error for PayloadError {}

impl From<serde_json::Error> for PayloadError {
    fn from(err: serde_json::Error) -> Self {
        PayloadError::new(err.to_string())
    }
}

/// A payload that serialises itself when the envelope is written.
///
/// `sdk-core` implements this for its events so that JSON is produced on the delivery worker's
/// thread, not on the caller's.
pub trait ItemPayload: Send + Sync + 'static {
    /// Appends the payload's bytes (compact JSON, no trailing newline, for JSON items) to `out`.
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadError>;

    /// A cheap estimate of the serialised size in bytes, used to bound the queue's memory.
    fn size_hint(&self) -> usize;

    /// The payload as `Any`, so that in-memory test transports can downcast it.
    fn as_any(&self) -> &dyn Any;
}

/// The payload of an item or the value of a structured envelope header.
#[derive(Clone)]
pub enum Payload {
    /// Bytes that are written as they are (attachments, parsed or spooled envelopes).
    Bytes(Arc<[u8]>),
    /// A value that serialises itself when the envelope is written.
    Lazy(Arc<dyn ItemPayload>),
}

impl Payload {
    /// A payload of raw bytes.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Payload {
        Payload::Bytes(Arc::from(bytes.into()))
    }

    /// A payload that is the JSON serialisation of `value`, made now.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Payload, PayloadError> {
        Ok(Payload::bytes(serde_json::to_vec(value)?))
    }

    /// A payload that serialises itself later.
    pub fn lazy(payload: impl ItemPayload) -> Payload {
        Payload::Lazy(Arc::new(payload))
    }

    /// Appends the payload's bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        match self {
            Payload::Bytes(bytes) => {
                out.extend_from_slice(bytes);
                Ok(())
            }
            Payload::Lazy(lazy) => lazy.write_to(out),
        }
    }

    /// Size estimate in bytes (exact for raw bytes).
    pub fn size_hint(&self) -> usize {
        match self {
            Payload::Bytes(bytes) => bytes.len(),
            Payload::Lazy(lazy) => lazy.size_hint(),
        }
    }

    /// The payload serialised into a new buffer.
    pub fn to_vec(&self) -> Result<Vec<u8>, PayloadError> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write_to(&mut out)?;
        Ok(out)
    }

    /// The lazy payload object, if this is one (for downcasting in tests).
    pub fn as_lazy(&self) -> Option<&dyn ItemPayload> {
        match self {
            Payload::Lazy(lazy) => Some(lazy.as_ref()),
            Payload::Bytes(_) => None,
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Bytes(bytes) => write!(f, "Payload::Bytes({} bytes)", bytes.len()),
            Payload::Lazy(lazy) => write!(f, "Payload::Lazy(~{} bytes)", lazy.size_hint()),
        }
    }
}

/// The type of an envelope item (PROTOCOL.md §3.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ItemType {
    /// An error or message event.
    Event,
    /// A transaction event.
    Transaction,
    /// A file attached to an event.
    Attachment,
    /// One release-health session update.
    Session,
    /// Release-health session aggregates.
    Sessions,
    /// Counts of discarded items.
    ClientReport,
    /// A cron check-in.
    CheckIn,
    /// User feedback.
    Feedback,
    /// Legacy user report.
    UserReport,
    /// A container of structured logs.
    Log,
    /// A container of standalone spans.
    Span,
    /// A transaction-based profile.
    Profile,
    /// A continuous-profiling chunk.
    ProfileChunk,
    /// Replay metadata.
    ReplayEvent,
    /// A replay recording.
    ReplayRecording,
    /// A replay video.
    ReplayVideo,
    /// A container of trace metrics.
    TraceMetric,
    /// Any other type, kept by name.
    Other(String),
}

impl ItemType {
    /// The name on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ItemType::Event => "event",
            ItemType::Transaction => "transaction",
            ItemType::Attachment => "attachment",
            ItemType::Session => "session",
            ItemType::Sessions => "sessions",
            ItemType::ClientReport => "client_report",
            ItemType::CheckIn => "check_in",
            ItemType::Feedback => "feedback",
            ItemType::UserReport => "user_report",
            ItemType::Log => "log",
            ItemType::Span => "span",
            ItemType::Profile => "profile",
            ItemType::ProfileChunk => "profile_chunk",
            ItemType::ReplayEvent => "replay_event",
            ItemType::ReplayRecording => "replay_recording",
            ItemType::ReplayVideo => "replay_video",
            ItemType::TraceMetric => "trace_metric",
            ItemType::Other(name) => name,
        }
    }

    /// Parses a wire name; unknown names become [`ItemType::Other`].
    pub fn from_name(name: &str) -> ItemType {
        match name {
            "event" => ItemType::Event,
            "transaction" => ItemType::Transaction,
            "attachment" => ItemType::Attachment,
            "session" => ItemType::Session,
            "sessions" => ItemType::Sessions,
            "client_report" => ItemType::ClientReport,
            "check_in" => ItemType::CheckIn,
            "feedback" => ItemType::Feedback,
            "user_report" => ItemType::UserReport,
            "log" => ItemType::Log,
            "span" => ItemType::Span,
            "profile" => ItemType::Profile,
            "profile_chunk" | "profile_chunk_ui" => ItemType::ProfileChunk,
            "replay_event" => ItemType::ReplayEvent,
            "replay_recording" => ItemType::ReplayRecording,
            "replay_video" => ItemType::ReplayVideo,
            "trace_metric" => ItemType::TraceMetric,
            other => ItemType::Other(other.to_owned()),
        }
    }

    /// The data category used for rate limits and client reports (PROTOCOL.md §8.3).
    pub fn category(&self) -> DataCategory {
        match self {
            ItemType::Event => DataCategory::Error,
            ItemType::Transaction => DataCategory::Transaction,
            ItemType::Attachment => DataCategory::Attachment,
            ItemType::Session | ItemType::Sessions => DataCategory::Session,
            ItemType::ClientReport => DataCategory::Internal,
            ItemType::CheckIn => DataCategory::Monitor,
            ItemType::Feedback | ItemType::UserReport => DataCategory::Feedback,
            ItemType::Log => DataCategory::LogItem,
            ItemType::Span => DataCategory::Span,
            ItemType::Profile => DataCategory::Profile,
            ItemType::ProfileChunk => DataCategory::ProfileChunk,
            ItemType::ReplayEvent | ItemType::ReplayRecording | ItemType::ReplayVideo => {
                DataCategory::Replay
            }
            ItemType::TraceMetric => DataCategory::TraceMetric,
            ItemType::Other(_) => DataCategory::Default,
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One item of an envelope: its headers and its payload.
#[derive(Debug, Clone)]
pub struct EnvelopeItem {
    /// The item type (`type` header).
    pub item_type: ItemType,
    /// `content_type` header.
    pub content_type: Option<Cow<'static, str>>,
    /// `filename` header (attachments).
    pub filename: Option<String>,
    /// `attachment_type` header (attachments).
    pub attachment_type: Option<String>,
    /// `item_count` header (item containers such as `log`).
    pub item_count: Option<u32>,
    /// `platform` header (`profile_chunk`).
    pub platform: Option<String>,
    /// Other item headers, kept as they were parsed. SDK code should not invent keys here.
    pub other_headers: serde_json::Map<String, serde_json::Value>,
    /// The payload.
    pub payload: Payload,
    /// How many items of the item's category this item stands for in client reports, and for a
    /// transaction how many spans it carries (not written to the wire). `1` for most items;
    /// bytes for attachments; logs for a log container.
    pub quantity: u32,
    /// Spans carried by a transaction item (a dropped transaction counts `spans + 1` in the
    /// `span` category). Not written to the wire.
    pub span_count: u32,
}

impl EnvelopeItem {
    /// A new item of the given type and payload with no optional headers.
    pub fn new(item_type: ItemType, payload: Payload) -> EnvelopeItem {
        let quantity = match item_type {
            ItemType::Attachment => payload.size_hint().max(1) as u32,
            _ => 1,
        };
        EnvelopeItem {
            item_type,
            content_type: None,
            filename: None,
            attachment_type: None,
            item_count: None,
            platform: None,
            other_headers: serde_json::Map::new(),
            payload,
            quantity,
            span_count: 0,
        }
    }

    /// A JSON item whose payload serialises itself on the worker.
    pub fn lazy_json(item_type: ItemType, payload: impl ItemPayload) -> EnvelopeItem {
        let mut item = EnvelopeItem::new(item_type, Payload::lazy(payload));
        item.content_type = Some(Cow::Borrowed("application/json"));
        item
    }

    /// Sets the `content_type` header.
    pub fn with_content_type(mut self, content_type: impl Into<Cow<'static, str>>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the `filename` header.
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// The data category of the item.
    pub fn category(&self) -> DataCategory {
        self.item_type.category()
    }

    /// Writes the item header line (with an explicit `length`) to `out`, without the newline.
    fn write_header(&self, length: usize, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        out.extend_from_slice(b"{\"type\":");
        serde_json::to_writer(&mut *out, self.item_type.as_str())?;
        out.extend_from_slice(b",\"length\":");
        out.extend_from_slice(length.to_string().as_bytes());
        let optional = [
            ("content_type", self.content_type.as_deref()),
            ("filename", self.filename.as_deref()),
            ("attachment_type", self.attachment_type.as_deref()),
            ("platform", self.platform.as_deref()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                out.push(b',');
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                serde_json::to_writer(&mut *out, value)?;
            }
        }
        if let Some(count) = self.item_count {
            out.extend_from_slice(b",\"item_count\":");
            out.extend_from_slice(count.to_string().as_bytes());
        }
        for (key, value) in &self.other_headers {
            if matches!(
                key.as_str(),
                "type"
                    | "length"
                    | "content_type"
                    | "filename"
                    | "attachment_type"
                    | "platform"
                    | "item_count"
            ) {
                continue;
            }
            out.push(b',');
            serde_json::to_writer(&mut *out, key)?;
            out.push(b':');
            serde_json::to_writer(&mut *out, value)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// The envelope header line (PROTOCOL.md §3.2).
#[derive(Debug, Clone, Default)]
pub struct EnvelopeHeaders {
    /// `event_id`: required when the envelope holds an event, transaction, feedback or
    /// attachments; equals the payload's id.
    pub event_id: Option<Uuid>,
    /// `dsn`: optional self-authentication.
    pub dsn: Option<String>,
    /// `sdk`: a JSON object with name and version.
    pub sdk: Option<Payload>,
    /// `trace`: the dynamic sampling context as a JSON object.
    pub trace: Option<Payload>,
    /// `sent_at`. Leave it `None` on envelopes you build: the worker sets it when it sends.
    pub sent_at: Option<SystemTime>,
    /// Other header keys, kept as they were parsed.
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// An envelope: a header and items, written in the envelope format.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// The header line.
    pub headers: EnvelopeHeaders,
    /// The items, in order.
    pub items: Vec<EnvelopeItem>,
}

impl Envelope {
    /// An empty envelope (no headers, no items).
    pub fn new() -> Envelope {
        Envelope::default()
    }

    /// An envelope with the given `event_id` header.
    pub fn with_event_id(event_id: Uuid) -> Envelope {
        let mut envelope = Envelope::default();
        envelope.headers.event_id = Some(event_id);
        envelope
    }

    /// Adds an item.
    pub fn add_item(&mut self, item: EnvelopeItem) {
        self.items.push(item);
    }

    /// Whether the envelope has no items (empty envelopes must not be sent).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// A cheap estimate of the serialised size in bytes.
    pub fn size_hint(&self) -> usize {
        let headers = 64
            + self.headers.sdk.as_ref().map_or(0, Payload::size_hint)
            + self.headers.trace.as_ref().map_or(0, Payload::size_hint);
        headers
            + self
                .items
                .iter()
                .map(|item| 48 + item.payload.size_hint())
                .sum::<usize>()
    }

    /// Writes the envelope to `out`, with `sent_at` set to `sent_at` when given (otherwise the
    /// header's own `sent_at`, if any). Every item gets an explicit `length`.
    pub fn write_to(
        &self,
        out: &mut Vec<u8>,
        sent_at: Option<SystemTime>,
    ) -> Result<(), PayloadError> {
        let mut scratch = Vec::new();
        self.write_to_with_scratch(out, &mut scratch, sent_at)
    }

    /// Like [`Envelope::write_to`], reusing `scratch` for item payloads (the worker keeps one).
    pub fn write_to_with_scratch(
        &self,
        out: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
        sent_at: Option<SystemTime>,
    ) -> Result<(), PayloadError> {
        self.write_headers(out, sent_at.or(self.headers.sent_at))?;
        out.push(b'\n');
        for item in &self.items {
            scratch.clear();
            item.payload.write_to(scratch)?;
            item.write_header(scratch.len(), out)?;
            out.push(b'\n');
            out.extend_from_slice(scratch);
            out.push(b'\n');
        }
        Ok(())
    }

    /// The envelope serialised into a new buffer (`sent_at` as in the headers).
    pub fn to_vec(&self) -> Result<Vec<u8>, PayloadError> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write_to(&mut out, None)?;
        Ok(out)
    }

    fn write_headers(
        &self,
        out: &mut Vec<u8>,
        sent_at: Option<SystemTime>,
    ) -> Result<(), PayloadError> {
        let headers = &self.headers;
        out.push(b'{');
        let mut first = true;
        if let Some(id) = headers.event_id {
            write_key(out, &mut first, "event_id")?;
            out.push(b'"');
            out.extend_from_slice(id.simple().to_string().as_bytes());
            out.push(b'"');
        }
        if let Some(dsn) = &headers.dsn {
            write_key(out, &mut first, "dsn")?;
            serde_json::to_writer(&mut *out, dsn)?;
        }
        if let Some(sent_at) = sent_at {
            write_key(out, &mut first, "sent_at")?;
            out.push(b'"');
            out.extend_from_slice(format_rfc3339(sent_at).as_bytes());
            out.push(b'"');
        }
        if let Some(sdk) = &headers.sdk {
            write_key(out, &mut first, "sdk")?;
            sdk.write_to(out)?;
        }
        if let Some(trace) = &headers.trace {
            write_key(out, &mut first, "trace")?;
            trace.write_to(out)?;
        }
        for (name, value) in &headers.other {
            if matches!(
                name.as_str(),
                "event_id" | "dsn" | "sent_at" | "sdk" | "trace"
            ) {
                continue;
            }
            write_key(out, &mut first, name)?;
            serde_json::to_writer(&mut *out, value)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// Writes `,"name":` (or `"name":` for the first key) to `out`.
fn write_key(out: &mut Vec<u8>, first: &mut bool, name: &str) -> Result<(), PayloadError> {
    if !*first {
        out.push(b',');
    }
    *first = false;
    serde_json::to_writer(&mut *out, name)?;
    out.push(b':');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_explicit_lengths_and_headers() {
        let id = Uuid::parse_str("9ec79c33ec9942ab8353589fcb2e04dc").unwrap();
        let mut envelope = Envelope::with_event_id(id);
        envelope.add_item(
            EnvelopeItem::new(
                ItemType::Attachment,
                Payload::bytes(&b"\xef\xbb\xbfHello\r\n"[..]),
            )
            .with_content_type("text/plain")
            .with_filename("hello.txt"),
        );
        envelope.add_item(
            EnvelopeItem::new(
                ItemType::Event,
                Payload::bytes(&br#"{"message":"hello world","level":"error"}"#[..]),
            )
            .with_content_type("application/json"),
        );
        let sent_at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_735_689_600);
        let mut out = Vec::new();
        envelope.write_to(&mut out, Some(sent_at)).unwrap();
        let expected: &[u8] = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"sent_at\":\"2025-01-01T00:00:00.000Z\"}\n\
{\"type\":\"attachment\",\"length\":10,\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}\n\
\xef\xbb\xbfHello\r\n\n\
{\"type\":\"event\",\"length\":41,\"content_type\":\"application/json\"}\n\
{\"message\":\"hello world\",\"level\":\"error\"}\n";
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected)
        );
    }

    #[test]
    fn other_headers_are_written_with_their_keys() {
        let mut envelope = Envelope::new();
        envelope
            .headers
            .other
            .insert("custom".into(), serde_json::json!({"a": 1}));
        envelope.add_item(EnvelopeItem::new(
            ItemType::from_name("weird"),
            Payload::bytes("x"),
        ));
        let text = String::from_utf8(envelope.to_vec().unwrap()).unwrap();
        assert_eq!(
            text,
            "{\"custom\":{\"a\":1}}\n{\"type\":\"weird\",\"length\":1}\nx\n"
        );
    }

    #[test]
    fn categories_follow_the_protocol_table() {
        assert_eq!(ItemType::Event.category(), DataCategory::Error);
        assert_eq!(ItemType::CheckIn.category(), DataCategory::Monitor);
        assert_eq!(ItemType::ClientReport.category(), DataCategory::Internal);
        assert_eq!(
            ItemType::from_name("sessions").category(),
            DataCategory::Session
        );
        assert_eq!(
            ItemType::from_name("nope").category(),
            DataCategory::Default
        );
    }
}
