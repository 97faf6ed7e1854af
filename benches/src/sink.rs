//! The e2e loopback HTTP sink (WORKLOAD.md workload 8): accepts envelope POSTs on
//! `127.0.0.1:0`, answers `200 {}`, and counts what arrived (items by type, client-report
//! discards by `reason:category`, wire bytes). Gzip and deflate bodies are decoded.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

/// What the sink has seen so far.
#[derive(Debug, Clone, Default)]
pub struct SinkStats {
    /// HTTP requests read.
    pub requests: u64,
    /// Envelopes parsed.
    pub envelopes: u64,
    /// `event` items.
    pub events: u64,
    /// `transaction` items.
    pub transactions: u64,
    /// `client_report` items.
    pub client_reports: u64,
    /// Items of any other type.
    pub other_items: u64,
    /// Sum of `discarded_events[].quantity` per `reason:category`.
    pub discarded: BTreeMap<String, u64>,
    /// Body bytes as they came over the wire (compressed when compressed).
    pub wire_bytes: u64,
    /// Body bytes after decoding.
    pub decoded_bytes: u64,
    /// Bodies with a content encoding the sink does not parse.
    pub unknown_encoding: u64,
    /// Envelopes that failed to parse.
    pub parse_errors: u64,
    /// `Content-Encoding` of the first envelope POST ("identity" when none).
    pub first_content_encoding: Option<String>,
    /// Header names of the first envelope POST, lowercased, in order.
    pub first_header_names: Vec<String>,
    /// When the last envelope was completely read.
    pub last_envelope_at: Option<Instant>,
}

/// A running sink. Dropping it stops the accept loop.
pub struct Sink {
    port: u16,
    stats: Arc<Mutex<SinkStats>>,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Sink {
    /// Starts a sink on `127.0.0.1:0` with one accept thread.
    pub fn start() -> std::io::Result<Sink> {
        Sink::start_with(false)
    }

    /// Starts a sink; with `hang`, it reads requests but never answers and keeps the socket
    /// open (a hung ingest, for `stall_probe`).
    pub fn start_with(hang: bool) -> std::io::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stats = Arc::new(Mutex::new(SinkStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (stats.clone(), stop.clone());
        let accept = thread::Builder::new()
            .name("sink-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if sp.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let st = st.clone();
                    let _ = thread::Builder::new()
                        .name("sink-conn".into())
                        .spawn(move || serve(conn, &st, hang));
                }
            })?;
        Ok(Sink {
            port,
            stats,
            stop,
            accept: Some(accept),
        })
    }

