//! [`Client`]: turns captures into envelopes and hands them to the transport.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sdk_transport::{
    DataCategory, DiscardReason, Dsn, Envelope, EnvelopeItem, ItemType, Payload, Transport,
};
use uuid::Uuid;

use crate::event_payload::{CoreFields, DscPayload, EventPayload};
use crate::integrations::{self, Integration};
use crate::options::ClientOptions;
use crate::protocol::{Contexts, DebugMeta, Event, Level, SdkInfo, SdkPackage, Thread};
use crate::scope::Scope;
use crate::stacktrace::{InAppRules, RawStacktrace};

/// Data that is the same for every event of a client, built once and shared by `Arc`.
pub(crate) struct ClientConstants {
    pub(crate) release: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) dist: Option<String>,
    pub(crate) server_name: Option<String>,
    pub(crate) sdk: SdkInfo,
    pub(crate) contexts: Contexts,
    pub(crate) debug_meta: Option<DebugMeta>,
    pub(crate) public_key: Option<String>,
    pub(crate) in_app: InAppRules,
    pub(crate) max_breadcrumbs: usize,
    /// `send_default_pii`: events without a user IP get `{{auto}}`.
    pub(crate) send_default_pii: bool,
    /// The envelope header `sdk`, serialised once.
    pub(crate) sdk_header: Payload,
    /// The same constant parts as JSON written once, spliced into every lazy event as they are
    /// (escaping ~2 KB of strings per event was most of the cost of writing an event).
    pub(crate) json: ConstantJson,
}

impl ClientConstants {
    /// Fills what the event does not set itself.
    pub(crate) fn apply(&self, event: &mut Event) {
        fn fill(slot: &mut Option<String>, value: &Option<String>) {
            if slot.is_none() {
                slot.clone_from(value);
            }
        }
        fill(&mut event.release, &self.release);
        fill(&mut event.environment, &self.environment);
        fill(&mut event.dist, &self.dist);
        fill(&mut event.server_name, &self.server_name);
        if event.sdk.is_none() {
            event.sdk = Some(self.sdk.clone());
        }
        if event.debug_meta.is_none() {
            event.debug_meta.clone_from(&self.debug_meta);
        }
        for (k, v) in self.contexts.iter() {
            if event.contexts.get(k).is_none() {
                event.contexts.insert(k.clone(), v.clone());
            }
        }
        if self.send_default_pii {
            let user = event.user.get_or_insert_with(Default::default);
            if user.ip_address.is_none() {
                user.ip_address = Some(crate::protocol::IpAddress::Auto);
            }
        }
    }
}

/// Pre-serialised JSON of a client's constant event data.
#[derive(Default)]
pub(crate) struct ConstantJson {
    pub(crate) sdk: Option<Box<serde_json::value::RawValue>>,
    pub(crate) debug_meta: Option<Box<serde_json::value::RawValue>>,
    /// One entry per default context, in key order.
    pub(crate) contexts: Vec<(String, Box<serde_json::value::RawValue>)>,
}

impl ConstantJson {
    fn build(sdk: &SdkInfo, debug_meta: Option<&DebugMeta>, contexts: &Contexts) -> ConstantJson {
        fn raw<T: serde::Serialize + ?Sized>(
            value: &T,
        ) -> Option<Box<serde_json::value::RawValue>> {
            serde_json::value::to_raw_value(value).ok()
        }
        ConstantJson {
            sdk: raw(sdk),
            debug_meta: debug_meta.and_then(raw),
            contexts: contexts
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), raw(v)?)))
                .collect(),
        }
    }
}

