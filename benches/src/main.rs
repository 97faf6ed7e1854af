//! Benchmarks of our SDK side by side with the `sentry` crate 0.49.5, on the workloads of
//! `WORKLOAD.md`.
//!
//! ```text
//! sdk-benches all [--quick] [--runs K] [--iters N] [--reps R] [--e2e-reps R] [--sdk sentry|ours|both]
//! sdk-benches JOB ...            one job (or a group: `e2e_http` runs its four variants)
//! sdk-benches list               the jobs and their workloads
//! sdk-benches report FILE...     the tables from saved JSON lines
//! ```
//!
//! Every job runs in its own process (the binary starts itself again with `--child`), once per
//! SDK, interleaved (sentry, ours, then ours, sentry on the next run). JSON lines go to stdout,
//! progress and the final tables to stderr.

mod alloc;
mod baseline;
mod e2e;
mod harness;
mod ours;
mod payload;
mod peer;
mod peer_tracing;
mod report;
mod sink;

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};

use harness::{Opts, Sdk};

#[global_allocator]
static GLOBAL: alloc::CountingAlloc = alloc::CountingAlloc;

/// The jobs (one process each, per SDK) and the workloads each one reports.
pub const JOBS: &[(&str, &[&str])] = &[
    (
        "disabled",
        &[
            "disabled.capture_message",
            "disabled.add_breadcrumb",
            "disabled.add_breadcrumb_lazy",
            "disabled.configure_scope_set_tag",
        ],
    ),
    (
        "capture_message",
        &[
            "capture_message",
            "capture_message.with_serialize",
            "capture_message.full_scope",
        ],
    ),
    ("capture_error", &["capture_error"]),
    ("breadcrumb", &["breadcrumb"]),
    (
        "scope",
        &["scope.with_scope", "scope.configure_scope_set_tag"],
    ),
    ("transaction", &["transaction", "transaction.unsampled"]),
    (
        "tracing_layer",
        &[
            "tracing_layer.event",
            "tracing_layer.span",
            "tracing_layer.span_tree",
        ],
    ),
    (
        "tracing_layer_legacy",
        &[
            "tracing_layer_legacy.event",
            "tracing_layer_legacy.span",
            "tracing_layer_legacy.span_tree",
        ],
    ),
    ("e2e_http.default", &["e2e_http.default"]),
    ("e2e_http.reqwest", &["e2e_http.reqwest"]),
    ("e2e_http.ureq", &["e2e_http.ureq"]),
    (
        "e2e_http.reqwest.big_queue",
        &["e2e_http.reqwest.big_queue"],
    ),
    ("e2e_http.ureq.big_queue", &["e2e_http.ureq.big_queue"]),
    (
        "serialize_baseline",
        &[
            "serialize_baseline.json_value",
            "serialize_baseline.json_struct",
            "serialize_baseline.gzip_default",
            "serialize_baseline.gzip_default_reused",
            "serialize_baseline.gzip_fast_reused",
            "serialize_baseline.sentry_envelope_to_writer",
            "serialize_baseline.ours_envelope_write_to",
        ],
    ),
];

/// Jobs that `all` does not run (behaviour checks, not timings).
pub const EXTRA_JOBS: &[(&str, &[&str])] = &[
    ("stall_probe.default", &["stall_probe.default"]),
    ("stall_probe.reqwest", &["stall_probe.reqwest"]),
    ("stall_probe.ureq", &["stall_probe.ureq"]),
    ("dump", &[]),
];

/// The workloads a job reports.
pub fn workloads_of(job: &str) -> &'static [&'static str] {
    JOBS.iter()
        .chain(EXTRA_JOBS)
        .find(|(j, _)| *j == job)
        .map_or(&[], |(_, w)| *w)
}

struct Args {
    command: String,
    files: Vec<String>,
    opts: Opts,
    sdks: Vec<Sdk>,
    child: bool,
    runs: usize,
    job_timeout: std::time::Duration,
    passthrough: Vec<String>,
}

