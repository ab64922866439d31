#!/usr/bin/env bash
# make bench-report: the monthly report at a large fixture scale, against the
# time the server alone needs to answer the same queries (each part as one
# streamed query, output to /dev/null). Alternates the two, prints medians
# and a breakdown (each query's time through the stock client alone and on
# the report's connection, each part's client time, the files' tail) and
# appends them to BENCHMARKS.md.
#   BENCH_SCALE (default 100), BENCH_RUNS (default 3), BENCH_MONTH (default 2024-03),
#   BENCH_THREADS (the report's --threads; default: its own default),
#   BENCH_POOL (innodb_buffer_pool_size, default 2G: the data in memory; 128M,
#   the server's default, is the fund's machine, where scale 100 is 5x the pool)
set -euo pipefail
BIN=${1:-bin/lms-backup}
SCALE=${BENCH_SCALE:-100}
RUNS=${BENCH_RUNS:-3}
MONTH=${BENCH_MONTH:-2024-03}
POOL=${BENCH_POOL:-2G}
. "$(dirname "$0")/lib.sh"
version=$(git describe --always --dirty 2>/dev/null || echo dev) # of the binary make built just before
work=$(mktemp -d /tmp/lms-bench-report.XXXXXX)
start_server "$work" --innodb-buffer-pool-size="$POOL"
conn=(--no-defaults --socket "$sock" --user root)
echo "bench-report: building the fixture at scale $SCALE" >&2
"$BIN" -q fixture "${conn[@]}" -D lms --scale "$SCALE"

# The template's queries, as the server alone would run them.
python3 - "$MONTH" >"$work/queries.sql" <<'PY'
import json, sys, datetime
m = datetime.date.fromisoformat(sys.argv[1] + "-01")
n = (m.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
t = json.load(open("templates/loans.json"))
sub = lambda s: s.replace(":month_start", f"'{m} 00:00:00'").replace(":month_end", f"'{n} 00:00:00'")
qs = [f["sql"] for f in t["summary"]] + [t["aging"]["sql"], t["daily"]["collections_sql"], t["daily"]["disbursements_sql"]]
for p in t["parts"]:
    cols = ", ".join(c["expr"] for c in p["columns"])
    order = ", ".join(f"`{p['table']}`.`{k['column']}`" for k in p["order_key"])
    qs.append(f"SELECT {cols} FROM `{p['table']}` WHERE {p['where']} ORDER BY {order}")
for q in qs:
    print(sub(q) + ";")
PY
threads=()
[ -n "${BENCH_THREADS:-}" ] && threads=(--threads "$BENCH_THREADS")

: >"$work/results"
for run in $(seq 1 "$RUNS"); do
  echo "bench-report: run $run of $RUNS" >&2
  /usr/bin/time -f "server-alone %e %U %S %M" -a -o "$work/results" \
    bash -c "mariadb --no-defaults --socket=$sock -uroot --quick -N lms < $work/queries.sql > /dev/null"
  /usr/bin/time -f "lms-backup-report %e %U %S %M" -a -o "$work/results" \
    "$BIN" --log-format json --log-level debug report "${conn[@]}" -D lms --month "$MONTH" --out "$work" \
    --stats-json "$work/stats-$run.json" "${threads[@]}" 2>"$work/log-$run.json"
done
# Each query alone through the stock client, one after another (the
# server-alone run above, query by query), for the breakdown.
: >"$work/alone"
n=0
while IFS= read -r q; do
  n=$((n + 1))
  s=$(date +%s.%N)
  printf '%s\n' "$q" | mariadb --no-defaults --socket="$sock" -uroot --quick -N lms >/dev/null
  echo "$n $(date +%s.%N) $s" >>"$work/alone"
done <"$work/queries.sql"
rows=$(python3 -c "import json,glob; print(max(json.load(open(f))['peak_heap_bytes'] for f in glob.glob('$work/stats-*.json')))")
report=$(python3 - "$work/results" "$SCALE" "$MONTH" "$rows" "$POOL" <<'PY'
import sys, statistics, collections
res = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, wall, u, s, rss = line.split()
    res[n].append((float(wall), float(u) + float(s), int(rss)))
med = {n: [statistics.median(x[i] for x in v) for i in range(3)] for n, v in res.items()}
print(f"Report for {sys.argv[3]} at fixture scale {sys.argv[2]}, innodb_buffer_pool_size {sys.argv[5]}, medians of {len(res['server-alone'])} runs.\n")
print("| what | wall s | CPU s (client) | peak RSS MiB |")
print("|---|---|---|---|")
for n in ["server-alone", "lms-backup-report"]:
    w, c, r = med[n]
    print(f"| {n} | {w:.2f} | {c:.2f} | {r/1024:.1f} |")
print(f"\nThe report takes {med['lms-backup-report'][0]/med['server-alone'][0]:.2f}x the server-alone time; its largest peak heap was {int(sys.argv[4])/2**20:.1f} MiB.")
PY
)
breakdown=$(python3 - "$work" "$RUNS" <<'PY'
import json, sys, statistics, collections, glob
work, runs = sys.argv[1], int(sys.argv[2])
t = json.load(open("templates/loans.json"))
names = [f"summary {f['key']}" for f in t["summary"]] + ["aging", "daily collections", "daily disbursements"] + [f"part {p['key']}" for p in t["parts"]]
alone = {}
for line in open(f"{work}/alone"):
    i, end, start = line.split()
    alone[names[int(i) - 1]] = float(end) - float(start)
server, client, waited, files = collections.defaultdict(list), collections.defaultdict(list), collections.defaultdict(list), collections.defaultdict(list)
shared = {}
for f in sorted(glob.glob(f"{work}/log-*.json")):
    for line in open(f):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get("msg") == "query done":
            # Figures over the same rows are one query: "summary a, b".
            q = d["query"].split(", ")
            server[q[0]].append(d["server"])
            for k in q[1:]:
                shared["summary " + k] = q[0]
        elif d.get("msg") == "part written":
            client["part " + d["part"]].append(d["client"])
            waited["part " + d["part"]].append(d["waited"])
        elif d.get("msg") == "files written":
            files["wall"].append(d["client"])
            files["cpu"].append(d["cpu"])
med = lambda xs: f"{statistics.median(xs):.2f}" if xs else ""
print(f"Breakdown (medians of {runs} report runs; the stock client's column is one run of each query alone, starting the client included, about 0.04 s):\n")
print("| query | stock client alone s | on the report's connection s | writers s (part) | writers waited s |")
print("|---|---|---|---|---|")
for n in names:
    mine = f"in the query of {shared[n][8:]}" if n in shared else med(server[n])
    print(f"| {n} | {alone.get(n, 0):.2f} | {mine} | {med(client[n])} | {med(waited[n])} |")
print(f"| sum | {sum(alone.values()):.2f} | {sum(statistics.median(v) for v in server.values() if v):.2f} | "
      f"{sum(statistics.median(v) for v in client.values() if v):.2f} | |")
print(f"\nClosing the files (workbook and PDF side by side, after the last row): {med(files['wall'])} s wall, {med(files['cpu'])} s CPU.")
PY
)
echo "$report"
echo
echo "$breakdown"
{ echo; echo "## Monthly report"; echo; echo "Produced by \`make bench-report\` (scripts/bench-report.sh) on $(date -u +%Y-%m-%d), $(nproc) cores, lms-backup $version${BENCH_THREADS:+, report --threads $BENCH_THREADS}."; echo; echo "$report"; echo; echo "$breakdown"; } >>BENCHMARKS.md
