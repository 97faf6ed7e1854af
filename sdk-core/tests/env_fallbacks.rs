//! `SENTRY_DSN`, `SENTRY_RELEASE` and `SENTRY_ENVIRONMENT` fill the options the code left
//! unset, and arrive on the wire. One test function: the environment is process-wide.
#![cfg(feature = "ureq")]

use std::time::Duration;

use sdk_core::transport::MockServer;
use sdk_core::{ClientOptions, Level};

const VARS: [&str; 3] = ["SENTRY_DSN", "SENTRY_RELEASE", "SENTRY_ENVIRONMENT"];

#[test]
fn env_vars_fill_what_the_code_left_unset() {
    let server = MockServer::start();
    std::env::set_var("SENTRY_DSN", server.dsn());
    std::env::set_var("SENTRY_RELEASE", " env-app@1.2.3 ");
    std::env::set_var("SENTRY_ENVIRONMENT", "staging");

    // 1. nothing in code: the variables (trimmed) are used, and the event goes to SENTRY_DSN
    let guard = sdk_core::init(ClientOptions::new());
    assert!(guard.is_enabled(), "SENTRY_DSN enables the client");
    let options = guard.client().expect("a client").options().clone();
    assert_eq!(options.dsn.as_deref(), Some(server.dsn().as_str()));
    assert_eq!(options.release.as_deref(), Some("env-app@1.2.3"));
    assert_eq!(options.environment.as_deref(), Some("staging"));
    sdk_core::capture_message("configured from the environment", Level::Info);
    drop(guard);
    assert!(server.wait_for(1, Duration::from_secs(10)));
    let events = server.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["release"], "env-app@1.2.3");
    assert_eq!(events[0]["environment"], "staging");

    // 2. the code wins over the variables
    let guard = sdk_core::init(
        ClientOptions::new()
            .dsn("http://code@127.0.0.1:9/2")
            .release("code-app@2")
            .environment("qa"),
    );
    let options = guard.client().expect("a client").options().clone();
    assert_eq!(options.dsn.as_deref(), Some("http://code@127.0.0.1:9/2"));
    assert_eq!(options.release.as_deref(), Some("code-app@2"));
    assert_eq!(options.environment.as_deref(), Some("qa"));
    drop(guard);

    // 3. blank variables count as unset: no DSN (disabled), environment "production"
    for name in VARS {
        std::env::set_var(name, "  ");
    }
    let guard = sdk_core::init(ClientOptions::new());
    assert!(
        !guard.is_enabled(),
        "a blank SENTRY_DSN leaves the SDK disabled"
    );
    drop(guard);
    let mut options = ClientOptions::new();
    options.apply_env();
    assert_eq!(options.dsn, None);
    assert_eq!(options.release, None);
    assert_eq!(options.environment.as_deref(), Some("production"));

    for name in VARS {
        std::env::remove_var(name);
    }
}
