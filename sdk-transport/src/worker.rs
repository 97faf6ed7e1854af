//! The delivery worker: the one place that holds the delivery logic for every HTTP client.
//!
//! `send_envelope` pushes into a bounded queue under a short lock and returns. The worker's
//! threads ("sentry-transport", one per concurrent request) take envelopes, drop the items of
//! rate-limited categories, attach a pending client report, serialise into reused buffers with
//! `sent_at`, gzip large bodies, and send through the [`HttpClient`]. Failures are retried with
//! capped exponential backoff; while the network is failing, the worker pauses sending and, with
//! a spool configured, moves what waits in memory to disk in batches. Spooled envelopes are
//! re-sent when sending works again and on the next start.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::category::{DataCategory, DiscardReason};
use crate::client_report::{ClientReports, DiscardedCount};
use crate::envelope::{Envelope, ItemType};
use crate::gzip;
use crate::http::{HttpClient, HttpRequest, TransportError, TransportStats};
use crate::options::TransportOptions;
use crate::queue::BoundedQueue;
use crate::rate_limit::RateLimits;
use crate::retry::Outcome;
use crate::spool::Spool;
use crate::time::instant_after;

/// Most envelopes written to one spool file (one fsync) at a time.
const SPOOL_BATCH: usize = 256;

/// Most envelopes a sender thread writes to one spool file while shutting down: small, so that
/// a write under way when the deadline passes ends soon after it.
const SHUTDOWN_SPOOL_BATCH: usize = 32;

/// How long `shutdown` watches the senders before it judges whether the queue can drain in
/// time (at most; a tenth of the timeout when that is shorter).
const SHUTDOWN_PROBE: Duration = Duration::from_millis(100);

/// Time past the deadline allowed for spool writes under way and for spooling the copies of
/// requests that never answered.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(150);

/// An envelope from memory on its way.
#[derive(Debug)]
struct Job {
    envelope: Envelope,
    /// Attempts made so far.
    attempts: u32,
    /// Not before this instant (retries).
    due: Instant,
    /// The counts of the client report attached to the envelope, to put back if it is lost.
    report: Vec<DiscardedCount>,
    /// A client report must be attached even if the interval has not passed.
    force_report: bool,
}

impl Job {
    fn new(envelope: Envelope) -> Job {
        Job {
            envelope,
            attempts: 0,
            due: Instant::now(),
            report: Vec::new(),
            force_report: false,
        }
    }
}

/// What a worker thread does next.
enum Work {
    /// Send an envelope from memory.
    Send(Job),
    /// Write envelopes from memory to the spool.
    Spool(Vec<Job>),
    /// Re-send a spool file's envelopes.
    Drain(PathBuf, Vec<Envelope>),
}

/// The kind of work a thread finished (what `next_work` must account for).
#[derive(Clone, Copy)]
enum Finished {
    Send,
    Spool,
    Drain,
}

impl Work {
    fn kind(&self) -> Finished {
        match self {
            Work::Send(_) => Finished::Send,
            Work::Spool(_) => Finished::Spool,
            Work::Drain(..) => Finished::Drain,
        }
    }
}

struct State {
    queue: BoundedQueue,
    retry: Vec<Job>,
    /// Memory work taken by a thread and not finished (sending or spooling).
    in_flight: usize,
    /// Spool files being re-sent.
    draining: usize,
    idle_workers: usize,
    flush_waiters: usize,
    /// No sending before this instant (the network or the server is failing).
    paused_until: Option<Instant>,
    consecutive_failures: u32,
    /// Spool files are not drained before this instant (rate limits).
    spool_not_before: Option<Instant>,
    report_requested: bool,
    last_report: Instant,
    shutdown: bool,
    /// Shutdown judged that the queue cannot be sent in time: threads free to work write it
    /// to the spool.
    spool_all: bool,
    /// Spool writes under way on sender threads.
    spooling: usize,
    /// With a spool, a copy of the envelope each sender thread (by slot) is sending: a request
    /// that never answers is spooled from it when shutdown gives up waiting.
    sending: Vec<Option<Envelope>>,
    /// Slots whose request shutdown gave up on (and whose copy it spooled or counted): their
    /// thread must not spool or count the envelope again.
    abandoned: Vec<bool>,
    stop: bool,
}

impl State {
    /// Work held in memory: what shutdown waits for.
    fn memory_pending(&self) -> usize {
        self.queue.len() + self.retry.len() + self.in_flight + usize::from(self.report_requested)
    }

    fn is_paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|until| until > now)
    }
}

/// What the worker threads share with the transport.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Worker threads wait here for work.
    work: Condvar,
    /// `flush`/`shutdown` wait here for the work to finish.
    done: Condvar,
    pub(crate) reports: ClientReports,
    rate_limits: RateLimits,
    spool: Option<Spool>,
    options: TransportOptions,
    client: Arc<dyn HttpClient>,
    url: String,
    auth: String,
    delivered: AtomicU64,
    requests: AtomicU64,
    /// Requests that got an answer or failed (whatever the outcome): shutdown's measure of
    /// whether sending makes progress.
    answered: AtomicU64,
    /// Mirrors `consecutive_failures > 0`, so a success needs no lock when all is well.
    failing: AtomicBool,
}

/// The delivery worker: the shared state and its threads.
pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Buffers a worker thread reuses for every envelope.
#[derive(Default)]
struct Buffers {
    body: Vec<u8>,
    scratch: Vec<u8>,
    compressed: Vec<u8>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; recover the state rather than propagate.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_worker(&self, state: &State) {
        if state.idle_workers > 0 {
            self.work.notify_one();
        }
    }

    fn wake_waiters(&self, state: &State) {
        if state.flush_waiters > 0 {
            self.done.notify_all();
        }
    }

    fn report_due(&self, state: &State, now: Instant) -> bool {
        self.options.send_client_reports
            && self.reports.has_pending()
            && now.saturating_duration_since(state.last_report)
                >= self.options.client_report_interval
    }

