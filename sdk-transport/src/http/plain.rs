//! A lean HTTP/1.1 client for plain `http://` endpoints (a Relay next to the application, the
//! mock server), over `std::net::TcpStream` with keep-alive.
//!
//! Why not ureq for these: per request, ureq resolves the host, sets socket timeouts, probes the
//! pooled connection twice (three syscalls each) and writes the headers and the body in two
//! sends; on loopback those syscalls and the extra wake-up of the server are most of the cost of
//! a request. This client writes the request in one `write`, reads the response with as few
//! reads as it needs, and reuses the connection (probing it first only when it has been idle
//! for over a second, when the server may have closed it). HTTPS, and proxies (`HTTP_PROXY`,
//! `ALL_PROXY`), stay with ureq or reqwest.
//!
//! Timeouts: the connect timeout bounds the connection; the request timeout bounds each write
//! and the wait for the whole response (a server that never answers, or drips its answer, is
//! given up on after it).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use crate::options::TransportOptions;

/// Longest response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Longest response body read to keep the connection; longer ones close it instead.
const MAX_BODY: usize = 1024 * 1024;
/// How long resolved addresses are reused.
const RESOLVE_TTL: Duration = Duration::from_secs(60);

/// The parts of an `http://` URL a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    /// Path and query, starting with `/`.
    path: String,
}

fn parse_url(url: &str) -> Option<Target> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        // [v6]:port
        let end = bracketed.find(']')?;
        let host = &bracketed[..end];
        let port = match &bracketed[end + 1..] {
            "" => 80,
            p => p.strip_prefix(':')?.parse().ok()?,
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), port.parse().ok()?),
            None => (authority.to_owned(), 80),
        }
    };
    Some(Target {
        host,
        port,
        path: path.to_owned(),
    })
}

/// Whether the environment asks for a proxy (then this client is not used).
pub fn proxy_configured() -> bool {
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// An [`HttpClient`] for `http://` URLs: one write per request, keep-alive connections.
#[derive(Debug)]
pub struct PlainHttpClient {
    connect_timeout: Duration,
    io_timeout: Duration,
    user_agent: String,
    idle: Mutex<Vec<Idle>>,
    max_idle: usize,
    resolved: Mutex<ResolveCache>,
}

/// A kept-alive connection waiting for the next request.
#[derive(Debug)]
struct Idle {
    key: String,
    stream: TcpStream,
    since: Instant,
}

/// A connection idle longer than this is checked before reuse (the server may have closed it).
const PROBE_AFTER: Duration = Duration::from_secs(1);

/// Whether the server has not closed (or written garbage on) an idle connection.
fn still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let open =
        matches!(stream.peek(&mut byte), Err(err) if err.kind() == io::ErrorKind::WouldBlock);
    open && stream.set_nonblocking(false).is_ok()
}

/// Addresses per (host, port), with when they were resolved.
type ResolveCache = HashMap<(String, u16), (Vec<SocketAddr>, Instant)>;

/// What was read of a response.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    response: HttpResponse,
    /// The connection can carry another request.
    reusable: bool,
}

fn io_error(err: io::Error) -> HttpError {
    match err.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HttpError::Timeout(err.to_string()),
        io::ErrorKind::ConnectionRefused => HttpError::Connect(err.to_string()),
        _ => HttpError::Io(err.to_string()),
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// A reader that fails with `TimedOut` once its deadline has passed, so a server that drips
/// its answer byte by byte cannot hold a request much longer than the request timeout (each
/// read is also bounded by the socket's read timeout).
struct Deadline<R> {
    inner: R,
    deadline: Instant,
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request timeout passed while reading the response",
            ));
        }
        self.inner.read(buf)
    }
}

