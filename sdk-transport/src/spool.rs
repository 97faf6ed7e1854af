//! The offline spool: envelopes that could not be delivered wait on disk (PROTOCOL.md §13).
//!
//! A spool file holds one or more envelopes (the worker writes what waits in memory in batches:
//! an fsync costs milliseconds, so one per envelope would make a shutdown during an outage
//! overrun its timeout). Files are named so that names sort oldest first. A file is written to
//! a temporary name, fsynced, then renamed, so a crash leaves either the whole file or none.
//! Its first line is a small JSON header (format version, and per envelope its length, CRC-32
//! and the per-item quantities the wire format does not carry); the bodies follow, each the
//! envelope as it is sent, without `sent_at`. A file that fails any check is deleted with a
//! warning, never trusted.
//!
//! The spool is bounded by envelope count and bytes; when a new file would exceed a bound, the
//! oldest files are deleted and their items counted as `cache_overflow`.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::category::{DataCategory, DiscardReason};
use crate::client_report::ClientReports;
use crate::envelope::Envelope;
use crate::options::SpoolOptions;

const EXTENSION: &str = "envelope";
const TEMP_PREFIX: &str = ".tmp-";
const FORMAT_VERSION: u64 = 1;
/// Longest header line accepted when reading a file back.
const MAX_HEADER_LINE: u64 = 1024 * 1024;

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

impl std::error::Error for SpoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpoolError::Dir { source, .. } | SpoolError::Io { source, .. } => Some(source),
            SpoolError::Serialize(err) => Some(err),
            SpoolError::Corrupt { .. } => None,
        }
    }
}

/// A spool file known to the index.
#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    size: u64,
    envelopes: usize,
    /// What the file holds, for `cache_overflow` counts; empty for files found at start-up
    /// (read from the file if it is ever evicted).
    counts: Vec<(DataCategory, u64)>,
}

#[derive(Debug, Default)]
struct Index {
    /// Oldest first.
    files: VecDeque<Entry>,
    bytes: u64,
    envelopes: usize,
    claimed: HashSet<PathBuf>,
}

impl Index {
    fn remove(&mut self, path: &Path) -> Option<Entry> {
        self.claimed.remove(path);
        let pos = self.files.iter().position(|entry| entry.path == path)?;
        let entry = self.files.remove(pos)?;
        self.bytes -= entry.size;
        self.envelopes -= entry.envelopes;
        Some(entry)
    }
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
    envelopes: Vec<EnvelopeHeader>,
}

/// What the file header says about one envelope.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct EnvelopeHeader {
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

fn item_counts<'a>(envelopes: impl IntoIterator<Item = &'a Envelope>) -> Vec<(DataCategory, u64)> {
    let reports = ClientReports::new();
    for envelope in envelopes {
        reports.record_envelope(DiscardReason::CacheOverflow, envelope);
    }
    reports
        .totals()
        .into_iter()
        .map(|count| (count.category, count.quantity))
        .collect()
}