/// A client: options, the transport and the constant data of every event.
///
/// Most programs never touch it: [`crate::init`] creates one and binds it for the whole
/// process. Tests and libraries can create their own and bind it to a [`crate::Hub`].
pub struct Client {
    options: ClientOptions,
    dsn: Option<Dsn>,
    transport: Option<Arc<dyn Transport>>,
    constants: Arc<ClientConstants>,
    integrations: Vec<Arc<dyn Integration>>,
    /// Whether some integration wants to see every event (forces materialisation).
    integrations_process_events: bool,
    closed: AtomicBool,
    /// Tracing config and shared transaction fields (`performance::binding`).
    tracing: crate::performance::binding::ClientTracing,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("dsn", &self.dsn.as_ref().map(|d| d.to_string()))
            .field("enabled", &self.is_enabled())
            .field("integrations", &self.constants.sdk.integrations)
            .finish()
    }
}

impl Client {
    /// Creates a client from options as they are (no environment variables are read: `init`
    /// does that). Sets up the integrations, parses the DSN (a bad one is reported on stderr
    /// and leaves the client disabled) and creates the transport.
    pub fn new(options: impl Into<ClientOptions>) -> Client {
        let mut options = options.into();
        if options.debug {
            sdk_transport::diag::set_debug(true);
        }
        let mut all: Vec<Arc<dyn Integration>> = Vec::new();
        if options.default_integrations {
            all.extend(integrations::defaults());
        }
        all.extend(options.integrations.iter().cloned());
        let mut seen = std::collections::BTreeSet::new();
        all.retain(|i| seen.insert(i.name()));
        for integration in &all {
            integration.setup(&mut options);
        }
        let integrations_process_events = all.iter().any(|i| i.processes_events());

        let mut dsn_ok = true;
        let dsn = match options
            .dsn
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            None => None,
            Some(raw) => match raw.parse::<Dsn>() {
                Ok(dsn) => Some(dsn),
                Err(err) => {
                    eprintln!("[sentry] the DSN is not valid, so the SDK is disabled: {err}");
                    dsn_ok = false;
                    None
                }
            },
        };
        let transport = if !dsn_ok {
            None
        } else if let Some(factory) = &options.transport {
            factory.create_transport(&options)
        } else if let Some(dsn) = &dsn {
            default_transport(dsn, &options)
        } else {
            None
        };
        if transport.is_none() {
            sdk_transport::sdk_debug!("no DSN or transport: the client is disabled");
        }

