//! [`Scope`]: the data that is applied to every event captured while it is active.
//!
//! Every field sits behind an `Arc` and is copied only when written while shared
//! (copy-on-write), so forking a scope (`with_scope`, a new thread, a request) clones a handful
//! of `Arc`s and never copies tags, contexts or breadcrumbs.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use sdk_transport::EnvelopeItem;

use crate::breadcrumbs::Ring;
use crate::ids::{SpanId, TraceId};
use crate::protocol::{Breadcrumb, Context, Event, Level, User};

/// An event processor: may change an event or drop it (`None`, counted as an
/// `event_processor` discard).
pub type EventProcessor = Arc<dyn Fn(Event) -> Option<Event> + Send + Sync>;

/// The default number of breadcrumbs [`Scope::add_breadcrumb`] keeps when no client says
/// otherwise.
pub const DEFAULT_MAX_BREADCRUMBS: usize = 100;

/// Scope data: tags, extra, user, contexts, level, fingerprint, transaction name, breadcrumbs,
/// event processors, attachments and the propagation context (trace id and span id of errors
/// captured outside a transaction).
///
/// Cloning is cheap (a handful of `Arc` clones).
///
/// ```
/// use sdk_core::{Scope, Level, User};
///
/// let mut scope = Scope::default();
/// scope.set_tag("tenant", "acme");
/// scope.set_level(Some(Level::Warning));
/// scope.set_user(Some(User { id: Some("42".into()), ..Default::default() }));
/// let fork = scope.clone();
/// scope.set_tag("tenant", "other");
/// assert_eq!(fork.tag("tenant"), Some("acme"));
/// assert_eq!(scope.tag("tenant"), Some("other"));
/// ```
#[derive(Clone)]
pub struct Scope {
    pub(crate) level: Option<Level>,
    pub(crate) fingerprint: Option<Arc<[Cow<'static, str>]>>,
    pub(crate) transaction: Option<Arc<str>>,
    pub(crate) user: Option<UserArc>,
    pub(crate) tags: TagMap,
    pub(crate) extra: Option<Arc<VecMap<serde_json::Value>>>,
    pub(crate) contexts: Option<Arc<VecMap<Context>>>,
    pub(crate) breadcrumbs: Ring<Breadcrumb>,
    pub(crate) event_processors: Option<Arc<Vec<EventProcessor>>>,
    pub(crate) attachments: Option<Arc<Vec<EnvelopeItem>>>,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    /// The bound transaction or span (see `performance::binding`).
    pub(crate) span: Option<crate::performance::TransactionOrSpan>,
    /// The incoming trace's frozen DSC and decision, when the propagation context continues
    /// one (see `performance::binding`).
    pub(crate) incoming_trace: Option<crate::performance::binding::IncomingTrace>,
    /// A uniquely owned user allocation that `set_user` may reuse (handed over by the hub when
    /// it forks; a clone of the scope gets none).
    pub(crate) spare_user: SpareUser,
}

/// The shared user of a scope: an `Arc` without weak counts (`triomphe`), so checking that it
/// is uniquely owned (to reuse it) is a plain load, and dropping it one atomic decrement.
pub(crate) type UserArc = triomphe::Arc<User>;

/// A uniquely owned user allocation kept for reuse; cloning gives an empty one.
#[derive(Default)]
pub(crate) struct SpareUser(Option<UserArc>);

impl Clone for SpareUser {
    #[inline]
    fn clone(&self) -> Self {
        SpareUser(None)
    }
}

impl SpareUser {
    pub(crate) fn set(&mut self, spare: Option<UserArc>) {
        self.0 = spare;
    }

    pub(crate) fn take(&mut self) -> Option<UserArc> {
        self.0.take()
    }

