#!/usr/bin/env bash
# Instructions per operation (callgrind), both SDKs: a load-independent complement to the
# wall-clock tables when the machine is busy. Each workload runs twice per SDK (N1 and N2 = 3*N1
# calls per batch, --reps 1) and Ir/op = (Ir(N2) - Ir(N1)) / (calls(N2) - calls(N1)), so process
# start-up and init cancel out. All threads are counted.
# Usage: benches/callgrind.sh [workload ...]   (default: the hot-path workloads of issue 6)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./target/release/sdk-benches
[ -x "$bin" ] || cargo build --release -p sdk-benches
declare -A N=( [disabled.capture_message]=20000 [disabled.add_breadcrumb]=5000
  [disabled.add_breadcrumb_lazy]=20000 [disabled.configure_scope_set_tag]=20000
  [capture_message]=1000 [capture_message.with_serialize]=1000 [capture_message.full_scope]=300
  [capture_error]=50 [breadcrumb]=5000 [scope.with_scope]=5000
  [scope.configure_scope_set_tag]=5000 [transaction]=300 [transaction.unsampled]=1000 [tracing_layer.event]=3000
  [tracing_layer.span]=1000 [tracing_layer.span_tree]=100 )
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(disabled.capture_message disabled.add_breadcrumb_lazy
  disabled.configure_scope_set_tag capture_message capture_message.with_serialize
  capture_message.full_scope capture_error breadcrumb scope.with_scope
  scope.configure_scope_set_tag transaction transaction.unsampled tracing_layer.event tracing_layer.span
  tracing_layer.span_tree)
calls() { local n=$1 w=$(( $1 / 5 )); [ $w -ge 1 ] || w=1; echo $(( 2 * w + n )); }
ir() { # sdk job workload n -> Ir of the whole process, empty when the workload is n/a
  local out err
  out=$(mktemp); err=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$2" --child --sdk "$1" \
    --iters "$4" --reps 1 --only "$3" >"$out" 2>"$err" || true
  if grep -q '"ns_per_op_median":[0-9]' "$out"; then
    awk '/Collected :/ {print $NF}' "$err" | tail -1
  fi
  rm -f "$out" "$err"
}
echo "| workload | sentry Ir/op | ours Ir/op | ours/sentry |"
echo "|---|---:|---:|---:|"
for w in "${workloads[@]}"; do
  job=${w%%.*}
  case "$w" in capture_message*) job=capture_message ;; esac
  n1=${N[$w]:-1000}; n2=$(( n1 * 3 ))
  dc=$(( $(calls $n2) - $(calls $n1) ))
  row="| $w"
  vals=()
  for sdk in sentry ours; do
    a=$(ir $sdk "$job" "$w" $n1 || true); b=$(ir $sdk "$job" "$w" $n2 || true)
    if [ -n "$a" ] && [ -n "$b" ]; then v=$(( (b - a) / dc )); else v=""; fi
    vals+=("$v"); row+=" | ${v:-n/a}"
  done
  if [ -n "${vals[0]}" ] && [ -n "${vals[1]}" ] && [ "${vals[0]}" -gt 0 ]; then
    row+=" | $(awk -v a="${vals[1]}" -v b="${vals[0]}" 'BEGIN{printf "%.2f", a/b}') |"
  else
    row+=" | - |"
  fi
  echo "$row"
done
