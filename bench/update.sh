#!/usr/bin/env bash
# bench/update.sh — the update figures of BENCHMARKS.md (SPEC §9 "Update …, 200 clients";
# issue 4 point 12), on 127.0.0.1 only, stopping by itself.
#
#   bench/update.sh [DEVICES] [MEASUREMENTS] [CLIENTS]      (defaults 1000000 1000000 200)
#
# Steps: build the host `izytroniq` and the load generator; make a release key and two
# signed packages (1.0.0 and 1.1.0, linux/amd64) from this source tree; install 1.0.0 in
# the versioned layout ROOT/versions/1.0.0 + ROOT/current; `init` and `seed` a SQLite
# installation; serve it from 1.0.0; drive CLIENTS connections of the `mixed` scenario
# (80 % get device, 15 % list page, 5 % record a test) for the whole run, writing every
# request's start and latency; after a baseline, run `izytroniq update --package 1.1.0`
# (the installed 1.0.0 binary runs it, as an administrator would); then compare the
# requests before the update with those during it (`load window`): failed requests and
# added p99. The update's own JSON report gives each phase's duration. Finally a second
# update to a package whose server cannot become ready (ROLLBACK=1, the default) measures
# the automatic rollback.
set -euo pipefail
devices=${1:-1000000}; measurements=${2:-1000000}; clients=${3:-200}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/izyupdbench.XXXXXX)
out=$root/bench/out; mkdir -p "$out"
stamp=update-$devices
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -f "$work/root/versions/" 2>/dev/null || true  # the server, whichever version serves now
  wait 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
now_ns() { date +%s%N; }
port=$(( 20000 + RANDOM % 20000 ))

echo "== machine: $(nproc) cores, load $(load)"
echo "== build"
go build -o "$work/izytroniq" "$root/cmd/izytroniq"
go build -o "$work/load" "$root/bench/load"
"$work/izytroniq" release keygen --out "$work/keys" >/dev/null
# 1.1.0 carries one real extra (expand) migration: the test-only build tag
# izytroniq_testmigration (internal/sqldb/migrate_testmigration.go), which no release uses.
(cd "$root" && "$work/izytroniq" release build --version 1.0.0 --key "$work/keys/release.key" \
   --out "$work/pkg" --platforms linux/amd64) >/dev/null
(cd "$root" && GOFLAGS=-tags=izytroniq_testmigration "$work/izytroniq" release build --version 1.1.0 \
   --key "$work/keys/release.key" --out "$work/pkg" --platforms linux/amd64) >/dev/null
# 1.2.0: that expand migration, a real contract migration (so a rollback must restore the
# database from the update's backup) and a server that fails to start — test-only build tags
# (internal/sqldb/migrate_test*.go, cmd/izytroniq/testbroken.go) that no release uses.
(cd "$root" && GOFLAGS=-tags=izytroniq_testmigration,izytroniq_testcontract,izytroniq_testbroken \
   "$work/izytroniq" release build --version 1.2.0 --key "$work/keys/release.key" \
   --out "$work/pkg" --platforms linux/amd64) >/dev/null

echo "== install 1.0.0, init, seed $devices devices, $measurements measurements"
inst=$work/root
mkdir -p "$inst/versions/1.0.0" "$work/x"
tar -xzf "$work/pkg/izytroniq-1.0.0.tar.gz" -C "$work/x"
cp "$work/x/linux-amd64/izytroniq" "$inst/versions/1.0.0/izytroniq"
printf '1.0.0\n' > "$inst/current"
old=$inst/versions/1.0.0/izytroniq
printf 'bench-password-1\n' > "$work/pw"
"$old" init --dir "$work/etc" --listen "127.0.0.1:$port" --admin-password-file "$work/pw" >/dev/null
cfg=$work/etc/izytroniq.toml
datadir=$(sed -n 's/^data_dir = "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$cfg")
printf '\n[update]\ntrusted_keys = ["%s"]\n' "$work/keys/release.pub" >> "$cfg"
t0=$(date +%s.%N)
"$old" seed --config "$cfg" --devices "$devices" --measurements "$measurements" >/dev/null
echo "seeded in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
sha_before=$(sha256sum "$cfg" | cut -d' ' -f1)

echo "== serve 1.0.0 on 127.0.0.1:$port"
"$old" serve --config "$cfg" >"$work/serve.out" 2>&1 &
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "server did not start"; cat "$work/serve.out"; exit 1; }

