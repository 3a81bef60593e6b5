#!/usr/bin/env bash
# Store ingest and API latency, each with its baseline from the same run.
#   bash bench/store.sh [N] [POSTGRES_URL]   (default 100000 findings; API on 1000000)
# - Ingest: N findings (a third fold into an earlier one) through Store::ingest (one transaction
#   per finding, as the agent stores alerts) and Store::ingest_batch (1000 per transaction),
#   against plain prepared INSERTs of the same rows with the same indexes and no dedup.
#   PostgreSQL too when a URL is given (at most 50000 findings). Also through the pipeline
#   (findings queue + ingest thread). ROUNDS (5) alternating rounds; median ratio and range.
# - API: 1M findings stored; 100 GET /api/v1/findings per filter over HTTP (p50, p99) against
#   the same page query and capped count on the store directly.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
pg=${2:-${TRIPLINE_TEST_POSTGRES:-}}
cargo build --release -q -p tripline-bench --bin store-bench
target/release/store-bench ingest "$n" ${pg:+"$pg"}
target/release/store-bench api "${API_N:-1000000}"