        let constants = Arc::new(build_constants(&options, dsn.as_ref(), &all));
        let tracing =
            crate::performance::binding::ClientTracing::new(&options, dsn.as_ref(), &constants);
        sdk_transport::sdk_debug!(
            "client ready: enabled={} integrations={:?}",
            transport.is_some(),
            constants.sdk.integrations
        );
        Client {
            options,
            dsn,
            transport,
            constants,
            integrations: all,
            integrations_process_events,
            closed: AtomicBool::new(false),
            tracing,
        }
    }

    /// The data every event of this client shares.
    pub(crate) fn constants(&self) -> &Arc<ClientConstants> {
        &self.constants
    }

    /// Tracing config and shared transaction fields.
    pub(crate) fn tracing(&self) -> &crate::performance::binding::ClientTracing {
        &self.tracing
    }

    /// The options the client was built with (after integrations set up).
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The parsed DSN.
    pub fn dsn(&self) -> Option<&Dsn> {
        self.dsn.as_ref()
    }

    /// Whether the client sends anything (it has a transport and was not closed).
    pub fn is_enabled(&self) -> bool {
        self.transport.is_some() && !self.closed.load(Ordering::Relaxed)
    }

    /// The names of the active integrations (as sent in `sdk.integrations`).
    pub fn integration_names(&self) -> &[String] {
        &self.constants.sdk.integrations
    }

    /// The integrations of this client.
    pub fn integrations(&self) -> &[Arc<dyn Integration>] {
        &self.integrations
    }

    /// Waits until queued events were sent, at most `timeout` (default: `shutdown_timeout`).
    /// Returns `true` when everything was delivered.
    pub fn flush(&self, timeout: Option<Duration>) -> bool {
        match &self.transport {
            Some(t) => t.flush(timeout.unwrap_or(self.options.shutdown_timeout)),
            None => true,
        }
    }

    /// Flushes and shuts the transport down (at most `timeout`, default `shutdown_timeout`);
    /// afterwards the client sends nothing.
    pub fn close(&self, timeout: Option<Duration>) -> bool {
        if self.closed.swap(true, Ordering::AcqRel) {
            return true;
        }
        match &self.transport {
            Some(t) => t.shutdown(timeout.unwrap_or(self.options.shutdown_timeout)),
            None => true,
        }
    }

    /// Records a discarded item for the client report.
    pub(crate) fn record_discard(&self, reason: DiscardReason, category: DataCategory) {
        if let Some(t) = &self.transport {
            t.record_discard(reason, category, 1);
        }
    }

    /// The transport (for integrations that send their own envelopes).
    pub fn transport(&self) -> Option<&Arc<dyn Transport>> {
        self.transport.as_ref()
    }

    /// Captures a message with `scope` applied.
    pub fn capture_message(&self, message: &str, level: Level, scope: &Scope) -> Uuid {
        let mut core = CoreFields::new(level);
        core.message = Some(message.to_owned());
        if self.options.attach_stacktrace {
            core.threads = current_thread_stack(2);
        }
        self.capture_core(core, None, scope)
    }

    /// Captures an error and its `source()` chain with `scope` applied.
    pub fn capture_error(&self, error: &(dyn std::error::Error + 'static), scope: &Scope) -> Uuid {
        let mut core = CoreFields::new(Level::Error);
        core.exception = crate::error_chain::exceptions_from_error(error);
        if self.options.attach_stacktrace {
            core.threads = current_thread_stack(2);
        }
        self.capture_core(core, None, scope)
    }

    /// Runs the event pipeline (scope, event processors, integrations, sample rate,
    /// `before_send`) and hands the event to the transport. Returns the id, or nil when the
    /// event was dropped (each drop is counted for the client report).
    pub fn capture_event(&self, mut event: Event, scope: &Scope) -> Uuid {
        let core = CoreFields::take_from(&mut event);
        self.capture_core(core, Some(Box::new(event)), scope)
    }

    fn capture_core(&self, core: CoreFields, rest: Option<Box<Event>>, scope: &Scope) -> Uuid {
        let Some(transport) = self.transport.as_ref().filter(|_| self.is_enabled()) else {
            return Uuid::nil();
        };
        let max = self.options.max_breadcrumbs;
        let merged;
        let scope = match crate::hub::global_scope() {
            Some(global) => {
                merged = global.merged_with(scope, max);
                &merged
            }
            None => scope,
        };
        let mut rest = rest;
        if crate::performance::binding::has_active_span(scope) {
            // errors inside a span carry its trace context and transaction name
            let event = rest.get_or_insert_with(|| Box::new(blank_event(core.level)));
            crate::performance::binding::apply_span(event, scope);
        }
        let id = core.event_id;
        let needs_event = self.options.before_send.is_some()
            || self.integrations_process_events
            || scope.has_event_processors();
        let payload = if needs_event {
            let event = core.into_event(rest.map(|b| *b));
            let event = EventPayload::materialize(event, scope, &self.constants);
            let Some(event) = scope.run_event_processors(event) else {
                sdk_transport::sdk_debug!("event {id} dropped by an event processor");
                self.record_discard(DiscardReason::EventProcessor, DataCategory::Error);
                return Uuid::nil();
            };
            let Some(event) = self.run_integrations(event) else {
                sdk_transport::sdk_debug!("event {id} dropped by an integration");
                self.record_discard(DiscardReason::EventProcessor, DataCategory::Error);
                return Uuid::nil();
            };
            if !self.sample() {
                return Uuid::nil();
            }
            let event = match &self.options.before_send {
                Some(callback) => {
                    let callback = callback.clone();
                    match crate::callback::call(move || callback(event)) {
                        Ok(Some(event)) => event,
                        Ok(None) => {
                            sdk_transport::sdk_debug!("event {id} dropped by before_send");
                            self.record_discard(DiscardReason::BeforeSend, DataCategory::Error);
                            return Uuid::nil();
                        }
                        Err(_) => {
                            eprintln!("[sentry] before_send panicked; event {id} was dropped");
                            self.record_discard(DiscardReason::BeforeSend, DataCategory::Error);
                            return Uuid::nil();
                        }
                    }
                }
                None => event,
            };
            EventPayload::full(event, self.constants.clone())
        } else {
            if !self.sample() {
                return Uuid::nil();
            }
            EventPayload::lazy(core, rest, scope.clone(), self.constants.clone())
        };
        let id = payload.event_id();
        let mut envelope = Envelope::with_event_id(id);
        envelope.headers.sdk = Some(self.constants.sdk_header.clone());
        envelope.headers.trace = Some(
            crate::performance::binding::span_trace_header(scope).unwrap_or_else(|| {
                Payload::lazy(DscPayload {
                    trace_id: scope.trace_id,
                    constants: self.constants.clone(),
                })
            }),
        );
        let mut item = EnvelopeItem::new(ItemType::Event, Payload::Lazy(Arc::new(payload)));
        item.content_type = Some(std::borrow::Cow::Borrowed("application/json"));
        envelope.items.reserve_exact(1 + scope.attachments().len());
        envelope.add_item(item);
        for attachment in scope.attachments() {
            envelope.add_item(attachment.clone());
        }
        transport.send_envelope(envelope);
        id
    }

    fn sample(&self) -> bool {
        let rate = self.options.sample_rate;
        if rate >= 1.0 || (rate > 0.0 && fastrand::f32() < rate) {
            return true;
        }
        sdk_transport::sdk_debug!("event sampled out (sample_rate {rate})");
        self.record_discard(DiscardReason::SampleRate, DataCategory::Error);
        false
    }

    fn run_integrations(&self, mut event: Event) -> Option<Event> {
        for integration in &self.integrations {
            if !integration.processes_events() {
                continue;
            }
            let integration = integration.clone();
            let options = &self.options;
            event = match crate::callback::call(move || integration.process_event(event, options)) {
                Ok(Some(event)) => event,
                Ok(None) => return None,
                Err(_) => {
                    eprintln!("[sentry] an integration panicked while processing an event");
                    return None;
                }
            };
        }
        Some(event)
    }
}

