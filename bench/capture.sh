#!/usr/bin/env bash
# Capture replay rate against sysdig reading the same file, measured in one run (needs root to
# record the capture with the live sensor).
#   bash bench/capture.sh [SECONDS]   (default 20 s of load: about 5M+ events)
# 1. Records bench/out/big.scap: `tripline run --all-syscalls --capture` while the open/close
#    loop (tripline-bench syscall-loop) runs.
# 2. Replays it with the full upstream falco_rules.yaml, and with no rules (read + state only),
#    against `sysdig -r FILE evt.num=0` (sysdig reads, parses and filters every event, prints
#    none). Each is run 5 times, alternating, on one core; the median is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
[ "$(id -u)" -eq 0 ] || { echo "bench/capture.sh needs root (it records with the eBPF sensor)" >&2; exit 1; }
command -v sysdig >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sysdig >/dev/null
cargo build --release -q -p tripline -p tripline-bench
bin=target/release
out=bench/out
mkdir -p "$out"
cap=$out/big.scap

"$bin/tripline" run --no-default-rules --all-syscalls --capture "$cap" > /dev/null 2> "$out/capture-agent.err" &
agent=$!
for _ in $(seq 100); do grep -q "sensor attached" "$out/capture-agent.err" 2>/dev/null && break; sleep 0.1; done
"$bin/tripline-bench" syscall-loop "$secs" > /dev/null
kill -INT "$agent"; wait "$agent" || true
events=$(sed -nE 's/^Capture: ([0-9]+) events.*/\1/p' "$out/capture-agent.err")
dropped=$(sed -nE 's/.*dropped: ([0-9]+) .*/\1/p' "$out/capture-agent.err")
echo "capture: $events events, $(du -m "$cap" | cut -f1) MiB, $dropped kernel records dropped while recording"

echo "[]" > "$out/no-rules.yaml"
time_of() { # command... -> seconds
  local start end
  start=$(date +%s%N)
  taskset -c 0 "$@" > /dev/null 2>&1 || true
  end=$(date +%s%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", (e - s) / 1e9 }'
}
median() { sort -n | sed -n 3p; }
rules=() norules=() sysd=()
for _ in 1 2 3 4 5; do
  rules+=("$(time_of "$bin/tripline" replay -r data/falco/rules/falco_rules.yaml "$cap")")
  norules+=("$(time_of "$bin/tripline" replay -r "$out/no-rules.yaml" "$cap")")
  sysd+=("$(time_of sysdig -r "$cap" evt.num=0)")
done
r=$(printf '%s\n' "${rules[@]}" | median)
n=$(printf '%s\n' "${norules[@]}" | median)
s=$(printf '%s\n' "${sysd[@]}" | median)
awk -v e="$events" -v r="$r" -v n="$n" -v s="$s" 'BEGIN {
  printf "sysdig -r (parse only)          %6.2f s  %9.0f events/s\n", s, e / s
  printf "tripline replay, no rules       %6.2f s  %9.0f events/s  ratio %.2f\n", n, e / n, s / n
  printf "tripline replay, falco_rules    %6.2f s  %9.0f events/s  ratio %.2f\n", r, e / r, s / r
}'
