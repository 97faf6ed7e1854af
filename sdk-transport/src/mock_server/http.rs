//! A small HTTP/1.1 server side: reading requests (Content-Length and chunked bodies, `Expect:
//! 100-continue`), decoding `Content-Encoding`, writing responses. Only what the mock server
//! needs; every malformed input is an error value, never a panic.

use std::io::{self, BufRead, Read, Write};

/// Longest request head (request line and headers) accepted.
const MAX_HEAD: u64 = 64 * 1024;
/// Largest request body accepted on the wire.
pub(crate) const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest body accepted after decompression (Relay's envelope limit is 200 MiB).
const MAX_DECODED: u64 = 200 * 1024 * 1024;

/// The request line and headers of a request.
#[derive(Debug)]
pub(crate) struct Head {
    pub method: String,
    pub target: String,
    /// `true` for HTTP/1.1, `false` for HTTP/1.0.
    pub http11: bool,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether the connection stays open after this request.
    pub fn keep_alive(&self) -> bool {
        let connection = self.header("connection").map(str::to_ascii_lowercase);
        match connection.as_deref() {
            Some(value) if value.split(',').any(|t| t.trim() == "close") => false,
            Some(value) if value.split(',').any(|t| t.trim() == "keep-alive") => true,
            _ => self.http11,
        }
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    pub fn expects_continue(&self) -> bool {
        self.header("expect")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed the connection before sending a request (normal end of keep-alive).
    Closed,
    /// An I/O error (reset, timeout, shut down by `stop`).
    Io,
    /// The request is not valid HTTP/1.x; answer 400 with this reason and close.
    Bad(String),
    /// The body is larger than the server accepts; answer 413 and close.
    TooLarge,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// Reads one line (up to `\n`) of at most `limit` bytes, without the line ending.
fn read_line<R: BufRead>(reader: &mut R, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    let n = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        if (n as u64) >= limit {
            return Err(ReadError::Bad("request head too long".into()));
        }
        return Err(ReadError::Io);
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Reads the request line and headers.
pub(crate) fn read_head<R: BufRead>(reader: &mut R) -> Result<Head, ReadError> {
    let mut budget = MAX_HEAD;
    // Tolerate empty lines before the request line (RFC 9112 §2.2).
    let request_line = loop {
        match read_line(reader, budget)? {
            None => return Err(ReadError::Closed),
            Some(line) if line.is_empty() => budget = budget.saturating_sub(2),
            Some(line) => break line,
        }
        if budget == 0 {
            return Err(ReadError::Bad("request head too long".into()));
        }
    };
    budget = budget.saturating_sub(request_line.len() as u64 + 2);
    let request_line = String::from_utf8(request_line)
        .map_err(|_| ReadError::Bad("request line is not UTF-8".into()))?;
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => {
            return Err(ReadError::Bad(format!(
                "malformed request line `{request_line}`"
            )))
        }
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        other => {
            return Err(ReadError::Bad(format!(
                "unsupported HTTP version `{other}`"
            )))
        }
    };
    let mut headers = Vec::new();
    loop {
        if budget == 0 {
            return Err(ReadError::Bad("request head too long".into()));
        }
        let line = read_line(reader, budget)?.ok_or(ReadError::Io)?;
        budget = budget.saturating_sub(line.len() as u64 + 2);
        if line.is_empty() {
            break;
        }
        let line =
            String::from_utf8(line).map_err(|_| ReadError::Bad("header is not UTF-8".into()))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ReadError::Bad(format!("malformed header line `{line}`")))?;
        if name.is_empty() || name.trim() != name {
            return Err(ReadError::Bad(format!("malformed header name `{name}`")));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(Head {
        method: method.to_owned(),
        target: target.to_owned(),
        http11,
        headers,
    })
}

/// Reads the body that `head` announces (chunked or Content-Length; none otherwise).
pub(crate) fn read_body<R: BufRead>(reader: &mut R, head: &Head) -> Result<Vec<u8>, ReadError> {
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(reader);
    }
    let length = match head.header("content-length") {
        None => return Ok(Vec::new()),
        Some(value) => value
            .parse::<u64>()
            .map_err(|_| ReadError::Bad(format!("bad Content-Length `{value}`")))?,
    };
    if length > MAX_BODY as u64 {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::with_capacity(length as usize);
    let n = reader.by_ref().take(length).read_to_end(&mut body)?;
    if (n as u64) < length {
        return Err(ReadError::Io);
    }
    Ok(body)
}

fn read_chunked<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader, 1024)?.ok_or(ReadError::Io)?;
        let line =
            String::from_utf8(line).map_err(|_| ReadError::Bad("bad chunk size line".into()))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ReadError::Bad(format!("bad chunk size `{size_text}`")))?;
        if size == 0 {
            // Trailer section, up to an empty line.
            loop {
                let trailer = read_line(reader, MAX_HEAD)?.ok_or(ReadError::Io)?;
                if trailer.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::TooLarge);
        }
        let start = body.len();
        let n = reader.by_ref().take(size as u64).read_to_end(&mut body)?;
        if n < size {
            return Err(ReadError::Io);
        }
        debug_assert_eq!(body.len(), start + size);
        let end = read_line(reader, 2)?.ok_or(ReadError::Io)?;
        if !end.is_empty() {
            return Err(ReadError::Bad("chunk data not followed by CRLF".into()));
        }
    }
}

/// Undoes `Content-Encoding`. The error says why the body could not be decoded.
pub(crate) fn decode_body(encoding: Option<&str>, body: Vec<u8>) -> Result<Vec<u8>, String> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase());
    let mut out = Vec::new();
    let result = match encoding.as_deref() {
        None | Some("") | Some("identity") => return Ok(body),
        Some("gzip") | Some("x-gzip") => flate2::read::GzDecoder::new(&body[..])
            .take(MAX_DECODED + 1)
            .read_to_end(&mut out),
        Some("deflate") => flate2::read::ZlibDecoder::new(&body[..])
            .take(MAX_DECODED + 1)
            .read_to_end(&mut out),
        Some(other) => {
            return Err(format!(
                "unsupported Content-Encoding `{other}`: the mock server reads gzip and deflate"
            ))
        }
    };
    match result {
        Ok(_) if out.len() as u64 > MAX_DECODED => {
            Err("decompressed body is larger than 200 MiB".into())
        }
        Ok(_) => Ok(out),
        Err(err) => Err(format!(
            "body is not valid {} data: {err}",
            encoding.unwrap_or_default()
        )),
    }
}

