//! An in-process mock ingest server for development and tests (feature `mock-server`).
//!
//! [`MockServer::start`] binds `127.0.0.1:0` and serves `POST /api/{project}/envelope/` over a
//! small HTTP/1.1 server (keep-alive, Content-Length and chunked bodies, gzip and deflate
//! bodies), one thread per connection. It checks the key like Relay does (`X-Sentry-Auth`,
//! `Authorization: Sentry ...` or the `sentry_key` query parameter), parses each body with
//! [`crate::parse`] and keeps what arrived for the test to look at. Malformed envelopes get
//! `400` with the reason and stay visible in [`MockServer::rejected`].
//!
//! Faults can be switched on at any time, from any thread: a fixed status, extra response
//! headers (rate limits), a delay, a hang, dropped connections, and the server going down
//! ([`MockServer::stop`]) and coming back on the same port ([`MockServer::restart`]).
//!
//! This is for development and tests; production sends to sentry.io, a self-hosted Sentry or a
//! Relay.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use sdk_transport::MockServer;
//!
//! let server = MockServer::start();
//! let dsn: sdk_transport::Dsn = server.dsn().parse().unwrap();
//!
//! // Any HTTP client will do; here a raw request.
//! let body = b"{}\n{\"type\":\"event\",\"length\":18}\n{\"message\":\"boom\"}\n";
//! let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
//! write!(
//!     stream,
//!     "POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
//!     dsn.auth_header("test/1"),
//!     body.len()
//! )
//! .unwrap();
//! stream.write_all(body).unwrap();
//! let mut response = String::new();
//! stream.read_to_string(&mut response).unwrap();
//! assert!(response.starts_with("HTTP/1.1 200"));
//!
//! assert!(server.wait_for(1, Duration::from_secs(5)));
//! assert_eq!(server.events()[0]["message"], "boom");
//! println!("{}", server.summary());
//! ```

mod http;
mod summary;

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::envelope::{Envelope, EnvelopeItem, ItemType};
use crate::parse::parse_envelope;

/// The public key the mock server accepts unless told otherwise (32 characters, like Relay's).
pub const DEFAULT_KEY: &str = "0123456789abcdef0123456789abcdef";
/// The project id in the mock server's DSN.
pub const PROJECT_ID: &str = "1";

/// One HTTP request the server read, whatever became of it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// The request headers in the order they arrived.
    pub headers: Vec<(String, String)>,
    /// Body size on the wire (before decompression).
    pub body_len: usize,
    /// The status the server answered, or `None` when it dropped the connection or hung.
    pub status: Option<u16>,
}

impl RequestRecord {
    /// The first value of the header `name` (case-insensitive), e.g. `content-encoding`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A request the server refused: bad auth (401), wrong route (404/405), an undecodable body
/// (400/415) or a malformed envelope (400).
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The status the server answered.
    pub status: u16,
    /// Why, as sent in the response body.
    pub reason: String,
    /// The request's path.
    pub path: String,
    /// The decoded request body (empty when it could not be decoded).
    pub body: Vec<u8>,
}

/// How many more requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Times {
    Next(usize),
    Always,
}

