//! SDK calls inside a `configure_scope` closure: on the same hub they cannot lock it (the
//! closure holds it), but on *another* hub they keep that hub's scope, even when a different
//! thread holds it for a moment; and two threads configuring each other's hubs do not deadlock.

use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use sdk_core::testing::TestTransport;
use sdk_core::transport::{ItemType, Transport};
use sdk_core::{Client, ClientOptions, Hub, Level};
use serde_json::Value;

/// The events `keep` received so far, as written JSON.
fn events_of(keep: &TestTransport) -> Vec<Value> {
    let envelopes = keep.fetch_and_clear_envelopes();
    envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .filter(|item| item.item_type == ItemType::Event)
        .map(|item| serde_json::from_slice(&item.payload.to_vec().unwrap()).unwrap())
        .collect()
}

fn two_hubs() -> (Arc<TestTransport>, Arc<Hub>, Arc<Hub>) {
    let keep = TestTransport::new();
    let shared: Arc<dyn Transport> = keep.clone();
    let client = Arc::new(Client::new(ClientOptions::new().transport(shared)));
    let a = Arc::new(Hub::with_client(client.clone()));
    let b = Arc::new(Hub::with_client(client));
    a.configure_scope(|s| s.set_tag("hub", "a"));
    b.configure_scope(|s| s.set_tag("hub", "b"));
    (keep, a, b)
}

#[test]
fn a_capture_on_hub_b_inside_hub_a_s_closure_keeps_b_s_scope() {
    let (keep, a, b) = two_hubs();

    // b is free
    a.configure_scope(|_| b.capture_message("b is free", Level::Info));

    // b is held by another thread's configure_scope closure for a moment
    let (inside_tx, inside_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = {
        let b = b.clone();
        std::thread::spawn(move || {
            b.configure_scope(|_| {
                let _ = inside_tx.send(());
                let _ = release_rx.recv();
                // still holding b's lock while the other thread already wants it
                std::thread::sleep(Duration::from_millis(20));
            })
        })
    };
    inside_rx.recv().expect("the holder is inside b's closure");
    a.configure_scope(|_| {
        let _ = release_tx.send(());
        b.capture_message("b is contended", Level::Info)
    });
    holder.join().expect("the holder finished");

    let events = events_of(&keep);
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(event["tags"]["hub"], "b", "hub b's scope applies: {event}");
    }

    // the same hub inside its own closure cannot lock it: the event still goes, without scope
    a.configure_scope(|_| a.capture_message("same hub", Level::Info));
    let events = events_of(&keep);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"], "same hub");
}

#[test]
fn two_threads_configuring_each_other_s_hubs_do_not_deadlock() {
    let (keep, a, b) = two_hubs();
    let barrier = Arc::new(Barrier::new(2));
    let cross = |mine: Arc<Hub>, other: Arc<Hub>, barrier: Arc<Barrier>| {
        std::thread::spawn(move || {
            mine.configure_scope(|_| {
                barrier.wait();
                other.capture_message("across", Level::Info)
            })
        })
    };
    let one = cross(a.clone(), b.clone(), barrier.clone());
    let two = cross(b, a, barrier);
    let ids = [one.join().unwrap(), two.join().unwrap()];
    assert!(ids.iter().all(|id| !id.is_nil()), "both events were sent");
    assert_eq!(events_of(&keep).len(), 2);
}
