//! A finishing transaction skips the hub lock until some scope was given tags, a user, extra
//! or contexts. Each test here runs in this process before anything else set scope data, so a
//! setter that failed to note it would lose its data from the transaction.

use sdk_core::testing::with_captured_envelopes_options;
use sdk_core::transport::ItemType;
use sdk_core::{ClientOptions, TransactionContext};

const DSN: &str = "https://key@o1.ingest.example.com/1";

fn transaction_body(f: impl FnOnce()) -> serde_json::Value {
    let envelopes = with_captured_envelopes_options(
        || {
            f();
            sdk_core::start_transaction(TransactionContext::new("job", "task")).finish();
        },
        ClientOptions::new().dsn(DSN).traces_sample_rate(1.0),
    );
    let envelope = envelopes
        .iter()
        .find(|e| e.items.iter().any(|i| i.item_type == ItemType::Transaction))
        .expect("a transaction was sent");
    let text = String::from_utf8(envelope.to_vec().expect("writes")).expect("utf8");
    serde_json::from_str(text.lines().nth(2).expect("body")).expect("json")
}

// One test only: the flag is process-wide, so a second setter tested here would pass on the
// first one's note.
#[test]
fn a_context_set_first_in_the_process_reaches_the_transaction() {
    let body = transaction_body(|| {
        sdk_core::configure_scope(|scope| {
            let mut fields = serde_json::Map::new();
            fields.insert("region".into(), "eu".into());
            scope.set_context("deploy", sdk_core::protocol::Context::Other(fields));
        });
    });
    assert_eq!(body["contexts"]["deploy"]["region"], "eu", "{body}");
}
