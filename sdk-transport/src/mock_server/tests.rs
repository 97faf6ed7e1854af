use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::*;

const WAIT: Duration = Duration::from_secs(10);

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn connect(server: &MockServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

fn auth(server: &MockServer) -> String {
    format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=test/1",
        server.key()
    )
}

fn write_request(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

/// Reads one response; `Err` when the connection ends (or times out) first.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Response> {
    let mut reader = BufReader::new(&*stream);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Response {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    })
}

fn post(server: &MockServer, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Response> {
    let mut stream = connect(server);
    write_request(&mut stream, "POST", "/api/1/envelope/", headers, body);
    read_response(&mut stream)
}

fn post_ok(server: &MockServer, body: &[u8]) -> Response {
    let auth = auth(server);
    post(server, &[("X-Sentry-Auth", &auth)], body).unwrap()
}

const EVENT: &[u8] = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
{\"type\":\"event\",\"length\":65}\n\
{\"level\":\"warning\",\"message\":\"disk almost full\",\"tags\":{\"a\":\"1\"}}\n";

#[test]
fn accepts_an_envelope_and_shows_what_arrived() {
    let server = MockServer::start();
    let auth = auth(&server);
    let response = post(
        &server,
        &[
            ("X-Sentry-Auth", &auth),
            ("User-Agent", "sentry.rust.sdk/0.1.0"),
        ],
        EVENT,
    )
    .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body,
        r#"{"id":"9ec79c33ec9942ab8353589fcb2e04dc"}"#
    );
    assert!(server.wait_for(1, WAIT));
    assert_eq!(server.envelope_count(), 1);
    let events = server.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"], "disk almost full");
    assert_eq!(server.items("event"), events);
    assert!(server.transactions().is_empty());
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("user-agent"),
        Some("sentry.rust.sdk/0.1.0")
    );
    assert_eq!(requests[0].status, Some(200));
    assert_eq!(server.request_count(), 1);

    let summary = server.summary();
    assert!(
        summary.contains("1 envelope(s) in 1 request(s), 0 rejected"),
        "{summary}"
    );
    assert!(summary.contains("items: event 1"), "{summary}");
    assert!(
        summary.contains("event warning: \"disk almost full\" (1 tag(s))"),
        "{summary}"
    );
}

#[test]
fn dsn_and_url_point_at_the_server() {
    let server = MockServer::start();
    let dsn: crate::Dsn = server.dsn().parse().unwrap();
    assert_eq!(dsn.envelope_url(), server.envelope_url());
    assert_eq!(dsn.public_key(), server.key());
    assert_eq!(dsn.port(), server.addr().port());
}

#[test]
fn wrong_or_missing_key_gets_401_with_a_message() {
    let server = MockServer::start();
    let missing = post(&server, &[], EVENT).unwrap();
    assert_eq!(missing.status, 401);
    assert!(missing.body.contains("X-Sentry-Auth"), "{}", missing.body);
    let wrong = post(
        &server,
        &[("X-Sentry-Auth", "Sentry sentry_key=nope, sentry_version=7")],
        EVENT,
    )
    .unwrap();
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("unknown public key `nope`"),
        "{}",
        wrong.body
    );
    assert_eq!(server.envelope_count(), 0);
    let rejected = server.rejected();
    assert_eq!(rejected.len(), 2);
    assert!(rejected.iter().all(|r| r.status == 401));

    // The query-string form and `Authorization: Sentry` are accepted too.
    let mut stream = connect(&server);
    let target = format!(
        "/api/1/envelope/?sentry_key={}&sentry_version=7",
        server.key()
    );
    write_request(&mut stream, "POST", &target, &[], EVENT);
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    let auth = auth(&server);
    let response = post(&server, &[("Authorization", &auth)], EVENT).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(server.envelope_count(), 2);
}

#[test]
fn gzip_bodies_are_accepted() {
    let server = MockServer::start();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(EVENT).unwrap();
    let gz = encoder.finish().unwrap();
    let auth = auth(&server);
    let response = post(
        &server,
        &[("X-Sentry-Auth", &auth), ("Content-Encoding", "gzip")],
        &gz,
    )
    .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(server.events()[0]["message"], "disk almost full");
    let request = &server.requests()[0];
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert_eq!(request.body_len, gz.len());

    // A body that claims gzip but is not is a 400 with the reason.
    let bad = post(
        &server,
        &[("X-Sentry-Auth", &auth), ("Content-Encoding", "gzip")],
        EVENT,
    )
    .unwrap();
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("gzip"), "{}", bad.body);
}