    /// `user` in the spare allocation when it is still uniquely owned, else in a new one.
    #[inline]
    fn fill(&mut self, user: User) -> UserArc {
        if let Some(mut spare) = self.0.take() {
            if let Some(slot) = UserArc::get_mut(&mut spare) {
                // field by field: no bulk copy of the caller's freshly written value (a
                // 144-byte memcpy reading it back stalls on store forwarding)
                let User {
                    id,
                    email,
                    ip_address,
                    username,
                    name,
                    other,
                } = user;
                slot.id = id;
                slot.email = email;
                slot.ip_address = ip_address;
                slot.username = username;
                slot.name = name;
                slot.other = other;
                #[cfg(test)]
                USER_REUSES.with(|n| n.set(n.get() + 1));
                return spare;
            }
        }
        UserArc::new(user)
    }
}

#[cfg(test)]
thread_local! {
    /// How many times `set_user` reused a spare allocation on this thread (tests only).
    pub(crate) static USER_REUSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether a popped scope's user allocation is worth keeping for reuse: nobody else holds it,
/// and what it still holds until reused is small (no extra fields, short strings).
pub(crate) fn reusable_user(user: &UserArc) -> bool {
    const SMALL: usize = 256;
    let short = |s: &Option<Cow<'static, str>>| s.as_ref().is_none_or(|s| s.len() <= SMALL);
    user.is_unique()
        && user.other.is_empty()
        && short(&user.id)
        && short(&user.email)
        && short(&user.username)
        && short(&user.name)
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            level: None,
            fingerprint: None,
            transaction: None,
            user: None,
            tags: TagMap::Empty,
            extra: None,
            contexts: None,
            breadcrumbs: Ring::new(),
            event_processors: None,
            attachments: None,
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            span: None,
            incoming_trace: None,
            spare_user: SpareUser::default(),
        }
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("level", &self.level)
            .field("fingerprint", &self.fingerprint)
            .field("transaction", &self.transaction)
            .field("user", &self.user)
            .field("tags", &self.tags)
            .field("extra", &self.extra)
            .field("contexts", &self.contexts)
            .field("breadcrumbs", &self.breadcrumbs.len())
            .field(
                "event_processors",
                &self.event_processors.as_ref().map_or(0, |p| p.len()),
            )
            .field(
                "attachments",
                &self.attachments.as_ref().map_or(0, |a| a.len()),
            )
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("span", &self.span.as_ref().map(|s| s.span_id()))
            .finish()
    }
}

fn make_mut<T: Clone + Default>(slot: &mut Option<Arc<T>>) -> &mut T {
    Arc::make_mut(slot.get_or_insert_with(Default::default))
}

impl Scope {
    /// A new empty scope with a fresh propagation context.
    pub fn new() -> Self {
        Scope::default()
    }

    /// Removes all data but keeps event processors and the propagation context.
    pub fn clear(&mut self) {
        let processors = self.event_processors.take();
        let (trace_id, span_id) = (self.trace_id, self.span_id);
        let incoming_trace = self.incoming_trace.take();
        *self = Scope {
            event_processors: processors,
            trace_id,
            span_id,
            incoming_trace,
            ..Scope::default()
        };
    }

    /// Sets the level that overrides the level of every event captured in this scope.
    pub fn set_level(&mut self, level: Option<Level>) {
        self.level = level;
    }

    /// The level override.
    pub fn level(&self) -> Option<Level> {
        self.level
    }

    /// Sets the fingerprint (grouping override), e.g. `["{{ default }}", "db-timeout"]`.
    pub fn set_fingerprint(&mut self, fingerprint: Option<&[&str]>) {
        self.fingerprint = fingerprint.map(|parts| {
            parts
                .iter()
                .map(|p| Cow::Owned((*p).to_owned()))
                .collect::<Vec<_>>()
                .into()
        });
    }

    /// The fingerprint.
    pub fn fingerprint(&self) -> Option<&[Cow<'static, str>]> {
        self.fingerprint.as_deref()
    }

    /// Sets the transaction (route or handler) name of events.
    pub fn set_transaction(&mut self, transaction: Option<&str>) {
        self.transaction = transaction.map(Arc::from);
    }

    /// The transaction name.
    pub fn transaction(&self) -> Option<&str> {
        self.transaction.as_deref()
    }

