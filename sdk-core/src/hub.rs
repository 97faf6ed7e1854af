//! [`Hub`]: a stack of scopes (the isolation scope of a thread, request or task) and the
//! lookup of the client.
//!
//! The scope model follows Sentry's: a **global** scope (process-wide, [`configure_global_scope`]),
//! an **isolation** scope (one [`Hub`] per thread by default, or per request/task with
//! [`Hub::new_from_top`] + [`Hub::run`] / [`crate::SentryFutureExt::bind_hub`]), and the
//! **current** scope (the top of the hub's stack, forked by `with_scope` / `push_scope`). At
//! capture, data merges global -> current, the more specific winning.
//!
//! The client is never snapshotted into a hub: a hub without an explicitly bound client reads
//! the process's client at every capture (one atomic load when it has not changed), so `init()`
//! reaches threads and runtimes that existed before it.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::thread::ThreadId;

use uuid::Uuid;

use crate::client::Client;
use crate::protocol::{Breadcrumb, Event, Level};
use crate::scope::Scope;

/// Number of enabled clients bound anywhere (the global slot and explicit hub bindings). Zero
/// means every capture function returns at once.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Whether any enabled client is bound: the first check of every capture function.
#[inline(always)]
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0
}

/// A counted reference to an enabled client: while it lives, [`is_active`] is true.
pub(crate) struct Binding(Arc<Client>);

impl Binding {
    pub(crate) fn new(client: Arc<Client>) -> Binding {
        ACTIVE.fetch_add(1, Ordering::AcqRel);
        Binding(client)
    }
}

impl Clone for Binding {
    fn clone(&self) -> Self {
        Binding::new(self.0.clone())
    }
}

impl Drop for Binding {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

// ---------------------------------------------------------------------------------------------
// The process's client: written by init(), read by every hub with no explicit client.

static GLOBAL_GEN: AtomicU64 = AtomicU64::new(0);
static GLOBAL_CLIENT: RwLock<Option<Binding>> = RwLock::new(None);

thread_local! {
    static CLIENT_CACHE: RefCell<(u64, Option<Arc<Client>>)> = const { RefCell::new((0, None)) };
}

/// Binds `client` as the process's client (or unbinds with `None`); returns the previous one.
pub(crate) fn set_global_client(client: Option<Arc<Client>>) -> Option<Arc<Client>> {
    let binding = client.filter(|c| c.is_enabled()).map(Binding::new);
    let mut slot = GLOBAL_CLIENT
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let old = std::mem::replace(&mut *slot, binding);
    GLOBAL_GEN.fetch_add(1, Ordering::AcqRel);
    drop(slot);
    old.map(|b| b.0.clone())
}

/// Runs `f` with the process's client borrowed from this thread's cache (no reference count is
/// taken, so threads do not contend on the client's counter). `None` when no client is bound.
#[inline]
pub(crate) fn with_global_client<R>(f: impl FnOnce(&Arc<Client>) -> R) -> Option<R> {
    let gen = GLOBAL_GEN.load(Ordering::Acquire);
    let mut f = Some(f);
    let fast = CLIENT_CACHE.try_with(|cache| {
        if cache.try_borrow().ok()?.0 != gen || gen == 0 {
            let mut cache = cache.try_borrow_mut().ok()?;
            let slot = GLOBAL_CLIENT.read().unwrap_or_else(PoisonError::into_inner);
            cache.1 = slot.as_ref().map(|b| b.0.clone());
            cache.0 = gen;
        }
        let cache = cache.try_borrow().ok()?;
        let client = cache.1.as_ref()?;
        f.take().map(|f| f(client))
    });
    match (fast, f) {
        (Ok(Some(result)), _) => Some(result),
        // re-entered while refreshing, or thread-local storage is being torn down
        (_, Some(f)) => global_client().map(|client| f(&client)),
        (_, None) => None,
    }
}

/// The process's client, cached per thread and refreshed when `init()` changes it.
pub(crate) fn global_client() -> Option<Arc<Client>> {
    let gen = GLOBAL_GEN.load(Ordering::Acquire);
    CLIENT_CACHE
        .try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            if cache.0 != gen || gen == 0 {
                let slot = GLOBAL_CLIENT.read().unwrap_or_else(PoisonError::into_inner);
                cache.1 = slot.as_ref().map(|b| b.0.clone());
                cache.0 = gen;
            }
            cache.1.clone()
        })
        .ok()
        .flatten()
        .or_else(|| {
            // thread-local storage being torn down: read the slot directly
            let slot = GLOBAL_CLIENT.read().unwrap_or_else(PoisonError::into_inner);
            slot.as_ref().map(|b| b.0.clone())
        })
}

// ---------------------------------------------------------------------------------------------
// The global scope.

static GLOBAL_SCOPE_SET: AtomicUsize = AtomicUsize::new(0);
static GLOBAL_SCOPE: OnceLock<RwLock<Scope>> = OnceLock::new();

/// Configures the global scope: data applied to every event of the process, under the data of
/// the thread's or task's scopes.
///
/// ```
/// sdk_core::configure_global_scope(|scope| scope.set_tag("region", "eu-west-1"));
/// ```
pub fn configure_global_scope<F, R>(f: F) -> R
where
    F: FnOnce(&mut Scope) -> R,
{
    let lock = GLOBAL_SCOPE.get_or_init(|| RwLock::new(Scope::new()));
    let mut scope = lock.write().unwrap_or_else(PoisonError::into_inner);
    let result = f(&mut scope);
    GLOBAL_SCOPE_SET.store(usize::from(!scope.is_empty()), Ordering::Release);
    result
}

/// A snapshot of the global scope, when it holds anything.
pub(crate) fn global_scope() -> Option<Scope> {
    if GLOBAL_SCOPE_SET.load(Ordering::Acquire) == 0 {
        return None;
    }
    let lock = GLOBAL_SCOPE.get()?;
    let scope = lock.read().unwrap_or_else(PoisonError::into_inner);
    Some(scope.clone())
}

// ---------------------------------------------------------------------------------------------
// Hubs.

#[derive(Clone)]
struct Layer {
    /// Which client this layer uses.
    client: ClientSlot,
    scope: Scope,
}