impl Times {
    /// Uses one; `true` if the fault applied to this request.
    fn take(&mut self) -> bool {
        match self {
            Times::Always => true,
            Times::Next(0) => false,
            Times::Next(n) => {
                *n -= 1;
                true
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Faults {
    status: Option<(u16, Times)>,
    headers: Vec<(String, String)>,
    headers_times: Times,
    delay: Duration,
    hang: bool,
    drop_connections: Times,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            status: None,
            headers: Vec::new(),
            headers_times: Times::Next(0),
            delay: Duration::ZERO,
            hang: false,
            drop_connections: Times::Next(0),
        }
    }
}

struct State {
    /// Whether envelopes and request records are kept (counts always are).
    store: bool,
    envelopes: Vec<Envelope>,
    envelope_count: usize,
    item_counts: HashMap<String, usize>,
    requests: Vec<RequestRecord>,
    request_count: usize,
    rejected: Vec<Rejected>,
    faults: Faults,
    running: bool,
    /// Increases at every stop, so that hung and delayed requests of the old run give up.
    epoch: u64,
    connections: HashMap<u64, TcpStream>,
    connection_threads: Vec<JoinHandle<()>>,
    next_connection: u64,
}

impl State {
    fn new() -> State {
        State {
            store: true,
            envelopes: Vec::new(),
            envelope_count: 0,
            item_counts: HashMap::new(),
            requests: Vec::new(),
            request_count: 0,
            rejected: Vec::new(),
            faults: Faults::default(),
            running: false,
            epoch: 0,
            connections: HashMap::new(),
            connection_threads: Vec::new(),
            next_connection: 0,
        }
    }

    fn record_request(&mut self, record: RequestRecord) {
        self.request_count += 1;
        if self.store {
            self.requests.push(record);
        }
    }

    fn record_envelope(&mut self, envelope: Envelope) {
        self.envelope_count += 1;
        for item in &envelope.items {
            *self
                .item_counts
                .entry(item.item_type.as_str().to_owned())
                .or_default() += 1;
        }
        if self.store {
            self.envelopes.push(envelope);
        }
    }
}

struct Shared {
    key: String,
    addr: SocketAddr,
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Listening {
    stop: Arc<AtomicBool>,
    accept_thread: JoinHandle<()>,
}

/// The mock ingest server. Dropping it stops its threads.
pub struct MockServer {
    shared: Arc<Shared>,
    listening: Mutex<Option<Listening>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.shared.addr)
            .field("running", &self.is_running())
            .finish()
    }
}

impl MockServer {
    /// Starts a server on `127.0.0.1` with a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound (a broken test environment); use
    /// [`MockServer::try_start`] to handle that.
    pub fn start() -> MockServer {
        match MockServer::try_start() {
            Ok(server) => server,
            Err(err) => panic!("the mock server could not bind 127.0.0.1:0: {err}"),
        }
    }

    /// Starts a server on `127.0.0.1` with a free port, or says why it could not.
    pub fn try_start() -> io::Result<MockServer> {
        MockServer::try_start_with_key(DEFAULT_KEY)
    }