/// The reason phrase of a status code.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Writes a response with a JSON or text body.
pub(crate) fn write_response<W: Write>(
    out: &mut W,
    status: u16,
    extra_headers: &[(String, String)],
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    for (name, value) in extra_headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    out.write_all(&bytes)?;
    out.flush()
}

/// Writes the interim `100 Continue` response.
pub(crate) fn write_continue<W: Write>(out: &mut W) -> io::Result<()> {
    out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read(raw: &[u8]) -> Result<(Head, Vec<u8>), ReadError> {
        let mut reader = Cursor::new(raw.to_vec());
        let head = read_head(&mut reader)?;
        let body = read_body(&mut reader, &head)?;
        Ok((head, body))
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let (head, body) =
            read(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.header("HOST"), Some("a"));
        assert!(head.keep_alive());
        assert_eq!(body, b"hello");
        let (_, body) = read(
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        )
        .unwrap();
        assert_eq!(body, b"hello world");
    }

    #[test]
    fn malformed_requests_are_errors() {
        assert!(matches!(read(b""), Err(ReadError::Closed)));
        assert!(matches!(read(b"GARBAGE\r\n\r\n"), Err(ReadError::Bad(_))));
        assert!(matches!(
            read(b"GET / HTTP/2\r\n\r\n"),
            Err(ReadError::Bad(_))
        ));
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Err(ReadError::Bad(_))
        ));
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"),
            Err(ReadError::TooLarge)
        ));
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(ReadError::Bad(_))
        ));
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort"),
            Err(ReadError::Io)
        ));
    }

    #[test]
    fn decodes_gzip_and_rejects_unknown_encodings() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"payload").unwrap();
        let gz = encoder.finish().unwrap();
        assert_eq!(decode_body(Some("gzip"), gz).unwrap(), b"payload");
        assert_eq!(decode_body(None, b"x".to_vec()).unwrap(), b"x");
        assert!(decode_body(Some("gzip"), b"not gzip".to_vec()).is_err());
        assert!(decode_body(Some("br"), b"x".to_vec())
            .unwrap_err()
            .contains("br"));
    }
}
