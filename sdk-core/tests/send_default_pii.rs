//! `send_default_pii`: on, an event whose user has no IP gets `"{{auto}}"`; off, the SDK adds
//! nothing personal. Checked on the written JSON, for the lazy path (no callbacks) and the
//! materialised one (`before_send` installed).

use std::sync::Arc;

use sdk_core::testing::TestTransport;
use sdk_core::transport::{ItemType, Transport};
use sdk_core::{Client, ClientOptions, Hub, Level, User};
use serde_json::Value;

/// The `user` of each event written, in capture order: (no user set, a user without an IP,
/// a user with an exact IP).
fn users_written(options: ClientOptions) -> Vec<Value> {
    let keep = TestTransport::new();
    let shared: Arc<dyn Transport> = keep.clone();
    let client = Arc::new(Client::new(options.transport(shared)));
    let hub = Arc::new(Hub::new_from_top(&Hub::current()));
    hub.bind_client(Some(client));
    Hub::run(hub, || {
        sdk_core::capture_message("no user", Level::Info);
        sdk_core::configure_scope(|scope| {
            scope.set_user(Some(User {
                id: Some("42".into()),
                ..Default::default()
            }))
        });
        sdk_core::capture_message("a user without an IP", Level::Info);
        sdk_core::configure_scope(|scope| {
            scope.set_user(Some(User {
                id: Some("43".into()),
                ip_address: Some("10.1.2.3".parse().expect("an IP")),
                ..Default::default()
            }))
        });
        sdk_core::capture_message("a user with an IP", Level::Info);
    });
    let envelopes = keep.fetch_and_clear_envelopes();
    envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .filter(|item| item.item_type == ItemType::Event)
        .map(|item| {
            let bytes = item.payload.to_vec().expect("the event serialises");
            let event: Value = serde_json::from_slice(&bytes).expect("JSON");
            event.get("user").cloned().unwrap_or(Value::Null)
        })
        .collect()
}

fn both_paths(options: impl Fn() -> ClientOptions) -> [Vec<Value>; 2] {
    [
        users_written(options()),
        users_written(options().before_send(Some)),
    ]
}

#[test]
fn with_send_default_pii_events_without_an_ip_get_auto() {
    for users in both_paths(|| ClientOptions::new().send_default_pii(true)) {
        assert_eq!(users.len(), 3);
        assert_eq!(users[0], serde_json::json!({"ip_address": "{{auto}}"}));
        assert_eq!(
            users[1],
            serde_json::json!({"id": "42", "ip_address": "{{auto}}"})
        );
        assert_eq!(
            users[2],
            serde_json::json!({"id": "43", "ip_address": "10.1.2.3"}),
            "an IP the application set is kept"
        );
    }
}

#[test]
fn without_send_default_pii_nothing_personal_is_added() {
    for users in both_paths(ClientOptions::new) {
        assert_eq!(users.len(), 3);
        assert_eq!(users[0], Value::Null, "no user is invented");
        assert_eq!(users[1], serde_json::json!({"id": "42"}));
        assert_eq!(
            users[2],
            serde_json::json!({"id": "43", "ip_address": "10.1.2.3"})
        );
    }
}
