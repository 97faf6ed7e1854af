//! Stack traces: recorded cheaply on the caller's thread, symbolised later on the worker.
//!
//! [`RawStacktrace::capture`] stores only instruction addresses (no symbol lookup), so it costs
//! a stack walk and one allocation. [`RawStacktrace::resolve`] symbolises them (with a bounded
//! per-address cache, so repeated captures of the same site are cheap), demangles names without
//! their `::h0123…` hash suffix, trims the SDK's own frames and the panic machinery from the
//! top, orders frames oldest first (the protocol's order) and marks `in_app` with
//! [`InAppRules`].
//!
//! Without the `backtrace` feature captures are empty.
//!
//! ```
//! use sdk_core::stacktrace::{InAppRules, RawStacktrace};
//!
//! let raw = RawStacktrace::capture(0); // on the caller's thread: addresses only
//! let rules = InAppRules::default();
//! let stacktrace = raw.resolve(&rules); // later, on the delivery worker
//! # #[cfg(feature = "backtrace")]
//! assert!(!stacktrace.frames.is_empty());
//! ```

// Symbolisation helpers are only reachable with the `backtrace` feature.
#![cfg_attr(not(feature = "backtrace"), allow(dead_code))]

use std::sync::Arc;

use crate::protocol::{Addr, Frame, Stacktrace};

/// The most frames one capture records; deeper stacks keep their innermost frames.
pub const MAX_FRAMES: usize = 256;

/// Crates whose frames are never the application's: the standard library, the SDK itself,
/// stack walking, and common runtime/framework crates.
const NOT_IN_APP_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "panic_unwind",
    "panic_abort",
    "backtrace",
    "gimli",
    "addr2line",
    "rustc_demangle",
    "sdk_core",
    "sdk_transport",
    "sdk_tracing",
    "sdk_integrations",
    "sentry",
    "sentry_core",
    "sentry_backtrace",
    "tokio",
    "tokio_util",
    "futures",
    "futures_core",
    "futures_util",
    "futures_executor",
    "async_std",
    "async_task",
    "mio",
    "hyper",
    "hyper_util",
    "h2",
    "http",
    "tower",
    "tower_http",
    "tower_service",
    "tower_layer",
    "axum",
    "axum_core",
    "actix_web",
    "actix_rt",
    "actix_http",
    "actix_server",
    "reqwest",
    "ureq",
    "tracing",
    "tracing_core",
    "tracing_subscriber",
    "log",
    "anyhow",
    "eyre",
    "rayon",
    "rayon_core",
    "crossbeam_channel",
    "crossbeam_deque",
    "crossbeam_utils",
    "parking_lot",
    "serde",
    "serde_json",
];

/// Crates whose frames at the top of a stack are the SDK capturing, not the application.
const SDK_CRATES: &[&str] = &[
    "backtrace",
    "sdk_core",
    "sdk_transport",
    "sdk_tracing",
    "sdk_integrations",
];

/// Function-name prefixes of the panic machinery, trimmed from the top of a stack.
const PANIC_MACHINERY: &[&str] = &[
    "std::panicking::",
    "std::panic::",
    "core::panicking::",
    "std::sys::backtrace::__rust_end_short_backtrace",
    "std::sys_common::backtrace::__rust_end_short_backtrace",
    "rust_begin_unwind",
    "__rustc::rust_begin_unwind",
    "core::result::unwrap_failed",
    "core::option::unwrap_failed",
    "core::option::expect_failed",
    "core::cell::panic_already_borrowed",
    "core::cell::panic_already_mutably_borrowed",
];

/// Rules that decide which frames are the application's own (`in_app`).
///
/// A frame's module path (e.g. `my_app::db::query`) is compared with each prefix at `::`
/// boundaries (`my_app` matches `my_app::db` but not `my_application`; dashes count as
/// underscores). `include` wins over everything, then `exclude`; frames matching neither
/// follow the built-in rules: std, core, alloc, the SDK's crates and common runtime crates
/// (tokio, futures, hyper, tower, tracing, ...) are not in-app, frames of any other crate are,
/// and frames with no Rust path (C functions, unresolved addresses) are not.
///
/// ```
/// use sdk_core::stacktrace::InAppRules;
/// let rules = InAppRules::default().include("tokio::task").exclude("my_app::vendored");
/// assert!(rules.is_in_app("my_app::main"));
/// assert!(!rules.is_in_app("my_app::vendored::parse"));
/// assert!(rules.is_in_app("tokio::task::spawn"));
/// assert!(!rules.is_in_app("tokio::runtime::park"));
/// assert!(!rules.is_in_app("std::rt::lang_start"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InAppRules {
    /// Module prefixes that are in-app (e.g. `my_app`).
    pub include: Vec<String>,
    /// Module prefixes that are not in-app (e.g. `my_vendored_lib`).
    pub exclude: Vec<String>,
}

