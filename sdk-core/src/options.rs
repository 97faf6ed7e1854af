//! [`ClientOptions`]: everything `init()` can be told.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sdk_transport::{Transport, TransportOptions};

use crate::integrations::Integration;
use crate::protocol::{Breadcrumb, Event};

/// A `before_send` callback: gets every error event right before it is sent; returning `None`
/// drops it (counted as a `before_send` discard).
pub type BeforeSend = Arc<dyn Fn(Event) -> Option<Event> + Send + Sync>;

/// A `before_breadcrumb` callback: gets every breadcrumb before it is recorded; returning `None`
/// drops it.
pub type BeforeBreadcrumb = Arc<dyn Fn(Breadcrumb) -> Option<Breadcrumb> + Send + Sync>;

/// Creates the transport of a client. `init()` calls it once with the final options.
///
/// Closures `Fn(&ClientOptions) -> Arc<dyn Transport>` implement it, and so does an
/// `Arc<dyn Transport>` (every client gets that same transport).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sdk_core::ClientOptions;
/// use sdk_core::transport::{Envelope, Transport};
///
/// struct Discard;
/// impl Transport for Discard {
///     fn send_envelope(&self, _envelope: Envelope) {}
///     fn flush(&self, _timeout: Duration) -> bool { true }
/// }
///
/// let opts = ClientOptions::new()
///     .dsn("https://public@o1.ingest.example.com/1")
///     .transport(|_: &ClientOptions| Arc::new(Discard) as Arc<dyn Transport>);
/// assert!(opts.transport.is_some());
/// ```
pub trait TransportFactory: Send + Sync + 'static {
    /// Creates the transport; `None` leaves the client disabled (say why with a warning).
    fn create_transport(&self, options: &ClientOptions) -> Option<Arc<dyn Transport>>;
}

impl<F> TransportFactory for F
where
    F: Fn(&ClientOptions) -> Arc<dyn Transport> + Send + Sync + 'static,
{
    fn create_transport(&self, options: &ClientOptions) -> Option<Arc<dyn Transport>> {
        Some(self(options))
    }
}

impl TransportFactory for Arc<dyn Transport> {
    fn create_transport(&self, _options: &ClientOptions) -> Option<Arc<dyn Transport>> {
        Some(self.clone())
    }
}

