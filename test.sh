#!/usr/bin/env bash
# The test command the README names: format, vet, and every test with the
# race detector. Integration tests run when their services are configured
# (see .ci/run) and are required when CI is set.
set -euo pipefail
cd "$(dirname "$0")"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:" $unformatted >&2
  exit 1
fi
go vet ./...
# -p 1: packages that share the CI PostgreSQL and Kafka restart them in tests.
go test -race -count=1 -p 1 -timeout 25m ./... "$@"
