# lms-backup: the entry point for humans. `make demo` shows the main job,
# `make test` installs what is missing and runs every test.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/lms-backup

.PHONY: build test demo deps lint bench bench-report bench-pitr fuzz clean

build:
	$(GO) build -ldflags "-X lms-backup/cli.version=$(VERSION)" -o $(BIN) .

# deps installs the Debian packages the tests and the demo need (MariaDB
# server and client, zstd, poppler-utils) and the versitygw S3 server (go
# install) when they are missing.
deps:
	@GO=$(GO) scripts/install-deps.sh

test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

demo: deps build
	@scripts/demo.sh $(BIN)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed: skipped"; fi

# bench compares dump and restore with mariadb-dump | zstd (and mydumper
# when installed) on a fixture database; not part of `make test`.
bench: deps build
	@command -v /usr/bin/time >/dev/null || { echo "bench needs GNU time: apt-get install time"; exit 1; }
	@scripts/bench.sh $(BIN)

# bench-report times the monthly report at fixture scale 100 against the
# server answering the same queries alone.
bench-report: deps build
	@scripts/bench-report.sh $(BIN)

# fuzz runs every fuzz target of every package for FUZZTIME each (the
# seeds already run in `make test`); targets are found in the *_test.go
# files, so a new one is fuzzed without editing this file.
FUZZTIME ?= 30s
# bench-pitr times a restore to a moment against a plain restore of the
# same dump and the server committing the replayed transactions.
bench-pitr: deps build
	@command -v /usr/bin/time >/dev/null || { echo "bench-pitr needs GNU time: apt-get install time"; exit 1; }
	@scripts/bench-pitr.sh $(BIN)

fuzz:
	@for f in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go')); do \
	  dir=./$$(dirname $$f); \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "fuzz: $$dir $$t" >&2; \
	    $(GO) test $$dir -run XXX -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
