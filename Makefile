# lms-backup: the entry point for humans. `make demo` shows the main job,
# `make test` installs what is missing and runs every test.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/lms-backup

.PHONY: build test demo deps lint bench bench-report fuzz clean

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

# fuzz runs each fuzz target for a while (the seeds already run in `make test`).
fuzz:
	$(GO) test ./dump -run XXX -fuzz FuzzAppendString -fuzztime 30s
	$(GO) test ./dump -run XXX -fuzz FuzzFloat32 -fuzztime 30s
	$(GO) test ./dump -run XXX -fuzz FuzzNamesCannotInject -fuzztime 30s
	$(GO) test ./dumpfile/sqlscript -run XXX -fuzz FuzzSplit -fuzztime 30s
	$(GO) test ./dumpfile/sqlscript -run XXX -fuzz FuzzRows -fuzztime 30s
	$(GO) test ./internal/sqlident -run XXX -fuzz FuzzQuote -fuzztime 30s
	$(GO) test ./report/arabic -run XXX -fuzz FuzzVisual -fuzztime 30s
	$(GO) test ./report/font -run XXX -fuzz FuzzFlatten -fuzztime 30s
	$(GO) test ./report/format -run XXX -fuzz FuzzAppendDecimal -fuzztime 30s

clean:
	rm -rf bin