secs=${SECS:-90}
echo "== load: $clients connections, mixed, ${secs}s (load $(load))"
"$work/load" -url "http://127.0.0.1:$port" -password-file "$work/pw" -scenario mixed -c "$clients" \
  -d "${secs}s" -ids 20000 -samples "$work/samples" -json > "$work/load.json" 2> "$work/load.err" &
lp=$!; pids+=("$lp")
# The generator first collects device IDs; the baseline starts when it drives requests.
for _ in $(seq 1 600); do grep -q "driving" "$work/load.err" 2>/dev/null && break; sleep 0.5; done
grep -q "driving" "$work/load.err" || { echo "the load generator did not start"; cat "$work/load.err"; exit 1; }
sleep "${BASELINE:-25}"

echo "== update 1.0.0 -> 1.1.0 under load (load $(load))"
from=$(now_ns)
"$old" update --config "$cfg" --package "$work/pkg/izytroniq-1.1.0.tar.gz" --json > "$work/update.json" 2> "$work/update.err" || {
  echo "update failed:"; cat "$work/update.err"; cat "$work/update.json"; exit 1; }
to=$(now_ns)
wait "$lp"
echo "update took $(( (to - from) / 1000000 )) ms"
cat "$work/load.json"
"$work/load" window -samples "$work/samples" -from "$from" -to "$to" | tee "$out/$stamp-window.txt"
phases() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"outcome {r['outcome']}: {r['from_version']} -> {r['to_version']}")
for p in r["phases"]:
    print(f"  {p['name']:<15} {p['duration_ns']/1e9:8.2f} s  {p['outcome']}")
print("message:", r.get("message", ""))
PY
}
phases "$work/update.json" | tee "$out/$stamp-phases.txt"
curl -fs "http://127.0.0.1:$port/readyz"; echo
[ "$(sha256sum "$cfg" | cut -d' ' -f1)" = "$sha_before" ] && echo "config byte-identical after the update" || echo "CONFIG CHANGED"
cp "$work/update.json" "$out/$stamp-update.json"

echo "== rollback: update 1.1.0 -> 1.2.0 (contract migration, server fails to start), no load (load $(load))"
new=$inst/versions/1.1.0/izytroniq
before_rows=$(curl -fs -H "Authorization: Bearer $(curl -fs -d "{\"username\":\"admin\",\"password\":\"$(cat "$work/pw")\"}" "http://127.0.0.1:$port/api/v1/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')" \
  "http://127.0.0.1:$port/api/v1/customers?limit=5" | sha256sum | cut -d' ' -f1)
from=$(now_ns)
set +e
"$new" update --config "$cfg" --package "$work/pkg/izytroniq-1.2.0.tar.gz" --json > "$work/rollback.json" 2> "$work/rollback.err"
st=$?
set -e
to=$(now_ns)
echo "update exit status $st (1 expected: rolled back), took $(( (to - from) / 1000000 )) ms"
phases "$work/rollback.json" | tee "$out/$stamp-rollback.txt"
curl -fs "http://127.0.0.1:$port/readyz"; echo
after_rows=$(curl -fs -H "Authorization: Bearer $(curl -fs -d "{\"username\":\"admin\",\"password\":\"$(cat "$work/pw")\"}" "http://127.0.0.1:$port/api/v1/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')" \
  "http://127.0.0.1:$port/api/v1/customers?limit=5" | sha256sum | cut -d' ' -f1)
[ "$before_rows" = "$after_rows" ] && echo "customers identical after the rollback (the contract migration's rename undone)" || echo "CUSTOMERS DIFFER after the rollback"
cp "$work/rollback.json" "$out/$stamp-rollback.json"
echo "== machine load after: $(load)"
