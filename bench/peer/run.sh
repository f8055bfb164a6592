#!/usr/bin/env bash
# The peer bench: logsys (gateway and producer, separate processes)
# against the OpenTelemetry Collector and a bare Go mTLS handler, driven
# by vegeta, into one real Apache Kafka node from it/kafka.sh.
#
#   bench/peer/run.sh [peer run flags]      build what is missing, start Kafka,
#                                           measure, print the tables, stop Kafka
#   bench/peer/run.sh -profile              also profile gateway and producer
#   bench/peer/run.sh -duration 5s -rounds 1 -warmup 1s    a quick look
#   bench/peer/run.sh -e2e ...              and then the consumer into a real
#                                           PostgreSQL (.ci/postgres.sh)
#
# Everything built or written goes under .cache/peer (LOGSYS_CACHE): the
# OpenTelemetry Collector Builder and the collector it builds from
# bench/peer/builder.yaml, vegeta, logsys (with bench/peer/pprof.go.txt
# added through -overlay: pprof on LOGSYS_BENCH_PPROF, bench binary only),
# the PKI, configurations, logs and profiles (run/). Kafka runs with the
# it/kafka.sh defaults and the services lock held. See bench/peer/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PEER=${LOGSYS_CACHE:-$ROOT/.cache}/peer
BIN=$PEER/bin
WORK=$PEER/run
OTEL_VERSION=0.165.0
VEGETA_VERSION=v12.13.0
LOCK=${LOGSYS_SERVICES_LOCK:-/tmp/logsys-services.lock} # one user of the real services at a time

log() { echo "peer: $*" >&2; }

build() {
  mkdir -p "$BIN"
  cd "$ROOT"
  local have=""
  [ -x "$BIN/builder" ] && have=$("$BIN/builder" version 2>&1 || true)
  case "$have" in
  *"v$OTEL_VERSION"*) ;;
  *)
    log "installing the OpenTelemetry Collector Builder v$OTEL_VERSION"
    GOBIN=$BIN go install "go.opentelemetry.io/collector/cmd/builder@v$OTEL_VERSION"
    ;;
  esac
  local hash out
  hash=$(sha256sum bench/peer/builder.yaml | cut -c1-12)
  out=$PEER/otelcol-$hash
  if [ ! -x "$out/otelcol-peer" ]; then
    log "building the collector into $out (a few minutes, once)"
    rm -rf "$out"
    mkdir -p "$out"
    sed "s#@OUT@#$out#" bench/peer/builder.yaml >"$out.yaml"
    "$BIN/builder" --config "$out.yaml" >"$out.log" 2>&1 || { tail -n 30 "$out.log" >&2; exit 1; }
  fi
  ln -sfn "$out/otelcol-peer" "$BIN/otelcol-peer"
  if [ ! -x "$BIN/vegeta" ]; then
    log "installing vegeta $VEGETA_VERSION"
    GOBIN=$BIN go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
  fi
  log "building logsys (with the bench pprof overlay) and the driver"
  printf '{"Replace":{"%s/zz_bench_pprof.go":"%s/bench/peer/pprof.go.txt"}}\n' "$ROOT" "$ROOT" >"$PEER/overlay.json"
  go build -overlay "$PEER/overlay.json" -o "$BIN/logsys" .
  go build -o "$BIN/peer" ./bench/peer
}

pki() {
  mkdir -p "$WORK"
  # Idempotent: keeps a valid PKI, fills in what is missing.
  "$BIN/logsys" pki init --pki-dir "$WORK/pki" --envs dev >/dev/null
}

if [ "${1:-}" = --locked ]; then
  shift
  cd "$ROOT"
  args=()
  e2e=()
  for a in "$@"; do
    if [ "$a" = -e2e ]; then e2e=(-pg); else args+=("$a"); fi
  done
  trap 'it/kafka.sh stop >/dev/null 2>&1 || true; [ ${#e2e[@]} -eq 0 ] || .ci/postgres.sh stop >/dev/null 2>&1 || true' EXIT
  eval "$(it/kafka.sh start "$WORK/pki")"
  pid=$(cat "${LOGSYS_KAFKA_HOME:-/tmp/logsys-it-kafka}/node-1/pid")
  log "Kafka pid $pid at $LOGSYS_TEST_KAFKA_BROKERS; load: $(uptime)"
  if [ ${#e2e[@]} -gt 0 ]; then
    eval "$(.ci/postgres.sh start "$WORK/pki")"
    e2e=(-pg "$LOGSYS_TEST_PG_DSN" -pg-pid "$(head -n 1 "${LOGSYS_PG_HOME:-/tmp/logsys-ci-postgres}/data/postmaster.pid")")
    log "PostgreSQL pid ${e2e[3]}"
  fi
  set -- "${args[@]}" "${e2e[@]}"
  "$BIN/peer" run -bin "$BIN" -pki "$WORK/pki" -brokers "$LOGSYS_TEST_KAFKA_BROKERS" -kafka-pid "$pid" \
    -kafka-stats "$ROOT/bench/peer/KafkaStats.java" -work "$WORK" -templates "$ROOT/bench/peer" "$@"
  log "done; load: $(uptime)"
  exit 0
fi

build
pki
log "waiting for $LOCK (one user of Kafka/PostgreSQL at a time)"
exec flock "$LOCK" "$0" --locked "$@"
