//! Property tests: no input makes the envelope or DSN parser panic, and envelopes survive a
//! write/parse round trip. Kept small enough to run in CI in well under two seconds each.

use proptest::prelude::*;
use sdk_transport::{parse_envelope, Dsn, Envelope, EnvelopeItem, ItemType, Payload};

const TYPES: &[&str] = &[
    "event",
    "transaction",
    "attachment",
    "session",
    "client_report",
    "check_in",
    "log",
    "something_new",
];

fn item_strategy() -> impl Strategy<Value = EnvelopeItem> {
    (
        prop::sample::select(TYPES),
        prop::collection::vec(any::<u8>(), 0..200),
        prop::option::of("[a-z./ +-]{1,20}"),
        prop::option::of("[ -~]{0,20}"),
        prop::option::of(0u32..1000),
        prop::option::of(("[a-z_]{1,10}", any::<i64>())),
    )
        .prop_map(|(ty, payload, content_type, filename, count, other)| {
            let mut item = EnvelopeItem::new(ItemType::from_name(ty), Payload::bytes(payload));
            item.content_type = content_type.map(Into::into);
            item.filename = filename;
            item.item_count = count;
            if let Some((key, value)) = other {
                // Keys the writer owns are not "other" headers.
                if !["type", "length", "content_type", "filename", "item_count"]
                    .contains(&key.as_str())
                {
                    item.other_headers.insert(key, value.into());
                }
            }
            item
        })
}

fn envelope_strategy() -> impl Strategy<Value = Envelope> {
    (
        prop::option::of(any::<u128>()),
        prop::option::of("[ -~]{0,30}"),
        prop::option::of(0u64..4_000_000_000_000),
        prop::collection::vec(item_strategy(), 0..6),
    )
        .prop_map(|(id, dsn, sent_at_ms, items)| {
            let mut envelope = Envelope::new();
            envelope.headers.event_id = id.map(uuid::Uuid::from_u128);
            envelope.headers.dsn = dsn;
            envelope.headers.sent_at =
                sent_at_ms.map(|ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms));
            envelope.items = items;
            envelope
        })
}

/// A valid envelope with some bytes changed, inserted or removed: closer to real corruption
/// than uniform noise, so the parser's deeper branches are reached.
fn mutated_envelope() -> impl Strategy<Value = Vec<u8>> {
    (
        envelope_strategy(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    )
        .prop_map(|(envelope, edits)| {
            let mut bytes = envelope.to_vec().expect("byte payloads always write");
            for (at, byte, kind) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_envelope_parser(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_envelope(&bytes);
    }

    #[test]
    fn corrupted_envelopes_never_panic_the_parser(bytes in mutated_envelope()) {
        if let Ok(envelope) = parse_envelope(&bytes) {
            // Whatever parses can be written again and parses the same way.
            let again = envelope.to_vec().expect("parsed payloads always write");
            let reparsed = parse_envelope(&again).expect("written envelopes parse");
            prop_assert_eq!(reparsed.items.len(), envelope.items.len());
        }
    }

    #[test]
    fn random_strings_never_panic_the_dsn_parser(s in any::<String>()) {
        let _ = s.parse::<Dsn>();
    }

    #[test]
    fn dsn_like_strings_never_panic_and_valid_ones_round_trip(
        s in "(https?|ftp|)(://)?([a-z0-9]{0,4}(:[a-z]{0,3})?@)?(\\[[0-9:]{0,6}\\]|[a-z0-9.]{0,8})(:[0-9]{0,6})?(/[a-z0-9]{0,3}){0,3}/?"
    ) {
        if let Ok(dsn) = s.parse::<Dsn>() {
            let again: Dsn = dsn.to_string().parse().expect("a displayed DSN parses");
            prop_assert_eq!(again, dsn);
        }
    }

    #[test]
    fn envelopes_round_trip(envelope in envelope_strategy()) {
        let bytes = envelope.to_vec().expect("byte payloads always write");
        let parsed = parse_envelope(&bytes).expect("what the writer writes parses");
        prop_assert_eq!(parsed.headers.event_id, envelope.headers.event_id);
        prop_assert_eq!(&parsed.headers.dsn, &envelope.headers.dsn);
        prop_assert_eq!(parsed.headers.sent_at, envelope.headers.sent_at);
        prop_assert_eq!(parsed.items.len(), envelope.items.len());
        for (got, sent) in parsed.items.iter().zip(&envelope.items) {
            prop_assert_eq!(&got.item_type, &sent.item_type);
            prop_assert_eq!(got.payload.as_bytes(), sent.payload.as_bytes());
            prop_assert_eq!(&got.content_type, &sent.content_type);
            prop_assert_eq!(&got.filename, &sent.filename);
            prop_assert_eq!(got.item_count, sent.item_count);
            prop_assert_eq!(&got.other_headers, &sent.other_headers);
        }
        prop_assert_eq!(parsed.to_vec().expect("parsed payloads always write"), bytes);
    }

    #[test]
    fn newline_delimited_items_parse(payloads in prop::collection::vec("[^\n]{0,40}", 0..6), final_newline in any::<bool>()) {
        let mut bytes = b"{}".to_vec();
        for payload in &payloads {
            bytes.extend_from_slice(b"\n{\"type\":\"session\"}\n");
            bytes.extend_from_slice(payload.as_bytes());
        }
        if final_newline {
            bytes.push(b'\n');
        }
        let parsed = parse_envelope(&bytes).expect("newline-delimited items parse");
        prop_assert_eq!(parsed.items.len(), payloads.len());
        for (item, payload) in parsed.items.iter().zip(&payloads) {
            prop_assert_eq!(item.payload.as_bytes(), Some(payload.as_bytes()));
        }
    }
}
