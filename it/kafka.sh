#!/usr/bin/env bash
# A throw-away Apache Kafka 4.x (KRaft) on loopback for the integration
# tests: SSL on every listener, clients authenticated by their `logsys pki`
# certificate, ACLs enforced (deny by default).
#
#   it/kafka.sh fetch               download the broker jars through Maven (cached)
#   it/kafka.sh start PKI_DIR       fetch, wipe any previous cluster, format, start,
#                                   create topics and ACLs, wait until a real mTLS
#                                   client is served, print the test environment:
#                                     eval "$(it/kafka.sh start PKI_DIR)"
#   it/kafka.sh env                 print that environment again
#   it/kafka.sh status              which nodes run (exit 1 when none)
#   it/kafka.sh stop [N]            stop every node, or node N (SIGTERM, then SIGKILL)
#   it/kafka.sh kill N              SIGKILL node N (fault tests)
#   it/kafka.sh start-node N        start a stopped node N again, keeping its data, and
#                                   wait until every replica is in sync
#   it/kafka.sh restart             restart every node, one at a time (SIGTERM, start,
#                                   wait until every replica is in sync): every
#                                   client connection is closed and made again
#   it/kafka.sh client-auth MODE    set the client listener's ssl.client.auth to
#                                   required|requested|none: rewrites each node's
#                                   configuration and restarts the nodes one at a
#                                   time, each waited for until every replica is in
#                                   sync again (Kafka 4.1 stores a dynamic
#                                   listener.name.client.ssl.client.auth but does
#                                   not apply it to a running listener)
#   it/kafka.sh logs [N]            tail a node's log
#
# Settings (environment):
#   LOGSYS_KAFKA_NODES=1            1, or 3 (replication factor 3, min.insync.replicas 2)
#   LOGSYS_KAFKA_PORT=19093         client port of node 1; node N listens on PORT+N-1
#                                   (client), PORT+10+N-1 (inter-broker), PORT+20+N-1
#                                   (controller), all on 127.0.0.1
#   LOGSYS_KAFKA_ENV=dev            the PKI environment the cluster lives in
#   LOGSYS_KAFKA_CLIENT_AUTH=required  initial client-listener ssl.client.auth; `none` or
#                                   `requested` start in bootstrap mode, flip with
#                                   `client-auth required`
#   LOGSYS_KAFKA_HOME=/tmp/logsys-it-kafka   data, logs, generated configuration
#   LOGSYS_CACHE=<repo>/.cache      jars under $LOGSYS_CACHE/kafka
#   LOGSYS_KAFKA_VERSION=4.1.1      org.apache.kafka:kafka_2.13 version
#   LOGSYS_KAFKA_HEAP=512m          -Xmx of each broker
#   LOGSYS_KAFKA_TIMEOUT=120        seconds to wait for readiness
#
# The broker configuration comes from deploy/kafka/server.properties (the
# file compose.yaml uses); only node identity, addresses, directories and
# the secrets directory are replaced here. The secrets directory holds
# symlinks into PKI_DIR (no key is copied): ENV/kafka/cert.pem, key.pem,
# ENV/ca.pem, the environment's intermediate as the only trust anchor, and
# ENV/crl.pem, its CRL.
#
# Revocation: the JDK checks CRLs only from distribution-point URLs (our
# leaves have none), so each node also gets three settings that compose's
# broker does not have: security.providers=logsys.kafka.CrlProviderCreator,
# ssl.trustmanager.algorithm=LogsysCRL and logsys.ssl.crl.location. The
# provider (it/kafka/java, compiled here into the cache against the fetched
# kafka-clients jar) keeps Kafka's SSL engine factory and truststore and
# only swaps in a PKIX trust manager that checks every peer, client or
# broker, against crl.pem, re-read when the file changes: `logsys pki
# revoke` takes effect on the next handshake, without a restart.
# Progress goes to stderr; stdout carries only the export lines.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT=$ROOT/it/kafka.sh
NODES=${LOGSYS_KAFKA_NODES:-1}
PORT=${LOGSYS_KAFKA_PORT:-19093}
ENV_NAME=${LOGSYS_KAFKA_ENV:-dev}
CLIENT_AUTH=${LOGSYS_KAFKA_CLIENT_AUTH:-required}
HOME_DIR=${LOGSYS_KAFKA_HOME:-/tmp/logsys-it-kafka}
CACHE=${LOGSYS_CACHE:-$ROOT/.cache}/kafka
VERSION=${LOGSYS_KAFKA_VERSION:-4.1.1}
HEAP=${LOGSYS_KAFKA_HEAP:-512m}
TIMEOUT=${LOGSYS_KAFKA_TIMEOUT:-120}
LIB=$CACHE/lib-$VERSION
CTL=$CACHE/bin/kafkactl
CRL_SRC=$ROOT/it/kafka/java
BASE_CONF=$ROOT/deploy/kafka/server.properties

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

