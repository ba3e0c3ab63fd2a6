#!/usr/bin/env bash
# bench/sync.sh — the sync figures of BENCHMARKS.md (SPEC §9: checkout, check-in, bytes per
# row, client memory, PouchDB reference), on 127.0.0.1 only, stopping by itself.
#
#   bench/sync.sh DEVICES MEASUREMENTS [pouchdb]
#
#   DEVICES, MEASUREMENTS  what `izytroniq seed` generates, all in ONE customer (--customers 1),
#                          so that `izy checkout --customer ID` takes the whole data set.
#   pouchdb                also replicate the same records with PouchDB (needs
#                          `npm install` in bench/pouchdb; node_modules is gitignored).
#   PAGE_SIZE=N            (env) izy checkout --page-size (default: izy's default).
#   BATCH=N                (env) izy sync --batch (default: izy's default).
#   KEEP=1                 (env) keep the work directory.
#
# Steps: build izytroniq, izy and bench/synctool (a byte-counting TCP proxy); init + seed a
# fresh SQLite installation; serve; `izy login` through the proxy; `izy checkout` as a real
# process under /usr/bin/time -v (wall time, peak RSS); bytes on the wire minus the sum of
# the rows' data JSON = protocol overhead. Then record 10,000 measurements offline
# (`izy test` processes, 6 measurements per test) and 1,000 device edits (`izy device
# edit` processes), and time `izy sync` (upload + download of the resulting changes) and
# `izy checkin`. With "pouchdb": export the checked-out records (one doc per row, the same
# JSON) into pouchdb-server (leveldb on disk), time a fresh PouchDB client's pull, then
# its push of 1,000 edited devices + tests holding 10,000 new measurements.
set -euo pipefail
devices=${1:-10000}; measurements=${2:-100000}; with_pouch=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/izysyncbench.XXXXXX)
out=$root/bench/out; mkdir -p "$out"
stamp=sync-$devices
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
timev() { # timev NAME cmd... : run under /usr/bin/time -v; wall s and max RSS to stderr + results
  local name=$1; shift
  local s0 s1; s0=$(server_cpu)
  /usr/bin/time -v -o "$work/$name.time" "$@"
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/$name.time")
  rss=$(awk -F': ' '/Maximum resident/{printf "%.1f", $2/1024}' "$work/$name.time")
  cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.1f s user + %.1f s sys", u, s}' "$work/$name.time")
  s1=$(server_cpu)
  [ -n "$s0" ] && [ -n "$s1" ] && cpu="$cpu, server CPU $(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.1f", b - a}') s"
  echo "$name: wall ${wall} s, peak RSS ${rss} MB, client CPU ${cpu}" | tee -a "$out/$stamp.txt" >&2
}
# server_cpu: the izytroniq server's CPU seconds (user + sys) so far, "" when it is not
# running. With other work on the machine, CPU seconds say more than wall time.
server_cpu() {
  [ -n "${server_pid:-}" ] && [ -r "/proc/$server_pid/stat" ] || return 0
  awk -v t="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / t}' "/proc/$server_pid/stat"
}
proxy_start() { # proxy_start LISTENPORT TARGETPORT OUTFILE
  "$work/synctool" proxy -listen "127.0.0.1:$1" -target "127.0.0.1:$2" -out "$3" &
  proxy_pid=$!; pids+=("$proxy_pid")
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && break; sleep 0.1; done
}
proxy_stop() { kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; }
jget() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1"; }

echo "== machine: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(go version | cut -d' ' -f3)" | tee "$out/$stamp.txt"
go build -o "$work/izytroniq" "$root/cmd/izytroniq"
go build -o "$work/izy" "$root/cmd/izy"
go build -o "$work/synctool" "$root/bench/synctool"
printf 'bench-password-%s\n' "$RANDOM$RANDOM" > "$work/pw"
port=$((20000 + RANDOM % 20000)); pport=$((port + 1))

"$work/izytroniq" init --dir "$work/inst" --listen "127.0.0.1:$port" --admin-password-file "$work/pw" >/dev/null
db=$work/inst/data/izytroniq.db
echo "== seed: $devices devices, ~$measurements measurements, one customer" | tee -a "$out/$stamp.txt"
"$work/izytroniq" seed --config "$work/inst/izytroniq.toml" --devices "$devices" --measurements "$measurements" --customers 1 | tail -n 1 | tee -a "$out/$stamp.txt"
customer=$(sqlite3 "$db" "select id from customers limit 1")