/// The client a scope layer uses.
#[derive(Clone)]
enum ClientSlot {
    /// The process's client (whatever `init()` bound, now or later).
    Process,
    /// An enabled client bound explicitly.
    Bound(Binding),
    /// A disabled client bound explicitly: nothing is sent from this layer.
    Off,
}

impl ClientSlot {
    fn new(client: Option<Arc<Client>>) -> ClientSlot {
        match client {
            None => ClientSlot::Process,
            Some(c) if c.is_enabled() => ClientSlot::Bound(Binding::new(c)),
            Some(_) => ClientSlot::Off,
        }
    }

    /// `None`: use the process's client; `Some(None)`: no client.
    fn explicit(&self) -> Option<Option<Arc<Client>>> {
        match self {
            ClientSlot::Process => None,
            ClientSlot::Bound(b) => Some(Some(b.0.clone())),
            ClientSlot::Off => Some(None),
        }
    }
}

struct Stack {
    layers: Vec<Layer>,
    last_event_id: Option<Uuid>,
    /// A popped scope's uniquely owned user allocation, handed to the next fork so that its
    /// `set_user` reuses it instead of allocating (see `Scope::set_user`).
    spare_user: Option<crate::scope::UserArc>,
}

impl Stack {
    /// Pushes a fork of the top layer (cloned straight into its new slot) and hands it the
    /// spare user allocation.
    fn push_fork(&mut self) -> usize {
        let top = self.layers.len() - 1;
        self.layers.extend_from_within(top..);
        let spare = self.spare_user.take();
        self.top_mut().scope.spare_user.set(spare);
        self.layers.len()
    }
}

impl Stack {
    fn top(&self) -> &Layer {
        // The stack never becomes empty: pops stop at the root layer.
        &self.layers[self.layers.len() - 1]
    }

    fn top_mut(&mut self) -> &mut Layer {
        let last = self.layers.len() - 1;
        &mut self.layers[last]
    }
}

/// A stack of scopes with an optional explicitly bound client: the isolation scope of a thread,
/// a request or a task.
///
/// Each thread has a current hub ([`Hub::current`]); the first thread that uses the SDK owns
/// the process hub ([`Hub::main`]), and other threads start with a fork of the process hub's
/// top scope (so tags set on the main thread before spawning are inherited).
///
/// ```
/// use std::sync::Arc;
/// use sdk_core::Hub;
///
/// // one hub per request: scope changes stay inside it
/// let hub = Arc::new(Hub::new_from_top(&Hub::current()));
/// Hub::run(hub, || {
///     sdk_core::configure_scope(|scope| scope.set_tag("request", "1"));
/// });
/// ```
pub struct Hub {
    stack: Mutex<Stack>,
    /// Unique per hub (never reused, unlike an address): tells a thread's current hub after a
    /// callback from the one it was before.
    id: u64,
    /// Whether a client was ever bound explicitly to this hub; when not, the client is the
    /// process's and can be read without locking the stack.
    has_explicit: AtomicBool,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stack = self.lock();
        f.debug_struct("Hub")
            .field("depth", &stack.layers.len())
            .field("scope", &stack.top().scope)
            .finish()
    }
}

static PROCESS_HUB: OnceLock<(Arc<Hub>, ThreadId)> = OnceLock::new();

thread_local! {
    static THREAD_HUB: RefCell<Option<Arc<Hub>>> = const { RefCell::new(None) };
    /// How many `configure_scope` closures run on this thread (their hub is locked).
    static CONFIGURING: Cell<u32> = const { Cell::new(0) };
    /// The explicitly bound client of the hub whose scope is being configured on this thread.
    static CONFIGURING_CLIENT: RefCell<Option<Arc<Client>>> = const { RefCell::new(None) };
    /// The hubs (by address) whose `configure_scope` closures run on this thread, outermost
    /// first: their locks are held by this thread. Only the first `CONFIGURING` entries are
    /// live. Fixed slots in plain cells: no allocation, no borrow flag, no destructor.
    static CONFIGURING_HUBS: [Cell<usize>; MAX_NESTED_CONFIGURING] =
        const { [const { Cell::new(0) }; MAX_NESTED_CONFIGURING] };
}

/// How many nested `configure_scope` closures (on this thread) are told apart; deeper ones make
/// SDK calls inside them treat every hub as locked by this thread (they are skipped with a debug
/// message rather than risk a deadlock).
const MAX_NESTED_CONFIGURING: usize = 8;

/// How long an SDK call inside a `configure_scope` closure waits for the lock of *another* hub
/// that a different thread holds. Bounded, because that thread may itself be inside a
/// `configure_scope` closure of this thread's hub, waiting for us: two hubs configured across
/// each other would deadlock otherwise.
const OTHER_HUB_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Whether this thread is inside a `configure_scope` closure of `hub` (so holds its lock).
fn configuring(hub: &Hub) -> bool {
    let addr = hub as *const Hub as usize;
    let depth = CONFIGURING.with(Cell::get) as usize;
    if depth > MAX_NESTED_CONFIGURING {
        return true;
    }
    CONFIGURING_HUBS.with(|hubs| hubs[..depth].iter().any(|h| h.get() == addr))
}

fn process_hub() -> &'static (Arc<Hub>, ThreadId) {
    PROCESS_HUB.get_or_init(|| (Arc::new(Hub::new()), std::thread::current().id()))
}

