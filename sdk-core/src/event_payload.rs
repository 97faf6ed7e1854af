//! The event as it travels to the transport: a lazy payload serialised on the delivery worker.
//!
//! On the caller's thread a capture only gathers references: the event's own fields, a snapshot
//! of the scope (`Arc` clones) and an `Arc` of the client's constant data (contexts, sdk info,
//! release, environment, server name, debug images). [`EventPayload::write_to`] merges them
//! while it writes JSON, on the worker, and resolves raw stack traces there too.
//!
//! When `before_send` or an event processor needs a real [`Event`], the client materialises it
//! eagerly; the payload then carries that event as it is.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use sdk_transport::{ItemPayload, PayloadError};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::client::ClientConstants;
use crate::protocol::{Breadcrumb, Context, Event, Exception, Level, Thread, TraceContext, Values};
use crate::scope::{Scope, TagMap, VecMap};
use crate::stacktrace::RawStacktrace;
use uuid::Uuid;

/// The fields every captured event sets itself: kept outside [`Event`] so that a message or an
/// error is captured without building (and later dropping) a whole `Event`.
#[derive(Debug, Clone)]
pub(crate) struct CoreFields {
    pub(crate) event_id: Uuid,
    pub(crate) level: Level,
    pub(crate) timestamp: SystemTime,
    pub(crate) message: Option<String>,
    pub(crate) exception: Vec<Exception>,
    pub(crate) threads: Vec<Thread>,
}

impl CoreFields {
    /// Fresh fields: a random id, now, `level`.
    pub(crate) fn new(level: Level) -> CoreFields {
        CoreFields {
            event_id: crate::client::new_event_id(),
            level,
            timestamp: crate::api::timestamp_now(),
            message: None,
            exception: Vec::new(),
            threads: Vec::new(),
        }
    }

    /// Moves the core fields out of `event`.
    pub(crate) fn take_from(event: &mut Event) -> CoreFields {
        CoreFields {
            event_id: event.event_id,
            level: event.level,
            timestamp: event.timestamp,
            message: event.message.take(),
            exception: std::mem::take(&mut event.exception.values),
            threads: std::mem::take(&mut event.threads.values),
        }
    }

    /// Puts the core fields into `event` (or a blank one).
    pub(crate) fn into_event(self, rest: Option<Event>) -> Event {
        let mut event = rest.unwrap_or_else(|| crate::client::blank_event(self.level));
        event.event_id = self.event_id;
        event.level = self.level;
        event.timestamp = self.timestamp;
        event.message = self.message;
        event.exception = Values::from(self.exception);
        event.threads = Values::from(self.threads);
        event
    }
}

/// An event waiting to be serialised: its own fields plus what the scope and the client add.
pub struct EventPayload {
    /// The event's own core fields (unused once materialised: then `rest` is complete).
    pub(crate) core: CoreFields,
    /// The other fields of an event the user built (`capture_event`), or the complete event.
    pub(crate) rest: Option<Box<Event>>,
    /// The scope snapshot still to apply (`None` once materialised).
    pub(crate) scope: Option<Scope>,
    pub(crate) constants: Arc<ClientConstants>,
}

