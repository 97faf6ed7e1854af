//! Turning Rust errors and panics into exception values (PROTOCOL.md §4.7).
//!
//! An error's whole `source()` chain becomes one exception value per error, innermost cause
//! first and the error that was captured last, linked through `mechanism.exception_id` /
//! `parent_id` so Sentry shows them as one chain.
//!
//! ```
//! use std::fmt;
//! use sdk_core::error_chain::exceptions_from_error;
//!
//! #[derive(Debug)]
//! struct ConfigError { source: std::num::ParseIntError }
//! impl fmt::Display for ConfigError {
//!     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
//!         f.write_str("port is not a number")
//!     }
//! }
//! impl std::error::Error for ConfigError {
//!     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.source) }
//! }
//!
//! let err = ConfigError { source: "80x".parse::<u16>().unwrap_err() };
//! let values = exceptions_from_error(&err);
//! assert_eq!(values[0].ty, "ParseIntError"); // the root cause first
//! assert_eq!(values[1].ty, "ConfigError");   // the captured error last
//! assert_eq!(values[1].value.as_deref(), Some("port is not a number"));
//! ```

use std::any::Any;
use std::error::Error;
use std::fmt::{self, Write as _};
use std::panic::Location;

use crate::protocol::{Exception, Mechanism};

/// The most errors of one chain that are turned into exception values (guards against
/// pathological or cyclic `source()` implementations).
pub const MAX_CHAIN_LEN: usize = 32;

/// The mechanism type of errors captured by the application.
pub const GENERIC_MECHANISM: &str = "generic";

/// The mechanism type (and exception type) of panics.
pub const PANIC_MECHANISM: &str = "panic";

/// The error's chain as exception values, innermost cause first, each with a
/// `mechanism` of type `generic` linking it to the error that wraps it.
pub fn exceptions_from_error(err: &(dyn Error + 'static)) -> Vec<Exception> {
    exceptions_from_error_with(err, GENERIC_MECHANISM)
}

/// Like [`exceptions_from_error`] with a chosen mechanism type (e.g. an integration's name).
pub fn exceptions_from_error_with(
    err: &(dyn Error + 'static),
    mechanism_type: &str,
) -> Vec<Exception> {
    let mut chain: Vec<&(dyn Error + 'static)> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        if chain.len() >= MAX_CHAIN_LEN {
            break;
        }
        chain.push(e);
        next = e.source();
    }
    // `chain` is outermost first; number from the outermost (id 0) inwards.
    let mut values: Vec<Exception> = chain
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let id = i as u32;
            Exception {
                ty: error_type_name(*e),
                value: Some(display_lossy(*e)),
                mechanism: Some(Mechanism {
                    exception_id: Some(id),
                    parent_id: id.checked_sub(1),
                    source: (i > 0).then(|| "source".to_owned()),
                    ..Mechanism::new(mechanism_type)
                }),
                ..Exception::default()
            }
        })
        .collect();
    values.reverse();
    values
}

/// A readable type name for an error: the leading type name of its `Debug` output (e.g.
/// `QueryError` for `QueryError { table: "items" }`), `std::io::Error` for I/O errors, and
/// `Error` when the `Debug` output does not start with a name (e.g. a quoted string).
pub fn error_type_name(err: &(dyn Error + 'static)) -> String {
    if err.is::<std::io::Error>() {
        return "std::io::Error".to_owned();
    }
    if err.is::<fmt::Error>() {
        return "std::fmt::Error".to_owned();
    }
    let mut prefix = BoundedString::default();
    // Stops with an error once enough was written; the prefix is all we need.
    let _ = write!(prefix, "{err:?}");
    type_name_from_debug(&prefix.buf).unwrap_or_else(|| "Error".to_owned())
}

/// The `Display` text of an error. A `Display` that returns `Err` (a bug in the user's type)
/// keeps what it wrote so far instead of panicking like `to_string()` would.
pub fn display_lossy(err: &(dyn Error + 'static)) -> String {
    let mut out = String::new();
    let _ = write!(out, "{err}");
    out
}

/// The leading path-like identifier of a `Debug` string, if it starts with one.
fn type_name_from_debug(debug: &str) -> Option<String> {
    let end = debug
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == ':'))
        .map(|(i, _)| i)
        .unwrap_or(debug.len());
    let name = debug[..end].trim_end_matches(':');
    let first = name.chars().next()?;
    if first.is_alphabetic() || first == '_' {
        Some(name.to_owned())
    } else {
        None
    }
}