    /// Sets the user.
    #[inline]
    pub fn set_user(&mut self, user: Option<User>) {
        self.user = match user {
            Some(user) => {
                crate::performance::binding::note_scope_data();
                Some(self.spare_user.fill(user))
            }
            None => None,
        };
    }

    /// The user.
    pub fn user(&self) -> Option<&User> {
        self.user.as_deref()
    }

    /// Sets a tag (overwrites the same key).
    ///
    /// Keys and values are `Cow<'static, str>`: literals are stored without allocating. A key
    /// can be a `&'static str`, a `String` or a `Cow`; a value anything [`IntoTagValue`] lists
    /// (strings, integers, floats, `bool`, `char`, `format_args!`).
    ///
    /// ```
    /// let mut scope = sdk_core::Scope::new();
    /// scope.set_tag("tenant", "acme");
    /// scope.set_tag(format!("shard-{}", 3), 42u64);
    /// assert_eq!(scope.tag("shard-3"), Some("42"));
    /// ```
    #[inline]
    pub fn set_tag(&mut self, key: impl Into<Cow<'static, str>>, value: impl IntoTagValue) {
        crate::performance::binding::note_scope_data();
        match (key.into(), value.into_tag_value()) {
            // literals: four words in registers, no `Cow` built in memory
            (Cow::Borrowed(key), Cow::Borrowed(value)) => self.tags.set_static(key, value),
            (key, value) => self.tags.insert(key, value),
        }
    }

    /// Removes a tag.
    pub fn remove_tag(&mut self, key: &str) {
        self.tags.remove(key);
    }