    /// The port the sink listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A copy of the counters.
    pub fn stats(&self) -> SinkStats {
        match self.stats.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn serve(conn: TcpStream, stats: &Mutex<SinkStats>, hang: bool) {
    let _ = conn.set_nodelay(true);
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::with_capacity(64 * 1024, conn);
    while let Ok(Some(req)) = read_request(&mut reader) {
        let is_envelope = req.method == "POST"
            && req.path.starts_with("/api/")
            && req.path.contains("/envelope/");
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if is_envelope {
            record(&req, stats);
        } else if let Ok(mut s) = stats.lock() {
            s.requests += 1;
        }
        if hang {
            // Never answer; keep reading whatever else arrives on this socket.
            continue;
        }
        let response: &[u8] = if is_envelope {
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        } else {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        };
        if writer.write_all(response).is_err() || close {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let line = loop {
        match read_line(reader)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let Some(h) = read_line(reader)? else {
            return Err(bad("eof in headers"));
        };
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let size_line = read_line(reader)?.ok_or_else(|| bad("eof in chunk size"))?;
            let size_hex = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers until the empty line.
                while let Some(t) = read_line(reader)? {
                    if t.is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            reader.read_exact(&mut req.body[start..])?;
            let _ = read_line(reader)?;
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        req.body.resize(len, 0);
        reader.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn record(req: &Request, stats: &Mutex<SinkStats>) {
    let encoding = req
        .header("content-encoding")
        .map(|e| e.trim().to_ascii_lowercase());
    let decoded: Option<Vec<u8>> = match encoding.as_deref() {
        None | Some("identity") | Some("") => Some(req.body.clone()),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&req.body[..])
                .read_to_end(&mut out)
                .ok()
                .map(|_| out)
        }
        Some("deflate") => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(&req.body[..])
                .read_to_end(&mut out)
                .ok()
                .map(|_| out)
        }
        Some(_) => None,
    };
    let parsed = decoded.as_deref().map(parse_envelope);
    let now = Instant::now();
    let Ok(mut s) = stats.lock() else { return };
    s.requests += 1;
    s.wire_bytes += req.body.len() as u64;
    if s.first_content_encoding.is_none() {
        s.first_content_encoding = Some(encoding.clone().unwrap_or_else(|| "identity".into()));
        s.first_header_names = req
            .headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
    }
    match (decoded, parsed) {
        (Some(body), Some(Ok(items))) => {
            s.decoded_bytes += body.len() as u64;
            s.envelopes += 1;
            for item in items {
                match item {
                    Item::Event => s.events += 1,
                    Item::Transaction => s.transactions += 1,
                    Item::ClientReport(discards) => {
                        s.client_reports += 1;
                        for (key, q) in discards {
                            *s.discarded.entry(key).or_default() += q;
                        }
                    }
                    Item::Other => s.other_items += 1,
                }
            }
        }
        (Some(_), _) => s.parse_errors += 1,
        (None, _) => s.unknown_encoding += 1,
    }
    s.last_envelope_at = Some(now);
}

enum Item {
    Event,
    Transaction,
    ClientReport(Vec<(String, u64)>),
    Other,
}

fn next_line(body: &[u8], pos: &mut usize) -> Option<(usize, usize)> {
    if *pos >= body.len() {
        return None;
    }
    let start = *pos;
    let end = body[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(body.len(), |i| start + i);
    *pos = (end + 1).min(body.len());
    if end == body.len() {
        *pos = body.len();
    }
    Some((start, end))
}

/// The two item-header fields the sink needs (others are skipped without building values).
#[derive(serde::Deserialize)]
struct ItemHeader {
    #[serde(rename = "type")]
    ty: String,
    length: Option<u64>,
}

/// Parses an envelope body into its items (header line, then item header + payload pairs).
fn parse_envelope(body: &[u8]) -> Result<Vec<Item>, String> {
    let mut pos = 0;
    let (hs, he) = next_line(body, &mut pos).ok_or("empty envelope")?;
    serde_json::from_slice::<serde::de::IgnoredAny>(&body[hs..he])
        .map_err(|e| format!("bad envelope header: {e}"))?;
    let mut items = Vec::new();
    while let Some((s, e)) = next_line(body, &mut pos) {
        if s == e {
            continue; // tolerate a trailing empty line
        }
        let header: ItemHeader =
            serde_json::from_slice(&body[s..e]).map_err(|err| format!("bad item header: {err}"))?;
        let ty = header.ty;
        let payload = match header.length {
            Some(len) => {
                let len = len as usize;
                let end = pos.checked_add(len).filter(|&end| end <= body.len());
                let end = end.ok_or("item length beyond the body")?;
                let p = &body[pos..end];
                pos = end;
                if body.get(pos) == Some(&b'\n') {
                    pos += 1;
                }
                p
            }
            None => {
                let (ps, pe) = next_line(body, &mut pos).unwrap_or((pos, pos));
                &body[ps..pe]
            }
        };
        items.push(match ty.as_str() {
            "event" => Item::Event,
            "transaction" => Item::Transaction,
            "client_report" => Item::ClientReport(client_report(payload)),
            _ => Item::Other,
        });
    }
    Ok(items)
}

fn client_report(payload: &[u8]) -> Vec<(String, u64)> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return Vec::new();
    };
    let Some(list) = v.get("discarded_events").and_then(|d| d.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .map(|d| {
            let reason = d.get("reason").and_then(|r| r.as_str()).unwrap_or("?");
            let category = d.get("category").and_then(|r| r.as_str()).unwrap_or("?");
            let q = d.get("quantity").and_then(|q| q.as_u64()).unwrap_or(0);
            (format!("{reason}:{category}"), q)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reference_envelope_shapes() {
        let body = b"{\"event_id\":\"x\"}\n{\"type\":\"event\",\"length\":2}\n{}\n{\"type\":\"client_report\"}\n{\"discarded_events\":[{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":7}]}\n";
        let items = parse_envelope(body).expect("parses");
        assert_eq!(items.len(), 2);
        assert!(matches!(items[0], Item::Event));
        match &items[1] {
            Item::ClientReport(d) => assert_eq!(d, &vec![("queue_overflow:error".to_string(), 7)]),
            _ => panic!("expected a client report"),
        }
    }

    #[test]
    fn rejects_length_beyond_body() {
        let body = b"{}\n{\"type\":\"event\",\"length\":99}\n{}\n";
        assert!(parse_envelope(body).is_err());
    }

    #[test]
    fn counts_a_gzip_post_over_http() {
        use flate2::write::GzEncoder;
        let sink = Sink::start().expect("sink starts");
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"{}\n{\"type\":\"event\"}\n{\"a\":1}\n")
            .expect("gzip");
        let body = gz.finish().expect("gzip");
        let mut c = TcpStream::connect(("127.0.0.1", sink.port())).expect("connect");
        let head = format!(
            "POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).expect("write");
        c.write_all(&body).expect("write");
        let mut resp = [0u8; 12];
        c.read_exact(&mut resp).expect("answer");
        assert_eq!(&resp, b"HTTP/1.1 200");
        let s = sink.stats();
        assert_eq!(s.events, 1);
        assert_eq!(s.first_content_encoding.as_deref(), Some("gzip"));
        assert_eq!(s.wire_bytes, body.len() as u64);
    }
}
