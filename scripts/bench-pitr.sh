#!/usr/bin/env bash
# make bench-pitr: what a restore to a moment costs on top of a plain
# restore of the same dump, and how fast the archived binary log replays,
# against the time the server took to commit the same transactions. One
# throwaway MariaDB logging rows; the runs alternate; prints medians.
#   BENCH_SCALE  fixture scale (default 4)
#   BENCH_TXNS   transactions committed after the dump (default 20000: an
#                insert and an update each, one row per statement)
#   BENCH_RUNS   runs of each restore (default 3)
set -euo pipefail
BIN=${1:-bin/lms-backup}
SCALE=${BENCH_SCALE:-4}
TXNS=${BENCH_TXNS:-20000}
RUNS=${BENCH_RUNS:-3}
command -v /usr/bin/time >/dev/null || { echo "bench-pitr: GNU time missing (apt-get install time)" >&2; exit 1; }

. "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/lms-bench-pitr.XXXXXX)
start_server "$work" --log-bin=binlog --server-id=1 --binlog-format=ROW --innodb-buffer-pool-size=1G
conn=(--no-defaults --socket "$sock" --user root)
client() { mariadb --no-defaults --socket="$sock" -uroot "$@"; }

echo "bench-pitr: fixture at scale $SCALE, a dump, then $TXNS transactions" >&2
"$BIN" -q fixture "${conn[@]}" -D lms --scale "$SCALE"
mkdir -p "$work/backups"
"$BIN" -q dump "${conn[@]}" -D lms -o "$work/backups/"
"$BIN" -q binlog "${conn[@]}" -o "$work/backups/" 2>"$work/binlog.log" &
archiver=$!
python3 - "$TXNS" >"$work/txns.sql" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print(f"INSERT INTO payments (loan_id, amount, paid_at, method) VALUES ({i % 500 + 1}, {i % 97}.25, NOW(3), 'cash');")
    print(f"UPDATE loans SET principal = principal + 0.01 WHERE id = {i % 500 + 1};")
PY
start=$(date +%s.%N)
client lms <"$work/txns.sql"
commit=$(python3 -c "import time; print(round(time.time() - $start, 2))")
now=$(client -N -e "SELECT NOW()")
while [ "$(client -N -e "SELECT NOW()")" = "$now" ]; do sleep 0.1; done
moment=$(client -N -e "SELECT NOW()")
while [ "$(client -N -e "SELECT NOW()")" = "$moment" ]; do sleep 0.1; done
client lms -e "DELETE FROM payments ORDER BY id DESC LIMIT 1"   # one transaction after the moment
sleep 2
kill -TERM "$archiver"; wait "$archiver" || true

: >"$work/results"
for run in $(seq 1 "$RUNS"); do
  echo "bench-pitr: run $run of $RUNS" >&2
  /usr/bin/time -f "plain %e" -a -o "$work/results" "$BIN" -q restore "${conn[@]}" -D "plain_$run" --create-database "$work/backups"/lms-*.sql.zst
  /usr/bin/time -f "until %e" -a -o "$work/results" "$BIN" -q restore "${conn[@]}" -D "until_$run" --create-database --until "$moment" "$work/backups/" >"$work/until.out"
done
python3 - "$work/results" "$SCALE" "$TXNS" "$commit" "$(cat "$work/until.out")" <<'PY'
import sys, statistics, collections
res = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, wall = line.split()
    res[name].append(float(wall))
plain, until = statistics.median(res["plain"]), statistics.median(res["until"])
txns, commit = int(sys.argv[3]) * 2, float(sys.argv[4])
replay = until - plain
print(f"Restore to a moment at fixture scale {sys.argv[2]}, {txns} transactions after the dump (one row each), medians of {len(res['plain'])} runs.\n")
print("| what | wall s |")
print("|---|---|")
print(f"| the server committing the transactions (mariadb client, one per statement) | {commit:.2f} |")
print(f"| restore of the dump | {plain:.2f} |")
print(f"| restore --until (the same dump, then the replay) | {until:.2f} |")
print(f"\nThe replay took {replay:.2f} s: {txns / max(replay, 0.01):.0f} transactions/s, {replay / commit:.2f}x the time the server took to commit them.")
print(f"\n`{sys.argv[5]}`")
PY