    /// A tag's value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key)
    }

    /// All tags.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags.iter()
    }

    /// Sets an extra value.
    pub fn set_extra(&mut self, key: &str, value: serde_json::Value) {
        crate::performance::binding::note_scope_data();
        make_mut(&mut self.extra).insert(Cow::Owned(key.to_owned()), value);
    }

    /// Removes an extra value.
    pub fn remove_extra(&mut self, key: &str) {
        if self.extra.as_ref().is_some_and(|e| e.contains_key(key)) {
            make_mut(&mut self.extra).remove(key);
        }
    }

    /// An extra value.
    pub fn extra(&self, key: &str) -> Option<&serde_json::Value> {
        self.extra.as_ref()?.get(key)
    }

    /// Sets a context (e.g. `"app"`, or any name with an object of fields).
    pub fn set_context<C: Into<Context>>(&mut self, key: &str, value: C) {
        crate::performance::binding::note_scope_data();
        make_mut(&mut self.contexts).insert(Cow::Owned(key.to_owned()), value.into());
    }

    /// Removes a context.
    pub fn remove_context(&mut self, key: &str) {
        if self.contexts.as_ref().is_some_and(|c| c.contains_key(key)) {
            make_mut(&mut self.contexts).remove(key);
        }
    }

    /// A context.
    pub fn context(&self, key: &str) -> Option<&Context> {
        self.contexts.as_ref()?.get(key)
    }

    /// Records a breadcrumb, keeping at most [`DEFAULT_MAX_BREADCRUMBS`] (the hub's
    /// `add_breadcrumb` uses the client's `max_breadcrumbs` and `before_breadcrumb`).
    pub fn add_breadcrumb(&mut self, breadcrumb: Breadcrumb) {
        self.breadcrumbs.push(breadcrumb, DEFAULT_MAX_BREADCRUMBS);
    }

    /// Records a breadcrumb keeping at most `max`; returns how many were evicted.
    #[inline]
    pub(crate) fn push_breadcrumb(
        &mut self,
        breadcrumb: &mut Option<Breadcrumb>,
        max: usize,
    ) -> usize {
        self.breadcrumbs.push_from(breadcrumb, max)
    }

    /// Removes every breadcrumb.
    pub fn clear_breadcrumbs(&mut self) {
        self.breadcrumbs.clear();
    }

    /// The breadcrumbs, oldest first.
    pub fn breadcrumbs(&self) -> impl Iterator<Item = &Breadcrumb> {
        self.breadcrumbs.iter()
    }

    /// The breadcrumb buffer (shares its chunks with every snapshot).
    pub fn breadcrumb_ring(&self) -> &Ring<Breadcrumb> {
        &self.breadcrumbs
    }

    /// Adds an event processor: it runs on every event captured in this scope, after the scope
    /// data was applied.
    pub fn add_event_processor<F>(&mut self, f: F)
    where
        F: Fn(Event) -> Option<Event> + Send + Sync + 'static,
    {
        make_mut(&mut self.event_processors).push(Arc::new(f));
    }

    /// Whether any event processor is installed.
    pub fn has_event_processors(&self) -> bool {
        self.event_processors
            .as_ref()
            .is_some_and(|p| !p.is_empty())
    }

    /// Adds an attachment item (sent with every event captured in this scope).
    pub fn add_attachment(&mut self, item: EnvelopeItem) {
        make_mut(&mut self.attachments).push(item);
    }

    /// Removes every attachment.
    pub fn clear_attachments(&mut self) {
        self.attachments = None;
    }

    /// The attachments.
    pub fn attachments(&self) -> &[EnvelopeItem] {
        self.attachments.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The trace id of events captured in this scope outside a transaction.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id of the scope's propagation context.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// Sets the propagation context (e.g. continued from an incoming request).
    pub fn set_propagation_context(&mut self, trace_id: TraceId, span_id: SpanId) {
        self.trace_id = trace_id;
        self.span_id = span_id;
    }

    /// Layers `other` (more specific) over `self`: `other`'s values win, maps merge, breadcrumbs
    /// are appended and capped at `max_breadcrumbs`, processors and attachments appended.
    pub(crate) fn merged_with(&self, other: &Scope, max_breadcrumbs: usize) -> Scope {
        let mut out = other.clone();
        if out.level.is_none() {
            out.level = self.level;
        }
        if out.fingerprint.is_none() {
            out.fingerprint = self.fingerprint.clone();
        }
        if out.transaction.is_none() {
            out.transaction = self.transaction.clone();
        }
        if out.user.is_none() {
            out.user = self.user.clone();
        }
        out.tags = TagMap::merged(&self.tags, &other.tags);
        out.extra = merge_maps(&self.extra, &other.extra);
        out.contexts = merge_maps(&self.contexts, &other.contexts);
        if !self.breadcrumbs.is_empty() {
            let mut crumbs = self.breadcrumbs.clone();
            for b in other.breadcrumbs.iter() {
                crumbs.push(b.clone(), max_breadcrumbs);
            }
            out.breadcrumbs = crumbs;
        }
        out.event_processors = concat(&self.event_processors, &other.event_processors);
        out.attachments = concat(&self.attachments, &other.attachments);
        out
    }

    /// Applies the scope to `event` (the event's own values win; breadcrumbs are the scope's
    /// followed by the event's), without running event processors.
    pub(crate) fn apply_data(&self, event: &mut Event, max_breadcrumbs: usize) {
        if let Some(level) = self.level {
            event.level = level;
        }
        if event.fingerprint.is_empty() {
            if let Some(fp) = &self.fingerprint {
                event.fingerprint = fp.iter().map(|p| p.to_string()).collect();
            }
        }
        if event.transaction.is_none() {
            event.transaction = self.transaction.as_deref().map(str::to_owned);
        }
        if event.user.is_none() {
            event.user = self.user.as_deref().cloned();
        }
        for (k, v) in self.tags.iter() {
            if !event.tags.contains_key(k) {
                event.tags.insert(k.to_owned(), v.to_owned());
            }
        }
        if let Some(extra) = &self.extra {
            for (k, v) in extra.iter() {
                if !event.extra.contains_key(k) {
                    event.extra.insert(k.to_owned(), v.clone());
                }
            }
        }
        if let Some(contexts) = &self.contexts {
            for (k, v) in contexts.iter() {
                if event.contexts.get(k).is_none() {
                    event.contexts.insert(k.to_owned(), v.clone());
                }
            }
        }
        if event.contexts.get("trace").is_none() {
            event.contexts.insert(
                "trace".to_owned(),
                Context::Trace(Box::new(crate::protocol::TraceContext {
                    trace_id: self.trace_id,
                    span_id: self.span_id,
                    ..Default::default()
                })),
            );
        }
        if !self.breadcrumbs.is_empty() {
            let own = std::mem::take(&mut event.breadcrumbs.values);
            let mut all: Vec<Breadcrumb> = self.breadcrumbs.iter().cloned().collect();
            all.extend(own);
            let excess = all.len().saturating_sub(max_breadcrumbs);
            all.drain(..excess);
            event.breadcrumbs.values = all;
        }
    }

    /// Runs the event processors in order; `None` when one dropped the event (or panicked).
    pub(crate) fn run_event_processors(&self, mut event: Event) -> Option<Event> {
        if let Some(processors) = &self.event_processors {
            for processor in processors.iter() {
                let processor = processor.clone();
                let result = crate::callback::call(move || processor(event));
                event = match result {
                    Ok(Some(event)) => event,
                    Ok(None) => return None,
                    Err(_) => {
                        eprintln!("[sentry] an event processor panicked; the event was dropped");
                        return None;
                    }
                };
            }
        }
        Some(event)
    }

    /// Whether the scope has nothing that would change an event (except the propagation
    /// context): used to skip merging an empty global scope.
    pub(crate) fn is_empty(&self) -> bool {
        self.level.is_none()
            && self.fingerprint.is_none()
            && self.transaction.is_none()
            && self.user.is_none()
            && self.tags.is_empty()
            && self.extra.as_ref().is_none_or(|t| t.is_empty())
            && self.contexts.as_ref().is_none_or(|t| t.is_empty())
            && self.breadcrumbs.is_empty()
            && !self.has_event_processors()
            && self.attachments.as_ref().is_none_or(|a| a.is_empty())
    }
}

