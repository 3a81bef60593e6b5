#!/usr/bin/env bash
# Replay throughput vs a serde_json parse-only baseline, on the same files, in one run.
# Usage: bash bench/run.sh [EVENTS]   (default 1000000 of each source)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
out=bench/out
mkdir -p "$out"
cargo build --release -q -p tripline -p tripline-bench
bin=target/release
[ -s "$out/k8s.jsonl" ] && [ "$(wc -l < "$out/k8s.jsonl")" -eq "$n" ] || "$bin/tripline-bench" gen-k8s "$n" "$out/k8s.jsonl"
[ -d "$out/cloudtrail" ] && [ "$(ls "$out/cloudtrail" | wc -l)" -eq $(( (n + 999) / 1000 )) ] || { rm -rf "$out/cloudtrail"; "$bin/tripline-bench" gen-cloudtrail "$n" "$out/cloudtrail"; }

measure() { # label, kind, input, extra replay args...
  local label=$1 kind=$2 input=$3
  shift 3
  read -r count base_s < <("$bin/tripline-bench" parse "$kind" "$input")
  local start end replay_s
  start=$(date +%s%N)
  taskset -c 0 "$bin/tripline" replay --format json "$@" "$input" > /dev/null 2> "$out/$label.summary" || true
  end=$(date +%s%N)
  replay_s=$(awk -v s="$start" -v e="$end" 'BEGIN { print (e - s) / 1e9 }')
  alerts=$(grep '^Alerts:' "$out/$label.summary" | awk '{print $2}')
  awk -v l="$label" -v c="$count" -v b="$base_s" -v r="$replay_s" -v a="$alerts" 'BEGIN {
    printf "%-14s events=%d alerts=%d  parse-only %.0f ev/s  replay(all rules, 1 core) %.0f ev/s  ratio %.2f\n", l, c, a, c/b, c/r, (c/r)/(c/b) }'
}
measure k8s_audit k8s "$out/k8s.jsonl"
measure aws_cloudtrail cloudtrail "$out/cloudtrail"
measure cloudtrail-sigma cloudtrail "$out/cloudtrail" --sigma data/sigma/rules/cloud/aws/cloudtrail

# Anomaly scoring on the same CloudTrail files (one core), with its parse-only baseline.
cargo build --release -q -p tripline-bench --bin anomaly-bench
taskset -c 0 "$bin/anomaly-bench" "$out/cloudtrail"
