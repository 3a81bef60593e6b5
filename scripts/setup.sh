#!/usr/bin/env bash
# Sets up a Debian machine to build Tripline (clang and libbpf headers for the eBPF sensor),
# builds the release binary, and with `run` starts the live agent as root:
#   bash scripts/setup.sh            # install and build
#   bash scripts/setup.sh run [ARGS] # ... then: tripline run ARGS (via sudo when not root)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v clang >/dev/null || [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
  echo "== installing clang and libbpf-dev"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libbpf-dev >/dev/null
fi

echo "== building tripline (release)"
cargo build --release --locked -p tripline

if [ "${1:-}" = run ]; then
  shift
  echo "== starting: tripline run $* (Ctrl-C to stop)"
  as_root target/release/tripline run "$@"
fi
