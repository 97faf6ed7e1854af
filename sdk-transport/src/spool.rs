//! The offline spool: envelopes that could not be delivered wait on disk (PROTOCOL.md §13).
//!
//! One file per envelope, named so that names sort oldest first. A file is written to a
//! temporary name, fsynced, then renamed, so a crash leaves either the whole file or none. Its
//! first line is a small JSON header (format version, body length, CRC-32 of the body, and the
//! per-item quantities the wire format does not carry); the body is the envelope as it is sent,
//! without `sent_at`. A file that fails any check is deleted with a warning, never trusted.
//!
//! The spool is bounded by file count and bytes; when a new file would exceed a bound, the
//! oldest files are deleted and their items counted as `cache_overflow`.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::category::{DataCategory, DiscardReason};
use crate::client_report::ClientReports;
use crate::envelope::{Envelope, EnvelopeHeaders, EnvelopeItem, ItemType, Payload};
use crate::options::SpoolOptions;

const EXTENSION: &str = "envelope";
const TEMP_PREFIX: &str = ".tmp-";
const FORMAT_VERSION: u64 = 1;
/// Longest header line accepted when reading a file back.
const MAX_HEADER_LINE: u64 = 64 * 1024;

/// Why a spool operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SpoolError {
    /// The spool directory could not be created or read.
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file could not be written, read or deleted.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not a complete spool file (truncated, damaged or foreign).
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The envelope could not be serialised.
    Serialize(crate::envelope::PayloadError),
}

impl fmt::Display for SpoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpoolError::Dir { path, source } => write!(
                f,
                "cannot use the spool directory {}: {source}; check that it exists or can be created and is writable",
                path.display()
            ),
            SpoolError::Io { path, source } => {
                write!(f, "spool file {}: {source}", path.display())
            }
            SpoolError::Corrupt { path, reason } => write!(
                f,
                "spool file {} is corrupt ({reason}); it is skipped and deleted",
                path.display()
            ),
            SpoolError::Serialize(err) => write!(f, "cannot spool envelope: {err}"),
        }
    }
}

impl std::error::Error for SpoolError {}

/// A spool file known to the index.
#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    size: u64,
    counts: Vec<(DataCategory, u64)>,
}

#[derive(Debug, Default)]
struct Index {
    /// Oldest first.
    files: VecDeque<Entry>,
    bytes: u64,
    claimed: HashSet<PathBuf>,
}

/// An offline spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_envelopes: usize,
    max_bytes: u64,
    index: Mutex<Index>,
    sequence: AtomicU64,
}

/// The JSON header line of a spool file.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct FileHeader {
    v: u64,
    len: u64,
    crc: u32,
    /// Per item: `[quantity, span_count]`.
    items: Vec<(u32, u32)>,
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

fn item_counts(envelope: &Envelope) -> Vec<(DataCategory, u64)> {
    let reports = ClientReports::new();
    for item in &envelope.items {
        reports.record_item(DiscardReason::CacheOverflow, item);
    }
    reports
        .totals()
        .into_iter()
        .map(|count| (count.category, count.quantity))
        .collect()
}

