//! [`Client`]: turns captures into envelopes and hands them to the transport.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sdk_transport::{
    DataCategory, DiscardReason, Dsn, Envelope, EnvelopeItem, ItemType, Payload, Transport,
};
use uuid::Uuid;

use crate::event_payload::{DscPayload, EventPayload};
use crate::integrations::{self, Integration};
use crate::options::ClientOptions;
use crate::protocol::{
    Contexts, DebugMeta, Event, Level, SdkInfo, SdkPackage, Thread, Values,
};
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
    /// The envelope header `sdk`, serialised once.
    pub(crate) sdk_header: Payload,
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
        let dsn = match options.dsn.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
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
        }
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
        let mut event = blank_event(level);
        event.message = Some(message.to_owned());
        if self.options.attach_stacktrace {
            event.threads = current_thread_stack(2);
        }
        self.capture_event(event, scope)
    }

    /// Captures an error and its `source()` chain with `scope` applied.
    pub fn capture_error(&self, error: &(dyn std::error::Error + 'static), scope: &Scope) -> Uuid {
        let mut event = blank_event(Level::Error);
        event.exception = Values::from(crate::error_chain::exceptions_from_error(error));
        if self.options.attach_stacktrace {
            event.threads = current_thread_stack(2);
        }
        self.capture_event(event, scope)
    }

    /// Runs the event pipeline (scope, event processors, integrations, sample rate,
    /// `before_send`) and hands the event to the transport. Returns the id, or nil when the
    /// event was dropped (each drop is counted for the client report).
    pub fn capture_event(&self, event: Event, scope: &Scope) -> Uuid {
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
        let id = event.event_id;
        let needs_event = self.options.before_send.is_some()
            || self.integrations_process_events
            || scope.has_event_processors();
        let payload = if needs_event {
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
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                        callback(event)
                    })) {
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
            EventPayload::lazy(event, scope.clone(), self.constants.clone())
        };
        let id = payload.event_id();
        let mut envelope = Envelope::with_event_id(id);
        envelope.headers.sdk = Some(self.constants.sdk_header.clone());
        envelope.headers.trace = Some(Payload::lazy(DscPayload {
            trace_id: scope.trace_id,
            constants: self.constants.clone(),
        }));
        envelope.add_item(EnvelopeItem::lazy_json(ItemType::Event, payload));
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
            event = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                integration.process_event(event, options)
            })) {
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

/// A fresh event id: random (v4) without a system call.
pub(crate) fn new_event_id() -> Uuid {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid()
}

/// An event with only an id, a timestamp and a level (no system calls beyond the clock).
pub(crate) fn blank_event(level: Level) -> Event {
    Event {
        event_id: new_event_id(),
        level,
        message: None,
        logentry: None,
        platform: std::borrow::Cow::Borrowed("native"),
        timestamp: SystemTime::now(),
        ty: None,
        start_timestamp: None,
        logger: None,
        transaction: None,
        server_name: None,
        release: None,
        dist: None,
        environment: None,
        user: None,
        request: None,
        contexts: Contexts::default(),
        breadcrumbs: Values::new(),
        exception: Values::new(),
        threads: Values::new(),
        tags: Default::default(),
        extra: Default::default(),
        fingerprint: Vec::new(),
        modules: Default::default(),
        sdk: None,
        debug_meta: None,
    }
}

/// The current thread as a `threads` value with a raw (unresolved) stack trace.
pub(crate) fn current_thread_stack(skip: usize) -> Values<Thread> {
    let raw = RawStacktrace::capture(skip);
    let thread = std::thread::current();
    Values::from(vec![Thread {
        id: None,
        name: thread.name().map(str::to_owned),
        stacktrace: None,
        raw_stacktrace: Some(raw),
        crashed: None,
        current: Some(true),
        main: None,
        state: None,
    }])
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
    ClientConstants {
        release: options.release.as_deref().map(str::to_owned),
        environment: options.environment.as_deref().map(str::to_owned),
        dist: options.dist.as_deref().map(str::to_owned),
        server_name: options
            .server_name
            .as_deref()
            .map(str::to_owned)
            .or_else(|| if defaults { defaults::server_name() } else { None }),
        sdk,
        contexts: if defaults {
            defaults::contexts()
        } else {
            Contexts::default()
        },
        debug_meta: if defaults {
            defaults::debug_meta()
        } else {
            None
        },
        public_key: dsn.map(|d| d.public_key().to_owned()),
        in_app: InAppRules {
            include: options.in_app_include.iter().map(|s| s.to_string()).collect(),
            exclude: options.in_app_exclude.iter().map(|s| s.to_string()).collect(),
        },
        max_breadcrumbs: options.max_breadcrumbs,
        sdk_header,
    }
}

/// The HTTP transport of the enabled features, or `None` (with a warning) when there is none.
fn default_transport(dsn: &Dsn, options: &ClientOptions) -> Option<Arc<dyn Transport>> {
    let _ = options;
    eprintln!(
        "[sentry] no HTTP transport is available for {}: enable the `ureq` or `reqwest` feature \
         of sdk-core, or set ClientOptions::transport",
        dsn.envelope_url()
    );
    None
}

/// The default data of the `contexts` and `debug-images` integrations, built once per process
/// by the protocol modules.
mod defaults {
    use crate::protocol::{Contexts, DebugMeta};

    pub(super) fn server_name() -> Option<String> {
        None
    }

    pub(super) fn contexts() -> Contexts {
        Contexts::default()
    }

    pub(super) fn debug_meta() -> Option<DebugMeta> {
        None
    }
}