#[cfg(test)]
thread_local! {
    /// How many payloads this thread serialised (tests check the caller never does).
    pub(crate) static SERIALISED_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl EventPayload {
    /// A lazy payload: the scope and the client's constants are applied when it is written.
    pub(crate) fn lazy(
        core: CoreFields,
        rest: Option<Box<Event>>,
        scope: Scope,
        constants: Arc<ClientConstants>,
    ) -> Self {
        EventPayload {
            core,
            rest,
            scope: Some(scope),
            constants,
        }
    }

    /// A payload of an event that already has everything applied.
    pub(crate) fn full(event: Event, constants: Arc<ClientConstants>) -> Self {
        EventPayload {
            core: CoreFields {
                event_id: event.event_id,
                level: event.level,
                timestamp: event.timestamp,
                message: None,
                exception: Vec::new(),
                threads: Vec::new(),
            },
            rest: Some(Box::new(event)),
            scope: None,
            constants,
        }
    }

    /// The event id.
    pub fn event_id(&self) -> Uuid {
        self.core.event_id
    }

    /// The complete event, as it will be written (stack traces resolved).
    pub fn to_event(&self) -> Event {
        let mut event = match &self.scope {
            None => self
                .rest
                .as_deref()
                .cloned()
                .unwrap_or_else(|| self.core.clone().into_event(None)),
            Some(scope) => {
                let rest = self.rest.as_deref().cloned();
                let mut event = self.core.clone().into_event(rest);
                scope.apply_data(&mut event, self.constants.max_breadcrumbs);
                self.constants.apply(&mut event);
                event
            }
        };
        event.resolve_stacktraces(&self.constants.in_app);
        event
    }

    /// Applies `scope` and the client's constants to `event` now (for `before_send` and event
    /// processors), resolving stack traces so that callbacks see frames.
    pub(crate) fn materialize(
        mut event: Event,
        scope: &Scope,
        constants: &ClientConstants,
    ) -> Event {
        scope.apply_data(&mut event, constants.max_breadcrumbs);
        constants.apply(&mut event);
        event.resolve_stacktraces(&constants.in_app);
        event
    }
}

impl ItemPayload for EventPayload {
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        #[cfg(test)]
        SERIALISED_HERE.with(|c| c.set(c.get() + 1));
        match (&self.scope, self.rest.as_deref()) {
            (None, Some(event)) => {
                if has_raw_stacktraces(event) {
                    let mut event = event.clone();
                    event.resolve_stacktraces(&self.constants.in_app);
                    serde_json::to_writer(&mut *out, &event)?;
                } else {
                    serde_json::to_writer(&mut *out, event)?;
                }
            }
            (scope, rest) => {
                let empty;
                let scope = match scope {
                    Some(scope) => scope,
                    None => {
                        empty = Scope::new();
                        &empty
                    }
                };
                let view = LazyView {
                    core: &self.core,
                    rest,
                    scope,
                    constants: &self.constants,
                };
                serde_json::to_writer(&mut *out, &view)?;
            }
        }
        Ok(())
    }

    /// An estimate of the written JSON (sum of string lengths, nothing serialised): the
    /// transport's queue bounds its memory with it.
    fn size_hint(&self) -> usize {
        use crate::event_size;
        let Some(scope) = &self.scope else {
            // complete: the scope and the constants are in the event already
            let rest = self.rest.as_deref().map_or(0, event_size::event);
            return rest
                + self
                    .core
                    .exception
                    .iter()
                    .map(event_size::exception)
                    .sum::<usize>();
        };
        let c = &self.constants;
        let raw =
            |r: &Option<Box<serde_json::value::RawValue>>| r.as_ref().map_or(0, |r| r.get().len());
        let constants = 64
            + raw(&c.json.sdk)
            + raw(&c.json.debug_meta)
            + c.json
                .contexts
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
            + [&c.release, &c.environment, &c.dist, &c.server_name]
                .iter()
                .map(|s| s.as_ref().map_or(0, |s| s.len() + 16))
                .sum::<usize>();
        let core = 96
            + self.core.message.as_ref().map_or(0, |m| m.len() + 16)
            + self
                .core
                .exception
                .iter()
                .map(event_size::exception)
                .sum::<usize>()
            + self
                .core
                .threads
                .iter()
                .map(event_size::thread)
                .sum::<usize>();
        constants
            + core
            + self.rest.as_deref().map_or(0, event_size::event)
            + event_size::scope(scope, c.max_breadcrumbs)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn has_raw_stacktraces(event: &Event) -> bool {
    event.exception.iter().any(|e| e.raw_stacktrace.is_some())
        || event.threads.iter().any(|t| t.raw_stacktrace.is_some())
}

/// Writes the merged event without building it: event fields win, then the scope, then the
/// client's constants (the same precedence as [`Scope::apply_data`] + `ClientConstants::apply`).
struct LazyView<'a> {
    core: &'a CoreFields,
    rest: Option<&'a Event>,
    scope: &'a Scope,
    constants: &'a ClientConstants,
}

impl Serialize for LazyView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let core = self.core;
        let e = self.rest;
        let s = self.scope;
        let c = self.constants;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("event_id", &core.event_id.simple())?;
        map.serialize_entry("level", &s.level.unwrap_or(core.level))?;
        if let Some(message) = &core.message {
            map.serialize_entry("message", message)?;
        }
        if let Some(logentry) = e.and_then(|e| e.logentry.as_ref()) {
            map.serialize_entry("logentry", logentry)?;
        }
        let platform = e.map_or("native", |e| &*e.platform);
        map.serialize_entry("platform", platform)?;
        map.serialize_entry(
            "timestamp",
            &sdk_transport::time::epoch_seconds(core.timestamp),
        )?;
        if let Some(ty) = e.and_then(|e| e.ty.as_ref()) {
            map.serialize_entry("type", ty)?;
        }
        if let Some(logger) = e.and_then(|e| e.logger.as_ref()) {
            map.serialize_entry("logger", logger)?;
        }
        let own = |f: fn(&Event) -> &Option<String>| e.and_then(|e| f(e).as_deref());
        if let Some(t) = own(|e| &e.transaction).or(s.transaction.as_deref()) {
            map.serialize_entry("transaction", t)?;
        }
        if let Some(v) = own(|e| &e.server_name).or(c.server_name.as_deref()) {
            map.serialize_entry("server_name", v)?;
        }
        if let Some(v) = own(|e| &e.release).or(c.release.as_deref()) {
            map.serialize_entry("release", v)?;
        }
        if let Some(v) = own(|e| &e.dist).or(c.dist.as_deref()) {
            map.serialize_entry("dist", v)?;
        }
        if let Some(v) = own(|e| &e.environment).or(c.environment.as_deref()) {
            map.serialize_entry("environment", v)?;
        }
        let user = e.and_then(|e| e.user.as_ref()).or(s.user.as_deref());
        match user {
            Some(user) if !c.send_default_pii || user.ip_address.is_some() => {
                map.serialize_entry("user", user)?;
            }
            // send_default_pii: the ingest fills in the address the event came from
            user if c.send_default_pii => {
                let mut user = user.cloned().unwrap_or_default();
                user.ip_address = Some(crate::protocol::IpAddress::Auto);
                map.serialize_entry("user", &user)?;
            }
            _ => {}
        }
        if let Some(request) = e.and_then(|e| e.request.as_ref()) {
            map.serialize_entry("request", request)?;
        }
        map.serialize_entry("contexts", &ContextsView(self))?;
        let own_crumbs = e.is_some_and(|e| !e.breadcrumbs.is_empty());
        if !s.breadcrumbs.is_empty() || own_crumbs {
            map.serialize_entry("breadcrumbs", &BreadcrumbsView(self))?;
        }
        if !core.exception.is_empty() {
            map.serialize_entry(
                "exception",
                &ValuesView(ResolvedExceptions(&core.exception, c)),
            )?;
        }
        if !core.threads.is_empty() {
            map.serialize_entry("threads", &ValuesView(ResolvedThreads(&core.threads, c)))?;
        }
        let empty_tags = BTreeMap::new();
        let own_tags = e.map_or(&empty_tags, |e| &e.tags);
        let scope_tags = s.tags.as_deref();
        if !own_tags.is_empty() || scope_tags.is_some_and(|t| !t.is_empty()) {
            map.serialize_entry("tags", &MergedMap(own_tags, scope_tags))?;
        }
        let empty_extra = serde_json::Map::new();
        let own_extra = e.map_or(&empty_extra, |e| &e.extra);
        let scope_extra = s.extra.as_deref();
        if !own_extra.is_empty() || scope_extra.is_some_and(|t| !t.is_empty()) {
            map.serialize_entry("extra", &MergedJson(own_extra, scope_extra))?;
        }
        match e.map(|e| &e.fingerprint).filter(|f| !f.is_empty()) {
            Some(fp) => map.serialize_entry("fingerprint", fp)?,
            None => {
                if let Some(fp) = &s.fingerprint {
                    map.serialize_entry("fingerprint", &**fp)?;
                }
            }
        }
        if let Some(modules) = e.map(|e| &e.modules).filter(|m| !m.is_empty()) {
            map.serialize_entry("modules", modules)?;
        }
        match (e.and_then(|e| e.sdk.as_ref()), &c.json.sdk) {
            (Some(sdk), _) => map.serialize_entry("sdk", sdk)?,
            (None, Some(raw)) => map.serialize_entry("sdk", &**raw)?,
            (None, None) => map.serialize_entry("sdk", &c.sdk)?,
        }
        match (e.and_then(|e| e.debug_meta.as_ref()), &c.json.debug_meta) {
            (Some(meta), _) => map.serialize_entry("debug_meta", meta)?,
            (None, Some(raw)) => map.serialize_entry("debug_meta", &**raw)?,
            (None, None) => {
                if let Some(meta) = &c.debug_meta {
                    map.serialize_entry("debug_meta", meta)?;
                }
            }
        }
        map.end()
    }
}

