//! End-to-end: the core SDK through the real ureq transport to the mock server.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sdk_core::transport::MockServer;
use sdk_core::{Breadcrumb, Client, ClientOptions, Hub, Level, User};

#[derive(Debug)]
struct ConnectionError;
impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by peer (os error 104)")
    }
}
impl std::error::Error for ConnectionError {}

#[derive(Debug)]
struct QueryError(ConnectionError);
impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("query on table `items` failed")
    }
}
impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn hub_for(server: &MockServer, options: ClientOptions) -> (Arc<Hub>, Arc<Client>) {
    let client = Arc::new(Client::new(options.dsn(server.dsn())));
    assert!(client.is_enabled(), "the ureq transport is available");
    (Arc::new(Hub::with_client(client.clone())), client)
}

#[test]
fn fields_the_user_set_arrive() {
    let server = MockServer::start();
    let (hub, client) = hub_for(
        &server,
        ClientOptions::new()
            .release("e2e@1.2.3")
            .environment("e2e")
            .attach_stacktrace(true),
    );
    Hub::run(hub, || {
        sdk_core::configure_scope(|s| {
            s.set_tag("tenant", "acme");
            s.set_user(Some(User {
                id: Some("42".into()),
                email: Some("user@example.com".into()),
                ..Default::default()
            }));
            s.set_extra("attempt", serde_json::json!(3));
        });
        sdk_core::add_breadcrumb(
            Breadcrumb::new("user clicked checkout")
                .with_category("ui.click")
                .with_data("path", "/api/items"),
        );
        sdk_core::with_scope(
            |s| s.set_fingerprint(Some(&["{{ default }}", "db"])),
            || sdk_core::capture_error(&QueryError(ConnectionError)),
        );
        sdk_core::capture_message("checkout done", Level::Info);
    });
    assert!(client.flush(Some(Duration::from_secs(5))));
    assert!(server.wait_for_items("event", 2, Duration::from_secs(5)));
    let events = server.events();
    let error = events
        .iter()
        .find(|e| e.get("exception").is_some())
        .expect("the error event");
    let message = events
        .iter()
        .find(|e| e["message"] == "checkout done")
        .expect("the message event");
    for event in [error, message] {
        assert_eq!(event["release"], "e2e@1.2.3");
        assert_eq!(event["environment"], "e2e");
        assert_eq!(event["platform"], "native");
        assert_eq!(event["tags"]["tenant"], "acme");
        assert_eq!(event["user"]["id"], "42");
        assert_eq!(event["user"]["email"], "user@example.com");
        assert_eq!(event["extra"]["attempt"], 3);
        assert_eq!(
            event["breadcrumbs"]["values"][0]["message"],
            "user clicked checkout"
        );
        assert!(event["contexts"]["os"]["name"].is_string());
        assert!(event["contexts"]["rust"]["version"].is_string());
        assert!(event["contexts"]["trace"]["trace_id"].is_string());
        assert!(event["sdk"]["integrations"]
            .as_array()
            .is_some_and(|i| i.iter().any(|n| n == "panic")));
    }
    assert_eq!(message["level"], "info");
    assert!(message.get("fingerprint").is_none());
    assert_eq!(
        error["fingerprint"],
        serde_json::json!(["{{ default }}", "db"])
    );
    let values = error["exception"]["values"].as_array().expect("values");
    assert_eq!(values.len(), 2);
    assert_eq!(values[0]["type"], "ConnectionError");
    assert_eq!(
        values[0]["value"],
        "connection reset by peer (os error 104)"
    );
    assert_eq!(values[1]["type"], "QueryError");
    let frames = error["threads"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .expect("a resolved stack trace");
    assert!(!frames.is_empty());
    assert_own_frames_in_app(frames);
    client.close(Some(Duration::from_secs(2)));
}

/// This test crate is the application here: its frames must be in-app (a test crate named
/// `core` would have looked like the standard library's `core` and been marked not in-app).
fn assert_own_frames_in_app(frames: &[serde_json::Value]) {
    let own: Vec<&serde_json::Value> = frames
        .iter()
        .filter(|f| {
            f["function"]
                .as_str()
                .is_some_and(|name| name.starts_with("errors_and_scopes::"))
        })
        .collect();
    assert!(!own.is_empty(), "the test's own frames are in the trace");
    for frame in own {
        assert_eq!(frame["in_app"], true, "not in-app: {frame}");
    }
}

#[test]
fn sampled_out_and_before_send_drops_never_reach_the_server() {
    let server = MockServer::start();
    let (hub, client) = hub_for(
        &server,
        ClientOptions::new().before_send(|e| {
            if e.message.as_deref() == Some("secret") {
                None
            } else {
                Some(e)
            }
        }),
    );
    hub.capture_message("secret", Level::Info);
    hub.capture_message("public", Level::Info);
    assert!(client.close(Some(Duration::from_secs(5))));
    let events = server.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"], "public");
    assert_eq!(server.discarded("before_send", "error"), 1);
}

#[test]
fn init_guard_flushes_on_drop_and_panics_arrive_unhandled() {
    let server = MockServer::start();
    // a tokio runtime whose worker threads exist (and touched the SDK) before init()
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let (ready, is_ready) = std::sync::mpsc::channel();
    let early_task = runtime.spawn(async move {
        let _ = ready.send(sdk_core::capture_message("before init", Level::Info));
        let _ = wait.await;
        sdk_core::capture_message("from a runtime started before init", Level::Info)
    });
    let before = is_ready
        .recv_timeout(Duration::from_secs(10))
        .expect("the task started");
    assert!(before.is_nil(), "nothing is sent before init");
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn(server.dsn())
            .release("e2e-panic@1.0")
            .shutdown_timeout(Duration::from_secs(5)),
    );
    assert!(guard.is_enabled());
    let handle = std::thread::Builder::new()
        .name("doomed".into())
        .spawn(|| {
            let answers: Vec<u32> = std::hint::black_box(Vec::new());
            answers
                .first()
                .copied()
                .expect("the answer should have been computed")
        })
        .expect("spawned");
    assert!(handle.join().is_err(), "the thread panicked");
    let _ = go.send(());
    let after = runtime.block_on(early_task).expect("the task ran");
    assert!(
        !after.is_nil(),
        "init() reached a runtime that existed before it"
    );
    for i in 0..20 {
        sdk_core::capture_message(&format!("queued {i}"), Level::Info);
    }
    drop(guard); // flushes within shutdown_timeout
    let events = server.events();
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "from a runtime started before init"),
        "the runtime's event arrived"
    );
    assert_eq!(
        events.len(),
        22,
        "everything queued before the drop arrived"
    );
    let panic = events
        .iter()
        .find(|e| e["level"] == "fatal")
        .expect("the panic event");
    let exc = &panic["exception"]["values"][0];
    assert_eq!(exc["type"], "panic");
    assert_eq!(exc["mechanism"]["type"], "panic");
    assert_eq!(exc["mechanism"]["handled"], false);
    let frames = exc["stacktrace"]["frames"]
        .as_array()
        .expect("the panic's stack trace");
    assert_own_frames_in_app(frames);
    assert!(exc["value"]
        .as_str()
        .is_some_and(|v| v.contains("the answer should have been computed")));
    assert_eq!(panic["release"], "e2e-panic@1.0");
}

