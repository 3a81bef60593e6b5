#!/usr/bin/env bash
# CloudTrail records/s read live from an S3-compatible server (moto) vs `tripline replay` of
# the same files from disk, both on one core with the upstream CloudTrail rules, alternating.
# Records: the Invictus Stratus run (real CloudTrail records), COPIES objects of all 2,093.
# Usage: MOTO=/path/to/moto_server bash bench/cloudtrail-s3.sh [COPIES] [ROUNDS]  (defaults 200, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-200}
rounds=${2:-3}
moto=${MOTO:?set MOTO to a moto_server binary (pip install "moto[server]")}
python=$(dirname "$moto")/python3
out=bench/out
mkdir -p "$out"
cargo build --release -q -p tripline
bin=target/release
files="$out/cloudtrail-s3-$copies"
if [ ! -d "$files" ]; then
  # One object per copy holding every record of the run (2,093), as CloudTrail's larger
  # delivery files do; gzip, as CloudTrail writes them.
  python3 - "$copies" "$files" <<'PY'
import gzip, json, os, sys
copies, out = int(sys.argv[1]), sys.argv[2]
src = "data/datasets/aws-cloudtrail-invictus-stratus-run/CloudTrail"
records = []
for f in sorted(os.listdir(src)):
    records.extend(json.load(open(os.path.join(src, f)))["Records"])
body = gzip.compress(json.dumps({"Records": records}).encode())
os.makedirs(out)
for i in range(copies):
    open(os.path.join(out, "copy%04d.json.gz" % i), "wb").write(body)
PY
fi
n=$("$bin/tripline" replay --no-store "$files" 2>&1 >/dev/null | awk '/^Events read:/ {print $3}')
port=$((20000 + RANDOM % 20000))
"$moto" -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null' EXIT
until (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
"$python" - "http://127.0.0.1:$port" "$files" <<'PY'
import boto3, os, sys
ep, src = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
s3.create_bucket(Bucket="bench")
for f in sorted(os.listdir(src)):
    s3.put_object(Bucket="bench", Key="AWSLogs/1/CloudTrail/us-east-1/" + f, Body=open(os.path.join(src, f), "rb").read())
PY

replay() {
  local start end
  start=$(date +%s%N)
  taskset -c 0 "$bin/tripline" replay --no-store --format json "$files" > /dev/null 2>&1
  end=$(date +%s%N)
  awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / ((e - s) / 1e9) }'
}

live() {
  local start end pid log="$out/cloudtrail-s3-run.err"
  start=$(date +%s%N)
  taskset -c 0 "$bin/tripline" run --no-sensor --no-ui --no-store --format json \
    --source cloudtrail=s3://bench/AWSLogs/ --aws-endpoint-url "http://127.0.0.1:$port" \
    --stats-interval 1 > /dev/null 2> "$log" &
  pid=$!
  until grep -q ": $n events," "$log" 2> /dev/null; do sleep 0.02; done
  end=$(date +%s%N)
  kill -INT "$pid"; wait "$pid"
  awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / ((e - s) / 1e9) }'
}

ratios=()
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then l=$(live); f=$(replay); else f=$(replay); l=$(live); fi
  ratio=$(awk -v l="$l" -v f="$f" 'BEGIN { printf "%.2f", l / f }')
  ratios+=("$ratio")
  echo "round $r: S3 $l records/s, replay $f records/s, ratio $ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END {
  m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
  printf "S3/replay, '"$n"' records, one core: median %.2f (range %.2f-%.2f, target >= 0.7)\n", m, a[1], a[NR] }'
