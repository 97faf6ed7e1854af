//! Integrations for the SDK, one module per integration behind its feature. None yet.
#![forbid(unsafe_code)]