    /// Marks the previous piece of work of the thread in `slot` finished and takes the next
    /// one, waiting for it, under one lock; `None` when the thread should exit.
    fn next_work(&self, finished: Option<Finished>, slot: usize) -> Option<Work> {
        let mut state = self.lock();
        match finished {
            Some(Finished::Drain) => state.draining -= 1,
            Some(Finished::Send) => {
                state.in_flight -= 1;
                if let Some(copy) = state.sending.get_mut(slot) {
                    *copy = None;
                }
            }
            Some(Finished::Spool) => {
                state.in_flight -= 1;
                state.spooling -= 1;
            }
            None => {}
        }
        if finished.is_some() {
            self.wake_waiters(&state);
        }
        loop {
            if state.stop {
                return None;
            }
            let now = Instant::now();
            let paused = state.is_paused(now);

            // With a spool, what waits in memory goes to disk when shutting down, and while
            // sending is paused after repeated failures (the network looks down; a single
            // failure is retried from memory).
            let offline = paused && state.consecutive_failures >= 2;
            if self.spool.is_some() && (offline || state.shutdown) {
                let mut batch: Vec<Job> = state.retry.drain(..).collect();
                if offline || state.spool_all {
                    let most = if state.shutdown {
                        SHUTDOWN_SPOOL_BATCH
                    } else {
                        SPOOL_BATCH
                    };
                    while batch.len() < most {
                        match state.queue.pop() {
                            Some(envelope) => batch.push(Job::new(envelope)),
                            None => break,
                        }
                    }
                }
                if !batch.is_empty() {
                    state.in_flight += 1;
                    state.spooling += 1;
                    return Some(Work::Spool(batch));
                }
            }

            if !paused {
                let due = state
                    .retry
                    .iter()
                    .enumerate()
                    .filter(|(_, job)| job.due <= now)
                    .min_by_key(|(_, job)| job.due)
                    .map(|(index, _)| index);
                if let Some(index) = due {
                    let job = state.retry.swap_remove(index);
                    return Some(self.start_sending(&mut state, job, slot));
                }
                if let Some(envelope) = state.queue.pop() {
                    return Some(self.start_sending(&mut state, Job::new(envelope), slot));
                }
                if state.report_requested || self.report_due(&state, now) {
                    state.report_requested = false;
                    if self.options.send_client_reports && self.reports.has_pending() {
                        state.in_flight += 1;
                        let mut job = Job::new(Envelope::new());
                        job.force_report = true;
                        return Some(Work::Send(job));
                    }
                    self.wake_waiters(&state);
                    continue;
                }
                if !state.shutdown
                    && state.spool_not_before.is_none_or(|at| at <= now)
                    && !self.rate_limits.is_all_limited(now)
                {
                    if let Some(path) = self.spool.as_ref().and_then(Spool::claim_oldest) {
                        state.draining += 1;
                        drop(state);
                        let loaded = self.spool.as_ref().map(|spool| spool.load(&path));
                        if let Some(Ok(envelopes)) = loaded {
                            return Some(Work::Drain(path, envelopes));
                        }
                        if let Some(Err(err)) = loaded {
                            crate::sdk_debug!("{err}");
                        }
                        state = self.lock();
                        state.draining -= 1;
                        self.wake_waiters(&state);
                        continue;
                    }
                }
            }

            // Sleep until something is due: the end of a pause, a retry, a spool drain, or the
            // next periodic look at pending client reports (new work and flushes notify).
            let idle_wait = self
                .options
                .client_report_interval
                .clamp(Duration::from_secs(1), Duration::from_secs(60));
            let mut wake_at = instant_after(now, idle_wait);
            if let Some(until) = state.paused_until.filter(|until| *until > now) {
                wake_at = wake_at.min(until);
            }
            if let Some(due) = state.retry.iter().map(|job| job.due).min() {
                wake_at = wake_at.min(due.max(now));
            }
            if let Some(at) = state.spool_not_before.filter(|at| *at > now) {
                wake_at = wake_at.min(at);
            }
            state.idle_workers += 1;
            let timeout = wake_at.saturating_duration_since(now);
            state = match self.work.wait_timeout(state, timeout) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
            state.idle_workers -= 1;
        }
    }

    /// Counts `job` in flight on the thread in `slot`; with a spool, keeps a copy of its
    /// envelope for shutdown (payloads are shared, not copied).
    fn start_sending(&self, state: &mut State, job: Job, slot: usize) -> Work {
        state.in_flight += 1;
        if self.spool.is_some() {
            if let Some(copy) = state.sending.get_mut(slot) {
                *copy = Some(job.envelope.clone());
            }
        }
        Work::Send(job)
    }

    /// Writes jobs to the spool as one file (or counts them lost without a spool).
    fn spool_jobs(&self, jobs: Vec<Job>, reason_without_spool: DiscardReason) {
        match &self.spool {
            Some(spool) => {
                let envelopes: Vec<&Envelope> = jobs.iter().map(|job| &job.envelope).collect();
                if let Err(err) = spool.store(&envelopes, &self.reports) {
                    crate::sdk_debug!("{err}");
                    for job in &jobs {
                        self.reports
                            .record_envelope(DiscardReason::InternalSdkError, &job.envelope);
                        self.reports.restore(&job.report);
                    }
                }
            }
            None => {
                for job in &jobs {
                    self.reports
                        .record_envelope(reason_without_spool, &job.envelope);
                    self.reports.restore(&job.report);
                }
            }
        }
    }

    /// A request succeeded or was answered for good: the network works.
    fn note_success(&self) {
        if !self.failing.load(Ordering::Relaxed) {
            return;
        }
        let mut state = self.lock();
        state.consecutive_failures = 0;
        state.paused_until = None;
        self.failing.store(false, Ordering::Relaxed);
    }

    /// A request failed in a way worth retrying: pause sending; returns the end of the pause.
    fn note_failure(&self, state: &mut State) -> Instant {
        self.failing.store(true, Ordering::Relaxed);
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        let pause = self
            .options
            .retry
            .backoff_with_jitter(state.consecutive_failures);
        let until = instant_after(Instant::now(), pause);
        let until = state.paused_until.map_or(until, |old| old.max(until));
        state.paused_until = Some(until);
        until
    }

    /// A 5xx with `Retry-After` (e.g. 503 during maintenance): no request before then, up to
    /// the retry policy's cap.
    fn honour_retry_after(&self, retry_after: Option<&str>) {
        let Some(wait) = retry_after
            .and_then(|value| crate::rate_limit::parse_retry_after(value, SystemTime::now()))
        else {
            return;
        };
        let until = instant_after(Instant::now(), wait.min(self.options.retry.cap));
        let mut state = self.lock();
        state.paused_until = Some(state.paused_until.map_or(until, |old| old.max(until)));
    }

    /// Serialises (with `sent_at`), compresses and sends one envelope. `None` when the
    /// envelope cannot be serialised.
    fn transmit(&self, envelope: &Envelope, buffers: &mut Buffers) -> Option<Outcome> {
        buffers.body.clear();
        // Payloads are written by other crates' code: a panic there costs this envelope, not
        // the sender thread.
        let written = panic::catch_unwind(AssertUnwindSafe(|| {
            envelope.write_to_with_scratch(
                &mut buffers.body,
                &mut buffers.scratch,
                Some(SystemTime::now()),
            )
        }));
        match written {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                crate::sdk_debug!("dropping an envelope that cannot be serialised: {err}");
                return None;
            }
            Err(_) => {
                crate::sdk_debug!("dropping an envelope whose payload panicked while serialising");
                return None;
            }
        }
        let compress = gzip::should_compress(buffers.body.len(), self.options.gzip_threshold)
            && gzip::compress_into(
                &buffers.body,
                self.options.gzip_level,
                &mut buffers.compressed,
            )
            .is_ok();
        let body: &[u8] = if compress {
            &buffers.compressed
        } else {
            &buffers.body
        };
        let headers: [(&str, &str); 4] = [
            ("X-Sentry-Auth", &self.auth),
            ("Content-Type", "application/x-sentry-envelope"),
            ("User-Agent", &self.options.user_agent),
            ("Content-Encoding", "gzip"),
        ];
        let header_count = if compress { 4 } else { 3 };
        let request = HttpRequest {
            url: &self.url,
            headers: &headers[..header_count],
            body,
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let answer = self.client.send(request);
        self.answered.fetch_add(1, Ordering::Relaxed);
        let outcome = match answer {
            Ok(response) => {
                self.rate_limits.update_from_response(
                    response.status,
                    response.rate_limits.as_deref(),
                    response.retry_after.as_deref(),
                    Instant::now(),
                );
                let outcome = Outcome::from_status(response.status);
                if outcome == Outcome::ServerError {
                    self.honour_retry_after(response.retry_after.as_deref());
                }
                if outcome != Outcome::Delivered {
                    crate::sdk_debug!(
                        "the server answered {} to an envelope of {} item(s); {}{}{}",
                        response.status,
                        envelope.items.len(),
                        match outcome {
                            Outcome::RateLimited => "rate limited, not retried",
                            Outcome::ServerError => "retrying",
                            _ => "rejected, not retried",
                        },
                        if response.detail.is_some() { ": " } else { "" },
                        response.detail.as_deref().unwrap_or("")
                    );
                }
                outcome
            }
            Err(err) => {
                crate::sdk_debug!("sending an envelope failed: {err}");
                Outcome::NetworkError
            }
        };
        if outcome == Outcome::Delivered {
            self.delivered.fetch_add(1, Ordering::Relaxed);
        }
        Some(outcome)
    }

