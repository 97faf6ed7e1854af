//! Feeds arbitrary bytes to the envelope parser: it must return `Ok` or `Err`, never panic, and
//! whatever it accepts must write and parse again to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_transport::parse_envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = parse_envelope(data) {
        let written = envelope.to_vec().expect("parsed payloads always write");
        let again = parse_envelope(&written).expect("written envelopes parse");
        assert_eq!(again.items.len(), envelope.items.len());
        assert_eq!(
            again.to_vec().expect("parsed payloads always write"),
            written
        );
    }
});
