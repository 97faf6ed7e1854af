//! Feeds arbitrary bytes to the envelope parser: it must return `Ok` or `Err`, never panic, and
//! whatever it accepts must write and parse again with the same items and payloads.
//!
//! Header bytes are not compared: serde_json (without its `float_roundtrip` feature) may change
//! the last digit of a float in an unknown header when it is parsed again; payloads are bytes
//! and must be identical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_transport::parse_envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = parse_envelope(data) {
        let written = envelope.to_vec().expect("parsed payloads always write");
        let again = parse_envelope(&written).expect("written envelopes parse");
        assert_eq!(again.items.len(), envelope.items.len());
        assert_eq!(again.headers.event_id, envelope.headers.event_id);
        assert_eq!(again.headers.sent_at, envelope.headers.sent_at);
        for (a, b) in again.items.iter().zip(&envelope.items) {
            assert_eq!(a.item_type, b.item_type);
            assert_eq!(a.payload.as_bytes(), b.payload.as_bytes());
            assert_eq!(a.filename, b.filename);
        }
    }
});