struct ContextsView<'a, 'b>(&'b LazyView<'a>);

impl Serialize for ContextsView<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let empty = BTreeMap::new();
        let own = self.0.rest.map_or(&empty, |e| &e.contexts.0);
        let scope = self.0.scope.contexts.as_deref();
        let constants = &self.0.constants.json.contexts;
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in own {
            map.serialize_entry(k, v)?;
        }
        if let Some(scope) = scope {
            for (k, v) in scope.iter() {
                if !own.contains_key(k) {
                    map.serialize_entry(k, v)?;
                }
            }
        }
        for (k, v) in constants {
            if !own.contains_key(k) && !scope.is_some_and(|s| s.contains_key(k)) {
                map.serialize_entry(k, v)?;
            }
        }
        let has_trace = own.contains_key("trace") || scope.is_some_and(|s| s.contains_key("trace"));
        if !has_trace {
            let trace = Context::Trace(Box::new(TraceContext {
                trace_id: self.0.scope.trace_id,
                span_id: self.0.scope.span_id,
                ..Default::default()
            }));
            map.serialize_entry("trace", &trace)?;
        }
        map.end()
    }
}

struct BreadcrumbsView<'a, 'b>(&'b LazyView<'a>);

impl Serialize for BreadcrumbsView<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let max = self.0.constants.max_breadcrumbs;
        let own: &[Breadcrumb] = self.0.rest.map_or(&[], |e| &e.breadcrumbs.values);
        let ring = &self.0.scope.breadcrumbs;
        let total = ring.len() + own.len();
        let skip = total.saturating_sub(max);
        let values = ring.iter().chain(own.iter()).skip(skip);
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("values", &IterSeq(std::cell::RefCell::new(Some(values))))?;
        map.end()
    }
}

