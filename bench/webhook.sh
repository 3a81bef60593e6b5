#!/usr/bin/env bash
# Kubernetes audit events/s through the live webhook vs `tripline replay` of the same events
# from a file, both on one core with the upstream k8s_audit rules, in alternating rounds.
# Events: the upstream k8s_audit fixtures, repeated (real records). Batches of 500, as the API
# server's batch backend sends (its default --audit-webhook-batch-max-size is 400).
# Usage: bash bench/webhook.sh [EVENTS] [ROUNDS]   (defaults 200000, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
rounds=${2:-5}
out=bench/out
mkdir -p "$out"
cargo build --release -q -p tripline -p tripline-bench
bin=target/release
events="$out/k8s-fixtures-$n.jsonl"
[ -s "$events" ] || python3 - "$n" "$events" <<'PY'
import json, os, sys
n, path = int(sys.argv[1]), sys.argv[2]
d = "data/falco/tests/k8s_audit/events"
evs = []
for f in sorted(os.listdir(d)):
    v = json.load(open(os.path.join(d, f)))
    evs.extend(v["items"] if isinstance(v, dict) and v.get("kind") == "EventList" else v if isinstance(v, list) else [v])
with open(path, "w") as out:
    for i in range(n):
        out.write(json.dumps(evs[i % len(evs)], separators=(",", ":")) + "\n")
PY

replay() {
  local start end
  start=$(date +%s%N)
  taskset -c 0 "$bin/tripline" replay --no-store --source k8s_audit --format json "$events" > /dev/null 2> "$out/webhook-replay.summary"
  end=$(date +%s%N)
  awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / ((e - s) / 1e9) }'
}

webhook() {
  local port=$((20000 + RANDOM % 20000)) pid rate
  taskset -c 0 "$bin/tripline" run --no-sensor --no-ui --no-store --source k8s-audit=webhook \
    --webhook-listen "127.0.0.1:$port" --format json > /dev/null 2> "$out/webhook-run.summary" &
  pid=$!
  until grep -q "webhook at" "$out/webhook-run.summary" 2> /dev/null; do sleep 0.05; done
  read -r count secs < <(taskset -c 1 "$bin/tripline-bench" post-k8s "http://127.0.0.1:$port/k8s-audit" "$events" 500 4)
  kill -INT "$pid"
  wait "$pid"
  grep -q "Source k8s-audit=webhook: $n events" "$out/webhook-run.summary" || { echo "webhook evaluated a different count:"; cat "$out/webhook-run.summary"; exit 1; }
  awk -v n="$count" -v s="$secs" 'BEGIN { printf "%.0f", n / s }'
}

ratios=()
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then w=$(webhook); f=$(replay); else f=$(replay); w=$(webhook); fi
  ratio=$(awk -v w="$w" -v f="$f" 'BEGIN { printf "%.2f", w / f }')
  ratios+=("$ratio")
  echo "round $r: webhook $w ev/s, replay $f ev/s, ratio $ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END {
  m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
  printf "webhook/replay, %d events of batches of 500, one core: median %.2f (range %.2f-%.2f, target >= 0.8)\n", '"$n"', m, a[1], a[NR] }'