case "$NODES" in 1 | 3) ;; *) die "LOGSYS_KAFKA_NODES must be 1 or 3, not $NODES" ;; esac
case "$PORT" in *[!0-9]* | '') die "LOGSYS_KAFKA_PORT must be a number" ;; esac

# State of a started cluster, so that env/stop/start-node need no settings.
STATE=$HOME_DIR/cluster.env
if [ -f "$STATE" ] && [ "${1:-}" != start ] && [ "${1:-}" != fetch ]; then
  # shellcheck source=/dev/null
  source "$STATE"
fi

node_dir() { echo "$HOME_DIR/node-$1"; }
client_port() { echo $((PORT + $1 - 1)); }
internal_port() { echo $((PORT + 10 + $1 - 1)); }
controller_port() { echo $((PORT + 20 + $1 - 1)); }
brokers() {
  local i out=""
  for i in $(seq 1 "$NODES"); do out="$out${out:+,}127.0.0.1:$(client_port "$i")"; done
  echo "$out"
}
# The admin tool uses the inter-broker listeners: they always require a
# client certificate, whatever the client listener's bootstrap mode.
internal_brokers() {
  local i out=""
  for i in $(seq 1 "$NODES"); do out="$out${out:+,}127.0.0.1:$(internal_port "$i")"; done
  echo "$out"
}