/// The options of a client: plain fields with defaults and builder-style setters.
///
/// ```
/// use std::time::Duration;
/// use sdk_core::ClientOptions;
///
/// let opts = ClientOptions::new()
///     .dsn("https://public@o1.ingest.example.com/1")
///     .release(sdk_core::release_name!())
///     .environment("staging")
///     .sample_rate(0.5)
///     .shutdown_timeout(Duration::from_secs(1));
/// assert_eq!(opts.max_breadcrumbs, 100);
/// assert_eq!(opts.environment.as_deref(), Some("staging"));
/// ```
#[derive(Clone)]
pub struct ClientOptions {
    /// Where to send: the project's DSN. `None` (and no `SENTRY_DSN`) disables the client.
    pub dsn: Option<String>,
    /// The release (`my-app@1.2.3`). Falls back to `SENTRY_RELEASE`.
    pub release: Option<Cow<'static, str>>,
    /// The environment. Falls back to `SENTRY_ENVIRONMENT`, then `production`.
    pub environment: Option<Cow<'static, str>>,
    /// The distribution (build variant) of the release.
    pub dist: Option<Cow<'static, str>>,
    /// The server (host) name. Defaults to the machine's host name.
    pub server_name: Option<Cow<'static, str>>,
    /// Share of error events that are sent, from 0.0 to 1.0 (default 1.0).
    pub sample_rate: f32,
    /// Breadcrumbs kept per scope (default 100).
    pub max_breadcrumbs: usize,
    /// Attach a stack trace of the capturing thread to messages and errors (default false).
    pub attach_stacktrace: bool,
    /// Whether the SDK adds personal data to events by itself (default false).
    ///
    /// When `true`, every event whose user has no IP address gets `user.ip_address =
    /// "{{auto}}"` (the ingest fills in the address the event came from; an event without a
    /// user gets one with only that), and integrations may attach request headers, cookies
    /// and similar data they would otherwise leave out. When `false`, the SDK adds nothing
    /// personal on its own: only what the application sets itself (e.g. `scope.set_user`)
    /// is sent.
    pub send_default_pii: bool,
    /// Called with every error event before it is sent; `None` drops it.
    pub before_send: Option<BeforeSend>,
    /// Called with every breadcrumb before it is recorded; `None` drops it.
    pub before_breadcrumb: Option<BeforeBreadcrumb>,
    /// Module prefixes whose frames are in-app (wins over `in_app_exclude`).
    pub in_app_include: Vec<Cow<'static, str>>,
    /// Module prefixes whose frames are not in-app.
    pub in_app_exclude: Vec<Cow<'static, str>>,
    /// How long the guard's drop (and a panic) waits for queued events (default 2 s).
    pub shutdown_timeout: Duration,
    /// Print SDK diagnostics to stderr (default false).
    pub debug: bool,
    /// Install the default integrations (panic hook, contexts, debug images). Default true.
    pub default_integrations: bool,
    /// Extra integrations, set up after the default ones.
    pub integrations: Vec<Arc<dyn Integration>>,
    /// Creates the transport; `None` uses the HTTP transport of the enabled features.
    pub transport: Option<Arc<dyn TransportFactory>>,
    /// Options of the default HTTP transport: queue limits, gzip, timeouts, retries, client
    /// reports, offline spool.
    pub transport_options: TransportOptions,
    /// Share of transactions that are sent, from 0.0 to 1.0 (default 0.0: tracing off).
    pub traces_sample_rate: f32,
    /// Decides the sample rate per transaction (wins over `traces_sample_rate`).
    pub traces_sampler: Option<crate::performance::TracesSampler>,
    /// Sees every sampled transaction before it is sent; `None` drops it.
    pub before_send_transaction: Option<crate::performance::BeforeSendTransaction>,
    /// The most spans one transaction records (default 1,000; the rest are dropped, counted).
    pub max_spans: usize,
    /// The organisation id for trace continuation (default: from the DSN host).
    pub org_id: Option<String>,
    /// Continue incoming traces only from the same organisation (default false).
    pub strict_trace_continuation: bool,
    /// Also send the W3C `traceparent` header on outgoing requests, next to `sentry-trace`
    /// and `baggage` (default false, as in other Sentry SDKs: PROTOCOL.md §5.5).
    pub propagate_traceparent: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            dsn: None,
            release: None,
            environment: None,
            dist: None,
            server_name: None,
            sample_rate: 1.0,
            max_breadcrumbs: 100,
            attach_stacktrace: false,
            send_default_pii: false,
            before_send: None,
            before_breadcrumb: None,
            in_app_include: Vec::new(),
            in_app_exclude: Vec::new(),
            shutdown_timeout: Duration::from_secs(2),
            debug: false,
            default_integrations: true,
            integrations: Vec::new(),
            transport: None,
            transport_options: TransportOptions::default(),
            traces_sample_rate: 0.0,
            traces_sampler: None,
            before_send_transaction: None,
            max_spans: crate::performance::DEFAULT_MAX_SPANS,
            org_id: None,
            strict_trace_continuation: false,
            propagate_traceparent: false,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("dsn", &self.dsn)
            .field("release", &self.release)
            .field("environment", &self.environment)
            .field("dist", &self.dist)
            .field("server_name", &self.server_name)
            .field("sample_rate", &self.sample_rate)
            .field("max_breadcrumbs", &self.max_breadcrumbs)
            .field("attach_stacktrace", &self.attach_stacktrace)
            .field("send_default_pii", &self.send_default_pii)
            .field("before_send", &self.before_send.is_some())
            .field("before_breadcrumb", &self.before_breadcrumb.is_some())
            .field("in_app_include", &self.in_app_include)
            .field("in_app_exclude", &self.in_app_exclude)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("debug", &self.debug)
            .field("default_integrations", &self.default_integrations)
            .field(
                "integrations",
                &self
                    .integrations
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>(),
            )
            .field("transport", &self.transport.is_some())
            .field("transport_options", &self.transport_options)
            .field("traces_sample_rate", &self.traces_sample_rate)
            .field("traces_sampler", &self.traces_sampler.is_some())
            .field(
                "before_send_transaction",
                &self.before_send_transaction.is_some(),
            )
            .field("max_spans", &self.max_spans)
            .field("org_id", &self.org_id)
            .field("strict_trace_continuation", &self.strict_trace_continuation)
            .field("propagate_traceparent", &self.propagate_traceparent)
            .finish()
    }
}