/// Reads more bytes into `buf`; `Ok(0)` at end of stream.
fn fill(stream: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn bad(message: impl Into<String>) -> HttpError {
    HttpError::Io(format!("malformed response: {}", message.into()))
}

/// Reads one response from `stream`. `Ok(None)` when the stream ended before any byte (a
/// keep-alive connection the server had closed).
fn read_response(stream: &mut impl Read) -> Result<Option<Parsed>, HttpError> {
    let mut buf = Vec::with_capacity(512);
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("response head too long"));
        }
        let n = match fill(stream, &mut buf) {
            Ok(n) => n,
            // Reset before any byte: the server had closed this keep-alive connection.
            Err(err)
                if buf.is_empty()
                    && matches!(
                        err.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                    ) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(io_error(err)),
        };
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(bad("connection closed inside the response head"));
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("status line `{status_line}`")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| bad(format!("status line `{status_line}`")))?;
    let mut response = HttpResponse::status(status);
    let mut sentry_error = None;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut close = version == "HTTP/1.0";
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("header line `{line}`")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.parse().map_err(|_| bad("content-length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            close = value.contains("close") || (close && !value.contains("keep-alive"));
        } else if name.eq_ignore_ascii_case("x-sentry-rate-limits") {
            response.rate_limits = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("retry-after") {
            response.retry_after = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("x-sentry-error") {
            sentry_error = Some(value.to_owned());
        }
    }
    let mut body = buf.split_off(head_end);
    let no_body = status == 204 || status == 304 || (100..200).contains(&status);
    let reusable = if no_body {
        !close
    } else if chunked {
        read_chunked(stream, &mut body)? && !close
    } else if let Some(length) = content_length {
        if length > MAX_BODY {
            false
        } else {
            while body.len() < length {
                if fill(stream, &mut body).map_err(io_error)? == 0 {
                    return Err(bad("connection closed inside the body"));
                }
            }
            !close && body.len() == length
        }
    } else {
        // Body until the server closes: read what is there, never reuse.
        while body.len() <= MAX_BODY {
            if fill(stream, &mut body).map_err(io_error)? == 0 {
                break;
            }
        }
        false
    };
    if !(200..300).contains(&status) {
        response.detail = crate::http::error_detail(sentry_error.as_deref(), &body);
    }
    Ok(Some(Parsed { response, reusable }))
}

/// Reads a chunked body to its end; returns whether it ended cleanly within the size limit.
fn read_chunked(stream: &mut impl Read, buf: &mut Vec<u8>) -> Result<bool, HttpError> {
    let mut pos = 0usize;
    loop {
        // A size line.
        let line_end = loop {
            if let Some(i) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
                break pos + i;
            }
            if buf.len() - pos > 1024 {
                return Err(bad("chunk size line too long"));
            }
            if fill(stream, buf).map_err(io_error)? == 0 {
                return Err(bad("connection closed inside a chunked body"));
            }
        };
        let size_text = std::str::from_utf8(&buf[pos..line_end]).map_err(|_| bad("chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("chunk size"))?;
        pos = line_end + 2;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                if let Some(i) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
                    if i == 0 {
                        return Ok(true);
                    }
                    pos += i + 2;
                    continue;
                }
                if buf.len() - pos > MAX_HEAD {
                    return Err(bad("trailers too long"));
                }
                if fill(stream, buf).map_err(io_error)? == 0 {
                    return Err(bad("connection closed inside trailers"));
                }
            }
        }
        if pos.saturating_add(size) > MAX_BODY {
            return Ok(false);
        }
        while buf.len() < pos + size + 2 {
            if fill(stream, buf).map_err(io_error)? == 0 {
                return Err(bad("connection closed inside a chunk"));
            }
        }
        pos += size + 2;
    }
}

impl PlainHttpClient {
    /// A client with the timeouts and user agent of `options`.
    pub fn new(options: &TransportOptions) -> Self {
        PlainHttpClient {
            connect_timeout: options.connect_timeout,
            io_timeout: options.request_timeout,
            user_agent: options.user_agent.clone(),
            idle: Mutex::new(Vec::new()),
            max_idle: options.concurrency.max(1) * 2,
            resolved: Mutex::new(HashMap::new()),
        }
    }

