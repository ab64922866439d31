#!/usr/bin/env bash
# Installs the Debian packages lms-backup's tests and demo need, if missing:
# a MariaDB server and client (the tests start their own private server),
# zstd and gzip (the stock-tool restore path), poppler-utils (the report
# tests read the PDFs back with pdftotext and pdftoppm), and Versity's S3
# gateway (the storage tests start their own private S3 server).
set -euo pipefail
# versitygw is a Go program: built with the Go toolchain into GOPATH/bin
# (about 2.5 min on 2 cores), where internal/tests3 looks for it.
GO=${GO:-go}
if ! command -v versitygw >/dev/null 2>&1 && [ ! -x "$($GO env GOPATH | cut -d: -f1)/bin/versitygw" ]; then
  echo "install-deps: building versitygw (S3 server for the tests)" >&2
  GOFLAGS=-mod=mod $GO install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v gzip >/dev/null 2>&1 || need+=(gzip)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install: ${need[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2046
$sudo apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