impl InAppRules {
    /// Adds an in-app module prefix.
    pub fn include(mut self, prefix: impl Into<String>) -> InAppRules {
        self.include.push(prefix.into());
        self
    }

    /// Adds a not-in-app module prefix.
    pub fn exclude(mut self, prefix: impl Into<String>) -> InAppRules {
        self.exclude.push(prefix.into());
        self
    }

    /// Whether `path` matches one of the `include` prefixes.
    pub fn is_included(&self, path: &str) -> bool {
        let module = module_path_of(path).unwrap_or(path);
        self.include.iter().any(|p| path_has_prefix(module, p))
    }

    /// Whether a frame whose function (or module) path is `path` is in-app. For a trait
    /// method `<T as Trait>::f` the impl belongs to the crate of `T` or of `Trait`, so it is
    /// in-app when either is.
    pub fn is_in_app(&self, path: &str) -> bool {
        match (module_path_of(path), trait_path_of(path)) {
            (None, None) => self.include.iter().any(|p| path_has_prefix(path, p)),
            (ty, tr) => self.is_in_app_paths(ty, tr),
        }
    }

    fn is_in_app_paths(&self, ty: Option<&str>, tr: Option<&str>) -> bool {
        ty.is_some_and(|p| self.is_in_app_path(p)) || tr.is_some_and(|p| self.is_in_app_path(p))
    }

    /// [`InAppRules::is_in_app`] for a path already reduced by `module_path_of`.
    fn is_in_app_path(&self, module: &str) -> bool {
        if self.include.iter().any(|p| path_has_prefix(module, p)) {
            return true;
        }
        if self.exclude.iter().any(|p| path_has_prefix(module, p)) {
            return false;
        }
        match crate_of(module) {
            Some(krate) => !NOT_IN_APP_CRATES.contains(&krate),
            None => false,
        }
    }
}

/// Whether `path` equals `prefix` or starts with `prefix::` (dashes in `prefix` read as `_`).
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim().trim_end_matches("::");
    if prefix.is_empty() {
        return false;
    }
    let matches_at = |i: usize| -> bool {
        let p = prefix.as_bytes()[i];
        let c = path.as_bytes()[i];
        c == p || (p == b'-' && c == b'_')
    };
    if path.len() < prefix.len() || !(0..prefix.len()).all(matches_at) {
        return false;
    }
    let rest = &path.as_bytes()[prefix.len()..];
    rest.is_empty() || rest.starts_with(b"::")
}

/// The Rust path a frame belongs to: for `<a::B as c::D>::f` the implementing type's path
/// `a::B`, for `a::b::f` itself. `None` when the name has no `::` (C symbols, `main`).
fn module_path_of(function: &str) -> Option<&str> {
    let f = function.trim();
    let path = if let Some(inner) = f.strip_prefix('<') {
        // `<T as Trait>::method` or `<T>::method`: the path of T.
        let end = inner
            .find(" as ")
            .or_else(|| inner.find('>'))
            .unwrap_or(inner.len());
        let ty = inner[..end]
            .trim_start_matches('&')
            .trim_start_matches("mut ");
        let ty = ty.trim_start_matches("dyn ");
        // Drop generic arguments of the type.
        ty.split('<').next().unwrap_or(ty)
    } else {
        f.split('<').next().unwrap_or(f)
    };
    if path.contains("::") {
        Some(path)
    } else {
        None
    }
}

/// The trait's path of a `<T as a::Trait<..>>::f` name (`a::Trait`); `None` for other names.
fn trait_path_of(function: &str) -> Option<&str> {
    let inner = function.trim().strip_prefix('<')?;
    let start = inner.find(" as ")? + " as ".len();
    let path = inner[start..].split(['<', '>']).next()?.trim();
    path.contains("::").then_some(path)
}

/// The crate (first path segment) of a module path, if it looks like one.
fn crate_of(module: &str) -> Option<&str> {
    let krate = module.split("::").next()?;
    let valid = !krate.is_empty()
        && krate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then_some(krate)
}