    /// Starts a server that accepts the public key `key`.
    pub fn try_start_with_key(key: &str) -> io::Result<MockServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            key: key.to_owned(),
            addr,
            state: Mutex::new(State::new()),
            changed: Condvar::new(),
        });
        let server = MockServer {
            shared,
            listening: Mutex::new(None),
        };
        server.listen(listener)?;
        Ok(server)
    }

    fn listen(&self, listener: TcpListener) -> io::Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::clone(&self.shared);
        let stop_flag = Arc::clone(&stop);
        shared.lock().running = true;
        let accept_thread = thread::Builder::new()
            .name("mock-server-accept".into())
            .spawn(move || accept_loop(listener, shared, stop_flag))?;
        *self
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Listening {
            stop,
            accept_thread,
        });
        Ok(())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The public key the server accepts.
    pub fn key(&self) -> &str {
        &self.shared.key
    }

    /// A DSN that points at this server: `http://KEY@127.0.0.1:PORT/1`.
    pub fn dsn(&self) -> String {
        format!(
            "http://{}@{}/{}",
            self.shared.key, self.shared.addr, PROJECT_ID
        )
    }

    /// The URL envelopes are posted to.
    pub fn envelope_url(&self) -> String {
        format!("http://{}/api/{}/envelope/", self.shared.addr, PROJECT_ID)
    }

    /// Whether the server is listening (not [stopped](MockServer::stop)).
    pub fn is_running(&self) -> bool {
        self.shared.lock().running
    }

    // ----- what arrived -------------------------------------------------------------------

    /// The envelopes accepted so far, in arrival order.
    pub fn envelopes(&self) -> Vec<Envelope> {
        self.shared.lock().envelopes.clone()
    }

    /// How many envelopes were accepted (counted even when not [stored](Self::set_store)).
    pub fn envelope_count(&self) -> usize {
        self.shared.lock().envelope_count
    }

    /// How many items of type `type_name` were accepted (counted even when not stored).
    pub fn item_count(&self, type_name: &str) -> usize {
        let name = ItemType::from_name(type_name);
        let state = self.shared.lock();
        state.item_counts.get(name.as_str()).copied().unwrap_or(0)
    }

    /// Whether envelopes and request records are kept (the default). Turn it off when the
    /// server shares a process with a benchmark that measures memory: envelopes are then
    /// parsed and counted ([`envelope_count`](Self::envelope_count),
    /// [`item_count`](Self::item_count), [`request_count`](Self::request_count), the
    /// `wait_for*` methods) but not kept.
    pub fn set_store(&self, store: bool) {
        self.shared.lock().store = store;
    }

    /// The items of type `type_name` (e.g. `"event"`) of all accepted envelopes.
    pub fn raw_items(&self, type_name: &str) -> Vec<EnvelopeItem> {
        let wanted = ItemType::from_name(type_name);
        self.shared
            .lock()
            .envelopes
            .iter()
            .flat_map(|e| e.items.iter())
            .filter(|item| item.item_type == wanted)
            .cloned()
            .collect()
    }

    /// The payloads of the items of type `type_name`, parsed as JSON. Items whose payload is
    /// not JSON (attachments, usually) are left out: use [`MockServer::raw_items`] for those.
    pub fn items(&self, type_name: &str) -> Vec<Value> {
        self.raw_items(type_name)
            .iter()
            .filter_map(|item| serde_json::from_slice(item.payload.as_bytes()?).ok())
            .collect()
    }

    /// Error and message events (`event` items).
    pub fn events(&self) -> Vec<Value> {
        self.items("event")
    }

    /// Transactions.
    pub fn transactions(&self) -> Vec<Value> {
        self.items("transaction")
    }

    /// Client reports.
    pub fn client_reports(&self) -> Vec<Value> {
        self.items("client_report")
    }

    /// The sum of the `quantity` of all client-report entries with this reason and category
    /// (e.g. `("queue_overflow", "error")`).
    pub fn discarded(&self, reason: &str, category: &str) -> u64 {
        self.client_reports()
            .iter()
            .filter_map(|report| report.get("discarded_events")?.as_array().cloned())
            .flatten()
            .filter(|entry| entry["reason"] == reason && entry["category"] == category)
            .filter_map(|entry| entry["quantity"].as_u64())
            .sum()
    }

    /// Every request the server read (answered, faulted or rejected), in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    /// How many requests the server read.
    pub fn request_count(&self) -> usize {
        self.shared.lock().request_count
    }

    /// The requests the server refused, with the reason it answered.
    pub fn rejected(&self) -> Vec<Rejected> {
        self.shared.lock().rejected.clone()
    }

    /// Waits until at least `count` envelopes were accepted, at most `timeout`. Returns whether
    /// they were.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |state| state.envelope_count >= count)
    }

    /// Waits until at least `count` items of type `type_name` were accepted, at most `timeout`.
    pub fn wait_for_items(&self, type_name: &str, count: usize, timeout: Duration) -> bool {
        let wanted = ItemType::from_name(type_name);
        self.wait_until(timeout, |state| {
            state.item_counts.get(wanted.as_str()).copied().unwrap_or(0) >= count
        })
    }

    /// Waits until at least `count` requests were read (whatever was answered), at most
    /// `timeout`.
    pub fn wait_for_requests(&self, count: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |state| state.request_count >= count)
    }

    fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&State) -> bool) -> bool {
        let deadline = crate::time::instant_after(Instant::now(), timeout);
        let mut state = self.shared.lock();
        loop {
            if done(&state) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Forgets what arrived (envelopes, requests, rejections and their counts). Faults stay
    /// as they are.
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        state.envelopes.clear();
        state.envelope_count = 0;
        state.item_counts.clear();
        state.requests.clear();
        state.request_count = 0;
        state.rejected.clear();
    }

    /// A short human-readable summary of what arrived: counts per item type, and one line per
    /// event (level, message or exception, tag count) and transaction.
    pub fn summary(&self) -> String {
        let state = self.shared.lock();
        summary::summarize(
            self.shared.addr,
            &state.envelopes,
            state.envelope_count,
            &state.item_counts,
            state.request_count,
            state.rejected.len(),
        )
    }

    // ----- faults -------------------------------------------------------------------------

    fn set_faults(&self, change: impl FnOnce(&mut Faults)) {
        let mut state = self.shared.lock();
        change(&mut state.faults);
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Answers the next `n` requests with `status` (and an empty JSON body) instead of
    /// processing them; their envelopes are not kept unless `status` is 2xx.
    pub fn respond_with_status(&self, status: u16, n: usize) {
        self.set_faults(|f| f.status = Some((status, Times::Next(n))));
    }

    /// Answers every request with `status` until [`MockServer::clear_faults`].
    pub fn always_respond_with_status(&self, status: u16) {
        self.set_faults(|f| f.status = Some((status, Times::Always)));
    }

    /// Adds these headers to the next `n` responses (whatever their status), e.g.
    /// `[("X-Sentry-Rate-Limits", "60:transaction:key")]` or `[("Retry-After", "5")]`.
    pub fn add_response_headers(&self, headers: &[(&str, &str)], n: usize) {
        let headers = headers
            .iter()
            .filter(|(name, value)| is_header_safe(name) && is_header_safe(value))
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        self.set_faults(|f| {
            f.headers = headers;
            f.headers_times = Times::Next(n);
        });
    }

    /// Waits `delay` before answering each request (zero: no delay).
    pub fn set_delay(&self, delay: Duration) {
        self.set_faults(|f| f.delay = delay);
    }

    /// When `true`, requests are read but never answered, until `set_hang(false)` (then they
    /// are answered) or [`MockServer::stop`] (then their connections are closed).
    pub fn set_hang(&self, hang: bool) {
        self.set_faults(|f| f.hang = hang);
    }

    /// Closes the connection without answering for the next `n` requests.
    pub fn drop_connections(&self, n: usize) {
        self.set_faults(|f| f.drop_connections = Times::Next(n));
    }

    /// Closes the connection without answering for every request until
    /// [`MockServer::clear_faults`].
    pub fn always_drop_connections(&self) {
        self.set_faults(|f| f.drop_connections = Times::Always);
    }

    /// Turns every fault off (status, headers, delay, hang, dropped connections).
    pub fn clear_faults(&self) {
        self.set_faults(|f| *f = Faults::default());
    }

    /// Takes the server down: stops listening (new connections are refused), closes open
    /// connections (hung requests included) and joins the server's threads. What arrived is
    /// kept. [`MockServer::restart`] brings it back on the same port.
    pub fn stop(&self) {
        let listening = self
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(listening) = listening {
            listening.stop.store(true, Ordering::SeqCst);
            // Wake the blocking accept(); the accept loop sees the flag and exits.
            let _ = TcpStream::connect_timeout(&self.shared.addr, Duration::from_secs(1));
            let _ = listening.accept_thread.join();
        }
        let threads = {
            let mut state = self.shared.lock();
            state.running = false;
            state.epoch += 1;
            for (_, stream) in state.connections.drain() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut state.connection_threads)
        };
        self.shared.changed.notify_all();
        for thread in threads {
            let _ = thread.join();
        }
    }

    /// Brings a [stopped](MockServer::stop) server back on the same port. Does nothing if it
    /// is running.
    pub fn restart(&self) -> io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.shared.addr)?;
        self.listen(listener)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Header names and values must not smuggle line breaks into the response.
