//! Layer fixes from the review: field values whose formatting fails, per-thread span binding,
//! span start times, logs.

use std::fmt;

use sdk_core::testing::with_captured_envelopes_options;
use sdk_core::transport::{Envelope, ItemType};
use sdk_core::ClientOptions;
use serde_json::Value;
use tracing_subscriber::prelude::*;

use super::*;

fn bodies(envelopes: &[Envelope], ty: ItemType) -> Vec<Value> {
    envelopes
        .iter()
        .filter(|e| e.items.iter().any(|i| i.item_type == ty))
        .map(|e| {
            let text = String::from_utf8(e.to_vec().expect("writes")).expect("utf8");
            let body = text.lines().nth(2).expect("body");
            serde_json::from_str(body).expect("json")
        })
        .collect()
}

fn capture(layer: SentryLayer, f: impl FnOnce()) -> Vec<Envelope> {
    let subscriber = tracing_subscriber::registry().with(layer);
    with_captured_envelopes_options(
        || tracing::subscriber::with_default(subscriber, f),
        ClientOptions::new()
            .dsn("https://key@o1.ingest.example.com/1")
            .traces_sample_rate(1.0),
    )
}

/// A user type whose `Debug` and `Display` write a little, then fail.
struct Broken;

impl fmt::Debug for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Broken{")?;
        Err(fmt::Error)
    }
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("half a message")?;
        Err(fmt::Error)
    }
}

impl std::error::Error for Broken {}

#[test]
fn fields_whose_formatting_fails_keep_what_was_written_instead_of_panicking() {
    let envelopes = capture(layer(), || {
        let root = tracing::info_span!("job", state = ?Broken);
        let _r = root.enter();
        let err: &(dyn std::error::Error + 'static) = &Broken;
        tracing::error!(error = err, detail = ?Broken, "failed");
    });
    let txs = bodies(&envelopes, ItemType::Transaction);
    assert_eq!(txs.len(), 1, "the span still became a transaction");
    assert_eq!(txs[0]["contexts"]["trace"]["data"]["state"], "Broken{");
    let events = bodies(&envelopes, ItemType::Event);
    assert_eq!(events.len(), 1, "the error event still arrived");
    assert_eq!(events[0]["extra"]["error"], "half a message");
    assert_eq!(events[0]["extra"]["detail"], "Broken{");
    assert_eq!(
        events[0]["exception"]["values"][0]["value"],
        "half a message"
    );
}