const USAGE: &str = "usage: sdk-benches <all|JOB|list|report FILE...> [--quick] [--runs K] \
[--iters N] [--reps R] [--e2e-reps R] [--sdk sentry|ours|both] [--only WORKLOAD] [--job-timeout SECS]";

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut args = Args {
        command: String::new(),
        files: Vec::new(),
        opts: Opts::default(),
        sdks: vec![Sdk::Sentry, Sdk::Ours],
        child: false,
        runs: 1,
        job_timeout: std::time::Duration::from_secs(900),
        passthrough: Vec::new(),
    };
    fn num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        v.as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a positive number\n{USAGE}"))
    }
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => {
                args.opts.quick = true;
                args.passthrough.push(a);
            }
            "--child" => args.child = true,
            "--iters" => {
                let n: u64 = num("--iters", it.next())?;
                args.opts.iters = Some(n);
                args.passthrough.extend(["--iters".into(), n.to_string()]);
            }
            "--reps" => {
                let n: usize = num("--reps", it.next())?;
                args.opts.reps = n.max(1);
                args.passthrough.extend(["--reps".into(), n.to_string()]);
            }
            "--e2e-reps" => {
                let n: usize = num("--e2e-reps", it.next())?;
                args.opts.e2e_reps = n.max(1);
                args.passthrough
                    .extend(["--e2e-reps".into(), n.to_string()]);
            }
            "--only" => {
                let w = it.next().unwrap_or_default();
                args.opts.only = Some(w.clone());
                args.passthrough.extend(["--only".into(), w]);
            }
            "--job-timeout" => {
                args.job_timeout =
                    std::time::Duration::from_secs(num::<u64>("--job-timeout", it.next())?.max(1))
            }
            "--runs" => args.runs = num::<usize>("--runs", it.next())?.max(1),
            "--sdk" => {
                let v = it.next().unwrap_or_default();
                args.sdks = if v == "both" {
                    vec![Sdk::Sentry, Sdk::Ours]
                } else {
                    vec![Sdk::parse(&v)
                        .ok_or_else(|| format!("--sdk takes sentry, ours or both\n{USAGE}"))?]
                };
            }
            "-h" | "--help" => return Err(USAGE.into()),
            _ if a.starts_with("--") => return Err(format!("unknown option {a}\n{USAGE}")),
            _ if args.command.is_empty() => args.command = a,
            _ => args.files.push(a),
        }
    }
    if args.command.is_empty() {
        // `cargo bench -p sdk-benches` with no arguments.
        args.command = "all".into();
        args.opts.quick = true;
        args.passthrough.push("--quick".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    for var in payload::SCRUBBED_ENV {
        std::env::remove_var(var);
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.child {
        let Some(&sdk) = args.sdks.first() else {
            return ExitCode::from(2);
        };
        let result = match sdk {
            Sdk::Sentry => peer::run(&args.command, &args.opts),
            Sdk::Ours => ours::run(&args.command, &args.opts),
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{} {}: {e}", sdk.name(), args.command);
                ExitCode::FAILURE
            }
        };
    }
    match args.command.as_str() {
        "list" => {
            for (job, workloads) in JOBS {
                println!("{job}: {}", workloads.join(", "));
            }
            for (job, workloads) in EXTRA_JOBS {
                println!("{job} (not in all): {}", workloads.join(", "));
            }
            ExitCode::SUCCESS
        }
        "report" => {
            let mut lines = Vec::new();
            for f in &args.files {
                match std::fs::read_to_string(f) {
                    Ok(text) => lines.extend(
                        text.lines()
                            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()),
                    ),
                    Err(e) => eprintln!("cannot read {f}: {e}"),
                }
            }
            eprint!("{}", report::tables(&lines));
            ExitCode::SUCCESS
        }
        selector => {
            let matches = |j: &&str| {
                *j == selector || j.strip_prefix(selector).is_some_and(|r| r.starts_with('.'))
            };
            let mut jobs: Vec<&str> = JOBS
                .iter()
                .map(|(j, _)| *j)
                .filter(|j| selector == "all" || matches(j))
                .collect();
            jobs.extend(EXTRA_JOBS.iter().map(|(j, _)| *j).filter(matches));
            if jobs.is_empty() {
                eprintln!("unknown job {selector}\n{USAGE}");
                return ExitCode::from(2);
            }
            coordinate(&jobs, &args)
        }
    }
}

/// Runs every job once per SDK and run, each in its own process, and prints the tables.
fn coordinate(jobs: &[&str], args: &Args) -> ExitCode {
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("cannot find the benchmark binary to start its jobs");
        return ExitCode::FAILURE;
    };
    let mut lines = Vec::new();
    let mut failures = 0;
    for run in 0..args.runs {
        for job in jobs {
            let mut order = args.sdks.clone();
            if run % 2 == 1 {
                order.reverse();
            }
            for sdk in order {
                eprintln!("[run {}/{}] {job} ({})", run + 1, args.runs, sdk.name());
                let child = Command::new(&exe)
                    .arg(job)
                    .arg("--child")
                    .args(["--sdk", if sdk == Sdk::Sentry { "sentry" } else { "ours" }])
                    .args(&args.passthrough)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn();
                let mut child = match child {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("cannot start {job}: {e}");
                        failures += 1;
                        continue;
                    }
                };
                // Lines arrive through a reader thread so that a job that hangs can be killed
                // after the job timeout instead of stalling the whole run.
                let (tx, rx) = std::sync::mpsc::channel::<String>();
                if let Some(out) = child.stdout.take() {
                    std::thread::spawn(move || {
                        for line in BufReader::new(out).lines().map_while(Result::ok) {
                            if tx.send(line).is_err() {
                                break;
                            }
                        }
                    });
                }
                let deadline = std::time::Instant::now() + args.job_timeout;
                let mut timed_out = false;
                loop {
                    match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                        Ok(line) => match serde_json::from_str::<serde_json::Value>(&line) {
                            Ok(mut v) => {
                                if let Some(o) = v.as_object_mut() {
                                    o.insert("run".into(), serde_json::json!(run));
                                }
                                println!("{v}");
                                lines.push(v);
                            }
                            Err(_) => println!("{line}"),
                        },
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                            if std::time::Instant::now() > deadline {
                                timed_out = true;
                                let _ = child.kill();
                                break;
                            }
                        }
                    }
                }
                match child.wait() {
                    Ok(_) if timed_out => {
                        eprintln!(
                            "{job} ({}) killed after the job timeout of {} s",
                            sdk.name(),
                            args.job_timeout.as_secs()
                        );
                        failures += 1;
                    }
                    Ok(status) if status.success() => {}
                    Ok(status) => {
                        eprintln!("{job} ({}) exited with {status}", sdk.name());
                        failures += 1;
                    }
                    Err(e) => {
                        eprintln!("{job} ({}): {e}", sdk.name());
                        failures += 1;
                    }
                }
            }
        }
    }
    eprint!("{}", report::tables(&lines));
    if failures > 0 {
        eprintln!("{failures} job process(es) failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
