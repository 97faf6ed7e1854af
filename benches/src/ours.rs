//! Our SDK's side of every workload. Workloads whose API has not landed yet print
//! "n/a (not built yet)" rather than faking anything.

use crate::harness::{emit_na, Opts, Sdk};

const SDK: Sdk = Sdk::Ours;

/// Runs one job of our side in this process.
pub fn run(job: &str, opts: &Opts) -> Result<(), String> {
    let _ = opts;
    for w in crate::workloads_of(job) {
        emit_na(SDK, w, "not built yet");
    }
    Ok(())
}

/// Our envelope writer on the workload-2 event (a reference beside `sentry`'s `to_writer`).
pub fn serialize_baseline(opts: &Opts) {
    let _ = opts;
}

/// Where our events carry more or less data than `sentry`'s for a workload (shown in the table).
pub fn note(workload: &str) -> Option<&'static str> {
    let _ = workload;
    None
}
