#!/usr/bin/env bash
# Runs every workload of WORKLOAD.md 5 times for both SDKs (interleaved, one process per job),
# saves the JSON lines and prints the tables (medians of the per-run medians, ratio ours/sentry).
# Usage: benches/run.sh [extra args, e.g. --quick or --runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p sdk-benches
out="target/bench-results-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
./target/release/sdk-benches all --runs 5 "$@" > "$out"
echo "JSON lines: $out" >&2
