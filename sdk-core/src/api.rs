//! The free functions applications call: `init`, capture, scopes, breadcrumbs, flush.
//!
//! Every function first checks, with one atomic load, whether any client is bound; when none
//! is, it returns at once without running closures or building anything.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use uuid::Uuid;

use crate::client::Client;
use crate::hub::{is_active, set_global_client, Hub, IntoBreadcrumbs, ScopeGuard};
use crate::options::ClientOptions;
use crate::protocol::{Event, Level};
use crate::scope::Scope;

/// Initialises the SDK for the whole process and returns a guard that flushes and shuts the
/// transport down when dropped (waiting at most `shutdown_timeout`, 2 s by default).
///
/// Accepts [`ClientOptions`] or a DSN string. Unset DSN, release and environment come from
/// `SENTRY_DSN`, `SENTRY_RELEASE` and `SENTRY_ENVIRONMENT`. Without any DSN the SDK stays
/// disabled and every call is a cheap no-op; a malformed DSN prints a warning to stderr and
/// also leaves it disabled (it never panics). Threads and async runtimes that already exist
/// see the new client at once.
///
/// ```
/// // no DSN: a disabled client, nothing is sent
/// let _guard = sdk_core::init(sdk_core::ClientOptions::new().release(sdk_core::release_name!()));
/// sdk_core::capture_message("not sent", sdk_core::Level::Info);
/// ```
#[must_use = "the SDK shuts down when the guard is dropped"]
pub fn init(options: impl Into<ClientOptions>) -> ClientInitGuard {
    let mut options = options.into();
    options.apply_env();
    if options.debug {
        sdk_transport::diag::set_debug(true);
    }
    // make sure the thread that initialises owns the process hub if nobody used the SDK yet
    let _ = Hub::with_current(|_| ());
    let client = Arc::new(Client::new(options));
    set_global_client(Some(client.clone()));
    if client.is_enabled() {
        sdk_transport::sdk_debug!("SDK enabled");
    }
    ClientInitGuard {
        client: Some(client),
    }
}

/// Returned by [`init`]: keeps the SDK running; dropping it flushes, shuts the transport down
/// (within `shutdown_timeout`) and unbinds the client.
pub struct ClientInitGuard {
    client: Option<Arc<Client>>,
}

impl std::fmt::Debug for ClientInitGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInitGuard")
            .field("client", &self.client)
            .finish()
    }
}

impl ClientInitGuard {
    /// Whether the SDK sends anything (a valid DSN and a transport).
    pub fn is_enabled(&self) -> bool {
        self.client.as_ref().is_some_and(|c| c.is_enabled())
    }

    /// The client `init` created.
    pub fn client(&self) -> Option<&Arc<Client>> {
        self.client.as_ref()
    }

    /// Flushes now, at most `timeout`; returns whether everything was delivered.
    pub fn flush(&self, timeout: Option<Duration>) -> bool {
        self.client.as_ref().is_none_or(|c| c.flush(timeout))
    }
}

impl Drop for ClientInitGuard {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        sdk_transport::sdk_debug!("shutting down");
        let still_bound = crate::hub::global_client().is_some_and(|c| Arc::ptr_eq(&c, &client));
        if still_bound {
            set_global_client(None);
        }
        if !client.close(None) {
            sdk_transport::sdk_debug!("shutdown timed out; some events may not have been sent");
        }
    }
}

/// Captures a message at `level`; returns the event id (nil when nothing was sent).
///
/// ```
/// sdk_core::capture_message("cache warmed up", sdk_core::Level::Info);
/// ```
#[inline]
pub fn capture_message(message: &str, level: Level) -> Uuid {
    if !is_active() {
        return Uuid::nil();
    }
    Hub::with_current(|hub| hub.capture_message(message, level)).unwrap_or_else(Uuid::nil)
}