fn new_thread_hub() -> Arc<Hub> {
    let (hub, thread) = process_hub();
    if *thread == std::thread::current().id() {
        hub.clone()
    } else {
        Arc::new(Hub::new_from_top(hub))
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    /// A new hub with an empty scope, using the process's client.
    pub fn new() -> Hub {
        Hub::with_layer(Layer {
            client: ClientSlot::Process,
            scope: Scope::new(),
        })
    }

    /// A new hub with `client` bound explicitly (instead of the process's client) and an empty
    /// scope. A disabled client turns sending off for this hub.
    pub fn with_client(client: Arc<Client>) -> Hub {
        Hub::with_layer(Layer {
            client: ClientSlot::new(Some(client)),
            scope: Scope::new(),
        })
    }

    /// A new hub that starts with a fork of `other`'s current scope and client binding.
    pub fn new_from_top(other: &Hub) -> Hub {
        let top = other.lock().top().clone();
        Hub::with_layer(top)
    }

    fn with_layer(layer: Layer) -> Hub {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Hub {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            has_explicit: AtomicBool::new(!matches!(layer.client, ClientSlot::Process)),
            stack: Mutex::new(Stack {
                layers: vec![layer],
                last_event_id: None,
                spare_user: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Stack> {
        self.stack.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the stack unless this thread is inside a `configure_scope` closure of this hub,
    /// where locking would deadlock: then `None`. Inside a closure of *another* hub, waits for
    /// this hub's lock at most [`OTHER_HUB_WAIT`] (then `None`), so that two threads
    /// configuring each other's hubs cannot deadlock.
    #[inline]
    fn lock_reentrant(&self) -> Option<MutexGuard<'_, Stack>> {
        if CONFIGURING.with(Cell::get) == 0 {
            return Some(self.lock());
        }
        self.lock_while_configuring()
    }

    /// [`Hub::lock_reentrant`] inside a `configure_scope` closure.
    #[cold]
    fn lock_while_configuring(&self) -> Option<MutexGuard<'_, Stack>> {
        if configuring(self) {
            return None;
        }
        let mut deadline = None;
        let mut spins = 0u32;
        loop {
            match self.stack.try_lock() {
                Ok(guard) => return Some(guard),
                Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            let now = std::time::Instant::now();
            let until = *deadline.get_or_insert(now + OTHER_HUB_WAIT);
            if now >= until {
                sdk_transport::sdk_debug!(
                    "another hub stayed locked while configuring a scope: its scope is not applied"
                );
                return None;
            }
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        }
    }

    /// The process hub (owned by the first thread that used the SDK).
    pub fn main() -> Arc<Hub> {
        process_hub().0.clone()
    }

    /// This thread's current hub.
    pub fn current() -> Arc<Hub> {
        Hub::with_current(|hub| hub.clone()).unwrap_or_else(Hub::main)
    }

    /// Runs `f` with this thread's current hub (no reference count taken). `None` only if `f`
    /// could not be run at all (never in practice).
    #[inline]
    pub(crate) fn with_current<R>(f: impl FnOnce(&Arc<Hub>) -> R) -> Option<R> {
        let mut f = Some(f);
        let fast = THREAD_HUB.try_with(|slot| {
            let borrowed = slot.try_borrow().ok()?;
            let hub = borrowed.as_ref()?;
            let f = f.take()?;
            Some(f(hub))
        });
        if let Ok(Some(result)) = fast {
            return Some(result);
        }
        // First use on this thread (or the slot is being swapped): create/look up the hub.
        let hub = THREAD_HUB
            .try_with(|slot| match slot.try_borrow_mut() {
                Ok(mut slot) => slot.get_or_insert_with(new_thread_hub).clone(),
                Err(_) => slot
                    .try_borrow()
                    .ok()
                    .and_then(|s| s.clone())
                    .unwrap_or_else(new_thread_hub),
            })
            .unwrap_or_else(|_| Hub::main());
        f.take().map(|f| f(&hub))
    }

    /// Makes `hub` this thread's current hub while `f` runs, then restores the previous one
    /// (also when `f` panics).
    pub fn run<R>(hub: Arc<Hub>, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Arc<Hub>>, bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                if self.1 {
                    let previous = self.0.take();
                    let _ = THREAD_HUB.try_with(|slot| {
                        if let Ok(mut slot) = slot.try_borrow_mut() {
                            *slot = previous;
                        }
                    });
                }
            }
        }
        // make sure this thread has its own hub first, so that restoring is well defined
        Hub::with_current(|_| ());
        let swapped = THREAD_HUB
            .try_with(|slot| match slot.try_borrow_mut() {
                Ok(mut slot) => Some(slot.replace(hub.clone())),
                Err(_) => None,
            })
            .ok()
            .flatten();
        let _restore = match swapped {
            Some(previous) => Restore(previous, true),
            None => {
                sdk_transport::sdk_debug!(
                    "Hub::run inside a configure_scope closure: the hub was not switched"
                );
                Restore(None, false)
            }
        };
        f()
    }

    /// The client of this hub: the explicitly bound one, else the process's.
    pub fn client(&self) -> Option<Arc<Client>> {
        let explicit = self
            .lock_reentrant()
            .and_then(|s| s.top().client.explicit());
        match explicit {
            Some(explicit) => explicit,
            None => global_client(),
        }
    }

    /// Binds `client` explicitly to the current scope of this hub (a disabled client turns
    /// sending off for it); `None` uses the process's client again.
    pub fn bind_client(&self, client: Option<Arc<Client>>) {
        let binding = ClientSlot::new(client);
        if !matches!(binding, ClientSlot::Process) {
            self.has_explicit.store(true, Ordering::Release);
        }
        if let Some(mut stack) = self.lock_reentrant() {
            let old = std::mem::replace(&mut stack.top_mut().client, binding);
            drop(stack);
            drop(old);
        }
    }

    /// Runs `f` with this hub's client (the explicitly bound one, else the process's), without
    /// locking the stack when no client was ever bound to this hub explicitly.
    #[inline]
    pub(crate) fn using_client<R>(&self, f: impl FnOnce(&Arc<Client>) -> R) -> Option<R> {
        if !self.has_explicit.load(Ordering::Acquire) {
            return with_global_client(f);
        }
        self.client().map(|client| f(&client))
    }

    /// Captures with a snapshot of the current scope (taken under one lock) and the client.
    #[inline]
    fn capture_with(&self, f: impl FnOnce(&Arc<Client>, &Scope) -> Uuid) -> Uuid {
        if !self.has_explicit.load(Ordering::Acquire) {
            let scope = match self.lock_reentrant() {
                Some(stack) => stack.top().scope.clone(),
                None => Scope::new(),
            };
            return with_global_client(|client| f(client, &scope)).unwrap_or_else(Uuid::nil);
        }
        match self.snapshot() {
            Some((client, scope)) => f(&client, &scope),
            None => Uuid::nil(),
        }
    }

    /// A snapshot of the current scope and the client, taken under one lock.
    pub(crate) fn snapshot(&self) -> Option<(Arc<Client>, Scope)> {
        let (explicit, scope) = match self.lock_reentrant() {
            Some(stack) => {
                let top = stack.top();
                (top.client.explicit(), top.scope.clone())
            }
            None => {
                sdk_transport::sdk_debug!(
                    "capture inside a configure_scope closure: the scope is not applied"
                );
                let client = CONFIGURING_CLIENT
                    .try_with(|c| c.try_borrow().ok().and_then(|c| c.clone()))
                    .ok()
                    .flatten();
                (client.map(Some), Scope::new())
            }
        };
        let client = match explicit {
            Some(explicit) => explicit?,
            None => global_client()?,
        };
        Some((client, scope))
    }

    /// Runs `f` on the current scope, under the hub's lock: concurrent calls never lose each
    /// other's writes. Not run when no client is bound.
    pub fn configure_scope<F, R>(&self, f: F) -> R
    where
        F: FnOnce(&mut Scope) -> R,
        R: Default,
    {
        if !is_active() {
            return R::default();
        }
        let Some(mut stack) = self.lock_reentrant() else {
            sdk_transport::sdk_debug!("nested configure_scope on the same hub: not run");
            return R::default();
        };
        run_configuring(self, &mut stack, f)
    }

    /// Forks the current scope, configures the fork with `scope_config`, runs `callback` with
    /// it and restores the previous scope (also on panic). `scope_config` is not run when no
    /// client is bound; `callback` always runs.
    pub fn with_scope<C, F, R>(&self, scope_config: C, callback: F) -> R
    where
        C: FnOnce(&mut Scope),
        F: FnOnce() -> R,
    {
        if !is_active() {
            return callback();
        }
        let _guard = self.push_scope_configured(scope_config);
        callback()
    }

    #[inline]
    fn push_scope_configured<C: FnOnce(&mut Scope)>(&self, scope_config: C) -> ScopeGuardRef<'_> {
        // declared first so that it is dropped last: a panicking `scope_config` releases the
        // lock before the guard pops the scope again
        let mut guard = ScopeGuardRef {
            hub: self,
            depth: None,
        };
        let Some(mut stack) = self.lock_reentrant() else {
            return guard;
        };
        guard.depth = Some(stack.push_fork());
        run_configuring(self, &mut stack, scope_config);
        drop(stack);
        guard
    }

    /// Pushes a fork of the current scope; the returned guard pops it when dropped.
    pub fn push_scope(self: &Arc<Self>) -> ScopeGuard {
        let depth = self.lock_reentrant().map(|mut stack| stack.push_fork());
        ScopeGuard {
            hub: self.clone(),
            depth,
        }
    }

    fn pop_to(&self, depth: usize) {
        let mut deferred = Popped::Nothing;
        self.take_to(depth, &mut deferred);
        drop(deferred);
    }

    /// Pops the scopes from `depth` up and puts into `deferred` what must be dropped after
    /// unlocking: dropping it may run user code (values captured by event processors, a span's
    /// or client's last reference), which must be free to call the SDK. (An out-parameter, so
    /// that the common case, nothing to defer, moves nothing.)
    fn take_to(&self, depth: usize, deferred: &mut Popped) {
        let Some(mut stack) = self.lock_reentrant() else {
            return;
        };
        let len = stack.layers.len();
        if len < depth {
            sdk_transport::sdk_debug!("a scope guard was dropped after its scope was popped");
            return;
        }
        if len > depth {
            sdk_transport::sdk_debug!(
                "scope guards dropped out of order: popping {} inner scope(s) too",
                len - depth
            );
        }
        let keep = depth.saturating_sub(1).max(1);
        if stack.layers.len() == keep + 1 {
            // the common case: move out only the parts whose drop may run user code, and drop
            // the plain data (tags, user, maps, breadcrumbs) in place, without moving the layer
            let top = stack.top_mut();
            let processors = top.scope.event_processors.take();
            let attachments = top.scope.attachments.take();
            let span = top.scope.span.take();
            let client = std::mem::replace(&mut top.client, ClientSlot::Process);
            // keep one uniquely owned user allocation for the next fork's `set_user`
            let (spare, user) = match (top.scope.spare_user.take(), top.scope.user.take()) {
                (None, Some(user)) if crate::scope::reusable_user(&user) => (Some(user), None),
                (spare, user) => (spare, user),
            };
            stack.layers.truncate(keep);
            if stack.spare_user.is_none() {
                stack.spare_user = spare;
            }
            drop(stack);
            let nothing_to_drop = processors.is_none()
                && attachments.is_none()
                && span.is_none()
                && matches!(client, ClientSlot::Process)
                && user.is_none();
            if !nothing_to_drop {
                *deferred = Popped::One {
                    _processors: processors,
                    _attachments: attachments,
                    _span: span,
                    _client: client,
                    _user: user,
                };
            }
        } else {
            let popped: Vec<Layer> = stack.layers.drain(keep.min(len)..).collect();
            drop(stack);
            *deferred = Popped::Many { _layers: popped };
        }
    }

    /// Records a breadcrumb on the current scope, after `before_breadcrumb`, keeping the
    /// client's `max_breadcrumbs`. Not run when no client is bound.
    #[inline]
    pub fn add_breadcrumb<B: IntoBreadcrumbs>(&self, breadcrumb: B) {
        self.add_breadcrumb_from(&mut Some(breadcrumb));
    }

    /// [`Hub::add_breadcrumb`] with the value in the caller's slot: a breadcrumb (~220 bytes)
    /// moves once, from the slot into its ring entry.
    #[inline]
    pub(crate) fn add_breadcrumb_from<B: IntoBreadcrumbs>(&self, slot: &mut Option<B>) {
        if !is_active() {
            return;
        }
        let Some((max, before)) = self.using_client(|client| {
            let options = client.options();
            (options.max_breadcrumbs, options.before_breadcrumb.clone())
        }) else {
            return;
        };
        let Some(before) = before else {
            // no before_breadcrumb: each value moves straight into its ring slot
            B::drain_slot(slot, |crumb| self.push_breadcrumb_now(crumb, max));
            return;
        };
        B::drain_slot(slot, |crumb| {
            let Some(crumb) = crumb.take() else {
                return;
            };
            let callback = before.clone();
            let crumb = match crate::callback::call(move || callback(crumb)) {
                Ok(Some(crumb)) => crumb,
                Ok(None) => return,
                Err(_) => {
                    eprintln!("[sentry] before_breadcrumb panicked; the breadcrumb was dropped");
                    return;
                }
            };
            self.push_breadcrumb_now(&mut Some(crumb), max);
        });
    }

    /// Moves the breadcrumb out of `crumb` into the current scope's ring, under one lock.
    #[inline]
    fn push_breadcrumb_now(&self, crumb: &mut Option<Breadcrumb>, max: usize) {
        match self.lock_reentrant() {
            Some(mut stack) => {
                stack.top_mut().scope.push_breadcrumb(crumb, max);
            }
            None => sdk_transport::sdk_debug!(
                "add_breadcrumb inside configure_scope: use scope.add_breadcrumb instead"
            ),
        }
    }

    /// Captures an event with the current scope; returns its id (nil when not sent).
    pub fn capture_event(&self, event: Event) -> Uuid {
        if !is_active() {
            return Uuid::nil();
        }
        let id = self.capture_with(|client, scope| client.capture_event(event, scope));
        self.set_last_event_id(id);
        id
    }

    /// Captures a message with the current scope.
    pub fn capture_message(&self, message: &str, level: Level) -> Uuid {
        if !is_active() {
            return Uuid::nil();
        }
        let id = self.capture_with(|client, scope| client.capture_message(message, level, scope));
        self.set_last_event_id(id);
        id
    }

    /// Captures an error and its `source()` chain with the current scope.
    pub fn capture_error(&self, error: &(dyn std::error::Error + 'static)) -> Uuid {
        if !is_active() {
            return Uuid::nil();
        }
        let id = self.capture_with(|client, scope| client.capture_error(error, scope));
        self.set_last_event_id(id);
        id
    }

    fn set_last_event_id(&self, id: Uuid) {
        if id.is_nil() {
            return;
        }
        if let Some(mut stack) = self.lock_reentrant() {
            stack.last_event_id = Some(id);
        }
    }

    /// The id of the last event this hub sent.
    pub fn last_event_id(&self) -> Option<Uuid> {
        self.lock_reentrant().and_then(|s| s.last_event_id)
    }

    /// A snapshot of the current scope (for tests and integrations).
    pub fn scope_snapshot(&self) -> Scope {
        self.lock_reentrant()
            .map(|s| s.top().scope.clone())
            .unwrap_or_default()
    }

    /// Runs `f` on the current scope by reference, without a snapshot; `None` where
    /// [`Hub::scope_snapshot`] gives an empty scope (inside this hub's `configure_scope`).
    pub(crate) fn peek_scope<R>(&self, f: impl FnOnce(&Scope) -> R) -> Option<R> {
        self.lock_reentrant().map(|s| f(&s.top().scope))
    }

    /// Depth of the scope stack (1 = only the root scope).
    pub fn depth(&self) -> usize {
        self.lock_reentrant().map_or(1, |s| s.layers.len())
    }
}

/// Runs `f` on the top scope of `hub`'s locked stack, marking this thread as configuring that
/// hub (so that SDK calls from inside `f` do not deadlock on the same lock).
#[inline]
fn run_configuring<R>(hub: &Hub, stack: &mut Stack, f: impl FnOnce(&mut Scope) -> R) -> R {
    struct Depth(Option<Option<Arc<Client>>>);
    impl Drop for Depth {
        #[inline]
        fn drop(&mut self) {
            CONFIGURING.with(|c| c.set(c.get().saturating_sub(1)));
            if let Some(previous) = self.0.take() {
                let _ = CONFIGURING_CLIENT.try_with(|c| {
                    if let Ok(mut c) = c.try_borrow_mut() {
                        *c = previous;
                    }
                });
            }
        }
    }
    let depth = CONFIGURING.with(|c| {
        let depth = c.get();
        c.set(depth.saturating_add(1));
        depth as usize
    });
    CONFIGURING_HUBS.with(|hubs| {
        if let Some(slot) = hubs.get(depth) {
            slot.set(hub as *const Hub as usize);
        }
    });
    let explicit = stack.top().client.explicit().flatten();
    let previous = explicit.and_then(|client| {
        CONFIGURING_CLIENT
            .try_with(|c| c.try_borrow_mut().ok().map(|mut c| c.replace(client)))
            .ok()
            .flatten()
    });
    let _depth = Depth(previous);
    f(&mut stack.top_mut().scope)
}

/// What popping scopes took out of the stack, to be dropped after unlocking (see
/// [`Hub::take_to`]). Its fields are only held to be dropped.
enum Popped {
    Nothing,
    One {
        _processors: Option<Arc<Vec<crate::scope::EventProcessor>>>,
        _attachments: Option<Arc<Vec<sdk_transport::EnvelopeItem>>>,
        _span: Option<crate::performance::TransactionOrSpan>,
        _client: ClientSlot,
        _user: Option<crate::scope::UserArc>,
    },
    Many {
        _layers: Vec<Layer>,
    },
}

/// Runs `callback` in a fork of this thread's current hub's scope, configured by
/// `scope_config`, without taking a reference count on the hub: the hub is looked up again to
/// pop the fork (a thread's current hub is the same after a callback as before it; `Hub::run`
/// restores it, also on panic). If it is not, the fork is left alone rather than popping
/// another hub's scope.
#[inline]
pub(crate) fn with_scope_on_current<C, F, R>(scope_config: C, callback: F) -> R
where
    C: FnOnce(&mut Scope),
    F: FnOnce() -> R,
{
    /// Pops `depth` on hub `hub` when dropped; depth 0: nothing was pushed.
    struct PopCurrent {
        hub: u64,
        depth: usize,
    }
    impl Drop for PopCurrent {
        fn drop(&mut self) {
            let (id, depth) = (self.hub, self.depth);
            if depth == 0 {
                return;
            }
            // dropped at the end of this function, outside `with_current`
            let mut deferred = Popped::Nothing;
            let found = Hub::with_current(|hub| {
                let same = hub.id == id;
                if same {
                    hub.take_to(depth, &mut deferred);
                }
                same
            });
            if found != Some(true) {
                sdk_transport::sdk_debug!(
                    "with_scope: the thread's hub changed inside the callback; not popped"
                );
            }
        }
    }
    // filled in place (word by word) and never moved: returning it through `with_current`'s
    // `Option`, or moving it afterwards, reloads the two words as one 16-byte value, which
    // stalls store forwarding. Dropped (popping) after the callback, also on panic.
    let mut pop = PopCurrent { hub: 0, depth: 0 };
    Hub::with_current(|hub| {
        let mut guard = hub.push_scope_configured(scope_config);
        if let Some(depth) = guard.depth.take() {
            pop.hub = hub.id;
            pop.depth = depth;
        }
    });
    callback()
}

struct ScopeGuardRef<'a> {
    hub: &'a Hub,
    depth: Option<usize>,
}

impl Drop for ScopeGuardRef<'_> {
    fn drop(&mut self) {
        if let Some(depth) = self.depth {
            self.hub.pop_to(depth);
        }
    }
}

/// Pops the scope pushed by [`Hub::push_scope`] / [`crate::push_scope`] when dropped.
///
/// Dropping guards out of order never panics: the inner scopes are popped too and a diagnostic
/// is logged in debug mode.
#[must_use = "the scope is popped when the guard is dropped"]
pub struct ScopeGuard {
    hub: Arc<Hub>,
    depth: Option<usize>,
}

impl std::fmt::Debug for ScopeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeGuard")
            .field("depth", &self.depth)
            .finish()
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        if let Some(depth) = self.depth {
            self.hub.pop_to(depth);
        }
    }
}

