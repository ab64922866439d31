# Shared by the scripts: a throwaway MariaDB in a temporary folder.
# start_server DIR [mariadbd options...] starts it on DIR/mysqld.sock, waits
# until it answers and stops it and removes DIR when the script exits.
PATH="$PATH:/usr/sbin"

start_server() {
  local dir=$1; shift
  sock="$dir/mysqld.sock"
  trap 'stop_server "'"$dir"'"' EXIT
  mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db --user="$(id -un)" >"$dir/install.log" 2>&1
  mkdir -p "$dir/tmp"
  mariadbd --no-defaults --datadir="$dir/data" --socket="$sock" --tmpdir="$dir/tmp" --skip-networking --user="$(id -un)" \
    --log-error="$dir/error.log" --pid-file="$dir/pid" --innodb-flush-log-at-trx-commit=0 \
    --max-allowed-packet=256M "$@" &
  for _ in $(seq 1 150); do
    mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "the throwaway MariaDB did not start; its log:" >&2
  tail -20 "$dir/error.log" >&2
  return 1
}

stop_server() {
  local dir=$1
  if [ -S "$dir/mysqld.sock" ]; then
    mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot shutdown >/dev/null 2>&1 || true
  fi
  sleep 0.5
  rm -rf "$dir"
}