/// What [`Scope::set_tag`] accepts as a tag value: string types (a `&'static str` is kept
/// without allocating, a `String` is moved in), integers, floats, `bool`, `char` and
/// `format_args!(..)` (formatted once, as `Display` would). For any other `Display` type, pass
/// `value.to_string()`.
pub trait IntoTagValue {
    /// The tag value.
    fn into_tag_value(self) -> Cow<'static, str>;
}

impl IntoTagValue for &'static str {
    #[inline]
    fn into_tag_value(self) -> Cow<'static, str> {
        Cow::Borrowed(self)
    }
}

impl IntoTagValue for String {
    #[inline]
    fn into_tag_value(self) -> Cow<'static, str> {
        Cow::Owned(self)
    }
}

impl IntoTagValue for &String {
    #[inline]
    fn into_tag_value(self) -> Cow<'static, str> {
        Cow::Owned(self.clone())
    }
}

impl IntoTagValue for Cow<'static, str> {
    #[inline]
    fn into_tag_value(self) -> Cow<'static, str> {
        self
    }
}

impl IntoTagValue for Box<str> {
    #[inline]
    fn into_tag_value(self) -> Cow<'static, str> {
        Cow::Owned(self.into())
    }
}

impl IntoTagValue for fmt::Arguments<'_> {
    fn into_tag_value(self) -> Cow<'static, str> {
        match self.as_str() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(self.to_string()),
        }
    }
}

