#!/usr/bin/env bash
# bench/syncab.sh — A/B of `izy checkout` and `izy sync` between two builds, on the same
# seeded installation and the same offline work, one run after the other (BENCHMARKS.md,
# sync, "A/B"). 127.0.0.1 only; stops by itself.
#
#   bench/syncab.sh REV_A REV_B [DEVICES MEASUREMENTS [RUNS]]
#
#   REV_A, REV_B   git revisions to build (e.g. ce7538a HEAD); "." is the working tree.
#   DEVICES, MEASUREMENTS  the seed, all in one customer (default 10000 100000).
#   RUNS           runs per build and step, alternating A and B (default 2).
#   KEEP=1         (env) keep the work directory.
#
# Per run it prints wall time, the izy process's CPU and peak RSS (/usr/bin/time) and the
# server's CPU seconds (/proc/PID/stat). Checkout: a fresh copy of the seeded
# installation, a fresh izy home, `izy checkout --customer ID`. Sync: the offline work
# (10,000 measurements in `izy test` processes, 6 per test, and 1,000 `izy device edit`)
# is recorded once, with build B's izy, after a checkout; each sync run starts from a
# copy of that state (server installation and izy home), with the server restarted, so
# every run uploads the same mutations (2,667 when the seed has enough devices), and the
# script checks that each run applied all of them.
set -euo pipefail
rev_a=${1:?usage: bench/syncab.sh REV_A REV_B [DEVICES MEASUREMENTS [RUNS]]}
rev_b=${2:?usage: bench/syncab.sh REV_A REV_B [DEVICES MEASUREMENTS [RUNS]]}
devices=${3:-10000}; measurements=${4:-100000}; runs=${5:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/izysyncab.XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))

build() { # build REV DIR
  mkdir -p "$2/src"
  if [ "$1" = . ]; then
    (cd "$root" && go build -o "$2/izytroniq" ./cmd/izytroniq && go build -o "$2/izy" ./cmd/izy)
  else
    git -C "$root" archive "$1" | tar -x -C "$2/src"
    (cd "$2/src" && go build -o "$2/izytroniq" ./cmd/izytroniq && go build -o "$2/izy" ./cmd/izy)
  fi
}
echo "== building A=$rev_a and B=$rev_b"
build "$rev_a" "$work/a"; build "$rev_b" "$work/b"

serve() { # serve BIN INSTDIR
  "$1/izytroniq" serve --config "$2/izytroniq.toml" > "$work/serve.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "server did not become ready; see $work/serve.log" >&2; exit 1
}
stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }
server_cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$server_pid/stat"; }
timed() { # timed LABEL cmd... : one line of figures
  local label=$1; shift
  local s0 s1; s0=$(server_cpu)
  /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" > "$work/out.json" 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
  s1=$(server_cpu)
  read -r wall usr sys rss < "$work/t"
  printf "%-9s %s: wall %6.2f s, izy %.2f+%.2f s CPU, izy RSS %5.1f MB, server %5.2f s CPU (load %s)\n" \
    "$label" "$(basename "$1" | sed 's/izy//')" "$wall" "$usr" "$sys" "$(awk -v k="$rss" 'BEGIN{print k/1024}')" \
    "$(awk -v a="$s0" -v b="$s1" 'BEGIN{print b-a}')" "$(cut -d' ' -f1 /proc/loadavg)"
}

printf 'bench-password-%s\n' "$RANDOM$RANDOM" > "$work/pw"
echo "== seed: $devices devices, ~$measurements measurements, one customer (build A's seed)"
"$work/a/izytroniq" init --dir "$work/seeded" --listen "127.0.0.1:$port" --admin-password-file "$work/pw" >/dev/null
"$work/a/izytroniq" seed --config "$work/seeded/izytroniq.toml" --devices "$devices" --measurements "$measurements" --customers 1 | tail -n 1
customer=$(sqlite3 "$work/seeded/data/izytroniq.db" "select id from customers limit 1")

fresh() { # fresh NAME: a copy of the seeded installation at $work/NAME
  rm -rf "$work/$1"; cp -a "$work/seeded" "$work/$1"
  sed -i "s#$work/seeded#$work/$1#g" "$work/$1/izytroniq.toml"
}

echo "== checkout ($runs runs each, A and B alternating)"
for i in $(seq 1 "$runs"); do
  for ab in a b; do
    fresh inst; rm -rf "$work/home"
    serve "$work/$ab" "$work/inst"
    "$work/$ab/izy" --home "$work/home" login --server "http://127.0.0.1:$port" --user admin --password-file "$work/pw" >/dev/null
    timed "checkout $ab" "$work/$ab/izy" --home "$work/home" checkout --customer "$customer" --json
    stop
  done
done

echo "== offline work (build B's izy): 10,000 measurements + 1,000 device edits"
fresh pre; rm -rf "$work/home.pre"
serve "$work/b" "$work/pre"
izy() { "$work/b/izy" --home "$work/home.pre" "$@"; }
izy login --server "http://127.0.0.1:$port" --user admin --password-file "$work/pw" >/dev/null
izy checkout --customer "$customer" > /dev/null 2>&1
rep=$work/home.pre/replica.db
sqlite3 "$rep" "select id from records where entity='device' and json_extract(data,'\$.status')='active'
  and json_extract(data,'\$.protection_class')='I' and json_extract(data,'\$.standard')=''
  and json_extract(data,'\$.medical') is null order by random() limit 1717" > "$work/test-devices"
sqlite3 "$rep" "select id from records where entity='device' and json_extract(data,'\$.status')='active'
  and json_extract(data,'\$.protection_class')<>'I' order by random() limit 1000" > "$work/edit-devices"
m6=(--measure protective_conductor_resistance=0.08Ω --measure protective_conductor_resistance=0.09Ω --measure insulation_resistance=250MΩ
    --measure protective_conductor_current=0.2mA --measure touch_current=0.05mA --measure equivalent_leakage_current=0.4mA)
left=10000
while read -r d; do
  [ "$left" -gt 0 ] || break
  k=$(( left < 6 ? left : 6 )); left=$((left - k))
  izy test "$d" "${m6[@]:0:$((2*k))}" > /dev/null < /dev/null || left=$((left + k))
done < "$work/test-devices"
i=0
while read -r d; do i=$((i+1)); izy device edit "$d" --comment "bench edit $i" > /dev/null < /dev/null; done < "$work/edit-devices"
stop
mutations=$(sqlite3 "$rep" "select count(*) from outbox")
echo "   $mutations mutations in the outbox"

echo "== izy sync ($runs runs each, A and B alternating; same pre-sync state every run)"
for i in $(seq 1 "$runs"); do
  for ab in a b; do
    rm -rf "$work/pre.run" "$work/home"; cp -a "$work/pre" "$work/pre.run"; cp -a "$work/home.pre" "$work/home"
    sed -i "s#$work/pre#$work/pre.run#g" "$work/pre.run/izytroniq.toml"
    serve "$work/$ab" "$work/pre.run"
    timed "sync $ab" "$work/$ab/izy" --home "$work/home" sync --json
    tr -d ' \n' < "$work/out.json" | grep -q "\"applied\":$mutations}" || { echo "sync did not apply all $mutations mutations: $(cat "$work/out.json")" >&2; exit 1; }
    stop
  done
done
echo "== done"