    fn addresses(&self, target: &Target) -> Result<Vec<SocketAddr>, HttpError> {
        let key = (target.host.clone(), target.port);
        let now = Instant::now();
        if let Ok(cache) = self.resolved.lock() {
            if let Some((addrs, at)) = cache.get(&key) {
                if now.saturating_duration_since(*at) < RESOLVE_TTL {
                    return Ok(addrs.clone());
                }
            }
        }
        let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| HttpError::Connect(format!("cannot resolve {}: {e}", target.host)))?
            .collect();
        if addrs.is_empty() {
            return Err(HttpError::Connect(format!(
                "{} has no addresses",
                target.host
            )));
        }
        if let Ok(mut cache) = self.resolved.lock() {
            cache.insert(key, (addrs.clone(), now));
        }
        Ok(addrs)
    }

    fn connect(&self, target: &Target) -> Result<TcpStream, HttpError> {
        let mut last = None;
        for addr in self.addresses(target)? {
            match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                Ok(stream) => {
                    let setup = || -> io::Result<()> {
                        stream.set_nodelay(true)?;
                        stream.set_read_timeout(Some(self.io_timeout))?;
                        stream.set_write_timeout(Some(self.io_timeout))
                    };
                    setup().map_err(io_error)?;
                    return Ok(stream);
                }
                Err(err) => last = Some(err),
            }
        }
        Err(match last {
            Some(err) if err.kind() == io::ErrorKind::TimedOut => {
                HttpError::Timeout(format!("connecting to {}: {err}", target.host))
            }
            Some(err) => HttpError::Connect(format!("{}:{}: {err}", target.host, target.port)),
            None => HttpError::Connect(format!("{} has no addresses", target.host)),
        })
    }

    /// A kept-alive connection to `key`. One idle for a while is probed first: resending on a
    /// connection the server closed long ago could deliver an envelope twice.
    fn pooled(&self, key: &str) -> Option<TcpStream> {
        loop {
            let idle = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                let pos = idle.iter().rposition(|conn| conn.key == key)?;
                idle.swap_remove(pos)
            };
            if idle.since.elapsed() < PROBE_AFTER || still_open(&idle.stream) {
                return Some(idle.stream);
            }
        }
    }

    fn give_back(&self, key: String, stream: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push(Idle {
                key,
                stream,
                since: Instant::now(),
            });
        }
    }

    fn request_bytes(&self, target: &Target, request: &HttpRequest<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + request.body.len());
        let host = if target.port == 80 {
            target.host.clone()
        } else if target.host.contains(':') {
            format!("[{}]:{}", target.host, target.port)
        } else {
            format!("{}:{}", target.host, target.port)
        };
        let _ = write!(
            out,
            "POST {} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n",
            target.path,
            request.body.len()
        );
        let mut has_agent = false;
        for (name, value) in request.headers {
            // Header values come from the SDK; still never let a line break through.
            if name.contains(['\r', '\n', ':'])
                || value.contains(['\r', '\n'])
                || name.eq_ignore_ascii_case("host")
                || name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
            {
                continue;
            }
            has_agent |= name.eq_ignore_ascii_case("user-agent");
            let _ = write!(out, "{name}: {value}\r\n");
        }
        if !has_agent {
            let _ = write!(out, "User-Agent: {}\r\n", self.user_agent);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(request.body);
        out
    }

    /// One exchange on `stream`: `Ok(None)` when a reused connection turned out closed.
    /// (`reused`: a write error that says the peer is gone also means "closed").
    fn exchange(
        stream: &mut TcpStream,
        bytes: &[u8],
        reused: bool,
        timeout: Duration,
    ) -> Result<Option<Parsed>, HttpError> {
        if let Err(err) = stream.write_all(bytes) {
            if reused
                && matches!(
                    err.kind(),
                    io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                )
            {
                return Ok(None);
            }
            return Err(io_error(err));
        }
        let deadline = crate::time::instant_after(Instant::now(), timeout);
        read_response(&mut Deadline {
            inner: stream,
            deadline,
        })
    }
}