/// Serialises envelopes into the bytes of a spool file.
fn encode(envelopes: &[&Envelope]) -> Result<Vec<u8>, SpoolError> {
    let mut bodies = Vec::new();
    let mut headers = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        let start = bodies.len();
        envelope
            .write_to(&mut bodies, None)
            .map_err(SpoolError::Serialize)?;
        headers.push(EnvelopeHeader {
            len: (bodies.len() - start) as u64,
            crc: crc32(&bodies[start..]),
            items: envelope
                .items
                .iter()
                .map(|item| (item.quantity, item.span_count))
                .collect(),
        });
    }
    let header = FileHeader {
        v: FORMAT_VERSION,
        envelopes: headers,
    };
    let mut bytes = serde_json::to_vec(&header)
        .map_err(|e| SpoolError::Serialize(crate::envelope::PayloadError::new(e.to_string())))?;
    bytes.push(b'\n');
    bytes.extend_from_slice(&bodies);
    Ok(bytes)
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
                Ok((header, size)) => {
                    index.bytes += size;
                    index.envelopes += header.envelopes.len();
                    index.files.push_back(Entry {
                        path,
                        size,
                        envelopes: header.envelopes.len(),
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
        // No code panics while holding this lock; recover the index rather than propagate.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Envelopes on disk (those being re-sent included).
    pub fn len(&self) -> usize {
        self.lock().envelopes
    }

    /// Whether the spool holds nothing.
    pub fn is_empty(&self) -> bool {
        self.lock().files.is_empty()
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

    /// Writes `bytes` crash-safely to `path` (temp file, fsync, rename).
    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = self.dir.join(format!("{TEMP_PREFIX}{name}"));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&temp, path)
        };
        write().map_err(|source| {
            let _ = fs::remove_file(&temp);
            SpoolError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Writes `envelopes` to the spool as one file, crash-safely, then deletes the oldest files
    /// while a bound is exceeded, counting their items as `cache_overflow` in `reports`.
    pub fn store(
        &self,
        envelopes: &[&Envelope],
        reports: &ClientReports,
    ) -> Result<(), SpoolError> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let bytes = encode(envelopes)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let name = format!("{now:020}-{seq:010}-{}.{EXTENSION}", std::process::id());
        let path = self.dir.join(&name);
        self.write_file(&path, &bytes)?;

        let mut evicted = Vec::new();
        {
            let mut index = self.lock();
            index.bytes += bytes.len() as u64;
            index.envelopes += envelopes.len();
            index.files.push_back(Entry {
                path,
                size: bytes.len() as u64,
                envelopes: envelopes.len(),
                counts: item_counts(envelopes.iter().copied()),
            });
            while index.files.len() > 1
                && (index.envelopes > self.max_envelopes || index.bytes > self.max_bytes)
            {
                let Some(oldest) = index.files.pop_front() else {
                    break;
                };
                index.bytes -= oldest.size;
                index.envelopes -= oldest.envelopes;
                index.claimed.remove(&oldest.path);
                evicted.push(oldest);
            }
        }
        for oldest in evicted {
            crate::sdk_debug!(
                "spool full: dropping the oldest {} envelope(s) in {}",
                oldest.envelopes,
                oldest.path.display()
            );
            if oldest.counts.is_empty() {
                match read_file(&oldest.path) {
                    Ok(envelopes) => {
                        for envelope in &envelopes {
                            reports.record_envelope(DiscardReason::CacheOverflow, envelope);
                        }
                    }
                    Err(_) => reports.record(
                        DiscardReason::CacheOverflow,
                        DataCategory::Default,
                        oldest.envelopes as u64,
                    ),
                }
            } else {
                for (category, quantity) in &oldest.counts {
                    reports.record(DiscardReason::CacheOverflow, *category, *quantity);
                }
            }
            let _ = fs::remove_file(&oldest.path);
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

    /// Reads a claimed file back. A corrupt file is deleted and forgotten.
    pub fn load(&self, path: &Path) -> Result<Vec<Envelope>, SpoolError> {
        match read_file(path) {
            Ok(envelopes) => Ok(envelopes),
            Err(err) => {
                self.remove(path);
                Err(err)
            }
        }
    }

    /// Deletes a file (delivered, or refused by the server for good).
    pub fn remove(&self, path: &Path) {
        self.lock().remove(path);
        if let Err(err) = fs::remove_file(path) {
            if err.kind() != std::io::ErrorKind::NotFound {
                crate::sdk_debug!("spool: cannot delete {}: {err}", path.display());
            }
        }
    }

    /// Replaces a claimed file by the envelopes of it that are still to be sent, and gives it
    /// back. With none left, deletes it.
    pub fn replace(&self, path: &Path, remaining: &[&Envelope]) -> Result<(), SpoolError> {
        if remaining.is_empty() {
            self.remove(path);
            return Ok(());
        }
        let bytes = encode(remaining)?;
        self.write_file(path, &bytes)?;
        let mut index = self.lock();
        index.claimed.remove(path);
        let mut delta_envelopes = 0usize;
        let mut old_size = 0u64;
        if let Some(entry) = index.files.iter_mut().find(|entry| entry.path == path) {
            old_size = entry.size;
            delta_envelopes = entry.envelopes - remaining.len().min(entry.envelopes);
            entry.size = bytes.len() as u64;
            entry.envelopes = remaining.len();
            entry.counts = item_counts(remaining.iter().copied());
        }
        index.bytes = index.bytes - old_size + bytes.len() as u64;
        index.envelopes -= delta_envelopes;
        Ok(())
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

fn parse_header(path: &Path, line: &[u8]) -> Result<FileHeader, SpoolError> {
    let header: FileHeader =
        serde_json::from_slice(line).map_err(|e| corrupt(path, format!("bad header: {e}")))?;
    if header.v != FORMAT_VERSION {
        return Err(corrupt(
            path,
            format!("unknown format version {}", header.v),
        ));
    }
    if header.envelopes.is_empty() {
        return Err(corrupt(path, "no envelopes"));
    }
    Ok(header)
}

fn body_len(header: &FileHeader) -> u64 {
    header
        .envelopes
        .iter()
        .fold(0u64, |sum, e| sum.saturating_add(e.len))
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
    let header = parse_header(path, &line)?;
    let expected = body_len(&header);
    if (line.len() as u64).saturating_add(expected) != size {
        return Err(corrupt(
            path,
            format!(
                "truncated: {expected} body bytes expected, {} present",
                size.saturating_sub(line.len() as u64)
            ),
        ));
    }
    Ok((header, size))
}

/// Reads a whole spool file back into its envelopes, checking lengths and CRCs.
pub fn read_file(path: &Path) -> Result<Vec<Envelope>, SpoolError> {
    let bytes = fs::read(path).map_err(|source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| corrupt(path, "no header line"))?;
    let header = parse_header(path, &bytes[..newline])?;
    let mut body = &bytes[newline + 1..];
    if body.len() as u64 != body_len(&header) {
        return Err(corrupt(
            path,
            format!(
                "truncated: {} body bytes expected, {} present",
                body_len(&header),
                body.len()
            ),
        ));
    }
    let mut envelopes = Vec::with_capacity(header.envelopes.len());
    for (n, meta) in header.envelopes.into_iter().enumerate() {
        let (one, rest) = body.split_at(meta.len as usize);
        body = rest;
        if crc32(one) != meta.crc {
            return Err(corrupt(path, format!("checksum mismatch in envelope {n}")));
        }
        let mut envelope = crate::parse::parse_envelope(one)
            .map_err(|err| corrupt(path, format!("unreadable envelope {n}: {err}")))?;
        if envelope.items.len() != meta.items.len() {
            return Err(corrupt(path, "item count does not match the header"));
        }
        for (item, (quantity, span_count)) in envelope.items.iter_mut().zip(meta.items) {
            item.quantity = quantity;
            item.span_count = span_count;
        }
        envelopes.push(envelope);
    }
    Ok(envelopes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{EnvelopeItem, ItemType, Payload};

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
        spool.store(&[&original], &reports).unwrap();
        assert_eq!(spool.len(), 1);

        let path = spool.claim_oldest().unwrap();
        assert!(
            spool.claim_oldest().is_none(),
            "claimed files are not handed out twice"
        );
        let back = spool.load(&path).unwrap().remove(0);
        assert_eq!(back.to_vec().unwrap(), original.to_vec().unwrap());
        assert_eq!(back.items[1].quantity, 4);
        spool.remove(&path);
        assert!(spool.is_empty());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_batch_is_one_file_and_can_be_partly_replaced() {
        let dir = temp_dir("batch");
        let spool = Spool::open(&SpoolOptions::new(&dir)).unwrap();
        let reports = ClientReports::new();
        let batch: Vec<Envelope> = (0..3).map(event).collect();
        let refs: Vec<&Envelope> = batch.iter().collect();
        spool.store(&refs, &reports).unwrap();
        assert_eq!(spool.len(), 3);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        let path = spool.claim_oldest().unwrap();
        let back = spool.load(&path).unwrap();
        assert_eq!(back.len(), 3);
        for (a, b) in back.iter().zip(&batch) {
            assert_eq!(a.to_vec().unwrap(), b.to_vec().unwrap());
        }
        // The first was delivered; the other two stay.
        spool.replace(&path, &[&back[1], &back[2]]).unwrap();
        assert_eq!(spool.len(), 2);
        let path = spool.claim_oldest().unwrap();
        let back = spool.load(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert!(String::from_utf8(back[0].to_vec().unwrap())
            .unwrap()
            .contains("event 1"));
        spool.replace(&path, &[]).unwrap();
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
                spool.store(&[&event(n)], &reports).unwrap();
            }
        }
        fs::write(dir.join(".tmp-leftover.envelope"), b"half").unwrap();
        let spool = Spool::open(&SpoolOptions::new(&dir)).unwrap();
        assert_eq!(spool.len(), 5);
        let first = spool.claim_oldest().unwrap();
        let text = String::from_utf8(spool.load(&first).unwrap()[0].to_vec().unwrap()).unwrap();
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
            spool.store(&[&event(n)], &reports).unwrap();
        }
        assert_eq!(spool.len(), 3);
        assert_eq!(
            reports.total(DiscardReason::CacheOverflow, DataCategory::Error),
            2
        );
        let first = spool.claim_oldest().unwrap();
        let text = String::from_utf8(spool.load(&first).unwrap()[0].to_vec().unwrap()).unwrap();
        assert!(text.contains("event 2"), "{text}");

        // Byte bound: room for about two files.
        let dir2 = temp_dir("bytes");
        let mut options = SpoolOptions::new(&dir2);
        options.max_bytes = spool.bytes() * 2 / 3 + 10;
        let small = Spool::open(&options).unwrap();
        for n in 0..4 {
            small.store(&[&event(n)], &reports).unwrap();
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
                spool.store(&[&event(n)], &reports).unwrap();
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
        let text = String::from_utf8(spool.load(&third).unwrap()[0].to_vec().unwrap()).unwrap();
        assert!(text.contains("event 2"));
        assert_eq!(spool.len(), 1);
        let _ = fs::remove_dir_all(&dir);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn damaged_files_are_errors_not_panics(
            cut in 0usize..400,
            flip in 0usize..400,
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let dir = temp_dir("prop");
            let spool = Spool::open(&SpoolOptions::new(&dir)).unwrap();
            spool.store(&[&event(1), &event(2)], &ClientReports::new()).unwrap();
            let path = spool.claim_oldest().unwrap();
            let mut bytes = fs::read(&path).unwrap();
            if flip < bytes.len() {
                bytes[flip] ^= 0x41;
            }
            bytes.truncate(bytes.len().saturating_sub(cut));
            bytes.extend_from_slice(&garbage);
            fs::write(&path, &bytes).unwrap();
            let _ = read_file(&path);
            let _ = Spool::open(&SpoolOptions::new(&dir)).unwrap();
            let _ = fs::remove_dir_all(&dir);
        }
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