    /// Drops (and counts) the items of rate-limited categories. As Relay applies limits, an
    /// `error` limit takes the whole envelope of a limited event and a `transaction` limit the
    /// whole envelope of a limited transaction (its attachments and profile are useless alone);
    /// client reports riding along are kept.
    fn drop_rate_limited(&self, envelope: &mut Envelope, now: Instant) {
        let limits = &self.rate_limits;
        let whole = envelope.items.iter().any(|item| {
            matches!(item.item_type, ItemType::Event | ItemType::Transaction)
                && limits.is_limited(item.category(), now)
        });
        let reports = &self.reports;
        envelope.items.retain(|item| {
            let limited = if whole {
                item.item_type != ItemType::ClientReport
            } else {
                limits.is_limited(item.category(), now)
            };
            if limited {
                reports.record_item(DiscardReason::RatelimitBackoff, item);
            }
            !limited
        });
    }

    /// Sends one envelope from memory and handles the outcome.
    fn send(&self, mut job: Job, buffers: &mut Buffers, slot: usize) {
        let now = Instant::now();
        self.drop_rate_limited(&mut job.envelope, now);
        let limits = &self.rate_limits;
        if job.envelope.is_empty() && (!job.force_report || limits.is_all_limited(now)) {
            return;
        }
        if job.report.is_empty() && self.options.send_client_reports {
            let attach = job.force_report
                || (self.reports.has_pending() && {
                    let state = self.lock();
                    self.report_due(&state, now)
                });
            if attach {
                if let Some((item, counts)) = self.reports.take_item() {
                    job.envelope.add_item(item);
                    job.report = counts;
                    self.lock().last_report = now;
                }
            }
        }
        if job.envelope.is_empty() {
            return;
        }
        job.attempts += 1;
        let Some(outcome) = self.transmit(&job.envelope, buffers) else {
            self.reports
                .record_envelope(DiscardReason::InternalSdkError, &job.envelope);
            self.reports.restore(&job.report);
            return;
        };
        match outcome {
            Outcome::Delivered => self.note_success(),
            Outcome::RateLimited => {
                // Relay counted the envelope; only our own report is put back.
                self.note_success();
                self.reports.restore(&job.report);
            }
            Outcome::Rejected => {
                self.note_success();
                self.reports
                    .record_envelope(DiscardReason::SendError, &job.envelope);
                self.reports.restore(&job.report);
            }
            Outcome::ServerError | Outcome::NetworkError => {
                let mut state = self.lock();
                let until = self.note_failure(&mut state);
                if state.abandoned.get(slot).copied().unwrap_or(false) {
                    // Shutdown gave up on this request and already spooled or counted a copy.
                    drop(state);
                    self.reports.restore(&job.report);
                    return;
                }
                // The job is handled here from now on: shutdown must not spool its copy too.
                if let Some(copy) = state.sending.get_mut(slot) {
                    *copy = None;
                }
                // After shutdown stopped the threads nothing retries: spool it or count it.
                let to_spool = (state.shutdown && self.spool.is_some()) || state.stop;
                if self.options.retry.should_retry(job.attempts) && !to_spool {
                    job.due = until;
                    state.retry.push(job);
                    return;
                }
                drop(state);
                let reason = if outcome == Outcome::ServerError {
                    DiscardReason::SendError
                } else {
                    DiscardReason::NetworkError
                };
                self.spool_jobs(vec![job], reason);
            }
        }
    }

    /// Re-sends the envelopes of a spool file in order. Delivered (or refused for good) ones
    /// leave the file; at the first failure, or a rate-limited item, the rest stays for later.
    fn drain(&self, path: PathBuf, envelopes: Vec<Envelope>, buffers: &mut Buffers) {
        let Some(spool) = &self.spool else {
            return;
        };
        let mut keep_from = None;
        for (index, envelope) in envelopes.iter().enumerate() {
            let now = Instant::now();
            if self.lock().stop {
                keep_from = Some(index);
                break;
            }
            let limited = envelope
                .items
                .iter()
                .filter_map(|item| self.rate_limits.limited_until(item.category(), now))
                .min();
            if let Some(until) = limited {
                self.lock().spool_not_before = Some(until);
                keep_from = Some(index);
                break;
            }
            match self.transmit(envelope, buffers) {
                None => self
                    .reports
                    .record_envelope(DiscardReason::InternalSdkError, envelope),
                Some(Outcome::Delivered | Outcome::RateLimited) => self.note_success(),
                Some(Outcome::Rejected) => {
                    self.note_success();
                    self.reports
                        .record_envelope(DiscardReason::SendError, envelope);
                }
                Some(Outcome::ServerError | Outcome::NetworkError) => {
                    self.note_failure(&mut self.lock());
                    keep_from = Some(index);
                    break;
                }
            }
        }
        match keep_from {
            None => spool.remove(&path),
            Some(0) => spool.release(&path),
            Some(index) => {
                let rest: Vec<&Envelope> = envelopes[index..].iter().collect();
                if let Err(err) = spool.replace(&path, &rest) {
                    // The old file stays: its delivered envelopes may be sent again.
                    crate::sdk_debug!("{err}");
                    spool.release(&path);
                }
            }
        }
    }

    fn run(&self, slot: usize) {
        let mut buffers = Buffers::default();
        let mut finished = None;
        while let Some(work) = self.next_work(finished, slot) {
            finished = Some(work.kind());
            // A panic (a bug, or an HTTP client's) must not kill the thread and leave its job
            // counted as in flight forever.
            let result = panic::catch_unwind(AssertUnwindSafe(|| match work {
                Work::Send(job) => self.send(job, &mut buffers, slot),
                Work::Spool(jobs) => self.spool_jobs(jobs, DiscardReason::NetworkError),
                Work::Drain(path, envelopes) => self.drain(path, envelopes, &mut buffers),
            }));
            if result.is_err() {
                crate::sdk_debug!("a transport thread recovered from a panic; one job was lost");
                self.reports
                    .record(DiscardReason::InternalSdkError, DataCategory::Default, 1);
                buffers = Buffers::default();
            }
            // Don't keep a huge buffer around after one big envelope.
            for buffer in [
                &mut buffers.body,
                &mut buffers.scratch,
                &mut buffers.compressed,
            ] {
                if buffer.capacity() > 1 << 20 {
                    *buffer = Vec::new();
                }
            }
        }
    }
}