#[test]
fn chunked_bodies_keep_alive_and_100_continue() {
    let server = MockServer::start();
    let auth = auth(&server);
    let mut stream = connect(&server);
    let (first, second) = EVENT.split_at(40);
    let mut chunked = Vec::new();
    for part in [first, second] {
        chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        chunked.extend_from_slice(part);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    write_request(
        &mut stream,
        "POST",
        "/api/1/envelope/",
        &[("X-Sentry-Auth", &auth), ("Transfer-Encoding", "chunked")],
        &chunked,
    );
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    // Same connection, second request, with Expect: 100-continue.
    stream
        .write_all(
            format!(
                "POST /api/1/envelope/ HTTP/1.1\r\nX-Sentry-Auth: {auth}\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                EVENT.len()
            )
            .as_bytes(),
        )
        .unwrap();
    let interim = read_response(&mut stream).unwrap();
    assert_eq!(interim.status, 100);
    stream.write_all(EVENT).unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    assert_eq!(server.envelope_count(), 2);
}

#[test]
fn garbage_gets_400_and_is_kept_in_rejected() {
    let server = MockServer::start();
    let response = post_ok(&server, b"this is not an envelope");
    assert_eq!(response.status, 400);
    assert!(
        response.body.contains("not valid JSON"),
        "{}",
        response.body
    );
    let rejected = server.rejected();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].status, 400);
    assert!(rejected[0]
        .reason
        .starts_with("invalid envelope: the envelope header"));
    assert_eq!(rejected[0].body, b"this is not an envelope");
    assert_eq!(server.envelope_count(), 0);
    let summary = server.summary();
    assert!(
        summary.contains("0 envelope(s) in 1 request(s), 1 rejected"),
        "{summary}"
    );

    // Malformed HTTP gets a 400 too.
    let mut stream = connect(&server);
    stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 400);
    assert_eq!(server.rejected().len(), 2);
}

#[test]
fn wrong_route_and_method() {
    let server = MockServer::start();
    let auth = auth(&server);
    let mut stream = connect(&server);
    write_request(
        &mut stream,
        "POST",
        "/api/2/envelope/",
        &[("X-Sentry-Auth", &auth)],
        EVENT,
    );
    let response = read_response(&mut stream).unwrap();
    assert_eq!(response.status, 404);
    assert!(response.body.contains("/api/1/envelope/"));
    write_request(
        &mut stream,
        "GET",
        "/api/1/envelope/",
        &[("X-Sentry-Auth", &auth)],
        b"",
    );
    assert_eq!(read_response(&mut stream).unwrap().status, 405);
}

#[test]
fn fixed_status_for_the_next_n_requests() {
    let server = MockServer::start();
    server.respond_with_status(429, 2);
    assert_eq!(post_ok(&server, EVENT).status, 429);
    assert_eq!(post_ok(&server, EVENT).status, 429);
    assert_eq!(post_ok(&server, EVENT).status, 200);
    assert_eq!(server.envelope_count(), 1);
    assert_eq!(server.request_count(), 3);
    let statuses: Vec<_> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(429), Some(429), Some(200)]);

    server.always_respond_with_status(503);
    for _ in 0..3 {
        assert_eq!(post_ok(&server, EVENT).status, 503);
    }
    server.clear_faults();
    assert_eq!(post_ok(&server, EVENT).status, 200);
}

#[test]
fn response_headers_for_the_next_n_responses() {
    let server = MockServer::start();
    server.add_response_headers(
        &[
            ("X-Sentry-Rate-Limits", "60:transaction:key"),
            ("Retry-After", "5"),
        ],
        1,
    );
    let first = post_ok(&server, EVENT);
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("x-sentry-rate-limits"),
        Some("60:transaction:key")
    );
    assert_eq!(first.header("retry-after"), Some("5"));
    let second = post_ok(&server, EVENT);
    assert_eq!(second.header("x-sentry-rate-limits"), None);

    // Combined with a status, as Relay does for 429.
    server.respond_with_status(429, 1);
    server.add_response_headers(&[("Retry-After", "30")], 1);
    let limited = post_ok(&server, EVENT);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("30"));
}

#[test]
fn delay_holds_each_response() {
    let server = MockServer::start();
    server.set_delay(Duration::from_millis(150));
    let start = Instant::now();
    assert_eq!(post_ok(&server, EVENT).status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
    server.set_delay(Duration::ZERO);
    assert_eq!(post_ok(&server, EVENT).status, 200);
}

#[test]
fn hang_never_answers_until_released_or_stopped() {
    let server = MockServer::start();
    server.set_hang(true);
    let auth = auth(&server);
    let mut stream = connect(&server);
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    write_request(
        &mut stream,
        "POST",
        "/api/1/envelope/",
        &[("X-Sentry-Auth", &auth)],
        EVENT,
    );
    let err = read_response(&mut stream)
        .err()
        .expect("a hung server answers nothing");
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    assert_eq!(server.envelope_count(), 0);
    // Released: the waiting request is answered.
    server.set_hang(false);
    stream.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 200);

    // Hung again, then stopped: the connection is closed without an answer.
    server.set_hang(true);
    write_request(
        &mut stream,
        "POST",
        "/api/1/envelope/",
        &[("X-Sentry-Auth", &auth)],
        EVENT,
    );
    server.stop();
    assert!(read_response(&mut stream).is_err());
    assert_eq!(server.envelope_count(), 1);
}

