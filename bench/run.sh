#!/usr/bin/env bash
# bench/run.sh — the load figures of BENCHMARKS.md, on loopback, stopping by itself.
#
#   bench/run.sh sqlite   DEVICES MEASUREMENTS [SECONDS]
#   bench/run.sh postgres DEVICES MEASUREMENTS [SECONDS]   (uses $IZYTRONIQ_BENCH_POSTGRES or the local test DB)
#
# It builds the server and the load generator, makes a fresh installation with `izytroniq
# init`, bulk-loads generated data with `izytroniq seed` (rows/s), starts `izytroniq serve`,
# and runs: the bare store rate of the device list page (2 connections), the HTTP list page
# (64 connections), get one device (64), record a test with 6 measurements (32), and reads
# the server's peak RSS from /proc. Results go to stdout and bench/out/RESULT-*.json.
set -euo pipefail
dialect=${1:-sqlite}; devices=${2:-100000}; measurements=${3:-1000000}; secs=${4:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/izybench.XXXXXX)
out=$root/bench/out; mkdir -p "$out"
stamp=$dialect-$devices
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true' EXIT

go build -o "$work/izytroniq" "$root/cmd/izytroniq"
go build -o "$work/load" "$root/bench/load"
printf 'bench-password-%s\n' "$RANDOM$RANDOM" > "$work/pw"
port=$((20000 + RANDOM % 20000))

dbflag=()
if [ "$dialect" = postgres ]; then
  base=${IZYTRONIQ_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
  schema=bench_$RANDOM
  psql "${base%%\?*}" -qc "create schema $schema" >/dev/null
  dsn="$base&search_path=$schema"
  dbflag=(--db "$dsn")
  trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; PGOPTIONS="-c client_min_messages=warning" psql "${base%%\?*}" -qc "drop schema $schema cascade" >/dev/null' EXIT
else
  dsn=$work/inst/data/izytroniq.db
fi

"$work/izytroniq" init --dir "$work/inst" "${dbflag[@]}" --listen 127.0.0.1:$port --admin-password-file "$work/pw" >/dev/null
cfg=$work/inst/izytroniq.toml
echo "== bulk load: $devices devices, ~$measurements measurements ($dialect)"
t0=$(date +%s.%N)
"$work/izytroniq" seed --config "$cfg" --devices "$devices" --measurements "$measurements" | tail -n 1 | tee "$out/seed-$stamp.txt"
t1=$(date +%s.%N)
echo "seed wall time: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s" | tee -a "$out/seed-$stamp.txt"

"$work/izytroniq" serve --config "$cfg" > "$work/serve.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.5
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "server did not become ready"; tail "$work/serve.log"; exit 1; }

echo "== bare store rate of the list page (2 connections, no HTTP)"
"$work/load" -scenario sql-list -db "$dsn" -c 2 -d "${secs}s" -json | tee "$out/sql-list-$stamp.json"
for sc in "list 64" "get 64" "test 32"; do
  set -- $sc
  echo "== HTTP $1 ($2 connections)"
  "$work/load" -url "http://127.0.0.1:$port" -user admin -password-file "$work/pw" -scenario "$1" -c "$2" -d "${secs}s" -json | tee "$out/$1-$stamp.json"
done
echo "== server memory"
grep -E 'VmHWM|VmRSS' "/proc/$(cat "$work/pid")/status" | tee "$out/rss-$stamp.txt"
kill "$(cat "$work/pid")"; wait || true