fetch() {
  if [ -f "$LIB/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn is required to fetch Kafka (apt-get install maven)"
  command -v java >/dev/null || die "java is required"
  mkdir -p "$CACHE"
  log "fetching org.apache.kafka:kafka_2.13:$VERSION into $LIB"
  rm -rf "$LIB.tmp"
  mvn -q -B -f "$ROOT/it/kafka/pom.xml" -Dmaven.repo.local="$CACHE/m2" -Dkafka.version="$VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >"$CACHE/fetch.log" 2>&1 ||
    { cat "$CACHE/fetch.log" >&2; die "maven fetch failed"; }
  touch "$LIB.tmp/.complete"
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
}

# build_crl: compiles the CRL trust provider into $CACHE/crl-HASH (HASH of
# the sources and the Kafka version) unless it is there; sets CRL_CLASSES.
# The compiler is the runtime's jdk.compiler module run through a one-file
# launcher, so a Java runtime without javac suffices.
build_crl() {
  local hash tmp
  hash=$( (echo "$VERSION"; cat "$CRL_SRC"/logsys/kafka/*.java "$CRL_SRC"/tools/Javac.java) | sha256sum | cut -c1-16)
  CRL_CLASSES=$CACHE/crl-$hash
  [ -f "$CRL_CLASSES/.complete" ] && return 0
  log "compiling the CRL trust provider into $CRL_CLASSES"
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CRL_CLASSES.XXXXXX")
  java "$CRL_SRC/tools/Javac.java" --release 17 -Xlint:all -Werror -d "$tmp" \
    -cp "$LIB/kafka-clients-$VERSION.jar:$(echo "$LIB"/slf4j-api-*.jar)" "$CRL_SRC"/logsys/kafka/*.java >&2 ||
    { rm -rf "$tmp"; die "compiling $CRL_SRC failed (needs a Java 17 runtime with the jdk.compiler module)"; }
  touch "$tmp/.complete"
  # A concurrent start may have won the race: keep its identical classes.
  mv -T "$tmp" "$CRL_CLASSES" 2>/dev/null || rm -rf "$tmp"
}

build_ctl() {
  mkdir -p "$(dirname "$CTL")"
  (cd "$ROOT" && go build -o "$CTL" ./it/cmd/kafkactl) || die "building kafkactl failed"
}

pid_of() {
  local f
  f="$(node_dir "$1")/pid"
  [ -f "$f" ] || return 1
  local pid
  pid=$(cat "$f")
  # Only our own broker: the pid must still run kafka.Kafka with this node's config.
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $(node_dir "$1")/server.properties"; then
    echo "$pid"
  else
    return 1
  fi
}

# write_config N: deploy/kafka/server.properties with this node's overrides.
write_config() {
  local n=$1 dir voters="" i
  dir=$(node_dir "$n")
  for i in $(seq 1 "$NODES"); do voters="$voters${voters:+,}$i@127.0.0.1:$(controller_port "$i")"; done
  mkdir -p "$dir/data"
  {
    echo "node.id=$n"
    echo "controller.quorum.voters=$voters"
    echo "log.dirs=$dir/data"
    echo "listeners=CLIENT://127.0.0.1:$(client_port "$n"),INTERNAL://127.0.0.1:$(internal_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")"
    echo "advertised.listeners=CLIENT://127.0.0.1:$(client_port "$n"),INTERNAL://127.0.0.1:$(internal_port "$n")"
    echo "listener.name.client.ssl.client.auth=$CLIENT_AUTH"
    echo "security.providers=logsys.kafka.CrlProviderCreator"
    echo "ssl.trustmanager.algorithm=LogsysCRL"
    echo "logsys.ssl.crl.location=$HOME_DIR/secrets/crl.pem"
    if [ "$NODES" -eq 3 ]; then
      echo "default.replication.factor=3"
      echo "min.insync.replicas=2"
      echo "offsets.topic.replication.factor=3"
      echo "transaction.state.log.replication.factor=3"
      echo "transaction.state.log.min.isr=2"
    fi
  } >"$dir/overrides.properties"
  # Drop the overridden keys from the base file, point the secrets
  # directory at ours, then append the overrides.
  awk -v secrets="$HOME_DIR/secrets" '
    NR == FNR { split($0, kv, "="); over[kv[1]] = 1; next }
    /^[[:space:]]*#/ || !/=/ { print; next }
    { split($0, kv, "="); if (kv[1] in over) next; gsub("/etc/kafka/secrets", secrets); print }
  ' "$dir/overrides.properties" "$BASE_CONF" >"$dir/server.properties.tmp"
  {
    echo
    echo "# --- it/kafka.sh: node $n of $NODES ---"
    cat "$dir/overrides.properties"
  } >>"$dir/server.properties.tmp"
  mv "$dir/server.properties.tmp" "$dir/server.properties"
}

write_log4j() {
  cat >"$HOME_DIR/log4j2.properties" <<'EOF'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = info
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
}

# link_secrets PKI: symlinks into the PKI directory; nothing is copied.
link_secrets() {
  local pki=$1 env=$1/$ENV_NAME f
  for f in "$env/kafka/cert.pem" "$env/kafka/key.pem" "$env/ca.pem" "$env/crl.pem"; do
    [ -s "$f" ] || die "$f missing: run 'logsys pki init --pki-dir $pki' first"
  done
  rm -rf "$HOME_DIR/secrets"
  install -d -m 0700 "$HOME_DIR/secrets"
  ln -s "$env/kafka/cert.pem" "$HOME_DIR/secrets/cert.pem"
  ln -s "$env/kafka/key.pem" "$HOME_DIR/secrets/key.pem"
  ln -s "$env/ca.pem" "$HOME_DIR/secrets/ca.pem"
  ln -s "$env/crl.pem" "$HOME_DIR/secrets/crl.pem"
}

java_opts() {
  echo "-Xms128m -Xmx$HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"
}

run_java() { LOGSYS_ENV=$ENV_NAME java $(java_opts) -cp "$LIB/*" "$@"; }

format_node() {
  local n=$1 dir
  dir=$(node_dir "$n")
  run_java -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" -Dkafka.logs.dir="$dir" \
    kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$dir/server.properties" --ignore-formatted \
    >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "formatting node $n failed"; }
}

start_node() {
  local n=$1 dir
  dir=$(node_dir "$n")
  if pid_of "$n" >/dev/null; then log "node $n already runs"; return 0; fi
  build_crl
  # setsid: the broker outlives this script and ignores the caller's signals.
  LOGSYS_ENV=$ENV_NAME setsid java $(java_opts) \
    -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" -Dkafka.logs.dir="$dir" \
    -cp "$LIB/*:$CRL_CLASSES" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"
  # setsid execs java a moment after the fork; until then pid_of does not
  # recognise the node, and wait_port would take it for an exited one.
  for _ in $(seq 1 100); do
    pid_of "$n" >/dev/null || { kill -0 "$pid" 2>/dev/null && sleep 0.05 && continue; }
    break
  done
  log "node $n started (pid $pid, client 127.0.0.1:$(client_port "$n"), log $dir/server.log)"
}

wait_port() {
  local n=$1 deadline=$((SECONDS + TIMEOUT))
  while ! (exec 3<>"/dev/tcp/127.0.0.1/$(client_port "$n")") 2>/dev/null; do
    pid_of "$n" >/dev/null || { tail -n 40 "$(node_dir "$n")/server.log" "$(node_dir "$n")/stdout.log" >&2 || true; die "node $n exited"; }
    [ $SECONDS -lt $deadline ] || die "node $n: port $(client_port "$n") not open after ${TIMEOUT}s"
    sleep 0.5
  done
}

stop_node() {
  local n=$1 sig=${2:-TERM} pid
  pid=$(pid_of "$n") || { log "node $n not running"; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { log "node $n stopped ($sig)"; rm -f "$(node_dir "$n")/pid"; return 0; }
    sleep 0.5
  done
  log "node $n ignored SIGTERM for 30s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$(node_dir "$n")/pid"
}

print_env() {
  echo "export LOGSYS_TEST_KAFKA_BROKERS='$(brokers)'"
  echo "export LOGSYS_TEST_KAFKA_PKI='$PKI'"
  echo "export LOGSYS_TEST_KAFKA_ENV='$ENV_NAME'"
  echo "export LOGSYS_TEST_KAFKA_NODES='$NODES'"
  echo "export LOGSYS_TEST_KAFKA_CTL='$SCRIPT'"
}

rf() { if [ "$NODES" -eq 3 ]; then echo 3; else echo 1; fi; }

ctl() { "$CTL" -brokers "$(internal_brokers)" -pki "$PKI" -env "$ENV_NAME" -timeout "${TIMEOUT}s" "$@"; }

cmd=${1:-}
case "$cmd" in
fetch)
  fetch
  build_crl
  ;;
start)
  [ $# -eq 2 ] || die "usage: $0 start PKI_DIR"
  PKI=$(cd "$2" && pwd)
  command -v java >/dev/null || die "java is required (apt-get install openjdk-17-jre-headless)"
  fetch
  build_crl
  build_ctl
  if [ -f "$STATE" ]; then "$SCRIPT" stop >/dev/null 2>&1 || true; fi
  rm -rf "$HOME_DIR"
  install -d -m 0700 "$HOME_DIR"
  link_secrets "$PKI"
  write_log4j
  # A cluster id beginning with '-' would be read as an option by the
  # storage tool: draw again (1 in 64).
  CLUSTER_ID=-
  while [ "${CLUSTER_ID#-}" != "$CLUSTER_ID" ]; do
    CLUSTER_ID=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  cat >"$STATE" <<EOF
NODES=$NODES
PORT=$PORT
ENV_NAME=$ENV_NAME
CLIENT_AUTH=$CLIENT_AUTH
VERSION=$VERSION
HEAP=$HEAP
LIB=$LIB
PKI='$PKI'
CLUSTER_ID=$CLUSTER_ID
EOF
  for i in $(seq 1 "$NODES"); do write_config "$i"; done
  # Formatting runs one JVM per node; run them side by side.
  pids=()
  for i in $(seq 1 "$NODES"); do format_node "$i" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || die "format failed"; done
  for i in $(seq 1 "$NODES"); do start_node "$i"; done
  for i in $(seq 1 "$NODES"); do wait_port "$i"; done
  log "creating topics and ACLs as User:kafka"
  ctl setup -rf "$(rf)" >&2 || { tail -n 40 "$(node_dir 1)/server.log" >&2; die "setup failed"; }
  log "ready: $(brokers) (env $ENV_NAME, client auth $CLIENT_AUTH)"
  print_env
  ;;
env)
  [ -f "$STATE" ] || die "not started"
  print_env
  ;;
status)
  [ -f "$STATE" ] || { log "not started"; exit 1; }
  up=0
  for i in $(seq 1 "$NODES"); do
    if pid=$(pid_of "$i"); then echo "node $i: running (pid $pid) 127.0.0.1:$(client_port "$i")"; up=$((up + 1)); else echo "node $i: stopped"; fi
  done
  [ "$up" -gt 0 ]
  ;;
stop)
  [ -f "$STATE" ] || { log "not started"; exit 0; }
  if [ $# -ge 2 ]; then stop_node "$2"; else for i in $(seq "$NODES" -1 1); do stop_node "$i"; done; fi
  ;;
kill)
  [ $# -eq 2 ] || die "usage: $0 kill N"
  stop_node "$2" KILL
  ;;
start-node)
  [ $# -eq 2 ] || die "usage: $0 start-node N"
  [ -f "$STATE" ] || die "not started"
  [ -x "$CTL" ] || build_ctl
  start_node "$2"
  wait_port "$2"
  ctl wait -rf "$(rf)" >&2 || die "node $2 did not catch up"
  ;;
restart)
  [ -f "$STATE" ] || die "not started"
  [ -x "$CTL" ] || build_ctl
  for i in $(seq 1 "$NODES"); do
    stop_node "$i"
    start_node "$i"
    wait_port "$i"
    ctl wait -rf "$(rf)" >&2 || die "node $i did not catch up"
  done
  log "every node restarted"
  ;;
client-auth)
  [ $# -eq 2 ] || die "usage: $0 client-auth required|requested|none"
  case "$2" in required | requested | none) ;; *) die "client auth must be required, requested or none" ;; esac
  [ -f "$STATE" ] || die "not started"
  [ -x "$CTL" ] || build_ctl
  CLIENT_AUTH=$2
  sed -i "s/^CLIENT_AUTH=.*/CLIENT_AUTH=$CLIENT_AUTH/" "$STATE"
  for i in $(seq 1 "$NODES"); do
    write_config "$i"
    stop_node "$i"
    start_node "$i"
    wait_port "$i"
    ctl wait -rf "$(rf)" >&2 || die "node $i did not catch up"
  done
  log "client listener ssl.client.auth=$CLIENT_AUTH on every node"
  ;;
logs)
  tail -n 100 "$(node_dir "${2:-1}")/server.log"
  ;;
*)
  die "usage: $0 fetch | start PKI_DIR | env | status | stop [N] | kill N | start-node N | restart | client-auth MODE | logs [N]"
  ;;
esac
