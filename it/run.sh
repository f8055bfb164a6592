#!/usr/bin/env bash
# `just it`: the test suite against real services. Creates a PKI under
# .cache/it-pki with compose's pki command, starts PostgreSQL
# (.ci/postgres.sh) and Apache Kafka (it/kafka.sh), gets the Prometheus
# server (.ci/promtool.sh server) and, as root, compose's service names
# (it/compose-hosts.sh), runs the tests with CI semantics (a missing
# service fails), and stops both services again.
#
#   it/run.sh                  every package (go test -race -p 1 ./...)
#   it/run.sh ./it/... -run X  only what is given
#
# LOGSYS_KAFKA_NODES=3 runs Kafka as a 3-node cluster (adds the failover
# test); LOGSYS_IT_KEEP=1 leaves the services running afterwards;
# LOGSYS_IT_PKI moves the PKI (default .cache/it-pki, wiped first).
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-true}"

pki="${LOGSYS_IT_PKI:-$PWD/.cache/it-pki}"
rm -rf "$pki"
# compose.yaml's pki command (see .ci/services.sh).
go run . pki init --pki-dir "$pki" --hosts "${LOGSYS_PKI_HOSTS:-localhost}" >/dev/null
skip=()
if [ "$(id -u)" -eq 0 ]; then
  it/compose-hosts.sh
else
  echo "it/run.sh: not root: TestCompose (runs compose's services as their images' users) is skipped" >&2
  skip=(-skip '^TestCompose$')
fi
eval "$(bash .ci/promtool.sh server)"

cleanup() {
  [ "${LOGSYS_IT_KEEP:-}" = 1 ] && return
  it/kafka.sh stop >/dev/null 2>&1 || true
  [ -x .ci/postgres.sh ] && .ci/postgres.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
if [ -x .ci/postgres.sh ]; then
  eval "$(.ci/postgres.sh start "$pki")"
fi
eval "$(it/kafka.sh start "$pki")"
export LOGSYS_TEST_PKI="$pki"

if [ $# -eq 0 ]; then set -- ./...; fi
go test -race -count=1 -p 1 -timeout 25m "$@" "${skip[@]}"
