#!/usr/bin/env bash
# Sensor overhead and pipeline throughput, measured in one run (needs root).
#   bash bench/sensor.sh [SECONDS] [ROUNDS] [PARTS]
#   (defaults: 5 s per measurement, 6 redis rounds, parts 1234)
#
# 1. getppid: the cost the sensor adds to a syscall no rule needs, in ns per call.
# 2. open/close/stat loop (tripline-bench syscall-loop, pinned to CPU 1, agent on CPU 0):
#    iterations/s and records/s through the agent, without the sensor, with the default rules
#    (syscall tracepoints), with raw hooks, and reporting every syscall.
# 3. Pipeline: getppid paced at 1, 2 and 4 M calls/s with --every-syscall, so every call is a
#    record through ring buffer, drain and decoder; records/s and drops.
# 4. redis-benchmark (SET and GET, 50 clients) against a local redis-server: ROUNDS pairs of
#    runs without and with the agent, the order swapped every round so neither side always
#    runs first; the median of the pairs' overheads.
# Figures vary with the machine's neighbours; compare modes within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-6}
parts=${3:-1234}
[ "$(id -u)" -eq 0 ] || { echo "bench/sensor.sh needs root (it loads the eBPF sensor)" >&2; exit 1; }
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  apt-get install -y -qq redis-server >/dev/null
fi
cargo build --release -q -p tripline -p tripline-bench
bin=target/release
out=bench/out
mkdir -p "$out"
ticks=$(getconf CLK_TCK)

agent_pid=
start_agent() { # CPUS extra-args...: starts the agent and waits until it has settled
  local cpus=$1; shift
  taskset -c "$cpus" "$bin/tripline" run --no-ui --format json "$@" > /dev/null 2> "$out/agent.err" &
  agent_pid=$!
  for _ in $(seq 100); do grep -q "sensor attached" "$out/agent.err" 2>/dev/null && break; sleep 0.1; done
  grep -q "sensor attached" "$out/agent.err" || { cat "$out/agent.err" >&2; exit 1; }
  sleep 2 # startup work (rules, /proc scan) is over before anything is measured
}
agent_cpu() { awk -v t="$ticks" '{printf "%.3f", ($14 + $15) / t}' "/proc/$agent_pid/stat"; }
records= dropped=
stop_agent() { # sets records and dropped; not in a subshell: it waits
  kill -INT "$agent_pid"; wait "$agent_pid" || true
  agent_pid=
  local line; line=$(grep '^Events:' "$out/agent.err")
  records=$(sed -E 's/.* ([0-9]+) records in .*/\1/' <<< "$line")
  dropped=$(sed -E 's/.*dropped: ([0-9]+) .*/\1/' <<< "$line")
}
trap 'redis-cli -p 6399 shutdown nosave >/dev/null 2>&1 || true; [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true' EXIT

# One measurement with the agent: runs "$@" while the agent (MODE args) watches.
# Sets val (the workload's output), rate (records/s in the window), cpu (agent CPU share).
measure() { # MODE-ARGS... -- WORKLOAD...
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  start_agent 0 "${args[@]}"
  local c0 t0 c1 t1
  c0=$(agent_cpu); t0=$(date +%s%N)
  val=$("$@")
  c1=$(agent_cpu); t1=$(date +%s%N)
  stop_agent
  rate=$(awk -v r="$records" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", r / ((b - a) / 1e9)}')
  cpu=$(awk -v x="$c0" -v y="$c1" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f%%", (y - x) / ((b - a) / 1e9) * 100}')
}
pct() { awk -v b="$1" -v v="$2" 'BEGIN {printf "%.1f%%", (b - v) / b * 100}'; }
row() { printf '%-36s %12s %-7s %9s %11s %8s %10s\n' "$@"; }

if [[ $parts == *1* ]]; then
echo "== 1. a syscall no rule needs (getppid), CPU 1"
per_call() { awk '{printf "%.1f", 1e9 / $1}' <<< "$(taskset -c 1 "$bin/tripline-bench" syscall-flood 1000000000 "$secs")"; }
base=$(per_call)
printf '%-36s %8s ns/call\n' "no sensor" "$base"
for mode in "default rules" "default rules, --hooks raw"; do
  args=(); [[ $mode == *raw ]] && args=(--hooks raw)
  measure "${args[@]}" -- per_call
  printf '%-36s %8s ns/call  (+%s ns)\n' "$mode" "$val" "$(awk -v a="$val" -v b="$base" 'BEGIN {printf "%.1f", a - b}')"
done

echo
fi
if [[ $parts == *2* ]]; then
echo "== 2. open/close/stat loop, CPU 1 (agent on CPU 0)"
row "mode" "throughput" "" "overhead" "records/s" "dropped" "agent CPU"
loop() { taskset -c 1 "$bin/tripline-bench" syscall-loop "$secs"; }
base=$(loop)
row "no sensor" "$base" "iter/s" "-" "-" "-" "-"
for mode in "default rules" "default rules, --hooks raw" "--every-syscall"; do
  case $mode in
    *raw) args=(--hooks raw) ;;
    --every-syscall) args=(--every-syscall) ;;
    *) args=() ;;
  esac
  measure "${args[@]}" -- loop
  row "$mode" "$val" "iter/s" "$(pct "$base" "$val")" "$rate" "$dropped" "$cpu"
done

echo
fi
if [[ $parts == *3* ]]; then
echo "== 3. pipeline: paced getppid, every call a record (--every-syscall), CPU 1"
row "asked" "reached" "" "" "records/s" "dropped" "agent CPU"
for asked in 1000000 2000000 4000000; do
  measure --every-syscall -- taskset -c 1 "$bin/tripline-bench" syscall-flood "$asked" "$secs"
  row "$asked calls/s" "$val" "calls/s" "" "$rate" "$dropped" "$cpu"
done

echo
fi
[[ $parts == *4* ]] || exit 0
echo "== 4. redis-benchmark, SET+GET mean, $rounds rounds (without and with the agent)"
redis-server --port 6399 --save '' --appendonly no --daemonize yes --logfile "$out/redis.log" > /dev/null
sleep 0.5
redis() { # mean requests/s of SET and GET
  redis-benchmark -p 6399 -q -n 200000 -c 50 -t set,get --csv |
    awk -F'"' 'NR>1 {s += $4} END {printf "%.0f\n", s / (NR - 1)}'
}
median() { sort -g | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m}'; }
row "mode" "with agent" "" "overhead" "(median)" "dropped" ""
for mode in "default rules" "default rules, --hooks raw" "--every-syscall"; do
  case $mode in
    *raw) args=(--hooks raw) ;;
    --every-syscall) args=(--every-syscall) ;;
    *) args=() ;;
  esac
  overs=() withs=() bases=() drops=0
  for i in $(seq "$rounds"); do
    if ((i % 2)); then b=$(redis); fi
    start_agent 0,1 "${args[@]}"
    v=$(redis)
    stop_agent
    if ((i % 2 == 0)); then b=$(redis); fi
    drops=$((drops + dropped))
    bases+=("$b"); withs+=("$v")
    overs+=("$(awk -v b="$b" -v v="$v" 'BEGIN {printf "%.2f", (b - v) / b * 100}')")
  done
  row "$mode" "$(printf '%s\n' "${withs[@]}" | median)" "req/s" \
    "$(printf '%s\n' "${overs[@]}" | median)%" "" "$drops" ""
  echo "    pairs (without/with): $(paste -d/ <(printf '%s\n' "${bases[@]}") <(printf '%s\n' "${withs[@]}") | tr '\n' ' ')"
done
