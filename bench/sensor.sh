#!/usr/bin/env bash
# Sensor overhead and pipeline throughput, measured in one run (needs root).
#   bash bench/sensor.sh [SECONDS]   (default 5 per loop measurement)
# Workloads: an open/close/stat loop (tripline-bench syscall-loop) and redis-benchmark against a
# local redis-server. Each runs without the sensor, with the default rules, and with the sensor
# reporting every syscall (--every-syscall). Prints throughput, overhead vs. the no-sensor run of
# the same workload, records/s through the agent, and records dropped.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
[ "$(id -u)" -eq 0 ] || { echo "bench/sensor.sh needs root (it loads the eBPF sensor)" >&2; exit 1; }
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  apt-get install -y -qq redis-server >/dev/null
fi
cargo build --release -q -p tripline -p tripline-bench
bin=target/release
out=bench/out
mkdir -p "$out"

agent_pid=
start_agent() { # extra args...
  "$bin/tripline" run --format json "$@" > /dev/null 2> "$out/agent.err" &
  agent_pid=$!
  for _ in $(seq 100); do grep -q "sensor attached" "$out/agent.err" 2>/dev/null && return; sleep 0.1; done
  cat "$out/agent.err" >&2; exit 1
}
records= dropped= cpu=
stop_agent() { # sets records, dropped and cpu (agent CPU seconds); not in a subshell: it waits
  local ticks; ticks=$(getconf CLK_TCK)
  cpu=$(awk -v t="$ticks" '{printf "%.3f", ($14 + $15) / t}' "/proc/$agent_pid/stat")
  kill -INT "$agent_pid"; wait "$agent_pid" || true
  agent_pid=
  local line; line=$(grep '^Events:' "$out/agent.err")
  records=$(sed -E 's/.* ([0-9]+) records in .*/\1/' <<< "$line")
  dropped=$(sed -E 's/.*dropped: ([0-9]+) .*/\1/' <<< "$line")
}

loop() { "$bin/tripline-bench" syscall-loop "$secs"; }
redis_once() { # mean requests/s of SET and GET
  redis-benchmark -p 6399 -q -n 100000 -c 50 -t set,get --csv |
    awk -F'"' 'NR>1 {s += $4} END {printf "%.0f\n", s / (NR - 1)}'
}
redis_rps() { # median of three runs (the machine is shared and noisy)
  { redis_once; redis_once; redis_once; } | sort -n | sed -n 2p
}

redis-server --port 6399 --save '' --appendonly no --daemonize yes --logfile "$out/redis.log" > /dev/null
trap 'redis-cli -p 6399 shutdown nosave >/dev/null 2>&1 || true; [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true' EXIT
sleep 0.5

printf '%-34s %14s %9s %11s %9s %16s\n' "workload / mode" "throughput" "overhead" "records/s" "dropped" "rec/agent-CPU-s"
for workload in loop redis; do
  if [ $workload = loop ]; then run=loop; unit="iter/s"; else run=redis_rps; unit="req/s"; fi
  base=$($run)
  printf '%-34s %10s %-6s %9s %11s %9s %16s\n' "$workload / no sensor" "$base" "$unit" "-" "-" "-" "-"
  for mode in default every-syscall; do
    args=(); [ $mode = every-syscall ] && args=(--every-syscall)
    start_agent "${args[@]}"
    t0=$(date +%s%N)
    val=$($run)
    t1=$(date +%s%N)
    stop_agent
    rate=$(awk -v r="$records" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", r / ((b - a) / 1e9)}')
    over=$(awk -v b="$base" -v v="$val" 'BEGIN {printf "%.1f%%", (b - v) / b * 100}')
    capacity=$(awk -v r="$records" -v c="$cpu" 'BEGIN {printf "%.0f", (c > 0) ? r / c : 0}')
    printf '%-34s %10s %-6s %9s %11s %9s %16s\n' "$workload / sensor, $mode" "$val" "$unit" "$over" "$rate" "$dropped" "$capacity"
  done
done
