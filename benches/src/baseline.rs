//! Workload 9, `serialize_baseline`: physical-limit references for serialising and compressing
//! the workload-2 event (as `sentry` 0.49.5 builds it).

use std::hint::black_box;
use std::io::Write;

use flate2::{Compress, Compression, Crc, FlushCompress};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::harness::{emit, measure, Opts, Sdk};

const SDK: Sdk = Sdk::Sentry;

#[derive(Serialize, Deserialize, Debug)]
struct PlainEvent {
    event_id: String,
    level: String,
    message: String,
    platform: String,
    timestamp: f64,
    server_name: String,
    release: String,
    environment: String,
    contexts: Contexts,
    debug_meta: DebugMeta,
    sdk: SdkInfo,
}

#[derive(Serialize, Deserialize, Debug)]
struct Contexts {
    device: Device,
    os: Os,
    rust: Rust,
    trace: Trace,
}

#[derive(Serialize, Deserialize, Debug)]
struct Device {
    #[serde(rename = "type")]
    ty: String,
    arch: String,
}

#[derive(Serialize, Deserialize, Debug)]
struct Os {
    #[serde(rename = "type")]
    ty: String,
    name: String,
    version: String,
    kernel_version: String,
}

#[derive(Serialize, Deserialize, Debug)]
struct Rust {
    #[serde(rename = "type")]
    ty: String,
    name: String,
    version: String,
    channel: String,
}

#[derive(Serialize, Deserialize, Debug)]
struct Trace {
    #[serde(rename = "type")]
    ty: String,
    span_id: String,
    trace_id: String,
}

#[derive(Serialize, Deserialize, Debug)]
struct DebugMeta {
    images: Vec<Image>,
}

#[derive(Serialize, Deserialize, Debug)]
struct Image {
    #[serde(rename = "type")]
    ty: String,
    name: String,
    arch: Option<String>,
    image_addr: String,
    image_size: u64,
    id: String,
    code_id: String,
}

#[derive(Serialize, Deserialize, Debug)]
struct SdkInfo {
    name: String,
    version: String,
    integrations: Vec<String>,
    packages: Vec<Package>,
}

#[derive(Serialize, Deserialize, Debug)]
struct Package {
    name: String,
    version: String,
}

/// Gzip by hand with a reused raw-deflate compressor: header, deflate, CRC32 + ISIZE trailer.
fn gzip_reused(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    c.reset();
    out.clear();
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    out.reserve(input.len() + 64);
    let mut consumed = 0usize;
    loop {
        let before_in = c.total_in();
        let status = c
            .compress_vec(&input[consumed..], out, FlushCompress::Finish)
            .map_err(|e| format!("deflate: {e}"))?;
        consumed += (c.total_in() - before_in) as usize;
        if status == flate2::Status::StreamEnd {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    let mut crc = Crc::new();
    crc.update(input);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(input.len() as u32).to_le_bytes());
    Ok(())
}

/// Runs the six reference workloads.
pub fn run(opts: &Opts) -> Result<(), String> {
    let envelope = crate::peer::workload2_envelope().ok_or("no workload-2 envelope kept")?;
    let event = envelope
        .items()
        .find_map(|i| match i {
            sentry::protocol::EnvelopeItem::Event(e) => Some(e.clone()),
            _ => None,
        })
        .ok_or("the kept envelope has no event")?;
    let value = serde_json::to_value(&event).map_err(|e| format!("to_value: {e}"))?;
    let json_bytes = serde_json::to_vec(&value).map_err(|e| format!("to_vec: {e}"))?;
    let plain: PlainEvent =
        serde_json::from_value(value.clone()).map_err(|e| format!("plain struct: {e}"))?;
    let plain_ok = serde_json::to_value(&plain).ok().as_ref() == Some(&value);
    let plain_len = serde_json::to_vec(&plain).map(|v| v.len()).unwrap_or(0);

    let m = measure(opts.n(100_000), opts.reps, || {
        black_box(serde_json::to_vec(black_box(&value)).ok());
    });
    emit(
        SDK,
        "serialize_baseline.json_value",
        &m,
        Ok(()),
        json!({ "bytes": json_bytes.len() }),
    );

    let m = measure(opts.n(100_000), opts.reps, || {
        black_box(serde_json::to_vec(black_box(&plain)).ok());
    });
    let check = if plain_ok && plain_len == json_bytes.len() {
        Ok(())
    } else {
        Err("plain struct does not hold the same fields".into())
    };
    emit(
        SDK,
        "serialize_baseline.json_struct",
        &m,
        check,
        json!({ "bytes": plain_len }),
    );

    let mut gz_len = 0;
    let m = measure(opts.n(2_000), opts.reps, || {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        if enc.write_all(black_box(&json_bytes)).is_ok() {
            if let Ok(out) = enc.finish() {
                gz_len = out.len();
                black_box(out);
            }
        }
    });
    emit(
        SDK,
        "serialize_baseline.gzip_default",
        &m,
        Ok(()),
        json!({ "bytes_in": json_bytes.len(), "bytes_out": gz_len }),
    );

    for (name, level) in [
        ("serialize_baseline.gzip_default_reused", 6),
        ("serialize_baseline.gzip_fast_reused", 1),
    ] {
        let mut c = Compress::new(Compression::new(level), false);
        let mut out = Vec::new();
        let mut failed = None;
        let m = measure(opts.n(20_000), opts.reps, || {
            if let Err(e) = gzip_reused(&mut c, black_box(&json_bytes), &mut out) {
                failed = Some(e);
            }
            black_box(&out);
        });
        // The hand-made gzip must decode to the input.
        let mut back = Vec::new();
        let decodes =
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&out[..]), &mut back)
                .is_ok()
                && back == json_bytes;
        let check = match failed {
            Some(e) => Err(e),
            None if !decodes => Err("hand-made gzip does not decode to the input".into()),
            None => Ok(()),
        };
        emit(
            SDK,
            name,
            &m,
            check,
            json!({ "bytes_in": json_bytes.len(), "bytes_out": out.len() }),
        );
    }

    let mut buf = Vec::new();
    let m = measure(opts.n(100_000), opts.reps, || {
        buf.clear();
        let _ = black_box(&envelope).to_writer(&mut buf);
        black_box(&buf);
    });
    emit(
        SDK,
        "serialize_baseline.sentry_envelope_to_writer",
        &m,
        Ok(()),
        json!({ "bytes": buf.len() }),
    );
    Ok(())
}