macro_rules! tag_value_via_display {
    ($($t:ty),*) => {$(
        impl IntoTagValue for $t {
            fn into_tag_value(self) -> Cow<'static, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}

tag_value_via_display!(
    bool, char, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);

fn merge_maps<V: Clone>(
    base: &Option<Arc<VecMap<V>>>,
    over: &Option<Arc<VecMap<V>>>,
) -> Option<Arc<VecMap<V>>> {
    match (base, over) {
        (None, x) | (x, None) => x.clone(),
        (Some(b), Some(o)) => {
            let mut m = (**b).clone();
            for (k, v) in o.iter() {
                m.insert(Cow::Owned(k.to_owned()), v.clone());
            }
            Some(Arc::new(m))
        }
    }
}

/// A scope's tags: none, one tag whose key and value are both `&'static str` kept inline (a
/// fork copies two references; nothing to allocate or free), or a shared copy-on-write map.
#[derive(Clone, Default)]
pub(crate) enum TagMap {
    #[default]
    Empty,
    Static(&'static str, &'static str),
    Shared(Arc<VecMap<Cow<'static, str>>>),
}

impl fmt::Debug for TagMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl TagMap {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        match self {
            TagMap::Empty => None,
            TagMap::Static(k, v) => (*k == key).then_some(*v),
            TagMap::Shared(map) => map.get(key).map(|v| &**v),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            TagMap::Empty => true,
            TagMap::Static(..) => false,
            TagMap::Shared(map) => map.is_empty(),
        }
    }

    /// `Some(self)` when it holds a tag: the shape of the `Option<Arc<map>>` it replaced.
    pub(crate) fn as_deref(&self) -> Option<&TagMap> {
        (!self.is_empty()).then_some(self)
    }

    /// Whether it holds a tag.
    pub(crate) fn is_some(&self) -> bool {
        !self.is_empty()
    }

    /// The tags, sorted by key.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let (one, many) = match self {
            TagMap::Empty => (None, None),
            TagMap::Static(k, v) => (Some((*k, *v)), None),
            TagMap::Shared(map) => (None, Some(map)),
        };
        one.into_iter().chain(
            many.into_iter()
                .flat_map(|m| m.iter().map(|(k, v)| (k, &**v))),
        )
    }

    /// Sets a tag whose key and value are literals: inline when it is the only one.
    pub(crate) fn set_static(&mut self, key: &'static str, value: &'static str) {
        match self {
            TagMap::Empty => *self = TagMap::Static(key, value),
            // the same literal (same call site) is the same pointer: skip comparing bytes
            TagMap::Static(k, v) if std::ptr::eq(*k, key) || *k == key => *v = value,
            _ => self.insert(Cow::Borrowed(key), Cow::Borrowed(value)),
        }
    }

    pub(crate) fn insert(&mut self, key: Cow<'static, str>, value: Cow<'static, str>) {
        match (&mut *self, key, value) {
            (TagMap::Empty, Cow::Borrowed(k), Cow::Borrowed(v)) => *self = TagMap::Static(k, v),
            (TagMap::Static(k0, v0), Cow::Borrowed(k), Cow::Borrowed(v)) if *k0 == k => *v0 = v,
            (TagMap::Shared(map), key, value) => Arc::make_mut(map).insert(key, value),
            (_, key, value) => self.insert_slow(key, value),
        }
    }

    /// Moves the tags into a shared map and inserts there.
    fn insert_slow(&mut self, key: Cow<'static, str>, value: Cow<'static, str>) {
        let mut map = match std::mem::take(self) {
            TagMap::Empty => VecMap::default(),
            TagMap::Static(k, v) => VecMap::one(Cow::Borrowed(k), Cow::Borrowed(v)),
            TagMap::Shared(map) => Arc::unwrap_or_clone(map),
        };
        map.insert(key, value);
        *self = TagMap::Shared(Arc::new(map));
    }

    pub(crate) fn remove(&mut self, key: &str) {
        match self {
            TagMap::Empty => {}
            TagMap::Static(k, _) => {
                if *k == key {
                    *self = TagMap::Empty;
                }
            }
            TagMap::Shared(map) => {
                if map.contains_key(key) {
                    Arc::make_mut(map).remove(key);
                }
            }
        }
    }

    /// `over`'s tags layered over `base`'s.
    fn merged(base: &TagMap, over: &TagMap) -> TagMap {
        if base.is_empty() {
            return over.clone();
        }
        if over.is_empty() {
            return base.clone();
        }
        let mut map = base.to_vec_map();
        for (k, v) in over.to_vec_map().entries() {
            map.insert(k, v);
        }
        TagMap::Shared(Arc::new(map))
    }

    fn to_vec_map(&self) -> VecMap<Cow<'static, str>> {
        match self {
            TagMap::Empty => VecMap::default(),
            TagMap::Static(k, v) => VecMap::one(Cow::Borrowed(k), Cow::Borrowed(v)),
            TagMap::Shared(map) => (**map).clone(),
        }
    }
}

/// A small map kept sorted by key: scopes hold a handful of tags, extras and contexts, and a
/// sorted slice is cheaper to build, clone and drop than a `BTreeMap` at that size. One entry is
/// kept inline (no allocation besides the key and value).
#[derive(Clone, PartialEq)]
pub(crate) struct VecMap<V> {
    entries: Entries<V>,
}

#[derive(Clone, PartialEq)]
enum Entries<V> {
    Empty,
    One((Cow<'static, str>, V)),
    Many(Vec<(Cow<'static, str>, V)>),
}

impl<V> Default for VecMap<V> {
    fn default() -> Self {
        VecMap {
            entries: Entries::Empty,
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for VecMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.as_slice().iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<V> VecMap<V> {
    fn as_slice(&self) -> &[(Cow<'static, str>, V)] {
        match &self.entries {
            Entries::Empty => &[],
            Entries::One(pair) => std::slice::from_ref(pair),
            Entries::Many(pairs) => pairs,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [(Cow<'static, str>, V)] {
        match &mut self.entries {
            Entries::Empty => &mut [],
            Entries::One(pair) => std::slice::from_mut(pair),
            Entries::Many(pairs) => pairs,
        }
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.as_slice().binary_search_by(|(k, _)| (**k).cmp(key))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.position(key).ok().map(|i| &self.as_slice()[i].1)
    }

    #[cfg(test)]
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        match self.position(key) {
            Ok(i) => Some(&mut self.as_mut_slice()[i].1),
            Err(_) => None,
        }
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// A map of one entry.
    pub(crate) fn one(key: Cow<'static, str>, value: V) -> Self {
        VecMap {
            entries: Entries::One((key, value)),
        }
    }

    pub(crate) fn insert(&mut self, key: Cow<'static, str>, value: V) {
        match self.position(&key) {
            Ok(i) => self.as_mut_slice()[i].1 = value,
            Err(at) => self.insert_at(at, key, value),
        }
    }

    /// Inserts a key known to be absent at `at`, the spot `position` returned for it.
    fn insert_at(&mut self, at: usize, key: Cow<'static, str>, value: V) {
        self.entries = match std::mem::replace(&mut self.entries, Entries::Empty) {
            Entries::Empty => Entries::One((key, value)),
            Entries::One(first) => {
                let mut pairs = Vec::with_capacity(4);
                pairs.push(first);
                pairs.insert(at, (key, value));
                Entries::Many(pairs)
            }
            Entries::Many(mut pairs) => {
                pairs.insert(at, (key, value));
                Entries::Many(pairs)
            }
        };
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        let at = self.position(key).ok()?;
        match std::mem::replace(&mut self.entries, Entries::Empty) {
            Entries::Empty => None,
            Entries::One((_, value)) => Some(value),
            Entries::Many(mut pairs) => {
                let (_, value) = pairs.remove(at);
                self.entries = Entries::Many(pairs);
                Some(value)
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// The entries, by value, sorted by key.
    fn entries(self) -> impl Iterator<Item = (Cow<'static, str>, V)> {
        let (one, many) = match self.entries {
            Entries::Empty => (None, None),
            Entries::One(pair) => (Some(pair), None),
            Entries::Many(pairs) => (None, Some(pairs)),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.as_slice().iter().map(|(k, v)| (&**k, v))
    }
}

fn concat<T: Clone>(a: &Option<Arc<Vec<T>>>, b: &Option<Arc<Vec<T>>>) -> Option<Arc<Vec<T>>> {
    match (a, b) {
        (None, x) | (x, None) => x.clone(),
        (Some(a), Some(b)) => Some(Arc::new(a.iter().chain(b.iter()).cloned().collect())),
    }
}

#[cfg(test)]
mod vecmap_tests {
    use super::VecMap;

    #[test]
    fn keeps_keys_sorted_and_unique_through_inline_and_vec_forms() {
        let mut m = VecMap::default();
        assert!(m.is_empty());
        m.insert("b".into(), 2);
        assert_eq!(m.get("b"), Some(&2));
        m.insert("b".into(), 3);
        m.insert("a".into(), 1);
        m.insert("c".into(), 4);
        let keys: Vec<_> = m.iter().map(|(k, v)| (k.to_owned(), *v)).collect();
        assert_eq!(
            keys,
            vec![("a".into(), 1), ("b".into(), 3), ("c".into(), 4)]
        );
        if let Some(v) = m.get_mut("a") {
            *v = 10;
        }
        assert_eq!(m.remove("a"), Some(10));
        assert_eq!(m.remove("zz"), None);
        assert!(m.contains_key("c"));
        let mut one = VecMap::default();
        one.insert("only".into(), 1);
        assert_eq!(one.remove("only"), Some(1));
        assert!(one.is_empty());
    }
}

#[cfg(test)]
mod tag_tests {
    use super::Scope;
    use std::borrow::Cow;

    #[test]
    fn tag_values_read_back_as_display_would_write_them() {
        let mut scope = Scope::new();
        scope.set_tag("str", "acme");
        scope.set_tag(String::from("string"), String::from("owned"));
        scope.set_tag(Cow::Borrowed("int"), -42i64);
        scope.set_tag("float", 1.5f64);
        scope.set_tag("bool", true);
        scope.set_tag("args", format_args!("{}-{}", "a", 1));
        let name = String::from("by-ref");
        scope.set_tag("ref", &name);
        let tags: Vec<(&str, &str)> = scope.tags().collect();
        assert_eq!(
            tags,
            vec![
                ("args", "a-1"),
                ("bool", "true"),
                ("float", "1.5"),
                ("int", "-42"),
                ("ref", "by-ref"),
                ("str", "acme"),
                ("string", "owned"),
            ]
        );
        scope.set_tag("str", "other");
        assert_eq!(scope.tag("str"), Some("other"));
        assert_eq!(scope.tags().count(), 7);
    }

    #[test]
    fn tags_stay_sorted_and_unique_across_inline_and_shared_forms() {
        let mut scope = Scope::new();
        scope.set_tag("b", "1");
        scope.set_tag("b", "2"); // inline, overwritten
        assert_eq!(scope.tags().collect::<Vec<_>>(), vec![("b", "2")]);
        scope.set_tag("b", String::from("3")); // an owned value: moves to the shared map
        scope.set_tag("a", "0");
        scope.set_tag(String::from("c"), "4");
        assert_eq!(
            scope.tags().collect::<Vec<_>>(),
            vec![("a", "0"), ("b", "3"), ("c", "4")]
        );
        scope.remove_tag("b");
        scope.remove_tag("missing");
        assert_eq!(
            scope.tags().collect::<Vec<_>>(),
            vec![("a", "0"), ("c", "4")]
        );

        let mut inline = Scope::new();
        inline.set_tag("only", "x");
        let fork = inline.clone();
        inline.set_tag("only", "y");
        inline.set_tag("second", "z");
        assert_eq!(fork.tags().collect::<Vec<_>>(), vec![("only", "x")]);
        inline.remove_tag("second");
        inline.remove_tag("only");
        assert_eq!(inline.tags().count(), 0);
        assert!(inline.is_empty());
    }

    #[test]
    fn merged_tags_let_the_inner_scope_win() {
        let mut outer = Scope::new();
        outer.set_tag("shared", "outer");
        outer.set_tag("outer-only", String::from("o"));
        let mut inner = Scope::new();
        inner.set_tag("shared", "inner");
        let merged = outer.merged_with(&inner, 100);
        assert_eq!(
            merged.tags().collect::<Vec<_>>(),
            vec![("outer-only", "o"), ("shared", "inner")]
        );
        let only_outer = outer.merged_with(&Scope::new(), 100);
        assert_eq!(only_outer.tags().count(), 2);
    }

    #[test]
    fn a_static_tag_is_borrowed_not_copied() {
        static VALUE: &str = "acme";
        let mut scope = Scope::new();
        scope.set_tag("tenant", VALUE);
        assert_eq!(scope.tag("tenant").map(str::as_ptr), Some(VALUE.as_ptr()));
    }
}