pub(crate) use crate::ids::new_event_id;

/// An event with only an id, a timestamp and a level (no system calls beyond the clock).
pub(crate) fn blank_event(level: Level) -> Event {
    Event {
        level,
        ..Event::default()
    }
}

/// The current thread as a `threads` value with a raw (unresolved) stack trace.
pub(crate) fn current_thread_stack(skip: usize) -> Vec<Thread> {
    let raw = RawStacktrace::capture(skip);
    let thread = std::thread::current();
    vec![Thread {
        id: None,
        name: thread.name().map(str::to_owned),
        stacktrace: None,
        raw_stacktrace: Some(raw),
        crashed: None,
        current: Some(true),
        main: None,
        state: None,
    }]
}

fn build_constants(
    options: &ClientOptions,
    dsn: Option<&Dsn>,
    integrations: &[Arc<dyn Integration>],
) -> ClientConstants {
    let names: Vec<String> = integrations.iter().map(|i| i.name().to_owned()).collect();
    let mut sdk = SdkInfo::current(names);
    if !sdk.packages.iter().any(|p| p.name == "cargo:sdk-core") {
        sdk.packages.push(SdkPackage {
            name: "cargo:sdk-core".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        });
    }
    let sdk_header = Payload::json(&serde_json::json!({
        "name": sdk.name,
        "version": sdk.version,
    }))
    .unwrap_or_else(|_| Payload::bytes(Vec::new()));
    let defaults = options.default_integrations;
    let contexts = if defaults {
        defaults::contexts()
    } else {
        Contexts::default()
    };
    let debug_meta = if defaults {
        defaults::debug_meta()
    } else {
        None
    };
    let json = ConstantJson::build(&sdk, debug_meta.as_ref(), &contexts);
    ClientConstants {
        send_default_pii: options.send_default_pii,
        release: options.release.as_deref().map(str::to_owned),
        environment: options.environment.as_deref().map(str::to_owned),
        dist: options.dist.as_deref().map(str::to_owned),
        server_name: options
            .server_name
            .as_deref()
            .map(str::to_owned)
            .or_else(|| {
                if defaults {
                    defaults::server_name()
                } else {
                    None
                }
            }),
        sdk,
        contexts,
        debug_meta,
        public_key: dsn.map(|d| d.public_key().to_owned()),
        in_app: InAppRules {
            include: options
                .in_app_include
                .iter()
                .map(|s| s.to_string())
                .collect(),
            exclude: options
                .in_app_exclude
                .iter()
                .map(|s| s.to_string())
                .collect(),
        },
        max_breadcrumbs: options.max_breadcrumbs,
        sdk_header,
        json,
    }
}