/// Captures an error with its whole `source()` chain (innermost first on the wire).
///
/// ```
/// let err = std::io::Error::other("disk full");
/// sdk_core::capture_error(&err);
/// ```
#[inline]
pub fn capture_error(error: &(dyn std::error::Error + 'static)) -> Uuid {
    if !is_active() {
        return Uuid::nil();
    }
    Hub::with_current(|hub| hub.capture_error(error)).unwrap_or_else(Uuid::nil)
}

/// Captures a complete event.
#[inline]
pub fn capture_event(event: Event) -> Uuid {
    if !is_active() {
        return Uuid::nil();
    }
    Hub::with_current(|hub| hub.capture_event(event)).unwrap_or_else(Uuid::nil)
}

/// The SDK's "now" for timestamps (events, breadcrumbs, logs): a real wall-clock time, read at
/// most 100 ms earlier on this thread and advanced by the monotonic clock since (the CPU's
/// time-stamp counter where the kernel itself times with it), at nanosecond resolution. It is
/// cheaper than `SystemTime::now()` and never later than it; a step of the system clock shows
/// within 100 ms.
///
/// ```
/// let now = sdk_core::timestamp_now();
/// let system = std::time::SystemTime::now();
/// let gap = system.duration_since(now).unwrap_or_default();
/// assert!(gap < std::time::Duration::from_millis(1));
/// ```
#[inline]
pub fn timestamp_now() -> std::time::SystemTime {
    crate::performance::clock::wall_now()
}

/// The id of the last event the current hub sent.
pub fn last_event_id() -> Option<Uuid> {
    if !is_active() {
        return None;
    }
    Hub::with_current(|hub| hub.last_event_id()).flatten()
}

/// Records a breadcrumb: a [`Breadcrumb`](crate::Breadcrumb), or a closure returning one (not
/// run when the SDK is disabled).
///
/// ```
/// use sdk_core::{add_breadcrumb, Breadcrumb};
/// add_breadcrumb(Breadcrumb::new("user clicked checkout").with_category("ui.click"));
/// add_breadcrumb(|| Breadcrumb::new(format!("expensive {}", 42)));
/// ```
// Always inlined: the value is then built in the slot the SDK takes it from.
#[inline(always)]
pub fn add_breadcrumb<B: IntoBreadcrumbs>(breadcrumb: B) {
    if !is_active() {
        return;
    }
    // The closure borrows the value instead of owning it: a breadcrumb is ~220 bytes, and each
    // move of an owning closure through `with_current` is a copy of it. It leaves the slot only
    // for its ring entry.
    let mut slot = Some(breadcrumb);
    let _ = Hub::with_current(|hub| hub.add_breadcrumb_from(&mut slot));
}

/// Changes the current scope. The closure is not run when the SDK is disabled; concurrent
/// calls never lose each other's writes.
///
/// ```
/// sdk_core::configure_scope(|scope| scope.set_tag("tenant", "acme"));
/// ```
#[inline]
pub fn configure_scope<F, R>(f: F) -> R
where
    F: FnOnce(&mut Scope) -> R,
    R: Default,
{
    if !is_active() {
        return R::default();
    }
    Hub::with_current(|hub| hub.configure_scope(f)).unwrap_or_default()
}

/// Runs `callback` in a fork of the current scope configured by `scope_config`; the previous
/// scope is restored afterwards (also on panic).
///
/// ```
/// sdk_core::with_scope(
///     |scope| scope.set_tag("job", "nightly"),
///     || sdk_core::capture_message("job failed", sdk_core::Level::Error),
/// );
/// ```
#[inline]
pub fn with_scope<C, F, R>(scope_config: C, callback: F) -> R
where
    C: FnOnce(&mut Scope),
    F: FnOnce() -> R,
{
    if !is_active() {
        return callback();
    }
    crate::hub::with_scope_on_current(scope_config, callback)
}

/// Pushes a fork of the current scope; it is popped when the guard drops (dropping guards out
/// of order never panics).
pub fn push_scope() -> ScopeGuard {
    Hub::current().push_scope()
}

/// Waits until queued events were sent, at most `timeout`; `true` when everything went out.
pub fn flush(timeout: Duration) -> bool {
    if !is_active() {
        return true;
    }
    Hub::with_current(|hub| hub.client())
        .flatten()
        .is_none_or(|c| c.flush(Some(timeout)))
}

/// Makes a scope follow a future across `.await` points and executors.
///
/// ```
/// use sdk_core::SentryFutureExt;
///
/// async fn handle() {
///     sdk_core::configure_scope(|scope| scope.set_tag("request", "42"));
/// }
/// // each task gets its own isolation scope, forked from the spawning code's scope
/// let task = handle().in_current_scope();
/// # drop(task);
/// ```
pub trait SentryFutureExt: Future + Sized {
    /// Runs every poll of the future with `hub` as the current hub.
    fn bind_hub(self, hub: Arc<Hub>) -> SentryFuture<Self> {
        SentryFuture {
            hub,
            future: Box::pin(self),
        }
    }

    /// Binds a new hub forked from the current scope (an isolation scope for this task).
    fn in_current_scope(self) -> SentryFuture<Self> {
        let hub = Arc::new(Hub::new_from_top(&Hub::current()));
        self.bind_hub(hub)
    }
}

impl<F: Future> SentryFutureExt for F {}

/// A future bound to a hub (see [`SentryFutureExt`]).
pub struct SentryFuture<F> {
    hub: Arc<Hub>,
    future: Pin<Box<F>>,
}

impl<F> SentryFuture<F> {
    /// The hub the future runs with.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}

impl<F> std::fmt::Debug for SentryFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentryFuture").finish_non_exhaustive()
    }
}

impl<F: Future> Future for SentryFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let hub = this.hub.clone();
        let future = &mut this.future;
        Hub::run(hub, || future.as_mut().poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::testing::TestTransport;

    /// Polls a future to completion on this thread, yielding to other work between polls.
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = Box::pin(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    /// A future that is pending once, so that it is polled twice.
    struct YieldOnce(bool);
    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                Poll::Pending
            }
        }
    }

    #[test]
    fn a_bound_hub_follows_the_future_across_await_points() {
        let transport = TestTransport::new();
        let shared: Arc<dyn sdk_transport::Transport> = transport.clone();
        let client = Arc::new(Client::new(ClientOptions::new().transport(shared)));
        let task_hub = Arc::new(Hub::with_client(client));
        let task = async {
            configure_scope(|s| s.set_tag("task", "1"));
            YieldOnce(false).await;
            capture_message("after await", Level::Info);
        }
        .bind_hub(task_hub.clone());
        // another hub is current on this thread between polls: the task must not see it
        let outer = Arc::new(Hub::new());
        Hub::run(outer.clone(), || block_on(task));
        let events = transport.fetch_and_clear_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].tags["task"], "1");
        assert_eq!(outer.scope_snapshot().tag("task"), None);
        assert_eq!(task_hub.scope_snapshot().tag("task"), Some("1"));
    }
}