impl Spool {
    /// Opens (creating it if needed) the spool directory, deletes temporary files a crash left
    /// behind, and indexes the spooled files. Files whose header cannot be read are deleted with
    /// a warning.
    pub fn open(options: &SpoolOptions) -> Result<Spool, SpoolError> {
        let dir = options.dir.clone();
        let dir_err = |source| SpoolError::Dir {
            path: dir.clone(),
            source,
        };
        fs::create_dir_all(&dir).map_err(dir_err)?;
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).map_err(dir_err)? {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) {
                crate::sdk_debug!("spool: removing unfinished file {}", path.display());
                let _ = fs::remove_file(&path);
            } else if path.extension().is_some_and(|ext| ext == EXTENSION) {
                names.push(path);
            }
        }
        names.sort();
        let mut index = Index::default();
        for path in names {
            match read_header(&path) {
                Ok((_header, size)) => {
                    // Counts are read from the body only if the file is ever evicted.
                    index.bytes += size;
                    index.files.push_back(Entry {
                        path,
                        size,
                        counts: Vec::new(),
                    });
                }
                Err(err) => {
                    crate::sdk_debug!("{err}");
                    let _ = fs::remove_file(&path);
                }
            }
        }
        Ok(Spool {
            dir,
            max_envelopes: options.max_envelopes.max(1),
            max_bytes: options.max_bytes,
            index: Mutex::new(index),
            sequence: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        // A panic while holding this lock cannot leave the index inconsistent enough to matter.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Envelopes on disk (those being re-sent included).
    pub fn len(&self) -> usize {
        self.lock().files.len()
    }

    /// Whether the spool holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Whether a file is waiting that is not being re-sent right now.
    pub fn has_unclaimed(&self) -> bool {
        let index = self.lock();
        index.files.len() > index.claimed.len()
    }

    /// Writes `envelope` to the spool crash-safely, then deletes the oldest files while a
    /// bound is exceeded, counting their items as `cache_overflow` in `reports`.
    pub fn store(&self, envelope: &Envelope, reports: &ClientReports) -> Result<(), SpoolError> {
        let mut body = Vec::with_capacity(envelope.size_hint());
        envelope
            .write_to(&mut body, None)
            .map_err(SpoolError::Serialize)?;
        let header = FileHeader {
            v: FORMAT_VERSION,
            len: body.len() as u64,
            crc: crc32(&body),
            items: envelope
                .items
                .iter()
                .map(|item| (item.quantity, item.span_count))
                .collect(),
        };
        let mut bytes = serde_json::to_vec(&header).map_err(|e| {
            SpoolError::Serialize(crate::envelope::PayloadError::new(e.to_string()))
        })?;
        bytes.push(b'\n');
        bytes.extend_from_slice(&body);

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let name = format!("{now:020}-{seq:010}-{}.{EXTENSION}", std::process::id());
        let path = self.dir.join(&name);
        let temp = self.dir.join(format!("{TEMP_PREFIX}{name}"));
        let io_err = |source| SpoolError::Io {
            path: path.clone(),
            source,
        };
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&temp, &path)
        };
        if let Err(err) = write() {
            let _ = fs::remove_file(&temp);
            return Err(io_err(err));
        }

        let mut index = self.lock();
        index.bytes += bytes.len() as u64;
        index.files.push_back(Entry {
            path: path.clone(),
            size: bytes.len() as u64,
            counts: item_counts(envelope),
        });
        while index.files.len() > self.max_envelopes
            || (index.bytes > self.max_bytes && index.files.len() > 1)
        {
            let Some(oldest) = index.files.pop_front() else {
                break;
            };
            index.bytes -= oldest.size;
            index.claimed.remove(&oldest.path);
            crate::sdk_debug!(
                "spool full: dropping the oldest envelope {}",
                oldest.path.display()
            );
            let _ = fs::remove_file(&oldest.path);
            if oldest.counts.is_empty() {
                // Indexed at start-up without reading the body: count what the header says.
                if let Ok(envelope) = read_file(&oldest.path) {
                    reports.record_envelope(DiscardReason::CacheOverflow, &envelope);
                } else {
                    reports.record(DiscardReason::CacheOverflow, DataCategory::Default, 1);
                }
            } else {
                for (category, quantity) in &oldest.counts {
                    reports.record(DiscardReason::CacheOverflow, *category, *quantity);
                }
            }
        }
        Ok(())
    }

    /// Claims the oldest file that nobody is re-sending, so that no two senders send it.
    pub fn claim_oldest(&self) -> Option<PathBuf> {
        let mut index = self.lock();
        let path = index
            .files
            .iter()
            .find(|entry| !index.claimed.contains(&entry.path))
            .map(|entry| entry.path.clone())?;
        index.claimed.insert(path.clone());
        Some(path)
    }

    /// Reads a claimed file back as an envelope. A corrupt file is deleted and forgotten.
    pub fn load(&self, path: &Path) -> Result<Envelope, SpoolError> {
        match read_file(path) {
            Ok(envelope) => Ok(envelope),
            Err(err) => {
                self.remove(path);
                Err(err)
            }
        }
    }

    /// Deletes a file (delivered, or refused by the server for good).
    pub fn remove(&self, path: &Path) {
        let mut index = self.lock();
        index.claimed.remove(path);
        if let Some(pos) = index.files.iter().position(|entry| entry.path == path) {
            if let Some(entry) = index.files.remove(pos) {
                index.bytes -= entry.size;
            }
        }
        drop(index);
        if let Err(err) = fs::remove_file(path) {
            if err.kind() != std::io::ErrorKind::NotFound {
                crate::sdk_debug!("spool: cannot delete {}: {err}", path.display());
            }
        }
    }

    /// Gives a claimed file back (it could not be sent now; it is tried again later).
    pub fn release(&self, path: &Path) {
        self.lock().claimed.remove(path);
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> SpoolError {
    SpoolError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads and checks the header line of a spool file; returns it with the file's size.
fn read_header(path: &Path) -> Result<(FileHeader, u64), SpoolError> {
    let io_err = |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    let mut line = Vec::new();
    BufReader::new(file)
        .take(MAX_HEADER_LINE)
        .read_until(b'\n', &mut line)
        .map_err(io_err)?;
    if line.last() != Some(&b'\n') {
        return Err(corrupt(path, "no complete header line"));
    }
    let header: FileHeader =
        serde_json::from_slice(&line).map_err(|e| corrupt(path, format!("bad header: {e}")))?;
    if header.v != FORMAT_VERSION {
        return Err(corrupt(
            path,
            format!("unknown format version {}", header.v),
        ));
    }
    if line.len() as u64 + header.len != size {
        return Err(corrupt(
            path,
            format!(
                "truncated: {} body bytes expected, {} present",
                header.len,
                size.saturating_sub(line.len() as u64)
            ),
        ));
    }
    Ok((header, size))
}

/// Reads a whole spool file back into an envelope, checking length and CRC.
pub fn read_file(path: &Path) -> Result<Envelope, SpoolError> {
    let bytes = fs::read(path).map_err(|source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| corrupt(path, "no header line"))?;
    let header: FileHeader = serde_json::from_slice(&bytes[..newline])
        .map_err(|e| corrupt(path, format!("bad header: {e}")))?;
    if header.v != FORMAT_VERSION {
        return Err(corrupt(
            path,
            format!("unknown format version {}", header.v),
        ));
    }
    let body = &bytes[newline + 1..];
    if body.len() as u64 != header.len {
        return Err(corrupt(
            path,
            format!(
                "truncated: {} body bytes expected, {} present",
                header.len,
                body.len()
            ),
        ));
    }
    if crc32(body) != header.crc {
        return Err(corrupt(path, "checksum mismatch"));
    }
    let mut envelope = parse_own_envelope(body).map_err(|reason| corrupt(path, reason))?;
    if envelope.items.len() != header.items.len() {
        return Err(corrupt(path, "item count does not match the header"));
    }
    for (item, (quantity, span_count)) in envelope.items.iter_mut().zip(header.items) {
        item.quantity = quantity;
        item.span_count = span_count;
    }
    Ok(envelope)
}

/// Splits off one line (without its `\n`); the rest follows it.
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(pos) => (&bytes[..pos], &bytes[pos + 1..]),
        None => (bytes, &[]),
    }
}