/// The HTTP transport of the enabled features, or `None` (with a warning) when there is none.
fn default_transport(dsn: &Dsn, options: &ClientOptions) -> Option<Arc<dyn Transport>> {
    match sdk_transport::default_transport(dsn, options.transport_options.clone()) {
        Ok(transport) => Some(transport),
        Err(err) => {
            eprintln!(
                "[sentry] could not create the HTTP transport, so the SDK is disabled: {err}"
            );
            None
        }
    }
}

/// The default data of the `contexts` and `debug-images` integrations, built once per process
/// by the protocol modules.
mod defaults {
    use crate::protocol::{Contexts, DebugMeta};

    pub(super) fn server_name() -> Option<String> {
        crate::contexts::server_name().map(str::to_owned)
    }

    pub(super) fn contexts() -> Contexts {
        crate::contexts::default_contexts().clone()
    }

    pub(super) fn debug_meta() -> Option<DebugMeta> {
        let meta = crate::debug_images::debug_meta();
        if meta.is_empty() {
            None
        } else {
            Some(meta)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    /// Writes the lazy event payload and the `Event` it materialises to, asserts that both give
    /// the same JSON field by field, and returns the written JSON.
    fn lazy_json_equals_materialised(payload: &sdk_transport::Payload) -> serde_json::Value {
        let written: serde_json::Value =
            serde_json::from_slice(&payload.to_vec().expect("writes")).expect("json");
        let lazy = payload
            .as_lazy()
            .and_then(|l| l.as_any().downcast_ref::<EventPayload>())
            .expect("an event payload");
        // both through bytes, so that float parsing treats them alike
        let materialised: serde_json::Value =
            serde_json::from_slice(&serde_json::to_vec(&lazy.to_event()).expect("writes"))
                .expect("json");
        let (w, m) = (
            written.as_object().expect("obj"),
            materialised.as_object().expect("obj"),
        );
        for key in w.keys().chain(m.keys()) {
            assert_eq!(w.get(key), m.get(key), "field {key} differs");
        }
        written
    }

    use super::*;
    use crate::protocol::Exception;
    use crate::testing::{with_captured_envelopes, TestTransport};
    use crate::{Breadcrumb, Hub, User};

    #[derive(Debug)]
    struct Inner;
    impl fmt::Display for Inner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("connection reset by peer")
        }
    }
    impl std::error::Error for Inner {}