/// What `add_breadcrumb` accepts: a [`Breadcrumb`], a `Vec` or `Option` of them, or a closure
/// that builds them (run only when a client is bound).
pub trait IntoBreadcrumbs {
    /// The iterator of breadcrumbs.
    type Output: IntoIterator<Item = Breadcrumb>;
    /// Converts into breadcrumbs.
    fn into_breadcrumbs(self) -> Self::Output;

    /// Hands each breadcrumb in `slot` to `f` in a slot of its own, from which `f` moves it
    /// where it is stored. A single [`Breadcrumb`] is handed over in place, without a move.
    #[doc(hidden)]
    #[inline]
    fn drain_slot(slot: &mut Option<Self>, mut f: impl FnMut(&mut Option<Breadcrumb>))
    where
        Self: Sized,
    {
        if let Some(this) = slot.take() {
            for crumb in this.into_breadcrumbs() {
                f(&mut Some(crumb));
            }
        }
    }
}

impl IntoBreadcrumbs for Breadcrumb {
    type Output = std::iter::Once<Breadcrumb>;
    #[inline]
    fn into_breadcrumbs(self) -> Self::Output {
        std::iter::once(self)
    }

    #[inline]
    fn drain_slot(slot: &mut Option<Breadcrumb>, mut f: impl FnMut(&mut Option<Breadcrumb>)) {
        f(slot);
    }
}

