//! The human-readable summary the examples print.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::net::SocketAddr;

use serde_json::Value;

use crate::envelope::{Envelope, ItemType};

/// Longest message shown per event line.
const MAX_TEXT: usize = 100;

pub(super) fn summarize(
    addr: SocketAddr,
    envelopes: &[Envelope],
    envelope_count: usize,
    item_counts: &HashMap<String, usize>,
    requests: usize,
    rejected: usize,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mock ingest server at http://{addr}: {} envelope(s) in {requests} request(s), {rejected} rejected",
        envelope_count
    );
    let counts: BTreeMap<&String, &usize> = item_counts.iter().collect();
    if counts.is_empty() {
        out.push_str("  items: none\n");
    } else {
        let list: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
        let _ = writeln!(out, "  items: {}", list.join(", "));
    }
    for item in envelopes.iter().flat_map(|e| e.items.iter()) {
        let Some(bytes) = item.payload.as_bytes() else {
            continue;
        };
        let json = || serde_json::from_slice::<Value>(bytes).ok();
        match item.item_type {
            ItemType::Event => {
                if let Some(event) = json() {
                    let _ = writeln!(out, "  {}", describe_event(&event));
                }
            }
            ItemType::Transaction => {
                if let Some(tx) = json() {
                    let name = tx["transaction"].as_str().unwrap_or("<unnamed>");
                    let spans = tx["spans"].as_array().map_or(0, Vec::len);
                    let _ = writeln!(out, "  transaction \"{}\" ({spans} span(s))", clip(name));
                }
            }
            _ => {}
        }
    }
    out
}

/// `event error: "message" (2 tags)` or `event error: Type: value (0 tags)`.
fn describe_event(event: &Value) -> String {
    let level = event["level"].as_str().unwrap_or("error");
    let exception = event["exception"]
        .get("values")
        .or(Some(&event["exception"]))
        .and_then(Value::as_array)
        .and_then(|values| values.last())
        .map(|e| {
            let ty = e["type"].as_str().unwrap_or("<no type>");
            match e["value"].as_str() {
                Some(value) => format!("{ty}: {}", clip(value)),
                None => ty.to_owned(),
            }
        });
    let text = exception.unwrap_or_else(|| match message(event) {
        Some(msg) => format!("\"{}\"", clip(msg)),
        None => "<no message>".to_owned(),
    });
    let tags = match &event["tags"] {
        Value::Object(map) => map.len(),
        Value::Array(list) => list.len(),
        _ => 0,
    };
    format!("event {level}: {text} ({tags} tag(s))")
}

fn message(event: &Value) -> Option<&str> {
    let entry = &event["logentry"];
    entry["formatted"]
        .as_str()
        .or_else(|| entry["message"].as_str())
        .or_else(|| event["message"].as_str())
        .or_else(|| event["message"]["formatted"].as_str())
        .or_else(|| event["message"]["message"].as_str())
}

fn clip(text: &str) -> String {
    let first_line = text.lines().next().unwrap_or("");
    if first_line.chars().count() > MAX_TEXT {
        let cut: String = first_line.chars().take(MAX_TEXT).collect();
        format!("{cut}...")
    } else {
        first_line.to_owned()
    }
}