    #[derive(Debug)]
    struct Middle(Inner);
    impl fmt::Display for Middle {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("query failed")
        }
    }
    impl std::error::Error for Middle {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[derive(Debug)]
    struct Outer(Middle);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("request failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn client_with(options: ClientOptions) -> (Arc<Client>, Arc<TestTransport>) {
        let transport = TestTransport::new();
        let shared: Arc<dyn Transport> = transport.clone();
        (Arc::new(Client::new(options.transport(shared))), transport)
    }

    #[test]
    fn sample_rate_zero_drops_everything_and_counts_it() {
        let (client, transport) = client_with(ClientOptions::new().sample_rate(0.0));
        let hub = Hub::with_client(client);
        for _ in 0..5 {
            assert!(hub.capture_message("m", Level::Info).is_nil());
        }
        assert!(transport.fetch_and_clear_envelopes().is_empty());
        let discards = transport.discards();
        assert_eq!(discards.len(), 5);
        assert!(discards
            .iter()
            .all(|d| *d == (DiscardReason::SampleRate, DataCategory::Error, 1)));
    }

    #[test]
    fn sample_rate_one_keeps_everything() {
        let (client, transport) = client_with(ClientOptions::new().sample_rate(1.0));
        let hub = Hub::with_client(client);
        for _ in 0..20 {
            hub.capture_message("m", Level::Info);
        }
        assert_eq!(transport.fetch_and_clear_envelopes().len(), 20);
        assert!(transport.discards().is_empty());
    }

    #[test]
    fn before_send_can_modify_drop_and_survive_a_panic() {
        let (client, transport) =
            client_with(ClientOptions::new().before_send(
                |mut event| match event.message.as_deref() {
                    Some("drop") => None,
                    Some("panic") => panic!("bug in before_send"),
                    _ => {
                        event.tags.insert("seen".into(), "yes".into());
                        Some(event)
                    }
                },
            ));
        let hub = Hub::with_client(client);
        assert!(!hub.capture_message("keep", Level::Info).is_nil());
        assert!(hub.capture_message("drop", Level::Info).is_nil());
        assert!(hub.capture_message("panic", Level::Info).is_nil());
        let events = transport.fetch_and_clear_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].tags["seen"], "yes");
        assert_eq!(
            transport.discards(),
            vec![
                (DiscardReason::BeforeSend, DataCategory::Error, 1),
                (DiscardReason::BeforeSend, DataCategory::Error, 1)
            ]
        );
    }

    #[test]
    fn event_processors_can_drop_and_are_counted() {
        let (client, transport) = client_with(ClientOptions::new());
        let hub = Hub::with_client(client);
        hub.configure_scope(|s| {
            s.add_event_processor(|event| {
                if event.message.as_deref() == Some("secret") {
                    None
                } else {
                    Some(event)
                }
            })
        });
        hub.capture_message("secret", Level::Info);
        hub.capture_message("public", Level::Info);
        let events = transport.fetch_and_clear_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message.as_deref(), Some("public"));
        assert_eq!(
            transport.discards(),
            vec![(DiscardReason::EventProcessor, DataCategory::Error, 1)]
        );
    }

    #[test]
    fn error_chains_arrive_innermost_first() {
        let events = crate::testing::with_captured_events(|| {
            crate::capture_error(&Outer(Middle(Inner)));
        });
        let values: Vec<_> = events[0]
            .exception
            .values
            .iter()
            .map(|e| e.value.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(
            values,
            ["connection reset by peer", "query failed", "request failed"]
        );
        assert_eq!(events[0].level, Level::Error);
    }

    #[test]
    fn nothing_is_serialised_on_the_capturing_thread() {
        crate::event_payload::SERIALISED_HERE.with(|c| c.set(0));
        let envelopes = with_captured_envelopes(|| {
            crate::add_breadcrumb(Breadcrumb::new("crumb"));
            crate::capture_message("lazy", Level::Info);
            crate::capture_error(&Outer(Middle(Inner)));
        });
        assert_eq!(envelopes.len(), 2);
        assert_eq!(crate::event_payload::SERIALISED_HERE.with(|c| c.get()), 0);
        for envelope in &envelopes {
            assert!(envelope.items[0].payload.as_lazy().is_some());
        }
        // the worker (here: another thread) is where the bytes are made
        let bytes = std::thread::spawn(move || envelopes[0].to_vec().map(|b| b.len()))
            .join()
            .expect("thread ran")
            .expect("serialises");
        assert!(bytes > 100);
        assert_eq!(crate::event_payload::SERIALISED_HERE.with(|c| c.get()), 0);
    }

    #[test]
    fn the_lazy_payload_writes_the_same_json_as_the_materialised_event() {
        let envelopes = with_captured_envelopes(|| {
            crate::configure_scope(|s| {
                s.set_tag("tenant", "acme");
                s.set_extra("answer", serde_json::json!(42));
                s.set_user(Some(User {
                    id: Some("42".into()),
                    email: Some("user@example.com".into()),
                    ..Default::default()
                }));
                s.set_fingerprint(Some(&["{{ default }}", "db"]));
                s.set_transaction(Some("GET /items"));
                s.set_context("app", serde_json::Map::new());
                for i in 0..20 {
                    s.add_breadcrumb(Breadcrumb::new(format!("crumb {i}")).with_data("i", i));
                }
            });
            crate::capture_error(&Outer(Middle(Inner)));
        });
        let written = lazy_json_equals_materialised(&envelopes[0].items[0].payload);
        assert_eq!(written["tags"]["tenant"], "acme");
        assert_eq!(written["user"]["email"], "user@example.com");
        assert_eq!(
            written["breadcrumbs"]["values"].as_array().map(Vec::len),
            Some(20)
        );
        assert_eq!(written["platform"], "native");
        assert!(written["contexts"]["trace"]["trace_id"].is_string());
    }

    #[test]
    fn a_user_built_event_writes_the_same_json_lazily_and_materialised() {
        let envelopes = with_captured_envelopes(|| {
            crate::configure_scope(|s| {
                s.set_tag("shared", "scope");
                s.set_tag("scope-only", "yes");
                s.set_extra("from", serde_json::json!("scope"));
                s.add_breadcrumb(Breadcrumb::new("scope crumb"));
                s.set_fingerprint(Some(&["scope-fp"]));
            });
            let mut event = blank_event(Level::Warning);
            event.message = Some("built by hand".into());
            event.logger = Some("my.logger".into());
            event.transaction = Some("GET /own".into());
            event.tags.insert("shared".into(), "event".into());
            event
                .extra
                .insert("from".into(), serde_json::json!("event"));
            event
                .breadcrumbs
                .values
                .push(Breadcrumb::new("event crumb"));
            event.fingerprint = vec!["event-fp".into()];
            event.contexts.insert(
                "app",
                crate::protocol::AppContext {
                    app_name: Some("demo".into()),
                    ..Default::default()
                },
            );
            event.exception.values.push(Exception {
                ty: "Custom".into(),
                value: Some("own exception".into()),
                ..Default::default()
            });
            crate::capture_event(event);
        });
        let written = lazy_json_equals_materialised(&envelopes[0].items[0].payload);
        // the event's own values win over the scope's; the rest of the scope still applies
        assert_eq!(written["tags"]["shared"], "event");
        assert_eq!(written["tags"]["scope-only"], "yes");
        assert_eq!(written["extra"]["from"], "event");
        assert_eq!(written["fingerprint"], serde_json::json!(["event-fp"]));
        assert_eq!(written["logger"], "my.logger");
        assert_eq!(written["transaction"], "GET /own");
        assert_eq!(written["level"], "warning");
        assert_eq!(written["contexts"]["app"]["app_name"], "demo");
        let crumbs: Vec<_> = written["breadcrumbs"]["values"]
            .as_array()
            .expect("breadcrumbs")
            .iter()
            .map(|b| b["message"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(crumbs, ["scope crumb", "event crumb"]);
        assert_eq!(written["exception"]["values"][0]["type"], "Custom");
    }

    #[test]
    fn envelope_headers_carry_the_event_id_sdk_and_trace() {
        let envelopes = crate::testing::with_captured_envelopes_options(
            || {
                crate::capture_message("m", Level::Info);
            },
            ClientOptions::new()
                .dsn("https://abc123@o1.ingest.example.com/7")
                .release("app@1.0")
                .environment("staging"),
        );
        let text = String::from_utf8(envelopes[0].to_vec().expect("writes")).expect("utf8");
        let header: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("a header")).expect("json");
        let event: serde_json::Value =
            serde_json::from_str(text.lines().nth(2).expect("an event")).expect("json");
        assert_eq!(header["event_id"], event["event_id"]);
        assert_eq!(header["sdk"]["name"], sdk_transport::SDK_NAME);
        assert_eq!(header["trace"]["public_key"], "abc123");
        assert_eq!(header["trace"]["release"], "app@1.0");
        assert_eq!(header["trace"]["environment"], "staging");
        assert_eq!(
            header["trace"]["trace_id"],
            event["contexts"]["trace"]["trace_id"]
        );
        assert_eq!(event["release"], "app@1.0");
        assert_eq!(event["environment"], "staging");
    }

    #[test]
    #[cfg(all(feature = "panic", feature = "contexts"))]
    fn sdk_info_lists_the_active_integrations() {
        use crate::testing::with_captured_events_options;
        let events = with_captured_events_options(
            || {
                crate::capture_message("m", Level::Info);
            },
            ClientOptions::new(),
        );
        let sdk = events[0].sdk.as_ref().expect("sdk info");
        assert!(sdk.integrations.iter().any(|i| i == "panic"));
        assert!(sdk.integrations.iter().any(|i| i == "contexts"));
        assert!(!sdk.packages.is_empty());
        let events = with_captured_events_options(
            || {
                crate::capture_message("m", Level::Info);
            },
            ClientOptions::new().default_integrations(false),
        );
        assert!(events[0].sdk.as_ref().expect("sdk").integrations.is_empty());
    }

    #[test]
    fn a_bad_dsn_disables_the_client_without_panicking() {
        let client = Client::new(ClientOptions::new().dsn("not a dsn"));
        assert!(!client.is_enabled());
        let hub = Hub::with_client(Arc::new(client));
        assert!(hub.capture_message("m", Level::Info).is_nil());
    }

    #[test]
    #[cfg(feature = "panic")]
    fn panics_are_captured_as_unhandled_fatal_events() {
        let events = crate::testing::with_captured_events(|| {
            let result = std::panic::catch_unwind(|| {
                panic!("the flux capacitor broke");
            });
            assert!(result.is_err());
        });
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.level, Level::Fatal);
        let exc = &event.exception.values[0];
        assert_eq!(exc.ty, "panic");
        assert_eq!(exc.value.as_deref(), Some("the flux capacitor broke"));
        let mechanism = exc.mechanism.as_ref().expect("a mechanism");
        assert_eq!(mechanism.ty, "panic");
        assert_eq!(mechanism.handled, Some(false));
    }

    #[test]
    #[cfg(feature = "panic")]
    fn panics_on_delivery_threads_are_left_to_the_worker() {
        let events = crate::testing::with_captured_events(|| {
            let hub = Hub::current();
            std::thread::Builder::new()
                .name(sdk_transport::diag::WORKER_THREAD_NAME.into())
                .spawn(move || {
                    Hub::run(hub, || {
                        let result = std::panic::catch_unwind(|| panic!("a payload bug"));
                        assert!(result.is_err());
                    })
                })
                .expect("spawn")
                .join()
                .expect("join");
            // the same panic on an application thread is captured
            let hub = Hub::current();
            std::thread::spawn(move || {
                Hub::run(hub, || {
                    let result = std::panic::catch_unwind(|| panic!("an app bug"));
                    assert!(result.is_err());
                })
            })
            .join()
            .expect("join");
        });
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].exception.values[0].value.as_deref(),
            Some("an app bug")
        );
    }
}