impl ClientOptions {
    /// Options with every default (no DSN: a disabled client unless `SENTRY_DSN` is set).
    pub fn new() -> Self {
        ClientOptions::default()
    }

    /// Sets the DSN.
    pub fn dsn(mut self, dsn: impl Into<String>) -> Self {
        self.dsn = Some(dsn.into());
        self
    }

    /// Sets the release (see [`release_name!`](crate::release_name)).
    pub fn release(mut self, release: impl Into<Cow<'static, str>>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// Sets the environment.
    pub fn environment(mut self, environment: impl Into<Cow<'static, str>>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Sets the distribution.
    pub fn dist(mut self, dist: impl Into<Cow<'static, str>>) -> Self {
        self.dist = Some(dist.into());
        self
    }

    /// Sets the server name.
    pub fn server_name(mut self, server_name: impl Into<Cow<'static, str>>) -> Self {
        self.server_name = Some(server_name.into());
        self
    }

    /// Sets the error sample rate (clamped to 0.0..=1.0).
    pub fn sample_rate(mut self, rate: f32) -> Self {
        self.sample_rate = rate;
        self
    }

    /// Sets how many breadcrumbs a scope keeps.
    pub fn max_breadcrumbs(mut self, max: usize) -> Self {
        self.max_breadcrumbs = max;
        self
    }

    /// Attaches a stack trace to messages and errors.
    pub fn attach_stacktrace(mut self, on: bool) -> Self {
        self.attach_stacktrace = on;
        self
    }

    /// Allows personal data.
    pub fn send_default_pii(mut self, on: bool) -> Self {
        self.send_default_pii = on;
        self
    }

    /// Sets the `before_send` callback.
    pub fn before_send(
        mut self,
        f: impl Fn(Event) -> Option<Event> + Send + Sync + 'static,
    ) -> Self {
        self.before_send = Some(Arc::new(f));
        self
    }

    /// Sets the `before_breadcrumb` callback.
    pub fn before_breadcrumb(
        mut self,
        f: impl Fn(Breadcrumb) -> Option<Breadcrumb> + Send + Sync + 'static,
    ) -> Self {
        self.before_breadcrumb = Some(Arc::new(f));
        self
    }

    /// Adds a module prefix whose frames are in-app.
    pub fn in_app_include(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.in_app_include.push(prefix.into());
        self
    }

    /// Adds a module prefix whose frames are not in-app.
    pub fn in_app_exclude(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.in_app_exclude.push(prefix.into());
        self
    }

    /// Sets how long shutdown and panics wait for delivery.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Turns SDK diagnostics on or off.
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }

    /// Turns the default integrations on or off.
    pub fn default_integrations(mut self, on: bool) -> Self {
        self.default_integrations = on;
        self
    }

    /// Adds an integration.
    pub fn integration(mut self, integration: impl Integration) -> Self {
        self.integrations.push(Arc::new(integration));
        self
    }

    /// Sets the transport factory.
    pub fn transport(mut self, factory: impl TransportFactory) -> Self {
        self.transport = Some(Arc::new(factory));
        self
    }

    /// Sets the options of the default HTTP transport.
    pub fn transport_options(mut self, options: TransportOptions) -> Self {
        self.transport_options = options;
        self
    }

    /// Sets the transaction sample rate.
    pub fn traces_sample_rate(mut self, rate: f32) -> Self {
        self.traces_sample_rate = rate;
        self
    }

    /// Sets the `traces_sampler`: the sample rate (0.0 to 1.0) per transaction, given its
    /// context and the parent's decision.
    pub fn traces_sampler(
        mut self,
        sampler: impl Fn(&crate::performance::SamplingContext<'_>) -> f64 + Send + Sync + 'static,
    ) -> Self {
        self.traces_sampler = Some(Arc::new(sampler));
        self
    }

    /// Sets `before_send_transaction`.
    pub fn before_send_transaction(
        mut self,
        f: impl Fn(
                crate::performance::FinishedTransaction,
            ) -> Option<crate::performance::FinishedTransaction>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.before_send_transaction = Some(Arc::new(f));
        self
    }

    /// Sets the most spans one transaction records.
    pub fn max_spans(mut self, max_spans: usize) -> Self {
        self.max_spans = max_spans;
        self
    }

    /// Sets `strict_trace_continuation`.
    pub fn strict_trace_continuation(mut self, strict: bool) -> Self {
        self.strict_trace_continuation = strict;
        self
    }

    /// Also sends the W3C `traceparent` header on outgoing requests (default false): for
    /// services traced with OpenTelemetry or another W3C-compatible tool.
    ///
    /// ```
    /// let options = sdk_core::ClientOptions::new().propagate_traceparent(true);
    /// assert!(options.propagate_traceparent);
    /// ```
    pub fn propagate_traceparent(mut self, on: bool) -> Self {
        self.propagate_traceparent = on;
        self
    }

    /// Fills unset DSN, release and environment from `SENTRY_DSN`, `SENTRY_RELEASE` and
    /// `SENTRY_ENVIRONMENT` (code configuration wins), then defaults the environment to
    /// `production`. `SENTRY_DEBUG=1` (or `true`, `yes`, `on`) turns diagnostics on.
    pub fn apply_env(&mut self) {
        fn var(name: &str) -> Option<String> {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        }
        if self.dsn.is_none() {
            self.dsn = var("SENTRY_DSN");
        }
        if self.release.is_none() {
            self.release = var("SENTRY_RELEASE").map(Cow::Owned);
        }
        if self.environment.is_none() {
            self.environment = var("SENTRY_ENVIRONMENT").map(Cow::Owned);
        }
        if self.environment.is_none() {
            self.environment = Some(Cow::Borrowed("production"));
        }
        if !self.debug {
            self.debug = var("SENTRY_DEBUG").is_some_and(|v| {
                matches!(
                    v.to_ascii_lowercase().as_str(),
                    "1" | "true" | "t" | "yes" | "y" | "on"
                )
            });
        }
    }
}

impl From<&str> for ClientOptions {
    fn from(dsn: &str) -> Self {
        ClientOptions::new().dsn(dsn)
    }
}

impl From<String> for ClientOptions {
    fn from(dsn: String) -> Self {
        ClientOptions::new().dsn(dsn)
    }
}

impl From<()> for ClientOptions {
    fn from(_: ()) -> Self {
        ClientOptions::new()
    }
}

impl<T: Into<String>> From<(T, ClientOptions)> for ClientOptions {
    fn from((dsn, options): (T, ClientOptions)) -> Self {
        options.dsn(dsn)
    }
}

/// The release name of the calling crate, `name@version`, from Cargo's environment.
///
/// ```
/// let release = sdk_core::release_name!();
/// assert!(release.starts_with("sdk-core@") || release.contains('@'));
/// ```
#[macro_export]
macro_rules! release_name {
    () => {
        ::std::borrow::Cow::<'static, str>::Borrowed(concat!(
            env!("CARGO_PKG_NAME"),
            "@",
            env!("CARGO_PKG_VERSION")
        ))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_protocol() {
        let o = ClientOptions::default();
        assert_eq!(o.sample_rate, 1.0);
        assert_eq!(o.max_breadcrumbs, 100);
        assert_eq!(o.shutdown_timeout, Duration::from_secs(2));
        assert!(!o.send_default_pii);
        assert!(!o.attach_stacktrace);
        assert!(o.default_integrations);
    }

    #[test]
    fn a_str_is_a_dsn() {
        let o: ClientOptions = "https://k@example.com/1".into();
        assert_eq!(o.dsn.as_deref(), Some("https://k@example.com/1"));
        let o: ClientOptions = (
            "https://k@example.com/2",
            ClientOptions::new().release("x@1"),
        )
            .into();
        assert_eq!(o.dsn.as_deref(), Some("https://k@example.com/2"));
        assert_eq!(o.release.as_deref(), Some("x@1"));
    }

    #[test]
    fn release_name_is_crate_at_version() {
        assert_eq!(
            release_name!(),
            format!("sdk-core@{}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn code_wins_over_env_and_environment_defaults_to_production() {
        let mut o = ClientOptions::new().release("code@1");
        o.apply_env();
        assert_eq!(o.release.as_deref(), Some("code@1"));
        // (the env fallbacks themselves are tested in tests/env_fallbacks.rs, in a process of
        // their own)
        let env = std::env::var("SENTRY_ENVIRONMENT").unwrap_or_default();
        let expected = match env.trim() {
            "" => "production",
            set => set,
        };
        assert_eq!(o.environment.as_deref(), Some(expected));
        let mut o = ClientOptions::new().environment("from-code");
        o.apply_env();
        assert_eq!(o.environment.as_deref(), Some("from-code"));
    }
}