impl HttpClient for PlainHttpClient {
    fn send(&self, request: HttpRequest<'_>) -> Result<HttpResponse, HttpError> {
        let target = parse_url(request.url)
            .ok_or_else(|| HttpError::Other(format!("not an http:// URL: {}", request.url)))?;
        let key = format!("{}:{}", target.host, target.port);
        let bytes = self.request_bytes(&target, &request);
        // A pooled connection the server has closed is noticed when the exchange fails
        // before any response byte; then one fresh connection is tried.
        if let Some(mut stream) = self.pooled(&key) {
            if let Some(parsed) = Self::exchange(&mut stream, &bytes, true, self.io_timeout)? {
                if parsed.reusable {
                    self.give_back(key, stream);
                }
                return Ok(parsed.response);
            }
        }
        let mut stream = self.connect(&target)?;
        match Self::exchange(&mut stream, &bytes, false, self.io_timeout)? {
            Some(parsed) => {
                if parsed.reusable {
                    self.give_back(key, stream);
                }
                Ok(parsed.response)
            }
            None => Err(HttpError::Io(
                "the server closed the connection without answering".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:9000/api/1/envelope/"),
            Some(Target {
                host: "127.0.0.1".into(),
                port: 9000,
                path: "/api/1/envelope/".into()
            })
        );
        assert_eq!(parse_url("http://relay/api/1/envelope/").unwrap().port, 80);
        assert_eq!(parse_url("http://[::1]:8080/x").unwrap().host, "::1");
        assert_eq!(parse_url("http://[::1]/x").unwrap().port, 80);
        assert_eq!(parse_url("http://host").unwrap().path, "/");
        assert!(parse_url("https://host/x").is_none());
        assert!(parse_url("http://host:notaport/x").is_none());
        assert!(parse_url("http:///x").is_none());
    }

    fn parse(bytes: &[u8]) -> Result<Option<Parsed>, HttpError> {
        read_response(&mut &bytes[..])
    }

    #[test]
    fn reads_content_length_chunked_and_close_delimited_responses() {
        let parsed = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Sentry-Rate-Limits: 60:error:key\r\n\r\n{}",
        )
        .unwrap()
        .unwrap();
        assert_eq!(parsed.response.status, 200);
        assert_eq!(parsed.response.rate_limits.as_deref(), Some("60:error:key"));
        assert!(parsed.reusable);

        let parsed = parse(b"HTTP/1.1 429 Too Many\r\nretry-after: 7\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(parsed.response.status, 429);
        assert_eq!(parsed.response.retry_after.as_deref(), Some("7"));
        assert!(parsed.reusable);

        let parsed = parse(b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(parsed.response.status, 503);
        assert!(!parsed.reusable);

        let parsed =
            parse(b"HTTP/1.1 400 Bad\r\nContent-Length: 25\r\n\r\n{\"detail\":\"bad\nenvelope\"}")
                .unwrap()
                .unwrap();
        assert_eq!(
            parsed.response.detail.as_deref(),
            Some("{\"detail\":\"bad envelope\"}")
        );
        let parsed =
            parse(b"HTTP/1.1 413 Big\r\nX-Sentry-Error: too large\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap()
                .unwrap();
        assert_eq!(parsed.response.detail.as_deref(), Some("too large"));

        let parsed = parse(b"HTTP/1.0 200 OK\r\n\r\nwhatever until close")
            .unwrap()
            .unwrap();
        assert!(!parsed.reusable);

        assert_eq!(parse(b"").unwrap(), None);
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        for bytes in [
            &b"garbage\r\n\r\n"[..],
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200",
            b"HTTP/1.1 200 OK\r\n\xff\xfe: x\r\n\r\n",
        ] {
            assert!(
                parse(bytes).is_err(),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    /// A one-connection server that answers each request with `answers` in turn, then closes.
    fn serve(answers: Vec<&'static [u8]>) -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/1/envelope/", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let (mut stream, _) = listener.accept().unwrap();
            for answer in answers {
                let mut buf = Vec::new();
                loop {
                    if let Some(end) = find_head_end(&buf) {
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + length {
                            break;
                        }
                    }
                    if fill(&mut stream, &mut buf).unwrap() == 0 {
                        return seen;
                    }
                }
                seen.push(buf);
                stream.write_all(answer).unwrap();
            }
            seen
        });
        (url, handle)
    }

    #[test]
    fn sends_one_request_per_write_and_reuses_the_connection() {
        let (url, server) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ]);
        let client = PlainHttpClient::new(&TransportOptions::default());
        let headers = [
            ("X-Sentry-Auth", "Sentry sentry_key=k"),
            ("Evil\r\nX", "y"),
            ("Content-Length", "999"),
        ];
        for body in [&b"first"[..], b"second"] {
            let response = client
                .send(HttpRequest {
                    url: &url,
                    headers: &headers,
                    body,
                })
                .unwrap();
            assert_eq!(response.status, 200);
        }
        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 2, "both requests on the one connection");
        let first = String::from_utf8(seen[0].clone()).unwrap();
        assert!(
            first.starts_with("POST /api/1/envelope/ HTTP/1.1\r\n"),
            "{first}"
        );
        assert!(first.contains("\r\nContent-Length: 5\r\n"));
        assert!(first.contains("\r\nX-Sentry-Auth: Sentry sentry_key=k\r\n"));
        assert!(first.contains("\r\nUser-Agent: sentry.rust.sdk/"));
        assert!(!first.contains("Evil"));
        assert!(
            !first.contains("999"),
            "the client sets Content-Length itself"
        );
        assert!(first.ends_with("\r\n\r\nfirst"));
    }

    #[test]
    fn a_closed_pooled_connection_is_replaced() {
        // The first server answers once and closes; the client then reconnects.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut stream, _) = listener.accept().unwrap();
                let mut buf = Vec::new();
                while find_head_end(&buf).is_none() {
                    if fill(&mut stream, &mut buf).unwrap() == 0 {
                        break;
                    }
                }
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .unwrap();
                // Closing after the answer, without saying so.
            }
        });
        let client = PlainHttpClient::new(&TransportOptions::default());
        for _ in 0..2 {
            let response = client
                .send(HttpRequest {
                    url: &url,
                    headers: &[],
                    body: b"",
                })
                .unwrap();
            assert_eq!(response.status, 200);
        }
        server.join().unwrap();
    }

    proptest::proptest! {
        #[test]
        fn random_responses_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn mangled_valid_responses_never_panic(
            cut in 0usize..200,
            flip in 0usize..200,
            size in "[0-9a-fA-F]{1,20}",
        ) {
            let mut bytes = format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Sentry-Rate-Limits: 1::org\r\n\r\n{size}\r\nabc\r\n0\r\n\r\n"
            )
            .into_bytes();
            if flip < bytes.len() {
                bytes[flip] ^= 0x55;
            }
            bytes.truncate(bytes.len().saturating_sub(cut));
            let _ = parse(&bytes);
        }
    }

    #[test]
    fn reading_stops_at_the_deadline() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        let mut late = Deadline {
            inner: &bytes[..],
            deadline: Instant::now(),
        };
        let err = read_response(&mut late).unwrap_err();
        assert!(matches!(err, HttpError::Timeout(_)), "{err:?}");
    }

    #[test]
    fn idle_connections_are_probed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client_side = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        assert!(still_open(&client_side));
        drop(server_side);
        // The FIN arrives asynchronously; poll briefly.
        let mut closed = false;
        for _ in 0..100 {
            if !still_open(&client_side) {
                closed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(closed, "a connection the server closed is seen as closed");
    }

    #[test]
    fn refused_connections_are_connect_errors() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        let client = PlainHttpClient::new(&TransportOptions::default());
        let err = client
            .send(HttpRequest {
                url: &url,
                headers: &[],
                body: b"",
            })
            .unwrap_err();
        assert!(matches!(err, HttpError::Connect(_)), "{err:?}");
    }
}