impl IntoBreadcrumbs for Vec<Breadcrumb> {
    type Output = Vec<Breadcrumb>;
    fn into_breadcrumbs(self) -> Self::Output {
        self
    }
}

impl IntoBreadcrumbs for Option<Breadcrumb> {
    type Output = Option<Breadcrumb>;
    fn into_breadcrumbs(self) -> Self::Output {
        self
    }
}

impl<F, I> IntoBreadcrumbs for F
where
    F: FnOnce() -> I,
    I: IntoBreadcrumbs,
{
    type Output = I::Output;
    #[inline]
    fn into_breadcrumbs(self) -> Self::Output {
        self().into_breadcrumbs()
    }

    #[inline]
    fn drain_slot(slot: &mut Option<F>, f: impl FnMut(&mut Option<Breadcrumb>)) {
        if let Some(make) = slot.take() {
            I::drain_slot(&mut Some(make()), f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::User;
    use crate::testing::{with_captured_events, with_captured_events_options, TestTransport};
    use crate::ClientOptions;

    #[test]
    fn with_scope_changes_do_not_leak_out() {
        let events = with_captured_events(|| {
            crate::configure_scope(|s| s.set_tag("outer", "1"));
            crate::with_scope(
                |s| {
                    s.set_tag("inner", "2");
                    s.set_level(Some(Level::Warning));
                },
                || crate::capture_message("inside", Level::Error),
            );
            crate::capture_message("outside", Level::Error);
        });
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].tags.get("inner").map(String::as_str), Some("2"));
        assert_eq!(events[0].tags.get("outer").map(String::as_str), Some("1"));
        assert_eq!(events[0].level, Level::Warning);
        assert!(!events[1].tags.contains_key("inner"));
        assert_eq!(events[1].tags.get("outer").map(String::as_str), Some("1"));
        assert_eq!(events[1].level, Level::Error);
    }

    #[test]
    fn push_scope_guards_pop_even_out_of_order_without_panicking() {
        let events = with_captured_events(|| {
            let hub = Hub::current();
            let base = hub.depth();
            let outer = crate::push_scope();
            crate::configure_scope(|s| s.set_tag("level", "outer"));
            let inner = crate::push_scope();
            crate::configure_scope(|s| s.set_tag("level", "inner"));
            assert_eq!(hub.depth(), base + 2);
            drop(outer); // out of order: pops the inner scope too
            assert_eq!(hub.depth(), base);
            drop(inner); // already popped: ignored
            assert_eq!(hub.depth(), base);
            crate::capture_message("after", Level::Info);
        });
        assert_eq!(events.len(), 1);
        assert!(!events[0].tags.contains_key("level"));
    }

    #[test]
    fn with_scope_restores_the_scope_when_the_callback_panics() {
        let events = with_captured_events(|| {
            let result = std::panic::catch_unwind(|| {
                crate::with_scope(|s| s.set_tag("doomed", "yes"), || panic!("boom"));
            });
            assert!(result.is_err());
            crate::capture_message("after panic", Level::Info);
        });
        let last = events.last().expect("an event");
        assert_eq!(last.message.as_deref(), Some("after panic"));
        assert!(!last.tags.contains_key("doomed"));
    }

    #[test]
    fn breadcrumbs_are_bounded_by_max_breadcrumbs() {
        let events = with_captured_events_options(
            || {
                for i in 0..30 {
                    crate::add_breadcrumb(Breadcrumb::new(format!("crumb {i}")));
                }
                crate::capture_message("with crumbs", Level::Info);
            },
            ClientOptions::new().max_breadcrumbs(10),
        );
        let crumbs = &events[0].breadcrumbs.values;
        assert_eq!(crumbs.len(), 10);
        assert_eq!(crumbs[0].message.as_deref(), Some("crumb 20"));
        assert_eq!(crumbs[9].message.as_deref(), Some("crumb 29"));
    }

    #[test]
    fn before_breadcrumb_can_drop_and_modify() {
        let events = with_captured_events_options(
            || {
                crate::add_breadcrumb(Breadcrumb::new("keep"));
                crate::add_breadcrumb(Breadcrumb::new("drop me"));
                crate::add_breadcrumb(Breadcrumb::new("panic"));
                crate::capture_message("m", Level::Info);
            },
            ClientOptions::new().before_breadcrumb(|mut b| match b.message.as_deref() {
                Some("drop me") => None,
                Some("panic") => panic!("callback bug"),
                _ => {
                    b.category = Some("changed".into());
                    Some(b)
                }
            }),
        );
        // the panicking callback's panic is itself captured by the panic hook (when the panic
        // feature is on); the message event is the one that shows the breadcrumbs
        let message = events
            .iter()
            .find(|e| e.message.as_deref() == Some("m"))
            .expect("the message event");
        let crumbs = &message.breadcrumbs.values;
        assert_eq!(crumbs.len(), 1);
        assert_eq!(crumbs[0].message.as_deref(), Some("keep"));
        assert_eq!(crumbs[0].category.as_deref(), Some("changed"));
    }

    #[test]
    fn a_lazy_breadcrumb_closure_runs_when_enabled() {
        let events = with_captured_events(|| {
            crate::add_breadcrumb(|| Breadcrumb::new("lazy"));
            crate::capture_message("m", Level::Info);
        });
        assert_eq!(
            events[0].breadcrumbs.values[0].message.as_deref(),
            Some("lazy")
        );
    }

    #[test]
    fn new_threads_inherit_the_scope_of_the_spawning_thread_hub() {
        // the thread's hub is forked from a parent hub: run the child on a hub made from ours
        let transport = TestTransport::new();
        let shared: Arc<dyn sdk_transport::Transport> = transport.clone();
        let client = Arc::new(Client::new(ClientOptions::new().transport(shared)));
        let parent = Arc::new(Hub::with_client(client));
        parent.configure_scope(|s| s.set_tag("inherited", "yes"));
        let child = Arc::new(Hub::new_from_top(&parent));
        std::thread::spawn(move || {
            Hub::run(child, || {
                crate::configure_scope(|s| s.set_tag("child-only", "1"));
                crate::capture_message("from child", Level::Info);
            })
        })
        .join()
        .expect("thread ran");
        parent.capture_message("from parent", Level::Info);
        let events = transport.fetch_and_clear_events();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].tags["inherited"], "yes");
        assert_eq!(events[0].tags["child-only"], "1");
        assert!(!events[1].tags.contains_key("child-only"));
    }

    #[test]
    fn concurrent_configure_scope_never_loses_writes() {
        let transport = TestTransport::new();
        let shared: Arc<dyn sdk_transport::Transport> = transport.clone();
        let client = Arc::new(Client::new(ClientOptions::new().transport(shared)));
        let hub = Arc::new(Hub::with_client(client));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let hub = hub.clone();
                std::thread::spawn(move || {
                    for i in 0..250 {
                        hub.configure_scope(|s| s.set_tag(format!("t{t}-{i}"), i));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread ran");
        }
        assert_eq!(hub.scope_snapshot().tags().count(), 1000);
    }

    #[test]
    fn capture_inside_configure_scope_does_not_deadlock() {
        let events = with_captured_events(|| {
            crate::configure_scope(|s| {
                s.set_tag("a", "b");
                crate::capture_message("nested", Level::Info);
                crate::add_breadcrumb(Breadcrumb::new("nested crumb"));
            });
        });
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message.as_deref(), Some("nested"));
    }

    #[test]
    fn deeply_nested_configure_scope_on_many_hubs_never_deadlocks() {
        let transport = TestTransport::new();
        let shared: Arc<dyn sdk_transport::Transport> = transport.clone();
        let client = Arc::new(Client::new(ClientOptions::new().transport(shared)));
        let hubs: Vec<Arc<Hub>> = (0..12)
            .map(|_| Arc::new(Hub::with_client(client.clone())))
            .collect();
        // configure hub i inside hub i-1's closure; at each level, try the outermost hub again
        // (held by this thread: must be skipped, not deadlock)
        fn nest(hubs: &[Arc<Hub>], level: usize, reached: &mut Vec<usize>) {
            if level == hubs.len() {
                return;
            }
            let ran = hubs[level].configure_scope(|scope| {
                scope.set_tag("level", level as u64);
                let again = hubs[0].configure_scope(|_| true);
                assert!(
                    !again,
                    "the outermost hub's closure ran while it was locked"
                );
                reached.push(level);
                nest(hubs, level + 1, reached);
                true
            });
            if level <= MAX_NESTED_CONFIGURING {
                assert!(ran, "level {level} was skipped");
            }
        }
        let mut reached = Vec::new();
        nest(&hubs, 0, &mut reached);
        // distinct hubs are told apart up to MAX_NESTED_CONFIGURING levels deep
        assert!(
            reached.len() > MAX_NESTED_CONFIGURING,
            "reached {reached:?}"
        );
        assert_eq!(hubs[3].scope_snapshot().tag("level"), Some("3"));
        // and the marks are gone afterwards: every hub locks normally again
        for hub in &hubs {
            assert!(hub.configure_scope(|_| true));
        }
    }

    #[test]
    fn with_scope_reuses_the_popped_scopes_user_allocation_only_when_unshared() {
        let _ = with_captured_events(|| {
            let current_user = || {
                let scope = Hub::current().scope_snapshot();
                scope.user().map(|u| {
                    (
                        u as *const User as usize,
                        u.id.as_deref().map(str::to_owned),
                    )
                })
            };
            let user = |id: &'static str| {
                Some(User {
                    id: Some(id.into()),
                    ..Default::default()
                })
            };
            let reuses = || crate::scope::USER_REUSES.with(std::cell::Cell::get);
            let before = reuses();
            let mut seen = Vec::new();
            for id in ["1", "2", "3"] {
                crate::with_scope(|s| s.set_user(user(id)), || seen.push(current_user()));
            }
            let ids: Vec<_> = seen.iter().map(|u| u.clone().and_then(|u| u.1)).collect();
            assert_eq!(ids, [Some("1".into()), Some("2".into()), Some("3".into())]);
            let addresses: Vec<_> = seen.iter().map(|u| u.as_ref().map(|u| u.0)).collect();
            assert!(
                addresses.iter().all(|a| *a == addresses[0]),
                "{addresses:?}"
            );
            // the first scope allocates, the next two reuse its allocation
            assert_eq!(reuses() - before, 2);
            assert_eq!(current_user(), None);

            // a snapshot still holding the user keeps it: not reused, not overwritten
            let mut kept = None;
            crate::with_scope(
                |s| s.set_user(user("held")),
                || kept = Some(Hub::current().scope_snapshot()),
            );
            assert_eq!(reuses() - before, 3);
            crate::with_scope(|s| s.set_user(user("next")), || ());
            assert_eq!(
                reuses() - before,
                3,
                "an allocation still shared was reused"
            );
            let kept = kept.expect("a snapshot");
            assert_eq!(kept.user().and_then(|u| u.id.as_deref()), Some("held"));
        });
    }

    #[test]
    fn with_scope_takes_no_reference_on_the_current_hub() {
        let _ = with_captured_events(|| {
            let count = || Arc::strong_count(&Hub::current());
            let outside = count();
            let mut inside = 0;
            crate::with_scope(|s| s.set_tag("k", "v"), || inside = count());
            assert_eq!(inside, outside);
        });
    }

    #[test]
    fn hub_run_inside_with_scope_switches_and_the_fork_is_popped_from_the_outer_hub() {
        let events = with_captured_events(|| {
            let outer = Hub::current();
            let base = outer.depth();
            let other = Arc::new(Hub::new_from_top(&outer));
            let other_base = other.depth();
            crate::with_scope(
                |s| s.set_tag("fork", "outer"),
                || {
                    assert_eq!(outer.depth(), base + 1);
                    Hub::run(other.clone(), || {
                        assert!(Arc::ptr_eq(&Hub::current(), &other));
                        crate::with_scope(
                            |s| s.set_tag("fork", "inner"),
                            || crate::capture_message("in other", Level::Info),
                        );
                    });
                    crate::capture_message("in outer", Level::Info);
                },
            );
            assert_eq!(outer.depth(), base);
            assert_eq!(other.depth(), other_base);
            crate::capture_message("after", Level::Info);
        });
        let tag = |i: usize| events[i].tags.get("fork").cloned();
        assert_eq!(events.len(), 3);
        assert_eq!(tag(0).as_deref(), Some("inner"));
        assert_eq!(tag(1).as_deref(), Some("outer"));
        assert_eq!(tag(2), None);
    }

    #[test]
    fn with_scope_does_not_deep_copy_breadcrumbs() {
        let _ = with_captured_events(|| {
            for i in 0..40 {
                crate::add_breadcrumb(Breadcrumb::new(format!("{i}")));
            }
            let before = Hub::current().scope_snapshot();
            crate::with_scope(
                |s| s.set_tag("x", "y"),
                || {
                    let inside = Hub::current().scope_snapshot();
                    assert!(inside
                        .breadcrumb_ring()
                        .shares_chunks_with(before.breadcrumb_ring()));
                },
            );
        });
    }

    #[test]
    fn last_event_id_is_the_id_returned() {
        let _ = with_captured_events(|| {
            let id = crate::capture_message("x", Level::Info);
            assert!(!id.is_nil());
            assert_eq!(crate::last_event_id(), Some(id));
        });
    }

    #[test]
    fn global_scope_applies_under_the_current_scope() {
        let events = with_captured_events(|| {
            configure_global_scope(|s| {
                s.set_tag("global-test-tag", "global");
                s.set_tag("global-override", "global");
            });
            crate::configure_scope(|s| s.set_tag("global-override", "current"));
            crate::capture_message("m", Level::Info);
            configure_global_scope(|s| {
                s.remove_tag("global-test-tag");
                s.remove_tag("global-override");
            });
        });
        assert_eq!(events[0].tags["global-test-tag"], "global");
        assert_eq!(events[0].tags["global-override"], "current");
    }
}

