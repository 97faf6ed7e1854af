//! Process-wide behaviour: the disabled fast path, `init()` reaching threads that already
//! exist, and the guard's shutdown. One test function, because it changes global state.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use sdk_core::transport::{Envelope, Transport};
use sdk_core::{Breadcrumb, ClientOptions, Level};

#[derive(Default)]
struct Recording {
    envelopes: Mutex<Vec<Envelope>>,
    shutdowns: AtomicUsize,
}

impl Transport for Recording {
    fn send_envelope(&self, envelope: Envelope) {
        if let Ok(mut e) = self.envelopes.lock() {
            e.push(envelope);
        }
    }
    fn flush(&self, _timeout: Duration) -> bool {
        true
    }
    fn shutdown(&self, _timeout: Duration) -> bool {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
        true
    }
}

#[test]
fn disabled_then_init_reaches_existing_threads_then_guard_shuts_down() {
    // 0. a bad DSN: a warning and a disabled SDK, not a panic
    let bad = sdk_core::init("this is not a dsn");
    assert!(!bad.is_enabled());
    drop(bad);

    // 1. no client bound: nothing runs, nothing is built
    let ran = AtomicUsize::new(0);
    sdk_core::configure_scope(|_| {
        ran.fetch_add(1, Ordering::SeqCst);
    });
    sdk_core::add_breadcrumb(|| {
        ran.fetch_add(1, Ordering::SeqCst);
        Breadcrumb::new("never")
    });
    let callback_ran = sdk_core::with_scope(
        |_| {
            ran.fetch_add(1, Ordering::SeqCst);
        },
        || true,
    );
    assert!(callback_ran, "with_scope still runs its callback");
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a disabled SDK runs no closure"
    );
    assert!(sdk_core::capture_message("nope", Level::Info).is_nil());
    assert_eq!(sdk_core::last_event_id(), None);

    // 2. a thread that exists (and used the SDK) before init
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = ready_tx.send(sdk_core::capture_message("before init", Level::Info));
        let _ = go_rx.recv();
        sdk_core::configure_scope(|s| s.set_tag("thread", "worker"));
        let id = sdk_core::capture_message("from an old thread", Level::Warning);
        let _ = done_tx.send(id);
    });

    let before = ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("worker started");
    assert!(before.is_nil());

    let transport = Arc::new(Recording::default());
    let shared: Arc<dyn Transport> = transport.clone();
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn("https://public@o1.ingest.example.com/1")
            .release("global-test@1.0")
            .transport(shared),
    );
    assert!(guard.is_enabled());
    let _ = go_tx.send(());
    let id = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("worker reported");
    worker.join().expect("worker ran");
    assert!(
        !id.is_nil(),
        "init() reached a thread that existed before it"
    );
    let sent = transport.envelopes.lock().map(|e| e.len()).unwrap_or(0);
    assert_eq!(sent, 1);

    // 2b. a thread spawned now starts from a fork of this (the process) hub's scope
    sdk_core::configure_scope(|s| s.set_tag("inherited", "from-main"));
    std::thread::spawn(|| {
        sdk_core::configure_scope(|s| s.set_tag("spawned-only", "yes"));
        sdk_core::capture_message("from a new thread", Level::Info);
    })
    .join()
    .expect("thread ran");
    sdk_core::capture_message("from the main thread", Level::Info);
    let tags: Vec<(Option<String>, Option<String>)> = transport
        .envelopes
        .lock()
        .map(|e| {
            e[1..]
                .iter()
                .map(|env| {
                    let bytes = env.items[0].payload.to_vec().unwrap_or_default();
                    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                    let tag = |k: &str| v["tags"][k].as_str().map(str::to_owned);
                    (tag("inherited"), tag("spawned-only"))
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        tags,
        vec![
            (Some("from-main".into()), Some("yes".into())),
            (Some("from-main".into()), None)
        ],
        "the new thread inherits the scope; its own changes stay on its thread"
    );

    // 3. dropping the guard shuts the transport down and disables the SDK
    drop(guard);
    assert_eq!(transport.shutdowns.load(Ordering::SeqCst), 1);
    assert!(sdk_core::capture_message("after shutdown", Level::Info).is_nil());
    let sent = transport.envelopes.lock().map(|e| e.len()).unwrap_or(0);
    assert_eq!(sent, 3);
}