/// The module of a function path: everything before the last segment, ignoring closure and
/// generic markers, e.g. `my_app::db` for `my_app::db::query::{{closure}}`.
fn module_of_function(function: &str) -> Option<String> {
    let path = module_path_of(function)?;
    if function.trim_start().starts_with('<') {
        // The implementing type's path is the best module we have.
        return Some(path.to_owned());
    }
    let mut segments: Vec<&str> = path
        .split("::")
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .collect();
    segments.pop();
    if segments.is_empty() {
        None
    } else {
        Some(segments.join("::"))
    }
}

/// Removes a trailing `::h` + 16 hex digits (the legacy mangling hash) from a demangled name.
pub fn strip_hash_suffix(name: &str) -> &str {
    if let Some(pos) = name.rfind("::h") {
        let hash = &name[pos + 3..];
        if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return &name[..pos];
        }
    }
    name
}

/// Removes turbofish generic arguments (`::<...>`) from a demangled name, e.g.
/// `std::panicking::catch_unwind::<(), F>` becomes `std::panicking::catch_unwind`; qualified
/// paths like `<T as Trait>::f` are kept.
pub fn strip_generics(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut depth = 0usize;
    let mut rest = name;
    while !rest.is_empty() {
        if depth == 0 {
            if let Some(tail) = rest.strip_prefix("::<") {
                depth = 1;
                rest = tail;
                continue;
            }
            let Some(c) = rest.chars().next() else { break };
            out.push(c);
            rest = &rest[c.len_utf8()..];
        } else {
            // `fn() -> T` inside generic arguments: the arrow closes nothing.
            if let Some(tail) = rest.strip_prefix("->") {
                rest = tail;
                continue;
            }
            let Some(c) = rest.chars().next() else { break };
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Whether a frame at the top of a stack is the SDK or the panic machinery, to be trimmed.
fn is_capture_machinery(function: &str) -> bool {
    if PANIC_MACHINERY.iter().any(|p| function.starts_with(p)) {
        // `catch_unwind` (and its old name `try`) runs the application's code: it sits below
        // the panicking frames, never above them.
        let runs_app_code = function.contains("catch_unwind")
            || function.starts_with("std::panicking::try")
            || function.contains("__rust_try");
        return !runs_app_code;
    }
    module_path_of(function)
        .and_then(crate_of)
        .is_some_and(|k| SDK_CRATES.contains(&k))
}

/// Whether a frame at the top of a stack may sit between capture machinery frames (std, core,
/// alloc glue such as `<Box<F> as Fn>::call`, or an unresolved frame).
fn is_plumbing(function: Option<&str>) -> bool {
    let Some(function) = function else {
        return true;
    };
    if is_capture_machinery(function) {
        return true;
    }
    matches!(
        module_path_of(function).and_then(crate_of),
        Some("std" | "core" | "alloc")
    )
}

/// A short, stable file name: relative to the working directory, the Rust sources or the
/// cargo registry when the path is under one of them, else the last path component.
fn short_filename(abs: &str) -> String {
    static CWD: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let cwd = CWD.get_or_init(|| {
        std::env::current_dir()
            .ok()
            .and_then(|p| p.to_str().map(str::to_owned))
    });
    {
        if let Some(cwd) = cwd.as_deref().filter(|c| c.len() > 1) {
            if let Some(rest) = abs.strip_prefix(cwd) {
                let rest = rest.trim_start_matches(['/', '\\']);
                if !rest.is_empty() {
                    return rest.to_owned();
                }
            }
        }
    }
    // /rustc/<commit>/library/std/src/rt.rs -> library/std/src/rt.rs
    if let Some(rest) = abs.strip_prefix("/rustc/") {
        if let Some(pos) = rest.find('/') {
            return rest[pos + 1..].to_owned();
        }
    }
    // ~/.cargo/registry/src/<index>/tokio-1.0.0/src/lib.rs -> tokio-1.0.0/src/lib.rs
    if let Some(pos) = abs.find("/registry/src/") {
        let rest = &abs[pos + "/registry/src/".len()..];
        if let Some(idx) = rest.find('/') {
            return rest[idx + 1..].to_owned();
        }
    }
    abs.rsplit(['/', '\\']).next().unwrap_or(abs).to_owned()
}

/// The instruction addresses of a stack, recorded but not yet symbolised.
///
/// Cheap to clone (one `Arc`), `Send` and `Sync`: hand it to the delivery worker and call
/// [`RawStacktrace::resolve`] there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawStacktrace {
    /// Instruction addresses, innermost (most recent call) first, as the unwinder yields them.
    ips: Arc<[usize]>,
    /// At least this many frames are dropped from the top (trimmed SDK frames included).
    skip: usize,
}

impl RawStacktrace {
    /// A raw stack trace from instruction addresses, innermost first.
    pub fn from_addresses(ips: Vec<usize>) -> RawStacktrace {
        RawStacktrace {
            ips: ips.into(),
            skip: 0,
        }
    }

    /// The recorded addresses, innermost first.
    pub fn addresses(&self) -> &[usize] {
        &self.ips
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// Records the current thread's stack (addresses only; no symbols are looked up).
    ///
    /// When the stack is resolved, the frames on top that belong to the SDK (any crate of it,
    /// and the stack walker) or the panic machinery are trimmed. `skip` is a lower bound on
    /// that: at least `skip` frames are dropped from the top, counting the trimmed ones, so a
    /// caller inside the SDK may pass the number of its own frames without ever losing an
    /// application frame to inlining differences. Returns an empty stack without the
    /// `backtrace` feature.
    #[inline(never)]
    pub fn capture(skip: usize) -> RawStacktrace {
        #[cfg(feature = "backtrace")]
        {
            let mut ips = Vec::with_capacity(64);
            backtrace::trace(|frame| {
                ips.push(frame.ip() as usize);
                ips.len() < MAX_FRAMES
            });
            RawStacktrace {
                ips: ips.into(),
                skip,
            }
        }
        #[cfg(not(feature = "backtrace"))]
        {
            let _ = skip;
            RawStacktrace::default()
        }
    }

    /// Replaces `raw` (taken out) with its resolved frames in `stacktrace`, unless something
    /// already resolved it; an empty result leaves `stacktrace` unset. Exceptions and threads
    /// both keep their stacks in this raw/resolved pair.
    pub fn resolve_into(
        raw: &mut Option<RawStacktrace>,
        stacktrace: &mut Option<Stacktrace>,
        rules: &InAppRules,
    ) {
        if let Some(raw) = raw.take() {
            if stacktrace.is_none() {
                let resolved = raw.resolve(rules);
                if !resolved.is_empty() {
                    *stacktrace = Some(resolved);
                }
            }
        }
    }

    /// Symbolises the stack: SDK and panic frames trimmed from the top, frames oldest first,
    /// names demangled without hash suffixes, file/line/column filled where debug info has
    /// them, and `in_app` marked by `rules`. Unresolvable addresses stay as frames with only
    /// `instruction_addr`.
    pub fn resolve(&self, rules: &InAppRules) -> Stacktrace {
        // Innermost first while we trim.
        let mut entries: Vec<Arc<[CachedFrame]>> = Vec::with_capacity(self.ips.len());
        let mut total = 0;
        for &ip in self.ips.iter().filter(|ip| **ip != 0) {
            let resolved = lookup(ip);
            total += resolved.len().max(1);
            entries.push(resolved);
        }
        let ips = self.ips.iter().copied().filter(|ip| *ip != 0);
        let flat = entries.iter().zip(ips).flat_map(|(syms, ip)| {
            let unresolved = syms.is_empty().then_some(ip);
            syms.iter()
                .map(Some)
                .chain(unresolved.map(|_| None))
                .map(move |s| (s, ip))
        });
        let cut = trim_point(flat.clone().map(|(s, _)| s), rules);
        let cut = cut.max(self.skip).min(total);
        let mut frames: Vec<Frame> = Vec::with_capacity(total - cut);
        for (sym, ip) in flat.skip(cut) {
            frames.push(match sym {
                Some(cached) => {
                    let mut frame = cached.frame.clone();
                    frame.in_app = Some(
                        rules.is_in_app_paths(cached.path.as_deref(), cached.trait_path.as_deref()),
                    );
                    frame
                }
                None => Frame {
                    instruction_addr: Some(Addr::from(ip)),
                    ..Frame::default()
                },
            });
        }
        frames.reverse();
        Stacktrace {
            frames,
            ..Stacktrace::default()
        }
    }
}

/// Loads symbol tables now (resolving this function and the calling thread's stack), so that
/// the first real resolve is faster. Call it on the delivery worker at start-up.
///
/// Why it matters: the stack walker and the symboliser share one process-wide lock in the
/// `backtrace` crate, so a [`RawStacktrace::capture`] on an application thread waits while a
/// lookup runs on the worker. Cached lookups never take that lock and a warm lookup holds it
/// briefly, but a cold one parses debug info (tens to hundreds of ms for the first lookups
/// in a library or compilation unit). Warming up moves the biggest of those to start-up.
#[inline(never)]
pub fn warm_up() {
    #[cfg(feature = "backtrace")]
    {
        // One past the entry: the symboliser looks up `ip - 1` (a return address's call).
        let ip = warm_up as fn() as usize + 1;
        let _ = lookup(ip);
        // The calling thread's own stack loads the units of std and libc every stack shares.
        let _ = RawStacktrace::capture(0).resolve(&InAppRules::default());
    }
}

/// A symbolised frame as cached per instruction address: the protocol frame without `in_app`
/// (which depends on the rules), plus what trimming and the in-app rules need.
#[derive(Debug, Clone, PartialEq)]
struct CachedFrame {
    frame: Frame,
    /// The Rust path the rules match against (`None` for C symbols).
    path: Option<String>,
    /// For `<T as Trait>::f`, the trait's path (the impl may be the app's through it).
    trait_path: Option<String>,
    /// SDK or panic machinery: trimmed when on top of the stack.
    machinery: bool,
    /// std/core/alloc glue that may sit between machinery frames.
    plumbing: bool,
}

impl CachedFrame {
    fn new(ip: usize, function: Option<String>, abs_path: Option<String>) -> CachedFrame {
        let raw = function.as_deref();
        let short = raw.map(strip_generics);
        let raw_function = match (&short, raw) {
            (Some(s), Some(full)) if s != full => Some(full.to_owned()),
            _ => None,
        };
        let path = short.as_deref().and_then(module_path_of).map(str::to_owned);
        let trait_path = short.as_deref().and_then(trait_path_of).map(str::to_owned);
        let module = short.as_deref().and_then(module_of_function);
        let package = path.as_deref().and_then(crate_of).map(str::to_owned);
        CachedFrame {
            machinery: raw.is_some_and(is_capture_machinery),
            plumbing: is_plumbing(raw),
            path,
            trait_path,
            frame: Frame {
                filename: abs_path.as_deref().map(short_filename),
                abs_path,
                instruction_addr: Some(Addr::from(ip)),
                function: short,
                raw_function,
                module,
                package,
                ..Frame::default()
            },
        }
    }
}

/// How many frames at the top (innermost) belong to the SDK or the panic machinery. Frames the
/// rules explicitly include are the application's and stop the trimming. `None` entries are
/// unresolved addresses.
fn trim_point<'a>(
    frames: impl Iterator<Item = Option<&'a CachedFrame>>,
    rules: &InAppRules,
) -> usize {
    let mut cut = 0;
    for (i, frame) in frames.enumerate() {
        let Some(frame) = frame else {
            continue; // unresolved: plumbing, not machinery
        };
        let included = frame
            .path
            .as_deref()
            .is_some_and(|p| rules.include.iter().any(|inc| path_has_prefix(p, inc)));
        if !frame.plumbing || included {
            break;
        }
        if frame.machinery {
            cut = i + 1;
        }
    }
    cut
}

#[cfg(feature = "backtrace")]
mod cache {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};

    use super::{strip_hash_suffix, CachedFrame};

    /// Most addresses kept; when full the cache starts over (a burst of distinct sites costs
    /// one re-symbolisation each, memory stays bounded).
    pub(super) const CAPACITY: usize = 16_384;

    type Cache = Mutex<HashMap<usize, Arc<[CachedFrame]>>>;

    fn cache() -> &'static Cache {
        static CACHE: OnceLock<Cache> = OnceLock::new();
        CACHE.get_or_init(|| Mutex::new(HashMap::new()))
    }

    pub(super) fn lookup(ip: usize) -> Arc<[CachedFrame]> {
        if let Some(hit) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&ip) {
            return hit.clone();
        }
        let resolved: Arc<[CachedFrame]> = symbolise(ip).into();
        let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(ip, resolved.clone());
        resolved
    }

    #[cfg(test)]
    pub(super) fn len() -> usize {
        cache().lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn symbolise(ip: usize) -> Vec<CachedFrame> {
        let mut out = Vec::new();
        // Debug info comes from files on disk; never let a parsing bug take the host down.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            backtrace::resolve(ip as *mut std::ffi::c_void, |sym| {
                let function = sym.name().map(|name| {
                    // `{:#}` demangles without the hash; strip any left in a legacy name.
                    let demangled = format!("{name:#}");
                    strip_hash_suffix(&demangled).to_owned()
                });
                let abs_path = sym.filename().map(|p| p.to_string_lossy().into_owned());
                let mut cached = CachedFrame::new(ip, function, abs_path);
                cached.frame.lineno = sym.lineno();
                cached.frame.colno = sym.colno();
                out.push(cached);
            });
        }));
        if result.is_err() {
            sdk_transport::sdk_debug!("symbolising {ip:#x} panicked; sending the address only");
            out.clear();
        }
        out
    }
}

