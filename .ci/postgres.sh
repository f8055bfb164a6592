#!/usr/bin/env bash
# A throw-away PostgreSQL 15 for the store's tests: TLS only, clients
# authenticated by their certificate from `logsys pki init`.
#
#   .ci/postgres.sh start PKI_DIR    initialise (wiping any previous one), start,
#                                    wait, and print the environment for the tests:
#                                      eval "$(.ci/postgres.sh start PKI_DIR)"
#   .ci/postgres.sh restart [PKI_DIR]  fast restart (re-copies the TLS files when
#                                    PKI_DIR is given); LOGSYS_TEST_PG_RESTART runs this
#   .ci/postgres.sh reload [PKI_DIR] re-copy the TLS files and reload them without
#                                    a restart (after `logsys pki rotate` or `revoke`)
#   .ci/postgres.sh stop             fast shutdown
#
# Layout read from PKI_DIR (as written by `logsys pki init --pki-dir PKI_DIR`):
#   ENV/postgres/cert.pem, key.pem   server chain and key (SANs localhost, 127.0.0.1)
#   ENV/ca-chain.pem                 intermediate + root: verify client chains
#   ENV/crl.pem (+ root/crl.pem)     revocation lists
#   ENV/CLIENT/cert.pem, key.pem     the tests' client certificate
# Settings (environment): LOGSYS_PG_HOME (/tmp/logsys-ci-postgres),
# LOGSYS_PG_PORT (55432), LOGSYS_PG_ENV (dev), LOGSYS_PG_CLIENT (consumer).
#
# Runs the server as the `postgres` OS user when started as root (created
# when missing), as the calling user otherwise. Listens on 127.0.0.1 only.
# Progress goes to stderr; stdout carries only the export lines.
set -euo pipefail

BIN=/usr/lib/postgresql/15/bin
HOME_DIR=${LOGSYS_PG_HOME:-/tmp/logsys-ci-postgres}
PORT=${LOGSYS_PG_PORT:-55432}
ENV_NAME=${LOGSYS_PG_ENV:-dev}
CLIENT=${LOGSYS_PG_CLIENT:-consumer}
DATA=$HOME_DIR/data
TLS=$HOME_DIR/tls
LOG=$HOME_DIR/postgres.log
SCRIPT=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$BIN/postgres" ] || die "PostgreSQL 15 not found in $BIN"

if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    log "creating the postgres OS user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh postgres
  fi
  PGUSER_OS=postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  PGUSER_OS=$(id -un)
  as_pg() { "$@"; }
fi

