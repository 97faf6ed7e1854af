//! A `tracing-subscriber` layer for the SDK.
#![forbid(unsafe_code)]