/// A `fmt::Write` sink that keeps the first 128 bytes and then stops the formatter.
#[derive(Default)]
struct BoundedString {
    buf: String,
}

impl fmt::Write for BoundedString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const LIMIT: usize = 128;
        let room = LIMIT.saturating_sub(self.buf.len());
        if s.len() <= room {
            self.buf.push_str(s);
            return Ok(());
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.buf.push_str(&s[..cut]);
        Err(fmt::Error)
    }
}

/// The exception value of a panic: type `panic`, the panic message as value, and a mechanism
/// `{type: "panic", handled: false}`. The location (file, line, column) goes into
/// `mechanism.data` so that it does not split grouping when code moves.
///
/// ```
/// use sdk_core::error_chain::exception_from_panic;
/// let exc = exception_from_panic("index out of bounds", None);
/// assert_eq!(exc.ty, "panic");
/// assert_eq!(exc.mechanism.unwrap().handled, Some(false));
/// ```
pub fn exception_from_panic(message: &str, location: Option<&Location<'_>>) -> Exception {
    let mut mechanism = Mechanism {
        handled: Some(false),
        ..Mechanism::new(PANIC_MECHANISM)
    };
    if let Some(loc) = location {
        mechanism
            .data
            .insert("file".to_owned(), loc.file().to_owned().into());
        mechanism.data.insert("line".to_owned(), loc.line().into());
        mechanism
            .data
            .insert("column".to_owned(), loc.column().into());
    }
    Exception {
        ty: PANIC_MECHANISM.to_owned(),
        value: Some(message.to_owned()),
        mechanism: Some(mechanism),
        ..Exception::default()
    }
}

