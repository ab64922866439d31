#!/usr/bin/env bash
# make bench: lms-backup against its peers on one throwaway MariaDB, in one
# session, alternating the tools run by run so that the machine's drift hits
# them alike. Prints a table of medians (wall time, CPU, peak RSS, output
# size) with ratios, and writes it to BENCHMARKS.md.
#   BENCH_SCALE  fixture scale (default 20: 20k users, ~713k installments)
#   BENCH_RUNS   runs of each tool (default 3)
#   BENCH_POOL   the server's innodb_buffer_pool_size (default 1G: the data
#                in memory; 128M is the server's default, as on the fund's
#                machine, where a database of scale 100 is 5x the pool)
#   BENCH_RESTORE 0 to time the dumps only (default 1)
#   BENCH_WRITE  0 to print the table without writing BENCHMARKS.md
set -euo pipefail
BIN=${1:-bin/lms-backup}
SCALE=${BENCH_SCALE:-20}
RUNS=${BENCH_RUNS:-3}
POOL=${BENCH_POOL:-1G}
RESTORE=${BENCH_RESTORE:-1}
for tool in /usr/bin/time zstd mariadb-dump; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (apt-get install time zstd mariadb-client)" >&2; exit 1; }
done
have_mydumper=0
command -v mydumper >/dev/null && have_mydumper=1

. "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/lms-bench.XXXXXX)
start_server "$work" --innodb-buffer-pool-size="$POOL"
conn=(--no-defaults --socket "$sock" --user root)
cli=(--no-defaults --socket="$sock" -uroot)

# An S3 server on loopback for the bucket rows (versitygw: make deps builds
# it); a bucket of its posix backend is a folder.
vgw=$(command -v versitygw || echo "$(go env GOPATH 2>/dev/null | cut -d: -f1)/bin/versitygw")
have_s3=0
if [ -x "$vgw" ]; then
  s3port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/s3/bench"
  ROOT_ACCESS_KEY=benchkey ROOT_SECRET_KEY=benchsecret "$vgw" --port "127.0.0.1:$s3port" posix "$work/s3" >"$work/s3.log" 2>&1 &
  s3pid=$!
  trap 'kill $s3pid 2>/dev/null; stop_server "'"$work"'"' EXIT
  sleep 1
  have_s3=1
  export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret AWS_ENDPOINT_URL="http://127.0.0.1:$s3port" AWS_REGION=us-east-1
fi

echo "bench: building the fixture at scale $SCALE" >&2
"$BIN" -q fixture "${conn[@]}" -D lms --scale "$SCALE"
rows=$(mariadb "${cli[@]}" -N lms -e "SELECT (SELECT COUNT(*) FROM users)+(SELECT COUNT(*) FROM loans)+(SELECT COUNT(*) FROM installments)+(SELECT COUNT(*) FROM payments)")

