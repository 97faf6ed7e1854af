//! Feeds arbitrary strings to the DSN parser: it must never panic, and a DSN it accepts must
//! survive `Display` -> `FromStr`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdk_transport::Dsn;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(dsn) = text.parse::<Dsn>() {
            let again: Dsn = dsn.to_string().parse().expect("a displayed DSN parses");
            assert_eq!(again, dsn);
        }
    }
});