#[test]
fn each_tokio_task_keeps_its_own_scope_across_await_and_spawn() {
    use sdk_core::SentryFutureExt;

    let server = MockServer::start();
    let (hub, client) = hub_for(&server, ClientOptions::new());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    hub.configure_scope(|s| s.set_tag("app", "shared"));
    runtime.block_on(
        async {
            let mut tasks = Vec::new();
            for request in 0..8 {
                let task = async move {
                    sdk_core::configure_scope(|s| s.set_tag("request", request));
                    // move between worker threads and interleave with the other tasks
                    for _ in 0..3 {
                        tokio::task::yield_now().await;
                    }
                    sdk_core::capture_message(&format!("request {request}"), Level::Info);
                };
                tasks.push(tokio::spawn(task.in_current_scope()));
            }
            for task in tasks {
                task.await.expect("the task ran");
            }
        }
        .bind_hub(hub.clone()),
    );
    assert!(client.flush(Some(Duration::from_secs(5))));
    assert!(server.wait_for_items("event", 8, Duration::from_secs(5)));
    let events = server.events();
    assert_eq!(events.len(), 8);
    for event in &events {
        let message = event["message"].as_str().expect("a message");
        let request = message.trim_start_matches("request ");
        assert_eq!(event["tags"]["request"], request, "{message}");
        assert_eq!(event["tags"]["app"], "shared");
    }
    assert_eq!(hub.scope_snapshot().tag("request"), None);
    client.close(Some(Duration::from_secs(2)));
}