#[cfg(feature = "backtrace")]
fn lookup(ip: usize) -> Arc<[CachedFrame]> {
    cache::lookup(ip)
}

#[cfg(not(feature = "backtrace"))]
fn lookup(_ip: usize) -> Arc<[CachedFrame]> {
    Arc::from(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_in_app_rules() {
        let rules = InAppRules::default();
        assert!(rules.is_in_app("my_app::db::query"));
        assert!(rules.is_in_app("my_app::main::{{closure}}"));
        assert!(rules.is_in_app("<my_app::Handler as tower_service::Service<R>>::call"));
        // An impl of the app's trait for a foreign type is the app's code too.
        assert!(rules.is_in_app("<alloc::string::String as my_app::Render>::render"));
        assert!(!rules.is_in_app("<tokio::task::JoinHandle<T> as core::future::Future>::poll"));
        assert_eq!(
            trait_path_of("<my_app::H as tower::Service<R>>::call"),
            Some("tower::Service")
        );
        assert_eq!(trait_path_of("<my_app::H>::call"), None);
        for not_app in [
            "std::rt::lang_start_internal",
            "core::ops::function::FnOnce::call_once",
            "<alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once",
            "sdk_core::stacktrace::RawStacktrace::capture",
            "sdk_transport::worker::run",
            "tokio::runtime::task::harness::Harness<T,S>::poll",
            "futures_util::future::Map::poll",
            "hyper::proto::h1::dispatch",
            "tracing::span::Span::in_scope",
            "backtrace::backtrace::trace",
            "main",
            "__libc_start_main_impl",
            "_start",
        ] {
            assert!(!rules.is_in_app(not_app), "{not_app} must not be in-app");
        }
    }

    #[test]
    fn include_and_exclude_override_the_builtin_rules() {
        let rules = InAppRules::default()
            .include("tokio::task")
            .include("my-lib")
            .exclude("my_app::vendored")
            .exclude("my_lib::inner");
        assert!(rules.is_in_app("tokio::task::spawn"));
        assert!(!rules.is_in_app("tokio::runtime::park"));
        assert!(!rules.is_in_app("my_app::vendored::parse"));
        assert!(rules.is_in_app("my_app::vendoredness::parse"));
        // include wins over exclude
        assert!(rules.is_in_app("my_lib::inner::f"));
        let only_exclude = InAppRules::default().exclude("my_app");
        assert!(!only_exclude.is_in_app("my_app::main"));
        assert!(only_exclude.is_in_app("my_application::main"));
    }

    #[test]
    fn turbofish_generics_are_removed() {
        assert_eq!(
            strip_generics("std::panicking::catch_unwind::<(), core::panic::AssertUnwindSafe<F>>"),
            "std::panicking::catch_unwind"
        );
        assert_eq!(
            strip_generics("<my_app::H as tower::Service<R>>::call"),
            "<my_app::H as tower::Service<R>>::call"
        );
        assert_eq!(
            strip_generics(
                "test::__rust_begin_short_backtrace::<core::result::Result<(), \
                 alloc::string::String>, fn() -> core::result::Result<(), alloc::string::String>>"
            ),
            "test::__rust_begin_short_backtrace"
        );
        assert_eq!(
            strip_generics("std::sys::backtrace::__rust_begin_short_backtrace::<test::f, ()>"),
            "std::sys::backtrace::__rust_begin_short_backtrace"
        );
    }

    #[test]
    fn hash_suffixes_are_removed() {
        assert_eq!(
            strip_hash_suffix("my_app::main::h0123456789abcdef"),
            "my_app::main"
        );
        assert_eq!(strip_hash_suffix("my_app::hash_it"), "my_app::hash_it");
        assert_eq!(strip_hash_suffix("my_app::h0123"), "my_app::h0123");
    }

    #[cfg(feature = "backtrace")]
    #[test]
    fn legacy_mangled_names_demangle_without_hash() {
        let name = backtrace::SymbolName::new(b"_ZN6my_app4main17h0123456789abcdefE");
        assert_eq!(format!("{name:#}"), "my_app::main");
    }

    #[test]
    fn module_and_crate_of_functions() {
        assert_eq!(
            module_of_function("my_app::db::query::{{closure}}").as_deref(),
            Some("my_app::db")
        );
        assert_eq!(
            module_of_function("<my_app::Handler as tower::Service>::call").as_deref(),
            Some("my_app::Handler")
        );
        assert_eq!(module_of_function("main"), None);
        assert_eq!(
            module_path_of("alloc::vec::Vec<T,A>::push").and_then(crate_of),
            Some("alloc")
        );
    }

    #[test]
    fn filenames_are_shortened() {
        assert_eq!(
            short_filename("/rustc/abc123/library/std/src/rt.rs"),
            "library/std/src/rt.rs"
        );
        assert_eq!(
            short_filename("/home/u/.cargo/registry/src/index.crates.io-6f17d22bba15001f/tokio-1.40.0/src/lib.rs"),
            "tokio-1.40.0/src/lib.rs"
        );
        assert_eq!(short_filename("./csu/../csu/libc-start.c"), "libc-start.c");
    }

    fn frame(function: &str) -> CachedFrame {
        CachedFrame::new(0x1000, Some(function.to_owned()), None)
    }

    #[test]
    fn sdk_and_panic_frames_are_trimmed_from_the_top() {
        // Innermost first, as the unwinder yields them.
        let frames = vec![
            frame("backtrace::backtrace::trace"),
            frame("sdk_core::stacktrace::RawStacktrace::capture"),
            frame("sdk_core::panic::hook"),
            frame("<alloc::boxed::Box<F,A> as core::ops::function::Fn<Args>>::call"),
            frame("std::panicking::rust_panic_with_hook"),
            frame("std::panicking::begin_panic_handler::{{closure}}"),
            frame("core::panicking::panic_fmt"),
            frame("core::result::unwrap_failed"),
            frame("core::result::Result<T,E>::unwrap"),
            frame("my_app::load"),
            frame("std::rt::lang_start"),
        ];
        let cut = trim_point(frames.iter().map(Some), &InAppRules::default());
        assert_eq!(
            frames[cut].frame.function.as_deref(),
            Some("core::result::Result<T,E>::unwrap")
        );
        // Unresolved addresses between machinery frames are trimmed with them.
        let mut with_gap: Vec<Option<&CachedFrame>> = frames.iter().map(Some).collect();
        with_gap.insert(2, None);
        assert_eq!(
            trim_point(with_gap.into_iter(), &InAppRules::default()),
            cut + 1
        );
        // An included frame is the application's and is never trimmed.
        let rules = InAppRules::default().include("std::panicking");
        assert_eq!(trim_point(frames.iter().map(Some), &rules), 3);
        // A panic on a spawned thread: the std frames that start the thread and catch its
        // panic are below the app's frame and must never be taken for machinery, even when
        // the app's crate has a std-like name (an integration test crate named `core`).
        let thread_panic = [
            frame("sdk_core::integrations::panic::hook"),
            frame("std::panicking::rust_panic_with_hook"),
            frame("core::panicking::panic_fmt"),
            frame("core::option::expect_failed"),
            frame("core::option::Option<T>::expect"),
            frame("core::init_guard_test::{{closure}}"),
            frame("core::ops::function::FnOnce::call_once"),
            frame("std::panicking::catch_unwind::do_call"),
            frame("__rust_try"),
            frame("std::panicking::catch_unwind"),
            frame("std::panic::catch_unwind"),
            frame("std::thread::lifecycle::spawn_unchecked::{{closure}}"),
        ];
        let cut = trim_point(thread_panic.iter().map(Some), &InAppRules::default());
        assert_eq!(
            thread_panic[cut].frame.function.as_deref(),
            Some("core::option::Option<T>::expect")
        );
        // A stack with no SDK frame on top is left alone.
        let plain = [frame("my_app::load"), frame("my_app::main")];
        assert_eq!(
            trim_point(plain.iter().map(Some), &InAppRules::default()),
            0
        );
    }

    /// These test functions live in `sdk_core`, whose frames are trimmed as the SDK's own,
    /// so the tests include them explicitly, as an application's crate would be.
    #[cfg(feature = "backtrace")]
    fn app_rules() -> InAppRules {
        InAppRules::default().include("sdk_core::stacktrace::tests")
    }

    #[cfg(feature = "backtrace")]
    #[inline(never)]
    fn app_level_two() -> RawStacktrace {
        RawStacktrace::capture(0)
    }

    #[cfg(feature = "backtrace")]
    #[inline(never)]
    fn app_level_one() -> RawStacktrace {
        app_level_two()
    }

    #[cfg(feature = "backtrace")]
    #[test]
    fn captured_stacks_resolve_oldest_first_with_the_caller_on_top() {
        let raw = app_level_one();
        assert!(!raw.is_empty());
        let moved = std::thread::spawn(move || raw.resolve(&app_rules()))
            .join()
            .expect("resolving on another thread works");
        let names: Vec<&str> = moved
            .frames
            .iter()
            .filter_map(|f| f.function.as_deref())
            .collect();
        let last = names.last().copied().unwrap_or_default();
        assert!(
            last.ends_with("app_level_two"),
            "innermost frame should be the capturing function, got {names:?}"
        );
        let one = names.iter().position(|n| n.ends_with("app_level_one"));
        let two = names.iter().position(|n| n.ends_with("app_level_two"));
        assert!(one < two, "frames must be oldest first: {names:?}");
        assert!(names.iter().all(|n| !n.starts_with("backtrace::")));
        assert!(names
            .iter()
            .all(|n| strip_hash_suffix(n) == *n && !n.contains("::<")));
        let top = moved.frames.last().expect("frames");
        assert_eq!(top.in_app, Some(true), "included frames are in-app");
        assert_eq!(top.module.as_deref(), Some("sdk_core::stacktrace::tests"));
        assert_eq!(top.package.as_deref(), Some("sdk_core"));
        assert!(
            top.lineno.is_some(),
            "debug builds have line numbers: {top:?}"
        );
        assert!(top
            .abs_path
            .as_deref()
            .is_some_and(|p| p.ends_with("stacktrace.rs")));
        let std_frame = moved
            .frames
            .iter()
            .find(|f| f.package.as_deref() == Some("std"))
            .expect("a std frame below the test");
        assert_eq!(std_frame.in_app, Some(false));
        assert!(cache::len() > 0);
        // Without the include, the test code counts as the SDK's own and is trimmed.
        let trimmed = app_level_one().resolve(&InAppRules::default());
        assert!(trimmed.frames.iter().all(|f| !f
            .function
            .as_deref()
            .unwrap_or("")
            .contains("app_level")));
    }

    #[cfg(feature = "backtrace")]
    #[test]
    fn warm_up_symbolises_its_own_address() {
        warm_up();
        let ip = warm_up as fn() as usize + 1;
        let cached = lookup(ip);
        assert!(cached
            .iter()
            .any(|c| c.frame.function.as_deref() == Some("sdk_core::stacktrace::warm_up")));
    }

    #[test]
    fn skip_drops_top_frames_and_unknown_addresses_stay() {
        let raw = RawStacktrace::from_addresses(vec![1, 2, 3]);
        let st = raw.resolve(&InAppRules::default());
        assert_eq!(st.frames.len(), 3);
        // oldest first: the last address recorded is the first frame
        assert_eq!(st.frames[0].instruction_addr, Some(Addr(3)));
        let skipped = RawStacktrace { skip: 1, ..raw };
        let st = skipped.resolve(&InAppRules::default());
        assert_eq!(st.frames.len(), 2);
        assert_eq!(st.frames[1].instruction_addr, Some(Addr(2)));
    }

    #[cfg(feature = "backtrace")]
    #[test]
    fn skip_never_eats_application_frames_below_the_sdk() {
        // Callers inside the SDK pass a count of their own frames; the capture function and
        // stack walker frames are already trimmed, so the app's frame must survive.
        let raw = app_level_one_skipping(2);
        let st = raw.resolve(&app_rules());
        let top = st.frames.last().and_then(|f| f.function.as_deref());
        assert!(
            top.is_some_and(|f| f.ends_with("app_level_two_skipping")),
            "top frame: {top:?}"
        );
    }

    #[cfg(feature = "backtrace")]
    #[inline(never)]
    fn app_level_two_skipping(skip: usize) -> RawStacktrace {
        std::hint::black_box(RawStacktrace::capture(skip))
    }

    #[cfg(feature = "backtrace")]
    #[inline(never)]
    fn app_level_one_skipping(skip: usize) -> RawStacktrace {
        std::hint::black_box(app_level_two_skipping(skip))
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn name_helpers_never_panic(name in "\\PC{0,60}", prefix in "\\PC{0,10}") {
            let _ = strip_generics(&name);
            let _ = strip_hash_suffix(&name);
            let _ = module_of_function(&name);
            let _ = short_filename(&name);
            let rules = InAppRules::default().include(prefix.clone()).exclude(prefix);
            let _ = rules.is_in_app(&name);
            let _ = rules.is_included(&name);
            let _ = CachedFrame::new(1, Some(name.clone()), Some(name));
        }

        #[test]
        fn rust_like_names_never_panic(name in "[<>a-z_:{}#0-9 ,&()]{0,60}") {
            let stripped = strip_generics(&name);
            prop_assert!(stripped.len() <= name.len());
            let _ = module_of_function(&name);
            let _ = InAppRules::default().is_in_app(&name);
        }
    }
}