# measure NAME OUTPUT COMMAND...: one run; appends "name wall cpu rss bytes" to $work/results.
measure() {
  local name=$1 out=$2; shift 2
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
  read -r wall user sys rss <"$work/time"
  local size=0
  [ -n "$out" ] && size=$(du -sb "$out" | cut -f1)
  echo "$name $wall $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}') $rss $size" >>"$work/results"
}
fresh() { mariadb "${cli[@]}" -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1"; }

: >"$work/results"
for run in $(seq 1 "$RUNS"); do
  echo "bench: run $run of $RUNS" >&2
  measure "read-floor" "" bash -c "for t in users loans installments payments; do mariadb ${cli[*]} --quick -N lms -e \"SELECT * FROM \$t\"; done >/dev/null"
  measure "lms-backup-dump-t1" "$work/lms1.sql.zst" "$BIN" -q dump "${conn[@]}" -D lms -o "$work/lms1.sql.zst" --threads 1
  measure "lms-backup-dump-t2" "$work/lms.sql.zst" "$BIN" -q dump "${conn[@]}" -D lms -o "$work/lms.sql.zst" --threads 2
  measure "mariadb-dump|zstd-3" "$work/md.sql.zst" bash -c "mariadb-dump ${cli[*]} --single-transaction --quick lms | zstd -3 -q -T1 > $work/md.sql.zst"
  if [ $have_mydumper = 1 ]; then
    rm -rf "$work/myd"
    measure "mydumper-t2-c" "$work/myd" mydumper --socket "$sock" -u root -B lms -t 2 -c -o "$work/myd"
  fi
  if [ $have_s3 = 1 ]; then
    measure "lms-backup-dump-t2-s3" "$work/s3/bench/lms.sql.zst" "$BIN" -q dump "${conn[@]}" -D lms -o s3://bench/lms.sql.zst --threads 2
  fi
  [ "$RESTORE" = 1 ] || continue
  fresh r1
  measure "lms-backup-restore-t1" "" "$BIN" -q restore "${conn[@]}" -D r1 --threads 1 "$work/lms.sql.zst"
  fresh r2
  measure "lms-backup-restore-t2" "" "$BIN" -q restore "${conn[@]}" -D r2 --threads 2 "$work/lms.sql.zst"
  fresh r3
  measure "zstd-dc|mariadb" "" bash -c "zstd -dc $work/lms.sql.zst | mariadb ${cli[*]} r3"
  if [ $have_s3 = 1 ]; then
    fresh r5
    measure "lms-backup-restore-t2-s3" "" "$BIN" -q restore "${conn[@]}" -D r5 --threads 2 s3://bench/lms.sql.zst
  fi
  if [ $have_mydumper = 1 ]; then
    fresh r4
    measure "myloader-t2" "" myloader --socket "$sock" -u root -d "$work/myd" -B r4 -t 2 -o
  fi
done

# Medians per tool and ratios against mariadb-dump|zstd and the read floor.
report=$(python3 - "$work/results" "$SCALE" "$rows" "$POOL" <<'PY'
import sys, statistics, collections
res = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, wall, cpu, rss, size = line.split()
    res[n].append((float(wall), float(cpu), int(rss), int(size)))
med = {n: tuple(statistics.median(x[i] for x in v) for i in range(4)) for n, v in res.items()}
print(f"Fixture scale {sys.argv[2]} ({int(sys.argv[3]):,} rows), innodb_buffer_pool_size {sys.argv[4]}, medians of {len(next(iter(res.values())))} runs.\n")
print("| tool | wall s | CPU s | peak RSS MiB | output MB | wall vs mariadb-dump\\|zstd | wall vs mydumper -t 2 -c | wall vs read floor | size vs mariadb-dump\\|zstd |")
print("|---|---|---|---|---|---|---|---|---|")
base, _, _, bsize = med.get("mariadb-dump|zstd-3", (0, 0, 0, 0)); floor = med.get("read-floor", (0,))[0]
myd = med.get("mydumper-t2-c", (0,))[0]
for n in ["read-floor", "lms-backup-dump-t1", "lms-backup-dump-t2", "lms-backup-dump-t2-s3", "mariadb-dump|zstd-3", "mydumper-t2-c"]:
    if n not in med: continue
    w, c, r, s = med[n]
    dump = "restore" not in n and "|mariadb" not in n and n != "read-floor"
    vs = f"{w/base:.2f}x" if base and dump else ""
    vm = f"{w/myd:.2f}x" if myd and dump else ""
    vf = f"{w/floor:.2f}x" if floor and dump else ""
    vz = f"{s/bsize:.3f}x" if bsize and dump and s else ""
    print(f"| {n} | {w:.2f} | {c:.2f} | {r/1024:.1f} | {s/1e6:.1f} | {vs} | {vm} | {vf} | {vz} |")
fb = med.get("lms-backup-dump-t2", (0,))[0]; sb = med.get("lms-backup-dump-t2-s3", (0,))[0]
fr = med.get("lms-backup-restore-t2", (0,))[0]; sr = med.get("lms-backup-restore-t2-s3", (0,))[0]
if fb and sb and fr and sr:
    print(f"\nTo and from a bucket on loopback (versitygw) against a local file, --threads 2: dump {sb/fb:.2f}x, restore {sr/fr:.2f}x.")
if "zstd-dc|mariadb" in med:
    print("\n| restore | wall s | CPU s | peak RSS MiB | wall vs zstd -dc\\|mariadb | wall vs myloader -t 2 |")
    print("|---|---|---|---|---|---|")
stock = med.get("zstd-dc|mariadb", (0,))[0]; myl = med.get("myloader-t2", (0,))[0]
for n in ["lms-backup-restore-t1", "lms-backup-restore-t2", "lms-backup-restore-t2-s3", "zstd-dc|mariadb", "myloader-t2"]:
    if n not in med: continue
    w, c, r, _ = med[n]
    vs = f"{w/stock:.2f}x" if stock else ""
    vm = f"{w/myl:.2f}x" if myl else ""
    print(f"| {n} | {w:.2f} | {c:.2f} | {r/1024:.1f} | {vs} | {vm} |")
PY
)
echo "$report"
[ "${BENCH_WRITE:-1}" = 1 ] || exit 0
# Keep the hand-written notes and the report benchmark that follow the table.
notes=$(awk '/^### |^## Monthly report/ {f = 1} f' BENCHMARKS.md 2>/dev/null || true)
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(mariadbd --version | awk '{print $3}'), lms-backup $("$BIN" --version | awk '{print $3}')."
  echo "One throwaway server on a unix socket; tools alternate run by run. The read floor is the stock client"
  echo "reading every row of every table to /dev/null: what the server needs just to send the rows."
  echo
  echo "$report"
  if [ -n "$notes" ]; then echo; echo "$notes"; fi
} >BENCHMARKS.md
echo "bench: written to BENCHMARKS.md" >&2
