//! Benchmark harness (WORKLOAD.md). Filled in by the benchmarks issue.
fn main() {}