fn is_header_safe(text: &str) -> bool {
    !text.contains(['\r', '\n'])
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                crate::sdk_debug!("mock server: accept failed: {err}");
                // Out of file descriptors and the like: back off briefly instead of spinning.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        let Ok(control) = stream.try_clone() else {
            continue;
        };
        let mut state = shared.lock();
        state.connection_threads.retain(|t| !t.is_finished());
        let id = state.next_connection;
        state.next_connection += 1;
        let epoch = state.epoch;
        state.connections.insert(id, control);
        let conn_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("mock-server-conn".into())
            .spawn(move || {
                serve_connection(&conn_shared, stream, epoch);
                conn_shared.lock().connections.remove(&id);
            });
        match spawned {
            Ok(handle) => state.connection_threads.push(handle),
            Err(_) => {
                if let Some(stream) = state.connections.remove(&id) {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

/// What the faults decided for one request.
struct Plan {
    drop_connection: bool,
    hang: bool,
    delay: Duration,
    status: Option<u16>,
    headers: Vec<(String, String)>,
}

fn serve_connection(shared: &Shared, stream: TcpStream, epoch: u64) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = BufWriter::new(write_half);
    loop {
        let head = match http::read_head(&mut reader) {
            Ok(head) => head,
            Err(http::ReadError::Bad(reason)) => {
                reject_unread(shared, &mut writer, 400, reason);
                return;
            }
            Err(_) => return,
        };
        if head.expects_continue() && http::write_continue(&mut writer).is_err() {
            return;
        }
        let body = match http::read_body(&mut reader, &head) {
            Ok(body) => body,
            Err(http::ReadError::Bad(reason)) => {
                reject_unread(shared, &mut writer, 400, reason);
                return;
            }
            Err(http::ReadError::TooLarge) => {
                let reason = format!("the body is larger than {} bytes", http::MAX_BODY);
                reject_unread(shared, &mut writer, 413, reason);
                return;
            }
            Err(_) => return,
        };
        let keep_alive = head.keep_alive();
        let (path, query) = match head.target.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (head.target.clone(), None),
        };
        let mut record = RequestRecord {
            method: head.method.clone(),
            path,
            query,
            headers: head.headers.clone(),
            body_len: body.len(),
            status: None,
        };

        let plan = {
            let mut state = shared.lock();
            if state.epoch != epoch {
                return;
            }
            let faults = &mut state.faults;
            Plan {
                drop_connection: faults.drop_connections.take(),
                hang: faults.hang,
                delay: faults.delay,
                status: None,
                headers: Vec::new(),
            }
        };
        if plan.drop_connection {
            record_request(shared, record);
            let _ = reader.get_ref().shutdown(Shutdown::Both);
            return;
        }
        if plan.hang {
            let state = shared.lock();
            let state = shared
                .changed
                .wait_while(state, |s| s.epoch == epoch && s.faults.hang)
                .unwrap_or_else(PoisonError::into_inner);
            if state.epoch != epoch {
                drop(state);
                record_request(shared, record);
                return;
            }
        }
        if !plan.delay.is_zero() {
            let deadline = crate::time::instant_after(Instant::now(), plan.delay);
            let mut state = shared.lock();
            while state.epoch == epoch {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                state = shared
                    .changed
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if state.epoch != epoch {
                return;
            }
        }
        // Status and header faults are taken when the answer is made, so that a hang or a
        // delay does not use them up early.
        let plan = {
            let mut state = shared.lock();
            let faults = &mut state.faults;
            let status = match &mut faults.status {
                Some((status, times)) => times.take().then_some(*status),
                None => None,
            };
            let headers = if faults.headers_times.take() {
                faults.headers.clone()
            } else {
                Vec::new()
            };
            Plan {
                status,
                headers,
                ..plan
            }
        };

        let (status, body) = match plan.status {
            Some(status) => {
                if (200..300).contains(&status) {
                    // A forced success still stores what it got, if it can.
                    let _ = process(shared, &head, &record, body);
                }
                (
                    status,
                    format!("{{\"detail\":\"mock server: forced status {status}\"}}"),
                )
            }
            None => match process(shared, &head, &record, body) {
                Ok(response) => (200, response),
                Err(status) => status,
            },
        };
        record.status = Some(status);
        record_request(shared, record);
        let content_type = "application/json";
        if http::write_response(
            &mut writer,
            status,
            &plan.headers,
            content_type,
            body.as_bytes(),
            keep_alive,
        )
        .is_err()
            || !keep_alive
        {
            return;
        }
    }
}

fn record_request(shared: &Shared, record: RequestRecord) {
    shared.lock().record_request(record);
    shared.changed.notify_all();
}

/// Answers a request whose head or body could not be read, records it, and gives up on the
/// connection.
fn reject_unread(shared: &Shared, writer: &mut BufWriter<TcpStream>, status: u16, reason: String) {
    {
        let mut state = shared.lock();
        state.record_request(RequestRecord {
            method: String::new(),
            path: String::new(),
            query: None,
            headers: Vec::new(),
            body_len: 0,
            status: Some(status),
        });
        state.rejected.push(Rejected {
            status,
            reason: reason.clone(),
            path: String::new(),
            body: Vec::new(),
        });
    }
    shared.changed.notify_all();
    let body = serde_json::json!({ "detail": reason }).to_string();
    let _ = http::write_response(
        writer,
        status,
        &[],
        "application/json",
        body.as_bytes(),
        false,
    );
}

/// Checks auth and route, decodes and parses the body, stores the envelope. Returns the
/// response body, or the error status and body (the rejection is recorded).
fn process(
    shared: &Shared,
    head: &http::Head,
    record: &RequestRecord,
    body: Vec<u8>,
) -> Result<String, (u16, String)> {
    let reject = |status: u16, reason: String, body: Vec<u8>| {
        shared.lock().rejected.push(Rejected {
            status,
            reason: reason.clone(),
            path: record.path.clone(),
            body,
        });
        shared.changed.notify_all();
        (status, serde_json::json!({ "detail": reason }).to_string())
    };

    match sentry_key(head, record.query.as_deref()) {
        None => {
            return Err(reject(
                401,
                "missing authentication: send `X-Sentry-Auth: Sentry sentry_key=<public key>, sentry_version=7`".into(),
                Vec::new(),
            ))
        }
        Some(key) if key != shared.key => {
            return Err(reject(
                401,
                format!("unknown public key `{key}`: use the DSN the mock server gives (`MockServer::dsn`)"),
                Vec::new(),
            ))
        }
        Some(_) => {}
    }
    let expected_path = format!("/api/{PROJECT_ID}/envelope/");
    if record.path != expected_path {
        return Err(reject(
            404,
            format!(
                "no endpoint at `{}`: envelopes go to POST {expected_path}",
                record.path
            ),
            Vec::new(),
        ));
    }
    if !head.method.eq_ignore_ascii_case("POST") {
        return Err(reject(
            405,
            format!(
                "method {} not allowed: envelopes are sent with POST",
                head.method
            ),
            Vec::new(),
        ));
    }
    let decoded = match http::decode_body(head.header("content-encoding"), body) {
        Ok(decoded) => decoded,
        Err(reason) => {
            let status = if reason.starts_with("unsupported") {
                415
            } else {
                400
            };
            return Err(reject(status, reason, Vec::new()));
        }
    };
    match parse_envelope(&decoded) {
        Ok(envelope) => {
            let response = match envelope.headers.event_id {
                Some(id) => format!("{{\"id\":\"{}\"}}", id.simple()),
                None => "{}".to_owned(),
            };
            shared.lock().record_envelope(envelope);
            shared.changed.notify_all();
            Ok(response)
        }
        Err(err) => Err(reject(400, format!("invalid envelope: {err}"), decoded)),
    }
}

/// The `sentry_key` of a request: from `X-Sentry-Auth`, `Authorization: Sentry ...`, or the
/// query string.
fn sentry_key(head: &http::Head, query: Option<&str>) -> Option<String> {
    for name in ["x-sentry-auth", "authorization"] {
        if let Some(value) = head.header(name) {
            let value = value.trim();
            let rest = value
                .get(..7)
                .filter(|prefix| prefix.eq_ignore_ascii_case("sentry "))
                .map(|_| &value[7..]);
            if let Some(rest) = rest {
                let key = rest.split(',').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    (k.trim() == "sentry_key").then(|| v.trim().to_owned())
                });
                if key.is_some() {
                    return key;
                }
            }
        }
    }
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "sentry_key").then(|| v.to_owned())
    })
}

#[cfg(test)]
mod tests;