#[test]
fn dropped_connections_get_no_answer() {
    let server = MockServer::start();
    server.drop_connections(1);
    let auth = auth(&server);
    assert!(post(&server, &[("X-Sentry-Auth", &auth)], EVENT).is_err());
    assert_eq!(post_ok(&server, EVENT).status, 200);
    assert_eq!(server.envelope_count(), 1);
    let statuses: Vec<_> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [None, Some(200)]);

    server.always_drop_connections();
    assert!(post(&server, &[("X-Sentry-Auth", &auth)], EVENT).is_err());
    assert!(post(&server, &[("X-Sentry-Auth", &auth)], EVENT).is_err());
    server.clear_faults();
    assert_eq!(post_ok(&server, EVENT).status, 200);
}

#[test]
fn stop_refuses_connections_and_restart_comes_back_on_the_same_port() {
    let server = MockServer::start();
    let addr = server.addr();
    assert_eq!(post_ok(&server, EVENT).status, 200);
    // A keep-alive connection open across the stop is closed by it.
    let auth = auth(&server);
    let mut open = connect(&server);
    write_request(
        &mut open,
        "POST",
        "/api/1/envelope/",
        &[("X-Sentry-Auth", &auth)],
        EVENT,
    );
    assert_eq!(read_response(&mut open).unwrap().status, 200);

    server.stop();
    assert!(!server.is_running());
    assert!(TcpStream::connect(addr).is_err());
    assert!(read_response(&mut open).is_err());
    server.stop(); // twice is fine

    server.restart().unwrap();
    assert!(server.is_running());
    assert_eq!(server.addr(), addr);
    assert_eq!(post_ok(&server, EVENT).status, 200);
    assert_eq!(server.envelope_count(), 3);
    server.restart().unwrap(); // running: nothing to do
}

#[test]
fn dropping_the_server_stops_it() {
    let server = MockServer::start();
    let addr = server.addr();
    // An idle keep-alive connection must not keep the server's threads alive.
    let _idle = connect(&server);
    drop(server);
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn wait_for_items_and_clear() {
    let server = MockServer::start();
    let body = b"{}\n{\"type\":\"client_report\"}\n{\"discarded_events\":[{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":3}]}\n\
{\"type\":\"attachment\",\"length\":3,\"filename\":\"a.bin\"}\n\x00\x01\x02\n";
    let waiter = {
        let addr = server.addr();
        let auth = auth(&server);
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            write_request(
                &mut stream,
                "POST",
                "/api/1/envelope/",
                &[("X-Sentry-Auth", &auth)],
                body,
            );
            read_response(&mut stream).unwrap().status
        })
    };
    assert!(server.wait_for_items("client_report", 1, WAIT));
    assert_eq!(waiter.join().unwrap(), 200);
    assert_eq!(server.discarded("queue_overflow", "error"), 3);
    assert_eq!(server.discarded("queue_overflow", "transaction"), 0);
    // Attachments are not JSON: only raw_items shows them.
    assert!(server.items("attachment").is_empty());
    let raw = server.raw_items("attachment");
    assert_eq!(raw[0].payload.as_bytes(), Some(&b"\x00\x01\x02"[..]));
    assert!(!server.wait_for_items("event", 1, Duration::from_millis(10)));
    server.clear();
    assert_eq!(server.envelope_count(), 0);
    assert_eq!(server.request_count(), 0);
}

#[test]
fn summary_describes_exceptions_and_transactions() {
    let server = MockServer::start();
    let event = br#"{"exception":{"values":[{"type":"io::Error","value":"root"},{"type":"app::Error","value":"could not save"}]},"tags":{"a":"1","b":"2"}}"#;
    let tx = br#"{"type":"transaction","transaction":"GET /users","spans":[{},{}]}"#;
    let mut body =
        format!("{{}}\n{{\"type\":\"event\",\"length\":{}}}\n", event.len()).into_bytes();
    body.extend_from_slice(event);
    body.extend_from_slice(
        format!("\n{{\"type\":\"transaction\",\"length\":{}}}\n", tx.len()).as_bytes(),
    );
    body.extend_from_slice(tx);
    assert_eq!(post_ok(&server, &body).status, 200);
    let summary = server.summary();
    assert!(
        summary.contains("items: event 1, transaction 1"),
        "{summary}"
    );
    assert!(
        summary.contains("event error: app::Error: could not save (2 tag(s))"),
        "{summary}"
    );
    assert!(
        summary.contains("transaction \"GET /users\" (2 span(s))"),
        "{summary}"
    );
}

#[test]
fn counting_only_mode_keeps_counts_not_envelopes() {
    let server = MockServer::start();
    server.set_store(false);
    for _ in 0..3 {
        assert_eq!(post_ok(&server, EVENT).status, 200);
    }
    assert!(server.wait_for(3, WAIT));
    assert!(server.wait_for_items("event", 3, WAIT));
    assert_eq!(server.envelope_count(), 3);
    assert_eq!(server.item_count("event"), 3);
    assert_eq!(server.request_count(), 3);
    assert!(server.envelopes().is_empty());
    assert!(server.requests().is_empty());
    assert!(server.summary().contains("items: event 3"));
    server.set_store(true);
    assert_eq!(post_ok(&server, EVENT).status, 200);
    assert_eq!(server.envelopes().len(), 1);
    assert_eq!(server.envelope_count(), 4);
}