/// Serialises an iterator once as a sequence.
struct IterSeq<I>(std::cell::RefCell<Option<I>>);

impl<I, T> Serialize for IterSeq<I>
where
    I: Iterator<Item = T>,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let iter = self.0.borrow_mut().take();
        match iter {
            Some(iter) => serializer.collect_seq(iter),
            None => serializer.collect_seq(std::iter::empty::<T>()),
        }
    }
}

struct ValuesView<T>(T);

impl<T: Serialize> Serialize for ValuesView<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("values", &self.0)?;
        map.end()
    }
}

struct ResolvedExceptions<'a>(&'a [Exception], &'a ClientConstants);

impl Serialize for ResolvedExceptions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|exc| match &exc.raw_stacktrace {
            Some(_) if exc.stacktrace.is_none() => {
                let mut exc = exc.clone();
                RawStacktrace::resolve_into(
                    &mut exc.raw_stacktrace,
                    &mut exc.stacktrace,
                    &self.1.in_app,
                );
                std::borrow::Cow::Owned(exc)
            }
            _ => std::borrow::Cow::Borrowed(exc),
        }))
    }
}

struct ResolvedThreads<'a>(&'a [Thread], &'a ClientConstants);

impl Serialize for ResolvedThreads<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|thread| match &thread.raw_stacktrace {
            Some(_) if thread.stacktrace.is_none() => {
                let mut thread = thread.clone();
                RawStacktrace::resolve_into(
                    &mut thread.raw_stacktrace,
                    &mut thread.stacktrace,
                    &self.1.in_app,
                );
                std::borrow::Cow::Owned(thread)
            }
            _ => std::borrow::Cow::Borrowed(thread),
        }))
    }
}

struct MergedMap<'a>(&'a BTreeMap<String, String>, Option<&'a TagMap>);

impl Serialize for MergedMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let own = self.0;
        let scope = self
            .1
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(k, _)| !own.contains_key(*k));
        serializer.collect_map(
            own.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(scope),
        )
    }
}

struct MergedJson<'a>(
    &'a serde_json::Map<String, serde_json::Value>,
    Option<&'a VecMap<serde_json::Value>>,
);

impl Serialize for MergedJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let own = self.0;
        let scope = self
            .1
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(k, _)| !own.contains_key(*k));
        serializer.collect_map(own.iter().map(|(k, v)| (k.as_str(), v)).chain(scope))
    }
}

/// The envelope's `trace` header: the dynamic sampling context of an error captured outside a
/// transaction (trace_id, public_key, release, environment).
pub(crate) struct DscPayload {
    pub(crate) trace_id: crate::ids::TraceId,
    pub(crate) constants: Arc<ClientConstants>,
}

impl ItemPayload for DscPayload {
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        #[derive(Serialize)]
        struct Dsc<'a> {
            trace_id: crate::ids::TraceId,
            #[serde(skip_serializing_if = "Option::is_none")]
            public_key: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            release: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            environment: Option<&'a str>,
        }
        let c = &self.constants;
        serde_json::to_writer(
            &mut *out,
            &Dsc {
                trace_id: self.trace_id,
                public_key: c.public_key.as_deref(),
                release: c.release.as_deref(),
                environment: c.environment.as_deref(),
            },
        )?;
        Ok(())
    }

    fn size_hint(&self) -> usize {
        160
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