#[cfg(test)]
mod drop_tests {
    use super::*;
    use crate::testing::with_captured_events;

    /// Captures a message when dropped.
    struct CaptureOnDrop;
    impl Drop for CaptureOnDrop {
        fn drop(&mut self) {
            crate::capture_message("dropped with the scope", Level::Info);
        }
    }

    #[test]
    fn dropping_a_popped_scope_may_call_the_sdk() {
        let events = with_captured_events(|| {
            crate::with_scope(
                |scope| {
                    let guard = CaptureOnDrop;
                    scope.add_event_processor(move |event| {
                        let _keep = &guard;
                        Some(event)
                    });
                },
                || (),
            );
        });
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message.as_deref(), Some("dropped with the scope"));
    }
}

#[cfg(test)]
mod binding_tests {
    use super::*;
    use crate::testing::with_captured_events;
    use crate::ClientOptions;

    #[test]
    fn a_hub_bound_to_a_disabled_client_sends_nothing_even_when_another_client_is_bound() {
        let events = with_captured_events(|| {
            // another (enabled) client is bound around us: the disabled one must still win
            let off = Arc::new(Client::new(ClientOptions::new()));
            assert!(!off.is_enabled());
            let hub = Arc::new(Hub::new_from_top(&Hub::current()));
            hub.bind_client(Some(off));
            Hub::run(hub, || {
                assert!(crate::capture_message("must not be sent", Level::Info).is_nil());
            });
            crate::capture_message("sent", Level::Info);
        });
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message.as_deref(), Some("sent"));
    }
}
