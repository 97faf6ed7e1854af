//! What the layer's tests share: running code under the layer with an in-memory transport,
//! and reading the envelopes' bodies.

use sdk_core::testing::with_captured_envelopes_options;
use sdk_core::transport::{Envelope, ItemType};
use sdk_core::ClientOptions;
use tracing_subscriber::prelude::*;

use crate::SentryLayer;

/// The envelopes sent while `f` runs under `layer`, with every transaction sampled.
pub(crate) fn capture(layer: SentryLayer, f: impl FnOnce()) -> Vec<Envelope> {
    let subscriber = tracing_subscriber::registry().with(layer);
    with_captured_envelopes_options(
        || tracing::subscriber::with_default(subscriber, f),
        ClientOptions::new()
            .dsn("https://key@o1.ingest.example.com/1")
            .traces_sample_rate(1.0),
    )
}

/// The serialised envelopes that carry an item of type `ty`, as text.
pub(crate) fn envelope_texts(envelopes: &[Envelope], ty: ItemType) -> Vec<String> {
    envelopes
        .iter()
        .filter(|e| e.items.iter().any(|i| i.item_type == ty))
        .map(|e| String::from_utf8(e.to_vec().expect("writes")).expect("utf8"))
        .collect()
}

/// The first item's body in a serialised envelope (its third line).
pub(crate) fn first_body(text: &str) -> &str {
    text.lines().nth(2).expect("body")
}