impl Worker {
    /// Opens the spool (if any) and starts `options.concurrency` threads.
    pub(crate) fn start(
        url: String,
        auth: String,
        options: TransportOptions,
        client: Arc<dyn HttpClient>,
    ) -> Result<Worker, TransportError> {
        let spool = match &options.spool {
            Some(spool_options) => Some(Spool::open(spool_options)?),
            None => None,
        };
        let threads = options.concurrency.max(1);
        let state = State {
            queue: BoundedQueue::new(options.max_queue_envelopes, options.max_queue_bytes),
            retry: Vec::new(),
            in_flight: 0,
            draining: 0,
            idle_workers: 0,
            flush_waiters: 0,
            paused_until: None,
            consecutive_failures: 0,
            spool_not_before: None,
            report_requested: false,
            last_report: Instant::now(),
            shutdown: false,
            spool_all: false,
            spooling: 0,
            sending: vec![None; threads],
            abandoned: vec![false; threads],
            stop: false,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            work: Condvar::new(),
            done: Condvar::new(),
            reports: ClientReports::new(),
            rate_limits: RateLimits::new(),
            spool,
            options,
            client,
            url,
            auth,
            delivered: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        });
        let mut handles = Vec::with_capacity(threads);
        for slot in 0..threads {
            let shared = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(crate::diag::WORKER_THREAD_NAME.into())
                .spawn(move || shared.run(slot));
            match handle {
                Ok(handle) => handles.push(handle),
                Err(err) if handles.is_empty() => return Err(TransportError::Thread(err)),
                Err(err) => {
                    crate::sdk_debug!("fewer transport threads than asked: {err}");
                    break;
                }
            }
        }
        Ok(Worker {
            shared,
            threads: Mutex::new(handles),
        })
    }

    /// Queues an envelope; never blocks. A full queue (or a stopped worker) drops it, counted.
    pub(crate) fn enqueue(&self, envelope: Envelope) {
        if envelope.is_empty() {
            return;
        }
        let shared = &self.shared;
        let mut state = shared.lock();
        if state.shutdown {
            drop(state);
            crate::sdk_debug!("transport is shut down: dropping an envelope");
            shared
                .reports
                .record_envelope(DiscardReason::QueueOverflow, &envelope);
            return;
        }
        match state.queue.try_push(envelope) {
            Ok(()) => shared.wake_worker(&state),
            Err(envelope) => {
                drop(state);
                shared
                    .reports
                    .record_envelope(DiscardReason::QueueOverflow, &envelope);
            }
        }
    }

    /// Counters now.
    pub(crate) fn stats(&self) -> TransportStats {
        let state = self.shared.lock();
        TransportStats {
            queued: state.queue.len(),
            in_flight: state.in_flight + state.draining,
            retrying: state.retry.len(),
            spooled: self.shared.spool.as_ref().map_or(0, Spool::len),
            delivered: self.shared.delivered.load(Ordering::Relaxed),
            requests: self.shared.requests.load(Ordering::Relaxed),
        }
    }

    /// Waits until `done` holds or `deadline` passes; returns whether `done` held.
    fn wait_until(&self, deadline: Instant, done: impl Fn(&Shared, &State) -> bool) -> bool {
        let shared = &self.shared;
        let mut state = shared.lock();
        loop {
            if done(shared, &state) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state.flush_waiters += 1;
            // Wake at least every 50 ms: the spool's state is not behind this lock.
            let wait = deadline
                .saturating_duration_since(now)
                .min(Duration::from_millis(50));
            state = match shared.done.wait_timeout(state, wait) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
            state.flush_waiters -= 1;
        }
    }

    /// Sends a pending client report and waits until everything queued (and spooled) has been
    /// sent, at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = instant_after(Instant::now(), timeout);
        // Discards can happen while flushing (rate limits, send errors): a second round sends
        // their report too.
        for _ in 0..2 {
            self.request_report();
            let done = self.wait_until(deadline, |shared, state| {
                state.memory_pending() == 0
                    && state.draining == 0
                    && shared.spool.as_ref().is_none_or(Spool::is_empty)
            });
            if !done {
                return false;
            }
            if !self.report_pending() {
                return true;
            }
        }
        !self.report_pending()
    }

    /// Whether a client report is waiting that could be sent now.
    fn report_pending(&self) -> bool {
        self.shared.options.send_client_reports
            && self.shared.reports.has_pending()
            && !self.shared.rate_limits.is_all_limited(Instant::now())
    }

    /// Asks a worker thread to send the pending client report now.
    fn request_report(&self) {
        let mut state = self.shared.lock();
        if self.report_pending() {
            state.report_requested = true;
        }
        if state.idle_workers > 0 {
            self.shared.work.notify_all();
        }
    }

    /// Drains within `timeout`; what is left in memory then goes to the spool (if any) or is
    /// counted lost. Returns whether everything was delivered or spooled.
    ///
    /// With a spool, writing to disk happens during the timeout, not after it: when sending
    /// fails or makes too little progress for the queue to drain in time, the queue is moved
    /// to the spool in batches sized to the time left. Shutdown then returns within the
    /// timeout plus [`SHUTDOWN_GRACE`]; what could not be written by then is counted.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        let deadline = instant_after(start, timeout);
        {
            let mut state = self.shared.lock();
            if state.stop {
                return state.memory_pending() == 0;
            }
            state.shutdown = true;
            if self.report_pending() {
                state.report_requested = true;
            }
            self.shared.work.notify_all();
        }
        if self.shared.spool.is_some() {
            return self.shutdown_to_spool(start, deadline, timeout);
        }
        let mut drained = self.wait_until(deadline, |_, state| state.memory_pending() == 0);
        if drained && self.report_pending() {
            self.request_report();
            drained = self.wait_until(deadline, |_, state| state.memory_pending() == 0);
        }
        let left = self.stop_and_take();
        let all_safe = drained && left.is_empty();
        for batch in left.chunks(SPOOL_BATCH) {
            let envelopes: Vec<&Envelope> = batch.iter().map(|job| &job.envelope).collect();
            self.spool_or_count(&envelopes, batch);
        }
        if drained {
            self.join_threads();
        }
        all_safe
    }

    /// The threads are idle or exiting: reap them so nothing outlives the transport.
    fn join_threads(&self) {
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        for handle in threads.drain(..) {
            let _ = handle.join();
        }
    }

    /// Shutdown with a spool configured (see [`Worker::shutdown`]).
    fn shutdown_to_spool(&self, start: Instant, deadline: Instant, timeout: Duration) -> bool {
        let shared = &self.shared;
        let pending = |_: &Shared, state: &State| state.memory_pending() == 0;
        let answered_at_start = shared.answered.load(Ordering::Relaxed);
        let mut meter = SpoolMeter::default();
        let mut spooling = false;
        let mut lost = 0;

        // Watch the senders briefly, then judge from their progress.
        let probe_end = instant_after(start, SHUTDOWN_PROBE.min(timeout / 10)).min(deadline);
        let mut drained = self.wait_until(probe_end, pending);
        while !drained {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let (waiting, paused) = {
                let state = shared.lock();
                (state.queue.len() + state.retry.len(), state.is_paused(now))
            };
            if !spooling && waiting > 0 {
                let answered = shared.answered.load(Ordering::Relaxed) - answered_at_start;
                let per_second =
                    answered as f64 / now.duration_since(start).as_secs_f64().max(1e-3);
                // Half the time left, to leave room for writing what does not get sent.
                let can_send = per_second * deadline.duration_since(now).as_secs_f64() / 2.0;
                if paused || waiting as f64 > can_send {
                    crate::sdk_debug!(
                        "shutdown: {waiting} envelope(s) cannot be sent in time \
                         ({answered} answer(s) so far); writing them to the spool"
                    );
                    spooling = true;
                    let mut state = shared.lock();
                    state.spool_all = true;
                    shared.work.notify_all();
                }
            }
            if spooling && waiting > 0 {
                let fits = meter.fits(deadline.saturating_duration_since(now));
                let jobs = self.take_jobs(fits.min(SPOOL_BATCH));
                if !jobs.is_empty() {
                    let count = jobs.len();
                    let began = Instant::now();
                    shared.spool_jobs(jobs, DiscardReason::NetworkError);
                    meter.record(count, began.elapsed());
                    drained = pending(shared, &shared.lock());
                    continue;
                }
            }
            let slice_end = instant_after(now, Duration::from_millis(50)).min(deadline);
            drained = self.wait_until(slice_end, pending);
        }
        if drained && self.report_pending() {
            self.request_report();
            drained = self.wait_until(deadline, pending);
        }

        let left = self.stop_and_take();
        // Spool writes under way on sender threads are small batches: wait for them briefly.
        let grace_end = instant_after(deadline.max(Instant::now()), SHUTDOWN_GRACE);
        self.wait_until(grace_end, |_, state| state.spooling == 0);
        let mut rest = left;
        if !drained {
            rest.extend(self.abandon_in_flight());
        }
        if !rest.is_empty() {
            lost += self.spool_until(rest, grace_end, &mut meter);
        }
        if drained {
            self.join_threads();
        }
        lost == 0
    }

    /// Takes up to `most` jobs waiting for a retry or in the queue.
    fn take_jobs(&self, most: usize) -> Vec<Job> {
        let mut state = self.shared.lock();
        let from_retry = state.retry.len().min(most);
        let mut jobs: Vec<Job> = state.retry.drain(..from_retry).collect();
        while jobs.len() < most {
            match state.queue.pop() {
                Some(envelope) => jobs.push(Job::new(envelope)),
                None => break,
            }
        }
        jobs
    }

    /// Gives up on the requests in flight (a server that never answers): returns copies of
    /// their envelopes, and marks their threads so that they neither spool nor count them
    /// again. A request that does get answered later may then also arrive from the spool
    /// (at least once; the server deduplicates events by id).
    fn abandon_in_flight(&self) -> Vec<Job> {
        let mut state = self.shared.lock();
        let state = &mut *state;
        let mut jobs = Vec::new();
        for (copy, abandoned) in state.sending.iter_mut().zip(state.abandoned.iter_mut()) {
            if let Some(envelope) = copy.take() {
                *abandoned = true;
                jobs.push(Job::new(envelope));
            }
        }
        jobs
    }

    /// Writes `jobs` to the spool in batches while they fit before `until` (by the measured
    /// cost per envelope); counts the rest as `network_error`. Returns how many were counted.
    fn spool_until(&self, mut jobs: Vec<Job>, until: Instant, meter: &mut SpoolMeter) -> usize {
        let shared = &self.shared;
        while !jobs.is_empty() {
            let fits = meter
                .fits(until.saturating_duration_since(Instant::now()))
                .min(SPOOL_BATCH)
                .min(jobs.len());
            if fits == 0 {
                break;
            }
            let batch: Vec<Job> = jobs.drain(..fits).collect();
            let began = Instant::now();
            shared.spool_jobs(batch, DiscardReason::NetworkError);
            meter.record(fits, began.elapsed());
        }
        if !jobs.is_empty() {
            crate::sdk_debug!(
                "shutdown: no time left to spool {} envelope(s); counted as lost",
                jobs.len()
            );
        }
        for job in &jobs {
            shared
                .reports
                .record_envelope(DiscardReason::NetworkError, &job.envelope);
            shared.reports.restore(&job.report);
        }
        jobs.len()
    }

    /// Stops the threads and takes what is still queued or waiting for a retry.
    fn stop_and_take(&self) -> Vec<Job> {
        let mut state = self.shared.lock();
        state.stop = true;
        state.report_requested = false;
        let mut left: Vec<Job> = state.retry.drain(..).collect();
        while let Some(envelope) = state.queue.pop() {
            left.push(Job::new(envelope));
        }
        self.shared.work.notify_all();
        self.shared.wake_waiters(&state);
        left
    }

    fn spool_or_count(&self, envelopes: &[&Envelope], jobs: &[Job]) {
        let shared = &self.shared;
        let stored = match &shared.spool {
            Some(spool) => match spool.store(envelopes, &shared.reports) {
                Ok(()) => true,
                Err(err) => {
                    crate::sdk_debug!("{err}");
                    false
                }
            },
            None => false,
        };
        if !stored {
            for job in jobs {
                shared
                    .reports
                    .record_envelope(DiscardReason::NetworkError, &job.envelope);
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.shared.lock().stop {
            return;
        }
        // Dropped without shutdown: stop the threads; what is queued (and the copies of
        // requests in flight) goes to the spool, for at most a second, when one is configured;
        // else it is counted lost.
        let mut left = self.stop_and_take();
        if self.shared.spool.is_some() {
            left.extend(self.abandon_in_flight());
            let until = instant_after(Instant::now(), Duration::from_secs(1));
            self.spool_until(left, until, &mut SpoolMeter::default());
            return;
        }
        for batch in left.chunks(SPOOL_BATCH) {
            let envelopes: Vec<&Envelope> = batch.iter().map(|job| &job.envelope).collect();
            self.spool_or_count(&envelopes, batch);
        }
    }
}

/// What writing to the spool costs per envelope, measured, to size batches to the time left.
#[derive(Default)]
struct SpoolMeter {
    per_envelope: Option<Duration>,
}

impl SpoolMeter {
    /// Envelopes that can be written within `budget` (a small first batch before any
    /// measurement).
    fn fits(&self, budget: Duration) -> usize {
        if budget.is_zero() {
            return 0;
        }
        match self.per_envelope {
            None => 16,
            Some(cost) => {
                let cost = cost.max(Duration::from_micros(1));
                // 80% of the budget: one file's fsync does not scale with its envelopes.
                (budget.as_secs_f64() * 0.8 / cost.as_secs_f64()) as usize
            }
        }
    }

    /// Notes that writing `count` envelopes took `took`; a slower batch counts fully, a
    /// faster one half.
    fn record(&mut self, count: usize, took: Duration) {
        let Ok(count) = u32::try_from(count.max(1)) else {
            return;
        };
        let cost = took / count;
        self.per_envelope = Some(match self.per_envelope {
            Some(old) if old > cost => (old + cost) / 2,
            _ => cost,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::io::Read;

    use super::*;
    use crate::category::DataCategory;
    use crate::envelope::{EnvelopeItem, ItemType, Payload};
    use crate::http::{HttpError, HttpResponse, HttpTransport};
    use crate::options::{RetryPolicy, SpoolOptions};
    use crate::transport::Transport;
    use crate::Dsn;

    /// A request as the fake server saw it.
    #[derive(Debug, Clone)]
    struct Seen {
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        fn item_types(&self) -> Vec<String> {
            self.body
                .lines()
                .skip(1)
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter_map(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
                .collect()
        }
    }

    /// An HTTP client with scripted answers that records what it was sent.
    #[derive(Default)]
    struct FakeClient {
        script: Mutex<VecDeque<Result<HttpResponse, HttpError>>>,
        fallback: Mutex<Option<Result<HttpResponse, HttpError>>>,
        seen: Mutex<Vec<Seen>>,
        /// While true, requests block (a server that never answers).
        hang: Mutex<bool>,
        hang_cv: Condvar,
    }

    impl FakeClient {
        fn new() -> Arc<FakeClient> {
            Arc::new(FakeClient::default())
        }

        fn answer(&self, responses: impl IntoIterator<Item = Result<HttpResponse, HttpError>>) {
            self.script.lock().unwrap().extend(responses);
        }

        fn always(&self, response: Result<HttpResponse, HttpError>) {
            *self.fallback.lock().unwrap() = Some(response);
        }

        fn set_hang(&self, hang: bool) {
            *self.hang.lock().unwrap() = hang;
            self.hang_cv.notify_all();
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl HttpClient for FakeClient {
        fn send(&self, request: HttpRequest<'_>) -> Result<HttpResponse, HttpError> {
            let gzipped = request
                .headers
                .iter()
                .any(|(n, v)| *n == "Content-Encoding" && *v == "gzip");
            let body = if gzipped {
                let mut out = String::new();
                flate2::read::GzDecoder::new(request.body)
                    .read_to_string(&mut out)
                    .expect("gzip body");
                out
            } else {
                String::from_utf8_lossy(request.body).into_owned()
            };
            self.seen.lock().unwrap().push(Seen {
                headers: request
                    .headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                body,
            });
            let mut hang = self.hang.lock().unwrap();
            while *hang {
                hang = self.hang_cv.wait(hang).unwrap();
            }
            drop(hang);
            if let Some(response) = self.script.lock().unwrap().pop_front() {
                return response;
            }
            self.fallback
                .lock()
                .unwrap()
                .clone()
                .unwrap_or(Ok(HttpResponse::status(200)))
        }
    }

    fn dsn() -> Dsn {
        "http://public@127.0.0.1:9/1".parse().unwrap()
    }

    fn fast_retry(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            jitter: 0.0,
        }
    }

    fn options() -> TransportOptions {
        TransportOptions::default()
            .retry(fast_retry(3))
            .concurrency(1)
    }

    fn event(text: &str) -> Envelope {
        let mut envelope = Envelope::with_event_id(uuid::Uuid::new_v4());
        envelope.add_item(EnvelopeItem::new(
            ItemType::Event,
            Payload::bytes(format!("{{\"message\":\"{text}\"}}")),
        ));
        envelope
    }

    fn transaction_with_spans(spans: u32) -> EnvelopeItem {
        let mut item = EnvelopeItem::new(ItemType::Transaction, Payload::bytes("{}"));
        item.span_count = spans;
        item
    }

    fn wait_for(what: &str, condition: impl Fn() -> bool) {
        for _ in 0..2_000 {
            if condition() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("timed out waiting for {what}");
    }

    fn temp_dir(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "sdk-worker-test-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ))
    }

    /// Caller-side cost of `send_envelope` with the senders busy (a measurement: run with
    /// `cargo test --release -p sdk-transport --lib enqueue_cost -- --ignored --nocapture`).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn enqueue_cost() {
        let client = FakeClient::new();
        client.set_hang(true);
        let options = options().concurrency(4).queue_limits(200_000, usize::MAX);
        let transport = HttpTransport::new(&dsn(), options, client.clone()).expect("transport");
        let envelopes: Vec<Envelope> = (0..100_000).map(|_| event("x")).collect();
        let start = Instant::now();
        for envelope in envelopes {
            transport.send_envelope(envelope);
        }
        let elapsed = start.elapsed();
        println!(
            "send_envelope: {:.0} ns/op over 100,000 (queue {})",
            elapsed.as_nanos() as f64 / 100_000.0,
            transport.stats().queued
        );
        client.set_hang(false);
    }

    /// A payload whose serialisation panics.
    struct Exploding;

    impl crate::envelope::ItemPayload for Exploding {
        fn write_to(&self, _out: &mut Vec<u8>) -> Result<(), crate::envelope::PayloadError> {
            panic!("payload bug")
        }
        fn size_hint(&self) -> usize {
            10
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    #[test]
    fn a_panicking_payload_costs_its_envelope_only() {
        let client = FakeClient::new();
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        let mut bad = Envelope::new();
        bad.add_item(EnvelopeItem::lazy_json(ItemType::Event, Exploding));
        transport.send_envelope(bad);
        transport.send_envelope(event("fine"));
        assert!(transport.flush(Duration::from_secs(10)));
        assert_eq!(
            transport.discarded_count(DiscardReason::InternalSdkError, DataCategory::Error),
            1
        );
        let seen = client.seen();
        assert!(seen[0].body.contains("fine"));
        assert!(seen[1].body.contains("internal_sdk_error"));
    }

    #[test]
    fn delivers_with_auth_sent_at_and_user_agent() {
        let client = FakeClient::new();
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        for n in 0..5 {
            transport.send_envelope(event(&format!("hello {n}")));
        }
        assert!(transport.flush(Duration::from_secs(10)));
        let seen = client.seen();
        assert_eq!(seen.len(), 5);
        let first = &seen[0];
        assert!(first
            .header("X-Sentry-Auth")
            .unwrap()
            .starts_with("Sentry sentry_key=public, sentry_version=7"));
        assert_eq!(
            first.header("Content-Type"),
            Some("application/x-sentry-envelope")
        );
        assert!(first
            .header("User-Agent")
            .unwrap()
            .starts_with("sentry.rust.sdk/"));
        assert_eq!(first.header("Content-Encoding"), None);
        let header: serde_json::Value =
            serde_json::from_str(first.body.lines().next().unwrap()).unwrap();
        assert!(header["sent_at"].as_str().unwrap().ends_with('Z'));
        assert!(first.body.contains("hello 0"));
        assert_eq!(transport.stats().delivered, 5);
        assert!(transport.shutdown(Duration::from_secs(5)));
    }

    #[test]
    fn full_queue_drops_and_counts_by_category() {
        let client = FakeClient::new();
        client.set_hang(true);
        let options = options().queue_limits(3, usize::MAX);
        let transport = HttpTransport::new(&dsn(), options, client.clone()).unwrap();
        transport.send_envelope(event("in flight"));
        wait_for("the first request", || client.seen().len() == 1);
        for n in 0..5 {
            let mut envelope = event(&format!("queued {n}"));
            envelope.add_item(EnvelopeItem::new(
                ItemType::Attachment,
                Payload::bytes(vec![7u8; 100]),
            ));
            envelope.add_item(transaction_with_spans(2));
            transport.send_envelope(envelope);
        }
        assert_eq!(transport.stats().queued, 3);
        let dropped = |category| transport.discarded_count(DiscardReason::QueueOverflow, category);
        assert_eq!(dropped(DataCategory::Error), 2);
        assert_eq!(dropped(DataCategory::Attachment), 200);
        assert_eq!(dropped(DataCategory::Transaction), 2);
        assert_eq!(dropped(DataCategory::Span), 6);
        client.set_hang(false);
        assert!(transport.flush(Duration::from_secs(10)));
        // 1 + 3 envelopes, then the client report on flush.
        let seen = client.seen();
        assert_eq!(seen.len(), 5);
        let report = seen.last().unwrap();
        assert_eq!(report.item_types(), vec!["client_report"]);
        assert!(
            report
                .body
                .contains(r#"{"category":"error","quantity":2,"reason":"queue_overflow"}"#)
                || report.body.contains(r#""reason":"queue_overflow""#)
        );
    }

    #[test]
    fn large_bodies_are_gzipped() {
        let client = FakeClient::new();
        let transport = HttpTransport::new(&dsn(), options().gzip(300, 6), client.clone()).unwrap();
        transport.send_envelope(event("small"));
        transport.send_envelope(event(&"x".repeat(500)));
        assert!(transport.flush(Duration::from_secs(10)));
        let seen = client.seen();
        assert_eq!(seen[0].header("Content-Encoding"), None);
        assert!(seen[0].body.contains("small"));
        assert_eq!(seen[1].header("Content-Encoding"), Some("gzip"));
        assert!(
            seen[1].body.contains(&"x".repeat(500)),
            "decompresses to the envelope"
        );
    }

    #[test]
    fn rate_limited_items_are_dropped_and_the_rest_sent() {
        let client = FakeClient::new();
        client.answer([Ok(HttpResponse {
            status: 200,
            rate_limits: Some("60:transaction;session:key".into()),
            retry_after: None,
            ..HttpResponse::default()
        })]);
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        transport.send_envelope(event("first"));
        assert!(transport.flush(Duration::from_secs(10)));
        let mut mixed = event("second");
        mixed.add_item(EnvelopeItem::new(ItemType::Session, Payload::bytes("{}")));
        transport.send_envelope(mixed);
        let mut only_transaction = Envelope::new();
        only_transaction.add_item(transaction_with_spans(3));
        transport.send_envelope(only_transaction);
        assert!(transport.flush(Duration::from_secs(10)));
        let seen = client.seen();
        assert_eq!(seen[1].item_types(), vec!["event"]);
        assert!(seen[1].body.contains("second"));
        let dropped =
            |category| transport.discarded_count(DiscardReason::RatelimitBackoff, category);
        assert_eq!(dropped(DataCategory::Session), 1);
        assert_eq!(dropped(DataCategory::Transaction), 1);
        assert_eq!(dropped(DataCategory::Span), 4);
        assert_eq!(dropped(DataCategory::Error), 0);
        // Request 3 is the client report: the transaction-only envelope was never sent.
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[2].item_types(), vec!["client_report"]);
    }

    #[test]
    fn a_limited_event_takes_its_attachments_along() {
        let client = FakeClient::new();
        client.answer([Ok(HttpResponse {
            status: 200,
            rate_limits: Some("60:error:key".into()),
            retry_after: None,
            ..HttpResponse::default()
        })]);
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        transport.send_envelope(event("sets the limit"));
        assert!(transport.flush(Duration::from_secs(10)));
        let mut with_attachment = event("limited");
        with_attachment.add_item(EnvelopeItem::new(
            ItemType::Attachment,
            Payload::bytes(vec![1u8; 50]),
        ));
        transport.send_envelope(with_attachment);
        let mut attachment_only = Envelope::new();
        attachment_only.add_item(EnvelopeItem::new(
            ItemType::Attachment,
            Payload::bytes(vec![2u8; 10]),
        ));
        transport.send_envelope(attachment_only);
        assert!(transport.flush(Duration::from_secs(10)));
        let dropped =
            |category| transport.discarded_count(DiscardReason::RatelimitBackoff, category);
        assert_eq!(dropped(DataCategory::Error), 1);
        assert_eq!(dropped(DataCategory::Attachment), 50);
        let seen = client.seen();
        // The lone attachment is not limited; then the report.
        assert_eq!(seen[1].item_types(), vec!["attachment"]);
        assert_eq!(seen[2].item_types(), vec!["client_report"]);
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn a_429_limits_everything_and_is_not_retried_or_reported() {
        let client = FakeClient::new();
        client.answer([Ok(HttpResponse {
            status: 429,
            rate_limits: None,
            retry_after: Some("120".into()),
            ..HttpResponse::default()
        })]);
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        transport.send_envelope(event("limited"));
        assert!(transport.flush(Duration::from_secs(10)));
        transport.send_envelope(event("later"));
        transport.flush(Duration::from_secs(10));
        assert_eq!(
            client.seen().len(),
            1,
            "no retry, and the next one is held back"
        );
        assert_eq!(
            transport.discarded_count(DiscardReason::RatelimitBackoff, DataCategory::Error),
            1
        );
        assert_eq!(
            transport.discarded_count(DiscardReason::SendError, DataCategory::Error),
            0
        );
    }

    #[test]
    fn server_errors_are_retried_until_delivered() {
        let client = FakeClient::new();
        client.answer([Ok(HttpResponse::status(503)), Ok(HttpResponse::status(503))]);
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        transport.send_envelope(event("persistent"));
        assert!(transport.flush(Duration::from_secs(10)));
        let seen = client.seen();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|s| s.body.contains("persistent")));
        assert_eq!(transport.stats().delivered, 1);
        assert!(transport.discarded().is_empty());
    }

    #[test]
    fn a_503_with_retry_after_is_retried_no_sooner() {
        let client = FakeClient::new();
        client.answer([Ok(HttpResponse {
            status: 503,
            retry_after: Some("1".into()),
            ..HttpResponse::default()
        })]);
        let options = options().retry(RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_secs(10),
            jitter: 0.0,
        });
        let transport = HttpTransport::new(&dsn(), options, client.clone()).unwrap();
        transport.send_envelope(event("after maintenance"));
        // The backoff alone would retry after 1 ms; the server asked for 1 s.
        assert!(!transport.flush(Duration::from_millis(300)));
        assert_eq!(client.seen().len(), 1);
        assert!(transport.flush(Duration::from_secs(10)));
        assert_eq!(client.seen().len(), 2);
        assert_eq!(transport.stats().delivered, 1);
    }

    #[test]
    fn client_errors_are_not_retried_and_counted_as_send_error() {
        let client = FakeClient::new();
        client.answer([Ok(HttpResponse::status(400))]);
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        transport.send_envelope(event("bad"));
        assert!(transport.flush(Duration::from_secs(10)));
        assert_eq!(
            transport.discarded_count(DiscardReason::SendError, DataCategory::Error),
            1
        );
        // The rejected request, then the client report about it.
        let seen = client.seen();
        assert_eq!(seen.len(), 2);
        assert!(seen[1].body.contains("send_error"));
    }

    #[test]
    fn network_errors_give_up_after_max_attempts_without_a_spool() {
        let client = FakeClient::new();
        client.always(Err(HttpError::Connect("refused".into())));
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        transport.send_envelope(event("lost"));
        wait_for("the retries to run out", || {
            transport.discarded_count(DiscardReason::NetworkError, DataCategory::Error) == 1
        });
        // 3 attempts of the event; the client report later fails too, but is never counted.
        assert!(
            client
                .seen()
                .iter()
                .filter(|s| s.body.contains("lost"))
                .count()
                == 3
        );
    }

    #[test]
    fn discards_recorded_by_the_core_arrive_in_a_client_report_on_flush() {
        let client = FakeClient::new();
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        transport.record_discard(DiscardReason::SampleRate, DataCategory::Transaction, 3);
        transport.record_discard(DiscardReason::BeforeSend, DataCategory::Error, 1);
        assert!(transport.flush(Duration::from_secs(10)));
        let seen = client.seen();
        assert_eq!(seen.len(), 1);
        let payload: serde_json::Value =
            serde_json::from_str(seen[0].body.lines().nth(2).unwrap()).unwrap();
        let mut lines: Vec<(String, String, u64)> = payload["discarded_events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["reason"].as_str().unwrap().to_owned(),
                    d["category"].as_str().unwrap().to_owned(),
                    d["quantity"].as_u64().unwrap(),
                )
            })
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                ("before_send".into(), "error".into(), 1),
                ("sample_rate".into(), "transaction".into(), 3)
            ]
        );
        // Nothing pending: the next flush sends nothing.
        assert!(transport.flush(Duration::from_secs(10)));
        assert_eq!(client.seen().len(), 1);
    }

    #[test]
    fn client_reports_can_be_turned_off() {
        let client = FakeClient::new();
        let options = options().send_client_reports(false);
        let transport = HttpTransport::new(&dsn(), options, client.clone()).unwrap();
        transport.record_discard(DiscardReason::SampleRate, DataCategory::Error, 3);
        transport.send_envelope(event("plain"));
        assert!(transport.flush(Duration::from_secs(10)));
        let seen = client.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].item_types(), vec!["event"]);
    }

    #[test]
    fn a_pending_report_rides_along_once_the_interval_passed() {
        let client = FakeClient::new();
        let options = options().client_report_interval(Duration::ZERO);
        let transport = HttpTransport::new(&dsn(), options, client.clone()).unwrap();
        client.set_hang(true);
        transport.send_envelope(event("first"));
        wait_for("the first request", || client.seen().len() == 1);
        transport.record_discard(DiscardReason::EventProcessor, DataCategory::Error, 2);
        transport.send_envelope(event("second"));
        client.set_hang(false);
        assert!(transport.flush(Duration::from_secs(10)));
        let seen = client.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].item_types(), vec!["event", "client_report"]);
    }

    #[test]
    fn flush_and_shutdown_return_in_time_when_the_server_hangs() {
        let client = FakeClient::new();
        client.set_hang(true);
        let transport = HttpTransport::new(&dsn(), options(), client.clone()).unwrap();
        for n in 0..50 {
            transport.send_envelope(event(&format!("stuck {n}")));
        }
        assert!(!transport.flush(Duration::from_millis(100)));
        assert!(!transport.shutdown(Duration::from_millis(100)));
        // What was queued at shutdown (no spool) is counted lost; the in-flight one is not yet.
        assert_eq!(
            transport.discarded_count(DiscardReason::NetworkError, DataCategory::Error),
            49
        );
        transport.send_envelope(event("after shutdown"));
        assert_eq!(
            transport.discarded_count(DiscardReason::QueueOverflow, DataCategory::Error),
            1
        );
        client.set_hang(false);
    }

    #[test]
    fn spooled_envelopes_wait_while_their_category_is_rate_limited() {
        let dir = temp_dir("limited");
        let down = FakeClient::new();
        down.always(Err(HttpError::Connect("refused".into())));
        let options = options().spool(Some(SpoolOptions::new(&dir)));
        let transport = HttpTransport::new(&dsn(), options.clone(), down).unwrap();
        for n in 0..3 {
            transport.send_envelope(event(&format!("spooled {n}")));
        }
        assert!(transport.shutdown(Duration::from_secs(10)));
        drop(transport);

        let up = FakeClient::new();
        up.answer([Ok(HttpResponse {
            status: 200,
            rate_limits: Some("60:error:key".into()),
            retry_after: None,
            ..HttpResponse::default()
        })]);
        let transport = HttpTransport::new(&dsn(), options, up.clone()).unwrap();
        assert!(!transport.flush(Duration::from_millis(300)));
        assert_eq!(up.seen().len(), 1, "the rest waits for the limit to end");
        assert_eq!(transport.stats().spooled, 2);
        assert!(
            transport.discarded().is_empty(),
            "kept on disk, not dropped: {:?}",
            transport.discarded()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unusable_spool_directory_is_a_clear_error() {
        let file = temp_dir("file");
        std::fs::write(&file, b"not a directory").unwrap();
        let options = options().spool_dir(file.join("spool"));
        let err = HttpTransport::new(&dsn(), options, FakeClient::new()).unwrap_err();
        assert!(matches!(err, TransportError::Spool(_)));
        assert!(err.to_string().contains("spool directory"), "{err}");
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn the_spool_keeps_envelopes_through_an_outage_and_a_restart() {
        let dir = temp_dir("outage");
        let down = FakeClient::new();
        down.always(Err(HttpError::Connect("refused".into())));
        let options = options().spool(Some(SpoolOptions::new(&dir)));
        let transport = HttpTransport::new(&dsn(), options.clone(), down.clone()).unwrap();
        for n in 0..20 {
            transport.send_envelope(event(&format!("offline {n}")));
        }
        assert!(transport.shutdown(Duration::from_secs(10)));
        assert_eq!(transport.stats().spooled, 20);
        assert!(
            transport.discarded().is_empty(),
            "{:?}",
            transport.discarded()
        );
        drop(transport);

        let up = FakeClient::new();
        let transport = HttpTransport::new(&dsn(), options, up.clone()).unwrap();
        assert!(transport.flush(Duration::from_secs(10)));
        let seen = up.seen();
        let mut texts: Vec<String> = seen
            .iter()
            .flat_map(|s| s.body.lines().map(str::to_owned).collect::<Vec<_>>())
            .filter(|line| line.contains("offline "))
            .collect();
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), 20);
        assert_eq!(seen.len(), 20, "each spooled envelope is sent exactly once");
        assert!(seen[0].body.lines().next().unwrap().contains("sent_at"));
        assert_eq!(transport.stats().spooled, 0);
        assert!(transport.shutdown(Duration::from_secs(5)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
