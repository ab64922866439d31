#!/usr/bin/env bash
# make demo: a throwaway MariaDB with a sample loan database; dump it,
# verify the file, restore it with lms-backup and with the stock client,
# show that every table came back identical, build the March 2024 report
# (xlsx + pdf, Arabic and English), and go back to just before a mistake
# with the archived binary log (restore --until). Leaves the dump and the
# reports in demo-output/ and removes the server.
set -euo pipefail
BIN=${1:-bin/lms-backup}
OUT=demo-output
SCALE=${DEMO_SCALE:-2}

. "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/lms-demo.XXXXXX)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting a throwaway MariaDB in $work"
start_server "$work" --default-time-zone=+03:00 --log-bin=binlog --server-id=1 --binlog-format=ROW
conn=(--no-defaults --socket "$sock" --user root)
client() { mariadb --no-defaults --socket="$sock" -uroot "$@"; }

step "loading the sample loan database (scale $SCALE)"
"$BIN" fixture "${conn[@]}" --database lms --scale "$SCALE"
client lms -e "SELECT 'users', COUNT(*) FROM users UNION ALL SELECT 'loans', COUNT(*) FROM loans
  UNION ALL SELECT 'installments', COUNT(*) FROM installments UNION ALL SELECT 'payments', COUNT(*) FROM payments"

mkdir -p "$OUT"
step "dump: lms-backup dump -D lms -o $OUT/lms.sql.zst"
"$BIN" dump "${conn[@]}" --database lms -o "$OUT/lms.sql.zst"
ls -l "$OUT/lms.sql.zst"

step "verify: lms-backup verify $OUT/lms.sql.zst"
"$BIN" verify "$OUT/lms.sql.zst"

step "restore with lms-backup into lms_copy"
"$BIN" restore "${conn[@]}" --database lms_copy --create-database "$OUT/lms.sql.zst"

step "restore with the stock client: zstd -dc $OUT/lms.sql.zst | mariadb lms_client"
client -e "CREATE DATABASE lms_client"
zstd -dc "$OUT/lms.sql.zst" | client lms_client

step "comparing CHECKSUM TABLE ... EXTENDED of every table"
status=0
for t in users loans installments payments; do
  a=$(client -N lms -e "CHECKSUM TABLE \`$t\` EXTENDED" | cut -f2)
  b=$(client -N lms_copy -e "CHECKSUM TABLE \`$t\` EXTENDED" | cut -f2)
  c=$(client -N lms_client -e "CHECKSUM TABLE \`$t\` EXTENDED" | cut -f2)
  if [ "$a" = "$b" ] && [ "$a" = "$c" ]; then r=identical; else r=DIFFERENT; status=1; fi
  printf '  %-13s source %-11s lms-backup %-11s mariadb %-11s %s\n' "$t" "$a" "$b" "$c" "$r"
done
step "report: lms-backup report -D lms --month 2024-03 (Arabic) and --lang en"
"$BIN" report "${conn[@]}" --database lms --month 2024-03 --out "$OUT"
mkdir -p "$OUT/en"
"$BIN" report "${conn[@]}" --database lms --month 2024-03 --lang en --out "$OUT/en"
ls -l "$OUT" "$OUT/en"

step "point in time: a nightly dump into $OUT/nightly/, then lms-backup binlog -o $OUT/nightly/ archives the binary log"
rm -rf "$OUT/nightly" && mkdir -p "$OUT/nightly"
"$BIN" -q dump "${conn[@]}" --database lms -o "$OUT/nightly/"
"$BIN" -q binlog "${conn[@]}" -o "$OUT/nightly/" &
archiver=$!
client lms -e "INSERT INTO payments (loan_id, amount, paid_at, method)
  SELECT loan_id, amount, NOW(), 'cash' FROM installments ORDER BY id LIMIT 25"
now=$(client -N -e "SELECT NOW()")
while [ "$(client -N -e "SELECT NOW()")" = "$now" ]; do sleep 0.1; done
moment=$(client -N -e "SELECT NOW()")
before=$(client -N lms -e "SELECT COUNT(*), SUM(amount) FROM payments")
while [ "$(client -N -e "SELECT NOW()")" = "$moment" ]; do sleep 0.1; done
client lms -e "DELETE FROM payments"
echo "  at $moment the payments were: $before; then DELETE FROM payments (no WHERE): $(client -N lms -e "SELECT COUNT(*) FROM payments") left"
sleep 2
"$BIN" verify "$OUT/nightly/"

step "restore --until '$moment' into lms_before"
"$BIN" restore "${conn[@]}" --database lms_before --create-database --until "$moment" "$OUT/nightly/"
after=$(client -N lms_before -e "SELECT COUNT(*), SUM(amount) FROM payments")
kill -TERM "$archiver"; wait "$archiver" || true
if [ "$after" = "$before" ]; then
  echo "  lms_before.payments: $after (as at $moment)"
else
  echo "  lms_before.payments: $after, but at $moment they were $before"; status=1
fi

if [ $status -eq 0 ]; then
  step "demo complete: every table came back identical, and the restore to a moment undid the mistake; the dump and the reports are in $OUT/"
else
  step "demo FAILED: a restored table differs"
fi
exit $status