"$work/izytroniq" serve --config "$work/inst/izytroniq.toml" > "$work/serve.log" 2>&1 &
server_pid=$!; pids+=("$server_pid")
for _ in $(seq 1 120); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done

izy() { "$work/izy" --home "$work/home" "$@"; }
proxy_start "$pport" "$port" "$work/wire-checkout.json"
izy login --server "http://127.0.0.1:$pport" --user admin --password-file "$work/pw" >/dev/null

# ---- 1. initial checkout ----
echo "== izy checkout --customer $customer ${PAGE_SIZE:+--page-size $PAGE_SIZE} (load $(load))" | tee -a "$out/$stamp.txt"
timev checkout "$work/izy" --home "$work/home" checkout --customer "$customer" ${PAGE_SIZE:+--page-size "$PAGE_SIZE"} --json > "$work/checkout.json"
proxy_stop
echo "   load at end $(load)" | tee -a "$out/$stamp.txt"
rep=$work/home/replica.db
read -r rows databytes < <(sqlite3 -separator ' ' "$rep" "select count(*), sum(length(cast(data as blob))) from records")
c2s=$(jget "$work/wire-checkout.json" client_to_server); s2c=$(jget "$work/wire-checkout.json" server_to_client); reqs=$(jget "$work/wire-checkout.json" requests)
awk -v r="$rows" -v d="$databytes" -v a="$c2s" -v b="$s2c" -v q="$reqs" 'BEGIN{
  printf "   rows %d (data JSON %.1f MB), wire %.1f MB down + %.2f MB up in %d HTTP requests (no gzip): overhead %.1f bytes/row\n",
    r, d/1e6, b/1e6, a/1e6, q, (a+b-d)/r }' | tee -a "$out/$stamp.txt"
grep -A6 '"totals"' "$work/checkout.json" | tr -d ' \n' | sed 's/^/   /' | tee -a "$out/$stamp.txt"; echo | tee -a "$out/$stamp.txt"

if [ "$with_pouch" = pouchdb ]; then
  sqlite3 -separator $'\t' "$rep" "select entity||':'||id, data from records where deleted = 0 order by entity, id" > "$work/docs.tsv"
fi

# ---- 2. offline work: 10,000 measurements (izy test, 6 per test) + 1,000 device edits ----
ntests=$(( (10000 + 5) / 6 ))
sqlite3 "$rep" "select id from records where entity='device' and json_extract(data,'\$.status')='active'
  and json_extract(data,'\$.protection_class')='I' and json_extract(data,'\$.standard')=''
  and json_extract(data,'\$.medical') is null order by random() limit $((ntests + 50))" > "$work/test-devices"
# edits go to devices of protection class II/III, so they never overlap the tested ones
sqlite3 "$rep" "select id from records where entity='device' and json_extract(data,'\$.status')='active'
  and json_extract(data,'\$.protection_class')<>'I' order by random() limit 1000" > "$work/edit-devices"
m6=(--measure protective_conductor_resistance=0.08Ω --measure protective_conductor_resistance=0.09Ω --measure insulation_resistance=250MΩ
    --measure protective_conductor_current=0.2mA --measure touch_current=0.05mA --measure equivalent_leakage_current=0.4mA)
t0=$(date +%s.%N); left=10000
while read -r d; do
  [ "$left" -gt 0 ] || break
  k=$(( left < 6 ? left : 6 )); left=$((left - k))
  izy test "$d" "${m6[@]:0:$((2*k))}" > /dev/null < /dev/null || { echo "izy test $d failed"; left=$((left + k)); }
done < "$work/test-devices"
i=0
while read -r d; do i=$((i+1)); izy device edit "$d" --comment "bench edit $i" > /dev/null < /dev/null; done < "$work/edit-devices"
t1=$(date +%s.%N)
echo "== offline: $ntests izy test ($((10000 - left)) measurements) + $(wc -l < "$work/edit-devices") izy device edit processes in $(secs "$t0" "$t1") s" | tee -a "$out/$stamp.txt"
meas0=$(sqlite3 "$db" "select count(*) from measurements")

