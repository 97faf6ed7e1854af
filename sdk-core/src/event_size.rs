//! A cheap estimate of an event's serialised size, for the transport queue's byte bound: sums
//! string lengths plus a fixed cost per field, without serialising anything.
//!
//! It aims to be within a factor of two of the JSON for the events that matter to the bound
//! (large `extra`, request bodies, contexts, many breadcrumbs, long stack traces).

use crate::protocol::{
    Breadcrumb, Context, Event, Exception, Frame, Request, Stacktrace, Thread, User,
};
use crate::scope::Scope;
use crate::stacktrace::RawStacktrace;

/// Key, quotes, colon and comma around a field.
const FIELD: usize = 16;
/// A resolved frame of a raw stack trace: function, file, path, line, address, in_app.
const RAW_FRAME: usize = 256;

fn string(s: &str) -> usize {
    FIELD + s.len()
}

fn opt(s: Option<&str>) -> usize {
    s.map_or(0, string)
}

/// A JSON value: its strings, keys and punctuation.
pub(crate) fn value(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => s.len() + 2,
        serde_json::Value::Array(items) => 2 + items.iter().map(|i| value(i) + 1).sum::<usize>(),
        serde_json::Value::Object(map) => 2 + map_size(map),
        _ => 8,
    }
}

fn map_size(map: &serde_json::Map<String, serde_json::Value>) -> usize {
    map.iter().map(|(k, v)| k.len() + 4 + value(v)).sum()
}

fn strings<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> usize {
    pairs.map(|(k, v)| k.len() + v.len() + 6).sum()
}

pub(crate) fn breadcrumb(b: &Breadcrumb) -> usize {
    48 + opt(b.ty.as_deref())
        + opt(b.category.as_deref())
        + opt(b.message.as_deref())
        + opt(b.origin.as_deref())
        + if b.data.is_empty() {
            0
        } else {
            FIELD
                + b.data
                    .iter()
                    .map(|(k, v)| {
                        k.len()
                            + 4
                            + match v {
                                crate::protocol::DataValue::Json(json) => value(json),
                                other => other.json_size_hint().unwrap_or(8),
                            }
                    })
                    .sum::<usize>()
        }
}

fn frame(f: &Frame) -> usize {
    64 + opt(f.function.as_deref())
        + opt(f.raw_function.as_deref())
        + opt(f.symbol.as_deref())
        + opt(f.module.as_deref())
        + opt(f.package.as_deref())
        + opt(f.filename.as_deref())
        + opt(f.abs_path.as_deref())
        + opt(f.context_line.as_deref())
        + f.pre_context
            .iter()
            .chain(&f.post_context)
            .map(|l| l.len() + 3)
            .sum::<usize>()
        + f.vars
            .iter()
            .map(|(k, v)| k.len() + 4 + value(v))
            .sum::<usize>()
}

fn stacktrace(s: Option<&Stacktrace>, raw: Option<&RawStacktrace>) -> usize {
    s.map_or(0, |s| 32 + s.frames.iter().map(frame).sum::<usize>())
        + raw.map_or(0, |r| 32 + r.addresses().len() * RAW_FRAME)
}

pub(crate) fn exception(e: &Exception) -> usize {
    64 + e.ty.len()
        + opt(e.value.as_deref())
        + opt(e.module.as_deref())
        + stacktrace(e.stacktrace.as_ref(), e.raw_stacktrace.as_ref())
        + e.mechanism.as_ref().map_or(0, |m| {
            96 + m.ty.len()
                + opt(m.description.as_deref())
                + opt(m.help_link.as_deref())
                + opt(m.source.as_deref())
                + map_size(&m.data)
        })
}

pub(crate) fn thread(t: &Thread) -> usize {
    64 + opt(t.name.as_deref())
        + opt(t.state.as_deref())
        + stacktrace(t.stacktrace.as_ref(), t.raw_stacktrace.as_ref())
}

pub(crate) fn user(u: &User) -> usize {
    32 + opt(u.id.as_deref())
        + opt(u.email.as_deref())
        + opt(u.username.as_deref())
        + opt(u.name.as_deref())
        + u.ip_address.as_ref().map_or(0, |_| FIELD + 40)
        + map_size(&u.other)
}

fn request(r: &Request) -> usize {
    32 + opt(r.url.as_deref())
        + opt(r.method.as_deref())
        + opt(r.query_string.as_deref())
        + opt(r.cookies.as_deref())
        + r.data.as_ref().map_or(0, |d| FIELD + value(d))
        + strings(r.headers.iter())
        + strings(r.env.iter())
}

pub(crate) fn context(c: &Context) -> usize {
    // typed contexts hold a handful of short fields; their `other` maps are rare
    match c {
        Context::Os(c) => 160 + map_size(&c.other),
        Context::Runtime(c) => 128 + map_size(&c.other),
        Context::Device(c) => 160 + map_size(&c.other),
        Context::App(c) => 192 + map_size(&c.other),
        Context::Trace(c) => 160 + opt(c.op.as_deref()) + map_size(&c.data),
        Context::Other(map) => 2 + map_size(map),
    }
}

/// An event's own fields (what it carries itself, not what the scope or the client add).
pub(crate) fn event(e: &Event) -> usize {
    160 + opt(e.message.as_deref())
        + e.logentry.as_ref().map_or(0, |l| {
            32 + l.message.len()
                + opt(l.formatted.as_deref())
                + l.params.iter().map(value).sum::<usize>()
        })
        + opt(e.ty.as_deref())
        + opt(e.logger.as_deref())
        + opt(e.transaction.as_deref())
        + opt(e.server_name.as_deref())
        + opt(e.release.as_deref())
        + opt(e.dist.as_deref())
        + opt(e.environment.as_deref())
        + e.user.as_ref().map_or(0, user)
        + e.request.as_ref().map_or(0, request)
        + e.contexts
            .iter()
            .map(|(k, c)| k.len() + 4 + context(c))
            .sum::<usize>()
        + e.breadcrumbs.iter().map(breadcrumb).sum::<usize>()
        + e.exception.iter().map(exception).sum::<usize>()
        + e.threads.iter().map(thread).sum::<usize>()
        + strings(e.tags.iter())
        + map_size(&e.extra)
        + e.fingerprint.iter().map(|f| f.len() + 3).sum::<usize>()
        + strings(e.modules.iter())
        + e.sdk.as_ref().map_or(0, |_| 256)
        + e.debug_meta
            .as_ref()
            .map_or(0, |d| 32 + d.images.len() * 256)
}

/// What a scope adds to an event (its newest `max_breadcrumbs` breadcrumbs at most).
pub(crate) fn scope(s: &Scope, max_breadcrumbs: usize) -> usize {
    let crumbs = s.breadcrumbs.len();
    opt(s.transaction.as_deref())
        + s.user.as_deref().map_or(0, user)
        + s.fingerprint
            .as_deref()
            .map_or(0, |f| f.iter().map(|f| f.len() + 3).sum::<usize>())
        + s.tags
            .as_deref()
            .map_or(0, |t| t.iter().map(|(k, v)| k.len() + v.len() + 6).sum())
        + s.extra
            .as_deref()
            .map_or(0, |t| t.iter().map(|(k, v)| k.len() + 4 + value(v)).sum())
        + s.contexts
            .as_deref()
            .map_or(0, |t| t.iter().map(|(k, c)| k.len() + 4 + context(c)).sum())
        + s.breadcrumbs
            .iter()
            .skip(crumbs.saturating_sub(max_breadcrumbs))
            .map(breadcrumb)
            .sum::<usize>()
}