/// Parses an envelope this SDK wrote (every item has an explicit `length`).
fn parse_own_envelope(bytes: &[u8]) -> Result<Envelope, String> {
    let (header_line, mut rest) = split_line(bytes);
    let mut header: Map<String, Value> =
        serde_json::from_slice(header_line).map_err(|e| format!("bad envelope header: {e}"))?;
    let mut headers = EnvelopeHeaders::default();
    if let Some(Value::String(id)) = header.remove("event_id") {
        headers.event_id =
            Some(uuid::Uuid::parse_str(&id).map_err(|e| format!("bad event_id: {e}"))?);
    }
    if let Some(Value::String(dsn)) = header.remove("dsn") {
        headers.dsn = Some(dsn);
    }
    header.remove("sent_at");
    let raw_json = |value: Value| serde_json::to_vec(&value).map(Payload::bytes).ok();
    headers.sdk = header.remove("sdk").and_then(raw_json);
    headers.trace = header.remove("trace").and_then(raw_json);
    headers.other = header;

    let mut envelope = Envelope {
        headers,
        items: Vec::new(),
    };
    while !rest.is_empty() {
        let (line, after) = split_line(rest);
        if line.is_empty() {
            rest = after;
            continue;
        }
        let mut item: Map<String, Value> =
            serde_json::from_slice(line).map_err(|e| format!("bad item header: {e}"))?;
        let item_type = match item.remove("type") {
            Some(Value::String(name)) => ItemType::from_name(&name),
            _ => return Err("item header without a type".into()),
        };
        let length = item
            .remove("length")
            .and_then(|v| v.as_u64())
            .ok_or("item header without a length")? as usize;
        if after.len() < length {
            return Err("item payload is truncated".into());
        }
        let payload = Payload::bytes(&after[..length]);
        rest = after[length..]
            .strip_prefix(b"\n")
            .unwrap_or(&after[length..]);
        let mut parsed = EnvelopeItem::new(item_type, payload);
        let mut text = |key: &str| match item.remove(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        parsed.content_type = text("content_type").map(Into::into);
        parsed.filename = text("filename");
        parsed.attachment_type = text("attachment_type");
        parsed.platform = text("platform");
        parsed.item_count = item
            .remove("item_count")
            .and_then(|v| v.as_u64())
            .and_then(|n| u32::try_from(n).ok());
        parsed.other_headers = item;
        envelope.items.push(parsed);
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sdk-spool-test-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn event(n: u32) -> Envelope {
        let mut envelope = Envelope::with_event_id(uuid::Uuid::new_v4());
        envelope.headers.sdk = Some(Payload::bytes(r#"{"name":"x","version":"1"}"#));
        envelope.add_item(
            EnvelopeItem::new(
                ItemType::Event,
                Payload::bytes(format!("{{\"message\":\"event {n}\"}}")),
            )
            .with_content_type("application/json"),
        );
        envelope
    }

    #[test]
    fn writes_and_reads_back() {
        let dir = temp_dir("roundtrip");
        let spool = Spool::open(&SpoolOptions::new(&dir)).unwrap();
        let reports = ClientReports::new();
        let original = event(1);
        let mut attachment =
            EnvelopeItem::new(ItemType::Attachment, Payload::bytes(&b"\x00\x01\n\x02"[..]))
                .with_filename("a.bin");
        attachment.attachment_type = Some("event.attachment".into());
        let mut original = original;
        original.add_item(attachment);
        spool.store(&original, &reports).unwrap();
        assert_eq!(spool.len(), 1);

        let path = spool.claim_oldest().unwrap();
        assert!(
            spool.claim_oldest().is_none(),
            "claimed files are not handed out twice"
        );
        let back = spool.load(&path).unwrap();
        assert_eq!(back.to_vec().unwrap(), original.to_vec().unwrap());
        assert_eq!(back.items[1].quantity, 4);
        spool.remove(&path);
        assert!(spool.is_empty());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn reopening_finds_files_oldest_first() {
        let dir = temp_dir("reopen");
        let reports = ClientReports::new();
        {
            let spool = Spool::open(&SpoolOptions::new(&dir)).unwrap();
            for n in 0..5 {
                spool.store(&event(n), &reports).unwrap();
            }
        }
        fs::write(dir.join(".tmp-leftover.envelope"), b"half").unwrap();
        let spool = Spool::open(&SpoolOptions::new(&dir)).unwrap();
        assert_eq!(spool.len(), 5);
        let first = spool.claim_oldest().unwrap();
        let text = String::from_utf8(spool.load(&first).unwrap().to_vec().unwrap()).unwrap();
        assert!(text.contains("event 0"), "{text}");
        assert!(!dir.join(".tmp-leftover.envelope").exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn bounds_drop_the_oldest_and_count_them() {
        let dir = temp_dir("bounds");
        let reports = ClientReports::new();
        let mut options = SpoolOptions::new(&dir);
        options.max_envelopes = 3;
        let spool = Spool::open(&options).unwrap();
        for n in 0..5 {
            spool.store(&event(n), &reports).unwrap();
        }
        assert_eq!(spool.len(), 3);
        assert_eq!(
            reports.total(DiscardReason::CacheOverflow, DataCategory::Error),
            2
        );
        let first = spool.claim_oldest().unwrap();
        let text = String::from_utf8(spool.load(&first).unwrap().to_vec().unwrap()).unwrap();
        assert!(text.contains("event 2"), "{text}");

        // Byte bound: room for about two files.
        let dir2 = temp_dir("bytes");
        let mut options = SpoolOptions::new(&dir2);
        options.max_bytes = spool.bytes() * 2 / 3 + 10;
        let small = Spool::open(&options).unwrap();
        for n in 0..4 {
            small.store(&event(n), &reports).unwrap();
        }
        assert_eq!(small.len(), 2);
        assert!(small.bytes() <= options.max_bytes);
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&dir2);
    }

    #[test]
    fn corrupt_and_truncated_files_are_skipped_and_deleted() {
        let dir = temp_dir("corrupt");
        let reports = ClientReports::new();
        {
            let spool = Spool::open(&SpoolOptions::new(&dir)).unwrap();
            for n in 0..3 {
                spool.store(&event(n), &reports).unwrap();
            }
        }
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        // Truncate the first, flip a body byte in the second, garbage in a fourth.
        let bytes = fs::read(&files[0]).unwrap();
        fs::write(&files[0], &bytes[..bytes.len() - 5]).unwrap();
        let mut bytes = fs::read(&files[1]).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x20;
        fs::write(&files[1], &bytes).unwrap();
        fs::write(
            dir.join("00000000000000000000-x.envelope"),
            b"\x00\xffnot a spool",
        )
        .unwrap();

        let spool = Spool::open(&SpoolOptions::new(&dir)).unwrap();
        // The truncated and the garbage file fail the header check at open.
        assert_eq!(spool.len(), 2);
        let second = spool.claim_oldest().unwrap();
        assert!(matches!(
            spool.load(&second),
            Err(SpoolError::Corrupt { .. })
        ));
        assert!(!second.exists());
        let third = spool.claim_oldest().unwrap();
        let text = String::from_utf8(spool.load(&third).unwrap().to_vec().unwrap()).unwrap();
        assert!(text.contains("event 2"));
        assert_eq!(spool.len(), 1);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unusable_directory_is_a_clear_error() {
        let file = temp_dir("not-a-dir");
        fs::write(&file, b"x").unwrap();
        let err = Spool::open(&SpoolOptions::new(file.join("sub"))).unwrap_err();
        assert!(matches!(err, SpoolError::Dir { .. }));
        assert!(err.to_string().contains("spool directory"));
        let _ = fs::remove_file(&file);
    }
}
