//! gzip compression of request bodies.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Whether a body of `len` bytes should be compressed with `threshold` (0 = never compress).
pub fn should_compress(len: usize, threshold: usize) -> bool {
    threshold > 0 && len >= threshold
}

/// Compresses `body` with gzip at `level` (0-9) into `out`, replacing its contents and reusing
/// its allocation.
pub fn compress_into(body: &[u8], level: u32, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut buffer = std::mem::take(out);
    buffer.clear();
    let mut encoder = GzEncoder::new(buffer, Compression::new(level.min(9)));
    encoder.write_all(body)?;
    *out = encoder.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn decompresses_to_the_original() {
        let body: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes())
            .collect();
        let mut out = vec![1, 2, 3];
        compress_into(&body, 1, &mut out).unwrap();
        assert!(out.len() < body.len() / 2, "gzip should shrink JSON");
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
    }

    #[test]
    fn threshold_decides() {
        assert!(!should_compress(100, 0));
        assert!(!should_compress(100, 101));
        assert!(should_compress(101, 101));
    }
}
