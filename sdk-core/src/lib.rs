//! The SDK's core: what applications and libraries call.
#![forbid(unsafe_code)]

pub use sdk_transport as transport;