/// The message of a panic payload: the `&str` or `String` passed to `panic!`, or
/// `Box<dyn Any>` for other payloads (as the standard library prints it).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct ConnectionError(std::io::Error);

    impl fmt::Display for ConnectionError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "connection failed: {}", self.0)
        }
    }
    impl Error for ConnectionError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[derive(Debug)]
    struct QueryError {
        table: &'static str,
        source: ConnectionError,
    }

    impl fmt::Display for QueryError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "query on table `{}` failed", self.table)
        }
    }
    impl Error for QueryError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.source)
        }
    }

    #[derive(Debug)]
    enum RequestError {
        Query(QueryError),
    }

    impl fmt::Display for RequestError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("handling request GET /api/items failed")
        }
    }
    impl Error for RequestError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            match self {
                RequestError::Query(q) => Some(q),
            }
        }
    }

    fn three_levels() -> RequestError {
        RequestError::Query(QueryError {
            table: "items",
            source: ConnectionError(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            )),
        })
    }

    #[test]
    fn chain_is_innermost_first_and_linked() {
        let err = three_levels();
        let values = exceptions_from_error(&err);
        let types: Vec<&str> = values.iter().map(|e| e.ty.as_str()).collect();
        // The enum's Debug starts with its variant name.
        assert_eq!(
            types,
            ["std::io::Error", "ConnectionError", "QueryError", "Query"]
        );
        assert_eq!(values[0].value.as_deref(), Some("connection reset by peer"));
        assert_eq!(
            values[2].value.as_deref(),
            Some("query on table `items` failed")
        );
        assert_eq!(
            values[3].value.as_deref(),
            Some("handling request GET /api/items failed")
        );
        let ids: Vec<(Option<u32>, Option<u32>)> = values
            .iter()
            .map(|e| {
                let m = e.mechanism.as_ref().expect("mechanism");
                assert_eq!(m.ty, "generic");
                (m.exception_id, m.parent_id)
            })
            .collect();
        // The captured (outermost) error is last with id 0; each cause points at its wrapper.
        assert_eq!(
            ids,
            [
                (Some(3), Some(2)),
                (Some(2), Some(1)),
                (Some(1), Some(0)),
                (Some(0), None)
            ]
        );
        assert_eq!(
            values[3].mechanism.as_ref().and_then(|m| m.source.clone()),
            None
        );
    }

    #[test]
    fn mechanism_type_can_be_chosen() {
        let values = exceptions_from_error_with(&three_levels(), "anyhow");
        assert!(values
            .iter()
            .all(|e| e.mechanism.as_ref().map(|m| m.ty.as_str()) == Some("anyhow")));
    }

    #[test]
    fn type_names_fall_back_to_error() {
        let boxed: Box<dyn Error + Send + Sync> = "plain message".into();
        assert_eq!(error_type_name(boxed.as_ref()), "Error");
        let parse = "x".parse::<i32>().unwrap_err();
        assert_eq!(error_type_name(&parse), "ParseIntError");
        assert_eq!(
            type_name_from_debug("my_app::Error { x: 1 }").as_deref(),
            Some("my_app::Error")
        );
        assert_eq!(type_name_from_debug("(1, 2)"), None);
        assert_eq!(type_name_from_debug(""), None);
    }

    #[test]
    fn huge_debug_output_is_not_formatted_in_full() {
        #[derive(Debug)]
        struct Big {
            _data: Vec<u8>,
        }
        impl fmt::Display for Big {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("big")
            }
        }
        impl Error for Big {}
        let big = Big {
            _data: vec![7; 100_000],
        };
        assert_eq!(error_type_name(&big), "Big");
    }

    #[test]
    fn panics_are_unhandled_with_their_location() {
        let loc = Location::caller();
        let exc = exception_from_panic("called `Option::unwrap()` on a `None` value", Some(loc));
        assert_eq!(exc.ty, "panic");
        assert_eq!(
            exc.value.as_deref(),
            Some("called `Option::unwrap()` on a `None` value")
        );
        let m = exc.mechanism.expect("mechanism");
        assert_eq!(m.ty, "panic");
        assert_eq!(m.handled, Some(false));
        assert_eq!(m.data["file"], loc.file());
        assert_eq!(m.data["line"], loc.line());
    }

    #[test]
    fn panic_payload_messages() {
        let s: Box<dyn Any + Send> = Box::new("static str");
        assert_eq!(panic_message(s.as_ref()), "static str");
        let owned: Box<dyn Any + Send> = Box::new(String::from("owned"));
        assert_eq!(panic_message(owned.as_ref()), "owned");
        let other: Box<dyn Any + Send> = Box::new(42u8);
        assert_eq!(panic_message(other.as_ref()), "Box<dyn Any>");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug)]
    struct Weird(String);

    impl fmt::Display for Weird {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl Error for Weird {}

    proptest! {
        #[test]
        fn any_debug_output_gives_a_type_name(s in "\\PC{0,300}") {
            let name = type_name_from_debug(&s);
            if let Some(n) = &name {
                prop_assert!(!n.is_empty() && s.starts_with(n.as_str()));
            }
            let err = Weird(s);
            // Debug of a tuple struct always starts with its name.
            prop_assert_eq!(error_type_name(&err), "Weird");
            prop_assert_eq!(exceptions_from_error(&err).len(), 1);
        }
    }

    #[test]
    fn a_display_that_fails_does_not_panic_the_capture() {
        #[derive(Debug)]
        struct Broken;
        impl std::fmt::Display for Broken {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("partial")?;
                Err(std::fmt::Error)
            }
        }
        impl std::error::Error for Broken {}
        let values = exceptions_from_error(&Broken);
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].value.as_deref(), Some("partial"));
        assert_eq!(values[0].ty, "Broken");
    }
}