running() { [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

# copy_tls PKI_DIR: the server's copies of its chain, key, CAs and CRLs,
# owned by the server user; the key 0600 (PostgreSQL refuses looser).
copy_tls() {
  local pki=$1 env=$1/$ENV_NAME
  for f in "$env/postgres/cert.pem" "$env/postgres/key.pem" "$env/ca-chain.pem" "$env/crl.pem"; do
    [ -s "$f" ] || die "$f missing: run 'logsys pki init --pki-dir $pki' first"
  done
  install -d -m 0700 -o "$PGUSER_OS" "$TLS"
  install -m 0600 -o "$PGUSER_OS" "$env/postgres/cert.pem" "$TLS/server.crt"
  install -m 0600 -o "$PGUSER_OS" "$env/postgres/key.pem" "$TLS/server.key"
  install -m 0644 -o "$PGUSER_OS" "$env/ca-chain.pem" "$TLS/ca-chain.pem"
  # PostgreSQL checks a CRL for every CA of a client's chain
  # (X509_V_FLAG_CRL_CHECK_ALL), so the root's CRL is needed as well.
  if [ -s "$pki/root/crl.pem" ]; then
    cat "$env/crl.pem" "$pki/root/crl.pem" >"$TLS/crl.pem.tmp"
    install -m 0644 -o "$PGUSER_OS" "$TLS/crl.pem.tmp" "$TLS/crl.pem"
    rm -f "$TLS/crl.pem.tmp"
    echo "ssl_crl_file = '$TLS/crl.pem'" >"$TLS/crl.conf.tmp"
  else
    log "warning: $pki/root/crl.pem missing: revocation is not checked (PostgreSQL needs a CRL of every CA in the chain)"
    echo "# no root CRL: ssl_crl_file unset" >"$TLS/crl.conf.tmp"
  fi
  install -m 0644 -o "$PGUSER_OS" "$TLS/crl.conf.tmp" "$TLS/crl.conf"
  rm -f "$TLS/crl.conf.tmp"
}

configure() {
  cat >>"$DATA/postgresql.conf" <<EOF

# --- logsys CI ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$HOME_DIR'
max_connections = 50
ssl = on
ssl_cert_file = '$TLS/server.crt'
ssl_key_file = '$TLS/server.key'
ssl_ca_file = '$TLS/ca-chain.pem'
ssl_min_protocol_version = 'TLSv1.3'
include_if_exists = '$TLS/crl.conf'
fsync = off
timezone = 'UTC'
log_connections = on
EOF
  cat >"$DATA/pg_hba.conf" <<EOF
# TYPE   DATABASE USER     ADDRESS       METHOD
local    all      postgres               peer
hostssl  logsys   logsys   127.0.0.1/32  cert clientcert=verify-full clientname=DN map=logsys
host     all      all      all           reject
local    all      all                    reject
EOF
  cat >"$DATA/pg_ident.conf" <<EOF
# MAPNAME SYSTEM-USERNAME (client certificate subject DN)  PG-USERNAME
logsys    "CN=consumer,OU=$ENV_NAME,O=logsys"                logsys
logsys    "CN=gateway,OU=$ENV_NAME,O=logsys"                 logsys
EOF
}

psql_local() { as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOME_DIR" -p "$PORT" -U postgres -d postgres "$@"; }

start_server() {
  as_pg "$BIN/pg_ctl" start -w -t 60 -D "$DATA" -l "$LOG" >/dev/null || { tail -n 30 "$LOG" >&2; die "start failed"; }
}

wait_ready() {
  local pki=$1 env=$1/$ENV_NAME
  for _ in $(seq 1 60); do
    if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
      # A real client handshake: verify-full against the chain, client certificate.
      if PGSSLMODE=verify-full PGSSLROOTCERT="$env/ca-chain.pem" PGSSLCERT="$env/$CLIENT/cert.pem" \
        PGSSLKEY="$env/$CLIENT/key.pem" "$BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U logsys -d logsys \
        -c 'SELECT 1' >/dev/null 2>"$HOME_DIR/check.err"; then
        return 0
      fi
    fi
    sleep 0.5
  done
  cat "$HOME_DIR/check.err" >&2 || true
  tail -n 30 "$LOG" >&2
  die "not ready on 127.0.0.1:$PORT"
}

dsn() {
  local env=$1/$ENV_NAME
  case "$env" in *[[:space:]\&\#\?%]*) die "PKI_DIR may not contain spaces, &, #, ? or %" ;; esac
  echo "postgres://logsys@127.0.0.1:$PORT/logsys?sslmode=verify-full&sslrootcert=$env/ca-chain.pem&sslcert=$env/$CLIENT/cert.pem&sslkey=$env/$CLIENT/key.pem"
}

cmd=${1:-}
case "$cmd" in
start)
  [ $# -eq 2 ] || die "usage: $0 start PKI_DIR"
  pki=$(cd "$2" && pwd)
  if running; then as_pg "$BIN/pg_ctl" stop -m fast -D "$DATA" >/dev/null; fi
  rm -rf "$HOME_DIR"
  install -d -m 0700 -o "$PGUSER_OS" "$HOME_DIR"
  log "initdb in $DATA"
  as_pg "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C --auth-local=peer --auth-host=reject --no-sync >"$HOME_DIR/initdb.log"
  copy_tls "$pki"
  configure
  start_server
  psql_local <<'EOF'
CREATE ROLE logsys LOGIN;
CREATE DATABASE logsys OWNER logsys;
REVOKE ALL ON DATABASE logsys FROM PUBLIC;
EOF
  wait_ready "$pki"
  log "ready on 127.0.0.1:$PORT (TLS 1.3, client certificates of $ENV_NAME/$CLIENT and $ENV_NAME/gateway)"
  echo "export LOGSYS_TEST_PG_DSN='$(dsn "$pki")'"
  echo "export LOGSYS_TEST_PG_RESTART='$SCRIPT restart'"
  ;;
restart)
  [ -d "$DATA" ] || die "not initialised: run '$0 start PKI_DIR' first"
  if [ $# -ge 2 ]; then copy_tls "$(cd "$2" && pwd)"; fi
  log "restarting"
  as_pg "$BIN/pg_ctl" restart -m fast -w -t 60 -D "$DATA" -l "$LOG" >/dev/null || { tail -n 30 "$LOG" >&2; die "restart failed"; }
  for _ in $(seq 1 60); do "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && exit 0; sleep 0.5; done
  die "not ready after restart"
  ;;
reload)
  running || die "not running"
  if [ $# -ge 2 ]; then copy_tls "$(cd "$2" && pwd)"; fi
  as_pg "$BIN/pg_ctl" reload -D "$DATA" >/dev/null
  log "reloaded"
  ;;
stop)
  if running; then as_pg "$BIN/pg_ctl" stop -m fast -D "$DATA" >/dev/null; log "stopped"; else log "not running"; fi
  ;;
*)
  die "usage: $0 start PKI_DIR | restart [PKI_DIR] | reload [PKI_DIR] | stop"
  ;;
esac
