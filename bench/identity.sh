#!/usr/bin/env bash
# Identity analysis at organisation scale, with its baseline from the same run.
#   bash bench/identity.sh [ROLES] [POLICIES] [RECORDS]   (default 10000 50000 10000000)
# Generates an organisation (ROLES roles, ROLES/10 users, managed POLICIES policies, trust
# policies with services, the account and other roles) and RECORDS CloudTrail records in 20
# JSON-lines files (about 5 GB, under bench/out/identity, reused while the sizes match), then
# times loading, CloudTrail usage, and the analysis (grants, escalation paths, findings), and
# prints peak memory. Baseline: serde_json parsing the same CloudTrail files alone.
set -euo pipefail
cd "$(dirname "$0")/.."
roles=${1:-10000}; policies=${2:-50000}; records=${3:-10000000}
out=bench/out/identity
cargo build --release -q -p tripline-bench --bin identity-bench
if [ "$(cat "$out/params" 2>/dev/null)" != "$roles $policies $records" ]; then
  rm -rf "$out"
  target/release/identity-bench generate "$out" "$roles" "$policies" "$records"
  echo "$roles $policies $records" > "$out/params"
fi
target/release/identity-bench analyze "$out"