# ---- 3. izy sync (upload + download of the changes), then izy checkin ----
proxy_start "$pport" "$port" "$work/wire-sync.json"
echo "== izy sync ${BATCH:+--batch $BATCH} (load $(load))" | tee -a "$out/$stamp.txt"
timev sync "$work/izy" --home "$work/home" sync ${BATCH:+--batch "$BATCH"} --json > "$work/sync.json"
proxy_stop
proxy_start "$pport" "$port" "$work/wire-checkin.json"
timev checkin "$work/izy" --home "$work/home" checkin --json > "$work/checkin.json"
proxy_stop
echo "   load at end $(load)" | tee -a "$out/$stamp.txt"
echo "   sync: $(tr -d ' \n' < "$work/sync.json" | cut -c1-300)" | tee -a "$out/$stamp.txt"
echo "   wire sync: $(cat "$work/wire-sync.json")   checkin: $(cat "$work/wire-checkin.json")" | tee -a "$out/$stamp.txt"
meas1=$(sqlite3 "$db" "select count(*) from measurements")
echo "   server measurements: $meas0 -> $meas1 (+$((meas1 - meas0)))" | tee -a "$out/$stamp.txt"
echo "   server peak RSS: $(awk '/VmHWM/{printf "%.0f MB", $2/1024}' "/proc/$server_pid/status")" | tee -a "$out/$stamp.txt"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true

# ---- 4. PouchDB reference ----
if [ "$with_pouch" = pouchdb ]; then
  pdir=$work/pouch; mkdir -p "$pdir/data"
  bj=$root/bench/pouchdb/bench.js
  (cd "$pdir" && exec node "$root/bench/pouchdb/node_modules/.bin/pouchdb-server" --host 127.0.0.1 --port "$port" \
     --dir "$pdir/data" --config "$pdir/config.json" -n > "$pdir/server.log" 2>&1) &
  pouch_pid=$!; pids+=("$pouch_pid")
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.2; done
  echo "== PouchDB $(node -p "require('$root/bench/pouchdb/node_modules/pouchdb/package.json').version") client, pouchdb-server $(node -p "require('$root/bench/pouchdb/node_modules/pouchdb-server/package.json').version") (leveldb)" | tee -a "$out/$stamp.txt"
  node "$bj" load "http://127.0.0.1:$port/bench" "$work/docs.tsv" | tee -a "$out/$stamp.txt"
  proxy_start "$pport" "$port" "$work/wire-pull.json"
  echo "   pull (load $(load))" | tee -a "$out/$stamp.txt"
  timev pouch-pull node "$bj" pull "http://127.0.0.1:$pport/bench" "$pdir/local" > "$work/pull.json"
  tee -a "$out/$stamp.txt" < "$work/pull.json"
  proxy_stop
  echo "   load at end $(load); wire: $(cat "$work/wire-pull.json")" | tee -a "$out/$stamp.txt"
  awk -v d="$(LC_ALL=C awk -F'\t' '{s+=length($2)} END{print s}' "$work/docs.tsv")" -v n="$(wc -l < "$work/docs.tsv")" \
      -v a="$(jget "$work/wire-pull.json" client_to_server)" -v b="$(jget "$work/wire-pull.json" server_to_client)" \
      'BEGIN{printf "   pouch pull: %.1f MB on the wire for %d docs: %.0f bytes/doc in all, %.1f beyond the data\n", (a+b)/1e6, n, (a+b)/n, (a+b-d)/n}' | tee -a "$out/$stamp.txt"
  node "$bj" edit "$pdir/local" 1000 10000 | tee -a "$out/$stamp.txt"
  proxy_start "$pport" "$port" "$work/wire-push.json"
  echo "   push (load $(load))" | tee -a "$out/$stamp.txt"
  timev pouch-push node "$bj" push "$pdir/local" "http://127.0.0.1:$pport/bench" > "$work/push.json"
  tee -a "$out/$stamp.txt" < "$work/push.json"
  proxy_stop
  echo "   load at end $(load); wire: $(cat "$work/wire-push.json")" | tee -a "$out/$stamp.txt"
  kill "$pouch_pid"; wait "$pouch_pid" 2>/dev/null || true
fi
echo "== done; results in $out/$stamp.txt"
